"""First look at scarce-protocol learning curves: trial means and bands, before any model.

The harness's scarce protocol (issue 13) measures every transfer task on a grid of
experimental training sizes m and, at each m, over the whole grid of source sizes n, with
many trials (the ``seed`` column). This module summarises those raw trials; it fits nothing.

* :func:`compute_trial_summary` - per (pair, strategy, m, n): mean error over trials, its
  standard error, a trial band and the number of trials (the tidy table every plot draws).
* the plots of these tables (error vs n per m, error vs m per n: the analogues of Fig. 4b
  and 4c of Minami et al. 2025) are in :mod:`bayes_scaling.first_look_plots`.
* :func:`compute_scarce_summary` / :func:`format_scarce_summary` - per task and m: the
  relative drop of the mean error from the smallest to the largest n, and whether transfer
  at the largest n beats scratch at the same m (with the trial spread and a paired count).

Conventions
-----------
*m of a row.* A transfer row's m is its ``m`` column; a missing ``m`` is the full training
split, placed at the smallest ``n_train`` of the pair's full-split rows and flagged
``m_full``. A scratch row (no pretraining) is trained on ``n`` experimental rows: here its m
is that ``n`` and its source size is ``n = 0``; its largest size is flagged ``m_full`` (the
harness's scratch curve tops out at the smallest training split, the full-split level).

*Trial band.* ``band="quantile"`` (default): the 10th-90th percentile of the per-trial errors
(:data:`TRIAL_BAND`, linear interpolation; it shows the trial-to-trial spread, i.e. what one
more trial would give). ``band="sem"``: mean ± one standard error of the mean (sample
standard deviation / sqrt(trials); it shows how well the mean is known). With one trial
both bands collapse onto the mean.

*Scratch reference of a pair.* The scratch curve with the pair's ``property`` (one per
target in the harness, shared by the pairs of that target); when several share it, the one
of the pair's target in the pairs registry; or name it with ``scratch=``.

Bad input (missing columns, unknown pair, no rows for a metric or strategy) raises
:class:`~bayes_scaling.exceptions.BayesScalingError`, a :class:`ValueError`.

Examples
--------
>>> from bayes_scaling.harness.store import ShardStore  # doctest: +SKIP
>>> table = ShardStore("data/curves_scarce").collect()  # doctest: +SKIP
>>> from bayes_scaling.first_look_plots import plot_error_vs_n_by_m  # doctest: +SKIP
>>> fig, ax = plot_error_vs_n_by_m(table, "bandgap_mp", strategy="finetune")  # doctest: +SKIP
>>> print(format_scarce_summary(compute_scarce_summary(table)))  # doctest: +SKIP

"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from bayes_scaling.decisions import format_number, markdown_table
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.selection import is_scarce

#: Quantiles of the per-trial errors drawn as the trial band (``band="quantile"``).
TRIAL_BAND: Final[tuple[float, float]] = (0.10, 0.90)
#: Columns a curve table needs for a first look (``m``, ``n_train`` and the metadata
#: columns ``property``, ``family``, ``unit`` are used when present).
REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "pair",
    "kind",
    "strategy",
    "n",
    "seed",
    "metric",
    "error",
)
#: Columns of :func:`compute_trial_summary`'s output that the plot functions need.
SUMMARY_COLUMNS: Final[tuple[str, ...]] = (
    "pair",
    "kind",
    "strategy",
    "metric",
    "m",
    "m_full",
    "n",
    "trials",
    "mean",
    "lower",
    "upper",
)
_META: Final[tuple[str, ...]] = ("property", "family", "unit", "database")
Band = Literal["quantile", "sem"]
View = Literal["n", "m"]


# ====================================================================== input checks
def _check_table(table: Any, columns: Sequence[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise BayesScalingError(f"{what} must be a pandas DataFrame, got {type(table).__name__}.")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise BayesScalingError(
            f"{what} lacks column(s) {missing}; a first look needs {list(columns)}."
        )
    if table.empty:
        raise BayesScalingError(f"{what} is empty.")


def _check_band(band: str) -> None:
    if band not in ("quantile", "sem"):
        raise BayesScalingError(f"band must be 'quantile' or 'sem', got {band!r}.")


def _is_summary(table: pd.DataFrame) -> bool:
    return isinstance(table, pd.DataFrame) and "mean" in table and "error" not in table


def _rows_of_metric(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    metrics = table["metric"].astype(str)
    rows = table[metrics == metric]
    if rows.empty:
        raise BayesScalingError(
            f"No rows with metric {metric!r}; metrics present: {sorted(metrics.unique())}."
        )
    return rows


def _m_of_rows(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(m, m_full) of every row, following the module's conventions."""
    kind = rows["kind"].astype(str).to_numpy()
    scratch = kind == "scratch"
    if "m" in rows:
        m = pd.to_numeric(rows["m"], errors="coerce").astype(float).to_numpy()
    else:
        m = np.full(len(rows), np.nan)
    m = np.where(scratch, rows["n"].to_numpy(dtype=float), m)
    full = ~scratch & np.isnan(m)
    if full.any():
        if "n_train" not in rows:
            raise BayesScalingError(
                "Transfer rows without m (the full training split) need the column 'n_train' "
                "(the split's size) to be placed on the m axis."
            )
        n_train = pd.to_numeric(rows["n_train"], errors="coerce").astype(float)
        smallest = n_train.where(full).groupby(rows["pair"].to_numpy()).transform("min")
        m = np.where(full, smallest.to_numpy(), m)
        if np.isnan(m[full]).any():
            raise BayesScalingError("Full-split transfer rows with a missing 'n_train'.")
    m_full = full.copy()
    if scratch.any():
        top = (
            pd.Series(np.where(scratch, m, np.nan))
            .groupby(rows["pair"].to_numpy())
            .transform("max")
        )
        m_full |= scratch & (m == top.to_numpy())
    return m, m_full


