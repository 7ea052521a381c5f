"""The one-screen decision summary: one row per task and a recommendation in words.

This module holds the *decision logic* of the report's summary; rendering lives in
:mod:`bayes_scaling.reporting`. It provides

- the recommendation rule (:func:`recommend`), a small pure function of posterior
  probabilities;
- :func:`summarise_tasks`, which reads the decisions the pipeline computed (sample size to
  the target, value of the next doubling, equivalent sample size, and the surface's
  cheapest plans) and returns one :class:`TaskSummary` per task, at the experimental size m
  the decision is about (the largest m measured for the task: today's experiments).

It is also the entry point that re-exports the summary's other parts:

- :mod:`bayes_scaling.naming` -- readable names of tasks (``"Band gap · Materials Project →
  experiment"``) built from the curve metadata (:func:`readable_names`, :func:`task_name`),
  and the curve each row is about (:func:`decision_curves`);
- :mod:`bayes_scaling.targets` -- the targets the summary is about: parsed from
  ``PROPERTY=VALUE`` options (:func:`parse_targets`) or the documented default rule,
  :data:`DEFAULT_TARGET_FRACTION` of today's error (:func:`resolve_targets`), each with the
  rule that produced it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.decisions import (
    Decision,
    ceil_significant,
    check_probability,
    format_number,
    format_probability,
    summarise,
    times_today_if_far,
)
from bayes_scaling.measured_change import MeasuredChange, measured_changes
from bayes_scaling.models.posterior import CurvePosterior
from bayes_scaling.naming import (
    DATABASE_NAMES,
    PROPERTY_NAMES,
    _text,
    decision_curves,
    experimental_sizes,
    m_words,
    readable_database,
    readable_names,
    readable_property,
    task_name,
)
from bayes_scaling.targets import (
    DEFAULT_TARGET_FRACTION,
    TargetChoice,
    parse_targets,
    resolve_targets,
    today_error,
)

__all__ = [
    "ACTION_WORDS",
    "DATABASE_NAMES",
    "DEFAULT_TARGET_FRACTION",
    "PLATEAU_GAIN",
    "PROPERTY_NAMES",
    "SUMMARY_INTERVAL",
    "Action",
    "Interval",
    "Recommendation",
    "TargetChoice",
    "TaskSummary",
    "decision_curves",
    "experimental_sizes",
    "m_words",
    "parse_targets",
    "readable_database",
    "readable_names",
    "readable_property",
    "recommend",
    "resolve_targets",
    "summarise_tasks",
    "surface_task_of",
    "task_name",
    "today_error",
]

#: A doubling of n that lowers the error by less than this share of today's error means
#: the curve is at its plateau.
PLATEAU_GAIN: Final[float] = 0.01

Action = Literal["target_met", "experiments", "plateau", "simulate", "undecided"]
#: The words of each recommendation (shown in the summary table).
ACTION_WORDS: Final[dict[str, str]] = {
    "target_met": "stop: the target is already met",
    "experiments": "experiments are the cheaper lever",
    "plateau": "stop: the curve is at its plateau",
    "simulate": "produce more simulations",
    "undecided": "undecided: simulations may not reach the target",
}


def _unit(unit: str | None) -> str:
    if unit is None or unit.lower() in ("dimensionless", "-", "1", "none"):
        return ""
    return unit


# ====================================================================== the rule
@dataclass(frozen=True)
class Recommendation:
    """What to do for one task, in words, with the probability behind it.

    Attributes
    ----------
    action : str
        One of ``target_met``, ``experiments``, ``plateau``, ``simulate``, ``undecided``.
    words : str
        The recommendation (:data:`ACTION_WORDS`).
    probability : float
        Posterior probability behind it (see :func:`recommend`).
    reason : str
        Why, in one short clause (with that probability).

    """

    action: Action
    words: str
    probability: float
    reason: str


def recommend(
    *,
    p_reached_now: float,
    p_gap_below_target: float,
    p_small_gain: float,
    n_needed: float,
    p_at_n_needed: float,
    prob: float,
    experiments_cheaper: bool = False,
    p_experiments: float = math.nan,
    n_now: float = math.nan,
    measured_rose: bool = False,
) -> Recommendation:
    """Recommend what to do for one task: the first of five cases that applies.

    1. ``target_met`` -- "stop: the target is already met", when
       ``P(error(today) <= target) >= prob``; probability ``p_reached_now``.
    2. ``experiments`` -- "experiments are the cheaper lever", when the (n, m) surface
       says an experiments-only plan reaches the target with probability ``prob`` more
       cheaply than a simulations-only plan (or the latter cannot); probability
       ``p_experiments`` (of reaching the target with that plan).
    3. ``plateau`` -- "stop: the curve is at its plateau", when the transfer gap is above
       the target (``P(C >= target) >= prob``) or the next doubling of n gains less than
       :data:`PLATEAU_GAIN` of today's error with probability ``>= prob``; probability:
       the one of those two that triggered (the larger if both).
    4. ``simulate`` -- "produce more simulations", when a finite n reaches the target with
       probability ``prob``; probability ``p_at_n_needed``. Not when the measured error
       rose with n (``measured_rose``: negative transfer, which the law cannot follow, so
       its fall to the target is not in the data): then ``undecided``.
    5. ``undecided`` otherwise (the target is reachable by more simulations with
       probability between ``1 - prob`` and ``prob``); probability ``p_gap_below_target``
       (the most more simulations can achieve).

    Parameters
    ----------
    p_reached_now : float
        ``P(error(n_today) <= target)``.
    p_gap_below_target : float
        ``P(C < target)``.
    p_small_gain : float
        ``P(next doubling of n lowers the error by < PLATEAU_GAIN of today's error)``.
    n_needed : float
        Smallest n with ``P(error(n) <= target) >= prob`` (``inf``: none).
    p_at_n_needed : float
        ``P(error(n_needed) <= target)`` (ignored when ``n_needed`` is infinite).
    prob : float
        Required probability ``q`` in (0, 1).
    experiments_cheaper : bool, default False
        Whether the surface's experiments-only plan is the cheaper lever.
    p_experiments : float, optional
        Probability that plan reaches the target.
    n_now : float, optional
        Today's n; when ``n_needed`` exceeds
        :data:`~bayes_scaling.constants.FAR_BEYOND` times it, the ``simulate`` reason says the
        answer is an extrapolation far beyond the measured curve.
    measured_rose : bool, default False
        Whether the curve's measured error rose with n
        (:class:`~bayes_scaling.measured_change.MeasuredChange`).

    Returns
    -------
    Recommendation

    Examples
    --------
    >>> r = recommend(p_reached_now=0.0, p_gap_below_target=0.99, p_small_gain=0.0,
    ...               n_needed=20000.0, p_at_n_needed=0.91, prob=0.9)
    >>> r.action, r.probability
    ('simulate', 0.91)

    """
    q = check_probability(prob, name="prob")
    if p_reached_now >= q:
        return _rec("target_met", p_reached_now, "today's error is below it")
    if experiments_cheaper:
        return _rec(
            "experiments",
            p_experiments,
            "cheaper than simulations on the (n, m) surface",
        )
    p_gap_above = 1.0 - p_gap_below_target
    if p_gap_above >= q or p_small_gain >= q:
        if p_gap_above >= p_small_gain:
            return _rec("plateau", p_gap_above, "C is above the target")
        gain = format_number(100 * PLATEAU_GAIN, sig=2)
        return _rec("plateau", p_small_gain, f"doubling n gains < {gain} %")
    if math.isfinite(n_needed) and measured_rose:
        return _rec(
            "undecided",
            p_gap_below_target,
            f"the law says n ≈ {format_number(ceil_significant(n_needed), sig=2)}, but the "
            "measured error rose with n (negative transfer)",
        )
    if math.isfinite(n_needed):
        reason = f"n ≈ {format_number(ceil_significant(n_needed), sig=2)} reaches it"
        if (times := times_today_if_far(n_needed, n_now)) is not None:
            reason += f" ({times}× today's n: an extrapolation far beyond the measured curve)"
        return _rec("simulate", p_at_n_needed, reason)
    return _rec(
        "undecided",
        p_gap_below_target,
        "at best, with any n",
    )


def _rec(action: Action, p: float, reason: str) -> Recommendation:
    return Recommendation(action, ACTION_WORDS[action], float(p), reason)


# ====================================================================== the summary rows
@dataclass(frozen=True)
class Interval:
    """Posterior median and equal-tailed :data:`CREDIBLE_INTERVAL` bounds."""

    median: float
    lower: float
    upper: float

    @classmethod
    def of(cls, draws: np.ndarray) -> Interval:
        """Summarise draws (infinite ones allowed)."""
        s = summarise(np.asarray(draws, float), "v")
        return cls(float(s["v_median"]), float(s["v_lower"]), float(s["v_upper"]))


@dataclass(frozen=True)
class TaskSummary:
    """Numbers of one summary row (one task at the experimental size m of the decision).

    Attributes
    ----------
    curve : str
        Curve id (appendix only).
    name : str
        Readable task name.
    unit : str
        Unit of the errors ("" when dimensionless or unknown).
    m : float or None
        Experimental training size the decision is about (None: unknown).
    n_now : float
        Simulations today (largest n observed).
    error_now : Interval
        Error at ``n_now`` (original units).
    alpha, gap : Interval
        Decay rate α and transfer gap C (original units).
    target : TargetChoice or None
        The target (None: no sample-size decision for this task).
    prob : float
        Probability q of the sample-size plans.
    p_gap_below_target : float
        ``P(C < target)`` (NaN without a target).
    n_needed, more_needed : float
        Smallest n (and how many more) reaching the target with probability q; ``inf``:
        unreachable (NaN without a target).
    doubling_gain : Interval or None
        Error reduction from doubling n (original units).
    doubling_relative : float
        Median relative reduction (share of today's error).
    worth : Interval or None
        What the database is worth in experiments (extra experiments a from-scratch model
        would need on top of m; m_eq itself when m is unknown).
    worth_source : str
        ``"surface"`` or ``"n-law"`` (or "" without one).
    p_worth_unbounded : float
        ``P(m_eq = inf)``: transfer beats any number of experiments.
    experiments_plan : str
        The surface's experiments-only plan in words ("" without one).
    recommendation : Recommendation or None
        The rule's answer (None without a target).
    converged : bool
        Whether the fits behind the row's recommendation converged.
    worth_converged : bool
        Whether the fit behind ``worth`` converged.
    measured : MeasuredChange or None
        How the curve's mean measured error changed from its smallest to its largest n
        (:func:`~bayes_scaling.measured_change.measured_changes`; ``rose``: negative
        transfer, which the law cannot follow); None without the curve table.

    """

    curve: str
    name: str
    unit: str
    m: float | None
    n_now: float
    error_now: Interval
    alpha: Interval
    gap: Interval
    target: TargetChoice | None
    prob: float
    p_gap_below_target: float
    n_needed: float
    more_needed: float
    doubling_gain: Interval | None
    doubling_relative: float
    worth: Interval | None
    worth_source: str
    p_worth_unbounded: float
    experiments_plan: str
    recommendation: Recommendation | None
    converged: bool
    worth_converged: bool = True
    measured: MeasuredChange | None = None


def _by_curve(decisions: Sequence[Decision], kind: str) -> dict[str, Decision]:
    out: dict[str, Decision] = {}
    for d in decisions:
        if type(d).__name__ == kind and "curve" in d.table and len(d.table):
            out.setdefault(str(d.table["curve"].iloc[0]), d)
    return out


def _by_task(decisions: Sequence[Decision], kind: str) -> dict[str, Decision]:
    out: dict[str, Decision] = {}
    for d in decisions:
        if type(d).__name__ == kind and "task" in d.table and len(d.table):
            out.setdefault(str(d.table["task"].iloc[0]), d)
    return out


def surface_task_of(meta: pd.DataFrame, curve: str) -> str:
    """Surface task id (``property|database[|strategy]``) of an n-law curve."""
    cols = ["property", "database"] + (["strategy"] if "strategy" in meta else [])
    return "|".join(str(meta.loc[curve, c]) for c in cols if c in meta)


def summarise_tasks(
    posterior: CurvePosterior,
    decisions: Sequence[Decision] = (),
    *,
    targets: Mapping[str, TargetChoice] | None = None,
    curves_table: pd.DataFrame | None = None,
    converged: bool = True,
    surface_converged: bool = True,
) -> tuple[TaskSummary, ...]:
    """One :class:`TaskSummary` per task, from the posterior and the pipeline's decisions.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior of the n-law fit.
    decisions : sequence of Decision
        The pipeline's decisions (:func:`bayes_scaling.pipeline.plan_all`,
        :func:`bayes_scaling.pipeline.plan_surface`): per curve a ``SampleSizeDecision``
        (its first target), a ``NextBatchDecision`` whose ``delta_n`` equals today's n
        (the doubling), an ``EquivalentSampleSizeDecision``; per surface task a
        ``SurfaceEquivalentDecision`` and a ``CheapestPlanDecision``. Missing ones leave
        their cells empty.
    targets : mapping of str to TargetChoice, optional
        Target per curve with its rule; default: the sample-size decision's target, rule
        "as planned".
    curves_table : pandas.DataFrame, optional
        The fitted curve table (``n_train`` gives m of full-split curves; its trials give
        each row's :class:`~bayes_scaling.measured_change.MeasuredChange`).
    converged, surface_converged : bool
        Whether the n-law and the surface fit converged (rows of an unconverged fit get no
        plain recommendation).

    Returns
    -------
    tuple of TaskSummary

    """
    meta = posterior.curves
    names = readable_names(posterior, curves_table)
    sizes = experimental_sizes(posterior, curves_table)
    plans = _by_curve(decisions, "SampleSizeDecision")
    batches = _by_curve(decisions, "NextBatchDecision")
    equivalents = _by_curve(decisions, "EquivalentSampleSizeDecision")
    s_worth = _by_task(decisions, "SurfaceEquivalentDecision")
    s_plans = _by_task(decisions, "CheapestPlanDecision")
    changes = measured_changes(curves_table) if curves_table is not None else {}
    rows = []
    for c in decision_curves(posterior, curves_table):
        p = posterior.params(c, "original", which="fit")
        n_now = float(meta.loc[c, "n_max"])
        unit = _unit(_text(meta.loc[c, "unit"]) if "unit" in meta else None)
        now_draws = posterior.expected_error(n_now, c, scale="original")[:, 0]
        task = surface_task_of(meta, c)
        m = sizes[c]

        target: TargetChoice | None = None
        prob = math.nan
        p_below = n_needed = more = p_at = p_reached = math.nan
        plan = plans.get(c)
        if plan is not None:
            row = plan.table.iloc[0]
            value = float(row["target"])
            target = (targets or {}).get(c) or TargetChoice(value, "as planned")
            if not math.isclose(target.value, value, rel_tol=1e-9):
                target = TargetChoice(value, "as planned")
            prob = float(row["prob"])
            p_below = 1.0 - float(row["p_unreachable"])
            n_needed = float(row["n_at_prob"])
            more = float(row["more_at_prob"])
            p_reached = float(row["p_reached_now"])
            draws = np.asarray(getattr(plan, "draws", np.empty((0, 1))))
            p_at = float(np.mean(draws[:, 0] <= n_needed)) if draws.size else prob

        gain = None
        rel = math.nan
        p_small = 0.0
        batch = batches.get(c)
        if batch is not None:
            t = batch.table
            hit = np.isclose(t["delta_n"].to_numpy(float), t["n_current"].to_numpy(float))
            if hit.any():
                k = int(np.flatnonzero(hit)[0])
                red = np.asarray(batch.draws)[:, k]  # type: ignore[attr-defined]
                gain = Interval.of(red)
                rel = float(np.median(red / now_draws))
                p_small = float(np.mean(red < PLATEAU_GAIN * now_draws))

        worth, source, p_inf = _worth(equivalents.get(c), s_worth.get(task), m)
        cheaper, p_exp, exp_words = _experiments_lever(s_plans.get(task), unit)
        rec = None
        if plan is not None:
            rec = recommend(
                p_reached_now=p_reached,
                p_gap_below_target=p_below,
                p_small_gain=p_small,
                n_needed=n_needed,
                p_at_n_needed=p_at,
                prob=prob,
                experiments_cheaper=cheaper,
                p_experiments=p_exp,
                n_now=n_now,
                measured_rose=bool(changes.get(c) is not None and changes[c].rose),
            )
        rows.append(
            TaskSummary(
                curve=c,
                name=names[c],
                unit=unit,
                m=m,
                n_now=n_now,
                error_now=Interval.of(now_draws),
                alpha=Interval.of(p["alpha"]),
                gap=Interval.of(p["C"]),
                target=target,
                prob=prob,
                p_gap_below_target=p_below,
                n_needed=n_needed,
                more_needed=more,
                doubling_gain=gain,
                doubling_relative=rel,
                worth=worth,
                worth_source=source,
                p_worth_unbounded=p_inf,
                experiments_plan=exp_words,
                recommendation=rec,
                converged=bool(converged and (surface_converged or not cheaper)),
                worth_converged=surface_converged if source == "surface" else converged,
                measured=changes.get(c),
            )
        )
    return tuple(rows)


def _worth(
    n_law: Decision | None, surface: Decision | None, m: float | None
) -> tuple[Interval | None, str, float]:
    """Return the database's worth in experiments: the surface's answer, else the n-law's."""
    if surface is not None:
        row = surface.table.iloc[0]
        return (
            Interval(
                float(row["worth_median"]), float(row["worth_lower"]), float(row["worth_upper"])
            ),
            "surface",
            float(row["p_beats_scratch"]),
        )
    if n_law is not None:
        finite = n_law.table[np.isfinite(n_law.table["n"].to_numpy(float))]
        if len(finite):
            row = finite.iloc[0]
            shift = m if m is not None else 0.0
            return (
                Interval(
                    float(row["m_eq_median"]) - shift,
                    float(row["m_eq_lower"]) - shift,
                    float(row["m_eq_upper"]) - shift,
                ),
                "n-law" if m is not None else "n-law m_eq",
                float(row["p_beats_scratch"]),
            )
    return None, "", math.nan


def _experiments_lever(plan: Decision | None, unit: str) -> tuple[bool, float, str]:
    """Whether the surface's experiments-only plan is cheaper than simulations only."""
    if plan is None:
        return False, math.nan, ""
    t = plan.table.set_index("plan")
    if "experiments only" not in t.index or "simulations only" not in t.index:
        return False, math.nan, ""
    exp, sim = t.loc["experiments only"], t.loc["simulations only"]
    exp_ok, sim_ok = bool(exp["feasible"]), bool(sim["feasible"])
    cheaper = (
        exp_ok and float(exp["dm"]) > 0 and (not sim_ok or float(exp["cost"]) < float(sim["cost"]))
    )
    words = ""
    if exp_ok:
        words = (
            f"{format_number(float(exp['dm']), sig=2)} more experiments reach it "
            f"(P {format_probability(float(exp['prob']))})"
        )
    return cheaper, float(exp["prob"]), words


#: Credible mass of every interval of the summary (the package's pinned interval).
SUMMARY_INTERVAL: Final[float] = CREDIBLE_INTERVAL
