"""Self-contained decision reports: the :class:`Report` and :func:`build_report`.

:func:`build_report` computes everything once -- the one-screen summary
(:mod:`bayes_scaling.summary`: one row per task with a recommendation in words), figures
rendered to PNG, tables formatted -- into a frozen :class:`Report`; :meth:`Report.to_html`
renders it through a Jinja2 template with autoescaping (names from user data are escaped),
:meth:`Report.to_markdown` writes the same structure as Markdown (HTML-escaped, Markdown
special characters backslashed, long details in ``<details>``), and :meth:`Report.write`
writes either atomically, chosen by the suffix.

Sections have stable ids, in order: ``summary`` (convergence first, then the table),
``planning`` (one part per task, headed with its readable name), ``curves``,
``comparison``, ``surface``, ``diagnostics``, ``provenance``, ``appendix`` (curve ids).

This module assembles and exports the report and is the public entry (it re-exports every
name it always had); the parts live one job per file:
:mod:`bayes_scaling.report_content` (the frozen parts a report holds),
:mod:`bayes_scaling.report_sections` (one builder per section),
:mod:`bayes_scaling.report_figures` (figures to base64 PNG, the learning-curve grid) and
:mod:`bayes_scaling.report_render` (HTML and Markdown rendering).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.curves import atomic_write_bytes
from bayes_scaling.decisions import Decision
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.posterior import CurvePosterior
from bayes_scaling.report_content import (
    SECTION_IDS,
    Alert,
    ReportBlock,
    ReportEntry,
    ReportFigure,
    ReportSection,
    ReportTable,
    SummaryTable,
)
from bayes_scaling.report_figures import (  # noqa: F401  (MAX_PANELS, PNG_DPI: re-exported)
    MAX_PANELS,
    PNG_DPI,
    figure_to_base64,
)
from bayes_scaling.report_render import (  # noqa: F401  (TEMPLATE: re-exported)
    TEMPLATE,
    render_html,
    render_markdown,
)
from bayes_scaling.report_sections import (  # noqa: F401  (ID_COLUMNS, MAX_*: re-exported)
    ID_COLUMNS,
    MAX_RHAT,
    MIN_ESS,
    _appendix_section,
    _comparison_section,
    _convergence_alerts,
    _curves_section,
    _diagnostics_section,
    _diagnostics_verdict,
    _planning_section,
    _provenance_section,
    _summary_section,
    _surface_section,
    posterior_summary,
)
from bayes_scaling.summary import TargetChoice, TaskSummary, readable_names, summarise_tasks
from bayes_scaling.tradeoffs import SurfaceGrid


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
    tasks : tuple of TaskSummary
        The numbers behind the summary table, one per row.

    """

    title: str
    sections: tuple[ReportSection, ...]
    created: str
    interval: float = field(default=CREDIBLE_INTERVAL)
    tasks: tuple[TaskSummary, ...] = ()

    def section(self, section_id: str) -> ReportSection:
        """Return the section with id ``section_id``."""
        for s in self.sections:
            if s.id == section_id:
                return s
        raise BayesScalingError(f"No section {section_id!r}; sections: {SECTION_IDS}.")

    def to_html(self) -> str:
        """Render a self-contained HTML document (all user text escaped)."""
        return render_html(self.title, self.created, self.interval, self.sections)

    def to_markdown(self) -> str:
        """Render the same structure as Markdown (figures as base64 data URIs)."""
        return render_markdown(self.title, self.created, self.interval, self.sections)

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
    targets: Mapping[str, TargetChoice] | None = None,
    convergence: Any = None,
    surface_convergence: Any = None,
    summary_notes: Sequence[str] = (),
) -> Report:
    """Assemble a decision report of a posterior, its decisions, diagnostics and provenance.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    curves_table : pandas.DataFrame, optional
        Learning-curve table the posterior was fitted on (observed points in the plot,
        ``n_train`` for the experimental size m, and its hash in the provenance).
    decisions : sequence of Decision, optional
        Decisions from :mod:`bayes_scaling.planning`, :mod:`bayes_scaling.compare` and
        :mod:`bayes_scaling.tradeoffs`; the summary table reads them
        (:func:`bayes_scaling.summary.summarise_tasks`) and each goes to its task's part
        of its section with its sentence, figure and (collapsed) table.
    diagnostics : pandas.DataFrame, optional
        Convergence diagnostics (e.g. an ArviZ summary with ``r_hat`` and ``ess_bulk``).
    provenance : mapping, optional
        Data provenance (sources, versions, commands); shown as a key/value table.
    title : str, default "bayes_scaling report"
        Report title.
    figures : bool, default True
        Render figures (False: tables and sentences only).
    surface_grids : sequence of SurfaceGrid, optional
        Posterior error surfaces (:func:`bayes_scaling.tradeoffs.surface_grid`), drawn
        beside their task's exchange-rate sentence in "Simulations versus experiments".
    surface_notes : sequence of str, optional
        Paragraphs opening that section (e.g. the surface fit's convergence verdict).
    targets : mapping of str to TargetChoice, optional
        Target per curve with its rule (:func:`bayes_scaling.summary.resolve_targets`),
        printed next to every target.
    convergence, surface_convergence : ConvergenceReport, optional
        Convergence of the n-law fit and of the surface fit the answers use; only ``.ok``
        and ``.message`` are read. A failed one is stated loudly above the summary table
        and its rows get no plain recommendation.
    summary_notes : sequence of str, optional
        Lines under the summary table (e.g. the costs behind "experiments are the cheaper
        lever").

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
    for name, rep in (("convergence", convergence), ("surface_convergence", surface_convergence)):
        if rep is not None and not (hasattr(rep, "ok") and hasattr(rep, "message")):
            raise BayesScalingError(f"{name} must have .ok and .message (a ConvergenceReport).")
    created = datetime.now(UTC).replace(microsecond=0).isoformat()
    diag_verdict, diag_ok = _diagnostics_verdict(diagnostics)
    converged = diag_ok and (convergence is None or bool(convergence.ok))
    surface_ok = surface_convergence is None or bool(surface_convergence.ok)
    tasks = summarise_tasks(
        posterior,
        decisions,
        targets=targets,
        curves_table=curves_table,
        converged=converged,
        surface_converged=surface_ok,
    )
    names = readable_names(posterior, curves_table)
    alerts = _convergence_alerts(convergence, surface_convergence, diag_verdict, diag_ok)
    sections = (
        _summary_section(posterior, tasks, alerts, summary_notes),
        _planning_section(posterior, decisions, names, tasks, figures=figures),
        _curves_section(posterior, curves_table, names, figures=figures),
        _comparison_section(decisions, figures=figures),
        _surface_section(decisions, surface_grids, surface_notes, tasks, figures=figures),
        _diagnostics_section(diagnostics, diag_verdict, convergence, surface_convergence),
        _provenance_section(posterior, curves_table, provenance, created),
        _appendix_section(posterior, names),
    )
    return Report(title=str(title), sections=sections, created=created, tasks=tasks)


__all__ = [
    "SECTION_IDS",
    "Alert",
    "Report",
    "ReportBlock",
    "ReportEntry",
    "ReportFigure",
    "ReportSection",
    "ReportTable",
    "SummaryTable",
    "build_report",
    "figure_to_base64",
    "posterior_summary",
]
