"""How much more data one curve needs: sample size to a target, next batch, stopping point.

Each function works per posterior draw of ``error(n) = D n^-alpha + C`` with the closed
forms of :mod:`bayes_scaling.closed_forms`, so all uncertainty propagates, and returns a
frozen :class:`~bayes_scaling.decisions.Decision` (a tidy table plus one plain sentence on
the pinned :data:`~bayes_scaling.constants.CREDIBLE_INTERVAL`):

- :func:`sample_size_for_target` -- the n needed for a target error, or "unreachable"
  when the transfer gap ``C`` is the bottleneck;
- :func:`next_batch_value` -- the error reduction bought by the next ``delta_n`` samples;
- :func:`stopping_point` -- the n where one more sample gains less than a threshold
  ("stop producing: converged").

Import them from :mod:`bayes_scaling.planning`, the public entry to every planning
decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from bayes_scaling.closed_forms import (
    error_draws,
    marginal_gain_draws,
    n_required_draws,
    stopping_n_draws,
)
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
    times_today_if_far,
    with_unit,
)
from bayes_scaling.models.posterior import CurvePosterior, Scale
from bayes_scaling.planning_helpers import _as_values, _frozen, _is_scratch, _rows

#: Default probability ``q`` for "the n needed so that P(error(n) <= target) >= q".
DEFAULT_PROBABILITY: Final[float] = 0.9


# ====================================================================== small helpers
def _n_current(posterior: CurvePosterior, curve: str, n_current: float | None) -> float:
    if n_current is None:
        return float(posterior.curves.loc[curve, "n_max"])
    return check_positive(n_current, name="n_current")


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
    far = ""
    if (times := times_today_if_far(row["n_at_prob"], row["n_max"])) is not None:
        far = f", {times}× today's: an extrapolation far beyond the measured curve"
    clause = (
        f"with {_n_words(row['more_at_prob'])} more {label.samples} "
        f"(n ≈ {_n_words(row['n_at_prob'])}{far}) the {label.subject} reaches {eps} "
        f"with {pct} probability"
    )
    if row["p_unreachable"] >= 0.01:
        clause += (
            f", although the {gap_name} makes it unreachable with "
            f"P {format_probability(row['p_unreachable'])}"
        )
    return clause


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
