"""Planning decisions from the posterior of ``error(n) = D n^-alpha + C``.

Every function works per posterior draw with the closed forms of the power law, so all
uncertainty propagates, and returns a frozen :class:`~bayes_scaling.decisions.Decision`
(a tidy table plus one plain sentence on the pinned
:data:`~bayes_scaling.constants.CREDIBLE_INTERVAL`):

- :func:`sample_size_for_target` -- the n needed for a target error, or "unreachable"
  when the transfer gap ``C`` is the bottleneck;
- :func:`next_batch_value` -- the error reduction bought by the next ``delta_n`` samples;
- :func:`stopping_point` -- the n where one more sample gains less than a threshold
  ("stop producing: converged");
- :func:`allocate_budget` -- how to split a production budget across databases;
- :func:`equivalent_sample_size` -- how many experiments a scratch model would need to
  match the transfer model.

Throughout, ``error(n)`` is the scaling-law *mean* error of a draw; the seed-to-seed
scatter (``sigma``) is not part of it. Targets, thresholds and errors are on the scale
chosen by ``scale``: ``"original"`` (the property's units, the default) or
``"normalised"`` (divided by the curve's ``target_scale``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from bayes_scaling.decisions import (
    Decision,
    ceil_significant,
    check_positive,
    check_probability,
    describe_curve,
    format_interval,
    format_number,
    format_probability,
    join_sentences,
    percent,
    smallest_with_probability,
    summarise,
    with_unit,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models.posterior import CurvePosterior, Scale

#: Default probability ``q`` for "the n needed so that P(error(n) <= target) >= q".
DEFAULT_PROBABILITY: Final[float] = 0.9
#: Default number of budget increments of the allocation grid.
DEFAULT_BUDGET_STEPS: Final[int] = 200

Objective = Literal["error", "targets"]
AllocationUnit = Literal["database", "curve"]


class NoMatchingCurveError(UnknownNameError):
    """No curve in the posterior matches the one requested (e.g. no scratch baseline)."""


class AmbiguousCurveError(BayesScalingError):
    """Several curves match where exactly one was needed; the caller must choose."""


# ====================================================================== closed forms
def n_required_draws(
    D: np.ndarray, alpha: np.ndarray, C: np.ndarray, target: float | np.ndarray
) -> np.ndarray:
    """Smallest integer ``n >= 1`` with ``D n^-alpha + C <= target``, per draw.

    ``n = ceil((D / (target - C))^(1/alpha))`` where ``target > C``, else ``inf``.
    Broadcasts ``target`` against the draws.

    Examples
    --------
    >>> n_required_draws(np.array([1.0, 1.0]), np.array([0.5, 0.5]), np.array([0.0, 0.2]), 0.1)
    array([100.,  inf])

    """
    gap = np.asarray(target, dtype=float) - C
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        n = np.where(gap > 0, (D / gap) ** (1.0 / alpha), np.inf)
    return np.maximum(np.ceil(n), 1.0)


def error_draws(D: np.ndarray, alpha: np.ndarray, C: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``D n^-alpha + C`` for draws (axis 0) against sizes ``n`` (broadcast on axis 1)."""
    n = np.asarray(n, dtype=float)
    return D[:, None] * n[None, :] ** (-alpha[:, None]) + C[:, None]


def marginal_gain_draws(D: np.ndarray, alpha: np.ndarray, n: float) -> np.ndarray:
    """Error reduction per added sample at ``n``: ``alpha D n^(-alpha-1)``, per draw."""
    return alpha * D * float(n) ** (-alpha - 1.0)


def stopping_n_draws(D: np.ndarray, alpha: np.ndarray, threshold: float) -> np.ndarray:
    """Size where the marginal gain equals ``threshold``, per draw.

    ``n = (alpha D / threshold)^(1/(alpha+1))``.
    """
    with np.errstate(over="ignore"):
        return (alpha * D / threshold) ** (1.0 / (alpha + 1.0))


def equivalent_m_draws(
    error_transfer: np.ndarray, D_s: np.ndarray, alpha_s: np.ndarray, C_s: np.ndarray
) -> np.ndarray:
    """Scratch sample size ``m`` with ``D_s m^-alpha_s + C_s = error_transfer``, per draw.

    ``inf`` where the transfer error is at or below the scratch plateau ``C_s`` (transfer
    beats any amount of scratch data). ``m`` is continuous (not rounded).
    """
    gap = error_transfer - C_s
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return np.where(gap > 0, (D_s / gap) ** (1.0 / alpha_s), np.inf)


# ====================================================================== small helpers
def _n_current(posterior: CurvePosterior, curve: str, n_current: float | None) -> float:
    if n_current is None:
        return float(posterior.curves.loc[curve, "n_max"])
    return check_positive(n_current, name="n_current")


