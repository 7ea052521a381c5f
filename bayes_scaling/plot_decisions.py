"""Decision plots: forest plots, sample size to a target, pairwise comparisons, error surface.

Part of :mod:`bayes_scaling.plotting` (the public entry; see its docstring for the rules
every plot follows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bayes_scaling.compare import ComparisonDecision, Quantity
from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.decisions import format_number, percent, summarise
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.posterior import PARAMS, CurvePosterior, Scale
from bayes_scaling.planning import SampleSizeDecision
from bayes_scaling.plot_curves import _color, _require, _selected, curve_labels
from bayes_scaling.plot_style import axes_of as _axes
from bayes_scaling.plot_style import (
    literal,
    plot_style,
)
from bayes_scaling.tradeoffs import SurfaceGrid

ForestParam = Literal["D", "alpha", "C"]


# ====================================================================== forest plots
def compute_forest(
    posterior: CurvePosterior,
    *,
    params: Sequence[ForestParam] = ("alpha", "C"),
    group: str | None = None,
    curves: Sequence[str] | None = None,
    scale: Scale = "normalised",
) -> pd.DataFrame:
    """Posterior median and credible interval of parameters per curve, for a forest plot.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws.
    params : sequence of {"D", "alpha", "C"}, default ("alpha", "C")
        Parameters to summarise.
    group : str, optional
        Metadata column used to colour and order rows (e.g. ``"database"``).
    curves : sequence of str, optional
        Curves to include; default all.
    scale : {"normalised", "original"}, default "normalised"
        Scale of ``D`` and ``C``.

    Returns
    -------
    pandas.DataFrame
        Columns ``curve, label, group, param, median, lower, upper``.

    """
    ids = _selected(posterior, curves)
    bad = [p for p in params if p not in PARAMS]
    if bad or not params:
        raise BayesScalingError(f"params must be a non-empty subset of {PARAMS}, got {params!r}.")
    if group is not None and group not in posterior.curves:
        raise BayesScalingError(
            f"group {group!r} is not a metadata column; columns: {list(posterior.curves.columns)}."
        )
    labels = curve_labels(posterior, ids)
    if group is not None:
        ids = sorted(ids, key=lambda c: str(posterior.curves.loc[c, group]))
    rows = []
    for p in params:
        for c in ids:
            s = summarise(posterior.params(c, scale, which="fit")[p], "v")
            rows.append(
                {
                    "curve": c,
                    "label": labels[c],
                    "group": str(posterior.curves.loc[c, group]) if group else labels[c],
                    "param": p,
                    "median": float(s["v_median"]),
                    "lower": float(s["v_lower"]),
                    "upper": float(s["v_upper"]),
                }
            )
    return pd.DataFrame(rows)


_PARAM_LABELS = {"alpha": "α (decay rate)", "C": "C (transfer gap)", "D": "D (scale)"}


def plot_forest(
    forest: pd.DataFrame,
    *,
    ax: Axes | Sequence[Axes] | None = None,
) -> tuple[Figure, np.ndarray]:
    """Forest plot: one panel per parameter, one row per curve, coloured by group.

    Each panel draws the intervals as one line collection and the medians as one point
    collection.

    Parameters
    ----------
    forest : pandas.DataFrame
        Output of :func:`compute_forest`.
    ax : Axes or sequence of Axes, optional
        One Axes per parameter in ``forest`` (a single Axes for a single parameter);
        default a new figure with one panel per parameter.

    Returns
    -------
    (Figure, numpy.ndarray of Axes)

    """
    _require(forest, ["curve", "label", "group", "param", "median", "lower", "upper"], "forest")
    params = list(dict.fromkeys(forest["param"]))
    with plot_style():
        if ax is None:
            n_rows = forest["curve"].nunique()
            fig, axes = plt.subplots(
                1,
                len(params),
                sharey=True,
                squeeze=False,
                figsize=(3.6 * len(params) + 1.5, 0.45 * n_rows + 1.6),
                layout="constrained",
            )
            axes = axes[0]
        else:
            axes = np.atleast_1d(np.asarray(ax, dtype=object))
            if len(axes) != len(params) or not all(isinstance(a, Axes) for a in axes):
                raise BayesScalingError(
                    f"ax must hold one Axes per parameter ({len(params)}: {params})."
                )
            fig = axes[0].figure
        groups = list(dict.fromkeys(forest["group"]))
        colors = {g: _color(i) for i, g in enumerate(groups)}
        for a, p in zip(axes, params, strict=True):
            sub = forest[forest["param"] == p].reset_index(drop=True)
            y = np.arange(len(sub))[::-1]
            col = [colors[g] for g in sub["group"]]
            a.hlines(y, sub["lower"], sub["upper"], colors=col, linewidth=2.5)
            a.scatter(sub["median"], y, color=col, s=36, zorder=3)
            a.set_yticks(y, [literal(lab) for lab in sub["label"]])
            a.set_xlabel(_PARAM_LABELS.get(p, p))
            a.set_ylim(-0.7, len(sub) - 0.3)
        axes[0].set_title(f"median and {percent(CREDIBLE_INTERVAL)} interval", loc="left")
    return fig, np.asarray(axes, dtype=object)


# ====================================================================== n required
#: Largest n drawn by :func:`plot_n_required` (larger draws fall in its last bin).
N_PLOT_MAX: float = 1e12


def plot_n_required(
    decision: SampleSizeDecision,
    *,
    bins: int = 40,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Histogram of the posterior of the n needed for each target of a decision.

    Per target with finite draws: one filled histogram and a dashed line at the n needed
    with the decision's probability; plus one dotted line at the current ``n_max``. The
    axis stops at :data:`N_PLOT_MAX`; larger (finite) draws, which nearly flat curves
    produce, are counted in the last bin.
    Targets that are unreachable in every draw appear only in the legend, with
    ``P(unreachable)``.

    Parameters
    ----------
    decision : SampleSizeDecision
        Output of :func:`bayes_scaling.planning.sample_size_for_target`.
    bins : int, default 40
        Number of logarithmic bins.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    (Figure, Axes)

    """
    if not isinstance(decision, SampleSizeDecision):
        raise BayesScalingError(
            f"plot_n_required needs a SampleSizeDecision, got {type(decision).__name__}."
        )
    table = decision.table
    with plot_style():
        fig, ax = _axes(ax)
        finite = decision.draws[np.isfinite(decision.draws)]
        lo = min(max(float(finite.min()) if finite.size else 1.0, 1.0), N_PLOT_MAX / 10)
        hi = min(max(float(finite.max()) if finite.size else 10.0, lo * 10), N_PLOT_MAX)
        edges = np.geomspace(lo, hi, bins + 1)
        handles = []
        for j, row in table.reset_index(drop=True).iterrows():
            color = _color(int(j))
            draws = decision.draws[:, j]
            name = f"target {format_number(row['target'], sig=3)}"
            if row["unit"]:
                name += f" {row['unit']}"
            name += f" (P(unreachable) = {row['p_unreachable']:.2f})"
            if np.isfinite(draws).any():
                ax.hist(
                    np.minimum(draws[np.isfinite(draws)], hi),  # beyond the axis: last bin
                    bins=edges,
                    color=color,
                    alpha=0.45,
                    histtype="stepfilled",
                    weights=np.full(np.isfinite(draws).sum(), 1.0 / len(draws)),
                )
            if np.isfinite(row["n_at_prob"]) and row["n_at_prob"] <= hi:
                ax.axvline(row["n_at_prob"], color=color, linestyle="--")
            handles.append(
                Line2D([], [], color=color, linewidth=6, alpha=0.45, label=literal(name))
            )
        ax.axvline(table["n_max"].iloc[0], color="0.2", linestyle=":")
        handles.append(Line2D([], [], color="0.2", linestyle=":", label="current n"))
        handles.append(
            Line2D(
                [], [], color="0.4", linestyle="--", label=f"n with P ≥ {table['prob'].iloc[0]:g}"
            )
        )
        ax.set_xscale("log")
        ax.set_xlabel("n needed")
        ax.set_ylabel("posterior probability")
        ax.set_title("Sample size needed to reach the target")
        ax.legend(handles=handles, loc="best")
    return fig, ax


