"""Render a report's content as a self-contained HTML document or as Markdown.

HTML goes through a Jinja2 template (``templates/report.html.j2``) with autoescaping, so
names from user data are escaped; Markdown writes the same structure (HTML-escaped,
Markdown special characters backslashed, long details in ``<details>``, figures as base64
data URIs). :meth:`bayes_scaling.reporting.Report.to_html` and
:meth:`~bayes_scaling.reporting.Report.to_markdown` call :func:`render_html` and
:func:`render_markdown`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Final

import jinja2

from bayes_scaling import __version__
from bayes_scaling.decisions import escape_markdown, markdown_table, percent
from bayes_scaling.report_content import ReportBlock, ReportFigure, ReportSection

TEMPLATE: Final[str] = "report.html.j2"


def render_html(
    title: str, created: str, interval: float, sections: Sequence[ReportSection]
) -> str:
    """Render a self-contained HTML document (all user text escaped).

    Parameters
    ----------
    title : str
        Report title.
    created : str
        Creation time (UTC, ISO 8601).
    interval : float
        Credible mass of every interval in the report.
    sections : sequence of ReportSection
        Sections in order.

    Returns
    -------
    str
        The HTML document.

    """
    return _template().render(
        title=title,
        created=created,
        version=__version__,
        interval=percent(interval),
        sections=sections,
    )


def render_markdown(
    title: str, created: str, interval: float, sections: Sequence[ReportSection]
) -> str:
    """Render the same structure as Markdown (figures as base64 data URIs).

    Parameters are those of :func:`render_html`; returns the Markdown text.
    """
    out = [
        f"# {escape_markdown(title)}",
        "",
        f"*Generated {created} by bayes\\_scaling {__version__}; every interval is a "
        f"{percent(interval)} equal-tailed credible interval.*",
        "",
        " · ".join(f"[{escape_markdown(s.title)}](#{s.id})" for s in sections),
    ]
    for s in sections:
        out += ["", f'<a id="{s.id}"></a>', "", f"## {escape_markdown(s.title)}", ""]
        for a in s.alerts:
            mark = "**⚠ " if a.problem else "✓ "
            end = "**" if a.problem else ""
            out += [f"> {mark}{escape_markdown(a.text)}{end}", ""]
        out += [line for p in s.paragraphs for line in (escape_markdown(p), "")]
        if s.summary is not None:
            rows = [tuple(_md_cell(c) for c in r) for r in s.summary.rows]
            out += [
                f"**{escape_markdown(s.summary.caption)}**",
                "",
                markdown_table(s.summary.columns, rows),
                "",
            ]
        out += [line for p in s.notes for line in (f"*{escape_markdown(p)}*", "")]
        out += [f"- {escape_markdown(item)}" for item in s.items]
        for b in s.blocks:
            out += _block_markdown(b)
    return "\n".join(out).rstrip() + "\n"


def _md_cell(text: str) -> str:
    """One Markdown cell from multi-line text: lines joined by " — " (a space before "(")."""
    out = ""
    for line in (ln for ln in str(text).split("\n") if ln):
        if out:
            out += " " if line.startswith("(") or out.endswith(":") else " — "
        out += line
    return out


def _block_markdown(b: ReportBlock) -> list[str]:
    out = ["", f"### {escape_markdown(b.title)}", ""]
    if b.subtitle:
        out += [f"*{escape_markdown(b.subtitle)}*", ""]
    for e in b.entries:
        out += [f"> {escape_markdown(e.sentence)}", ""]
        out += [_md_figure(f) for f in e.figures]
    out += [_md_figure(f) for f in b.figures]
    for t in b.tables:
        out += [f"**{escape_markdown(t.caption)}**", "", markdown_table(t.columns, t.rows), ""]
    if b.details:
        out += ["<details>", "<summary>Tables: every number behind this part</summary>", ""]
        for t in b.details:
            out += [
                f"**{escape_markdown(t.caption)}**",
                "",
                markdown_table(t.columns, t.rows),
                "",
            ]
        out += ["</details>", ""]
    return out


def _md_figure(f: ReportFigure) -> str:
    return (
        f"![{escape_markdown(f.caption)}](data:image/png;base64,{f.png_base64})\n\n"
        f"*{escape_markdown(f.caption)}*\n"
    )


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
