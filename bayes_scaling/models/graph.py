"""The PyMC graph of the hierarchical scaling-law model, and its NumPy twin.

:func:`build_pymc_model` writes the model below for prepared curve data
(:class:`~bayes_scaling.models._data.CurveData`); :func:`latent_to_theta` recomputes the
curve parameters and group effects from the sampled (latent) variables, which the graph
does not store. The estimator that uses them is
:class:`~bayes_scaling.models.hierarchical.ScalingLawModel`.

Model (per curve ``c``, point ``i`` = a distinct size ``n`` of that curve, seed ``s``)::

    log e_cis ~ Normal(m_c(n_i) + u_ci, sigma_c)     # e = error / target_scale
    u_ci      ~ Normal(0, tau_point[kind_c])         # shared by the seeds of a point
    m_c(n)     = law(log n - log n_ref; theta_c)       # see bayes_scaling.models.laws
    theta_c    ~ Normal(mu + sum_j effect_j[level_j(c)] + m_slope s_c, tau_curve)
    effect_j   ~ ZeroSumNormal(tau_j)                  # fixed tau_j = group_sd for < 3 levels
                                                   # (sampled as L - 1 Helmert contrasts)
    log sigma_c ~ Normal(mu_log_sigma, tau_log_sigma)
    tau_point[k] ~ HalfNormal(point_sd)              # one per curve kind

Shared point noise (``point_noise=True``; needs seed aggregation)
    ``u_ci`` is what every seed of a point has in common beyond the law: in the scarce
    harness the 20 trials of one ``(n, m)`` reuse five pretrained networks, so their mean
    scatters around a smooth curve about twice as much as ``sigma_c / sqrt(k)`` says
    (benchmarks/README.md). It is integrated out: the seeds of a point are jointly Normal
    with covariance ``sigma^2 I + tau^2 11'``, whose density depends on the data through
    ``ybar ~ Normal(m, sqrt(sigma^2 / k + tau^2))`` and ``ss`` as below. Without it
    (``point_noise=False``, and always for the per-seed likelihoods) ``tau_point = 0``.

(``s_c`` = the curve's centred ``log m``, present when a task was measured at several
experimental sizes ``m``: :func:`~bayes_scaling.models._data.m_covariate`.)

(``theta_c`` and ``effect_j`` are sampled partially centred, with weights chosen from a
per-curve least-squares fit; the ``centring`` setting changes only the sampler's
parameterisation, not the model.)
``theta_c = (log e_ref, logit gap fraction, log alpha)``; priors in
:mod:`bayes_scaling.models.priors`. With a single curve there is no pooling:
``theta_c`` gets the population prior directly.

Seed aggregation (default for the Normal likelihood)
    The seeds of a point are replaced by their mean ``ybar`` and within-point sum of squares
    ``ss``: ``ybar ~ Normal(m, sqrt(sigma^2 / k + tau^2))`` and ``ss ~ Gamma((k - 1) / 2,
    rate = 1 / (2 sigma^2))`` (in the sampled graph one ``pm.Potential`` of the same
    density, up to a constant). Both are sufficient statistics, so the posterior is
    *exactly* the one of the per-seed likelihood (tested without the point noise, which
    the per-seed graph does not have), with ``k`` times fewer likelihood terms. The
    pointwise log-likelihood stored for LOO is the joint log density of the seeds of each
    ``(curve, n)`` point (the per-seed Normal densities summed when ``tau = 0``), for every
    likelihood, so LOO leaves out one ``(curve, n)`` point (all its seeds) and the ELPDs of
    all laws/likelihoods are comparable.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._data import SS_FLOOR, CurveData
from bayes_scaling.models.laws import PYTENSOR_OPS, ScalingLaw
from bayes_scaling.models.priors import Priors, sd_prior

Likelihood = Literal["normal", "studentt"]


#: Fewest levels for which a grouping column's effects get a spread (``tau_<column>``)
#: learnt from the data. A column with fewer levels (``kind`` or ``strategy`` with
#: transfer/scratch, two databases) gets fixed effects, ``ZeroSumNormal(group_sd)`` with the
#: prior's scale: a spread seen through two values is all prior, and sampling it left
#: R-hat 1.012 on ``tau_strategy`` in the real curves' fit (issue 15).
MIN_POOLED_LEVELS: int = 3


def is_pooled(group: Any) -> bool:
    """Whether a grouping column has enough levels for a learnt spread."""
    return len(group.levels) >= MIN_POOLED_LEVELS


def contrast_dim(group: Any) -> str:
    """Name of the dimension of a grouping column's sampled zero-sum contrasts."""
    return f"{group.column}_contrast"