def _trial_rows(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per trial: pair, kind, strategy, metric, m, m_full, n (0: scratch), seed, error."""
    _check_table(table, REQUIRED_COLUMNS, "The curve table")
    rows = _rows_of_metric(table, metric)
    kinds = set(rows["kind"].astype(str))
    if not kinds <= {"transfer", "scratch"}:
        raise BayesScalingError(
            f"Column 'kind' must hold 'transfer' or 'scratch', got {sorted(kinds)}."
        )
    error = pd.to_numeric(rows["error"], errors="coerce").astype(float)
    if not np.isfinite(error).all():
        raise BayesScalingError(
            f"Column 'error' has {int((~np.isfinite(error)).sum())} missing or non-finite "
            f"value(s) for metric {metric!r}."
        )
    m, m_full = _m_of_rows(rows)
    scratch = rows["kind"].astype(str).to_numpy() == "scratch"
    out = pd.DataFrame(
        {
            "pair": rows["pair"].astype(str).to_numpy(),
            "kind": rows["kind"].astype(str).to_numpy(),
            "strategy": rows["strategy"].astype(str).to_numpy(),
            "metric": metric,
            "m": m,
            "m_full": m_full,
            "n": np.where(scratch, 0, rows["n"].to_numpy(dtype=np.int64)),
            "seed": rows["seed"].to_numpy(dtype=np.int64),
            "error": error.to_numpy(),
        }
    )
    key = ["pair", "kind", "strategy", "m", "n", "seed"]
    dup = out.duplicated(key, keep=False)
    if dup.any():
        raise BayesScalingError(
            f"{int(dup.sum())} rows repeat a (pair, kind, strategy, m, n, seed) of metric "
            f"{metric!r} (a shard read twice?), e.g. "
            f"{out.loc[dup, key].head(3).to_dict('records')}."
        )
    for col in _META:
        if col in rows:
            out[col] = rows[col].to_numpy()
    return out


# ====================================================================== compute
def compute_trial_summary(
    table: pd.DataFrame, *, metric: str = "mae", band: Band = "quantile"
) -> pd.DataFrame:
    """Mean error over trials, its standard error and a trial band, per (pair, strategy, m, n).

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table with one row per (curve, n, seed), as the harness writes it (columns
        :data:`REQUIRED_COLUMNS`; ``m`` and ``n_train`` for the scarce protocol's m axis).
    metric : str, default "mae"
        Metric to summarise (the curve table's ``metric`` column).
    band : {"quantile", "sem"}, default "quantile"
        ``lower``/``upper``: the 10th-90th percentile of the trials (:data:`TRIAL_BAND`),
        or mean ± one standard error.

    Returns
    -------
    pandas.DataFrame
        One row per (pair, kind, strategy, m, n), sorted by them; columns ``pair, kind,
        strategy, metric, m, m_full, n, trials, mean, median, std, sem, lower, upper, band``
        and ``property, family, unit, database`` when the table has them. Scratch rows have
        ``n = 0`` and ``m`` = their training size; ``m_full`` flags the full split (see the
        module's conventions). ``std`` and ``sem`` are NaN for a single trial.

    Raises
    ------
    BayesScalingError
        Missing columns, an empty table, no rows of ``metric``, non-finite errors, a
        ``kind`` other than transfer/scratch, repeated trials, an unknown ``band``.

    Examples
    --------
    >>> summary = compute_trial_summary(table, metric="mae")  # doctest: +SKIP
    >>> summary.query("pair == 'bandgap_mp' and m == 25")  # doctest: +SKIP

    """
    _check_band(band)
    rows = _trial_rows(table, metric)
    keys = ["pair", "kind", "strategy", "m", "n"]
    g = rows.groupby(keys, sort=True)["error"]
    out = g.agg(trials="count", mean="mean", median="median", std="std").reset_index()
    out["sem"] = out["std"] / np.sqrt(out["trials"])
    if band == "quantile":
        out["lower"] = g.quantile(TRIAL_BAND[0]).to_numpy()
        out["upper"] = g.quantile(TRIAL_BAND[1]).to_numpy()
    else:
        half = out["sem"].fillna(0.0)
        out["lower"] = out["mean"] - half
        out["upper"] = out["mean"] + half
    out["m_full"] = rows.groupby(keys, sort=True)["m_full"].any().to_numpy()
    out["metric"] = metric
    out["band"] = band_label(band)
    meta = [c for c in _META if c in rows]
    if meta:
        out = out.merge(rows.groupby("pair")[meta].first().reset_index(), on="pair", how="left")
    order = [
        "pair",
        *[c for c in ("property", "family", "unit", "database") if c in meta],
        "kind",
        "strategy",
        "metric",
        "m",
        "m_full",
        "n",
        "trials",
        "mean",
        "median",
        "std",
        "sem",
        "lower",
        "upper",
        "band",
    ]
    return out[order]


def band_label(band: Band) -> str:
    """Words for a trial band: ``"10-90 % of trials"`` or ``"mean ± 1 s.e."``."""
    _check_band(band)
    if band == "sem":
        return "mean ± 1 s.e."
    lo, hi = (format_number(100 * q, sig=3) for q in TRIAL_BAND)
    return f"{lo}–{hi} % of trials"


def _as_summary(table: pd.DataFrame, metric: str, band: Band) -> pd.DataFrame:
    if _is_summary(table):
        _check_table(table, SUMMARY_COLUMNS, "The trial summary")
        return _rows_of_metric(table, metric)
    return compute_trial_summary(table, metric=metric, band=band)


def _transfer_pairs(summary: pd.DataFrame) -> list[str]:
    return sorted(summary.loc[summary["kind"] == "transfer", "pair"].astype(str).unique())


def _pair_rows(summary: pd.DataFrame, pair: str, strategy: str) -> pd.DataFrame:
    pairs = _transfer_pairs(summary)
    if pair not in pairs:
        scratch = set(summary.loc[summary["kind"] == "scratch", "pair"].astype(str))
        hint = " (that is a scratch curve; name a transfer pair)" if pair in scratch else ""
        raise UnknownNameError(f"Unknown transfer pair {pair!r}{hint}; pairs present: {pairs}.")
    rows = summary[(summary["pair"] == pair) & (summary["kind"] == "transfer")]
    strategies = sorted(rows["strategy"].astype(str).unique())
    rows = rows[rows["strategy"] == strategy]
    if rows.empty:
        raise BayesScalingError(
            f"No rows of strategy {strategy!r} for pair {pair!r}; strategies present: {strategies}."
        )
    return rows


def scratch_pair_of(table: pd.DataFrame, pair: str, scratch: str | None = None) -> str | None:
    """Name of the scratch curve that is the no-pretraining reference of ``pair``.

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table or trial summary (columns ``pair``, ``kind``; ``property`` used).
    pair : str
        Transfer pair.
    scratch : str, optional
        Explicit choice; checked to be a scratch curve of the table.

    Returns
    -------
    str or None
        The scratch curve's ``pair`` value; None when the table has no matching scratch rows.

    Raises
    ------
    BayesScalingError
        ``scratch`` is not a scratch curve of the table, or several scratch curves match and
        the pairs registry cannot tell which.

    """
    kinds = table["kind"].astype(str)
    names = table["pair"].astype(str)
    available = sorted(names[kinds == "scratch"].unique())
    if scratch is not None:
        if scratch not in available:
            raise UnknownNameError(
                f"Unknown scratch curve {scratch!r}; scratch curves present: {available}."
            )
        return scratch
    candidates = available
    if "property" in table:
        props = table["property"].astype(str)
        mine = set(props[(names == pair) & (kinds == "transfer")])
        candidates = sorted(names[(kinds == "scratch") & props.isin(mine)].unique())
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    try:  # several targets share the property: the registry knows the pair's target
        from bayes_scaling.datasets import get_pair

        label = f"scratch_{get_pair(pair).target_id}"
    except (ImportError, BayesScalingError):
        label = None
    if label in candidates:
        return label
    raise BayesScalingError(
        f"Several scratch curves could be the reference of {pair!r}: {candidates}; pass "
        "scratch=<name>."
    )


def _spread(values: Sequence[float], k: int) -> list[float]:
    """At most ``k`` of the sorted ``values``, evenly spaced by rank, ends included."""
    vals = sorted(values)
    if k < 1:
        raise BayesScalingError(f"max_lines must be >= 1, got {k!r}.")
    if len(vals) <= k:
        return vals
    idx = np.unique(np.round(np.linspace(0, len(vals) - 1, k)).astype(int))
    return [vals[i] for i in idx]


def compute_scarce_summary(
    table: pd.DataFrame,
    *,
    strategy: str | None = "finetune",
    metric: str = "mae",
    band: Band = "quantile",
) -> pd.DataFrame:
    """Per task and m: the error's drop over n, and transfer against scratch at the same m.

    For every transfer pair, strategy and experimental size m: the mean error over trials at
    the smallest and at the largest source size n measured at that m, the relative drop
    ``1 - mean(n_max) / mean(n_min)`` (the issue's "15 % drop" figure), and the scratch
    curve's mean at the same m with ``gain_vs_scratch = 1 - mean(n_max) / scratch``.
    ``beats_scratch`` compares the means; the trial spread is in the bands and in
    ``win_fraction``: the share of trials (paired by ``seed``, which shares the split and the
    experimental subset between a transfer and a scratch trial) in which transfer at
    ``n_max`` has the lower error.

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table (one row per trial; see :func:`compute_trial_summary`).
    strategy : str or None, default "finetune"
        Transfer strategy; None: every transfer strategy of the table.
    metric : str, default "mae"
        Metric (drops and gains are ratios, so identical for ``mae`` and ``nmae``).
    band : {"quantile", "sem"}, default "quantile"
        Band of ``lower_n_max``/``upper_n_max`` and ``scratch_lower``/``scratch_upper``.

    Returns
    -------
    pandas.DataFrame
        One row per (pair, strategy, m); columns ``pair, strategy, metric, unit, m, m_full,
        n_min, n_max, trials_n_min, trials_n_max, error_n_min, error_n_max, lower_n_max,
        upper_n_max, drop, scratch_pair, scratch_trials, scratch_error, scratch_lower,
        scratch_upper, gain_vs_scratch, beats_scratch, paired_trials, win_fraction, band``.
        ``drop`` is NaN when only one n was measured; the scratch columns are NaN (and
        ``beats_scratch`` missing) when there is no scratch curve at that m.

    Raises
    ------
    BayesScalingError
        As :func:`compute_trial_summary`, and no rows of ``strategy``.

    Examples
    --------
    >>> s = compute_scarce_summary(table, strategy="finetune")  # doctest: +SKIP
    >>> s.loc[s["m"] == s["m"].min(), ["pair", "drop", "beats_scratch"]]  # doctest: +SKIP

    """
    if _is_summary(table):
        raise BayesScalingError(
            "compute_scarce_summary needs the curve table (one row per trial, column "
            "'error'), not a trial summary: its win fractions pair trials by seed."
        )
    summary = compute_trial_summary(table, metric=metric, band=band)
    trials = _trial_rows(table, metric)
    transfer = summary[summary["kind"] == "transfer"]
    if transfer.empty:
        raise BayesScalingError(f"No transfer rows with metric {metric!r}.")
    if strategy is not None:
        present = sorted(transfer["strategy"].astype(str).unique())
        transfer = transfer[transfer["strategy"] == strategy]
        if transfer.empty:
            raise BayesScalingError(
                f"No transfer rows of strategy {strategy!r}; strategies present: {present}."
            )
    records = []
    for pair, of_pair in transfer.groupby("pair", sort=True):
        ref = scratch_pair_of(table, str(pair))
        sc = summary[(summary["pair"] == ref) & (summary["kind"] == "scratch")]
        sc_trials = trials[(trials["pair"] == ref) & (trials["kind"] == "scratch")]
        unit = str(of_pair["unit"].iloc[0]) if "unit" in of_pair else ""
        for (strat, m), cell in of_pair.groupby(["strategy", "m"], sort=True):
            cell = cell.sort_values("n")
            first, last = cell.iloc[0], cell.iloc[-1]
            one_n = len(cell) == 1
            s_row = sc[sc["m"] == m]
            has_scratch = len(s_row) == 1
            sc_mean = float(s_row["mean"].iloc[0]) if has_scratch else math.nan
            t_last = trials[
                (trials["pair"] == pair)
                & (trials["kind"] == "transfer")
                & (trials["strategy"] == strat)
                & (trials["m"] == m)
                & (trials["n"] == last["n"])
            ].set_index("seed")["error"]
            s_at = sc_trials[sc_trials["m"] == m].set_index("seed")["error"]
            common = t_last.index.intersection(s_at.index)
            wins = (t_last.loc[common] < s_at.loc[common]).mean() if len(common) else math.nan
            records.append(
                {
                    "pair": pair,
                    "strategy": strat,
                    "metric": metric,
                    "unit": unit,
                    "m": m,
                    "m_full": bool(cell["m_full"].any()),
                    "n_min": int(first["n"]),
                    "n_max": int(last["n"]),
                    "trials_n_min": int(first["trials"]),
                    "trials_n_max": int(last["trials"]),
                    "error_n_min": float(first["mean"]),
                    "error_n_max": float(last["mean"]),
                    "lower_n_max": float(last["lower"]),
                    "upper_n_max": float(last["upper"]),
                    "drop": math.nan if one_n else 1.0 - last["mean"] / first["mean"],
                    "scratch_pair": ref,
                    "scratch_trials": int(s_row["trials"].iloc[0]) if has_scratch else 0,
                    "scratch_error": sc_mean,
                    "scratch_lower": float(s_row["lower"].iloc[0]) if has_scratch else math.nan,
                    "scratch_upper": float(s_row["upper"].iloc[0]) if has_scratch else math.nan,
                    "gain_vs_scratch": 1.0 - last["mean"] / sc_mean if has_scratch else math.nan,
                    "beats_scratch": bool(last["mean"] < sc_mean) if has_scratch else pd.NA,
                    "paired_trials": len(common),
                    "win_fraction": float(wins),
                    "band": band_label(band),
                }
            )
    out = pd.DataFrame.from_records(records)
    out["beats_scratch"] = out["beats_scratch"].astype("boolean")
    return out


def format_scarce_summary(summary: pd.DataFrame, *, sig: int = 3) -> str:
    """Render :func:`compute_scarce_summary` as a GitHub-flavoured Markdown table.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`compute_scarce_summary`.
    sig : int, default 3
        Significant figures of the errors.

    Returns
    -------
    str
        One line per (pair, strategy, m): n range, mean error at ``n_min`` → ``n_max`` (trial
        band at ``n_max``), drop in %, scratch mean (band) at the same m, and the verdict
        ("yes, 12 % lower; 18/20 trials").

    Examples
    --------
    >>> print(format_scarce_summary(compute_scarce_summary(table)))  # doctest: +SKIP

    """
    need = ["pair", "strategy", "m", "n_min", "n_max", "error_n_min", "error_n_max"]
    _check_table(summary, need, "The scarce summary")

    def num(v: float) -> str:
        return format_number(v, sig=sig)

    rows = []
    for r in summary.itertuples(index=False):
        unit = f" {r.unit}" if getattr(r, "unit", "") and str(r.unit) != "nan" else ""
        m = f"{int(r.m):,}" + (" (full)" if getattr(r, "m_full", False) else "")
        err = f"{num(r.error_n_min)} → {num(r.error_n_max)}{unit}"
        if hasattr(r, "lower_n_max"):
            err += f" ({num(r.lower_n_max)}–{num(r.upper_n_max)})"
        drop = "n/a" if pd.isna(r.drop) else f"{format_number(100 * r.drop, sig=2)} %"
        if pd.isna(getattr(r, "scratch_error", math.nan)):
            scratch, verdict = "n/a", "n/a"
        else:
            scratch = f"{num(r.scratch_error)} ({num(r.scratch_lower)}–{num(r.scratch_upper)})"
            gain = r.gain_vs_scratch
            words = "lower" if gain >= 0 else "higher"
            verdict = (
                f"{'yes' if r.beats_scratch else 'no'}, "
                f"{format_number(100 * abs(gain), sig=2)} % {words}"
            )
            if r.paired_trials:
                won = int(round(r.win_fraction * r.paired_trials))
                verdict += f"; {won}/{r.paired_trials} trials"
        rows.append(
            [
                str(r.pair),
                str(r.strategy),
                m,
                f"{int(r.n_min):,}–{int(r.n_max):,}",
                err,
                drop,
                scratch,
                verdict,
            ]
        )
    band = str(summary["band"].iloc[0]) if "band" in summary and len(summary) else "band"
    metric = str(summary["metric"].iloc[0]) if "metric" in summary and len(summary) else "error"
    metric = metric.upper() if metric.lower() in ("mae", "rmse", "nmae", "nrmse") else metric
    columns = [
        "task",
        "strategy",
        "m",
        "n",
        f"mean {metric}: n_min → n_max ({band} at n_max)",
        "drop",
        "scratch at m",
        "transfer beats scratch",
    ]
    return markdown_table(columns, rows)


def detect_protocol(table: pd.DataFrame) -> Literal["scarce", "legacy"]:
    """Tell a scarce-protocol curve table from a legacy one.

    Scarce: some transfer pair has at least three experimental sizes m below the full split
    (the legacy protocol's (n, m)-surface rows have two per pair).

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table.

    Returns
    -------
    {"scarce", "legacy"}

    """
    _check_table(table, ("pair", "kind"), "The curve table")
    return "scarce" if is_scarce(table) else "legacy"