# ====================================================================== comparison
_MATRIX_TITLES = {
    "C": "P(C_row < C_column)",
    "alpha": "P(α_row > α_column)",
    "error": "P(error_row(n) < error_column(n))",
}


def plot_comparison(
    decision: ComparisonDecision,
    *,
    quantity: Quantity = "C",
    context: str | None = None,
    colorbar: bool = True,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Heat map of the pairwise probabilities of a comparison (row beats column).

    Draws one image with the probability written in every off-diagonal cell.

    Parameters
    ----------
    decision : ComparisonDecision
        Output of :func:`bayes_scaling.compare.compare_groups`.
    quantity : {"C", "alpha", "error"}, default "C"
        Which pairwise probability.
    context : str, optional
        Context to draw (required when the decision compared several).
    colorbar : bool, default True
        Add a colour bar.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    (Figure, Axes)

    """
    if not isinstance(decision, ComparisonDecision):
        raise BayesScalingError(
            f"plot_comparison needs a ComparisonDecision, got {type(decision).__name__}."
        )
    mat = decision.matrix(quantity, context=context)
    ctx = decision.resolve_context(context)
    k = len(mat)
    with plot_style():
        fig, ax = _axes(ax, figsize=(1.2 * k + 3.0, 1.0 * k + 1.8))
        image = ax.imshow(mat.to_numpy(float), vmin=0.0, vmax=1.0, cmap="RdBu_r")
        for i in range(k):
            for j in range(k):
                if i != j:
                    v = float(mat.iat[i, j])
                    ax.text(
                        j,
                        i,
                        f"{v:.2f}",
                        ha="center",
                        va="center",
                        color="white" if abs(v - 0.5) > 0.35 else "black",
                    )
        ax.set_xticks(range(k), [literal(c) for c in mat.columns], rotation=30, ha="right")
        ax.set_yticks(range(k), [literal(c) for c in mat.index])
        ax.set_title(f"{_MATRIX_TITLES[quantity]}\n{literal(ctx)}")
        ax.spines[:].set_visible(False)
        if colorbar:
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return fig, ax


# ====================================================================== (n, m) surface
def plot_error_surface(
    grid: SurfaceGrid,
    *,
    levels: int | Sequence[float] = 8,
    targets: Sequence[float] = (),
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Contour plot of the posterior-median error(n, m) with iso-error lines.

    Filled contours show the posterior median on log-log axes (simulations n across,
    experiments m up); labelled lines are iso-error contours (every combination on a line
    gives the same median error, so their slope is the exchange rate); ``targets`` are
    drawn as thick dashed iso-error lines with the ``CREDIBLE_INTERVAL`` band's edges
    (upper bound reaching the target = reached with high probability) dotted. White dots
    mark the (n, m) points the surface was fitted to.

    Parameters
    ----------
    grid : SurfaceGrid
        Output of :func:`bayes_scaling.tradeoffs.surface_grid`.
    levels : int or sequence of float
        Number of filled contour levels or their values.
    targets : sequence of float
        Target errors to highlight (same scale as the grid).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    (Figure, Axes)

    """
    if not isinstance(grid, SurfaceGrid):
        raise BayesScalingError(
            f"plot_error_surface needs a SurfaceGrid (tradeoffs.surface_grid), got "
            f"{type(grid).__name__}."
        )
    with plot_style():
        fig, ax = _axes(ax, figsize=(7.0, 5.2))
        nn, mm = np.meshgrid(grid.n, grid.m)
        filled = ax.contourf(nn, mm, grid.median, levels=levels, cmap="viridis_r")
        lines = ax.contour(nn, mm, grid.median, levels=filled.levels, colors="white",
                           linewidths=0.8, alpha=0.8)  # fmt: skip
        ax.clabel(lines, fmt=lambda v: format_number(v, sig=2), fontsize=9)
        unit = f" ({literal(grid.unit)})" if grid.unit else ""
        fig.colorbar(filled, ax=ax, label=f"posterior median error{unit}")
        handles = []
        for j, t in enumerate(targets):
            color = _color(j + 1)
            ax.contour(nn, mm, grid.median, levels=[t], colors=[color], linewidths=2.5,
                       linestyles="--")  # fmt: skip
            ax.contour(nn, mm, grid.upper, levels=[t], colors=[color], linewidths=1.5,
                       linestyles=":")  # fmt: skip
            handles.append(
                Line2D(
                    [],
                    [],
                    color=color,
                    linestyle="--",
                    label=f"error = {format_number(t, sig=3)}{unit} (median; dotted: "
                    f"{percent(grid.interval)} upper bound)",
                )  # fmt: skip
            )
        obs = grid.observed
        ax.scatter(obs["n"], obs["m"], s=18, color="white", edgecolor="black", zorder=3)
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markerfacecolor="white",
                markeredgecolor="black",
                label="fitted (n, m)",
            )  # fmt: skip
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("simulations n (source size)")
        ax.set_ylabel("experiments m (target training size)")
        ax.set_title(literal(f"Error surface: {grid.task}"))
        ax.legend(handles=handles, loc="lower left", fontsize=9)
    return fig, ax
