"""Hierarchical Bayesian scaling-law model: :class:`ScalingLawModel`.

Model (per curve ``c``, point ``i`` = a distinct size ``n`` of that curve, seed ``s``)::

    log e_cis ~ Normal(m_c(n_i), sigma_c)            # e = error / target_scale
    m_c(n)     = law(log n - log n_ref; theta_c)       # see bayes_scaling.models.laws
    theta_c    ~ Normal(mu + sum_j effect_j[level_j(c)], tau_curve)
    effect_j   ~ ZeroSumNormal(tau_j)
    log sigma_c ~ Normal(mu_log_sigma, tau_log_sigma)

(``theta_c`` and ``effect_j`` are sampled partially centred, with weights chosen from a
per-curve least-squares fit; the ``centring`` setting changes only the sampler's
parameterisation, not the model.)
``theta_c = (log e_ref, logit gap fraction, log alpha)``; priors in
:mod:`bayes_scaling.models.priors`. With a single curve there is no pooling:
``theta_c`` gets the population prior directly.

Seed aggregation (default for the Normal likelihood)
    The seeds of a point are replaced by their mean ``ybar`` and within-point sum of squares
    ``ss``: ``ybar ~ Normal(m, sigma / sqrt(k))`` and ``ss ~ Gamma((k - 1) / 2,
    rate = 1 / (2 sigma^2))`` (in the sampled graph one ``pm.Potential`` of the same
    density, up to a constant). Both are sufficient statistics, so the posterior is
    *exactly* the one of the per-seed likelihood (tested), with ``k`` times fewer
    likelihood terms. The pointwise log-likelihood stored for LOO is the per-seed
    Normal log density summed over the seeds of each ``(curve, n)`` point, for every
    likelihood, so LOO leaves out one ``(curve, n)`` point (all its seeds) and the ELPDs of
    all laws/likelihoods are comparable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models._data import SS_FLOOR, CurveData, GroupSpec, prepare
from bayes_scaling.models._fitted import FittedState
from bayes_scaling.models.baseline import _fit_prepared
from bayes_scaling.models.diagnostics import ConvergenceReport
from bayes_scaling.models.laws import PYTENSOR_OPS, ScalingLaw, get_law
from bayes_scaling.models.posterior import CurvePosterior, Scale
from bayes_scaling.models.priors import Priors, sd_prior
from bayes_scaling.models.samplers import check_sampler, sample_model

Likelihood = Literal["normal", "studentt"]
Kind = Literal["mean", "observation"]
_LOG_2PI = math.log(2.0 * math.pi)
#: ``centring="auto"``: curve-level deviations are sampled non-centred when the curves leave
#: fewer residual degrees of freedom than this after the group effects (see
#: :func:`centring_weights`).
MIN_RESIDUAL_DOF: int = 3
#: ``target_accept="auto"``: sample at the first rate; after any divergence, sample again
#: (same compiled model, same seed) at the second.
AUTO_TARGET_ACCEPT: tuple[float, float] = (0.95, 0.99)
#: Default NUTS target acceptance rate (see :class:`ScalingLawModel`).
DEFAULT_TARGET_ACCEPT: float | str = "auto"


# ---------------------------------------------------------------------------- model graph
def build_pymc_model(
    data: CurveData,
    *,
    law: ScalingLaw,
    priors: Priors,
    likelihood: Likelihood = "normal",
    aggregate: bool = True,
    centring: Mapping[str, np.ndarray] | None = None,
    observed_rvs: bool = False,
) -> Any:
    """Build the PyMC model of prepared curve data (see the module docstring).

    Every data array is a ``pm.Data`` container, so a compiled model can be reused for new
    data of the same shape.

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
    sqrt k)``, ``ss ~ Gamma((k - 1) / 2, 1 / (2 sigma^2))``): same posterior, and the
    form :meth:`ScalingLawModel.sample_prior_predictive` draws from.
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
    ss_idx = data.ss_points
    if aggregate:
        if ss_idx.size and observed_rvs:
            coords["point_ss"] = ss_idx
    else:
        coords["obs"] = np.arange(data.obs_y.size)

    with pm.Model(coords=coords) as model:
        x = pm.Data("log_n_centred", data.point_x, dims="point")
        pc = pm.Data("point_curve", data.point_curve, dims="point")
        if data.n_curves == 1:
            theta = pm.Normal("theta", loc[None, :], scale[None, :], dims=("curve", "param"))
        else:
            mu = pm.Normal("mu", loc, scale, dims="param")
            lin = mu[None, :]
            for g in data.groups:
                idx = pm.Data(f"{g.column}_index", g.curve_index, dims="curve")
                log_tau = pt.log(_sd_rv(f"tau_{g.column}", priors.group_sd, priors))
                w = pm.Data(
                    f"centring_weight_{g.column}", weights.get(g.column, zeros_p), dims="param"
                )
                z = pm.ZeroSumNormal(
                    f"z_{g.column}", sigma=pt.exp(w * log_tau)[:, None], dims=("param", g.column)
                )
                lin = lin + (pt.exp((1.0 - w) * log_tau)[:, None] * z).T[idx]
            log_tau_c = pt.log(_sd_rv("tau_curve", priors.curve_sd, priors))[None, :]
            w = pm.Data(
                "centring_weight",
                weights.get("curve", np.zeros((data.n_curves, len(P)))),
                dims=("curve", "param"),
            )
            raw = pm.Normal("theta_raw", w * lin, pt.exp(w * log_tau_c), dims=("curve", "param"))
            theta = lin + pt.exp((1.0 - w) * log_tau_c) * (raw - w * lin)
        theta_pt = theta[pc]
        params = {p: theta_pt[:, j] for j, p in enumerate(P)}
        if "log_alpha2" in law.extra:
            la2 = pm.Normal(
                "log_alpha2",
                theta[:, P.index("log_alpha")],
                priors.delta_log_alpha_sd,
                dims="curve",
            )
            params["log_alpha2"] = la2[pc]
        if "log_break" in law.extra:
            lo, hi = data.x_range
            b_loc = pm.Data("break_loc", np.asarray(0.5 * (lo + hi)))
            b_scale = pm.Data(
                "break_scale", np.asarray(priors.log_break_sd_factor * max(0.5 * (hi - lo), 0.5))
            )
            lb = pm.Normal("log_break", b_loc, b_scale, dims="curve")
            params["log_break"] = lb[pc]

        if data.n_curves == 1:
            log_sigma = pm.Normal("log_sigma", *priors.log_sigma, dims="curve")
        else:
            mls = pm.Normal("mu_log_sigma", *priors.log_sigma)
            tls = pm.Gamma(
                "tau_log_sigma", alpha=priors.log_sigma_sd[0], beta=priors.log_sigma_sd[1]
            )
            log_sigma = pm.Normal("log_sigma", mls, tls, dims="curve")
        mean = law.log_mean(x, params, PYTENSOR_OPS)

        if aggregate and not observed_rvs:
            k = pm.Data("point_k", data.point_k.astype(float), dims="point")
            ybar = pm.Data("log_error_mean_data", data.point_ybar, dims="point")
            ss = pm.Data("log_error_ss_data", data.point_ss, dims="point")
            ls = log_sigma[pc]
            pm.Potential(
                "log_error_loglik",
                pt.sum(-k * ls - 0.5 * (k * pt.square(ybar - mean) + ss) * pt.exp(-2.0 * ls)),
            )
        elif aggregate:
            sigma = pt.exp(log_sigma)
            k = pm.Data("point_k", data.point_k.astype(float), dims="point")
            ybar = pm.Data("log_error_mean_data", data.point_ybar, dims="point")
            pm.Normal("log_error_mean", mean, sigma[pc] / pt.sqrt(k), observed=ybar, dims="point")
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


