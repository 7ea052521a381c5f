"""How the hierarchical model is sampled: start values, settings to try, fallback refit.

The sampling policy, apart from the graph (:mod:`bayes_scaling.models.graph`) and the NUTS
backends (:mod:`bayes_scaling.models.samplers`):

:func:`start_values`
    Centring weights of the parameterisation and each chain's start, both from the
    per-curve least-squares fit and its empirical-Bayes decomposition into a population
    mean, group effects and curve deviations (:mod:`bayes_scaling.models.centring`;
    :func:`hierarchy_start`).
:func:`attempts`
    The ``target_accept`` rates to try, in order (``target_accept="auto"``:
    :data:`AUTO_TARGET_ACCEPT`).
:func:`sample_with_fallback`
    Sample at the first rate; after any divergence, sample again at the next one (same
    compiled model, same seed, same centring weights), and say why in a note. With
    ``extend``, a run without divergences whose sampled parameters miss the R-hat or ESS
    thresholds is sampled once more with :func:`extend_factor` times the draws and tuning
    steps, 2 to 6 times by how far it missed (a slowly mixing direction needs longer
    chains, not a smaller step). A run that still diverges at the last rate of the plan is
    sampled through the plan again fully non-centred (:class:`Reparameterised`), where the
    fit offers that parameterisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from bayes_scaling.models._data import CurveData
from bayes_scaling.models.baseline import _fit_prepared
from bayes_scaling.models.centring import EmpiricalBayes, empirical_bayes
from bayes_scaling.models.diagnostics import ConvergenceReport, chain_logp
from bayes_scaling.models.graph import is_pooled, zero_sum_basis
from bayes_scaling.models.laws import ScalingLaw
from bayes_scaling.models.priors import Priors
from bayes_scaling.models.samplers import sample_model

#: ``target_accept="auto"``: sample at the first rate; after any divergence, sample again
#: (same compiled model, same seed) at the second.
AUTO_TARGET_ACCEPT: tuple[float, float] = (0.95, 0.99)
#: Default NUTS target acceptance rate (see :class:`ScalingLawModel`).
DEFAULT_TARGET_ACCEPT: float | str = "auto"
#: Bounds of the least-squares curve parameters used as the sampler's start (inside the
#: priors' bulk: a curve whose data leave a parameter unidentified sits at the bound).
START_LIMITS: dict[str, tuple[float, float]] = {
    "log_e_ref": (-6.0, 4.0),
    "logit_gap": (-5.0, 5.0),
    "log_alpha": (math.log(0.02), math.log(4.0)),
}
#: ``extend``: the longer run's draws and tuning steps are at least this multiple of the
#: first run's ...
EXTEND_FACTOR: int = 2
#: ... and at most this one (:func:`extend_factor`).
MAX_EXTEND_FACTOR: int = 6
#: :func:`extend_factor`: the safety margin on the draws the shortfall asks for.
EXTEND_MARGIN: float = 1.5


def extend_factor(report: ConvergenceReport) -> int:
    """How many times the draws and tuning steps a longer run takes, from a run's shortfall.

    ESS grows about in proportion to the draws and ``R-hat - 1`` shrinks about in
    inverse proportion, so the run needs ``max(min_ess / worst ESS, (R-hat - 1) / (max_rhat
    - 1))`` times its draws; :data:`EXTEND_MARGIN` times that, rounded up, between
    :data:`EXTEND_FACTOR` and :data:`MAX_EXTEND_FACTOR`. (With a fixed factor of 2, the 130
    bundled scarce curves, whose MAFA density exponent mixes slowly, missed R-hat after the
    longer run at every seed tried; they converge with about 6,000 draws per chain;
    benchmarks/README.md, stop 23.)
    """
    ess = min(report.min_ess_bulk, report.min_ess_tail)
    need_ess = report.min_ess / ess if np.isfinite(ess) and ess > 0 else math.inf
    rhat = report.worst_rhat
    need_rhat = (rhat - 1.0) / (report.max_rhat - 1.0) if np.isfinite(rhat) else math.inf
    need = EXTEND_MARGIN * max(need_ess, need_rhat, 1.0)
    if not np.isfinite(need):
        return MAX_EXTEND_FACTOR
    return int(min(MAX_EXTEND_FACTOR, max(EXTEND_FACTOR, math.ceil(need))))


def start_values(
    data: CurveData,
    law: ScalingLaw,
    priors: Priors,
    *,
    centring: str,
    init: str,
    point_noise: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Centring weights (see :func:`~bayes_scaling.models.graph.build_pymc_model`) and start.

    ``centring="auto"`` takes the weights from
    :func:`~bayes_scaling.models.centring.centring_weights` on the per-curve least-squares
    fit; ``"noncentred"`` fixes every weight at 0, ``"centred"`` at 1. The start values
    (the least-squares fit, clipped inside the priors' support) are computed when
    ``init="least_squares"`` or ``centring="auto"``; otherwise the second item is empty.

    With ``point_noise`` the least-squares standard errors, which treat every seed as an
    independent observation, are widened by :func:`point_noise_factor` (how much more the
    curve's point means scatter than their seeds say), so the weights follow the
    precision the model with the shared point noise gives the curve.
    """
    P = list(law.pooled)
    need_ls = init == "least_squares" or centring == "auto"
    fill = 0.0 if centring == "noncentred" else 1.0
    weights: dict[str, np.ndarray] = {"curve": np.full((data.n_curves, len(P)), fill)}
    for g in data.groups:
        weights[g.column] = np.full(len(P), fill)
    if not need_ls:
        return weights, {}
    # the law's own least squares: an asymptotic law's alpha is its large-n exponent, whose
    # precision (and so its centring weight) differs from the power law's alpha
    ls = _fit_prepared(data, law)
    theta = np.column_stack([ls[p].to_numpy(dtype=float) for p in P])
    se = np.column_stack([ls[f"se_{p}"].to_numpy(dtype=float) for p in P])
    for j, p in enumerate(P):
        theta[:, j] = np.clip(np.nan_to_num(theta[:, j], nan=0.0), *START_LIMITS[p])
    if point_noise:
        se = se * point_noise_factor(data, law, ls)[:, None]
    se = np.clip(np.nan_to_num(se, nan=10.0, posinf=10.0), 1e-3, 10.0)
    log_sigma = np.log(np.clip(np.nan_to_num(ls["sigma"].to_numpy(), nan=0.1), 0.01, 1.0))
    if data.n_curves == 1:
        return weights, {"theta": theta, "log_sigma": log_sigma}

    eb = empirical_bayes(
        theta, se, data.groups, max_sd=2.0 * priors.curve_sd,
        prior_sd=priors.spread(priors.curve_sd, P), covariate=data.curve_log_m,
    )  # fmt: skip
    if centring == "auto":
        weights = eb.weights
    start = hierarchy_start(data, eb, weights, theta)
    start["log_sigma"] = log_sigma
    start["mu_log_sigma"] = np.asarray(log_sigma.mean())
    if "log_alpha2" in law.extra:
        start["log_alpha2"] = np.clip(
            np.nan_to_num(ls["log_alpha2"].to_numpy(dtype=float), nan=0.0),
            *START_LIMITS["log_alpha"],
        )
    if "log_break" in law.extra:
        start["log_break"] = np.clip(
            np.nan_to_num(ls["log_break"].to_numpy(dtype=float), nan=0.0), *data.curve_x_range
        )
    return weights, start


