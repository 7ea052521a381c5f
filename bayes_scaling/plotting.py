"""Plots: compute a tidy table first, draw it second.

``compute_*`` functions turn a :class:`~bayes_scaling.models.posterior.CurvePosterior` (or
a learning-curve table) into a tidy DataFrame; ``plot_*`` functions draw such a table or a
decision object. Every ``plot_*`` function takes ``ax=`` (or creates its own figure),
returns ``(fig, ax)`` (``(fig, axes)`` for multi-panel plots), never recomputes posterior
quantities and never calls ``plt.show()``. All bands are the pinned
:data:`~bayes_scaling.constants.CREDIBLE_INTERVAL`; a shared slide-readable style
(:data:`SLIDE_STYLE`) is applied to everything drawn. User names are drawn literally: a
``$`` in a property or database name never triggers mathtext.
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
from matplotlib.ticker import FuncFormatter

from bayes_scaling.compare import ComparisonDecision, Quantity
from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.curves import curve_ids, normalised_error
from bayes_scaling.decisions import format_number, percent, summarise
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.posterior import PARAMS, CurvePosterior, Scale
from bayes_scaling.planning import SampleSizeDecision
from bayes_scaling.plot_style import (  # noqa: F401  (SLIDE_STYLE, FIGSIZE: re-exported)
    BAND_ALPHA,
    FIGSIZE,
    PALETTE,
    SLIDE_STYLE,
    literal,
    plot_style,
)
from bayes_scaling.plot_style import axes_of as _axes
from bayes_scaling.tradeoffs import SurfaceGrid

ForestParam = Literal["D", "alpha", "C"]


# ====================================================================== helpers
def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise BayesScalingError(f"{what} must be a DataFrame, got {type(table).__name__}.")
    missing = [c for c in columns if c not in table]
    if missing:
        raise BayesScalingError(f"{what} lacks column(s) {missing}; build it with compute_*.")
    if table.empty:
        raise BayesScalingError(f"{what} is empty.")


def curve_labels(posterior: CurvePosterior, curves: Sequence[str]) -> dict[str, str]:
    """Short display labels (``"density · radonpy"``), the curve id where they collide."""
    meta = posterior.curves
    labels = {}
    for c in curves:
        row = meta.loc[c]
        parts = [str(row[k]) for k in ("property",) if k in meta]
        if "kind" in meta and row["kind"] == "scratch":
            parts.append("scratch")
        elif "database" in meta:
            parts.append(str(row["database"]))
        labels[c] = " · ".join(parts) or c
    counts = pd.Series(list(labels.values())).value_counts()
    return {c: (c if counts[lab] > 1 else lab) for c, lab in labels.items()}


def _selected(posterior: CurvePosterior, curves: Sequence[str] | None) -> list[str]:
    ids = posterior.curve_ids if curves is None else [posterior.check_curve(c) for c in curves]
    if not ids:
        raise BayesScalingError("curves must name at least one curve.")
    return list(ids)


def _error_label(table: pd.DataFrame) -> str:
    metric = str(table["metric"].iloc[0]) if "metric" in table else "error"
    scale = str(table["scale"].iloc[0]) if "scale" in table else "normalised"
    base = metric[1:] if metric in ("nmae", "nrmse") else metric
    base = base.upper() if base in ("mae", "rmse") else base
    if "metric" in table and table["metric"].nunique() > 1:
        base = "error"
    if scale == "normalised":
        return f"normalised {base}"
    units = table["unit"].dropna().unique() if "unit" in table else []
    return f"{base} [{units[0]}]" if len(units) == 1 and units[0] else base


# ====================================================================== learning curves
def compute_curve_bands(
    posterior: CurvePosterior,
    n_grid: Sequence[float] | np.ndarray | None = None,
    *,
    curves: Sequence[str] | None = None,
    scale: Scale = "normalised",
    n_points: int = 100,
    extrapolate: float = 10.0,
) -> pd.DataFrame:
    """Posterior median and credible band of ``D n^-alpha + C`` on a grid of n, per curve.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws.
    n_grid : array-like, optional
        Sizes to evaluate (> 0), shared by all curves; default a log grid per curve from
        ``n_min`` (or ``n_max / 100``) to ``extrapolate * n_max``.
    curves : sequence of str, optional
        Curves to include; default all.
    scale : {"normalised", "original"}, default "normalised"
        Error scale.
    n_points : int, default 100
        Grid points when ``n_grid`` is None.
    extrapolate : float, default 10
        How far beyond ``n_max`` the default grid reaches (factor >= 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``curve, label, kind, metric, unit, scale, n, median, lower, upper,
        C_median, C_lower, C_upper, n_max`` (``kind``/``metric``/``unit`` when known).

    Examples
    --------
    >>> bands = compute_curve_bands(posterior, np.geomspace(10, 1e5, 50))  # doctest: +SKIP
    >>> fig, ax = plot_learning_curves(bands)  # doctest: +SKIP

    """
    ids = _selected(posterior, curves)
    if extrapolate < 1:
        raise BayesScalingError(f"extrapolate must be >= 1, got {extrapolate!r}.")
    grid = None
    if n_grid is not None:
        grid = np.asarray(n_grid, dtype=float)
        if grid.ndim != 1 or grid.size == 0 or np.any(~np.isfinite(grid)) or np.any(grid <= 0):
            raise BayesScalingError("n_grid must be a non-empty 1-D array of finite n > 0.")
    labels = curve_labels(posterior, ids)
    meta = posterior.curves
    frames = []
    for c in ids:
        n_max = float(meta.loc[c, "n_max"])
        n = grid if grid is not None else _default_grid(meta.loc[c], n_max, n_points, extrapolate)
        # the fitted law up to n_max, the calibrated extrapolation beyond (if calibrated)
        band = summarise(posterior.expected_error(n, c, scale), "e")
        plateau = summarise(posterior.params(c, scale, which="fit")["C"], "C")
        frame = pd.DataFrame(
            {
                "curve": c,
                "label": labels[c],
                "scale": scale,
                "n": n,
                "median": band["e_median"],
                "lower": band["e_lower"],
                "upper": band["e_upper"],
                **{k: float(v) for k, v in plateau.items()},
                "n_max": n_max,
            }
        )
        for col in ("kind", "metric", "unit"):
            if col in meta:
                frame.insert(2, col, meta.loc[c, col])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _default_grid(row: pd.Series, n_max: float, n_points: int, extrapolate: float) -> np.ndarray:
    n_min = float(row["n_min"]) if "n_min" in row and pd.notna(row["n_min"]) else n_max / 100
    return np.geomspace(max(min(n_min, n_max), 1.0), n_max * extrapolate, n_points)


def compute_observed_points(
    curves_table: pd.DataFrame,
    *,
    curves: Sequence[str] | None = None,
    scale: Scale = "normalised",
) -> pd.DataFrame:
    """Observed errors of a learning-curve table, one row per (curve, n, seed).

    Parameters
    ----------
    curves_table : pandas.DataFrame
        Learning-curve table (see :mod:`bayes_scaling.curves`): ``n``, ``error``,
        ``metric``, ``target_scale`` and the curve-key columns.
    curves : sequence of str, optional
        Curve ids to keep (as :func:`bayes_scaling.curves.curve_ids` names them).
    scale : {"normalised", "original"}, default "normalised"
        Error scale (original = normalised error times ``target_scale``).

    Returns
    -------
    pandas.DataFrame
        Columns ``curve, n, error``.

    """
    _require(curves_table, ["n", "error", "metric", "target_scale"], "curves_table")
    if scale not in ("normalised", "original"):
        raise BayesScalingError(f"scale must be 'normalised' or 'original', got {scale!r}.")
    err = normalised_error(curves_table)
    if scale == "original":
        err = err * curves_table["target_scale"]
    out = pd.DataFrame(
        {
            "curve": curve_ids(curves_table).to_numpy(),
            "n": curves_table["n"].to_numpy(float),
            "error": err.to_numpy(float),
        }
    )
    if curves is not None:
        out = out[out["curve"].isin(list(curves))].reset_index(drop=True)
    return out


def plot_learning_curves(
    bands: pd.DataFrame,
    *,
    observed: pd.DataFrame | None = None,
    show_plateau: bool = True,
    legend: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Draw learning curves on log-log axes: median, credible band, plateau C, data.

    Per curve: one median line, one band (a collection), one dashed plateau line at the
    median of ``C`` with its band as a shaded span, and the observed points (one
    collection) when ``observed`` has rows for the curve.

    Parameters
    ----------
    bands : pandas.DataFrame
        Output of :func:`compute_curve_bands`.
    observed : pandas.DataFrame, optional
        Output of :func:`compute_observed_points` (same scale as ``bands``).
    show_plateau : bool, default True
        Draw the plateau ``C``.
    legend : bool, default True
        Draw a legend.
    title : str, optional
        Axes title; default names the credible interval.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure.

    Returns
    -------
    (Figure, Axes)

    """
    _require(bands, ["curve", "n", "median", "lower", "upper"], "bands")
    if observed is not None:
        _require(observed, ["curve", "n", "error"], "observed")
    with plot_style():
        fig, ax = _axes(ax)
        handles = []
        for i, (curve, band) in enumerate(bands.groupby("curve", sort=False)):
            color = _color(i)
            label = str(band["label"].iloc[0]) if "label" in band else str(curve)
            ax.fill_between(
                band["n"], band["lower"], band["upper"], color=color, alpha=BAND_ALPHA, linewidth=0
            )
            (line,) = ax.plot(band["n"], band["median"], color=color, label=literal(label))
            handles.append(line)
            if show_plateau and "C_median" in band:
                ax.axhline(band["C_median"].iloc[0], color=color, linestyle="--", linewidth=1.2)
                ax.axhspan(
                    band["C_lower"].iloc[0],
                    band["C_upper"].iloc[0],
                    color=color,
                    alpha=0.08,
                    linewidth=0,
                )
            if observed is not None:
                pts = observed[observed["curve"] == curve]
                if len(pts):
                    ax.scatter(
                        pts["n"],
                        pts["error"],
                        color=color,
                        s=16,
                        alpha=0.7,
                        edgecolors="none",
                        zorder=3,
                    )
        ax.set_xscale("log")
        ax.set_yscale("log")
        # Plain numbers on the error axis (0.2, not 2×10^-1); minor labels at 2 and 5.
        ax.yaxis.set_major_formatter(FuncFormatter(_plain_tick))
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_tick))
        ax.set_xlabel(_size_label(bands))
        ax.set_ylabel(literal(_error_label(bands)))
        ax.set_title(
            literal(title)
            if title is not None
            else f"Learning curves: median and {percent(CREDIBLE_INTERVAL)} band"
        )
        if legend:
            if show_plateau:
                handles.append(
                    Line2D([], [], color="0.4", linestyle="--", linewidth=1.2, label="plateau C")
                )
            ax.legend(handles=handles, loc="best")
    return fig, ax


def _plain_tick(value: float, _pos: int | None = None) -> str:
    return f"{value:g}"


def _minor_tick(value: float, _pos: int | None = None) -> str:
    if value <= 0:
        return ""
    mantissa = value / 10.0 ** np.floor(np.log10(value))
    return f"{value:g}" if np.isclose(mantissa, 2.0) or np.isclose(mantissa, 5.0) else ""


def _size_label(table: pd.DataFrame) -> str:
    kinds = set(table["kind"].astype(str)) if "kind" in table else set()
    if kinds == {"transfer"}:
        return "source (simulation) samples n"
    if kinds == {"scratch"}:
        return "experimental samples m"
    return "sample size"


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
