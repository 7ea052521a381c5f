"""The one-screen decision summary: one row per task and a recommendation in words.

This module holds the *decision logic* of the report's summary; rendering lives in
:mod:`bayes_scaling.reporting`. It provides

- readable names of tasks (``"Band gap · Materials Project → experiment"``) built from the
  curve metadata (:func:`readable_names`, :func:`task_name`);
- the targets the summary is about: parsed from ``PROPERTY=VALUE`` options
  (:func:`parse_targets`) or the documented default rule, :data:`DEFAULT_TARGET_FRACTION`
  of today's error (:func:`resolve_targets`), each with the rule that produced it;
- the recommendation rule (:func:`recommend`), a small pure function of posterior
  probabilities;
- :func:`summarise_tasks`, which reads the decisions the pipeline computed (sample size to
  the target, value of the next doubling, equivalent sample size, and the surface's
  cheapest plans) and returns one :class:`TaskSummary` per task, at the experimental size m
  the decision is about (the largest m measured for the task: today's experiments).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.decisions import (
    Decision,
    check_probability,
    format_number,
    format_probability,
    summarise,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models.posterior import CurvePosterior

#: Default target: this fraction of today's error (posterior median at the largest n).
DEFAULT_TARGET_FRACTION: Final[float] = 0.9
#: A doubling of n that lowers the error by less than this share of today's error means
#: the curve is at its plateau.
PLATEAU_GAIN: Final[float] = 0.01

#: Readable property names (others: underscores to spaces, first letter capitalised).
PROPERTY_NAMES: Final[dict[str, str]] = {
    "bandgap": "Band gap",
    "band_gap": "Band gap",
    "density": "Density",
    "tg": "Glass transition temperature",
    "chi": "Flory–Huggins χ",
}
#: Readable database names (others: underscores to spaces).
DATABASE_NAMES: Final[dict[str, str]] = {
    "materials_project": "Materials Project",
    "mp": "Materials Project",
    "aflow": "AFLOW",
    "oqmd": "OQMD",
    "radonpy": "RadonPy",
    "mafa_md": "MAFA MD",
    "md_tg": "MD (MAFA, HT, LT)",
    "cosmo_rs": "COSMO-RS",
    "pubchem": "PubChem",
}

Action = Literal["target_met", "experiments", "plateau", "simulate", "undecided"]
#: The words of each recommendation (shown in the summary table).
ACTION_WORDS: Final[dict[str, str]] = {
    "target_met": "stop: the target is already met",
    "experiments": "experiments are the cheaper lever",
    "plateau": "stop: the curve is at its plateau",
    "simulate": "produce more simulations",
    "undecided": "undecided: simulations may not reach the target",
}


# ====================================================================== names
def _text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def readable_property(name: object) -> str:
    """``"bandgap" -> "Band gap"``; unknown names: underscores to spaces, capitalised."""
    text = _text(name) or "error"
    if text.lower() in PROPERTY_NAMES:
        return PROPERTY_NAMES[text.lower()]
    text = text.replace("_", " ")
    return text[:1].upper() + text[1:]


def readable_database(name: object) -> str:
    """``"materials_project" -> "Materials Project"``; unknown names: underscores to spaces."""
    text = _text(name) or "source"
    return DATABASE_NAMES.get(text.lower(), text.replace("_", " "))


def task_name(row: Mapping[str, object] | pd.Series) -> str:
    """Readable name of a curve's task from its metadata row.

    Transfer: ``"Band gap · Materials Project → experiment"`` (a strategy other than
    ``finetune`` is appended in brackets); scratch: ``"Band gap · experiments only"``.
    """
    prop = readable_property(row.get("property"))
    if _text(row.get("kind")) == "scratch":
        return f"{prop} · experiments only (no simulations)"
    db = _text(row.get("database"))
    name = f"{prop} · {readable_database(db)} → experiment" if db and db != "none" else prop
    strategy = _text(row.get("strategy"))
    if strategy and strategy not in ("finetune", "scratch"):
        name += f" ({strategy.replace('_', ' ')})"
    return name


def experimental_sizes(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None = None
) -> dict[str, float | None]:
    """Experimental training size m of every curve (None where unknown).

    The curve metadata's ``m`` where set; for a full-split curve (no ``m``) the median
    ``n_train`` of its rows in ``curves_table``; scratch curves: None (their n *is* m).
    """
    from bayes_scaling.curves import curve_ids

    meta = posterior.curves
    n_train: dict[str, float] = {}
    if curves_table is not None and "n_train" in curves_table and len(curves_table):
        try:
            ids = curve_ids(curves_table)
        except (KeyError, ValueError):  # pragma: no cover - a table without key columns
            ids = None
        if ids is not None:
            values = pd.to_numeric(curves_table["n_train"], errors="coerce")
            n_train = values.groupby(ids.values).median().dropna().to_dict()
    out: dict[str, float | None] = {}
    for c in posterior.curve_ids:
        if "kind" in meta and meta.loc[c, "kind"] == "scratch":
            out[c] = None
            continue
        m = (
            pd.to_numeric(pd.Series([meta.loc[c, "m"]]), errors="coerce").iloc[0]
            if ("m" in meta)
            else np.nan
        )
        if pd.notna(m):
            out[c] = float(m)
        elif c in n_train:
            out[c] = float(n_train[c])
        else:
            out[c] = None
    return out


def _task_key(meta: pd.DataFrame, curve: str) -> tuple[str, ...]:
    """Key of a curve's task: its metadata key columns other than ``m``."""
    cols = [c for c in ("pair", "property", "database", "kind", "strategy", "metric") if c in meta]
    return tuple(str(meta.loc[curve, c]) for c in cols)


