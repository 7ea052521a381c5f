"""Posterior draws of a fitted error surface and what decisions need: :class:`SurfacePosterior`.

A :class:`SurfacePosterior` holds the constrained parameters of every draw (per target and
per task) and gives the physical parameters of the closed forms
(:mod:`bayes_scaling.models.surface_forms`), the expected error at any ``(n, m)``, the
solvers for the ``n`` or ``m`` that reach a target error, and the exchange rates between
simulations and experiments. :meth:`~bayes_scaling.models.surface.SurfaceModel.surface_posterior`
returns one; :mod:`bayes_scaling.tradeoffs` and :mod:`bayes_scaling.plotting` use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.surface_data import SurfaceData
from bayes_scaling.models.surface_forms import check_form, surface_error

Scale = Literal["normalised", "original"]
#: Constrained target-level variables of a fitted surface (per target).
_TARGET_VARS = ("e_ref", "floor", "beta")
#: Constrained task-level variables of a fitted surface, per form (per task).
_TASK_VARS = {"additive": ("gap_ratio", "alpha"), "effective_data": ("k", "gamma", "delta")}


class SurfacePosterior:
    """Posterior draws of a fitted surface and the quantities decisions need.

    Every method returns arrays with the draws on the first axis. Errors are normalised
    (divided by the target's standard deviation) unless ``scale="original"``.

    Parameters
    ----------
    data : SurfaceData
        The fitted table's index arrays.
    form : str
        Surface form.
    target, task : dict of numpy.ndarray
        Constrained parameters, arrays ``(draws, targets)`` and ``(draws, tasks)``.

    """

    def __init__(
        self,
        data: SurfaceData,
        form: str,
        target: Mapping[str, np.ndarray],
        task: Mapping[str, np.ndarray],
    ) -> None:
        self.data = data
        self.form = check_form(form)
        self._target = {k: np.asarray(v, float) for k, v in target.items()}
        self._task = {k: np.asarray(v, float) for k, v in task.items()}
        self.n_draws = next(iter(self._target.values())).shape[0]

    @classmethod
    def from_physical(
        cls,
        data: SurfaceData,
        form: str,
        targets: Mapping[str, Mapping[str, Any]],
        tasks: Mapping[str, Mapping[str, Any]],
    ) -> SurfacePosterior:
        """Build a posterior from parameters in the closed forms' own terms.

        ``targets`` maps each property to ``E, beta, S``; ``tasks`` maps each task id to
        ``C, alpha`` (additive) or ``k, gamma, delta`` with ``T = k n^gamma m^delta``
        (effective_data). Values are scalars (one "draw": known parameters, e.g. to check a
        decision against its closed form) or equal-length arrays of draws. Inverse of
        :meth:`physical`.
        """
        check_form(form)

        def arr(v: Any) -> np.ndarray:
            return np.atleast_1d(np.asarray(v, float))

        tgt: dict[str, list[np.ndarray]] = {"e_ref": [], "floor": [], "beta": []}
        for t, name in enumerate(data.targets):
            par = targets[name]
            E, beta, S = arr(par["E"]), arr(par["beta"]), arr(par["S"])
            e_ref = E * data.m_ref[t] ** (-beta) + S
            tgt["e_ref"].append(e_ref)
            tgt["floor"].append(S / e_ref)
            tgt["beta"].append(beta)
        tsk: dict[str, list[np.ndarray]] = {k: [] for k in _TASK_VARS[form]}
        for p, name in enumerate(data.tasks):
            par = tasks[name]
            t = int(data.task_target[p])
            S = arr(targets[data.targets[t]]["S"])
            if form == "additive":
                tsk["gap_ratio"].append(arr(par["C"]) / S)
                tsk["alpha"].append(arr(par["alpha"]))
            else:
                gamma, delta = arr(par["gamma"]), arr(par["delta"])
                m_ref, n_ref = data.m_ref[t], data.n_ref[p]
                tsk["k"].append(arr(par["k"]) * n_ref**gamma * m_ref**delta / m_ref)
                tsk["gamma"].append(gamma)
                tsk["delta"].append(delta)

        def stack(d: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
            return {k: np.stack(np.broadcast_arrays(*v), axis=1) for k, v in d.items()}

        return cls(data, form, stack(tgt), stack(tsk))

    def thin(self, max_draws: int) -> SurfacePosterior:
        """At most ``max_draws`` evenly spaced draws (self when there are not more)."""
        if self.n_draws <= max_draws:
            return self
        keep = np.linspace(0, self.n_draws - 1, int(max_draws)).astype(int)
        return SurfacePosterior(
            self.data,
            self.form,
            {k: v[keep] for k, v in self._target.items()},
            {k: v[keep] for k, v in self._task.items()},
        )

    # -------------------------------------------------------------- lookups
    @property
    def tasks(self) -> list[str]:
        """Task ids."""
        return list(self.data.tasks)

    def _params(self, task: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
        p = self.data.task_index(task)
        t = int(self.data.task_target[p])
        tgt = {k: v[:, t] for k, v in self._target.items()}
        tsk = {k: v[:, p] for k, v in self._task.items()}
        return tgt, tsk, p

    def target_of(self, task: str) -> str:
        """Return the target (property) of a task."""
        return self.data.targets[int(self.data.task_target[self.data.task_index(task)])]

    def scale_factor(self, task: str) -> float:
        """``target_scale`` of the task's property (normalised → original units)."""
        return float(self.data.target_scale[self.data.targets.index(self.target_of(task))])

    def unit(self, task: str) -> str:
        """Return the unit of the task's property ("" when normalised or unknown)."""
        return self.data.units[self.data.targets.index(self.target_of(task))]

    def current(self, task: str) -> tuple[float, float]:
        """Return the largest observed ``(n, m)`` of a task (where plans start by default)."""
        p = self.data.task_index(task)
        keep = self.data.obs_task == p
        return float(self.data.obs_n[keep].max()), float(self.data.obs_m[keep].max())

    def physical(self, task: str) -> dict[str, np.ndarray]:
        """Draws of the task's parameters in the closed forms' own terms.

        ``E, beta, S`` (scratch: ``E m^-beta + S``) and ``C, alpha`` (additive) or
        ``k, gamma, delta`` with ``T = k n^gamma m^delta`` (effective_data).
        """
        tgt, tsk, p = self._params(task)
        t = int(self.data.task_target[p])
        m_ref, n_ref = self.data.m_ref[t], self.data.n_ref[p]
        out = {
            "E": tgt["e_ref"] * (1 - tgt["floor"]) * m_ref ** tgt["beta"],
            "beta": tgt["beta"],
            "S": tgt["e_ref"] * tgt["floor"],
        }
        if self.form == "additive":
            out["C"] = out["S"] * tsk["gap_ratio"]
            out["alpha"] = tsk["alpha"]
        else:
            out["k"] = tsk["k"] * m_ref * n_ref ** -tsk["gamma"] * m_ref ** -tsk["delta"]
            out["gamma"] = tsk["gamma"]
            out["delta"] = tsk["delta"]
        return out

    # -------------------------------------------------------------- the surface
    def error(self, task: str, n: Any, m: Any, *, scale: Scale = "normalised") -> np.ndarray:
        """Return the expected error at ``(n, m)`` (broadcast), shape ``(draws, *shape)``.

        ``n = 0`` is the task's scratch curve (no simulations).
        """
        tgt, tsk, p = self._params(task)
        n_arr, m_arr = np.broadcast_arrays(np.asarray(n, float), np.asarray(m, float))
        if (n_arr < 0).any() or (m_arr <= 0).any():
            raise BayesScalingError("The surface needs n >= 0 and m > 0.")
        t = int(self.data.task_target[p])
        shape = (-1,) + (1,) * n_arr.ndim
        tg = {k: v.reshape(shape) for k, v in tgt.items()}
        ts = {k: v.reshape(shape) for k, v in tsk.items()}
        out = surface_error(
            np, self.form, n_arr[None], m_arr[None], tg, ts, self.data.m_ref[t], self.data.n_ref[p]
        )
        if scale == "original":
            out = out * self.scale_factor(task)
        elif scale != "normalised":
            raise BayesScalingError(f"scale must be 'normalised' or 'original', got {scale!r}.")
        return out

    def floor(self, task: str, m: Any) -> np.ndarray:
        """Error at ``n → ∞`` for experimental size ``m`` (the transfer gap at that m)."""
        tgt, tsk, p = self._params(task)
        t = int(self.data.task_target[p])
        m_arr = np.asarray(m, float)[None]
        shape = (-1,) + (1,) * (m_arr.ndim - 1)
        e_ref, fl, beta = (tgt[k].reshape(shape) for k in ("e_ref", "floor", "beta"))
        scratch = e_ref * (1 - fl) * (m_arr / self.data.m_ref[t]) ** (-beta)
        if self.form == "additive":
            return scratch + e_ref * fl * tsk["gap_ratio"].reshape(shape)
        return e_ref * fl + 0.0 * scratch

    # -------------------------------------------------------------- solvers
    def solve_m(
        self, task: str, n: float, target: np.ndarray, *, m_max: float = 1e12
    ) -> np.ndarray:
        """Per draw, the experimental size m at which ``error(n, m) = target`` (inf if none).

        ``target`` is a scalar or one value per draw (normalised). Bisection on log m over
        ``[1e-6, m_max]``; the error falls with m in both forms.
        """
        return self._bisect(lambda m: self.error_per_draw(task, n, m), target, m_max)

    def solve_n(
        self, task: str, m: float, target: np.ndarray, *, n_max: float = 1e15
    ) -> np.ndarray:
        """Per draw, the simulation size n at which ``error(n, m) = target``.

        0 where the scratch error at ``m`` already meets ``target``; inf where no n does. For
        the additive form with ``C_p > S_t`` (simulations raise the floor) more n never helps.
        """
        return self._bisect(lambda n: self.error_per_draw(task, n, m), target, n_max, lo=0.0)

    def error_per_draw(self, task: str, n: Any, m: Any) -> np.ndarray:
        """Normalised error of draw d at ``(n[d], m[d])`` (arrays of shape ``(draws,)``)."""
        tgt, tsk, p = self._params(task)
        t = int(self.data.task_target[p])
        return surface_error(
            np, self.form, np.asarray(n, float), np.asarray(m, float), tgt, tsk,
            self.data.m_ref[t], self.data.n_ref[p],
        )  # fmt: skip

    def _bisect(
        self, f: Any, target: Any, hi: float, lo: float = 1e-6, tol: float = 1e-10
    ) -> np.ndarray:
        """Per-draw bisection of a decreasing ``f`` for ``f(x) = target``.

        On ``log(1 + x)`` to an absolute width ``tol`` (every draw's bracket halves together,
        so about ``log2(log(1 + hi) / tol)`` steps: 38 for ``hi = 1e6``, 40 for ``1e12``).
        """
        target = np.broadcast_to(np.asarray(target, float), (self.n_draws,))
        lo_v = np.full(self.n_draws, lo)
        hi_v = np.full(self.n_draws, hi)
        f_lo, f_hi = f(lo_v), f(hi_v)
        done_at_lo = f_lo <= target
        unreachable = f_hi > target
        # bisection on log(x + 1) so that lo = 0 works and large ranges converge
        a, b = np.log1p(lo_v), np.log1p(hi_v)
        for _ in range(max(1, math.ceil(math.log2(float(np.max(b - a)) / tol)))):
            mid = 0.5 * (a + b)
            below = f(np.expm1(mid)) <= target
            b = np.where(below, mid, b)
            a = np.where(below, a, mid)
        out = np.expm1(b)
        out = np.where(done_at_lo, lo_v, out)
        return np.where(unreachable & ~done_at_lo, np.inf, out)

    # -------------------------------------------------------------- exchange
    def extra_experiments(self, task: str, n: float, m: float, dn: float) -> np.ndarray:
        """Per draw, Δm with ``error(n, m + Δm) = error(n + Δn, m)`` (inf: never)."""
        goal = self.error_per_draw(task, np.full(self.n_draws, n + dn), np.full(self.n_draws, m))
        return self.solve_m(task, n, goal) - m

    def equivalent_scratch_experiments(self, task: str, n: float, m: float) -> np.ndarray:
        """Per draw, m_eq: experiments a from-scratch model needs to match transfer at (n, m)."""
        goal = self.error_per_draw(task, np.full(self.n_draws, n), np.full(self.n_draws, m))
        return self.solve_m(task, 0.0, goal)

    def marginal_rate(self, task: str, n: float, m: float, rel: float = 1e-4) -> np.ndarray:
        """Per draw, simulations worth one experiment at the margin: (∂e/∂m) / (∂e/∂n)."""
        ones = np.ones(self.n_draws)
        de_dm = (
            self.error_per_draw(task, n * ones, m * (1 + rel) * ones)
            - self.error_per_draw(task, n * ones, m * (1 - rel) * ones)
        ) / (2 * rel * m)
        h = max(n, 1.0) * rel
        de_dn = (
            self.error_per_draw(task, (n + h) * ones, m * ones)
            - self.error_per_draw(task, max(n - h, 0.0) * ones, m * ones)
        ) / (n + h - max(n - h, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(de_dn < 0, de_dm / de_dn, np.inf)