@functools.cache
def zero_sum_basis(levels: int) -> np.ndarray:
    """Orthonormal basis ``(levels, levels - 1)`` of the vectors that sum to zero.

    ``u @ basis.T`` with ``u ~ Normal(0, s)`` (``levels - 1`` independent contrasts) is
    distributed as PyMC's ``ZeroSumNormal(s)`` over ``levels`` (covariance ``s^2 (I - 1
    1^T / levels)``); the graph samples the contrasts, which compiles several times faster
    than ``ZeroSumNormal`` and its transform (issue 15). Columns: normalised Helmert
    contrasts.
    """
    out = np.zeros((levels, max(levels - 1, 0)))
    for j in range(1, levels):
        out[:j, j - 1] = 1.0
        out[j, j - 1] = -float(j)
        out[:, j - 1] /= math.sqrt(j * (j + 1))
    out.setflags(write=False)
    return out


def build_pymc_model(
    data: CurveData,
    *,
    law: ScalingLaw,
    priors: Priors,
    likelihood: Likelihood = "normal",
    aggregate: bool = True,
    centring: Mapping[str, np.ndarray] | None = None,
    observed_rvs: bool = False,
    point_noise: bool = False,
) -> Any:
    """Build the PyMC model of prepared curve data (see the module docstring).

    Every data array is in a ``pm.Data`` container, so a compiled model can be reused for
    new data of the same shape; the arrays of one table (point, curve, group) share one
    container (:func:`packed_data`; read a column back with :func:`data_column`).

    ``centring`` sets partial centring, element by element (weights ``w`` in [0, 1];
    default 0 = non-centred): key ``"curve"`` a ``(curve, param)`` array for the
    curve-level deviations, ``raw ~ Normal(w m, tau^w)`` and ``theta = m + tau^(1-w) (raw -
    w m)``; a grouping column's key a ``(param,)`` array for its effects, ``z ~
    ZeroSumNormal(tau^w)`` and ``effect = tau^(1-w) z``. Every ``w`` gives ``theta ~
    Normal(m, tau)`` (resp. ``effect ~ ZeroSumNormal(tau)``): the posterior does not depend
    on the weights, only the geometry the sampler sees does (Papaspiliopoulos, Roberts and
    Skold 2007). ``w = 1`` is the centred, ``w = 0`` the non-centred parameterisation. The
    curve parameters ``theta`` and the group effects are not stored in the graph (fewer
    nodes: faster to compile); :func:`latent_to_theta` computes them from the draws.

    The Normal likelihood of seed-aggregated data enters the graph as one
    ``pm.Potential`` of the sufficient statistics (``-k log sigma - (k (ybar - m)^2 + ss)
    / (2 sigma^2)`` per point: the per-seed Normal log density up to a constant), which
    is cheaper to compile and evaluate than observed variables. ``observed_rvs=True``
    writes the same likelihood as observed variables instead (``ybar ~ Normal(m, sigma /
    sqrt k)``, with the point noise ``sqrt(sigma^2 / k + tau^2)``, ``ss ~ Gamma((k - 1) /
    2, 1 / (2 sigma^2))``): same posterior, and the form
    :meth:`ScalingLawModel.sample_prior_predictive` draws from.

    ``point_noise`` adds the shared point noise ``tau_point`` (one per curve kind,
    ``data.noise_groups``) to the aggregated Normal likelihood: per point
    ``-(k - 1) log sigma - log(sigma^2 + k tau^2) / 2 - ss / (2 sigma^2) - k (ybar - m)^2 /
    (2 (sigma^2 + k tau^2))``. The per-seed graph (``aggregate=False``) has no point noise.
    """
    import pymc as pm
    import pytensor.tensor as pt

    P = list(law.pooled)
    weights = dict(centring or {})
    zeros_p = np.zeros(len(P))
    loc = np.array([priors.location(p)[0] for p in P])
    scale = np.array([priors.location(p)[1] for p in P])
    coords: dict[str, Any] = {
        "curve": data.curve_ids,
        "param": P,
        "point": np.arange(data.n_points),
    }
    for g in data.groups:
        coords[g.column] = g.levels
        coords[contrast_dim(g)] = np.arange(len(g.levels) - 1)
    if point_noise and not aggregate:
        raise BayesScalingError(
            "point_noise=True needs the seed-aggregated Normal likelihood (aggregate=True, "
            "likelihood='normal'): the per-seed graph has no shared point noise."
        )
    ss_idx = data.ss_points
    if point_noise:
        coords["noise_group"] = list(data.noise_groups)
    if aggregate:
        if ss_idx.size and observed_rvs:
            coords["point_ss"] = ss_idx
    else:
        coords["obs"] = np.arange(data.obs_y.size)

    # The data, packed into one float container per table (point / curve / group; indices
    # cast back to integers in the graph): nutpie's compiled glue costs about 0.5 s of
    # compilation per container (issue 15).
    aggregated = aggregate and not observed_rvs
    point_cols: dict[str, np.ndarray] = {"log_n_centred": data.point_x}
    if aggregated:
        point_cols.update(
            point_k=data.point_k.astype(float),
            log_error_mean_data=data.point_ybar,
            log_error_ss_data=data.point_ss,
        )
    point_cols["point_curve"] = data.point_curve
    if point_noise:
        point_cols["point_noise_group"] = data.point_noise_group
    curve_cols = {f"{g.column}_index": g.curve_index for g in data.groups}
    if data.n_curves > 1:
        curve_cols["centring_weight"] = weights.get("curve", np.zeros((data.n_curves, len(P))))
        if data.has_m_slope:
            curve_cols["curve_log_m"] = data.curve_log_m
    if "log_break" in law.extra:  # centred on each curve's own log n range
        curve_cols["break_loc"], curve_cols["break_scale"] = priors.break_prior(*data.curve_x_range)
    group_cols = {
        f"centring_weight_{g.column}": weights.get(g.column, zeros_p)
        for g in data.groups
        if is_pooled(g)
    }

    with pm.Model(coords=coords) as model:
        d = {
            **packed_data("point_data", "point", point_cols),
            **packed_data("curve_data", "curve", curve_cols),
            **packed_data("group_data", "param", group_cols),  # (param,) columns
        }
        x, pc = d["log_n_centred"], d["point_curve"]
        if data.n_curves == 1:
            theta = pm.Normal("theta", loc[None, :], scale[None, :], dims=("curve", "param"))
        else:
            mu = pm.Normal("mu", loc, scale, dims="param")
            lin = mu[None, :]
            for g in data.groups:
                idx = d[f"{g.column}_index"]
                basis = pt.as_tensor_variable(zero_sum_basis(len(g.levels)))
                if not is_pooled(g):  # too few levels to learn a spread: fixed effects
                    u = pm.Normal(
                        f"z_{g.column}", 0.0, priors.group_sd, dims=("param", contrast_dim(g))
                    )
                    lin = lin + _pad(pt.dot(u, basis.T).T, g)[idx]
                    continue
                spread = priors.spread(priors.group_sd, P)
                log_tau = pt.log(_sd_rv(f"tau_{g.column}", spread, priors))
                w = d[f"centring_weight_{g.column}"]
                u = pm.Normal(
                    f"z_{g.column}", 0.0, pt.exp(w * log_tau)[:, None],
                    dims=("param", contrast_dim(g)),
                )  # fmt: skip
                z = pt.dot(u, basis.T)  # (param, level), sums to zero over the levels
                lin = lin + _pad((pt.exp((1.0 - w) * log_tau)[:, None] * z).T, g)[idx]
            if data.has_m_slope:  # tasks measured at several experimental sizes m
                s_m = d["curve_log_m"]
                beta = pm.Normal("m_slope", 0.0, priors.spread(priors.m_slope_sd, P), dims="param")
                lin = lin + s_m[:, None] * beta[None, :]
            log_tau_c = pt.log(_sd_rv("tau_curve", priors.spread(priors.curve_sd, P), priors))[
                None, :
            ]
            w = d["centring_weight"]
            raw = pm.Normal("theta_raw", w * lin, pt.exp(w * log_tau_c), dims=("curve", "param"))
            theta = lin + pt.exp((1.0 - w) * log_tau_c) * (raw - w * lin)
        params = {p: theta[:, j] for j, p in enumerate(P)}  # curve level
        if "log_alpha2" in law.extra:
            params["log_alpha2"] = pm.Normal(
                "log_alpha2",
                theta[:, P.index("log_alpha")],
                priors.delta_log_alpha_sd,
                dims="curve",
            )
        if "log_break" in law.extra:
            params["log_break"] = pm.Normal(
                "log_break", d["break_loc"], d["break_scale"], dims="curve"
            )

        if data.n_curves == 1:
            log_sigma = pm.Normal("log_sigma", *priors.log_sigma, dims="curve")
        else:
            mls = pm.Normal("mu_log_sigma", *priors.log_sigma)
            tls = pm.Gamma(
                "tau_log_sigma", alpha=priors.log_sigma_sd[0], beta=priors.log_sigma_sd[1]
            )
            log_sigma = pm.Normal("log_sigma", mls, tls, dims="curve")
        # Everything that depends on the curve only is computed per curve and gathered to
        # the points in one indexing (issue 15: the gradient's cost is per point).
        terms = law.terms_fn(PYTENSOR_OPS, params)
        at_points = pt.stack([*terms, log_sigma, pt.exp(-2.0 * log_sigma)], axis=1)[pc]
        mean = law.point_fn(PYTENSOR_OPS, x, tuple(at_points[:, j] for j in range(len(terms))))
        ls, precision = at_points[:, len(terms)], at_points[:, len(terms) + 1]
        tau_pt = None
        if point_noise:
            tau_point = pm.HalfNormal("tau_point", priors.point_sd, dims="noise_group")
            tau_pt = tau_point[d["point_noise_group"]]

        if aggregated:
            k, ybar, ss = d["point_k"], d["log_error_mean_data"], d["log_error_ss_data"]
            if tau_pt is None:
                ll = -k * ls - 0.5 * (k * pt.square(ybar - mean) + ss) * precision
            else:  # seeds jointly Normal, covariance sigma^2 I + tau^2 11'
                v = 1.0 / precision + k * pt.square(tau_pt)  # k * var(ybar)
                ll = (
                    -(k - 1.0) * ls
                    - 0.5 * pt.log(v)
                    - 0.5 * ss * precision
                    - 0.5 * k * pt.square(ybar - mean) / v
                )
            pm.Potential("log_error_loglik", pt.sum(ll))
        elif aggregate:
            sigma = pt.exp(log_sigma)
            k = pm.Data("point_k", data.point_k.astype(float), dims="point")
            ybar = pm.Data("log_error_mean_data", data.point_ybar, dims="point")
            sd_mean = sigma[pc] / pt.sqrt(k)
            if tau_pt is not None:
                sd_mean = pt.sqrt(pt.square(sd_mean) + pt.square(tau_pt))
            pm.Normal("log_error_mean", mean, sd_mean, observed=ybar, dims="point")
            if ss_idx.size:
                ssc = pm.Data("ss_curve", data.point_curve[ss_idx], dims="point_ss")
                ssk = pm.Data("ss_k", data.point_k[ss_idx].astype(float), dims="point_ss")
                ssv = pm.Data(
                    "log_error_ss_data",
                    np.maximum(data.point_ss[ss_idx], SS_FLOOR),
                    dims="point_ss",
                )
                pm.Gamma(
                    "log_error_ss",
                    alpha=0.5 * (ssk - 1.0),
                    beta=0.5 / pt.square(sigma[ssc]),
                    observed=ssv,
                    dims="point_ss",
                )
        else:
            sigma = pt.exp(log_sigma)
            op = pm.Data("obs_point", data.obs_point, dims="obs")
            oc = pm.Data("obs_curve", data.point_curve[data.obs_point], dims="obs")
            y = pm.Data("log_error_data", data.obs_y, dims="obs")
            if likelihood == "studentt":
                nu = pm.Gamma("nu", alpha=priors.nu[0], beta=priors.nu[1])
                pm.StudentT(
                    "log_error", nu=nu, mu=mean[op], sigma=sigma[oc], observed=y, dims="obs"
                )
            else:
                pm.Normal("log_error", mean[op], sigma[oc], observed=y, dims="obs")
    return model


