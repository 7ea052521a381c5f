"""Report figures: matplotlib figures rendered to base64 PNG, and the learning-curve grid.

:func:`figure_to_base64` turns any figure into the text a
:class:`~bayes_scaling.report_content.ReportFigure` embeds; ``_learning_curve_figure`` draws
one panel per property (:mod:`bayes_scaling.plotting`) for the "Learning curves" section.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Final

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.decisions import percent
from bayes_scaling.models.posterior import CurvePosterior
from bayes_scaling.plotting import (
    compute_curve_bands,
    compute_observed_points,
    plot_learning_curves,
    plot_style,
)
from bayes_scaling.report_content import ReportFigure
from bayes_scaling.summary import readable_property

#: Most panels (properties) in the learning-curve figure and comparison heat maps drawn.
MAX_PANELS: Final[int] = 12
PNG_DPI: Final[int] = 110


def figure_to_base64(fig: MplFigure, *, dpi: int = PNG_DPI) -> str:
    """Render ``fig`` to PNG, close it and return the base64 text."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _learning_curve_figure(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None, names: Mapping[str, str]
) -> ReportFigure:
    meta = posterior.curves
    panels = (
        list(dict.fromkeys(meta["property"].astype(str)))[:MAX_PANELS]
        if "property" in meta
        else ["all"]
    )
    bands = compute_curve_bands(posterior)
    bands["label"] = bands["curve"].map(names)
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
                title=readable_property(panel) if panel != "all" else None,
            )
        for ax in axes.ravel()[len(panels) :]:
            ax.set_visible(False)
    caption = (
        f"Posterior median (line), {percent(CREDIBLE_INTERVAL)} band, plateau C "
        f"(dashed) and observed errors (points), normalised by the target scale."
    )
    return ReportFigure(caption, figure_to_base64(fig))
