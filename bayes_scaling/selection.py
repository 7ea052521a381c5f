"""Which rows of a harness table each model sees: one metric, one strategy, which m.

A harness table holds several metrics, transfer strategies and, for every transfer task,
learning curves in n at several experimental training sizes m (the ``m`` column; missing =
the full training split). The models need slices of it:

* :func:`select_curves` - learning curves in n for
  :class:`~bayes_scaling.models.ScalingLawModel`; by default the full-split curves (the
  legacy protocol), or the curves at one experimental size per task (``m=``).
* :func:`headline_table` - the main job's slice of a scarce-protocol table: every transfer
  task at its *headline* experimental size (the m level nearest :data:`HEADLINE_M`), plus
  the scratch curves; legacy tables give their full-split curves.
* :func:`surface_table` - every m level of one strategy plus the scratch curves, for
  :class:`~bayes_scaling.models.surface.SurfaceModel`.
* :func:`default_strategy` - the transfer strategy the harness chose on validation rows.

Why m near 100
--------------
Sim2Real transfer matters where experiments are scarce: with thousands of experiments the
learning curves in n go flat and every answer about simulations is degenerate (the reason
for the scarce protocol, ``data/README.md``). The reference study shows its curves at tens
to a few hundred experiments (its Fig. 4b). About 100 experiments is that regime, is
measured in every task (the default m grid runs from 25 to the full split, geometrically),
and is below the harness's ``--many-trials-max-m 128``, so each point is the mean of 20
trials rather than 5. The report says which m each task uses; the surface model
(:func:`surface_table`) shows how the answers change with m.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from bayes_scaling.curves import read_curves, validate_curves
from bayes_scaling.exceptions import BayesScalingError, CurveSchemaError

#: Experimental training size of the main job's headline learning curves (per task: the
#: measured m level nearest to it on a log scale); see the module docstring for why.
HEADLINE_M: Final[int] = 100
#: Transfer strategy used when a table has no validation rows to choose one.
FALLBACK_STRATEGY: Final[str] = "finetune"
#: Fewest m levels below the full split that make a table "scarce protocol".
SCARCE_MIN_LEVELS: Final[int] = 3


def _of_metric(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    out = table[table["metric"] == metric]
    if len(out) == 0 and len(table):
        raise CurveSchemaError(
            f"The curve table has no rows of metric {metric!r}; it holds "
            f"{sorted(map(str, table['metric'].unique()))}: choose one (metric=, or --metric on "
            "the command line)."
        )
    return out


def _m_values(table: pd.DataFrame) -> pd.Series:
    return (
        pd.to_numeric(table["m"], errors="coerce")
        if "m" in table
        else pd.Series(np.nan, index=table.index)
    )


def is_scarce(table: pd.DataFrame) -> bool:
    """Whether some transfer task was measured at >= 3 experimental sizes below the full split.

    That is the scarce protocol's m grid; the legacy protocol's (n, m)-surface rows have two
    levels per task.
    """
    if "m" not in table or "kind" not in table:
        return False
    transfer = table[table["kind"].astype(str) == "transfer"]
    if transfer.empty:
        return False
    key = "pair" if "pair" in transfer else ["property", "database"]
    levels = _m_values(transfer).groupby([transfer[k] for k in np.atleast_1d(key)]).nunique()
    return bool(len(levels) and int(levels.max()) >= SCARCE_MIN_LEVELS)


def _task_columns(table: pd.DataFrame) -> list[str]:
    cols = ["property", "database"] + [c for c in ("kind", "strategy") if c in table]
    return [c for c in cols if c in table]


def headline_m(table: pd.DataFrame, target: float = HEADLINE_M) -> pd.DataFrame:
    """Per transfer task: the measured m level nearest ``target`` (log scale) and its levels.

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table with an ``m`` column (missing = full split).
    target : float
        Wanted experimental size (> 0); ties go to the smaller level.

    Returns
    -------
    pandas.DataFrame
        One row per task (``property, database, kind, strategy``): ``m`` (the chosen level),
        ``levels`` (every measured level below the full split, ascending) and ``n_train``
        (the full split's median size, when known).

    """
    if not np.isfinite(target) or target <= 0:
        raise BayesScalingError(f"headline m must be a number > 0, got {target!r}.")
    transfer = table[table["kind"].astype(str) == "transfer"] if "kind" in table else table
    m = _m_values(transfer)
    rows = []
    for key, idx in transfer.groupby(_task_columns(transfer), sort=True).groups.items():
        levels = np.sort(m.loc[idx].dropna().unique())
        if len(levels) == 0:
            continue
        distance = np.round(np.abs(np.log(levels) - np.log(target)), 9)  # exact ties stay ties
        chosen = float(levels[int(np.argmin(distance))])  # argmin: first (smaller) on a tie
        row = dict(zip(_task_columns(transfer), np.atleast_1d(key), strict=True))
        full = transfer.loc[idx][m.loc[idx].isna()]
        n_train = (
            float(pd.to_numeric(full["n_train"], errors="coerce").median())
            if "n_train" in full and len(full)
            else np.nan
        )
        rows.append({**row, "m": chosen, "levels": tuple(levels.tolist()), "n_train": n_train})
    return pd.DataFrame(rows)


def select_curves(
    table: pd.DataFrame,
    *,
    metric: str = "mae",
    strategies: tuple[str, ...] | None = ("finetune", "scratch"),
    full_split: bool = True,
    m: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Keep one metric, the given strategies and one experimental size per task, validated.

    Parameters
    ----------
    table : pandas.DataFrame
        Harness (or user) curve table.
    metric : str
        The metric to keep.
    strategies : tuple of str or None
        Strategies to keep (None: all).
    full_split : bool
        Keep only rows without an ``m`` (the full-split learning curves in n, what
        :class:`~bayes_scaling.models.ScalingLawModel` models in the legacy protocol). False
        keeps every m level (for the surface model, :func:`surface_table`).
    m : pandas.DataFrame, optional
        Output of :func:`headline_m`: keep each transfer task's curve at that task's ``m``
        (``full_split`` is then ignored); scratch curves are kept whole.

    Raises
    ------
    CurveSchemaError
        No row of ``metric``, or the result fails :func:`~bayes_scaling.curves.validate_curves`.

    """
    out = _of_metric(table, metric)
    if strategies is not None and "strategy" in out:
        out = out[out["strategy"].isin(strategies)]
    if m is not None:
        keys = _task_columns(out)
        transfer = out["kind"].astype(str) == "transfer" if "kind" in out else True
        chosen = out[keys].merge(m[[*keys, "m"]], on=keys, how="left")["m"].to_numpy()
        keep = ~transfer | (_m_values(out).to_numpy() == chosen)
        out = out[np.asarray(keep, bool)]
    elif full_split and "m" in out:
        out = out[out["m"].isna()]
    return validate_curves(out)


def default_strategy(curves: str | Path | pd.DataFrame | None) -> str:
    """Return the harness's default transfer strategy for a curve file (else the fallback).

    Reads ``validation.csv`` beside a curve file (written by the scarce protocol; the choice
    never looks at the test split, :func:`bayes_scaling.harness.select_strategy`).
    """
    if curves is None or isinstance(curves, pd.DataFrame):
        return FALLBACK_STRATEGY
    validation = Path(curves).with_name("validation.csv")
    if not validation.exists():
        return FALLBACK_STRATEGY
    from bayes_scaling.harness import select_strategy

    return select_strategy(validation).default


def headline_table(
    table: pd.DataFrame,
    *,
    metric: str = "mae",
    strategy: str = FALLBACK_STRATEGY,
    target_m: float = HEADLINE_M,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return the main job's n-law curves: tasks at their headline m (scarce) or full split.

    Returns
    -------
    curves : pandas.DataFrame
        Transfer curves of ``strategy`` at :func:`headline_m` (scarce tables) or at the full
        split (legacy tables), plus the scratch curves.
    chosen : pandas.DataFrame or None
        The :func:`headline_m` table (which m each task uses and why); None for a legacy
        table.

    """
    strategies = (strategy, "scratch")
    if not is_scarce(_of_metric(table, metric)):
        return select_curves(table, metric=metric, strategies=strategies), None
    rows = _of_metric(table, metric)
    rows = rows[rows["strategy"].isin(strategies)] if "strategy" in rows else rows
    if "kind" in rows and not (rows["kind"].astype(str) == "transfer").any():
        raise CurveSchemaError(f"The curve table has no transfer rows of strategy {strategy!r}.")
    chosen = headline_m(rows, target_m)
    return select_curves(table, metric=metric, strategies=strategies, m=chosen), chosen


def read_headline(
    curves: str | Path | pd.DataFrame,
    *,
    metric: str = "mae",
    target_m: float = HEADLINE_M,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read a curve file and return its headline curves, as the main job fits them.

    The transfer strategy is :func:`default_strategy` (the harness's choice on validation
    rows beside the file); the rows are :func:`headline_table`'s. The notebooks and the
    main job use this, so their n-law fits see the same table (and share cached fits).

    Returns
    -------
    (curves, chosen)
        As :func:`headline_table`.

    """
    table = curves if isinstance(curves, pd.DataFrame) else read_curves(curves)
    return headline_table(
        table, metric=metric, strategy=default_strategy(curves), target_m=target_m
    )


def surface_table(
    table: pd.DataFrame,
    *,
    metric: str = "mae",
    strategies: tuple[str, ...] | None = ("finetune", "scratch"),
) -> pd.DataFrame | None:
    """Return the rows of an (n, m) surface (all m levels + scratch) of one metric, or None.

    None when no transfer curve was measured at a reduced experimental size (no ``m``).
    """
    if "m" not in table or not table["m"].notna().any():
        return None
    out = select_curves(table, metric=metric, strategies=strategies, full_split=False)
    return out if out["m"].notna().any() else None


def headline_sentence(chosen: pd.DataFrame | None) -> str:
    """One sentence for the report: which experimental size each task's curves use, and why."""
    if chosen is None or chosen.empty:
        return (
            "Learning curves at the full experimental training split (the harness measured no "
            "scarce-experiment m grid)."
        )
    ms = sorted({int(v) for v in chosen["m"]})
    span = f"m = {ms[0]:,}" if len(ms) == 1 else f"m = {ms[0]:,}–{ms[-1]:,}"
    return (
        f"Headline curves: every transfer task at its measured experimental size nearest "
        f"{HEADLINE_M} ({span} experiments), where experiments are scarce and pretraining "
        "matters (with thousands of experiments the curves in n go flat); each point is the "
        "mean over the harness's trials. The surface section shows how the answers change "
        "with m."
    )
