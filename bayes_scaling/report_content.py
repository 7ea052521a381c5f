"""What a report holds: frozen display-ready parts (figures, tables, blocks, sections).

Everything here is already formatted text (or a base64 PNG), so rendering
(:mod:`bayes_scaling.report_render`) only lays it out. The sections are built by
:mod:`bayes_scaling.report_sections`; the whole :class:`~bayes_scaling.reporting.Report`
and :func:`~bayes_scaling.reporting.build_report` live in :mod:`bayes_scaling.reporting`,
which re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pandas as pd

from bayes_scaling.decisions import formatted_rows

#: Stable section ids, in report order.
SECTION_IDS: Final[tuple[str, ...]] = (
    "summary",
    "planning",
    "curves",
    "comparison",
    "surface",
    "diagnostics",
    "provenance",
    "appendix",
)


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
        """Format every cell of ``frame`` (no index; 3 significant figures)."""
        return cls(
            caption,
            tuple(str(c) for c in frame.columns),
            tuple(tuple(r) for r in formatted_rows(frame)),
        )


@dataclass(frozen=True)
class ReportEntry:
    """One sentence with the figures that support it (drawn beside it)."""

    sentence: str
    figures: tuple[ReportFigure, ...] = ()


@dataclass(frozen=True)
class ReportBlock:
    """One titled part of a section.

    Attributes
    ----------
    title : str
        Heading (a readable task name, never a curve id).
    subtitle : str
        One line under the heading (e.g. the experimental size m).
    entries : tuple of ReportEntry
        Sentences, each with its figures beside it.
    figures : tuple of ReportFigure
        Full-width figures.
    tables : tuple of ReportTable
        Tables shown open.
    details : tuple of ReportTable
        Tables in a collapsed ``<details>`` element.

    """

    title: str
    subtitle: str = ""
    entries: tuple[ReportEntry, ...] = ()
    figures: tuple[ReportFigure, ...] = ()
    tables: tuple[ReportTable, ...] = ()
    details: tuple[ReportTable, ...] = ()

    @property
    def sentence(self) -> str:
        """All sentences of the block, joined."""
        return " ".join(e.sentence for e in self.entries)


@dataclass(frozen=True)
class Alert:
    """A line stated above the summary table; ``problem`` ones are shown loudly."""

    text: str
    problem: bool = False


@dataclass(frozen=True)
class SummaryTable:
    """The one-screen summary: display text, one row per task, and each row's action."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class ReportSection:
    """A report section with a stable ``id``."""

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    blocks: tuple[ReportBlock, ...] = ()
    alerts: tuple[Alert, ...] = ()
    summary: SummaryTable | None = None
    notes: tuple[str, ...] = ()
