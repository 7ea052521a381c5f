"""The PyMC graph of the joint error-surface model: :func:`build_surface_model`.

Model (rows ``i`` of a surface table, see :mod:`bayes_scaling.models.surface_data`)::

    log e_i ~ Normal(log mu(n_i, m_i; target_t(i), task_p(i)), sigma_c(i))
    theta_t = mu_target + tau_target * z_t          # scratch part, per target (property)
    phi_p   = mu_task + tau_task * z_p              # form's task part, per source database
    log sigma_c = mu_log_sigma + tau_log_sigma * z_c   # per curve (task x m level, scratch)

with the forms of :mod:`bayes_scaling.models.surface_forms` (``additive`` and
``effective_data``, both equal to the scratch curve at n = 0). All hierarchies are
non-centred except the parameters named in :data:`DEFAULT_CENTRED` and
:data:`DEFAULT_TASK_CENTRED`; levels with fewer than :data:`MIN_POOLED_LEVELS` members are
unpooled. The estimator that samples this graph is
:class:`~bayes_scaling.models.surface.SurfaceModel`.

Trial aggregation (default): the rows of one measured point (curve, n, m), its trials or
seeds, enter the graph through their count ``k``, mean ``ybar`` and sum of squares ``ss``
(:func:`surface_points`) as one ``pm.Potential`` of
``-k log sigma - (k (ybar - log mu)^2 + ss) / (2 sigma^2)``: the per-row Normal likelihood
up to a constant, so the posterior is exactly the same (tested) with one term per point
instead of one per row (20 trials per point at small m: 5-20x fewer terms). The pointwise
log-likelihood stored for LOO stays per row (``SurfaceModel``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.graph import packed_data
from bayes_scaling.models.surface_data import SurfaceData
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

#: Log-scale sd of the spreads' LogNormal prior (see :func:`_population`).
SPREAD_LOG_SD: float = 0.6
#: Fewest members (targets, tasks) for which a level gets a population mean and spread;
#: fewer get independent values with the population prior's marginal scale (`_unpooled`).
MIN_POOLED_LEVELS: int = 3
#: Sample the per-curve log noise sd centred (False: non-centred, the default). Measured:
#: centred, the simulated recovery surfaces (5 seeds per point, noise sds alike) funnel at
#: small tau_log_sigma (R-hat 1.03, ESS ~90); on the real scarce surface the two are alike
#: for the effective-data form (46 s vs 58 s, both converged) and neither helps the
#: additive form, whose posterior is bimodal there.
SIGMA_CENTRED: bool = False
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
    *,
    aggregate: bool = True,
) -> Any:
    """Return the PyMC model of the surface (see the module docstring).

    ``centred`` names the target-level parameters sampled centred (default
    :data:`DEFAULT_CENTRED` of the form); the model is the same either way.
    ``aggregate`` replaces the rows (trials, seeds) of each measured point by their
    sufficient statistics (:func:`surface_points`): the same posterior as one ``Normal``
    term per row (``aggregate=False``), with as many likelihood terms as points.
    """
    import pymc as pm
    import pytensor.tensor as pt

    check_form(form)
    tp, kp = TARGET_PARAMS, TASK_PARAMS[form]
    centred = DEFAULT_CENTRED[form] if centred is None else tuple(centred)
    unknown = [c for c in centred if c not in tp]
    if unknown:
        raise BayesScalingError(f"centred: unknown target parameter(s) {unknown}; known: {tp}.")
    points = surface_points(data) if aggregate else None
    rows = points.rows if points is not None else np.arange(data.n_obs)
    coords = {
        "target": data.targets,
        "task": data.tasks,
        "curve": data.curves,
        ("point" if aggregate else "obs"): np.arange(rows.size),
        "target_param": list(tp),
        "task_param": list(kp),
    }
    # the likelihood's terms: one per row, or one per point (its first row's n, m, curve)
    obs_task, obs_target = data.obs_task[rows], data.obs_target[rows]
    obs_n, obs_m, obs_curve = data.obs_n[rows], data.obs_m[rows], data.obs_curve[rows]
    is_transfer = obs_task >= 0
    task_idx = np.where(is_transfer, obs_task, 0)
    n_ref = data.n_ref[task_idx]
    # scratch rows: n replaced by n_ref (ratio 1) and the simulation term switched off, so no
    # 0 ** gamma appears in the gradient
    n_safe = np.where(is_transfer, obs_n, n_ref)
    on = is_transfer.astype(float)
    m_ref = data.m_ref[obs_target]
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
        if SIGMA_CENTRED:
            log_sigma_c = pm.Normal("log_sigma", mu_s, tau_s, dims="curve")
        else:
            log_sigma_c = mu_s + tau_s * pm.Normal("z_sigma", 0.0, 1.0, dims="curve")

        target = constrained(form, {k: theta[:, j] for j, k in enumerate(tp)}, xp=pt)
        task = constrained(form, {k: phi[:, j] for j, k in enumerate(kp)}, xp=pt)
        shared = {name: pm.Normal(name, *priors.mu[name]) for name in SHARED_PARAMS[form]}
        task.update(constrained(form, shared, xp=pt))
        t_obs = {k: v[obs_target] for k, v in target.items()}
        p_obs = {k: v if k == "delta" else v[task_idx] for k, v in task.items()}
        if form == "additive":
            n_term = np.where(is_transfer, obs_n, 0.0)
            mean = surface_error(pt, form, n_term, obs_m, t_obs, p_obs, m_ref, n_ref)
        else:
            T = on * worth(pt, n_safe, obs_m, p_obs, m_ref, n_ref)
            e_ref, floor, beta = t_obs["e_ref"], t_obs["floor"], t_obs["beta"]
            mean = e_ref * (1.0 - floor) * ((obs_m + T) / m_ref) ** (-beta) + e_ref * floor
        log_sigma = log_sigma_c[obs_curve]
        if points is None:
            pm.Normal(
                "log_error",
                mu=pt.log(mean),
                sigma=pt.exp(log_sigma),
                observed=data.obs_y,
                dims="obs",
            )
        else:
            # sum over a point's k rows of log Normal(y | mu, sigma), up to a constant
            d = packed_data(
                "point_data",
                "point",
                {
                    "point_k": points.k,
                    "log_error_mean_data": points.ybar,
                    "log_error_ss_data": points.ss,
                },
            )  # one container: less compilation (see build_pymc_model)
            k, ybar, ss = d["point_k"], d["log_error_mean_data"], d["log_error_ss_data"]
            pm.Potential(
                "log_error_loglik",
                pt.sum(
                    -k * log_sigma
                    - 0.5 * (k * pt.square(ybar - pt.log(mean)) + ss) * pt.exp(-2.0 * log_sigma)
                ),
            )
    return model


@dataclass(frozen=True)
class SurfacePoints:
    """The measured points of a surface table and their sufficient statistics.

    A point is one (curve, n, m): the rows of its trials or seeds. ``rows`` is the first
    row of each point (its n, m, curve, task and target stand for all), ``k`` the number of
    rows, ``ybar`` their mean log error and ``ss`` the sum of squares about that mean;
    ``point_of_row`` is each row's point (``rows[point_of_row]`` has every row's n, m and
    curve).
    """

    rows: np.ndarray
    k: np.ndarray
    ybar: np.ndarray
    ss: np.ndarray
    point_of_row: np.ndarray


def surface_points(data: SurfaceData) -> SurfacePoints:
    """Group the rows of ``data`` into measured points (see :class:`SurfacePoints`)."""
    key = np.stack([data.obs_curve.astype(float), data.obs_n, data.obs_m], axis=1)
    _, first, inverse, k = np.unique(
        key, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    inverse = inverse.ravel()
    ybar = np.bincount(inverse, weights=data.obs_y) / k
    ss = np.bincount(inverse, weights=(data.obs_y - ybar[inverse]) ** 2)
    return SurfacePoints(rows=first, k=k.astype(float), ybar=ybar, ss=ss, point_of_row=inverse)
