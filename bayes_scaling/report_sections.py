"""The report's sections, one builder each, from the posterior, its decisions and diagnostics.

In report order: ``summary`` (convergence alerts, then the one-screen table of
:mod:`bayes_scaling.summary`), ``planning`` (one block per task), ``curves`` (figures and
:func:`posterior_summary`), ``comparison``, ``surface``, ``diagnostics``, ``provenance``,
``appendix`` (curve ids). Each builder returns a
:class:`~bayes_scaling.report_content.ReportSection`;
:func:`bayes_scaling.reporting.build_report` calls them in order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from bayes_scaling import __version__
from bayes_scaling.compare import ComparisonDecision
from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.curves import curves_hash
from bayes_scaling.decisions import (
    Decision,
    ceil_significant,
    format_number,
    format_probability,
    percent,
    summarise,
    times_today_if_far,
    with_unit,
)
from bayes_scaling.exceptions import CurveSchemaError
from bayes_scaling.measured_change import RISE_SE
from bayes_scaling.models.posterior import PARAMS, CurvePosterior
from bayes_scaling.planning import SampleSizeDecision
from bayes_scaling.plotting import (
    compute_forest,
    plot_comparison,
    plot_error_surface,
    plot_forest,
    plot_n_required,
)
from bayes_scaling.report_content import (
    Alert,
    ReportBlock,
    ReportEntry,
    ReportFigure,
    ReportSection,
    ReportTable,
    SummaryTable,
)
from bayes_scaling.report_figures import MAX_PANELS, _learning_curve_figure, figure_to_base64
from bayes_scaling.summary import (
    PLATEAU_GAIN,
    TaskSummary,
    m_words,
    task_name,
)
from bayes_scaling.tradeoffs import SurfaceGrid

#: Diagnostics thresholds used for the verdict sentence.
MAX_RHAT: Final[float] = 1.01
MIN_ESS: Final[float] = 400.0
#: Columns of decision tables that only repeat the block's heading (ids go to the appendix).
ID_COLUMNS: Final[tuple[str, ...]] = ("curve", "scratch_curve", "task", "scale")


def posterior_summary(posterior: CurvePosterior) -> pd.DataFrame:
    """One row per curve: metadata, and median and interval of D, alpha, C (normalised).

    Columns: ``curve``, the metadata columns present among ``property, database, kind,
    metric, unit, n_max``, then ``{D,alpha,C}_{median,lower,upper}``.
    """
    meta_cols = [
        c
        for c in ("property", "database", "kind", "metric", "unit", "n_max")
        if c in posterior.curves
    ]
    rows = []
    for c in posterior.curve_ids:
        row: dict[str, Any] = {"curve": c, **posterior.curves.loc[c, meta_cols].to_dict()}
        p = posterior.params(c, "normalised", which="fit")
        for name in PARAMS:
            row.update({k: float(v) for k, v in summarise(p[name], name).items()})
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- the summary
def _convergence_alerts(
    convergence: Any, surface_convergence: Any, diag_verdict: str, diag_ok: bool
) -> tuple[Alert, ...]:
    alerts = []
    for label, rep in (
        ("The scaling-law fit (error vs n)", convergence),
        ("The (n, m) surface fit", surface_convergence),
    ):
        if rep is None:
            continue
        if rep.ok:
            alerts.append(Alert(f"{label} converged. {rep.message}"))
        else:
            alerts.append(
                Alert(
                    f"{label} DID NOT CONVERGE: every answer below that rests on it is "
                    f"marked NOT RELIABLE; refit (more tuning or draws) before acting on "
                    f"it. {rep.message}",
                    problem=True,
                )
            )
    if convergence is None and diag_verdict:
        alerts.append(Alert(diag_verdict, problem=not diag_ok))
    return tuple(alerts)


def _interval_text(iv: Any, unit: str = "", sig: int = 2) -> str:
    return (
        f"{with_unit(iv.median, unit, sig=sig)}\n"
        f"({format_number(iv.lower, sig=sig)}–{format_number(iv.upper, sig=sig)})"
    )


def _summary_cells(t: TaskSummary) -> tuple[str, ...]:
    dash = "—"
    task = f"{t.name}\n{m_words(t.m)}"
    now = f"{with_unit(t.error_now.median, t.unit, sig=3)}\nat n = {format_number(t.n_now, sig=3)}"
    if t.measured is not None and t.measured.rose:  # negative transfer: the law cannot follow
        rise = format_number(100 * t.measured.relative, sig=2)
        now += f"\nmeasured: rose {rise} % since n = {format_number(t.measured.n_first, sig=3)}"
    target = p_gap = needed = dash
    if t.target is not None:
        target = f"{with_unit(t.target.value, t.unit, sig=3)}\n{t.target.rule}"
        p_gap = f"{t.p_gap_below_target:.2f}"
        if t.more_needed == 0 and math.isfinite(t.n_needed):
            needed = "reached today"
        elif math.isfinite(t.n_needed):
            needed = (
                # a sample size needed is rounded up, as in the decision's sentence
                f"n ≈ {format_number(ceil_significant(t.n_needed), sig=2)}\n"
                f"({format_number(ceil_significant(t.more_needed), sig=2)} more)"
            )
            if (times := times_today_if_far(t.n_needed, t.n_now)) is not None:
                needed += f"\n{times}× today's n: far beyond the measured curve"
        else:
            needed = f"unreachable:\nP = {1 - t.p_gap_below_target:.2f}"
    gain = dash
    if t.doubling_gain is not None:
        gain = (
            f"−{with_unit(t.doubling_gain.median, t.unit, sig=2)} "
            f"({format_number(100 * t.doubling_relative, sig=2)} %)\n"
            f"({format_number(t.doubling_gain.lower, sig=2)}–"
            f"{format_number(t.doubling_gain.upper, sig=2)})"
        )
    worth = dash
    if t.worth is not None:
        if t.p_worth_unbounded >= 0.5:
            worth = f"more than any number\n(P = {t.p_worth_unbounded:.2f})"
        else:
            what = "m_eq" if t.worth_source == "n-law m_eq" else "≈"
            worth = f"{what} {format_number(t.worth.median, sig=2)} experiments\n" + (
                f"({format_number(t.worth.lower, sig=2)}–{format_number(t.worth.upper, sig=2)})"
            )
    if t.worth is not None and not t.worth_converged:
        worth += "\nNOT RELIABLE: fit did not converge"
    rec = dash
    if t.recommendation is not None:
        r = t.recommendation
        words = r.words[:1].upper() + r.words[1:]
        rec = f"{words}\nP {format_probability(r.probability)}: {r.reason}"
        if r.action == "experiments" and t.experiments_plan:
            rec += f"\n({t.experiments_plan})"
        if not t.converged:
            rec = (
                "NOT RELIABLE: the fit did not converge\n"
                f"(tentative: {r.words}, P {format_probability(r.probability)})"
            )
    elif t.target is None:
        rec = "no target planned"
    return (
        task,
        now,
        _interval_text(t.alpha),
        _interval_text(t.gap, t.unit, sig=3),
        target,
        p_gap,
        needed,
        gain,
        worth,
        rec,
    )


def _summary_table(tasks: Sequence[TaskSummary]) -> SummaryTable:
    probs = sorted({t.prob for t in tasks if not math.isnan(t.prob)})
    q = format_number(probs[0], sig=3) if len(probs) == 1 else "q"
    ci = percent(CREDIBLE_INTERVAL)
    columns = (
        "Task (experimental size m)",
        "Today's error",
        f"α, decay rate ({ci})",
        f"C, transfer gap ({ci})",
        "Target (rule)",
        "P(C < target)",
        f"n for the target (P ≥ {q})",
        f"Next doubling of n ({ci})",
        "Database worth in experiments",
        "Recommendation",
    )
    actions = tuple(
        ("unreliable" if not t.converged else t.recommendation.action)
        if t.recommendation is not None
        else "none"
        for t in tasks
    )
    return SummaryTable(
        f"One row per task, at today's experimental size m; every interval is a {ci} "
        "credible interval.",
        columns,
        tuple(_summary_cells(t) for t in tasks),
        actions,
    )


def _summary_section(
    posterior: CurvePosterior,
    tasks: Sequence[TaskSummary],
    alerts: Sequence[Alert],
    notes: Sequence[str],
) -> ReportSection:
    meta = posterior.curves
    what = f"{len(tasks)} task(s) from {len(meta)} learning curves"
    if "kind" in meta:
        counts = meta["kind"].value_counts()
        what += " (" + ", ".join(f"{v} {k}" for k, v in counts.items()) + ")"
    paragraphs = (
        f"{what}; {posterior.n_samples:,} posterior draws per curve. Model: error(n) = "
        "D n^-α + C; C is the transfer gap (the error more simulation cannot remove).",
    )
    gain = format_number(100 * PLATEAU_GAIN, sig=2)
    how = (
        "How the recommendation is chosen (first that applies): the target is already met "
        "with probability ≥ q → stop; the (n, m) surface reaches the target more cheaply "
        "with experiments only than with simulations only → experiments are the cheaper "
        f"lever; the transfer gap C is above the target, or doubling n gains < {gain} % of "
        "today's error, with probability ≥ q → stop: plateau; a finite n reaches the target "
        "with probability ≥ q → produce more simulations (unless the measured error rose "
        "with n: then undecided); otherwise undecided. Targets: set "
        "with --target PROPERTY=VALUE, else 10 % below today's error (the rule is printed "
        "next to each). Database worth: extra experiments a model trained from scratch "
        "needs to match the transfer model at m (from the (n, m) surface when fitted, else "
        "from the scratch curve)."
    )
    table = _summary_table(tasks) if tasks else None
    if table is None:
        paragraphs += ("No transfer curve: nothing to decide.",)
    rose = [t.name for t in tasks if t.measured is not None and t.measured.rose]
    if rose:
        notes = (*notes, _rise_note(rose))
    return ReportSection(
        "summary",
        "What to do, per task",
        paragraphs=paragraphs,
        alerts=tuple(alerts),
        summary=table,
        notes=(*notes, how),
    )


def _rise_note(names: Sequence[str]) -> str:
    """Return the note under the summary table when measured errors rose with n."""
    which = "; ".join(names)
    return (
        f"Measured error rose with n ({which}): the mean error over the trials at today's n "
        f"is above the one at the smallest n by more than {format_number(RISE_SE, sig=1)} "
        "standard errors (negative transfer: pretraining on the simulations measured so far "
        "made the fine-tuned model worse). The scaling law's error only falls with n, so it "
        "reads such a curve as flat, and its answers for that task say what more simulations "
        "would do if the curve started to fall, which the data do not show."
    )


# ---------------------------------------------------------------------- per task
def _decision_key(d: Decision) -> str | None:
    for col in ("curve", "task"):
        if col in d.table and len(d.table):
            return str(d.table[col].iloc[0])
    return None


def _details_table(d: Decision) -> ReportTable:
    frame = d.table.drop(columns=[c for c in ID_COLUMNS if c in d.table])
    return ReportTable.from_frame(d.title, frame)


def _planning_section(
    posterior: CurvePosterior,
    decisions: Sequence[Decision],
    names: Mapping[str, str],
    tasks: Sequence[TaskSummary],
    *,
    figures: bool,
) -> ReportSection:
    chosen = [d for d in decisions if d.section == "planning"]
    groups: dict[str, list[Decision]] = {}
    for d in chosen:
        groups.setdefault(_decision_key(d) or "", []).append(d)
    order = [t.curve for t in tasks] + [c for c in groups if c not in {t.curve for t in tasks}]
    m_of = {t.curve: t.m for t in tasks}
    blocks = []
    for key in order:
        if key not in groups:
            continue
        entries, details = [], []
        for d in groups[key]:
            figs: tuple[ReportFigure, ...] = ()
            if figures and isinstance(d, SampleSizeDecision):
                fig, _ = plot_n_required(d)
                figs = (
                    ReportFigure(
                        "Posterior of the n needed for the target; dashed: n reaching it with "
                        "the required probability; dotted: today's n.",
                        figure_to_base64(fig),
                    ),
                )
            entries.append(ReportEntry(d.sentence, figs))
            details.append(_details_table(d))
        title = names.get(key, "Other decisions") if key else "Other decisions"
        subtitle = m_words(m_of[key]) if key in m_of else ""
        blocks.append(ReportBlock(title, subtitle, tuple(entries), details=tuple(details)))
    paragraphs = () if blocks else ("No planning decisions were included.",)
    return ReportSection(
        "planning",
        "Per task: what more simulations buy",
        paragraphs=paragraphs,
        blocks=tuple(blocks),
    )


def _curves_section(
    posterior: CurvePosterior,
    curves_table: pd.DataFrame | None,
    names: Mapping[str, str],
    *,
    figures: bool,
) -> ReportSection:
    blocks = []
    if figures:
        curves_fig = _learning_curve_figure(posterior, curves_table, names)
        blocks.append(ReportBlock("Learning curves", figures=(curves_fig,)))
        group = "database" if "database" in posterior.curves else None
        forest = compute_forest(posterior, group=group)
        forest["label"] = forest["curve"].map(names)
        fig, _ = plot_forest(forest)
        caption = (
            f"Posterior median and {percent(CREDIBLE_INTERVAL)} interval of α and C "
            f"(normalised by the property's standard deviation) per curve."
        )
        forest_fig = ReportFigure(caption, figure_to_base64(fig))
        blocks.append(ReportBlock("Decay rate and transfer gap", figures=(forest_fig,)))
    frame = posterior_summary(posterior)
    frame.insert(0, "task", frame["curve"].map(names))
    frame = frame.drop(columns=["curve"])
    summary = ReportTable.from_frame(
        "Scaling-law parameters per curve (D and C normalised by the target scale)", frame
    )
    blocks.append(ReportBlock("Posterior summary", details=(summary,)))
    return ReportSection("curves", "Learning curves", blocks=tuple(blocks))


def _comparison_section(decisions: Sequence[Decision], *, figures: bool) -> ReportSection:
    blocks = []
    for d in decisions:
        if d.section != "comparison":
            continue
        figs: list[ReportFigure] = []
        details = [_details_table(d)]
        if isinstance(d, ComparisonDecision):
            details.append(ReportTable.from_frame("Pairwise probabilities", d.pairwise))
            if figures:
                for ctx in d.contexts[:MAX_PANELS]:
                    fig, _ = plot_comparison(d, quantity="C", context=ctx)
                    figs.append(ReportFigure(f"P(C_row < C_column), {ctx}", figure_to_base64(fig)))
        blocks.append(
            ReportBlock(
                d.title, entries=(ReportEntry(d.sentence, tuple(figs)),), details=tuple(details)
            )
        )
    paragraphs = () if blocks else ("No comparison decisions were included.",)
    return ReportSection(
        "comparison", "Which database transfers best", paragraphs=paragraphs, blocks=tuple(blocks)
    )


def _surface_name(task: str) -> str:
    parts = task.split("|")
    row = {"property": parts[0], "kind": "transfer"}
    if len(parts) > 1:
        row["database"] = parts[1]
    if len(parts) > 2:
        row["strategy"] = parts[2]
    return task_name(row)


def _surface_section(
    decisions: Sequence[Decision],
    grids: Sequence[SurfaceGrid],
    notes: Sequence[str],
    tasks: Sequence[TaskSummary],
    *,
    figures: bool,
) -> ReportSection:
    chosen = [d for d in decisions if d.section == "surface"]
    grid_of = {g.task: g for g in grids}
    groups: dict[str, list[Decision]] = {}
    blocks: list[ReportBlock] = []
    for d in chosen:
        key = _decision_key(d)
        if key is None:  # e.g. the form comparison: a block of its own
            blocks.append(
                ReportBlock(
                    d.title, entries=(ReportEntry(d.sentence),), details=(_details_table(d),)
                )
            )
        else:
            groups.setdefault(key, []).append(d)
    for task in list(groups) + [t for t in grid_of if t not in groups]:
        entries, details = [], []
        grid_fig: tuple[ReportFigure, ...] = ()
        if figures and task in grid_of:
            fig, ax = plot_error_surface(grid_of[task])
            ax.set_title(_surface_name(task))
            grid_fig = (
                ReportFigure(
                    "Posterior-median error over simulations n and experiments m; white "
                    "lines: iso-error contours (their slope is the exchange rate); dots: the "
                    "fitted (n, m).",
                    figure_to_base64(fig),
                ),
            )
        for i, d in enumerate(groups.get(task, [])):
            entries.append(ReportEntry(d.sentence, grid_fig if i == 0 else ()))
            details.append(_details_table(d))
        if not entries and grid_fig:
            entries.append(ReportEntry("Error surface.", grid_fig))
        subtitle = ""
        if task in groups and "m" in groups[task][0].table:
            subtitle = m_words(float(groups[task][0].table["m"].iloc[0]))
        blocks.append(
            ReportBlock(_surface_name(task), subtitle, tuple(entries), details=tuple(details))
        )
    paragraphs = tuple(notes)
    if not blocks:
        paragraphs += (
            "No (n, m) error surface was fitted (the curve table has no transfer curves at "
            "several experimental sizes m; the harness writes them with --m-fraction).",
        )
    return ReportSection(
        "surface", "Simulations versus experiments", paragraphs=paragraphs, blocks=tuple(blocks)
    )


# ---------------------------------------------------------------------- diagnostics etc.
def _diagnostics_verdict(diagnostics: pd.DataFrame | None) -> tuple[str, bool]:
    """Verdict sentence on a diagnostics table and whether it passed."""
    if diagnostics is None or diagnostics.empty:
        return "", True
    parts, ok = [], True
    if "r_hat" in diagnostics:
        r = float(pd.to_numeric(diagnostics["r_hat"], errors="coerce").max())
        ok &= bool(r <= MAX_RHAT)
        parts.append(f"max r_hat = {format_number(r, sig=4)}")
    ess_cols = [c for c in ("ess_bulk", "ess_tail") if c in diagnostics]
    for c in ess_cols:
        e = float(pd.to_numeric(diagnostics[c], errors="coerce").min())
        ok &= bool(e >= MIN_ESS)
        parts.append(f"min {c} = {format_number(e, sig=3)}")
    if not parts:
        return "", True
    verdict = (
        "no convergence problem flagged"
        if ok
        else f"convergence problem flagged (want r_hat ≤ {MAX_RHAT} and ESS ≥ {MIN_ESS:g}): "
        f"treat the decisions with caution"
    )
    return "Diagnostics: " + ", ".join(parts) + f"; {verdict}.", ok


def _diagnostics_section(
    diagnostics: pd.DataFrame | None, verdict: str, convergence: Any, surface_convergence: Any
) -> ReportSection:
    paragraphs = tuple(
        f"{label}: {rep.message}"
        for label, rep in (("Scaling-law fit", convergence), ("Surface fit", surface_convergence))
        if rep is not None
    )
    if diagnostics is None:
        return ReportSection(
            "diagnostics",
            "Convergence diagnostics",
            paragraphs=paragraphs or ("No convergence diagnostics were provided.",),
        )
    frame = diagnostics
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index(names=frame.index.name or "variable")
    table = ReportTable.from_frame("Convergence diagnostics", frame)
    return ReportSection(
        "diagnostics",
        "Convergence diagnostics",
        paragraphs=paragraphs + ((verdict,) if verdict else ()),
        blocks=(ReportBlock("Diagnostics per parameter", details=(table,)),),
    )


def _provenance_section(
    posterior: CurvePosterior,
    curves_table: pd.DataFrame | None,
    provenance: Mapping[str, Any] | None,
    created: str,
) -> ReportSection:
    entries: dict[str, Any] = dict(provenance or {})
    entries.setdefault("bayes_scaling version", __version__)
    entries.setdefault("report created (UTC)", created)
    entries.setdefault("credible interval", percent(CREDIBLE_INTERVAL) + " equal-tailed")
    entries.setdefault("posterior draws", posterior.n_samples)
    entries.setdefault("curves", len(posterior.curves))
    if curves_table is not None:
        entries.setdefault("curve table rows", len(curves_table))
        try:
            entries.setdefault("curve table hash", curves_hash(curves_table))
        except CurveSchemaError:
            entries.setdefault("curve table hash", "n/a (table does not pass validation)")
    frame = pd.DataFrame(
        {
            "item": [str(k) for k in entries],
            "value": [_provenance_value(v) for v in entries.values()],
        }
    )
    return ReportSection(
        "provenance",
        "Data provenance",
        blocks=(ReportBlock("Provenance", tables=(ReportTable.from_frame("Provenance", frame),)),),
    )


def _appendix_section(posterior: CurvePosterior, names: Mapping[str, str]) -> ReportSection:
    frame = pd.DataFrame(
        {"name": [names[c] for c in posterior.curve_ids], "curve id": posterior.curve_ids}
    )
    table = ReportTable.from_frame("Readable names and curve ids", frame)
    return ReportSection(
        "appendix",
        "Appendix: curve ids",
        paragraphs=(
            "The command line (plan --curve, surface plan --task) takes these ids; surface "
            "task ids are property|database|strategy.",
        ),
        blocks=(ReportBlock("Curve ids", details=(table,)),),
    )


def _provenance_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, float | np.floating):
        return format_number(float(value), sig=6)
    return str(value)