#: Smallest start value of a spread (a start strictly inside the support).
MIN_START_SD: float = 0.05


def hierarchy_start(
    data: CurveData, eb: EmpiricalBayes, weights: Mapping[str, np.ndarray], theta: np.ndarray
) -> dict[str, np.ndarray]:
    """Start values of the hierarchy's sampled variables from the empirical-Bayes fit.

    The population mean ``mu``, every grouping column's effects (as the graph's zero-sum
    contrasts ``z_<column>``, scaled by the centring weight) and spread ``tau_<column>``,
    the ``m`` slope, ``tau_curve`` and the curve deviations ``theta_raw`` such that the
    start's curve parameters are the least-squares ``theta`` and its group effects the
    moment estimates (:func:`~bayes_scaling.models.centring.empirical_bayes`). Every chain
    starts there (nutpie jitters only what is not given). Started at random, the group
    effects sent chains into separate modes: on the 130 bundled scarce curves two chains
    settled about 35 units of log density below the other two, with the nearly log-linear
    frozen band-gap curves explained by a gap instead of a tiny exponent (R-hat 1.74,
    issue 15).
    """
    lin = np.broadcast_to(eb.mu[None, :], theta.shape).copy()
    start: dict[str, np.ndarray] = {"mu": eb.mu}
    for g in data.groups:
        effects = eb.effects[g.column]  # (level, param)
        basis = zero_sum_basis(len(g.levels))
        if is_pooled(g):
            tau = np.maximum(eb.tau_group[g.column], MIN_START_SD)
            w = np.asarray(weights.get(g.column, np.zeros(len(tau))), dtype=float)
            levels = effects.T / tau[:, None] ** (1.0 - w[:, None])  # (param, level)
            start[f"tau_{g.column}"] = tau
        else:  # fixed effects: the contrasts are the effects themselves
            levels = effects.T
        start[f"z_{g.column}"] = levels @ basis  # (param, contrast)
        lin += g.take(effects, 0)
    if data.has_m_slope:
        start["m_slope"] = eb.slope
        lin += data.curve_log_m[:, None] * eb.slope[None, :]
    tau = np.maximum(eb.tau_curve, MIN_START_SD)
    w = weights["curve"]
    start["tau_curve"] = tau
    start["theta_raw"] = w * lin + tau[None, :] ** (w - 1.0) * (theta - lin)
    return start