def _as_values(value: float | Sequence[float], *, name: str) -> tuple[float, ...]:
    values = (value,) if np.ndim(value) == 0 else tuple(value)  # type: ignore[arg-type]
    if not values:
        raise BayesScalingError(f"{name} must hold at least one value.")
    return tuple(check_positive(v, name=name) for v in values)


def _is_scratch(posterior: CurvePosterior, curve: str) -> bool:
    return "kind" in posterior.curves and posterior.curves.loc[curve, "kind"] == "scratch"


def _gap_name(posterior: CurvePosterior, curve: str) -> str:
    return "error plateau C" if _is_scratch(posterior, curve) else "transfer gap"


def _n_words(n: float) -> str:
    return format_number(ceil_significant(n), sig=2)


# ====================================================================== sample size to a target
@dataclass(frozen=True, eq=False, kw_only=True)
class SampleSizeDecision(Decision):
    """Sample size needed to reach target error(s) on one curve.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per target: ``curve, scale, unit, target, prob, n_median, n_lower,
        n_upper`` (posterior of the smallest n, ``inf`` where unreachable), ``n_at_prob``
        (smallest n with ``P(error(n) <= target) >= prob``), ``n_max`` (current n),
        ``more_at_prob`` (``max(n_at_prob - n_max, 0)``), ``p_unreachable``
        (``P(C >= target)``) and ``p_reached_now`` (``P(error(n_max) <= target)``).
    draws : numpy.ndarray
        Smallest n per posterior draw, shape ``(sample, target)``.

    """

    draws: np.ndarray
    title = "Sample size to a target"


def sample_size_for_target(
    posterior: CurvePosterior,
    curve: str,
    target: float | Sequence[float],
    *,
    prob: float = DEFAULT_PROBABILITY,
    scale: Scale = "original",
) -> SampleSizeDecision:
    """Posterior of the sample size needed for ``error(n) <= target``.

    Per draw ``n = ceil((D / (target - C))^(1/alpha))`` where ``target > C``, else the
    target is unreachable (``n = inf``: the transfer gap ``C`` is the bottleneck).

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    curve : str
        Curve id.
    target : float or sequence of float
        Target error(s) (> 0) on ``scale``.
    prob : float, default 0.9
        Probability ``q`` for ``n_at_prob``, the smallest n with
        ``P(error(n) <= target) >= q``.
    scale : {"original", "normalised"}, default "original"
        Scale of ``target`` and of the errors in the answer.

    Returns
    -------
    SampleSizeDecision

    Raises
    ------
    UnknownNameError
        Unknown curve.
    BayesScalingError
        Target <= 0 or not finite, ``prob`` outside (0, 1), unknown scale.

    Examples
    --------
    >>> d = sample_size_for_target(posterior, "density|radonpy", 0.05)  # doctest: +SKIP
    >>> d.sentence  # doctest: +SKIP
    'With 12,000 more radonpy samples (n ≈ 17,000) the density MAE reaches 0.05 g/cm³ ...'

    """
    posterior.check_curve(curve)
    targets = _as_values(target, name="target")
    prob = check_probability(prob, name="prob")
    p = posterior.params(curve, scale)
    n_max = float(posterior.curves.loc[curve, "n_max"])
    label = describe_curve(posterior.curves, curve, scale)

    draws = n_required_draws(
        p["D"][:, None], p["alpha"][:, None], p["C"][:, None], np.asarray(targets)[None, :]
    )
    n_at_prob = smallest_with_probability(draws, prob)
    table = pd.DataFrame(
        {
            "curve": curve,
            "scale": scale,
            "unit": label.unit,
            "target": targets,
            "prob": prob,
            **summarise(draws, "n"),
            "n_at_prob": n_at_prob,
            "n_max": n_max,
            "more_at_prob": np.maximum(n_at_prob - n_max, 0.0),
            "p_unreachable": (p["C"][:, None] >= np.asarray(targets)[None, :]).mean(axis=0),
            "p_reached_now": (draws <= n_max).mean(axis=0),
        }
    )
    clauses = [_sample_size_clause(row, label, _gap_name(posterior, curve)) for row in _rows(table)]
    return SampleSizeDecision(table, join_sentences(clauses), draws=_frozen(draws))


def _sample_size_clause(row: pd.Series, label, gap_name: str) -> str:
    eps = with_unit(row["target"], label.unit, sig=3)
    pct = percent(row["prob"])
    if math.isinf(row["n_at_prob"]):
        if row["p_unreachable"] >= 0.5:
            return (
                f"the {gap_name} makes {eps} unreachable "
                f"(P {format_probability(row['p_unreachable'])})"
            )
        return (
            f"{label.subject} {eps} cannot be reached with {pct} probability at any n: the "
            f"{gap_name} exceeds it with P {format_probability(row['p_unreachable'])}"
        )
    if row["more_at_prob"] == 0:
        return (
            f"the {label.subject} already reaches {eps} at the current "
            f"{format_number(row['n_max'], sig=3)} {label.samples} with {pct} probability"
        )
    clause = (
        f"with {_n_words(row['more_at_prob'])} more {label.samples} "
        f"(n ≈ {_n_words(row['n_at_prob'])}) the {label.subject} reaches {eps} "
        f"with {pct} probability"
    )
    if row["p_unreachable"] >= 0.01:
        clause += (
            f", although the {gap_name} makes it unreachable with "
            f"P {format_probability(row['p_unreachable'])}"
        )
    return clause


