"""Self-contained reports: HTML (plots embedded as base64 PNG) and the same as Markdown.

:func:`build_report` computes everything once -- figures rendered to PNG, tables formatted
-- into a frozen :class:`Report`; :meth:`Report.to_html` renders it through a Jinja2
template with autoescaping (names from user data are escaped), :meth:`Report.to_markdown`
writes the same content as Markdown (HTML-escaped, Markdown special characters
backslashed), and :meth:`Report.write` writes either atomically, chosen by the suffix.

Sections have stable ids: ``summary``, ``curves``, ``planning``, ``comparison``,
``diagnostics``, ``provenance``.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from bayes_scaling import __version__
from bayes_scaling.compare import ComparisonDecision
from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.curves import atomic_write_bytes, curves_hash
from bayes_scaling.decisions import (
    Decision,
    escape_markdown,
    format_number,
    formatted_rows,
    markdown_table,
    percent,
    summarise,
)
from bayes_scaling.exceptions import BayesScalingError, CurveSchemaError
from bayes_scaling.models.posterior import PARAMS, CurvePosterior
from bayes_scaling.planning import SampleSizeDecision
from bayes_scaling.plotting import (
    compute_curve_bands,
    compute_forest,
    compute_observed_points,
    plot_comparison,
    plot_error_surface,
    plot_forest,
    plot_learning_curves,
    plot_n_required,
    plot_style,
)
from bayes_scaling.tradeoffs import SurfaceGrid

#: Stable section ids, in report order.
SECTION_IDS: Final[tuple[str, ...]] = (
    "summary",
    "curves",
    "planning",
    "comparison",
    "surface",
    "diagnostics",
    "provenance",
)
TEMPLATE: Final[str] = "report.html.j2"
#: Diagnostics thresholds used for the verdict sentence.
MAX_RHAT: Final[float] = 1.01
MIN_ESS: Final[float] = 400.0
#: Most panels (properties) in the learning-curve figure and comparison heat maps drawn.
MAX_PANELS: Final[int] = 12
PNG_DPI: Final[int] = 110


# ====================================================================== report content
@dataclass(frozen=True)
class ReportFigure:
    """A figure rendered to PNG (base64 text) with its caption."""

    caption: str
    png_base64: str


@dataclass(frozen=True)
class ReportTable:
    """A table as display text: column names and rows of formatted cells."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @classmethod
    def from_frame(cls, caption: str, frame: pd.DataFrame) -> ReportTable:
        """Format every cell of ``frame`` (no index)."""
        return cls(
            caption,
            tuple(str(c) for c in frame.columns),
            tuple(tuple(r) for r in formatted_rows(frame)),
        )


@dataclass(frozen=True)
class ReportBlock:
    """One titled item of a section: a sentence, figures and tables."""

    title: str
    sentence: str = ""
    figures: tuple[ReportFigure, ...] = ()
    tables: tuple[ReportTable, ...] = ()