def readable_names(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None = None
) -> dict[str, str]:
    """Readable, unique name of every curve.

    :func:`task_name`, plus the metric where the posterior holds several, plus
    ``"at m = …"`` where a task was measured at several experimental sizes, plus the curve
    id as a last resort where names still collide.
    """
    meta = posterior.curves
    names = {c: task_name(meta.loc[c]) for c in posterior.curve_ids}
    if "metric" in meta and meta["metric"].nunique() > 1:
        names = {c: f"{n} ({str(meta.loc[c, 'metric']).upper()})" for c, n in names.items()}
    sizes = experimental_sizes(posterior, curves_table)
    by_task: dict[tuple[str, ...], list[str]] = {}
    for c in posterior.curve_ids:
        by_task.setdefault(_task_key(meta, c), []).append(c)
    for members in by_task.values():
        if len(members) > 1:
            for c in members:
                names[c] += f", {m_words(sizes[c])}"
    counts = pd.Series(list(names.values())).value_counts()
    return {c: (f"{n} [{c}]" if counts[n] > 1 else n) for c, n in names.items()}


def m_words(m: float | None) -> str:
    """``"at m = 3,680 experiments"`` (or ``"at the full experimental split"``)."""
    if m is None or not math.isfinite(m):
        return "at the full experimental split"
    return f"at m = {format_number(m, sig=4)} experiments"


def decision_curves(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None = None
) -> list[str]:
    """Return the transfer curve each summary row is about: per task, the one at the largest m.

    A task is a transfer curve's metadata without ``m``; its decision is about today's
    experimental size, the largest m measured (a full-split curve counts as the largest).
    Order: as in the posterior.
    """
    meta = posterior.curves
    transfer = [
        c for c in posterior.curve_ids if "kind" not in meta or meta.loc[c, "kind"] != "scratch"
    ]
    sizes = experimental_sizes(posterior, curves_table)
    full = "m" in meta
    best: dict[tuple[str, ...], str] = {}
    for c in transfer:
        key = _task_key(meta, c)

        def rank(curve: str) -> float:
            is_full = full and pd.isna(meta.loc[curve, "m"])
            return math.inf if is_full or sizes[curve] is None else float(sizes[curve])

        if key not in best or rank(c) > rank(best[key]):
            best[key] = c
    chosen = set(best.values())
    return [c for c in transfer if c in chosen]


# ====================================================================== targets
@dataclass(frozen=True)
class TargetChoice:
    """A target error with the rule that produced it.

    Attributes
    ----------
    value : float
        Target error (original units).
    rule : str
        How it was chosen, printed next to it: ``"set with --target"`` or the default rule
        as a formula of today's error (shown beside it), e.g. ``"default: today − 10 %"``.
    user : bool
        Whether the user set it.

    """

    value: float
    rule: str
    user: bool = False