def _rows(table: pd.DataFrame) -> list[pd.Series]:
    return [row for _, row in table.iterrows()]


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=float, copy=True)
    out.setflags(write=False)
    return out


# ====================================================================== value of the next batch
@dataclass(frozen=True, eq=False, kw_only=True)
class NextBatchDecision(Decision):
    """Expected error reduction from adding ``delta_n`` samples.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per ``delta_n``: ``curve, scale, unit, n_current, delta_n, n_after,
        error_now_median, error_after_median, error_after_lower, error_after_upper,
        reduction_mean, reduction_median, reduction_lower, reduction_upper,
        relative_reduction_median`` (reduction / current error) and
        ``reduction_per_sample_median``.
    draws : numpy.ndarray
        Error reduction per posterior draw, shape ``(sample, delta_n)``.

    """

    draws: np.ndarray
    title = "Value of the next batch"


def next_batch_value(
    posterior: CurvePosterior,
    curve: str,
    delta_n: float | Sequence[float],
    *,
    n_current: float | None = None,
    scale: Scale = "original",
) -> NextBatchDecision:
    """Posterior of the error reduction from adding ``delta_n`` samples to ``n_current``.

    Per draw the reduction is ``D (n^-alpha - (n + delta_n)^-alpha)``.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    curve : str
        Curve id.
    delta_n : float or sequence of float
        Number(s) of added samples (> 0).
    n_current : float, optional
        Current sample size; default the curve's ``n_max``.
    scale : {"original", "normalised"}, default "original"
        Scale of the errors.

    Returns
    -------
    NextBatchDecision

    Raises
    ------
    UnknownNameError
        Unknown curve.
    BayesScalingError
        ``delta_n <= 0`` or ``n_current <= 0``.

    """
    posterior.check_curve(curve)
    deltas = _as_values(delta_n, name="delta_n")
    n0 = _n_current(posterior, curve, n_current)
    p = posterior.params(curve, scale)
    label = describe_curve(posterior.curves, curve, scale)

    sizes = n0 + np.asarray(deltas)
    now = error_draws(p["D"], p["alpha"], p["C"], np.array([n0]))
    after = error_draws(p["D"], p["alpha"], p["C"], sizes)
    reduction = now - after
    after_summary = summarise(after, "error_after")
    table = pd.DataFrame(
        {
            "curve": curve,
            "scale": scale,
            "unit": label.unit,
            "n_current": n0,
            "delta_n": deltas,
            "n_after": sizes,
            "error_now_median": float(np.median(now)),
            **after_summary,
            "reduction_mean": reduction.mean(axis=0),
            **summarise(reduction, "reduction"),
            "relative_reduction_median": np.median(reduction / now, axis=0),
            "reduction_per_sample_median": np.median(reduction, axis=0) / np.asarray(deltas),
        }
    )
    sentences = [_next_batch_sentence(row, label) for row in _rows(table)]
    return NextBatchDecision(table, " ".join(sentences), draws=_frozen(reduction))


def _next_batch_sentence(row: pd.Series, label) -> str:
    rel = format_number(100 * row["relative_reduction_median"], sig=2)
    return join_sentences(
        [
            f"adding {format_number(row['delta_n'], sig=3)} {label.samples} to the current "
            f"{format_number(row['n_current'], sig=3)} lowers the {label.subject} by "
            f"{with_unit(row['reduction_median'], label.unit)} "
            f"({format_interval(row['reduction_lower'], row['reduction_upper'])}), "
            f"i.e. {rel} % of its current "
            f"{with_unit(row['error_now_median'], label.unit)}"
        ]
    )


# ====================================================================== stopping point
@dataclass(frozen=True, eq=False, kw_only=True)
class StoppingDecision(Decision):
    """Where the marginal gain per sample falls below a threshold.

    Attributes
    ----------
    table : pandas.DataFrame
        One row: ``curve, scale, unit, gain_threshold, n_current, gain_now_median,
        gain_now_lower, gain_now_upper`` (error reduction per added sample at
        ``n_current``), ``n_stop_median, n_stop_lower, n_stop_upper`` (n where the gain
        equals the threshold), ``prob, n_stop_at_prob`` (smallest n at which
        ``P(gain < threshold) >= prob``), ``more_at_prob``, ``p_converged_now``
        (``P(gain(n_current) < threshold)``) and ``converged``
        (``p_converged_now >= prob``).
    draws : numpy.ndarray
        ``n_stop`` per posterior draw, shape ``(sample,)``.

    """

    draws: np.ndarray
    title = "When to stop producing"


