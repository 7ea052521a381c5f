"""From a sampler's trace to the fit's DataTree: curve parameters, derived laws, LOO terms.

:func:`assemble_idata` turns the raw trace of the graph
(:func:`~bayes_scaling.models.graph.build_pymc_model`) into what
:class:`~bayes_scaling.models.hierarchical.ScalingLawModel` keeps as ``idata_``: the
posterior with the curve parameters ``theta`` and group effects
(:func:`~bayes_scaling.models.graph.latent_to_theta`) and the derived ``D``, ``alpha``,
``C``, ``e_ref``, ``sigma`` per curve (:func:`derived`), the pointwise log-likelihood of
every ``(curve, n)`` point for LOO (:func:`pointwise_loglik`), the observed and constant
data, and the training curve table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from scipy import special, stats

from bayes_scaling.models._data import CurveData
from bayes_scaling.models.diagnostics import ConvergenceReport
from bayes_scaling.models.graph import latent_to_theta
from bayes_scaling.models.laws import ScalingLaw

_LOG_2PI = math.log(2.0 * math.pi)


def posterior_params(post: xr.Dataset, law: ScalingLaw) -> dict[str, np.ndarray]:
    """Curve parameters as ``(chain, draw, curve)`` arrays."""
    theta = post["theta"].transpose("chain", "draw", "curve", "param").values
    params = {p: theta[..., j] for j, p in enumerate(law.pooled)}
    for extra in law.extra:
        params[extra] = post[extra].transpose("chain", "draw", "curve").values
    return params


def flat_params(post: xr.Dataset, law: ScalingLaw) -> dict[str, np.ndarray]:
    """Curve parameters as ``(sample, curve)`` arrays (chains and draws flattened)."""
    return {k: v.reshape(-1, v.shape[-1]) for k, v in posterior_params(post, law).items()}


def curve_point_sd(post: xr.Dataset, data: CurveData) -> np.ndarray:
    """Shared point noise sd per curve, ``(chain, draw, curve)`` (zeros without it)."""
    if "tau_point" not in post:
        shape = (post.sizes["chain"], post.sizes["draw"], data.n_curves)
        return np.zeros(shape)
    tau = post["tau_point"].transpose("chain", "draw", "noise_group").values
    return tau[..., data.curve_noise_group]


def derived(post: xr.Dataset, data: CurveData, law: ScalingLaw) -> xr.Dataset:
    """``D``, ``alpha``, ``C``, ``e_ref``, ``sigma`` (``point_sd``, extras) per curve.

    ``point_sd`` (only with the shared point noise) is ``tau_point`` of the curve's kind:
    the seed mean of ``k`` seeds scatters around the law by ``sqrt(sigma^2 / k +
    point_sd^2)``.
    """
    p = posterior_params(post, law)
    D, alpha, C = law.dac(p, data.log_n_ref)
    dims = ("chain", "draw", "curve")
    out = {
        "D": (dims, D),
        "alpha": (dims, alpha),
        "C": (dims, C),
        "e_ref": (dims, np.exp(p["log_e_ref"])),
        "sigma": (dims, np.exp(post["log_sigma"].transpose(*dims).values)),
    }
    if "tau_point" in post:
        out["point_sd"] = (dims, curve_point_sd(post, data))
    if law.has_gap:
        out["gap_fraction"] = (dims, special.expit(p["logit_gap"]))
    if "log_alpha2" in law.extra:
        out["alpha_1"] = (dims, np.exp(p["log_alpha"]))
    if "log_break" in law.extra:
        out["n_break"] = (dims, np.exp(data.log_n_ref + p["log_break"]))
    return xr.Dataset(out, coords={"curve": data.curve_ids})


def pointwise_loglik(
    post: xr.Dataset, data: CurveData, law: ScalingLaw, likelihood: str
) -> np.ndarray:
    """Joint log density of the seeds of each ``(curve, n)`` point.

    Shape ``(chain, draw, point)``; the same for every likelihood, so LOO leaves out one
    point (all its seeds) and the ELPDs of all laws and likelihoods are comparable. Without
    shared point noise it is the per-seed density summed over the seeds; with it
    (``tau_point`` in ``post``) the Normal density of the seeds with covariance
    ``sigma^2 I + tau^2 11'``.
    """
    p = posterior_params(post, law)
    pc = data.point_curve
    mean = law.log_mean(data.point_x, {k: v[..., pc] for k, v in p.items()})
    sigma = np.exp(post["log_sigma"].transpose("chain", "draw", "curve").values)[..., pc]
    if likelihood == "normal":
        k = data.point_k.astype(float)
        if "tau_point" not in post:  # the per-seed Normal densities, summed
            return (
                -k * np.log(sigma)
                - 0.5 * k * _LOG_2PI
                - (k * (data.point_ybar - mean) ** 2 + data.point_ss) / (2.0 * sigma**2)
            )
        tau = curve_point_sd(post, data)[..., pc]
        v = sigma**2 + k * tau**2  # k * var(ybar)
        return (
            -(k - 1.0) * np.log(sigma)
            - 0.5 * np.log(v)
            - 0.5 * k * _LOG_2PI
            - data.point_ss / (2.0 * sigma**2)
            - k * (data.point_ybar - mean) ** 2 / (2.0 * v)
        )
    nu = post["nu"].transpose("chain", "draw").values[..., None]
    op = data.obs_point
    ll_obs = stats.t.logpdf(data.obs_y, nu, loc=mean[..., op], scale=sigma[..., op])
    order = np.argsort(op, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(op[order]) != 0])
    return np.add.reduceat(ll_obs[..., order], starts, axis=-1)


def posterior_with_derived(
    post: xr.Dataset, data: CurveData, law: ScalingLaw, centring: Mapping[str, np.ndarray]
) -> xr.Dataset:
    """Return the sampled variables with the curve parameters, group effects and derived.

    What a fit's posterior holds and its convergence report checks
    (:func:`~bayes_scaling.models.graph.latent_to_theta`, then :func:`derived`).
    """
    post = xr.merge([post, latent_to_theta(post, data, law.pooled, centring)])
    return xr.merge([post, derived(post, data, law)], compat="override")


def fit_report(
    trace: xr.DataTree, data: CurveData, law: ScalingLaw, centring: Mapping[str, np.ndarray]
) -> ConvergenceReport:
    """Convergence report of every variable the fit's posterior will hold.

    The sampled variables and :func:`posterior_with_derived`'s; the sampling policy's
    judge of whether a run needs to be longer
    (:func:`~bayes_scaling.models.sampling_policy.sample_with_fallback`).
    """
    post = posterior_with_derived(trace["posterior"].to_dataset(), data, law, centring)
    tree = xr.DataTree.from_dict(
        {"posterior": post, "sample_stats": trace["sample_stats"].to_dataset()}
    )
    return ConvergenceReport.from_idata(tree)


def assemble_idata(
    trace: xr.DataTree,
    data: CurveData,
    law: ScalingLaw,
    likelihood: str,
    centring: Mapping[str, np.ndarray],
    attrs: Mapping[str, Any],
) -> xr.DataTree:
    """Build the fit's DataTree from the sampler's trace (``centring``: its weights).

    ``attrs`` become the root attributes
    (:func:`~bayes_scaling.models.persistence.root_attrs`).
    """
    from bayes_scaling.models.persistence import table_to_dataset

    post = posterior_with_derived(trace["posterior"].to_dataset(), data, law, centring)
    point_coords = {
        "point": np.arange(data.n_points),
        "point_curve": ("point", np.array(data.curve_ids, dtype=object)[data.point_curve]),
        "point_n": ("point", data.point_n),
    }
    ll = pointwise_loglik(post, data, law, likelihood)
    log_lik = xr.Dataset(
        {"log_error": (("chain", "draw", "point"), ll)},
        coords={"chain": post["chain"].values, "draw": post["draw"].values, **point_coords},
    )
    observed = xr.Dataset({"log_error": ("point", data.point_ybar)}, coords=point_coords)
    constant = xr.Dataset(
        {
            "n": ("point", data.point_n),
            "n_seeds": ("point", data.point_k),
            "log_error_ss": ("point", data.point_ss),
            "log_n_centred": ("point", data.point_x),
        },
        coords=point_coords,
    )
    dt = xr.DataTree.from_dict(
        {
            "posterior": post,
            "sample_stats": trace["sample_stats"].to_dataset(),
            "log_likelihood": log_lik,
            "observed_data": observed,
            "constant_data": constant,
            "curves": table_to_dataset(data.table),
        }
    )
    dt.attrs.update(attrs)
    return dt