def latent_to_theta(
    post: xr.Dataset, data: CurveData, P: Sequence[str], centring: Mapping[str, np.ndarray]
) -> xr.Dataset:
    """Curve parameters ``theta`` and group effects from the sampled (latent) variables.

    The NumPy twin of the transformation inside :func:`build_pymc_model` (same centring
    weights), applied to draws (``post`` has ``chain`` and ``draw`` dimensions) so the
    graph need not carry them.

    Returns
    -------
    xarray.Dataset
        ``theta`` (``chain, draw, curve, param``) and ``effect_<column>`` (``chain, draw,
        <column>, param``) per grouping column; just ``theta`` for a single curve.

    """
    P = list(P)
    if "mu" not in post:  # single curve: theta is sampled directly
        return xr.Dataset({"theta": post["theta"].transpose("chain", "draw", "curve", "param")})
    out: dict[str, Any] = {}
    effects: dict[str, np.ndarray] = {}
    for g in data.groups:
        u = post[f"z_{g.column}"].transpose("chain", "draw", contrast_dim(g), "param").values
        z = np.einsum("lk,cdkp->cdlp", zero_sum_basis(len(g.levels)), u)
        if f"tau_{g.column}" in post:
            w = np.asarray(centring.get(g.column, np.zeros(len(P))), dtype=float)
            tau = post[f"tau_{g.column}"].transpose("chain", "draw", "param").values
            effect = (tau ** (1.0 - w))[:, :, None, :] * z
        else:  # fixed effects (fewer than MIN_POOLED_LEVELS levels)
            effect = z
        out[f"effect_{g.column}"] = (("chain", "draw", g.column, "param"), effect)
        effects[g.column] = effect
    beta = post["m_slope"].transpose("chain", "draw", "param").values if data.has_m_slope else None
    lin = curve_location(post["mu"].transpose("chain", "draw", "param").values, effects, beta, data)
    w = np.asarray(centring.get("curve", np.zeros((data.n_curves, len(P)))), dtype=float)
    tau_c = post["tau_curve"].transpose("chain", "draw", "param").values[:, :, None, :]
    raw = post["theta_raw"].transpose("chain", "draw", "curve", "param").values
    out["theta"] = (("chain", "draw", "curve", "param"), lin + tau_c ** (1.0 - w) * (raw - w * lin))
    coords = {"curve": data.curve_ids, "param": P}
    for g in data.groups:
        coords[g.column] = g.levels
    return xr.Dataset(out, coords=coords)