def stopping_point(
    posterior: CurvePosterior,
    curve: str,
    gain_threshold: float,
    *,
    n_current: float | None = None,
    prob: float = DEFAULT_PROBABILITY,
    scale: Scale = "original",
) -> StoppingDecision:
    """Find the n where the marginal gain ``alpha D n^(-alpha-1)`` falls below a threshold.

    The curve is *converged* at ``n_current`` when ``P(gain < gain_threshold) >= prob``
    ("stop producing: converged").

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    curve : str
        Curve id.
    gain_threshold : float
        Smallest worthwhile error reduction per added sample (> 0), on ``scale``.
    n_current : float, optional
        Current sample size; default the curve's ``n_max``.
    prob : float, default 0.9
        Probability required to call the curve converged.
    scale : {"original", "normalised"}, default "original"
        Scale of ``gain_threshold`` and of the gains.

    Returns
    -------
    StoppingDecision

    """
    posterior.check_curve(curve)
    tau = check_positive(gain_threshold, name="gain_threshold")
    prob = check_probability(prob, name="prob")
    n0 = _n_current(posterior, curve, n_current)
    p = posterior.params(curve, scale)
    label = describe_curve(posterior.curves, curve, scale)

    gain_now = marginal_gain_draws(p["D"], p["alpha"], n0)
    n_stop = stopping_n_draws(p["D"], p["alpha"], tau)
    n_at_prob = float(smallest_with_probability(n_stop, prob))
    p_conv = float(np.mean(gain_now < tau))
    table = pd.DataFrame(
        {
            "curve": [curve],
            "scale": scale,
            "unit": label.unit,
            "gain_threshold": tau,
            "n_current": n0,
            **summarise(gain_now, "gain_now"),
            **summarise(n_stop, "n_stop"),
            "prob": prob,
            "n_stop_at_prob": n_at_prob,
            "more_at_prob": max(n_at_prob - n0, 0.0),
            "p_converged_now": p_conv,
            "converged": p_conv >= prob,
        }
    )
    return StoppingDecision(table, _stopping_sentence(table.iloc[0], label), draws=_frozen(n_stop))


def _stopping_sentence(row: pd.Series, label) -> str:
    tau = with_unit(row["gain_threshold"], label.unit)
    n0 = format_number(row["n_current"], sig=3)
    if row["converged"]:
        return join_sentences(
            [
                f"stop producing: converged. At the current {n0} {label.samples}, one more "
                f"sample lowers the {label.subject} by less than {tau} "
                f"(P {format_probability(row['p_converged_now'])})"
            ]
        )
    return join_sentences(
        [
            f"keep producing: at the current {n0} {label.samples} one more sample still "
            f"lowers the {label.subject} by {with_unit(row['gain_now_median'], label.unit)} "
            f"(median), and the gain falls below {tau} per sample by "
            f"n ≈ {_n_words(row['n_stop_at_prob'])} with {percent(row['prob'])} probability "
            f"({_n_words(row['more_at_prob'])} more)"
        ]
    )


# ====================================================================== budget allocation
@dataclass(frozen=True, eq=False, kw_only=True)
class AllocationDecision(Decision):
    """A production budget split across databases (or curves), against the equal split.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per curve: ``unit`` (database or curve the budget is spent on), ``curve,
        cost_per_sample, n_current, n_added, n_total, spent`` (budget spent on the row's
        unit), ``share`` (fraction of the budget), ``scale, error_median, error_lower,
        error_upper`` (error at ``n_total``), ``equal_n_added, equal_error_median``
        (the equal split), and for ``objective="targets"`` also ``target, p_target,
        equal_p_target``.
    objective : {"error", "targets"}
        What was optimised.
    value, equal_split_value : float
        Objective of the allocation and of the equal split: the weighted mean expected
        normalised error (lower is better) or the weighted expected number of curves that
        reach their targets (higher is better).

    """

    objective: Objective
    value: float
    equal_split_value: float
    budget: float
    title = "Budget allocation"


