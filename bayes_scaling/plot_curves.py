"""Learning-curve plots: posterior bands and observed points against the sample size.

Part of :mod:`bayes_scaling.plotting` (the public entry; see its docstring for the rules
every plot follows); also holds the helpers the decision plots
(:mod:`bayes_scaling.plot_decisions`) share.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.curves import curve_ids, normalised_error
from bayes_scaling.decisions import percent, summarise
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.posterior import CurvePosterior, Scale
from bayes_scaling.plot_style import (
    BAND_ALPHA,
    PALETTE,
    literal,
    plot_style,
)
from bayes_scaling.plot_style import axes_of as _axes


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
