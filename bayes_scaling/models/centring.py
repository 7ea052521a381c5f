"""Partial-centring weights of the hierarchical model, from per-curve estimates.

:func:`centring_weights` chooses, parameter by parameter, how centred the sampler's
parameterisation of the curve-level deviations and group effects is (the posterior does not
depend on it, only the geometry the sampler sees does; see
:func:`~bayes_scaling.models.graph.build_pymc_model`), from per-curve least-squares
estimates and Paule-Mandel moment estimates of the between-curve and between-level spreads.
Pure NumPy: no PyMC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayes_scaling.models._data import GroupSpec

#: ``centring="auto"``: curve-level deviations are sampled non-centred when the curves leave
#: fewer residual degrees of freedom than this after the group effects (see
#: :func:`centring_weights`).
MIN_RESIDUAL_DOF: int = 3
#: Curve weights are computed at this fraction of the moment estimate of ``tau_curve``: the
#: posterior of a spread reaches well below its point estimate, and a parameter sampled
#: centred while its spread is small is a funnel (divergences on the real headline curves
#: with the plain estimate, none with 0.3; issue 15). A parameter the data pin down still
#: gets a weight near 1.
TAU_SHRINK: float = 0.3


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


@dataclass(frozen=True)
class EmpiricalBayes:
    """Moment estimates of the hierarchy from per-curve estimates (:func:`empirical_bayes`).

    Attributes
    ----------
    weights : dict
        Partial-centring weights: ``"curve"`` a ``(curve, param)`` array, each grouping
        column a ``(param,)`` array.
    tau_curve : numpy.ndarray
        Curve-level standard deviation per parameter.
    mu : numpy.ndarray
        Population mean per parameter.
    effects : dict
        Each grouping column's effects, ``(level, param)``, zero mean over the levels.
    tau_group : dict
        Each grouping column's spread of effects per parameter.
    slope : numpy.ndarray
        Slope per parameter on the covariate (zeros without one).

    """

    weights: dict[str, np.ndarray]
    tau_curve: np.ndarray
    mu: np.ndarray
    effects: dict[str, np.ndarray]
    tau_group: dict[str, np.ndarray]
    slope: np.ndarray


def centring_weights(
    theta: np.ndarray, se: np.ndarray, groups: Sequence[GroupSpec], **kwargs: Any
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Partial-centring weights and ``tau_curve`` of :func:`empirical_bayes` (same arguments)."""
    eb = empirical_bayes(theta, se, groups, **kwargs)
    return eb.weights, eb.tau_curve


def empirical_bayes(
    theta: np.ndarray,
    se: np.ndarray,
    groups: Sequence[GroupSpec],
    *,
    max_sd: float,
    prior_sd: np.ndarray | None = None,
    covariate: np.ndarray | None = None,
    iterations: int = 25,
) -> EmpiricalBayes:
    """Partial-centring weights and the hierarchy's moment estimates (empirical Bayes).

    Each parameter column of ``theta`` (curves x parameters, with standard errors ``se``)
    is decomposed into a population mean, additive group effects and a curve residual by
    precision-weighted backfitting; the curve-level and group-level variances are
    Paule-Mandel moment estimates (curves with huge ``se`` barely count). A curve's
    weight is ``t^2 / (t^2 + se^2)``, ``t`` = :data:`TAU_SHRINK` x ``tau`` (robust to
    the posterior of ``tau`` reaching low): near 1 where its data pin the parameter down
    more tightly than the hierarchy does (centred), near 0 where they do not
    (non-centred). A grouping column's weight for a parameter is the mean over its levels
    of ``tau_g^2 / (tau_g^2 + v_l)``, ``v_l`` the sampling variance of the level's effect.
    When the group effects leave fewer than :data:`MIN_RESIDUAL_DOF` residual degrees of
    freedom the spread cannot be estimated: the weights use ``prior_sd`` (the prior mean
    spread per parameter) in its place, or are all 0 without it. (Non-centred deviations
    of a parameter the data pin down, such as the error at ``n_ref``, leave a thin ridge
    along the population mean: 3 pooled curves mixed with bulk ESS ~80 that way.)
    ``covariate`` (one value per curve, e.g. the centred ``log m``) adds a slope per
    parameter to the decomposition, fitted by weighted least squares in the same loop.

    Returns
    -------
    EmpiricalBayes
        The weights (``"curve"``: ``(curve, param)`` array; each group column: ``(param,)``
        array), the curve-level standard deviation per parameter, and the population mean,
        group effects, group spreads and covariate slope of the decomposition (the sampler's
        start: :func:`~bayes_scaling.models.sampling_policy.start_values`).

    """
    n, k = theta.shape
    var = se**2
    upper = max_sd**2
    tau_c2 = np.full(k, min(0.25, upper))
    tau_g2 = {g.column: np.full(k, min(0.25, upper)) for g in groups}
    effects = {g.column: np.zeros((len(g.levels), k)) for g in groups}
    level_var = {g.column: np.zeros((len(g.levels), k)) for g in groups}
    dof = n - 1 - sum(len(g.levels) - 1 for g in groups)
    slope = np.zeros(k)
    if covariate is not None:
        s_c = np.asarray(covariate, dtype=float)[:, None]
        dof -= 1
    for _ in range(iterations):
        omega = 1.0 / (var + tau_c2[None, :])
        total = sum((g.take(effects[g.column], 0) for g in groups), np.zeros_like(theta))
        if covariate is not None:
            total = total + s_c * slope[None, :]
        mu = (omega * (theta - total)).sum(axis=0) / omega.sum(axis=0)
        for g in groups:
            others = total - g.take(effects[g.column], 0)
            r = theta - mu - others
            num = np.zeros((len(g.levels) + 1, k))  # the last row: excluded levels' curves
            den = np.zeros((len(g.levels) + 1, k))
            np.add.at(num, g.curve_index, omega * r)
            np.add.at(den, g.curve_index, omega)
            num, den = num[:-1], den[:-1]
            eff = num / den
            eff -= eff.mean(axis=0)
            level_var[g.column] = 1.0 / den
            total = others + g.take(eff, 0)
            effects[g.column] = eff
        if covariate is not None:
            others = total - s_c * slope[None, :]
            r = theta - mu - others
            slope = (omega * s_c * r).sum(axis=0) / np.maximum((omega * s_c**2).sum(axis=0), 1e-12)
            total = others + s_c * slope[None, :]
        resid = theta - mu - total
        for j in range(k):
            tau_c2[j] = _paule_mandel(resid[:, j] ** 2, var[:, j], max(dof, 0), upper)
            for g in groups:
                e, v = effects[g.column][:, j], level_var[g.column][:, j]
                tau_g2[g.column][j] = _paule_mandel(e**2, v, len(g.levels) - 1, upper)
    if dof >= MIN_RESIDUAL_DOF:
        low2 = TAU_SHRINK**2 * tau_c2[None, :]
    elif prior_sd is not None:  # too few curves to estimate the spread: the prior's mean
        low2 = (TAU_SHRINK * np.asarray(prior_sd, dtype=float))[None, :] ** 2
    else:
        low2 = None
    weights = {"curve": np.zeros_like(var) if low2 is None else low2 / (low2 + var)}
    for g in groups:
        w = tau_g2[g.column][None, :] / (tau_g2[g.column][None, :] + level_var[g.column])
        weights[g.column] = w.mean(axis=0)
    return EmpiricalBayes(
        weights=weights,
        tau_curve=np.sqrt(tau_c2),
        mu=mu,
        effects=effects,
        tau_group={c: np.sqrt(v) for c, v in tau_g2.items()},
        slope=slope,
    )