def _weight_data(centring: Mapping[str, np.ndarray], data: CurveData) -> dict[str, np.ndarray]:
    """Return the centring weights keyed by the model's data containers."""
    out = {"centring_weight": centring["curve"]} if data.n_curves > 1 else {}
    for g in data.groups:
        out[f"centring_weight_{g.column}"] = centring[g.column]
    return out


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
    lin = post["mu"].transpose("chain", "draw", "param").values[:, :, None, :]
    out: dict[str, Any] = {}
    for g in data.groups:
        w = np.asarray(centring.get(g.column, np.zeros(len(P))), dtype=float)
        tau = post[f"tau_{g.column}"].transpose("chain", "draw", "param").values
        z = post[f"z_{g.column}"].transpose("chain", "draw", g.column, "param").values
        effect = (tau ** (1.0 - w))[:, :, None, :] * z
        out[f"effect_{g.column}"] = (("chain", "draw", g.column, "param"), effect)
        lin = lin + effect[:, :, g.curve_index, :]
    w = np.asarray(centring.get("curve", np.zeros((data.n_curves, len(P)))), dtype=float)
    tau_c = post["tau_curve"].transpose("chain", "draw", "param").values[:, :, None, :]
    raw = post["theta_raw"].transpose("chain", "draw", "curve", "param").values
    out["theta"] = (("chain", "draw", "curve", "param"), lin + tau_c ** (1.0 - w) * (raw - w * lin))
    coords = {"curve": data.curve_ids, "param": P}
    for g in data.groups:
        coords[g.column] = g.levels
    return xr.Dataset(out, coords=coords)


def _paule_mandel(resid2: np.ndarray, var: np.ndarray, dof: float, upper: float) -> float:
    """Between-unit variance ``t`` solving ``sum resid^2 / (var + t) = dof`` (0 if none).

    The Paule-Mandel moment estimator of a random-effects variance with known, unequal
    sampling variances ``var``; bisection on ``[0, upper]``.
    """
    if dof <= 0 or resid2.size == 0:
        return 0.0

    def excess(t: float) -> float:
        return float(np.sum(resid2 / (var + t))) - dof

    if excess(0.0) <= 0.0:
        return 0.0
    if excess(upper) >= 0.0:
        return upper
    lo, hi = 0.0, upper
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0.0 else (lo, mid)
    return 0.5 * (lo + hi)