def point_noise_factor(data: CurveData, law: ScalingLaw, ls: Any) -> np.ndarray:
    """Per curve, ``sqrt(var of point means about the fit / (sigma^2 / k))``, at least 1.

    ``ls`` is the per-seed least-squares fit (:func:`~bayes_scaling.models.baseline.
    _fit_prepared`): its residual sd ``sigma`` and parameters. The point means' residual
    variance is corrected for the law's degrees of freedom; ``k`` is each curve's mean
    number of seeds per point. 1 where the means scatter no more than their seeds say.
    """
    names = list(law.params)
    out = np.ones(data.n_curves)
    for c in range(data.n_curves):
        sel = data.point_curve == c
        n_pts = int(sel.sum())
        if n_pts <= len(names):
            continue
        p = {name: np.asarray(float(ls[name].iloc[c])) for name in names}
        resid = data.point_ybar[sel] - law.log_mean(data.point_x[sel], p)
        var_means = float(np.sum(resid**2)) / (n_pts - len(names))
        nominal = float(ls["sigma"].iloc[c]) ** 2 / float(np.mean(data.point_k[sel]))
        if np.isfinite(var_means) and nominal > 0:
            out[c] = math.sqrt(max(1.0, var_means / nominal))
    return out


def attempts(target_accept: float | str, kwargs: dict[str, Any]) -> list[float]:
    """Return the ``target_accept`` rates to try, in order.

    Pops ``target_accept`` from ``kwargs`` (the sampler keyword arguments override the
    argument): a fixed rate is one attempt. ``target_accept="auto"``:
    :data:`AUTO_TARGET_ACCEPT`, the second attempt only after a divergence, with the same
    centring. (It used to be fully non-centred; with the data pinning a parameter down,
    such as the error at ``n_ref`` or a clean curve's decay rate, that is a thin ridge:
    three pooled curves mixed with bulk ESS ~30, issue 15.)
    """
    if "target_accept" in kwargs:
        return [float(kwargs.pop("target_accept"))]
    if target_accept != "auto":
        return [float(target_accept)]
    return list(AUTO_TARGET_ACCEPT)


