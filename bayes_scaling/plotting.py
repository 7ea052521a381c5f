"""Plots: compute a tidy table first, draw it second.

``compute_*`` functions turn a :class:`~bayes_scaling.models.posterior.CurvePosterior` (or
a learning-curve table) into a tidy DataFrame; ``plot_*`` functions draw such a table or a
decision object. Every ``plot_*`` function takes ``ax=`` (or creates its own figure),
returns ``(fig, ax)`` (``(fig, axes)`` for multi-panel plots), never recomputes posterior
quantities and never calls ``plt.show()``. All bands are the pinned
:data:`~bayes_scaling.constants.CREDIBLE_INTERVAL`; a shared slide-readable style
(:data:`SLIDE_STYLE`) is applied to everything drawn. User names are drawn literally: a
``$`` in a property or database name never triggers mathtext.

The figures live in two modules: :mod:`bayes_scaling.plot_curves` (learning curves) and
:mod:`bayes_scaling.plot_decisions` (forest plots, sample size to a target, pairwise
comparisons, the error surface); import them from here.
"""

from bayes_scaling.plot_curves import (
    compute_curve_bands,
    compute_observed_points,
    curve_labels,
    plot_learning_curves,
)
from bayes_scaling.plot_decisions import (
    N_PLOT_MAX,
    ForestParam,
    compute_forest,
    plot_comparison,
    plot_error_surface,
    plot_forest,
    plot_n_required,
)
from bayes_scaling.plot_style import FIGSIZE, SLIDE_STYLE, plot_style

__all__ = [
    "FIGSIZE",
    "N_PLOT_MAX",
    "SLIDE_STYLE",
    "ForestParam",
    "compute_curve_bands",
    "compute_forest",
    "compute_observed_points",
    "curve_labels",
    "plot_comparison",
    "plot_error_surface",
    "plot_forest",
    "plot_learning_curves",
    "plot_n_required",
    "plot_style",
]
