"""Joint hierarchical model of the error surface error(n, m): :class:`SurfaceModel`.

Model (rows ``i`` of a surface table, see :mod:`bayes_scaling.models.surface_data`)::

    log e_i ~ Normal(log mu(n_i, m_i; target_t(i), task_p(i)), sigma_c(i))
    theta_t = mu_target + tau_target * z_t          # scratch part, per target (property)
    phi_p   = mu_task + tau_task * z_p              # form's task part, per source database
    log sigma_c = mu_log_sigma + tau_log_sigma * z_c   # per curve (task x m level, scratch)

with the forms of :mod:`bayes_scaling.models.surface_forms` (``additive`` and
``effective_data``, both equal to the scratch curve at n = 0). All hierarchies are
non-centred; every seed row is one observation, so LOO (``az.loo``) leaves out one fitted
model's error. The sampling backend is the package's (:func:`sample_model`: nutpie by
default, PyMC or NumPyro on request).

Use :func:`compare_surface_forms` to let LOO choose between the forms, and
:meth:`SurfaceModel.surface_posterior` for everything downstream (decisions in
:mod:`bayes_scaling.tradeoffs`, plots in :mod:`bayes_scaling.plotting`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.constants import CREDIBLE_INTERVAL, DEFAULT_SEED
from bayes_scaling.exceptions import BayesScalingError, ModelFileError
from bayes_scaling.models._fitted import FittedState
from bayes_scaling.models.diagnostics import ConvergenceReport
from bayes_scaling.models.samplers import check_sampler, sample_model
from bayes_scaling.models.surface_data import SurfaceData, prepare_surface
from bayes_scaling.models.surface_forms import (
    SHARED_PARAMS,
    TARGET_PARAMS,
    TASK_PARAMS,
    SurfacePriors,
    check_form,
    constrained,
    surface_error,
    worth,
)

Scale = Literal["normalised", "original"]
#: Value of the ``bayes_scaling_model`` attribute of a saved surface.
SURFACE_KIND = "SurfaceModel"
#: Layout version of saved surfaces.
SURFACE_SCHEMA_VERSION = 1
#: Default NUTS target acceptance per form (measured: the additive form left 2 divergences
#: on the real surface at 0.95 and none at 0.99; the effective-data form 2-4 divergences on
#: simulated surfaces at 0.95 when every sampled parameter is checked).
DEFAULT_SURFACE_TARGET_ACCEPT: dict[str, float] = {"additive": 0.99, "effective_data": 0.99}
#: Forms sampled with nutpie's low-rank modified mass matrix (measured on simulated surfaces:
#: the effective-data form's (log k, log gamma, floor, beta) correlations left R-hat up to
#: 1.04 on task spreads with the diagonal one; low-rank: R-hat <= 1.005, ESS > 680).
LOW_RANK_FORMS: frozenset[str] = frozenset({"effective_data"})
#: Log-scale sd of the spreads' LogNormal prior (see :func:`_population`).
SPREAD_LOG_SD: float = 0.6
_LOG_2PI = math.log(2.0 * math.pi)
#: Fewest members (targets, tasks) for which a level gets a population mean and spread;
#: fewer get independent values with the population prior's marginal scale (`_unpooled`).
MIN_POOLED_LEVELS: int = 3
_TARGET_VARS = ("e_ref", "floor", "beta")
#: Target-level parameters sampled centred, per form (the others non-centred); measured on
#: the real surface and simulated ones: the effective-data form needs e_ref and beta centred
#: (non-centred: R-hat 1.2, ~300 leapfrog steps per draw); so does the additive form since
#: spreads are zero-avoiding and 2-target surfaces unpooled (non-centred: R-hat 1.04 on
#: tau_target[log_e_ref] on the real surface; centred with HalfNormal spreads: divergences).
DEFAULT_CENTRED: dict[str, tuple[str, ...]] = {
    "additive": ("log_e_ref", "log_beta"),
    "effective_data": ("log_e_ref", "log_beta"),
}
#: Task-level parameters sampled centred, per form (measured on simulated surfaces: log k
#: non-centred left R-hat 1.02 and ESS ~200 on mu_task[log_k] with 4 tasks).
DEFAULT_TASK_CENTRED: dict[str, tuple[str, ...]] = {
    "additive": (),
    "effective_data": ("log_k", "log_gamma"),
}
_TASK_VARS = {"additive": ("gap_ratio", "alpha"), "effective_data": ("k", "gamma", "delta")}


# --------------------------------------------------------------------------- graph
def _population(priors: SurfacePriors, level: str, names: tuple[str, ...]) -> tuple[Any, Any]:
    """Add the population mean ``mu_<level>`` and spread ``tau_<level>`` of the named parameters."""
    import pymc as pm

    mu = pm.Normal(
        f"mu_{level}",
        mu=np.array([priors.mu[k][0] for k in names]),
        sigma=np.array([priors.mu[k][1] for k in names]),
        dims=f"{level}_param",
    )
    # zero-avoiding LogNormal spreads (median scale / 2, 90 % in [0.19, 1.3] x scale): a
    # handful of targets or tasks cannot tell a spread near 0 from a small one, and with
    # centred members a HalfNormal or Gamma(2, .) spread left the funnel's neck at tau -> 0
    # (1-4 divergences per fit on simulated surfaces, all at tau_task[log_gamma] < 0.03;
    # R-hat 1.04 on tau_target[log_e_ref] on the real surface)
    scale = np.array([priors.tau[k] for k in names])
    tau = pm.LogNormal(
        f"tau_{level}", mu=np.log(scale / 2.0), sigma=SPREAD_LOG_SD, dims=f"{level}_param"
    )
    return mu, tau


def _unpooled(priors: SurfacePriors, level: str, names: tuple[str, ...]) -> Any:
    """Independent ``<level>_param`` values with the pooled prior's marginal scale.

    Used when a level has fewer than :data:`MIN_POOLED_LEVELS` members: a spread estimated
    from one or two values is all prior, and its funnel is what made the sampler diverge.
    Each value gets ``Normal(mu0, sqrt(s0^2 + tau0^2))``, the mean and variance of the pooled
    prior marginalised over the population mean and spread.
    """
    import pymc as pm

    mean = np.array([priors.mu[k][0] for k in names])
    scale = np.sqrt(np.array([priors.mu[k][1] ** 2 + priors.tau[k] ** 2 for k in names]))
    return pm.Normal(f"fixed_{level}", mu=mean, sigma=scale, dims=(level, f"{level}_param"))


def build_surface_model(
    data: SurfaceData,
    form: str,
    priors: SurfacePriors,
    centred: tuple[str, ...] | None = None,
) -> Any:
    """Return the PyMC model of the surface (see the module docstring).

    ``centred`` names the target-level parameters sampled centred (default
    :data:`DEFAULT_CENTRED` of the form); the model is the same either way.
    """
    import pymc as pm
    import pytensor.tensor as pt

    check_form(form)
    tp, kp = TARGET_PARAMS, TASK_PARAMS[form]
    centred = DEFAULT_CENTRED[form] if centred is None else tuple(centred)
    unknown = [c for c in centred if c not in tp]
    if unknown:
        raise BayesScalingError(f"centred: unknown target parameter(s) {unknown}; known: {tp}.")
    coords = {
        "target": data.targets,
        "task": data.tasks,
        "curve": data.curves,
        "obs": np.arange(data.n_obs),
        "target_param": list(tp),
        "task_param": list(kp),
    }
    is_transfer = data.obs_task >= 0
    task_idx = np.where(is_transfer, data.obs_task, 0)
    n_ref = data.n_ref[task_idx]
    # scratch rows: n replaced by n_ref (ratio 1) and the simulation term switched off, so no
    # 0 ** gamma appears in the gradient
    n_safe = np.where(is_transfer, data.obs_n, n_ref)
    on = is_transfer.astype(float)
    m_ref = data.m_ref[data.obs_target]
    with pm.Model(coords=coords) as model:
        if len(data.targets) >= MIN_POOLED_LEVELS:
            mu_t, tau_t = _population(priors, "target", tp)
            # Partial centring (DEFAULT_CENTRED): a parameter pinned by its target's scratch
            # curve and all its transfer curves samples best centred, a weakly identified one
            # (the floor fraction: scratch curves rarely plateau) non-centred.
            cols = []
            for j, name in enumerate(tp):
                if name in centred:
                    col = pm.Normal(f"{name}_target", mu=mu_t[j], sigma=tau_t[j], dims="target")
                else:
                    z = pm.Normal(f"z_{name}_target", 0.0, 1.0, dims="target")
                    col = mu_t[j] + tau_t[j] * z
                cols.append(col)
            theta_cols = pt.stack(cols, axis=1)
        else:
            theta_cols = _unpooled(priors, "target", tp)
        theta = pm.Deterministic("theta_target", theta_cols, dims=("target", "target_param"))
        if len(data.tasks) >= MIN_POOLED_LEVELS:
            mu_p, tau_p = _population(priors, "task", kp)
            # the worth of the simulations (log k) is pinned by each task's curves: centred;
            # the rest non-centred
            phi_cols = []
            for j, name in enumerate(kp):
                if name in DEFAULT_TASK_CENTRED[form]:
                    col = pm.Normal(f"{name}_task", mu=mu_p[j], sigma=tau_p[j], dims="task")
                else:
                    col = mu_p[j] + tau_p[j] * pm.Normal(f"z_{name}_task", 0.0, 1.0, dims="task")
                phi_cols.append(col)
            phi_raw = pt.stack(phi_cols, axis=1)
        else:
            phi_raw = _unpooled(priors, "task", kp)
        phi = pm.Deterministic("phi_task", phi_raw, dims=("task", "task_param"))
        mu_s = pm.Normal("mu_log_sigma", *priors.mu["log_sigma"])
        tau_s = pm.HalfNormal("tau_log_sigma", priors.tau["log_sigma"])
        z_s = pm.Normal("z_sigma", 0.0, 1.0, dims="curve")

        target = constrained(form, {k: theta[:, j] for j, k in enumerate(tp)}, xp=pt)
        task = constrained(form, {k: phi[:, j] for j, k in enumerate(kp)}, xp=pt)
        shared = {name: pm.Normal(name, *priors.mu[name]) for name in SHARED_PARAMS[form]}
        task.update(constrained(form, shared, xp=pt))
        t_obs = {k: v[data.obs_target] for k, v in target.items()}
        p_obs = {k: v if k == "delta" else v[task_idx] for k, v in task.items()}
        if form == "additive":
            n_term = np.where(is_transfer, data.obs_n, 0.0)
            mean = surface_error(pt, form, n_term, data.obs_m, t_obs, p_obs, m_ref, n_ref)
        else:
            T = on * worth(pt, n_safe, data.obs_m, p_obs, m_ref, n_ref)
            e_ref, floor, beta = t_obs["e_ref"], t_obs["floor"], t_obs["beta"]
            mean = e_ref * (1.0 - floor) * ((data.obs_m + T) / m_ref) ** (-beta) + e_ref * floor
        sigma = pt.exp(mu_s + tau_s * z_s)
        pm.Normal(
            "log_error",
            mu=pt.log(mean),
            sigma=sigma[data.obs_curve],
            observed=data.obs_y,
            dims="obs",
        )
    return model


# --------------------------------------------------------------------------- posterior
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
        self, f: Any, target: Any, hi: float, lo: float = 1e-6, iters: int = 90
    ) -> np.ndarray:
        target = np.broadcast_to(np.asarray(target, float), (self.n_draws,))
        lo_v = np.full(self.n_draws, lo)
        hi_v = np.full(self.n_draws, hi)
        f_lo, f_hi = f(lo_v), f(hi_v)
        done_at_lo = f_lo <= target
        unreachable = f_hi > target
        # bisection on log(x + 1) so that lo = 0 works and large ranges converge
        a, b = np.log1p(lo_v), np.log1p(hi_v)
        for _ in range(iters):
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


# --------------------------------------------------------------------------- estimator
class SurfaceModel(FittedState):
    """Hierarchical Bayesian model of error(n, m) across tasks (scikit-learn style).

    Parameters
    ----------
    form : {"additive", "effective_data"}
        Functional form (:mod:`bayes_scaling.models.surface_forms`).
    metric : str, optional
        Metric to fit when the table holds several (e.g. ``"mae"``).
    priors : SurfacePriors or mapping, optional
        Priors (``{"mu": {...}, "tau": {...}}`` overrides the defaults).
    sampler : {"nutpie", "pymc", "numpyro"}
        Sampling backend.
    draws, tune, chains : int
        NUTS settings (default 4 chains x 1000 draws after 1000 tuning steps: bulk and tail
        ESS >= 400 for every sampled parameter, hyper-parameters included, on the real and
        simulated surfaces).
    target_accept : float, optional
        NUTS target acceptance rate (default :data:`DEFAULT_SURFACE_TARGET_ACCEPT` of the
        form).
    centred : tuple of str, optional
        Target-level parameters sampled centred (default :data:`DEFAULT_CENTRED` of the
        form); changes the sampler's geometry only, not the model.
    random_seed : int, optional
        Seed (default :data:`~bayes_scaling.constants.DEFAULT_SEED`); same seed, same draws.
    check_convergence : bool
        Warn loudly (:class:`~bayes_scaling.models.ConvergenceWarning`) when the fit fails
        the divergence / R-hat / ESS thresholds.

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior (raw and constrained parameters), sample_stats, log_likelihood,
        observed_data and the training table (group ``curves``).
    convergence : ConvergenceReport
        Divergences, R-hat and ESS of every sampled parameter (hyper-parameters included).

    Examples
    --------
    >>> from bayes_scaling.simulate import simulate_surface
    >>> table, truth = simulate_surface(seed=0)  # doctest: +SKIP
    >>> sm = SurfaceModel(form="additive").fit(table)  # doctest: +SKIP
    >>> sm.surface_posterior().error(sm.tasks_[0], 1000, 200).shape  # doctest: +SKIP
    (4000,)

    """

    def __init__(
        self,
        form: str = "additive",
        *,
        metric: str | None = None,
        priors: SurfacePriors | Mapping[str, Any] | None = None,
        sampler: str = "nutpie",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        target_accept: float | None = None,
        centred: tuple[str, ...] | None = None,
        random_seed: int | None = DEFAULT_SEED,
        check_convergence: bool = True,
    ) -> None:
        self.centred = None if centred is None else tuple(centred)
        self.form = form
        self.metric = metric
        self.priors = priors
        self.sampler = sampler
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.target_accept = target_accept
        self.random_seed = random_seed
        self.check_convergence = check_convergence

    def get_params(self) -> dict[str, Any]:
        """Return the constructor settings (JSON-serialisable; priors as a dictionary)."""
        pri = self.priors
        if isinstance(pri, SurfacePriors):
            pri = pri.to_dict()
        return {
            "form": self.form,
            "metric": self.metric,
            "priors": pri,
            "sampler": self.sampler,
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "target_accept": self.target_accept,
            "centred": None if self.centred is None else list(self.centred),
            "random_seed": self.random_seed,
            "check_convergence": self.check_convergence,
        }

    def __repr__(self) -> str:
        return f"SurfaceModel(form={self.form!r}, sampler={self.sampler!r})"

    def _priors(self) -> SurfacePriors:
        if isinstance(self.priors, SurfacePriors):
            return self.priors
        return SurfacePriors.from_dict(self.priors)

    # ------------------------------------------------------------------ fit
    def fit(self, table: pd.DataFrame) -> SurfaceModel:
        """Fit the surface to a table (see :mod:`bayes_scaling.models.surface_data`).

        Returns
        -------
        SurfaceModel
            ``self``.

        Raises
        ------
        CurveSchemaError
            The table is not a valid surface table (missing m, no scratch curve, one m level,
            m above the split, several metrics, ...).

        """
        check_form(self.form)
        check_sampler(self.sampler)
        accept = (
            DEFAULT_SURFACE_TARGET_ACCEPT[self.form]
            if self.target_accept is None
            else float(self.target_accept)
        )
        if not 0.5 <= accept < 1.0:
            raise BayesScalingError(f"target_accept must be in [0.5, 1), got {accept}.")
        priors = self._priors()
        data = prepare_surface(table, metric=self.metric)
        model = build_surface_model(data, self.form, priors, self.centred)
        seed = DEFAULT_SEED if self.random_seed is None else int(self.random_seed)
        trace = sample_model(
            model,
            sampler=self.sampler,
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            random_seed=seed,
            sampler_kwargs=self._sampler_kwargs(accept),
        )
        self.data_ = data
        self.model_ = model
        self.idata_ = self._assemble(trace, data)
        self.idata_.attrs.update(self._attrs(data, seed))
        self.convergence_ = self._report()
        if self.check_convergence:
            self.convergence_.warn(stacklevel=2)
        return self

    def _sampler_kwargs(self, accept: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"target_accept": accept}
        if self.sampler == "nutpie" and self.form in LOW_RANK_FORMS:
            kwargs["low_rank_modified_mass_matrix"] = True
        return kwargs

    def _report(self) -> ConvergenceReport:
        return ConvergenceReport.from_idata(self.idata_)

    def _constrained(self, post: xr.Dataset) -> tuple[dict, dict]:
        tp, kp = TARGET_PARAMS, TASK_PARAMS[self.form]
        theta = post["theta_target"]
        phi = (
            post["phi_task"]
            if "phi_task" in post
            else post["mu_task"] + post["tau_task"] * post["z_task"]
        )
        theta = theta.transpose("chain", "draw", "target", "target_param").values
        phi = phi.transpose("chain", "draw", "task", "task_param").values
        tgt = constrained(self.form, {k: theta[..., j] for j, k in enumerate(tp)})
        tsk = constrained(self.form, {k: phi[..., j] for j, k in enumerate(kp)})
        shared = {k: post[k].transpose("chain", "draw").values for k in SHARED_PARAMS[self.form]}
        for k, v in constrained(self.form, shared).items():  # one value per draw, per task
            tsk[k] = np.broadcast_to(v[..., None], phi.shape[:-1]).copy()
        return tgt, tsk

    def _assemble(self, trace: xr.DataTree, data: SurfaceData) -> xr.DataTree:
        from bayes_scaling.models.persistence import table_to_dataset

        post = trace["posterior"].to_dataset()
        tgt, tsk = self._constrained(post)
        dims_t, dims_p = ("chain", "draw", "target"), ("chain", "draw", "task")
        derived: dict[str, Any] = {k: (dims_t, v) for k, v in tgt.items()}
        derived.update({k: (dims_p, v) for k, v in tsk.items()})
        derived["S"] = (dims_t, tgt["e_ref"] * tgt["floor"])
        tidx = data.task_target
        if self.form == "additive":
            derived["C"] = (
                dims_p,
                tgt["e_ref"][..., tidx] * tgt["floor"][..., tidx] * tsk["gap_ratio"],
            )
        log_sigma = post["mu_log_sigma"] + post["tau_log_sigma"] * post["z_sigma"]
        sigma = np.exp(log_sigma.transpose("chain", "draw", "curve").values)
        derived["sigma"] = (("chain", "draw", "curve"), sigma)
        post = post.assign(
            xr.Dataset(derived, coords={"target": data.targets, "task": data.tasks}).data_vars
        )
        is_transfer = data.obs_task >= 0
        pidx = np.where(is_transfer, data.obs_task, 0)
        mean = surface_error(
            np,
            self.form,
            np.where(is_transfer, data.obs_n, 0.0),
            data.obs_m,
            {k: v[..., data.obs_target] for k, v in tgt.items()},
            {k: v[..., pidx] for k, v in tsk.items()},
            data.m_ref[data.obs_target],
            data.n_ref[pidx],
        )
        sd = sigma[..., data.obs_curve]
        ll = -np.log(sd) - 0.5 * _LOG_2PI - (data.obs_y - np.log(mean)) ** 2 / (2 * sd**2)
        obs_coords = {"obs": np.arange(data.n_obs)}
        cd = {"chain": post["chain"].values, "draw": post["draw"].values, **obs_coords}
        return xr.DataTree.from_dict(
            {
                "posterior": post,
                "sample_stats": trace["sample_stats"].to_dataset(),
                "log_likelihood": xr.Dataset(
                    {"log_error": (("chain", "draw", "obs"), ll)}, coords=cd
                ),
                "observed_data": xr.Dataset({"log_error": ("obs", data.obs_y)}, coords=obs_coords),
                "constant_data": xr.Dataset(
                    {"n": ("obs", data.obs_n), "m": ("obs", data.obs_m)}, coords=obs_coords
                ),
                "curves": table_to_dataset(data.table),
            }
        )

    def _attrs(self, data: SurfaceData, seed: int) -> dict[str, Any]:
        from bayes_scaling import __version__
        from bayes_scaling.curves import curves_hash

        return {
            "bayes_scaling_model": SURFACE_KIND,
            "bayes_scaling_schema_version": SURFACE_SCHEMA_VERSION,
            "bayes_scaling_version": __version__,
            "config": json.dumps(self.get_params(), sort_keys=True),
            "data_hash": curves_hash(data.table),
            "random_seed_used": int(seed),
        }

    # ------------------------------------------------------------------ fitted state
    @property
    def tasks_(self) -> list[str]:
        """Fitted task ids."""
        self._check_fitted()
        return list(self.data_.tasks)

    def surface_posterior(self) -> SurfacePosterior:
        """Return the posterior as a :class:`SurfacePosterior` (all chains stacked)."""
        self._check_fitted()
        post = self.idata_["posterior"].to_dataset()

        def flat(name: str, dim: str) -> np.ndarray:
            return post[name].transpose("chain", "draw", dim).values.reshape(-1, post.sizes[dim])

        tgt = {k: flat(k, "target") for k in _TARGET_VARS}
        tsk = {k: flat(k, "task") for k in _TASK_VARS[self.form]}
        return SurfacePosterior(self.data_, self.form, tgt, tsk)

    def loo(self, **kwargs: Any) -> Any:
        """PSIS-LOO of the fit (``arviz.loo``; pointwise = one seed row)."""
        import arviz as az

        return az.loo(self.idata, **kwargs)

    def summary(self, prob: float = CREDIBLE_INTERVAL) -> pd.DataFrame:
        """Tidy table: one row per (level, name, parameter) with median and interval."""
        import arviz as az

        self._check_fitted()
        post = self.idata_["posterior"].to_dataset()
        lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
        rows = []
        names = [("target", v) for v in (*_TARGET_VARS, "S")] + [
            ("task", v) for v in _TASK_VARS[self.form]
        ]
        if self.form == "additive":
            names.append(("task", "C"))
        for level, var in names:
            da = post[var]
            rhat = az.rhat(da.to_dataset(name=var))[var]
            ess = az.ess(da.to_dataset(name=var), method="bulk")[var]
            for name in da[level].values:
                x = da.sel({level: name}).values.ravel()
                rows.append(
                    {
                        "level": level,
                        "name": str(name),
                        "parameter": var,
                        "median": float(np.median(x)),
                        "lower": float(np.quantile(x, lo)),
                        "upper": float(np.quantile(x, hi)),
                        "r_hat": float(rhat.sel({level: name})),
                        "ess_bulk": float(ess.sel({level: name})),
                    }
                )
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fit as one netCDF file (atomic; never pickle)."""
        from bayes_scaling.models.persistence import write_datatree

        self._check_fitted()
        return write_datatree(self.idata_, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SurfaceModel:
        """Read a file written by :meth:`save`; :class:`ModelFileError` if it is not one."""
        from bayes_scaling.curves import curves_hash
        from bayes_scaling.models.persistence import dataset_to_table, open_checked

        path = Path(path)
        dt = open_checked(path, kind=SURFACE_KIND, version=SURFACE_SCHEMA_VERSION, what="surface")
        attrs = dt.attrs
        try:
            model = cls(**json.loads(attrs["config"]))
            check_form(model.form)
            table = dataset_to_table(dt["curves"].to_dataset())
            data = prepare_surface(table, metric=model.metric)
        except Exception as exc:  # noqa: BLE001 - anything wrong inside means a bad file
            raise ModelFileError(f"{path} holds an invalid surface fit: {exc}") from exc
        if curves_hash(data.table) != str(attrs.get("data_hash")):
            raise ModelFileError(
                f"{path}: the stored training table does not match its data hash; the file was "
                "modified or is corrupt."
            )
        model.data_ = data
        model.model_ = None
        model.idata_ = dt
        model.convergence_ = model._report()
        return model


def surface_loos(models: Mapping[str, SurfaceModel]) -> dict[str, Any]:
    """PSIS-LOO (``arviz.loo``, pointwise) of each of several surfaces fitted to one table.

    Raises
    ------
    BayesScalingError
        Fewer than two surfaces, or surfaces fitted to different tables.

    """
    if len(models) < 2:
        raise BayesScalingError("compare_surface_forms needs at least two fitted surfaces.")
    hashes = {m.idata.attrs.get("data_hash") for m in models.values()}
    if len(hashes) != 1:
        raise BayesScalingError("The surfaces were fitted to different tables; LOO cannot compare.")
    return {k: m.loo() for k, m in models.items()}


def compare_surface_forms(
    models: Mapping[str, SurfaceModel], *, loos: Mapping[str, Any] | None = None, **kwargs: Any
) -> pd.DataFrame:
    """LOO comparison (``arviz.compare``) of fitted surfaces; best first.

    ``loos`` reuses results of :func:`surface_loos` (default: computed here). Returns the
    ArviZ table (``elpd``, ``elpd_diff``, ``dse``: standard error of the difference,
    ``weight``, ...) indexed by the given names.
    """
    import arviz as az

    return az.compare(dict(surface_loos(models) if loos is None else loos), **kwargs)