def allocate_budget(
    posterior: CurvePosterior,
    budget: float,
    costs: Mapping[str, float],
    *,
    curves: Sequence[str] | None = None,
    by: AllocationUnit = "database",
    objective: Objective = "error",
    targets: Mapping[str, float] | None = None,
    weights: Mapping[str, float] | None = None,
    scale: Scale = "original",
    cost_unit: str = "",
    n_steps: int = DEFAULT_BUDGET_STEPS,
) -> AllocationDecision:
    """Split a production budget across databases to minimise error or reach targets.

    Samples bought for a database extend the source size n of *every* selected curve
    pretrained on it (``by="database"``); with ``by="curve"`` each curve is bought for on
    its own. The objective is evaluated on all posterior draws:

    - ``"error"``: minimise the weighted mean (over curves) of the posterior expected
      *normalised* error at the new n (normalised so that properties are comparable);
    - ``"targets"``: maximise the weighted expected number of curves whose error reaches
      their target, ``sum_c w_c P(error_c(n_c) <= target_c)``.

    The objective is separable across units, so the allocation is solved *exactly* on a
    grid of budget increments by dynamic programming (better than greedy, which is only
    optimal for concave gains and fails on the step-like target probabilities). The grid
    has a multiple of the number of units as its size, so the equal split is one of its
    points and the allocation is never worse than the equal split in its own objective
    (should ties ever make it so, the equal split is returned).

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    budget : float
        Total budget (> 0) in the units of ``costs``.
    costs : mapping of str to float
        Cost per sample (> 0) for every unit: database names (``by="database"``) or curve
        ids (``by="curve"``).
    curves : sequence of str, optional
        Curves to optimise; default every ``kind="transfer"`` curve (every curve when
        the metadata has no ``kind``) whose unit appears in ``costs``.
    by : {"database", "curve"}, default "database"
        What a sample is bought for.
    objective : {"error", "targets"}, default "error"
        What to optimise.
    targets : mapping of str to float, optional
        Target error per curve id or property (required for ``objective="targets"``), on
        ``scale``.
    weights : mapping of str to float, optional
        Weight (>= 0) per curve id or property; default 1.
    scale : {"original", "normalised"}, default "original"
        Scale of ``targets`` and of the errors in the table.
    cost_unit : str, optional
        Name of the budget unit for the sentence, e.g. ``"CPU-hours"``.
    n_steps : int, default 200
        Approximate number of budget increments of the grid (rounded up to a multiple of
        the number of units).

    Returns
    -------
    AllocationDecision

    Raises
    ------
    BayesScalingError
        Budget or a cost not > 0, a negative weight, missing targets, bad options.
    UnknownNameError
        A curve, database, or mapping key that is not in the posterior; a unit without a
        cost.

    """
    budget = check_positive(budget, name="budget")
    _check_allocation_options(by, objective, n_steps)
    unit_costs = _unit_costs(posterior, costs, by)
    ids = _allocation_curves(posterior, curves, by, unit_costs)
    unit_of = {c: _unit_name(posterior, c, by) for c in ids}
    units = list(dict.fromkeys(unit_of.values()))
    missing = [u for u in units if u not in unit_costs]
    if missing:
        raise UnknownNameError(f"No cost per sample given for {by}(s) {missing}.")
    w = _per_curve(posterior, ids, weights, name="weights", default=1.0, allow_zero=True)
    if sum(w.values()) <= 0:
        raise BayesScalingError("weights must not all be zero.")
    eps = _allocation_targets(posterior, ids, objective, targets, scale)

    k_total = len(units) * math.ceil(n_steps / len(units))
    ks = np.arange(k_total + 1)
    added = {u: np.floor(ks * (budget / k_total) / unit_costs[u]) for u in units}
    primary, tiebreak = _unit_losses(posterior, ids, unit_of, units, added, w, eps)
    k_best = _best_split(primary + 1e-9 * tiebreak, k_total)
    k_equal = np.full(len(units), k_total // len(units))
    rows = np.arange(len(units))
    value, equal_value = primary[rows, k_best].sum(), primary[rows, k_equal].sum()
    if value > equal_value:  # cannot happen on the grid; a guard against ties
        k_best, value = k_equal, equal_value
    # losses -> reported objective: mean error, or expected number of targets reached
    scale_by = -1.0 if objective == "targets" else 1.0 / sum(w.values())
    value, equal_value = float(scale_by * value), float(scale_by * equal_value)

    n_added = {u: float(added[u][k]) for u, k in zip(units, k_best, strict=True)}
    n_equal = {u: float(added[u][k]) for u, k in zip(units, k_equal, strict=True)}
    table = _allocation_table(
        posterior, ids, unit_of, unit_costs, n_added, n_equal, budget, eps, scale
    )
    outcome = _allocation_outcome(objective, value, equal_value, len(ids))
    spend = _allocation_spend(units, n_added, unit_costs, budget, cost_unit)
    return AllocationDecision(
        table,
        join_sentences([spend, outcome]),
        objective=objective,
        value=value,
        equal_split_value=equal_value,
        budget=budget,
    )


def _check_allocation_options(by: str, objective: str, n_steps: int) -> None:
    if by not in ("database", "curve"):
        raise BayesScalingError(f"by must be 'database' or 'curve', got {by!r}.")
    if objective not in ("error", "targets"):
        raise BayesScalingError(f"objective must be 'error' or 'targets', got {objective!r}.")
    if not isinstance(n_steps, int | np.integer) or n_steps < 1:
        raise BayesScalingError(f"n_steps must be a positive integer, got {n_steps!r}.")


def _unit_costs(
    posterior: CurvePosterior, costs: Mapping[str, float], by: AllocationUnit
) -> dict[str, float]:
    """Validate costs: known unit names (databases or curve ids), values > 0."""
    if not isinstance(costs, Mapping) or not costs:
        raise BayesScalingError("costs must be a non-empty mapping of name -> cost per sample.")
    known = {_unit_name(posterior, c, by) for c in posterior.curve_ids}
    unknown = sorted(str(k) for k in costs if str(k) not in known)
    if unknown:
        raise UnknownNameError(f"costs name unknown {by}(s) {unknown}; known: {sorted(known)}.")
    return {str(k): check_positive(v, name=f"cost per sample of {k!r}") for k, v in costs.items()}


def _allocation_targets(
    posterior: CurvePosterior,
    ids: Sequence[str],
    objective: Objective,
    targets: Mapping[str, float] | None,
    scale: Scale,
) -> dict[str, float] | None:
    """Normalised target per curve for ``objective="targets"`` (None otherwise)."""
    if objective != "targets":
        if targets is not None:
            raise BayesScalingError("targets= is only used with objective='targets'.")
        return None
    if targets is None:
        raise BayesScalingError("objective='targets' needs targets= (per curve or property).")
    raw = _per_curve(posterior, ids, targets, name="targets", default=None)
    return {c: raw[c] / posterior.scale_factor(c, scale) for c in ids}


def _unit_name(posterior: CurvePosterior, curve: str, by: AllocationUnit) -> str:
    if by == "curve":
        return curve
    if "database" not in posterior.curves:
        raise BayesScalingError("by='database' needs a 'database' column in the curve metadata.")
    return str(posterior.curves.loc[curve, "database"])


def _allocation_curves(
    posterior: CurvePosterior,
    curves: Sequence[str] | None,
    by: AllocationUnit,
    unit_costs: Mapping[str, float],
) -> list[str]:
    if curves is not None:
        ids = [posterior.check_curve(c) for c in curves]
        if not ids:
            raise BayesScalingError("curves must name at least one curve.")
        return list(dict.fromkeys(ids))
    pool = [c for c in posterior.curve_ids if not _is_scratch(posterior, c)]
    ids = [c for c in pool if _unit_name(posterior, c, by) in unit_costs]
    if not ids:
        known = sorted({_unit_name(posterior, c, by) for c in pool})
        raise UnknownNameError(
            f"No curve is pretrained on a {by} named in costs {sorted(unit_costs)}; known: {known}."
        )
    return ids


def _per_curve(
    posterior: CurvePosterior,
    ids: Sequence[str],
    values: Mapping[str, float] | None,
    *,
    name: str,
    default: float | None,
    allow_zero: bool = False,
) -> dict[str, float]:
    """Resolve a mapping keyed by curve id or property into one value per curve."""
    values = dict(values or {})
    props = posterior.curves["property"] if "property" in posterior.curves else None
    known = set(posterior.curve_ids) | (set(props.astype(str)) if props is not None else set())
    unknown = sorted(str(k) for k in values if k not in known)
    if unknown:
        raise UnknownNameError(f"{name} has unknown curve(s) or property(ies) {unknown}.")
    out: dict[str, float] = {}
    for c in ids:
        if c in values:
            v = values[c]
        elif props is not None and str(props[c]) in values:
            v = values[str(props[c])]
        elif default is not None:
            v = default
        else:
            raise BayesScalingError(f"{name} has no value for curve {c!r}.")
        if allow_zero:
            v = float(v)
            if not (math.isfinite(v) and v >= 0):
                raise BayesScalingError(f"{name} must be finite and >= 0, got {v!r} for {c!r}.")
            out[c] = v
        else:
            out[c] = check_positive(v, name=f"{name}[{c!r}]")
    return out


def _unit_losses(
    posterior: CurvePosterior,
    ids: Sequence[str],
    unit_of: Mapping[str, str],
    units: Sequence[str],
    added: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    targets: Mapping[str, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss of each unit per budget increment, shape ``(unit, k)``: primary and tie-break.

    Primary: weighted expected normalised error, or minus the weighted probability of
    reaching the target. Tie-break: the weighted expected normalised error.
    """
    k = len(next(iter(added.values())))
    primary = np.zeros((len(units), k))
    tiebreak = np.zeros((len(units), k))
    for c in ids:
        u = units.index(unit_of[c])
        p = posterior.params(c, "normalised")
        n = float(posterior.curves.loc[c, "n_max"]) + added[unit_of[c]]
        err = error_draws(p["D"], p["alpha"], p["C"], n)
        mean_err = weights[c] * err.mean(axis=0)
        tiebreak[u] += mean_err
        if targets is None:
            primary[u] += mean_err
        else:
            primary[u] -= weights[c] * (err <= targets[c]).mean(axis=0)
    return primary, tiebreak


def _best_split(loss: np.ndarray, k_total: int) -> np.ndarray:
    """Exact minimiser of ``sum_u loss[u, k_u]`` subject to ``sum_u k_u = k_total``.

    Dynamic programme over units: ``best[j]`` is the least loss of the units so far with
    ``j`` increments; time ``O(units * k_total^2)``, memory ``O(units * k_total)``.
    """
    n_units = loss.shape[0]
    best = loss[0].copy()
    choices = []
    for u in range(1, n_units):
        new_best = np.empty_like(best)
        choice = np.empty(k_total + 1, dtype=int)
        for j in range(k_total + 1):
            cand = best[j::-1] + loss[u, : j + 1]  # best[j - k] + loss[u, k], k = 0..j
            choice[j] = int(np.argmin(cand))
            new_best[j] = cand[choice[j]]
        best = new_best
        choices.append(choice)
    k = np.zeros(n_units, dtype=int)
    remaining = k_total
    for u in range(n_units - 1, 0, -1):
        k[u] = choices[u - 1][remaining]
        remaining -= k[u]
    k[0] = remaining
    return k


def _allocation_table(
    posterior: CurvePosterior,
    ids: Sequence[str],
    unit_of: Mapping[str, str],
    unit_costs: Mapping[str, float],
    n_added: Mapping[str, float],
    n_equal: Mapping[str, float],
    budget: float,
    targets: Mapping[str, float] | None,
    scale: Scale,
) -> pd.DataFrame:
    rows = []
    for c in ids:
        u = unit_of[c]
        p = posterior.params(c, scale)
        n0 = float(posterior.curves.loc[c, "n_max"])
        err = error_draws(p["D"], p["alpha"], p["C"], np.array([n0 + n_added[u], n0 + n_equal[u]]))
        spent = n_added[u] * unit_costs[u]
        row = {
            "unit": u,
            "curve": c,
            "cost_per_sample": unit_costs[u],
            "n_current": n0,
            "n_added": n_added[u],
            "n_total": n0 + n_added[u],
            "spent": spent,
            "share": spent / budget,
            "scale": scale,
            **{k: float(v) for k, v in summarise(err[:, 0], "error").items()},
            "equal_n_added": n_equal[u],
            "equal_error_median": float(np.median(err[:, 1])),
        }
        if targets is not None:
            eps = targets[c] * posterior.scale_factor(c, scale)
            row["target"] = eps
            row["p_target"] = float(np.mean(err[:, 0] <= eps))
            row["equal_p_target"] = float(np.mean(err[:, 1] <= eps))
        rows.append(row)
    return pd.DataFrame(rows)


def _allocation_spend(
    units: Sequence[str],
    n_added: Mapping[str, float],
    unit_costs: Mapping[str, float],
    budget: float,
    cost_unit: str,
) -> str:
    parts = [
        f"{u} {format_number(n_added[u], sig=3)} samples "
        f"({format_number(100 * n_added[u] * unit_costs[u] / budget, sig=2)} %)"
        for u in units
    ]
    return f"spend the budget of {with_unit(budget, cost_unit, sig=3)} as " + ", ".join(parts)


def _allocation_outcome(objective: Objective, value: float, equal: float, n_curves: int) -> str:
    if objective == "targets":
        return (
            f"an expected {format_number(value, sig=3)} of {n_curves} curves reach their "
            f"targets (equal split: {format_number(equal, sig=3)})"
        )
    return (
        f"the mean expected normalised error becomes {format_number(value, sig=3)} "
        f"(equal split: {format_number(equal, sig=3)})"
    )


# ====================================================================== equivalent sample size
@dataclass(frozen=True, eq=False, kw_only=True)
class EquivalentSampleSizeDecision(Decision):
    """Experiments a scratch model needs to match the transfer model.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per source size n plus a last row with ``n = inf`` (the limit set by the
        transfer gap): ``curve, scratch_curve, n, m_eq_median, m_eq_lower, m_eq_upper``
        (``inf`` where transfer beats any amount of scratch data), ``p_beats_scratch``
        (``P(m_eq = inf)``) and ``scratch_m_max`` (largest m observed on the scratch
        curve).
    draws : numpy.ndarray
        ``m_eq`` per posterior draw, shape ``(sample, n)`` (last column: the limit).

    """

    draws: np.ndarray
    title = "Equivalent experimental sample size"


def find_scratch_curve(posterior: CurvePosterior, curve: str) -> str:
    """Find the scratch baseline of a transfer curve from the curve metadata.

    A match has ``kind="scratch"``, the same ``metric`` and the same ``pair`` (when the
    metadata has pairs and one matches), otherwise the same ``property``.

    Raises
    ------
    NoMatchingCurveError
        No scratch curve matches.
    AmbiguousCurveError
        Several scratch curves match; pass ``scratch=`` explicitly.

    """
    posterior.check_curve(curve)
    meta = posterior.curves
    if "kind" not in meta:
        raise NoMatchingCurveError(
            "The curve metadata has no 'kind' column, so no scratch curve can be found; "
            "pass scratch= explicitly."
        )
    row = meta.loc[curve]
    cand = meta[meta["kind"] == "scratch"]
    if "metric" in meta:
        cand = cand[cand["metric"] == row["metric"]]
    same_pair = cand.iloc[0:0]
    if "pair" in meta and not pd.isna(row["pair"]):
        same_pair = cand[cand["pair"] == row["pair"]]
    if len(same_pair):
        cand = same_pair
    elif "property" in meta:
        cand = cand[cand["property"] == row["property"]]
    else:
        cand = cand.iloc[0:0]
    if len(cand) == 0:
        raise NoMatchingCurveError(
            f"No scratch curve matches {curve!r} (kind='scratch', same metric and pair or "
            f"property); pass scratch= explicitly."
        )
    if len(cand) > 1:
        raise AmbiguousCurveError(
            f"Several scratch curves match {curve!r}: {list(cand.index)}; pass scratch=."
        )
    return str(cand.index[0])


def equivalent_sample_size(
    posterior: CurvePosterior,
    curve: str,
    *,
    n: float | Sequence[float] | None = None,
    scratch: str | None = None,
) -> EquivalentSampleSizeDecision:
    """Posterior of ``m_eq(n)``: experiments a scratch model needs to match transfer at n.

    Per draw, ``D_s m^-alpha_s + C_s = D_t n^-alpha_t + C_t`` gives
    ``m = (D_s / (e_t - C_s))^(1/alpha_s)`` where ``e_t > C_s``, else ``inf`` (the
    transfer model beats any amount of scratch data). The limit ``n -> inf`` uses
    ``e_t = C_t``. Errors are compared in original units (identical to the normalised
    answer when both curves share a target scale). Draws of the two curves are paired, so
    their posterior correlation propagates.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws containing the transfer and the scratch curve.
    curve : str
        Transfer curve id (error vs source size n).
    n : float or sequence of float, optional
        Source sizes; default the transfer curve's ``n_max``.
    scratch : str, optional
        Scratch curve id (error vs experimental size m); default found by
        :func:`find_scratch_curve`.

    Returns
    -------
    EquivalentSampleSizeDecision

    """
    posterior.check_curve(curve)
    if _is_scratch(posterior, curve):
        raise BayesScalingError(f"{curve!r} is a scratch curve; pass the transfer curve.")
    if scratch is None:
        scratch = find_scratch_curve(posterior, curve)
    else:
        posterior.check_curve(scratch)
        if "kind" in posterior.curves and not _is_scratch(posterior, scratch):
            raise BayesScalingError(f"scratch={scratch!r} is not a kind='scratch' curve.")
    sizes = (
        _as_values(n, name="n") if n is not None else (float(posterior.curves.loc[curve, "n_max"]),)
    )
    t = posterior.params(curve, "original")
    s = posterior.params(scratch, "original")
    grid = np.append(np.asarray(sizes), np.inf)
    with np.errstate(divide="ignore"):
        e_t = t["D"][:, None] * grid[None, :] ** (-t["alpha"][:, None]) + t["C"][:, None]
    m = equivalent_m_draws(e_t, s["D"][:, None], s["alpha"][:, None], s["C"][:, None])
    table = pd.DataFrame(
        {
            "curve": curve,
            "scratch_curve": scratch,
            "n": grid,
            **summarise(m, "m_eq"),
            "p_beats_scratch": np.isinf(m).mean(axis=0),
            "scratch_m_max": float(posterior.curves.loc[scratch, "n_max"]),
        }
    )
    label = describe_curve(posterior.curves, curve, "original")
    return EquivalentSampleSizeDecision(table, _equivalent_sentence(table, label), draws=_frozen(m))


def _equivalent_clause(row: pd.Series) -> str:
    if row["p_beats_scratch"] >= 0.5:
        return (
            f"beats a scratch model trained on any number of experimental samples "
            f"(P {format_probability(row['p_beats_scratch'])})"
        )
    return (
        f"matches a scratch model trained on {format_number(row['m_eq_median'])} experimental "
        f"samples ({format_interval(row['m_eq_lower'], row['m_eq_upper'])})"
    )


def _equivalent_sentence(table: pd.DataFrame, label) -> str:
    finite = [row for row in _rows(table) if math.isfinite(row["n"])]
    limit = table.iloc[-1]
    parts = [
        f"at n = {format_number(row['n'], sig=3)} {label.samples} the transfer model for "
        f"{label.name} {_equivalent_clause(row)}"
        for row in finite
    ]
    tail = _equivalent_clause(limit)
    parts.append(f"as the database grows without limit it {tail}, set by the transfer gap C")
    m_max = format_number(limit["scratch_m_max"], sig=3)
    return (
        join_sentences(parts)
        + f" The scratch curve was observed up to m = {m_max}; larger m_eq are extrapolated."
    )
