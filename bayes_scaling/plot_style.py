"""The look every figure of the package shares: slide-readable style, colours, axes, text.

A light module (matplotlib only, no PyMC or ArviZ) so that modules which draw raw tables,
such as :mod:`bayes_scaling.first_look_plots`, import it without the model stack, and
:mod:`bayes_scaling.plotting` draws posteriors in the same style.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bayes_scaling.exceptions import BayesScalingError

#: Matplotlib settings used by every plot (large enough to read on a slide).
SLIDE_STYLE: Final[dict[str, Any]] = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "lines.linewidth": 2.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
#: Colours assigned to curves/groups in order of appearance.
PALETTE: Final[tuple[str, ...]] = tuple(plt.get_cmap("tab10").colors)  # type: ignore[attr-defined]
#: Default size of a one-panel figure, inches.
FIGSIZE: Final[tuple[float, float]] = (7.0, 4.5)
#: Opacity of credible and trial bands.
BAND_ALPHA: Final[float] = 0.2


@contextmanager
def plot_style() -> Iterator[None]:
    """Context manager applying :data:`SLIDE_STYLE`."""
    with plt.rc_context(SLIDE_STYLE):
        yield


def axes_of(ax: Axes | None, figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, Axes]:
    """``(fig, ax)``: a new constrained-layout figure when ``ax`` is None, else ``ax``'s own.

    Raises
    ------
    BayesScalingError
        If ``ax`` is neither None nor a matplotlib Axes.

    """
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    if not isinstance(ax, Axes):
        raise BayesScalingError(f"ax must be a matplotlib Axes, got {type(ax).__name__}.")
    return ax.figure, ax  # type: ignore[return-value]


def literal(text: Any) -> str:
    """Text drawn as is by matplotlib: ``$`` escaped so that mathtext never parses it."""
    return str(text).replace("$", r"\$")