@dataclass(frozen=True)
class ReportSection:
    """A report section with a stable ``id``."""

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    blocks: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True)
class Report:
    """A rendered-once report; export with :meth:`to_html`, :meth:`to_markdown`, :meth:`write`.

    Attributes
    ----------
    title : str
        Report title.
    sections : tuple of ReportSection
        Sections in order, ids :data:`SECTION_IDS`.
    created : str
        Creation time (UTC, ISO 8601).

    """

    title: str
    sections: tuple[ReportSection, ...]
    created: str
    interval: float = field(default=CREDIBLE_INTERVAL)

    def section(self, section_id: str) -> ReportSection:
        """Return the section with id ``section_id``."""
        for s in self.sections:
            if s.id == section_id:
                return s
        raise BayesScalingError(f"No section {section_id!r}; sections: {SECTION_IDS}.")

    def to_html(self) -> str:
        """Render a self-contained HTML document (all user text escaped)."""
        return _template().render(
            title=self.title,
            created=self.created,
            version=__version__,
            interval=percent(self.interval),
            sections=self.sections,
        )

    def to_markdown(self) -> str:
        """Render the same content as Markdown (figures as base64 data URIs)."""
        out = [
            f"# {escape_markdown(self.title)}",
            "",
            f"*Generated {self.created} by bayes\\_scaling {__version__}; every interval is a "
            f"{percent(self.interval)} equal-tailed credible interval.*",
        ]
        for s in self.sections:
            out += ["", f'<a id="{s.id}"></a>', "", f"## {escape_markdown(s.title)}", ""]
            out += [line for p in s.paragraphs for line in (escape_markdown(p), "")]
            out += [f"- {escape_markdown(item)}" for item in s.items]
            for b in s.blocks:
                out += ["", f"### {escape_markdown(b.title)}", ""]
                if b.sentence:
                    out += [f"> {escape_markdown(b.sentence)}", ""]
                for f in b.figures:
                    out += [
                        f"![{escape_markdown(f.caption)}](data:image/png;base64,{f.png_base64})",
                        "",
                    ]
                for t in b.tables:
                    out += [
                        f"**{escape_markdown(t.caption)}**",
                        "",
                        markdown_table(t.columns, t.rows),
                        "",
                    ]
        return "\n".join(out).rstrip() + "\n"

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the report atomically: HTML for ``.html``/``.htm``, Markdown for ``.md``.

        Raises
        ------
        BayesScalingError
            Unsupported suffix.

        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            text = self.to_html()
        elif suffix in (".md", ".markdown"):
            text = self.to_markdown()
        else:
            raise BayesScalingError(
                f"Report file {path} has unsupported suffix {suffix!r}; use .html or .md."
            )
        atomic_write_bytes(path, text.encode("utf-8"))
        return path


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    text = resources.files("bayes_scaling").joinpath("templates", TEMPLATE).read_text("utf-8")
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.from_string(text)


# ====================================================================== building
def build_report(
    posterior: CurvePosterior,
    curves_table: pd.DataFrame | None = None,
    *,
    decisions: Sequence[Decision] = (),
    diagnostics: pd.DataFrame | None = None,
    provenance: Mapping[str, Any] | None = None,
    title: str = "bayes_scaling report",
    figures: bool = True,
    surface_grids: Sequence[SurfaceGrid] = (),
    surface_notes: Sequence[str] = (),
) -> Report:
    """Assemble a report of a posterior, its decisions, diagnostics and provenance.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    curves_table : pandas.DataFrame, optional
        Learning-curve table the posterior was fitted on (observed points in the plot and
        its hash in the provenance).
    decisions : sequence of Decision, optional
        Decisions from :mod:`bayes_scaling.planning` and :mod:`bayes_scaling.compare`;
        each goes to its section with its sentence, table and (for sample-size and
        comparison decisions) a figure.
    diagnostics : pandas.DataFrame, optional
        Convergence diagnostics (e.g. an ArviZ summary with ``r_hat`` and ``ess_bulk``).
    provenance : mapping, optional
        Data provenance (sources, versions, commands); shown as a key/value table.
    title : str, default "bayes_scaling report"
        Report title.
    figures : bool, default True
        Render figures (False: tables and sentences only).
    surface_grids : sequence of SurfaceGrid, optional
        Posterior error surfaces (:func:`bayes_scaling.tradeoffs.surface_grid`), drawn as
        contour plots in the "Simulations versus experiments" section, whose sentences are
        the ``section == "surface"`` decisions (:mod:`bayes_scaling.tradeoffs`).
    surface_notes : sequence of str, optional
        Paragraphs opening that section (e.g. the surface fit's convergence verdict).

    Returns
    -------
    Report

    Examples
    --------
    >>> report = build_report(posterior, decisions=[decision])  # doctest: +SKIP
    >>> report.write("report.html")  # doctest: +SKIP

    """
    if not isinstance(posterior, CurvePosterior):
        raise BayesScalingError(
            f"build_report needs a CurvePosterior, got {type(posterior).__name__}."
        )
    bad = [type(d).__name__ for d in decisions if not isinstance(d, Decision)]
    if bad:
        raise BayesScalingError(f"decisions must be Decision objects, got {bad}.")
    if diagnostics is not None and not isinstance(diagnostics, pd.DataFrame):
        raise BayesScalingError("diagnostics must be a pandas DataFrame or None.")
    if provenance is not None and not isinstance(provenance, Mapping):
        raise BayesScalingError("provenance must be a mapping or None.")
    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    diag_verdict = _diagnostics_verdict(diagnostics)
    sections = (
        _summary_section(posterior, decisions, diag_verdict),
        _curves_section(posterior, curves_table, figures=figures),
        _decision_section("planning", "Planning", decisions, figures=figures),
        _decision_section("comparison", "Comparison", decisions, figures=figures),
        _surface_section(decisions, surface_grids, surface_notes, figures=figures),
        _diagnostics_section(diagnostics, diag_verdict),
        _provenance_section(posterior, curves_table, provenance, created),
    )
    return Report(title=str(title), sections=sections, created=created)