def curve_location(
    mu: np.ndarray,
    effects: Mapping[str, np.ndarray],
    m_slope: np.ndarray | None,
    data: CurveData,
) -> np.ndarray:
    """Each curve's prior location ``mu + sum_j effect_j[level_j(c)] + m_slope s_c``.

    The NumPy twin of ``lin`` in :func:`build_pymc_model`. ``mu`` and ``m_slope`` are
    ``(..., param)``, each ``effects[column]`` is ``(..., level, param)`` (any leading
    dimensions, e.g. ``chain, draw`` or none for posterior means); returns ``(..., curve,
    param)`` (a size-1 curve axis when nothing varies between curves).
    """
    lin = mu[..., None, :]
    for g in data.groups:
        lin = lin + g.take(effects[g.column], axis=-2)
    if data.has_m_slope:
        lin = lin + data.curve_log_m[:, None] * m_slope[..., None, :]
    return lin


def packed_data(name: str, dim: str, columns: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Put same-length data columns side by side in one ``pm.Data``; return each one's slice.

    ``columns`` maps a name to a ``(dim_length,)`` or ``(dim_length, k)`` array. The
    container is float; an integer column (an index) comes back cast to integers. Its
    other dimension ``<name>_column`` names the packed columns. Nothing is created for no
    columns. Must be called inside a model context.
    """
    import pymc as pm

    if not columns:
        return {}
    arrays = {key: np.asarray(c) for key, c in columns.items()}
    blocks = [a.reshape(len(a), -1) for a in arrays.values()]
    labels, spans, start = [], {}, 0
    for (key, a), block in zip(arrays.items(), blocks, strict=True):
        width = block.shape[1]
        spans[key] = slice(start, start + width) if a.ndim > 1 else start
        labels += [key] if a.ndim == 1 else [f"{key}[{j}]" for j in range(width)]
        start += width
    pm.modelcontext(None).add_coord(f"{name}_column", labels)
    table = pm.Data(
        name, np.concatenate(blocks, axis=1).astype(float), dims=(dim, f"{name}_column")
    )
    out = {}
    for key, span in spans.items():
        col = table[:, span]
        out[key] = col.astype("int64") if np.issubdtype(arrays[key].dtype, np.integer) else col
    return out


def data_column(model: Any, name: str) -> np.ndarray:
    """Return one packed data column of a model built by :func:`build_pymc_model`.

    ``name`` is a column's name (``"log_n_centred"``, ``"centring_weight"``, ...): a
    ``(dim_length,)`` or, for a block of columns, ``(dim_length, k)`` array. Data that is
    its own container (the per-seed and observed-variable likelihoods) is returned too.
    """
    for var in model.data_vars:
        if var.name == name:
            return np.asarray(var.get_value())
        labels = [str(v) for v in model.coords.get(f"{var.name}_column", ())]
        hit = [j for j, lab in enumerate(labels) if lab == name or lab.startswith(f"{name}[")]
        if hit:
            block = np.asarray(var.get_value())[:, hit]
            return block[:, 0] if labels[hit[0]] == name else block
    raise KeyError(f"the model has no data column {name!r}")


def _pad(effect: Any, group: Any) -> Any:
    """Append a zero row to a ``(level, param)`` effect matrix for excluded levels' curves."""
    if not group.has_excluded:
        return effect
    import pytensor.tensor as pt

    return pt.concatenate([effect, pt.zeros_like(effect[:1])], axis=0)


def _sd_rv(name: str, scale: np.ndarray, priors: Priors) -> Any:
    """Prior of a group/curve standard deviation (``Priors.sd_family``), dims ``param``.

    ``scale``: one prior mean (Gamma) or scale (HalfNormal) per parameter.
    """
    import pymc as pm

    if priors.sd_family == "gamma":
        shape, rate = sd_prior(scale)
        return pm.Gamma(name, alpha=shape, beta=rate, dims="param")
    return pm.HalfNormal(name, scale, dims="param")