_TARGET_RE = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*(\S+)\s*$")


def parse_targets(items: Sequence[str] | None) -> dict[str, float]:
    """Parse ``PROPERTY=VALUE`` options (``--target``) into ``{property: value}``.

    Raises
    ------
    BayesScalingError
        A malformed item, a value that is not a finite number > 0, or a property given
        twice with different values.

    Examples
    --------
    >>> parse_targets(["bandgap=0.4", "density = 0.05"])
    {'bandgap': 0.4, 'density': 0.05}

    """
    out: dict[str, float] = {}
    for item in items or ():
        match = _TARGET_RE.match(str(item))
        if not match:
            raise BayesScalingError(
                f"--target must look like PROPERTY=VALUE (e.g. bandgap=0.4), got {item!r}."
            )
        prop, raw = match.groups()
        try:
            value = float(raw)
        except ValueError:
            raise BayesScalingError(
                f"--target {item!r}: {raw!r} is not a number (want PROPERTY=VALUE)."
            ) from None
        if not (math.isfinite(value) and value > 0):
            raise BayesScalingError(
                f"--target {item!r}: the target error must be a finite number > 0."
            )
        if prop in out and out[prop] != value:
            raise BayesScalingError(f"--target gives property {prop!r} twice.")
        out[prop] = value
    return out


def today_error(posterior: CurvePosterior, curve: str) -> float:
    """Posterior-median error at the largest observed n (original units)."""
    n_max = float(posterior.curves.loc[curve, "n_max"])
    return float(np.median(posterior.expected_error(n_max, curve, scale="original")))


def resolve_targets(
    posterior: CurvePosterior,
    user: Mapping[str, float] | None = None,
    *,
    curves: Sequence[str] | None = None,
    fraction: float = DEFAULT_TARGET_FRACTION,
) -> dict[str, TargetChoice]:
    """Target of every transfer curve: the user's for its property, else the default rule.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws.
    user : mapping of str to float, optional
        Target per property (original units, > 0), e.g. from :func:`parse_targets`.
    curves : sequence of str, optional
        Curves to resolve; default every transfer curve.
    fraction : float, default :data:`DEFAULT_TARGET_FRACTION`
        Default rule: ``fraction`` × today's error (posterior median at the largest n).

    Raises
    ------
    UnknownNameError
        A user target names a property the posterior does not hold.
    BayesScalingError
        A user target that is not a finite number > 0.

    """
    meta = posterior.curves
    user = dict(user or {})
    props = sorted(str(p) for p in meta["property"].unique()) if "property" in meta else []
    unknown = sorted(p for p in user if p not in props)
    if unknown:
        raise UnknownNameError(
            f"--target names unknown property(ies) {unknown}; known: {', '.join(props) or 'none'}."
        )
    for p, v in user.items():
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise BayesScalingError(f"Target for {p!r} must be a finite number > 0, got {v!r}.")
    if curves is None:
        curves = [
            c for c in posterior.curve_ids if "kind" not in meta or meta.loc[c, "kind"] != "scratch"
        ]
    pct = format_number(100 * (1 - fraction), sig=3)
    out: dict[str, TargetChoice] = {}
    for c in curves:
        prop = str(meta.loc[c, "property"]) if "property" in meta else None
        if prop is not None and prop in user:
            out[c] = TargetChoice(float(user[prop]), "set with --target", user=True)
        else:
            rule = f"default: today\u00a0−\u00a0{pct}\u00a0%"  # no-break spaces: one line
            out[c] = TargetChoice(fraction * today_error(posterior, c), rule)
    return out


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
       probability ``prob``; probability ``p_at_n_needed``.
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
    if math.isfinite(n_needed):
        return _rec("simulate", p_at_n_needed, f"n ≈ {format_number(n_needed, sig=2)} reaches it")
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
        The fitted curve table (``n_train`` gives m of full-split curves).
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
    rows = []
    for c in decision_curves(posterior, curves_table):
        p = posterior.params(c, "original")
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