class SampledFit(NamedTuple):
    """What :func:`sample_with_fallback` kept: the last run and its acceptance rate.

    ``report``: the convergence report the policy's judge computed on ``trace``, if it
    computed one on it (to pass on as ``ConvergenceReport.from_idata(..., known=report)``).
    ``reparameterised``: the :class:`Reparameterised` model ``trace`` was sampled from, or
    ``None`` when it is the model the policy was given.
    """

    trace: xr.DataTree
    target_accept: float
    notes: list[str]
    report: ConvergenceReport | None = None
    reparameterised: Reparameterised | None = None


class Reparameterised(NamedTuple):
    """The same model in another parameterisation, for :func:`sample_with_fallback`.

    Its last attempt samples it: the PyMC model (same structure, so the compiled model is
    reused), start values, the judge of its runs, its name for the notes and what the fit
    needs to read its draws (``weights``: the centring weights).
    """

    model: Any
    initial_values: Mapping[str, np.ndarray] | None
    judge: Callable[[xr.DataTree], ConvergenceReport] | None
    name: str
    weights: Any = None


def sample_with_fallback(
    model: Any,
    *,
    centring: str,
    target_accept: float | str,
    initial_values: Mapping[str, np.ndarray] | None,
    sampler: str,
    draws: int,
    tune: int,
    chains: int,
    cores: int | None,
    random_seed: Any,
    cache_key: Hashable,
    sampler_kwargs: Mapping[str, Any] | None,
    extend: bool = False,
    judge: Callable[[xr.DataTree], ConvergenceReport] | None = None,
    last_resort: Callable[[], Reparameterised | None] | None = None,
) -> SampledFit:
    """Sample ``model`` at the rates of :func:`attempts`; keep the last run.

    The next attempt (same compiled model, same seed, same centring weights: ``centring``
    only names them in the notes) runs only after a divergence; each fallback adds a note
    saying why. With ``extend``, a kept run without divergences whose sampled parameters
    miss the thresholds of :class:`~bayes_scaling.models.diagnostics.ConvergenceReport`
    (R-hat, bulk and tail ESS) is sampled again, same rate and seed, with
    :func:`extend_factor` times ``draws`` and ``tune`` (2 to 6, by how far it missed); a
    note says so. A run with divergences is not extended: longer chains do not remove them;
    a longer run with divergences is sampled again at the next rate of the plan, if there
    is one. A run whose chains sit in separate regions of the posterior (the report's
    ``separated_chains``: a chain that warmed up into a minor mode, far lower log density)
    is sampled again once, every chain starting from the best chain's last draw
    (:func:`best_chain_draw`; a longer run then starts there too); if the chains still
    separate, there is no longer run (longer chains stay where they are). ``judge``
    computes the report that decides (default: the report of the trace's sampled variables); the fit
    passes one that also checks the curve parameters, group effects and derived quantities
    computed from them, so a run is extended when any variable of the final report misses.
    ``last_resort`` (with more than one rate in the plan): when a run still has divergences
    at the plan's last rate, the model it returns (the fit's: fully non-centred, where a
    weakly identified spread makes a funnel of the partly centred curves; issue 15) is
    sampled through the plan again, same seed, and its judge and start then apply
    (``None``: no such model). The policy then goes on as for any run (a longer run, a
    restart).
    """
    kwargs = dict(sampler_kwargs or {})
    plan = attempts(target_accept, kwargs)
    notes = []

    def run(
        rate: float, factor: int = 1, start: Mapping[str, np.ndarray] | None = None
    ) -> xr.DataTree:
        return sample_model(
            model,
            sampler=sampler,
            draws=factor * draws,
            tune=factor * tune,
            chains=chains,
            cores=cores,
            random_seed=random_seed,
            initial_values=initial_values if start is None else start,
            cache_key=cache_key,
            sampler_kwargs={"target_accept": rate, **kwargs},
        )

    def through_plan() -> tuple[xr.DataTree, float, int]:
        """Sample at each rate of the plan until a run has no divergence."""
        for i, rate in enumerate(plan):
            trace = run(rate)
            n_div = int(trace["sample_stats"]["diverging"].sum())
            if n_div == 0 or i == len(plan) - 1:
                break
            notes.append(
                f"{n_div} divergent transitions at target_accept {rate:g} "
                f"(centring='{centring}'), so the fit was sampled again at target_accept "
                f"{plan[i + 1]:g}"
            )
        return trace, rate, n_div

    trace, rate, n_div = through_plan()
    other = last_resort() if n_div and len(plan) > 1 and last_resort is not None else None
    if other is not None:  # the same plan and seed, another parameterisation
        notes.append(
            f"{n_div} divergent transitions at target_accept {rate:g} "
            f"(centring='{centring}'), so the fit was sampled again with "
            f"centring='{other.name}', from target_accept {plan[0]:g}"
        )
        model, initial_values, judge, centring = (
            other.model,
            other.initial_values,
            other.judge,
            other.name,
        )
        trace, rate, n_div = through_plan()
    report, restart = None, None
    if extend and int(trace["sample_stats"]["diverging"].sum()) == 0:
        check = judge or ConvergenceReport.from_idata
        report = check(trace)
        if report.separated_chains:  # a chain in a minor mode: restart all from the best
            notes.append(
                f"{_separated(report)}, so every chain was sampled again from the best "
                "chain's last draw"
            )
            restart = best_chain_draw(trace, model)
            trace = run(rate, start=restart)
            clean = int(trace["sample_stats"]["diverging"].sum()) == 0
            report = check(trace) if clean else None
        if report is not None and report.separated_chains:  # longer chains stay there
            notes.append(f"no longer run: {_separated(report)}")
        elif report is not None and not report.ok:
            factor = extend_factor(report)
            notes.append(
                f"max R-hat {report.worst_rhat:.3f} and min bulk / tail ESS "
                f"{report.min_ess_bulk:.0f} / {report.min_ess_tail:.0f} over the posterior's "
                f"variables with {draws} draws and {tune} tuning steps per chain, so the fit "
                f"was sampled again with {factor * draws} and {factor * tune}"
            )
            trace, report = run(rate, factor, start=restart), None
            n_div = int(trace["sample_stats"]["diverging"].sum())
            higher = [r for r in plan if r > rate]
            if n_div and higher:  # as after the first run: a smaller step, same length
                notes.append(
                    f"{n_div} divergent transitions in the longer run at target_accept "
                    f"{rate:g}, so it was sampled again at target_accept {higher[0]:g}"
                )
                rate = higher[0]
                trace = run(rate, factor, start=restart)
    return SampledFit(trace, rate, notes, report, other)


def _separated(report: ConvergenceReport) -> str:
    gaps = ", ".join(f"{c}: {g:.0f}" for c, g in report.separated_chains.items())
    return (
        f"chains in separate regions of the posterior (chain {gaps} units of log density "
        "below the best chain)"
    )


def best_chain_draw(trace: xr.DataTree, model: Any) -> dict[str, np.ndarray]:
    """Return the last draw of the chain with the highest mean log density, per variable.

    The start of a restart after :attr:`ConvergenceReport.separated_chains`: a chain that
    warmed up into a minor mode (far lower log density) stays there, so every chain starts
    again from the main mode.
    """
    stats = trace["sample_stats"].to_dataset()
    post = trace["posterior"].to_dataset()
    lp = chain_logp(stats)
    best = int(np.argmax(lp.mean(axis=1))) if lp is not None else 0
    names = [rv.name for rv in model.free_RVs if rv.name in post]
    return {v: np.asarray(post[v].isel(chain=best, draw=-1).values) for v in names}
