"""First-look plots of scarce-protocol curves: error vs n per m, error vs m per n (Fig. 4b/4c).

Draws the tidy tables of :mod:`bayes_scaling.first_look` (trial means and bands; nothing is
fitted) in the package's shared style (:mod:`bayes_scaling.plot_style`):

* :func:`plot_error_vs_n_by_m` - error against source size n, one line per m (the analogue
  of Fig. 4b of Minami et al. 2025), the scratch error at the same m dotted.
* :func:`plot_error_vs_m_by_n` - error against m for several n, the scratch curve (no
  pretraining) as the n = 0 reference (the analogue of their Fig. 4c).
* :func:`plot_first_look_grid` - either view, one panel per pair (e.g. per family).

Every function takes ``ax=`` (or makes its own figure), returns ``(fig, ax)`` (``(fig, axes)``
for the grid), never calls ``plt.show()``, and accepts either a curve table (rows per trial,
with ``error``) or the output of :func:`~bayes_scaling.first_look.compute_trial_summary`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter

from bayes_scaling.curves import is_normalised_metric
from bayes_scaling.decisions import format_number
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.first_look import (
    Band,
    View,
    _as_summary,
    _pair_rows,
    _spread,
    scratch_pair_of,
)
from bayes_scaling.plot_style import BAND_ALPHA, literal, plot_style
from bayes_scaling.plot_style import axes_of as _plain_axes

#: One first-look panel: wider than the package default, the legend sits outside on the right.
FIGSIZE: Final[tuple[float, float]] = (8.0, 4.5)


def _axes(ax: Axes | None, figsize: tuple[float, float] = FIGSIZE) -> tuple[Figure, Axes]:
    return _plain_axes(ax, figsize)


def _tick_text(value: float, _pos: int | None = None) -> str:
    return format_number(value, sig=2) if value > 0 else ""


def _minor_labels(mantissas: tuple[int, ...]) -> FuncFormatter:
    def text(value: float, _pos: int | None = None) -> str:
        if value <= 0:
            return ""
        mantissa = value / 10.0 ** math.floor(math.log10(value))
        return _tick_text(value) if any(abs(mantissa - k) < 1e-6 for k in mantissas) else ""

    return FuncFormatter(text)


def _label_log_axis(axis: Any, lo: float, hi: float) -> None:
    """Plain numbers on a log axis; minor ticks labelled too when it spans few decades."""
    axis.set_major_formatter(FuncFormatter(_tick_text))
    decades = math.log10(hi / lo) if 0 < lo < hi else 1.0
    if decades < 0.6:
        subs: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9)
    elif decades < 1.3:
        subs = (2, 3, 5)
    elif decades < 2.5:
        subs = (2, 5)
    else:
        subs = ()
    axis.set_minor_formatter(_minor_labels(subs) if subs else NullFormatter())


def _colors(k: int, cmap: str) -> list[Any]:
    """``k`` ordered colours of a sequential map (light end left out, readable on white)."""
    return list(plt.get_cmap(cmap)(np.linspace(0.0, 0.85, max(k, 1))))[:k]


def error_label(metric: str, unit: str | None = None) -> str:
    """Axis label of an error: ``"MAE [eV]"``, ``"normalised MAE (MAE / target std)"``."""
    key = metric.lower()
    if is_normalised_metric(metric):
        base = key[1:] if key in ("nmae", "nrmse") else key
        base = base.upper() if base in ("mae", "rmse") else base
        return f"normalised {base} ({base} / target std)"
    base = key.upper() if key in ("mae", "rmse") else metric
    return f"{base} [{unit}]" if unit else base


def _unit(rows: pd.DataFrame) -> str | None:
    if "unit" not in rows:
        return None
    units = [u for u in rows["unit"].dropna().astype(str).unique() if u and u != "nan"]
    return units[0] if len(units) == 1 else None


def _m_text(m: float, full: bool) -> str:
    return f"{int(m):,}" + (" (full)" if full else "")


def _band(ax: Axes, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: Any) -> None:
    if len(x) == 1:  # one point: the band as a vertical bar
        ax.vlines(x, lo, hi, color=color, alpha=0.6, linewidth=4)
    else:
        ax.fill_between(x, lo, hi, color=color, alpha=BAND_ALPHA, linewidth=0)


def _finish(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.autoscale_view()
    _label_log_axis(ax.xaxis, *ax.get_xlim())
    _label_log_axis(ax.yaxis, *ax.get_ylim())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(literal(ylabel))
    ax.set_title(literal(title))


def _legend(ax: Axes, handles: list[Any], band_words: str) -> None:
    """Legend outside the axes, on the right, titled with the band."""
    ax.legend(
        handles=handles,
        title=f"band: {band_words}",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=9,
        title_fontsize=9,
    )


def plot_error_vs_n_by_m(
    table: pd.DataFrame,
    pair: str,
    *,
    strategy: str = "finetune",
    metric: str = "mae",
    band: Band = "quantile",
    m_levels: Sequence[float] | None = None,
    show_scratch: bool = True,
    scratch: str | None = None,
    legend: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Error against source size n, one line per experimental size m (cf. Fig. 4b).

    Per m level: the mean error over trials against n (log-log) with its trial band; with
    ``show_scratch``, a dotted horizontal line in the same colour at the scratch curve's mean
    at that m (no pretraining), when the table has it. Lines are labelled ``"m = 25"``,
    ``"m = 1,354 (full)"``; the legend title names the band.

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table (one row per trial) or the output of :func:`compute_trial_summary`.
    pair : str
        Transfer pair to draw.
    strategy : str, default "finetune"
        Transfer strategy.
    metric : str, default "mae"
        Metric; ``mae``/``rmse`` are drawn in the ``unit`` column's unit.
    band : {"quantile", "sem"}, default "quantile"
        Trial band (ignored when ``table`` is already a summary).
    m_levels : sequence of float, optional
        m levels to draw (as in the summary's ``m`` column); default all.
    show_scratch : bool, default True
        Draw the scratch reference at each m.
    scratch : str, optional
        Name of the scratch curve (default: see :func:`scratch_pair_of`).
    legend : bool, default True
        Draw a legend.
    title : str, optional
        Axes title; default names the pair and strategy.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure.

    Returns
    -------
    (Figure, Axes)

    Raises
    ------
    BayesScalingError
        Bad table, unknown pair, no rows for the strategy or metric, unknown m level.

    Examples
    --------
    >>> fig, ax = plot_error_vs_n_by_m(table, "bandgap_mp", strategy="gentle")  # doctest: +SKIP

    """
    summary = _as_summary(table, metric, band)
    rows = _pair_rows(summary, pair, strategy)
    levels = sorted(rows["m"].unique())
    if m_levels is not None:
        unknown = [m for m in m_levels if m not in levels]
        if unknown or not len(m_levels):
            raise BayesScalingError(
                f"m_levels {list(m_levels)} must be among the m levels of {pair!r}: {levels}."
            )
        levels = sorted(m_levels)
    ref = scratch_pair_of(summary, pair, scratch) if show_scratch else None
    sc = summary[(summary["pair"] == ref) & (summary["kind"] == "scratch")]
    band_words = str(rows["band"].iloc[0]) if "band" in rows else "band"
    with plot_style():
        fig, ax = _axes(ax)
        drew_scratch = False
        for color, m in zip(_colors(len(levels), "viridis"), levels, strict=True):
            r = rows[rows["m"] == m].sort_values("n")
            x = r["n"].to_numpy(dtype=float)
            _band(ax, x, r["lower"].to_numpy(), r["upper"].to_numpy(), color)
            ax.plot(
                x,
                r["mean"],
                "-o",
                color=color,
                ms=4,
                label=f"m = {_m_text(m, bool(r['m_full'].any()))}",
            )
            s = sc[sc["m"] == m]
            if len(s):
                ax.axhline(float(s["mean"].iloc[0]), color=color, linestyle=":", linewidth=1.4)
                drew_scratch = True
        _finish(
            ax,
            "source (simulation) samples n",
            error_label(metric, _unit(rows)),
            title if title is not None else f"{pair} ({strategy}): error vs n, per m",
        )
        if legend:
            handles, _ = ax.get_legend_handles_labels()
            if drew_scratch:
                handles.append(
                    Line2D([], [], color="0.4", linestyle=":", label="scratch at the same m")
                )
            _legend(ax, handles, band_words)
    return fig, ax