def centring_weights(
    theta: np.ndarray,
    se: np.ndarray,
    groups: Sequence[GroupSpec],
    *,
    max_sd: float,
    iterations: int = 25,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Partial-centring weights from per-curve estimates (empirical Bayes).

    Each parameter column of ``theta`` (curves x parameters, with standard errors ``se``)
    is decomposed into a population mean, additive group effects and a curve residual by
    precision-weighted backfitting; the curve-level and group-level variances are
    Paule-Mandel moment estimates (curves with huge ``se`` barely count). A curve's
    weight is ``tau^2 / (tau^2 + se^2)``: near 1 where its data pin the parameter down
    more tightly than the hierarchy does (centred), near 0 where they do not
    (non-centred). A grouping column's weight for a parameter is the mean over its levels
    of ``tau_g^2 / (tau_g^2 + v_l)``, ``v_l`` the sampling variance of the level's effect.
    When the group effects leave fewer than :data:`MIN_RESIDUAL_DOF` residual degrees of
    freedom, a curve's own deviation is not identified apart from its groups' (however
    precise the curve) and every curve weight is 0.

    Returns
    -------
    weights : dict
        ``"curve"``: ``(curve, param)`` array; each group column: ``(param,)`` array.
    tau_curve : numpy.ndarray
        Estimated curve-level standard deviation per parameter.

    """
    n, k = theta.shape
    var = se**2
    upper = max_sd**2
    tau_c2 = np.full(k, min(0.25, upper))
    tau_g2 = {g.column: np.full(k, min(0.25, upper)) for g in groups}
    effects = {g.column: np.zeros((len(g.levels), k)) for g in groups}
    level_var = {g.column: np.zeros((len(g.levels), k)) for g in groups}
    dof = n - 1 - sum(len(g.levels) - 1 for g in groups)
    for _ in range(iterations):
        omega = 1.0 / (var + tau_c2[None, :])
        total = sum((effects[g.column][g.curve_index] for g in groups), np.zeros_like(theta))
        mu = (omega * (theta - total)).sum(axis=0) / omega.sum(axis=0)
        for g in groups:
            others = total - effects[g.column][g.curve_index]
            r = theta - mu - others
            num = np.zeros((len(g.levels), k))
            den = np.zeros((len(g.levels), k))
            np.add.at(num, g.curve_index, omega * r)
            np.add.at(den, g.curve_index, omega)
            eff = num / den
            eff -= eff.mean(axis=0)
            level_var[g.column] = 1.0 / den
            total = others + eff[g.curve_index]
            effects[g.column] = eff
        resid = theta - mu - total
        for j in range(k):
            tau_c2[j] = _paule_mandel(resid[:, j] ** 2, var[:, j], max(dof, 0), upper)
            for g in groups:
                e, v = effects[g.column][:, j], level_var[g.column][:, j]
                tau_g2[g.column][j] = _paule_mandel(e**2, v, len(g.levels) - 1, upper)
    weights = {"curve": tau_c2[None, :] / (tau_c2[None, :] + var)}
    if dof < MIN_RESIDUAL_DOF:
        weights["curve"][:] = 0.0
    for g in groups:
        w = tau_g2[g.column][None, :] / (tau_g2[g.column][None, :] + level_var[g.column])
        weights[g.column] = w.mean(axis=0)
    return weights, np.sqrt(tau_c2)


def _sd_rv(name: str, scale: float, priors: Priors) -> Any:
    """Prior of a group/curve standard deviation (``Priors.sd_family``), dims ``param``."""
    import pymc as pm

    if priors.sd_family == "gamma":
        shape, rate = sd_prior(scale)
        return pm.Gamma(name, alpha=shape, beta=rate, dims="param")
    return pm.HalfNormal(name, scale, dims="param")


def _as_priors(priors: Priors | Mapping[str, Any] | None) -> Priors:
    if priors is None:
        return Priors()
    if isinstance(priors, Priors):
        return priors
    if isinstance(priors, Mapping):
        return Priors.from_dict(dict(priors))
    raise BayesScalingError(
        f"priors must be a Priors, a dict or None, got {type(priors).__name__}."
    )


def _plain(value: Any) -> Any:
    """NumPy scalars as Python numbers (so settings stay JSON-serialisable)."""
    return value.item() if isinstance(value, np.generic) else value


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return special.expit(v)


def _quantile_table(values: np.ndarray, prob: float) -> dict[str, np.ndarray]:
    """Mean, median and equal-tailed bounds over axis 0."""
    lo, hi = (1.0 - prob) / 2.0, 1.0 - (1.0 - prob) / 2.0
    q = np.quantile(values, [0.5, lo, hi], axis=0)
    return {"mean": values.mean(axis=0), "median": q[0], "lower": q[1], "upper": q[2]}


def _check_prob(prob: float) -> float:
    prob = float(prob)
    if not 0.0 < prob < 1.0:
        raise BayesScalingError(f"prob must be in (0, 1), got {prob}.")
    return prob


def _check_scale(scale: str) -> str:
    if scale not in ("normalised", "original"):
        raise BayesScalingError(f"scale must be 'normalised' or 'original', got {scale!r}.")
    return scale


# ---------------------------------------------------------------------------- estimator
class ScalingLawModel(FittedState):
    """Hierarchical Bayesian fit of ``error(n) = D n^-alpha + C`` to many learning curves.

    ``__init__`` only stores the settings (scikit-learn style); :meth:`fit` validates the
    curve table, builds the PyMC model, samples, and stores the results.

    Parameters
    ----------
    groups : sequence of str, optional
        Curve-level columns whose levels get partially pooled effects (crossed, additive).
        Default: ``property``, ``database`` and ``strategy`` where present. ``[]`` pools
        all curves around one population mean. Columns with a single level, or with one
        curve per level, are dropped (see ``dropped_groups_``).
    priors : Priors or dict, optional
        Prior hyper-parameters (:class:`~bayes_scaling.models.priors.Priors`).
    law : {"power_gap", "power", "broken_power"}
        Scaling law (see :mod:`bayes_scaling.models.laws`).
    likelihood : {"normal", "studentt"}
        Noise distribution of log error.
    aggregate : bool, optional
        Use per-point sufficient statistics instead of every seed (Normal only; the
        posterior is identical). Default: True for ``"normal"``, False for ``"studentt"``.
    sampler : {"nutpie", "pymc", "numpyro"}
        NUTS backend (:mod:`bayes_scaling.models.samplers`).
    draws, tune, chains : int
        Posterior draws per chain (1000), warm-up steps per chain (500: nutpie's mass-matrix
        adaptation needs far fewer than PyMC's 1000; its own default is 300), chains (4).
    cores : int, optional
        Parallel chains (default: ``min(chains, cpu count)``).
    init : {"least_squares", "default"}
        Start every chain's curve parameters at the per-curve least-squares fit, or use the
        sampler's default initialisation.
    centring : {"auto", "noncentred", "centred"}
        Parameterisation of the curve-level deviations and group effects (the posterior is
        the same, only the sampler's geometry changes). ``"auto"`` (default) partially
        centres each curve parameter with weight ``w = tau^2 / (tau^2 + se^2)``
        (Papaspiliopoulos et al. 2007) from the per-curve least-squares standard error
        ``se`` and a Paule-Mandel estimate of the between-curve spread ``tau``
        (:func:`centring_weights`), and each group effect likewise: centred where the data
        pin a parameter down (the error at ``n_ref``), non-centred where they do not (a
        flat curve's gap fraction, which least squares leaves at a bound: ``se = inf``).
        When the group effects leave fewer than :data:`MIN_RESIDUAL_DOF` residual degrees of
        freedom, a curve's own deviation is not identified apart from its groups' and the
        curve level is sampled non-centred. ``"noncentred"`` fixes every weight at 0,
        ``"centred"`` at 1.
    target_accept : float or "auto"
        NUTS target acceptance rate. ``"auto"`` (default, :data:`AUTO_TARGET_ACCEPT`):
        sample at 0.95; if that run has any divergent transition, sample again (same
        compiled model, same seed) at 0.99 and, when ``centring="auto"``, fully
        non-centred, the slowest but most robust setting; the convergence report says so
        (``convergence.note``; ``target_accept_`` and ``centring_used_`` hold what was
        kept). A number fixes the rate (one run, no fallback). On well-identified curves
        the first run is kept (about 13 s for 18 curves on 2 cores, benchmarks/README.md);
        flat or partly identified curves often take the fallback (about 3x longer).
    sampler_kwargs : dict, optional
        Other keyword arguments of the sampler (``target_accept`` here overrides the
        argument above).
    random_seed : int, optional
        Seed of sampling and predictions; the same seed gives identical results.
    check_convergence : bool
        Warn (:class:`~bayes_scaling.models.diagnostics.ConvergenceWarning`) after
        :meth:`fit` when diagnostics miss the thresholds.

    Examples
    --------
    >>> from bayes_scaling.simulate import draw_curve_params, simulate_curves
    >>> curves = simulate_curves(draw_curve_params(3, 2, rng=1), rng=1)
    >>> model = ScalingLawModel(draws=200, tune=200, chains=2, random_seed=1)
    >>> model = model.fit(curves)  # doctest: +SKIP
    >>> model.predict([1e5], scale="original")  # doctest: +SKIP

    """

    def __init__(
        self,
        groups: Sequence[str] | None = None,
        priors: Priors | Mapping[str, Any] | None = None,
        *,
        law: str = "power_gap",
        likelihood: Likelihood = "normal",
        aggregate: bool | None = None,
        sampler: str = "nutpie",
        draws: int = 1000,
        tune: int = 500,
        chains: int = 4,
        cores: int | None = None,
        init: Literal["least_squares", "default"] = "least_squares",
        centring: Literal["auto", "centred", "noncentred"] = "auto",
        target_accept: float | Literal["auto"] = DEFAULT_TARGET_ACCEPT,
        sampler_kwargs: Mapping[str, Any] | None = None,
        random_seed: int | None = None,
        check_convergence: bool = True,
    ) -> None:
        self.groups = groups
        self.priors = priors
        self.law = law
        self.likelihood = likelihood
        self.aggregate = aggregate
        self.sampler = sampler
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.cores = cores
        self.init = init
        self.centring = centring
        self.target_accept = target_accept
        self.sampler_kwargs = sampler_kwargs
        self.random_seed = random_seed
        self.check_convergence = check_convergence

    # ------------------------------------------------------------------ configuration
    _PARAM_NAMES = (
        "groups",
        "priors",
        "law",
        "likelihood",
        "aggregate",
        "sampler",
        "draws",
        "tune",
        "chains",
        "cores",
        "init",
        "centring",
        "target_accept",
        "sampler_kwargs",
        "random_seed",
        "check_convergence",
    )

    def get_params(self) -> dict[str, Any]:
        """Return the constructor settings (JSON-serialisable; priors as a dict)."""
        out = {name: _plain(getattr(self, name)) for name in self._PARAM_NAMES}
        out["priors"] = _as_priors(self.priors).to_dict()
        out["groups"] = (
            None
            if self.groups is None
            else [str(g) for g in ([self.groups] if isinstance(self.groups, str) else self.groups)]
        )
        out["sampler_kwargs"] = {
            str(k): _plain(v) for k, v in dict(self.sampler_kwargs or {}).items()
        }
        return out

    def __repr__(self) -> str:
        defaults = ScalingLawModel()
        changed = [
            f"{k}={getattr(self, k)!r}"
            for k in self._PARAM_NAMES
            if getattr(self, k) != getattr(defaults, k)
        ]
        return f"ScalingLawModel({', '.join(changed)})"

    def _resolved(self) -> tuple[ScalingLaw, Priors, str, bool]:
        law = get_law(self.law)
        priors = _as_priors(self.priors)
        try:  # checked before sampling: the settings are stored as JSON with the fit
            json.dumps(self.get_params())
        except TypeError as exc:
            raise BayesScalingError(
                f"Model settings must be JSON-serialisable to be saved with the fit ({exc}); "
                "check sampler_kwargs."
            ) from None
        if self.likelihood not in ("normal", "studentt"):
            raise BayesScalingError(
                f"likelihood must be 'normal' or 'studentt', got {self.likelihood!r}."
            )
        aggregate = (
            (self.likelihood == "normal") if self.aggregate is None else bool(self.aggregate)
        )
        if aggregate and self.likelihood != "normal":
            raise BayesScalingError(
                "aggregate=True needs likelihood='normal' (seed means and sums of squares are "
                "sufficient statistics only for the Normal); use aggregate=False."
            )
        if self.init not in ("least_squares", "default"):
            raise BayesScalingError(
                f"init must be 'least_squares' or 'default', got {self.init!r}."
            )
        if self.target_accept != "auto":
            try:
                ok = 0.5 <= float(self.target_accept) < 1.0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise BayesScalingError(
                    f"target_accept must be 'auto' or in [0.5, 1), got {self.target_accept!r}."
                )
        if self.centring not in ("auto", "centred", "noncentred"):
            raise BayesScalingError(
                f"centring must be 'auto', 'centred' or 'noncentred', got {self.centring!r}."
            )
        return law, priors, self.likelihood, aggregate

    # ------------------------------------------------------------------ building
    def prepare_data(self, curves: pd.DataFrame) -> CurveData:
        """Validate a curve table and return the model-ready arrays."""
        return prepare(curves, self.groups)

    def build_model(self, curves: pd.DataFrame | CurveData) -> Any:
        """Validate ``curves`` and return the PyMC model (no sampling)."""
        data = curves if isinstance(curves, CurveData) else self.prepare_data(curves)
        return self._build(data)[0]

    def _build(
        self, data: CurveData, *, observed_rvs: bool = False
    ) -> tuple[Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Return the PyMC model of ``data``, its centring weights and start values."""
        law, priors, likelihood, aggregate = self._resolved()
        centring, start = self._start(data, law, priors)
        model = build_pymc_model(
            data,
            law=law,
            priors=priors,
            likelihood=likelihood,
            aggregate=aggregate,
            centring=centring,
            observed_rvs=observed_rvs,
        )
        return model, centring, start

    def _cache_key(self, data: CurveData) -> tuple:
        law, priors, likelihood, aggregate = self._resolved()
        return (
            "ScalingLawModel",
            2,
            law.name,
            likelihood,
            aggregate,
            json.dumps(priors.to_dict(), sort_keys=True),
            data.structure_key(aggregate),
        )

    def _start(
        self, data: CurveData, law: ScalingLaw, priors: Priors, centring: str | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Centring weights (see :func:`build_pymc_model`) and least-squares start values.

        ``centring="auto"`` takes the weights from :func:`centring_weights` on the
        per-curve least-squares fit. ``centring`` overrides the setting.
        """
        P = list(law.pooled)
        centring = self.centring if centring is None else centring
        need_ls = self.init == "least_squares" or centring == "auto"
        fill = 0.0 if centring == "noncentred" else 1.0
        weights: dict[str, np.ndarray] = {"curve": np.full((data.n_curves, len(P)), fill)}
        for g in data.groups:
            weights[g.column] = np.full(len(P), fill)
        if not need_ls:
            return weights, {}
        base = law if law.name != "broken_power" else get_law("power_gap")
        ls = _fit_prepared(data, base)
        theta = np.column_stack([ls[p].to_numpy(dtype=float) for p in P])
        se = np.column_stack([ls[f"se_{p}"].to_numpy(dtype=float) for p in P])
        lims = {
            "log_e_ref": (-6.0, 4.0),
            "logit_gap": (-5.0, 5.0),
            "log_alpha": (math.log(0.02), math.log(4.0)),
        }
        for j, p in enumerate(P):
            theta[:, j] = np.clip(np.nan_to_num(theta[:, j], nan=0.0), *lims[p])
        se = np.clip(np.nan_to_num(se, nan=10.0, posinf=10.0), 1e-3, 10.0)
        log_sigma = np.log(np.clip(np.nan_to_num(ls["sigma"].to_numpy(), nan=0.1), 0.01, 1.0))
        if data.n_curves == 1:
            return weights, {"theta": theta, "log_sigma": log_sigma}

        auto, tau = centring_weights(theta, se, data.groups, max_sd=2.0 * priors.curve_sd)
        if centring == "auto":
            weights = auto
        tau = np.maximum(tau, 0.05)  # a start strictly inside the support
        w = weights["curve"]
        mu = theta.mean(axis=0)
        raw = w * mu + tau[None, :] ** (w - 1.0) * (theta - mu)
        init: dict[str, np.ndarray] = {
            "mu": mu,
            "tau_curve": tau,
            "theta_raw": raw,
            "log_sigma": log_sigma,
            "mu_log_sigma": np.asarray(log_sigma.mean()),
        }
        if "log_alpha2" in law.extra:
            init["log_alpha2"] = theta[:, P.index("log_alpha")]
        return weights, init

    # ------------------------------------------------------------------ fitting
    def fit(self, curves: pd.DataFrame) -> ScalingLawModel:
        """Fit the model to a curve table; returns ``self``.

        Raises
        ------
        CurveSchemaError
            The table breaks the curve schema.
        BayesScalingError
            Invalid settings (law, likelihood, sampler, groups, ...).

        """
        import pymc as pm

        law, priors, likelihood, _ = self._resolved()
        check_sampler(self.sampler)
        data = self.prepare_data(curves)
        model, centring, start = self._build(data)
        seed = self.random_seed
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        ss = np.random.SeedSequence(seed)
        sample_seed, predict_seed = ss.spawn(2)
        kwargs = dict(self.sampler_kwargs or {})
        attempts = self._attempts(kwargs)
        notes = []
        for i, (setting, rate) in enumerate(attempts):
            if setting != self.centring:  # the fallback: new weights, same compiled graph
                centring, start = self._start(data, law, priors, centring=setting)
                pm.set_data(_weight_data(centring, data), model=model)
            trace = sample_model(
                model,
                sampler=self.sampler,
                draws=self.draws,
                tune=self.tune,
                chains=self.chains,
                cores=self.cores,
                random_seed=sample_seed,
                initial_values=start if self.init == "least_squares" else None,
                cache_key=self._cache_key(data),
                sampler_kwargs={"target_accept": rate, **kwargs},
            )
            n_div = int(trace["sample_stats"]["diverging"].sum())
            if n_div == 0 or i == len(attempts) - 1:
                break
            nxt, nxt_rate = attempts[i + 1]
            how = f"at target_accept {nxt_rate:g}" + (
                f" with centring='{nxt}'" if nxt != setting else ""
            )
            notes.append(
                f"{n_div} divergent transitions at target_accept {rate:g} "
                f"(centring='{setting}'), so the fit was sampled again {how}"
            )
        self.centring_used_ = setting
        self.target_accept_ = rate
        self.data_ = data
        self.model_ = model
        self.random_seed_ = int(seed)
        self._predict_seed = int(predict_seed.generate_state(1)[0])
        self.idata_ = self._assemble(trace, data, law, likelihood, centring)
        self.idata_.attrs["target_accept_used"] = float(rate)
        self.idata_.attrs["centring_used"] = setting
        self.idata_.attrs["sampling_note"] = "; ".join(notes)
        self.convergence_ = ConvergenceReport.from_idata(self.idata_)
        if self.check_convergence:
            self.convergence_.warn(stacklevel=2)
        return self

    def _attempts(self, kwargs: dict[str, Any]) -> list[tuple[str, float]]:
        """Return the ``(centring, target_accept)`` settings :meth:`fit` tries, in order.

        Pops ``target_accept`` from ``kwargs`` (``sampler_kwargs`` overrides the argument).
        ``target_accept="auto"``: :data:`AUTO_TARGET_ACCEPT`, the second attempt (only after
        a divergence) non-centred when the first was ``"auto"``.
        """
        if "target_accept" in kwargs:
            return [(self.centring, float(kwargs.pop("target_accept")))]
        if self.target_accept != "auto":
            return [(self.centring, float(self.target_accept))]
        first, second = AUTO_TARGET_ACCEPT
        fallback = "noncentred" if self.centring == "auto" else self.centring
        return [(self.centring, first), (fallback, second)]

    # ------------------------------------------------------------------ post-processing
    def _posterior_params(self, post: xr.Dataset, law: ScalingLaw) -> dict[str, np.ndarray]:
        """Curve parameters as ``(chain, draw, curve)`` arrays."""
        theta = post["theta"].transpose("chain", "draw", "curve", "param").values
        params = {p: theta[..., j] for j, p in enumerate(law.pooled)}
        for extra in law.extra:
            params[extra] = post[extra].transpose("chain", "draw", "curve").values
        return params

    def _derived(self, post: xr.Dataset, data: CurveData, law: ScalingLaw) -> xr.Dataset:
        p = self._posterior_params(post, law)
        D, alpha, C = law.dac(p, data.log_n_ref)
        dims = ("chain", "draw", "curve")
        out = {
            "D": (dims, D),
            "alpha": (dims, alpha),
            "C": (dims, C),
            "e_ref": (dims, np.exp(p["log_e_ref"])),
            "sigma": (dims, np.exp(post["log_sigma"].transpose(*dims).values)),
        }
        if law.has_gap:
            out["gap_fraction"] = (dims, _sigmoid(p["logit_gap"]))
        if law.name == "broken_power":
            out["alpha_1"] = (dims, np.exp(p["log_alpha"]))
            out["n_break"] = (dims, np.exp(data.log_n_ref + p["log_break"]))
        return xr.Dataset(out, coords={"curve": data.curve_ids})

    def _pointwise_loglik(
        self, post: xr.Dataset, data: CurveData, law: ScalingLaw, likelihood: str
    ) -> np.ndarray:
        p = self._posterior_params(post, law)
        pc = data.point_curve
        mean = law.log_mean(data.point_x, {k: v[..., pc] for k, v in p.items()})
        sigma = np.exp(post["log_sigma"].transpose("chain", "draw", "curve").values)[..., pc]
        if likelihood == "normal":
            k = data.point_k.astype(float)
            return (
                -k * np.log(sigma)
                - 0.5 * k * _LOG_2PI
                - (k * (data.point_ybar - mean) ** 2 + data.point_ss) / (2.0 * sigma**2)
            )
        nu = post["nu"].transpose("chain", "draw").values[..., None]
        op = data.obs_point
        ll_obs = stats.t.logpdf(data.obs_y, nu, loc=mean[..., op], scale=sigma[..., op])
        order = np.argsort(op, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(op[order]) != 0])
        return np.add.reduceat(ll_obs[..., order], starts, axis=-1)

    def _assemble(
        self,
        trace: xr.DataTree,
        data: CurveData,
        law: ScalingLaw,
        likelihood: str,
        centring: Mapping[str, np.ndarray],
    ) -> xr.DataTree:
        post = trace["posterior"].to_dataset()
        post = xr.merge([post, latent_to_theta(post, data, law.pooled, centring)])
        post = xr.merge([post, self._derived(post, data, law)], compat="override")
        point_coords = {
            "point": np.arange(data.n_points),
            "point_curve": ("point", np.array(data.curve_ids, dtype=object)[data.point_curve]),
            "point_n": ("point", data.point_n),
        }
        ll = self._pointwise_loglik(post, data, law, likelihood)
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
        from bayes_scaling.models.persistence import table_to_dataset

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
        dt.attrs.update(self._root_attrs(data))
        return dt

    def _root_attrs(self, data: CurveData) -> dict[str, Any]:
        from bayes_scaling import __version__
        from bayes_scaling.curves import curves_hash
        from bayes_scaling.models.persistence import MODEL_KIND, SCHEMA_VERSION

        return {
            "bayes_scaling_model": MODEL_KIND,
            "bayes_scaling_schema_version": SCHEMA_VERSION,
            "bayes_scaling_version": __version__,
            "config": json.dumps(self.get_params(), sort_keys=True),
            "data_hash": curves_hash(data.table),
            "log_n_ref": float(data.log_n_ref),
            "groups_used": json.dumps([g.column for g in data.groups]),
            "dropped_groups": json.dumps(data.dropped_groups),
            "random_seed_used": int(self.random_seed_),
            "predict_seed": int(self._predict_seed),
        }

    # ------------------------------------------------------------------ fitted state
    @property
    def model(self) -> Any:
        """The PyMC model of the fitted data (rebuilt after :meth:`load`)."""
        self._check_fitted()
        if getattr(self, "model_", None) is None:
            self.model_ = self.build_model(self.data_)
        return self.model_

    @property
    def curves_(self) -> pd.DataFrame:
        """Curve metadata: one row per curve id with key columns, target scale, n range."""
        self._check_fitted()
        return self.data_.meta.copy()

    @property
    def groups_(self) -> list[str]:
        """Grouping columns that have effects in the fitted model."""
        self._check_fitted()
        return [g.column for g in self.data_.groups]

    @property
    def dropped_groups_(self) -> dict[str, str]:
        """Requested grouping columns that were dropped, with the reason."""
        self._check_fitted()
        return dict(self.data_.dropped_groups)

    @property
    def log_n_ref_(self) -> float:
        """Reference ``log n`` of the parameterisation."""
        self._check_fitted()
        return float(self.data_.log_n_ref)

    @property
    def n_ref_(self) -> float:
        """Reference sample size ``n_ref`` (where ``e_ref`` is the expected error)."""
        return float(np.exp(self.log_n_ref_))

    @property
    def curve_ids_(self) -> list[str]:
        """Fitted curve ids in model order."""
        self._check_fitted()
        return list(self.data_.curve_ids)

    def _flat(self, name: str) -> np.ndarray:
        """Posterior draws of a curve variable as ``(sample, curve)``."""
        da = self.idata_["posterior"][name].transpose("chain", "draw", "curve")
        v = da.values
        return v.reshape(-1, v.shape[-1])

    # ------------------------------------------------------------------ outputs
    def curve_posterior(self) -> CurvePosterior:
        """Return the :class:`CurvePosterior` (normalised D and C) for the decisions layer."""
        self._check_fitted()
        return CurvePosterior.from_arrays(
            self._flat("D"),
            self._flat("alpha"),
            self._flat("C"),
            self.curves_,
            sigma=self._flat("sigma"),
        )

    def loo(self, **kwargs: Any) -> Any:
        """PSIS-LOO of the fit (leave one ``(curve, n)`` point out), via ``arviz.loo``."""
        import arviz as az

        self._check_fitted()
        return az.loo(self.idata_, var_name="log_error", **kwargs)

    def gap_probability(
        self, threshold: float | Sequence[float] = 0.0, *, scale: Scale = "normalised"
    ) -> pd.DataFrame:
        """Posterior probability that the transfer gap ``C`` exceeds ``threshold``.

        Parameters
        ----------
        threshold : float or sequence of float
            Error level(s), on ``scale``.
        scale : {"normalised", "original"}
            Scale of ``threshold`` (original: the property's own units).

        Returns
        -------
        pandas.DataFrame
            Columns ``curve``, ``threshold``, ``scale``, ``prob`` (one row per curve and
            threshold), plus the posterior median of ``C`` on that scale.

        """
        self._check_fitted()
        _check_scale(scale)
        C = self._flat("C")
        ts = self.data_.meta["target_scale"].to_numpy()
        if scale == "original":
            C = C * ts[None, :]
        rows = []
        for t in np.atleast_1d(np.asarray(threshold, dtype=float)):
            probs = (C > t).mean(axis=0)
            for cid, pr, med in zip(self.data_.curve_ids, probs, np.median(C, axis=0), strict=True):
                rows.append(
                    {
                        "curve": cid,
                        "threshold": float(t),
                        "scale": scale,
                        "prob": float(pr),
                        "C_median": float(med),
                    }
                )
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ summary
    def summary(
        self,
        *,
        level: Literal["all", "curve", "group"] = "all",
        prob: float = CREDIBLE_INTERVAL,
    ) -> pd.DataFrame:
        """Tidy posterior summary per curve and per group.

        Parameters
        ----------
        level : {"all", "curve", "group"}
            Curve rows, group rows (a typical curve of each group level and the population
            mean), or both.
        prob : float
            Mass of the equal-tailed credible interval (default
            :data:`~bayes_scaling.constants.CREDIBLE_INTERVAL`).

        Returns
        -------
        pandas.DataFrame
            Columns ``level`` (curve, group, population), ``name`` (curve id or
            ``column=level``), ``group``, ``parameter``, ``scale`` (normalised, original, or
            none for scale-free parameters), ``mean``, ``sd``, ``median``, ``lower``,
            ``upper``, ``ci_prob``, ``ess_bulk``, ``ess_tail``, ``r_hat``.

        """
        self._check_fitted()
        prob = _check_prob(prob)
        if level not in ("all", "curve", "group"):
            raise BayesScalingError(f"level must be 'all', 'curve' or 'group', got {level!r}.")
        parts = []
        if level in ("all", "curve"):
            parts.append(self._curve_summary(prob))
        if level in ("all", "group"):
            parts.append(self._group_summary(prob))
        return pd.concat(parts, ignore_index=True)

    def _stats_rows(
        self,
        arrays: dict[tuple[str, str], np.ndarray],
        names: list[str],
        level: str,
        group: list[str],
        prob: float,
    ) -> list[dict[str, Any]]:
        import arviz as az

        ds = xr.Dataset(
            {f"{p}__{s}": (("chain", "draw", "entity"), v) for (p, s), v in arrays.items()},
        )
        ok = {k: float(np.nanstd(ds[k].values)) > 0 for k in ds.data_vars}
        live = ds[[k for k, v in ok.items() if v]]
        if len(live.data_vars):
            eb, et, rh = (az.ess(live, method="bulk"), az.ess(live, method="tail"), az.rhat(live))
        rows = []
        for (p, s), v in arrays.items():
            key = f"{p}__{s}"
            flat = v.reshape(-1, v.shape[-1])
            q = _quantile_table(flat, prob)
            sd = flat.std(axis=0, ddof=1)
            for i, name in enumerate(names):
                rows.append(
                    {
                        "level": level,
                        "name": name,
                        "group": group[i],
                        "parameter": p,
                        "scale": s,
                        "mean": q["mean"][i],
                        "sd": sd[i],
                        "median": q["median"][i],
                        "lower": q["lower"][i],
                        "upper": q["upper"][i],
                        "ci_prob": prob,
                        "ess_bulk": float(eb[key].values[i]) if ok[key] else np.nan,
                        "ess_tail": float(et[key].values[i]) if ok[key] else np.nan,
                        "r_hat": float(rh[key].values[i]) if ok[key] else np.nan,
                    }
                )
        return rows

    def _curve_summary(self, prob: float) -> pd.DataFrame:
        post = self.idata_["posterior"]
        law = get_law(self.law)
        ts = self.data_.meta["target_scale"].to_numpy()[None, None, :]

        def get(name: str) -> np.ndarray:
            return post[name].transpose("chain", "draw", "curve").values

        arrays: dict[tuple[str, str], np.ndarray] = {
            ("D", "normalised"): get("D"),
            ("alpha", "none"): get("alpha"),
        }
        if law.has_gap:
            arrays[("C", "normalised")] = get("C")
            arrays[("gap_fraction", "none")] = get("gap_fraction")
        arrays[("e_ref", "normalised")] = get("e_ref")
        arrays[("sigma", "none")] = get("sigma")
        if law.name == "broken_power":
            arrays[("alpha_1", "none")] = get("alpha_1")
            arrays[("n_break", "none")] = get("n_break")
        arrays[("D", "original")] = get("D") * ts
        if law.has_gap:
            arrays[("C", "original")] = get("C") * ts
        arrays[("e_ref", "original")] = get("e_ref") * ts
        ids = list(self.data_.curve_ids)
        return pd.DataFrame(self._stats_rows(arrays, ids, "curve", [""] * len(ids), prob))

    def _group_summary(self, prob: float) -> pd.DataFrame:
        post = self.idata_["posterior"]
        law = get_law(self.law)
        P = list(law.pooled)
        if "mu" in post:
            mu = post["mu"].transpose("chain", "draw", "param").values
        else:  # single curve: the curve is the population
            mu = post["theta"].transpose("chain", "draw", "curve", "param").values[:, :, 0, :]
        blocks = [mu[:, :, None, :]]
        names, group = ["population"], ["population"]
        for g in self.data_.groups:
            eff = post[f"effect_{g.column}"].transpose("chain", "draw", g.column, "param").values
            blocks.append(mu[:, :, None, :] + eff)
            names += [f"{g.column}={lvl}" for lvl in g.levels]
            group += [g.column] * len(g.levels)
        theta = np.concatenate(blocks, axis=2)  # chain, draw, entity, param
        p = {name: theta[..., j] for j, name in enumerate(P)}
        arrays: dict[tuple[str, str], np.ndarray] = {}
        base = get_law("power_gap" if law.has_gap else "power")
        D, alpha, C = base.dac(p, self.data_.log_n_ref)
        alpha_name = "alpha_1" if law.name == "broken_power" else "alpha"
        if law.name != "broken_power":
            arrays[("D", "normalised")] = D
        arrays[(alpha_name, "none")] = alpha
        if law.has_gap:
            arrays[("C", "normalised")] = C
            arrays[("gap_fraction", "none")] = _sigmoid(p["logit_gap"])
        arrays[("e_ref", "normalised")] = np.exp(p["log_e_ref"])
        rows = self._stats_rows(arrays, names, "group", group, prob)
        for r in rows:
            if r["name"] == "population":
                r["level"] = "population"
                r["group"] = ""
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ prediction
    def _new_curve_params(
        self, new: pd.DataFrame, rng: np.random.Generator
    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], np.ndarray]:
        """Population-predictive draws ``(sample, new curve)`` for curves not in the fit."""
        post = self.idata_["posterior"]
        law = get_law(self.law)
        P = list(law.pooled)
        priors = _as_priors(self.priors)
        S = post.sizes["chain"] * post.sizes["draw"]
        m = len(new)

        def flat(name: str, *dims: str) -> np.ndarray:
            v = post[name].transpose("chain", "draw", *dims).values
            return v.reshape((S,) + v.shape[2:])

        if "mu" in post:
            theta = np.repeat(flat("mu", "param")[:, None, :], m, axis=1)
            tau_c = flat("tau_curve", "param")
            for g in self.data_.groups:
                eff = flat(f"effect_{g.column}", g.column, "param")
                tau_g = flat(f"tau_{g.column}", "param")
                values = (
                    new[g.column].map(lambda v: "full" if pd.isna(v) else str(v)).tolist()
                    if g.column in new
                    else [None] * m
                )
                if g.column == "m" and g.column in new:
                    values = ["full" if pd.isna(v) else str(int(v)) for v in new[g.column].tolist()]
                for i, v in enumerate(values):
                    if v in g.levels:
                        theta[:, i, :] += eff[:, g.levels.index(v), :]
                    else:  # unseen or unknown level: a new group effect
                        theta[:, i, :] += tau_g * rng.standard_normal((S, len(P)))
            theta += tau_c[:, None, :] * rng.standard_normal((S, m, len(P)))
            log_sigma = flat("mu_log_sigma")[:, None] + flat("tau_log_sigma")[:, None] * (
                rng.standard_normal((S, m))
            )
        else:  # single-curve fit: curve-to-curve spread comes from its prior
            theta = np.repeat(flat("theta", "curve", "param")[:, :1, :], m, axis=1)
            if priors.sd_family == "gamma":
                shape, rate = sd_prior(priors.curve_sd)
                tau_c = rng.gamma(shape, 1.0 / rate, (S, 1, len(P)))
            else:
                tau_c = np.abs(priors.curve_sd * rng.standard_normal((S, 1, len(P))))
            theta += tau_c * rng.standard_normal((S, m, len(P)))
            log_sigma = np.repeat(flat("log_sigma", "curve")[:, :1], m, axis=1)
        params = {p: theta[..., j] for j, p in enumerate(P)}
        if "log_alpha2" in law.extra:
            params["log_alpha2"] = params["log_alpha"] + priors.delta_log_alpha_sd * (
                rng.standard_normal((S, m))
            )
        if "log_break" in law.extra:
            lo, hi = self.data_.x_range
            params["log_break"] = 0.5 * (lo + hi) + priors.log_break_sd_factor * max(
                0.5 * (hi - lo), 0.5
            ) * rng.standard_normal((S, m))
        ids = self._new_ids(new)
        return params, np.exp(log_sigma), ids, self._new_scales(new)

    def _new_ids(self, new: pd.DataFrame) -> list[str]:
        from bayes_scaling.curves import curve_ids

        if "curve" in new:
            return [str(v) for v in new["curve"]]
        ids = curve_ids(new).tolist() if len(new) else []
        if not ids or any(i == "" for i in ids) or len(set(ids)) != len(ids):
            ids = [f"new_{i}" for i in range(len(new))]
        return [f"new:{i}" if not i.startswith("new") else i for i in ids]

    def _new_scales(self, new: pd.DataFrame) -> np.ndarray:
        if "target_scale" in new:
            return new["target_scale"].to_numpy(dtype=float)
        meta = self.data_.meta
        out = []
        for _, row in new.iterrows():
            if "property" in new and "property" in meta:
                same = meta.loc[meta["property"] == row["property"], "target_scale"]
                out.append(float(same.median()) if len(same) else np.nan)
            else:
                out.append(np.nan)
        return np.array(out, dtype=float)

    def predict(
        self,
        n: float | Sequence[float] | np.ndarray,
        curves: str | Sequence[str] | pd.DataFrame | None = None,
        *,
        scale: Scale = "normalised",
        kind: Kind = "mean",
        prob: float = CREDIBLE_INTERVAL,
        return_draws: bool = False,
        random_seed: int | None = None,
    ) -> pd.DataFrame | xr.DataArray:
        """Posterior predictive error at sizes ``n``.

        Parameters
        ----------
        n : float or array-like
            Sample sizes (> 0), inside or beyond the observed range (extrapolation).
        curves : str, sequence of str, DataFrame or None
            Fitted curve ids (default: all fitted curves), or a table of **new** curves with
            grouping columns (and optionally ``target_scale``, key columns or ``curve``):
            population predictive for a new curve of known groups; an unseen or missing
            group level draws a new group effect.
        scale : {"normalised", "original"}
            ``error / target_scale`` or the property's own units (``target_scale`` of a new
            curve defaults to the median over fitted curves of the same property).
        kind : {"mean", "observation"}
            ``"mean"``: the law's value ``D n^-alpha + C`` (the median error over seeds);
            ``"observation"``: the error of one new seed (adds the log-scale noise).
        prob : float
            Credible-interval mass (default :data:`CREDIBLE_INTERVAL`).
        return_draws : bool
            Return the draws as an ``xarray.DataArray`` with dims ``(sample, curve, n)``
            instead of the summary table.
        random_seed : int, optional
            Seed of the noise / population draws (default: derived from the fit's seed).

        Returns
        -------
        pandas.DataFrame
            Columns ``curve``, ``n``, ``scale``, ``kind``, ``mean``, ``median``, ``lower``,
            ``upper``, ``ci_prob``; or the draws (see ``return_draws``).

        """
        self._check_fitted()
        _check_scale(scale)
        prob = _check_prob(prob)
        if kind not in ("mean", "observation"):
            raise BayesScalingError(f"kind must be 'mean' or 'observation', got {kind!r}.")
        n_arr = np.atleast_1d(np.asarray(n, dtype=float))
        if n_arr.ndim != 1 or np.any(~np.isfinite(n_arr)) or np.any(n_arr <= 0):
            raise BayesScalingError("n must be a 1-D array of finite sizes > 0.")
        rng = np.random.default_rng(self._predict_seed if random_seed is None else random_seed)
        law = get_law(self.law)
        if isinstance(curves, pd.DataFrame):
            params, sigma, ids, scales = self._new_curve_params(curves, rng)
            if scale == "original" and np.any(~np.isfinite(scales)):
                raise BayesScalingError(
                    "scale='original' for new curves needs a 'target_scale' column (or a "
                    "property seen in the fit)."
                )
        else:
            ids = self._resolve_curves(curves)
            pos = [self.data_.curve_ids.index(c) for c in ids]
            post = self.idata_["posterior"]
            p_all = self._posterior_params(post.to_dataset(), law)
            params = {k: v.reshape(-1, v.shape[-1])[:, pos] for k, v in p_all.items()}
            sigma = self._flat("sigma")[:, pos]
            scales = self.data_.meta["target_scale"].to_numpy()[pos]
        x = np.log(n_arr) - self.data_.log_n_ref
        log_mean = law.log_mean(x[None, None, :], {k: v[..., None] for k, v in params.items()})
        if kind == "observation":
            log_mean = log_mean + sigma[..., None] * self._noise(rng, log_mean.shape)
        draws = np.exp(log_mean)
        if scale == "original":
            draws = draws * scales[None, :, None]
        if return_draws:
            return xr.DataArray(
                draws,
                dims=("sample", "curve", "n"),
                coords={"sample": np.arange(draws.shape[0]), "curve": ids, "n": n_arr},
                name="error",
                attrs={"scale": scale, "kind": kind},
            )
        q = _quantile_table(draws, prob)
        C, N = len(ids), len(n_arr)
        return pd.DataFrame(
            {
                "curve": np.repeat(ids, N),
                "n": np.tile(n_arr, C),
                "scale": scale,
                "kind": kind,
                "mean": q["mean"].ravel(),
                "median": q["median"].ravel(),
                "lower": q["lower"].ravel(),
                "upper": q["upper"].ravel(),
                "ci_prob": prob,
            }
        )

    def _noise(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        if self.likelihood == "studentt":
            nu = self.idata_["posterior"]["nu"].values.reshape(-1)
            return rng.standard_t(nu[:, None, None], size=shape)
        return rng.standard_normal(shape)

    def _resolve_curves(self, curves: str | Sequence[str] | None) -> list[str]:
        known = self.data_.curve_ids
        if curves is None:
            return list(known)
        if isinstance(curves, str):
            curves = [curves]
        out = list(curves)
        for c in out:
            if c not in known:
                raise UnknownNameError(
                    f"Unknown curve {c!r}; known curves: {', '.join(known)}. Pass a DataFrame "
                    "of group columns to predict a new curve."
                )
        return out

    # ------------------------------------------------------------------ prior predictive
    def sample_prior_predictive(
        self, curves: pd.DataFrame, *, draws: int = 500, random_seed: int | None = None
    ) -> xr.DataTree:
        """Draw from the prior and prior predictive on the sizes of ``curves``.

        Returns
        -------
        xarray.DataTree
            Groups ``prior`` (including ``D``, ``alpha``, ``C``, ``e_ref``, ``sigma`` per
            curve) and ``prior_predictive`` (the observed variables, log normalised error),
            plus ``observed_data``.

        """
        import pymc as pm

        law = self._resolved()[0]
        data = self.prepare_data(curves)
        model, centring, _ = self._build(data, observed_rvs=True)
        seed = self.random_seed if random_seed is None else random_seed
        with model:
            dt = pm.sample_prior_predictive(draws=draws, random_seed=seed)
        prior = dt["prior"].to_dataset()
        prior = xr.merge([prior, latent_to_theta(prior, data, law.pooled, centring)])
        prior = xr.merge([prior, self._derived(prior, data, law)], compat="override")
        out = {"prior": prior, "prior_predictive": dt["prior_predictive"].to_dataset()}
        if "observed_data" in dt.children:
            out["observed_data"] = dt["observed_data"].to_dataset()
        return xr.DataTree.from_dict(out)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Any) -> Any:
        """Save the fit as one netCDF file (see :mod:`bayes_scaling.models.persistence`)."""
        from bayes_scaling.models.persistence import save_model

        self._check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Any) -> ScalingLawModel:
        """Load a model saved with :meth:`save`.

        Raises
        ------
        ModelFileError
            Missing, corrupt or foreign file, unsupported schema version, or a training-data
            hash mismatch.

        """
        from bayes_scaling.models.persistence import load_model

        return load_model(path, cls)
