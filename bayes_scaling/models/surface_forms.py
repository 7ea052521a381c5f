"""Functional forms of the error surface error(n, m) and their priors.

Notation (errors normalised by the target's standard deviation): ``n`` simulations used for
pretraining, ``m`` experiments used for (fine-)tuning. Every form shares the **scratch
part** of a target (property) ``t``, fitted jointly to its scratch curve (n = 0)::

    scratch(m) = E_t · m^(−β_t) + S_t          (S_t: scratch floor, m → ∞)

parameterised as the scratch error at the target's reference size ``e_ref_t`` and the
fraction ``f_t`` of it that is the floor: ``S_t = f_t · e_ref_t`` and
``E_t = (1 − f_t) · e_ref_t · m_ref_t^β_t`` (the better-conditioned parameterisation of the
single-curve model). Each **task** ``p`` (a source database for that target) adds:

``additive``
    ``error(n, m) = E_t m^(−β_t) + C_p + (S_t − C_p)(1 + n)^(−α_p)``.
    The experiment term and the simulation term add; at ``n = 0`` it is the scratch curve,
    as ``n → ∞`` it tends to ``E_t m^(−β_t) + C_p``: ``C_p`` is the task's transfer floor
    (``C_p < S_t``: simulations lower the floor) and the paper's transfer gap at a given m is
    ``E_t m^(−β_t) + C_p``. The gain from n simulations does not depend on m.
    Task parameters: ``d_p = log(C_p / S_t)`` and ``log α_p``.
``effective_data``
    ``error(n, m) = E_t (m + T_p(n, m))^(−β_t) + S_t`` with
    ``T_p = k_p · m_ref_t · (n / n_ref_p)^γ_p · (m / m_ref_t)^δ_p`` — the simulations are worth
    ``T_p`` extra experiments (the "effective data transferred" of Hernandez et al. 2021,
    "Scaling laws for transfer"). At ``n = 0`` it is the scratch curve. The transfer benefit
    interacts with m: with ``δ_p < 1`` the relative worth ``T_p / m`` shrinks as m grows, so the
    pretraining term matters less the more experiments there are. Task parameters:
    ``log k_p``, ``log γ_p``; ``δ ∈ (0, 1)`` is one exponent shared by all tasks. The
    bound is the form's assumption (the relative worth ``T/m ∝ m^(δ−1)`` shrinks as m grows;
    Hernandez et al. report δ ≈ 0.4); without it the real surface has a second, lower mode
    at δ ≈ 1.9 where chains got stuck, and with a per-task ``δ_p`` the chains disagreed
    (tasks whose simulations are worth little do not identify it).

Priors (normalised errors; every value in :class:`SurfacePriors`) are weakly informative
and are placed on population means ``mu`` and spreads ``tau`` of the non-centred
hierarchy (targets pooled with targets, tasks with tasks), plus per-curve noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np

from bayes_scaling.exceptions import UnknownNameError

#: Parameter names (unconstrained scale) of the scratch part, per target.
TARGET_PARAMS: Final[tuple[str, ...]] = ("log_e_ref", "logit_floor", "log_beta")
#: Parameter names (unconstrained scale) of each form's task part.
TASK_PARAMS: Final[dict[str, tuple[str, ...]]] = {
    "additive": ("log_gap_ratio", "log_alpha"),
    "effective_data": ("log_k", "log_gamma"),
}
#: Parameters of a form shared by all its tasks (one value, no pooling).
SHARED_PARAMS: Final[dict[str, tuple[str, ...]]] = {
    "additive": (),
    "effective_data": ("logit_delta",),
}
FORMS: Final[tuple[str, ...]] = tuple(TASK_PARAMS)


def check_form(form: str) -> str:
    """Return ``form`` if known, else raise :class:`UnknownNameError` naming the choices."""
    if form not in TASK_PARAMS:
        raise UnknownNameError(f"Unknown surface form {form!r}; choose from {', '.join(FORMS)}.")
    return form


@dataclass(frozen=True)
class SurfacePriors:
    """Priors of the surface model: ``(mean, sd)`` of each population mean, sd of each spread.

    ``mu_*`` are Normal priors on the population mean of an unconstrained parameter,
    ``tau_*`` scales of its spread across targets (HalfNormal scale) and tasks (the median
    of a zero-avoiding LogNormal is half of it;
    :func:`bayes_scaling.models.surface_graph._population`).

    Scratch part (per target): ``log_e_ref`` (scratch error at the reference size; centred
    on 0.3 target sds), ``logit_floor`` (fraction of it that is the floor S; centred on 5 %,
    sd 1.5 on the logit scale: scratch curves rarely reach their plateau within the measured
    m, and the real surfaces put S below 1 % of e_ref; centred on 1/2 the prior sat 3.5 sd
    from them and the conflict gave sporadic divergences on the scarce surface, 1 per 4,000
    draws at 2 of 5 sampler seeds, none with this prior),
    ``log_beta`` (decay in m; centred on 0.4).
    Additive task part: ``log_gap_ratio`` = log(C_p / S_t) (centred on 0: no change of the
    floor; sd 0.5 allows a factor ~2.7 either way at 2 sd), ``log_alpha`` (decay in n;
    centred on 0.3).
    Effective-data task part: ``log_k`` (worth of the simulations at the reference sizes, as
    a fraction of m_ref; centred on e^-2 = 0.14), ``log_gamma`` (growth with n; centred on
    0.4), ``logit_delta`` (interaction with m, shared by all tasks, so only ``mu``; centred
    on δ = 1/2).
    Noise: ``log_sigma`` (sd of log error between seeds; centred on 0.05).
    """

    mu: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "log_e_ref": (float(np.log(0.3)), 1.0),
            "logit_floor": (-3.0, 1.5),
            "log_beta": (float(np.log(0.4)), 0.7),
            "log_gap_ratio": (0.0, 0.5),
            "log_alpha": (float(np.log(0.3)), 1.0),
            "log_k": (-2.0, 1.5),
            "log_gamma": (float(np.log(0.4)), 0.7),
            "logit_delta": (0.0, 1.5),
            "log_sigma": (float(np.log(0.05)), 1.0),
        }
    )
    tau: Mapping[str, float] = field(
        default_factory=lambda: {
            "log_e_ref": 0.5,
            "logit_floor": 1.0,
            "log_beta": 0.5,
            "log_gap_ratio": 0.3,
            "log_alpha": 0.5,
            "log_k": 1.0,
            "log_gamma": 0.5,
            "log_sigma": 0.5,
        }
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary (JSON-serialisable)."""
        d = asdict(self)
        return {"mu": {k: list(v) for k, v in d["mu"].items()}, "tau": dict(d["tau"])}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> SurfacePriors:
        """Defaults updated with the entries of ``d`` (``{"mu": {...}, "tau": {...}}``)."""
        base = cls()
        if not d:
            return base
        unknown = set(d) - {"mu", "tau"}
        if unknown:
            raise UnknownNameError(f"Unknown surface prior section(s) {sorted(unknown)}.")
        mu = dict(base.mu)
        tau = dict(base.tau)
        for k, v in dict(d.get("mu", {})).items():
            if k not in mu:
                raise UnknownNameError(f"Unknown surface prior {k!r}; known: {sorted(mu)}.")
            mu[k] = (float(v[0]), float(v[1]))
        for k, v in dict(d.get("tau", {})).items():
            if k not in tau:
                raise UnknownNameError(f"Unknown surface prior {k!r}; known: {sorted(tau)}.")
            tau[k] = float(v)
        return cls(mu=mu, tau=tau)