def plot_error_vs_m_by_n(
    table: pd.DataFrame,
    pair: str,
    *,
    strategy: str = "finetune",
    metric: str = "mae",
    band: Band = "quantile",
    n_values: Sequence[int] | None = None,
    max_lines: int = 4,
    show_scratch: bool = True,
    scratch: str | None = None,
    legend: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Error against experimental size m for several source sizes n (cf. Fig. 4c).

    Per n: the mean error over trials against m (log-log) with its trial band, labelled
    ``"n = 1,024"``; with ``show_scratch``, the scratch curve (no pretraining, drawn as
    ``n = 0``) in black, dashed, with its band.

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table (one row per trial) or the output of :func:`compute_trial_summary`.
    pair : str
        Transfer pair to draw.
    strategy : str, default "finetune"
        Transfer strategy.
    metric : str, default "mae"
        Metric; ``mae``/``rmse`` are drawn in the ``unit`` column's unit.
    band : {"quantile", "sem"}, default "quantile"
        Trial band (ignored when ``table`` is already a summary).
    n_values : sequence of int, optional
        Source sizes to draw; default ``max_lines`` of the measured n, evenly spread by
        rank, smallest and largest included.
    max_lines : int, default 4
        Number of n lines when ``n_values`` is None.
    show_scratch : bool, default True
        Draw the scratch curve.
    scratch : str, optional
        Name of the scratch curve (default: see :func:`scratch_pair_of`).
    legend : bool, default True
        Draw a legend.
    title : str, optional
        Axes title; default names the pair and strategy.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure.

    Returns
    -------
    (Figure, Axes)

    Raises
    ------
    BayesScalingError
        Bad table, unknown pair, no rows for the strategy or metric, an n not measured.

    Examples
    --------
    >>> fig, ax = plot_error_vs_m_by_n(table, "chi_cosmo_rs", n_values=[16, 1206])  # doctest: +SKIP

    """
    summary = _as_summary(table, metric, band)
    rows = _pair_rows(summary, pair, strategy)
    measured = sorted(int(v) for v in rows["n"].unique())
    if n_values is None:
        ns = _spread(measured, max_lines)
    else:
        ns = sorted(int(v) for v in n_values)
        unknown = [v for v in ns if v not in measured]
        if unknown or not ns:
            raise BayesScalingError(
                f"n_values {list(n_values)} must be among the n measured for {pair!r}: {measured}."
            )
    ref = scratch_pair_of(summary, pair, scratch) if show_scratch else None
    sc = summary[(summary["pair"] == ref) & (summary["kind"] == "scratch")].sort_values("m")
    band_words = str(rows["band"].iloc[0]) if "band" in rows else "band"
    with plot_style():
        fig, ax = _axes(ax)
        if len(sc):
            x = sc["m"].to_numpy(dtype=float)
            _band(ax, x, sc["lower"].to_numpy(), sc["upper"].to_numpy(), "0.2")
            ax.plot(x, sc["mean"], "--s", color="black", ms=4, label="scratch (n = 0)")
        for color, n in zip(_colors(len(ns), "plasma"), ns, strict=True):
            r = rows[rows["n"] == n].sort_values("m")
            x = r["m"].to_numpy(dtype=float)
            _band(ax, x, r["lower"].to_numpy(), r["upper"].to_numpy(), color)
            ax.plot(x, r["mean"], "-o", color=color, ms=4, label=f"n = {int(n):,}")
        _finish(
            ax,
            "experimental training samples m",
            error_label(metric, _unit(rows)),
            title if title is not None else f"{pair} ({strategy}): error vs m, per n",
        )
        if legend:
            _legend(ax, ax.get_legend_handles_labels()[0], band_words)
    return fig, ax


def plot_first_look_grid(
    table: pd.DataFrame,
    *,
    view: View = "n",
    pairs: Sequence[str] | None = None,
    family: str | None = None,
    strategy: str = "finetune",
    metric: str = "mae",
    band: Band = "quantile",
    ncols: int = 3,
    panel_size: tuple[float, float] = (6.6, 4.0),
    **kwargs: Any,
) -> tuple[Figure, np.ndarray]:
    """One panel per transfer pair: :func:`plot_error_vs_n_by_m` or :func:`plot_error_vs_m_by_n`.

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table (one row per trial) or the output of :func:`compute_trial_summary`.
    view : {"n", "m"}, default "n"
        ``"n"``: error vs n per m (Fig. 4b); ``"m"``: error vs m per n (Fig. 4c).
    pairs : sequence of str, optional
        Pairs to draw, in order; default every transfer pair with ``strategy`` rows
        (of ``family`` when given), sorted.
    family : str, optional
        Keep the pairs of this ``family`` (needs the ``family`` column).
    strategy : str, default "finetune"
        Transfer strategy.
    metric : str, default "mae"
        Metric.
    band : {"quantile", "sem"}, default "quantile"
        Trial band.
    ncols : int, default 3
        Panels per row (fewer when there are fewer pairs).
    panel_size : (float, float), default (6.6, 4.0)
        Size of one panel in inches.
    **kwargs
        Passed to the panel function (e.g. ``n_values``, ``show_scratch``).

    Returns
    -------
    (Figure, numpy.ndarray of Axes)
        The axes as a 2-D array (rows x columns); unused panels are hidden.

    Raises
    ------
    BayesScalingError
        Unknown ``view``, no pair to draw, an unknown family or pair, and what the panel
        function raises.

    Examples
    --------
    >>> fig, axes = plot_first_look_grid(table, view="m", family="inorganic")  # doctest: +SKIP

    """
    if view not in ("n", "m"):
        raise BayesScalingError(f"view must be 'n' or 'm', got {view!r}.")
    if ncols < 1:
        raise BayesScalingError(f"ncols must be >= 1, got {ncols!r}.")
    summary = _as_summary(table, metric, band)
    if pairs is None:
        rows = summary[(summary["kind"] == "transfer") & (summary["strategy"] == strategy)]
        if family is not None:
            if "family" not in summary:
                raise BayesScalingError("family= needs the column 'family'.")
            families = sorted(summary["family"].dropna().astype(str).unique())
            rows = rows[rows["family"] == family]
            if rows.empty:
                raise BayesScalingError(
                    f"No {strategy!r} transfer rows of family {family!r}; families present: "
                    f"{families}."
                )
        pairs = sorted(rows["pair"].astype(str).unique())
    if not len(pairs):
        raise BayesScalingError(f"No transfer pair with strategy {strategy!r} to draw.")
    ncols = min(ncols, len(pairs))
    nrows = math.ceil(len(pairs) / ncols)
    draw = plot_error_vs_n_by_m if view == "n" else plot_error_vs_m_by_n
    with plot_style():
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
            layout="constrained",
            squeeze=False,
        )
        for ax, pair in zip(axes.flat, pairs, strict=False):
            draw(summary, pair, strategy=strategy, metric=metric, title=pair, ax=ax, **kwargs)
        for ax in axes.flat[len(pairs) :]:
            ax.set_visible(False)
        what = "error vs n, per m" if view == "n" else "error vs m, per n"
        head = f"{family}: " if family else ""
        fig.suptitle(literal(f"{head}{what} ({strategy}, mean over trials)"))
    return fig, axes