def figure_to_base64(fig: MplFigure, *, dpi: int = PNG_DPI) -> str:
    """Render ``fig`` to PNG, close it and return the base64 text."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


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
        p = posterior.params(c, "normalised")
        for name in PARAMS:
            row.update({k: float(v) for k, v in summarise(p[name], name).items()})
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- sections
def _summary_section(
    posterior: CurvePosterior, decisions: Sequence[Decision], diag_verdict: str
) -> ReportSection:
    meta = posterior.curves
    kinds = ""
    if "kind" in meta:
        counts = meta["kind"].value_counts()
        kinds = " (" + ", ".join(f"{v} {k}" for k, v in counts.items()) + ")"
    what = [f"{len(meta)} learning curves{kinds}"]
    if "property" in meta:
        what.append(f"{meta['property'].nunique()} properties")
    if "database" in meta:
        dbs = sorted(str(d) for d in meta["database"].unique() if str(d) != "none")
        if dbs:
            what.append("databases " + ", ".join(dbs))
    paragraphs = (
        "; ".join(what) + f"; {posterior.n_samples:,} posterior draws per curve.",
        f"Model: error(n) = D n^-α + C; C is the transfer gap (the error more simulation "
        f"cannot remove). Every interval is a {percent(CREDIBLE_INTERVAL)} equal-tailed "
        f"credible interval.",
    )
    items = tuple(d.sentence for d in decisions) + ((diag_verdict,) if diag_verdict else ())
    return ReportSection("summary", "Summary", paragraphs=paragraphs, items=items)


def _curves_section(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None, *, figures: bool
) -> ReportSection:
    blocks = []
    if figures:
        curves_fig = _learning_curve_figure(posterior, curves_table)
        blocks.append(ReportBlock("Learning curves", figures=(curves_fig,)))
        group = "database" if "database" in posterior.curves else None
        fig, _ = plot_forest(compute_forest(posterior, group=group))
        caption = (
            f"Posterior median and {percent(CREDIBLE_INTERVAL)} interval of α and C "
            f"(normalised) per curve."
        )
        forest_fig = ReportFigure(caption, figure_to_base64(fig))
        blocks.append(ReportBlock("Decay rate and transfer gap", figures=(forest_fig,)))
    summary = ReportTable.from_frame(
        "Scaling-law parameters per curve (D and C normalised by the target scale)",
        posterior_summary(posterior),
    )
    blocks.append(ReportBlock("Posterior summary", tables=(summary,)))
    return ReportSection("curves", "Learning curves", blocks=tuple(blocks))


def _learning_curve_figure(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None
) -> ReportFigure:
    meta = posterior.curves
    panels = (
        list(dict.fromkeys(meta["property"].astype(str)))[:MAX_PANELS]
        if "property" in meta
        else ["all"]
    )
    bands = compute_curve_bands(posterior)
    observed = (
        compute_observed_points(curves_table, curves=posterior.curve_ids)
        if curves_table is not None
        else None
    )
    n_cols = min(len(panels), 3)
    n_rows = -(-len(panels) // n_cols)
    with plot_style():
        fig, axes = plt.subplots(
            n_rows,
            n_cols,
            figsize=(6.0 * n_cols, 4.2 * n_rows),
            squeeze=False,
            layout="constrained",
        )
        for ax, panel in zip(axes.ravel(), panels, strict=False):
            ids = (
                list(meta.index[meta["property"].astype(str) == panel])
                if panel != "all" or "property" in meta
                else posterior.curve_ids
            )
            plot_learning_curves(
                bands[bands["curve"].isin(ids)],
                observed=observed,
                ax=ax,
                title=panel if panel != "all" else None,
            )
        for ax in axes.ravel()[len(panels) :]:
            ax.set_visible(False)
    caption = (
        f"Posterior median (line), {percent(CREDIBLE_INTERVAL)} band, plateau C "
        f"(dashed) and observed errors (points), normalised by the target scale."
    )
    return ReportFigure(caption, figure_to_base64(fig))


def _decision_section(
    section_id: str, title: str, decisions: Sequence[Decision], *, figures: bool
) -> ReportSection:
    chosen = [d for d in decisions if d.section == section_id]
    blocks = tuple(_decision_block(d, figures=figures) for d in chosen)
    paragraphs = () if blocks else (f"No {title.lower()} decisions were included.",)
    return ReportSection(section_id, title, paragraphs=paragraphs, blocks=blocks)


def _surface_section(
    decisions: Sequence[Decision],
    grids: Sequence[SurfaceGrid],
    notes: Sequence[str],
    *,
    figures: bool,
) -> ReportSection:
    chosen = [d for d in decisions if d.section == "surface"]
    blocks = [_decision_block(d, figures=figures) for d in chosen]
    for grid in grids:
        figs: tuple[ReportFigure, ...] = ()
        if figures:
            fig, _ = plot_error_surface(grid)
            figs = (
                ReportFigure(
                    f"Posterior-median error over simulations n and experiments m, "
                    f"{grid.task}; white lines: iso-error contours (their slope is the "
                    "exchange rate); dots: the fitted (n, m).",
                    figure_to_base64(fig),
                ),
            )
        blocks.append(ReportBlock(f"Error surface: {grid.task}", "", figs, ()))
    paragraphs = tuple(notes)
    if not blocks:
        paragraphs += (
            "No (n, m) error surface was fitted (the curve table has no transfer curves at "
            "several experimental sizes m; the harness writes them with --m-fraction).",
        )
    return ReportSection(
        "surface", "Simulations versus experiments", paragraphs=paragraphs, blocks=tuple(blocks)
    )


def _decision_block(decision: Decision, *, figures: bool) -> ReportBlock:
    tables = [ReportTable.from_frame(decision.title, decision.table)]
    figs: list[ReportFigure] = []
    if isinstance(decision, ComparisonDecision):
        tables.append(ReportTable.from_frame("Pairwise probabilities", decision.pairwise))
        if figures:
            for ctx in decision.contexts[:MAX_PANELS]:
                fig, _ = plot_comparison(decision, quantity="C", context=ctx)
                figs.append(ReportFigure(f"P(C_row < C_column), {ctx}", figure_to_base64(fig)))
    if isinstance(decision, SampleSizeDecision) and figures:
        fig, _ = plot_n_required(decision)
        figs.append(
            ReportFigure("Posterior of the sample size needed per target.", figure_to_base64(fig))
        )
    return ReportBlock(decision.title, decision.sentence, tuple(figs), tuple(tables))


def _diagnostics_verdict(diagnostics: pd.DataFrame | None) -> str:
    if diagnostics is None or diagnostics.empty:
        return ""
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
        return ""
    verdict = (
        "no convergence problem flagged"
        if ok
        else f"convergence problem flagged (want r_hat ≤ {MAX_RHAT} and ESS ≥ {MIN_ESS:g}): "
        f"treat the decisions with caution"
    )
    return "Diagnostics: " + ", ".join(parts) + f"; {verdict}."


def _diagnostics_section(diagnostics: pd.DataFrame | None, verdict: str) -> ReportSection:
    if diagnostics is None:
        return ReportSection(
            "diagnostics",
            "Convergence diagnostics",
            paragraphs=("No convergence diagnostics were provided.",),
        )
    frame = diagnostics
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index(names=frame.index.name or "variable")
    table = ReportTable.from_frame("Convergence diagnostics", frame)
    return ReportSection(
        "diagnostics",
        "Convergence diagnostics",
        paragraphs=(verdict,) if verdict else (),
        blocks=(ReportBlock("Diagnostics table", tables=(table,)),),
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


def _provenance_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, float | np.floating):
        return format_number(float(value), sig=6)
    return str(value)