# --------------------------------------------------------------------------- the mean
def scratch_part(xp: Any, m: Any, e_ref: Any, floor: Any, beta: Any, m_ref: Any) -> Any:
    """``E m^-β`` (the experiment term) in the e_ref/floor parameterisation."""
    return e_ref * (1.0 - floor) * (m / m_ref) ** (-beta)


def surface_error(
    xp: Any,
    form: str,
    n: Any,
    m: Any,
    target: Mapping[str, Any],
    task: Mapping[str, Any],
    m_ref: Any,
    n_ref: Any,
) -> Any:
    """Return the expected normalised error at ``(n, m)`` (``xp``: numpy or pytensor.tensor).

    ``target`` holds ``e_ref``, ``floor`` (fraction), ``beta``; ``task`` holds ``gap_ratio``
    and ``alpha`` (additive) or ``k``, ``gamma``, ``delta`` (effective_data). Arrays
    broadcast; ``n = 0`` gives the scratch curve for both forms.
    """
    e_ref, floor, beta = target["e_ref"], target["floor"], target["beta"]
    S = e_ref * floor
    if form == "additive":
        ratio, alpha = task["gap_ratio"], task["alpha"]
        decay = (1.0 + n) ** (-alpha)
        return scratch_part(xp, m, e_ref, floor, beta, m_ref) + S * (ratio + (1.0 - ratio) * decay)
    if form == "effective_data":
        T = worth(xp, n, m, task, m_ref, n_ref)
        return scratch_part(xp, m + T, e_ref, floor, beta, m_ref) + S
    raise UnknownNameError(f"Unknown surface form {form!r}; choose from {', '.join(FORMS)}.")


def worth(xp: Any, n: Any, m: Any, task: Mapping[str, Any], m_ref: Any, n_ref: Any) -> Any:
    """Effective-data form: experiments the n simulations are worth, ``T_p(n, m)``."""
    return task["k"] * m_ref * (n / n_ref) ** task["gamma"] * (m / m_ref) ** task["delta"]


def constrained(form: str, raw: Mapping[str, Any], xp: Any = np) -> dict[str, Any]:
    """Map unconstrained task/target parameters to the ones :func:`surface_error` takes."""
    out: dict[str, Any] = {}
    if "log_e_ref" in raw:
        out["e_ref"] = xp.exp(raw["log_e_ref"])
        out["floor"] = 1.0 / (1.0 + xp.exp(-raw["logit_floor"]))
        out["beta"] = xp.exp(raw["log_beta"])
    if form == "additive" and "log_gap_ratio" in raw:
        out["gap_ratio"] = xp.exp(raw["log_gap_ratio"])
        out["alpha"] = xp.exp(raw["log_alpha"])
    if form == "effective_data" and "log_k" in raw:
        out["k"] = xp.exp(raw["log_k"])
        out["gamma"] = xp.exp(raw["log_gamma"])
    if form == "effective_data" and "logit_delta" in raw:
        out["delta"] = 1.0 / (1.0 + xp.exp(-raw["logit_delta"]))
    return out
