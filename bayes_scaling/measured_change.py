"""Did a curve's measured error rise with n? Negative transfer, read from the raw trials.

The scaling law ``D n^-alpha + C`` only falls with n. Many measured transfer curves do
not, at first: pretraining on a few dozen to a few hundred simulations can make the
fine-tuned model *worse* than with the smallest source (negative transfer; about half of
the bundled scarce transfer curves rise over their first sizes, benchmarks/README.md,
stop 24). A fitted law then reads such a curve as flat, and the answers that rest on it
should say what the data did. :func:`measured_changes` compares, per curve, the mean error
over the trials at the smallest and at the largest n measured; :class:`MeasuredChange`
says whether the error rose by more than :data:`RISE_MIN` and :data:`RISE_SE` standard
errors of the difference. Nothing is fitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from bayes_scaling.curves import curve_ids
from bayes_scaling.exceptions import BayesScalingError

#: A rise counts when the mean error at the largest n exceeds the one at the smallest n by
#: more than this many standard errors of the difference (the trials' own spread) ...
RISE_SE: Final[float] = 2.0
#: ... and by more than this share of the error at the smallest n.
RISE_MIN: Final[float] = 0.02


@dataclass(frozen=True)
class MeasuredChange:
    """How a curve's mean measured error changed from its smallest to its largest n.

    Attributes
    ----------
    n_first, n_last : float
        Smallest and largest source size measured.
    error_first, error_last : float
        Mean error over the trials at those sizes (the table's units).
    relative : float
        ``error_last / error_first - 1`` (> 0: the error rose).
    se : float
        Standard error of ``error_last - error_first`` from the trials' spread (NaN with
        fewer than two trials at either size).
    rose : bool
        Whether the error rose by more than :data:`RISE_SE` standard errors and
        :data:`RISE_MIN` of ``error_first`` (False without a standard error).

    """

    n_first: float
    n_last: float
    error_first: float
    error_last: float
    relative: float
    se: float
    rose: bool


def _change(errors_by_n: pd.core.groupby.SeriesGroupBy) -> MeasuredChange | None:
    stats = errors_by_n.agg(["mean", "var", "count"]).sort_index()
    if len(stats) < 2:
        return None
    first, last = stats.iloc[0], stats.iloc[-1]
    relative = float(last["mean"] / first["mean"] - 1.0)
    se = math.nan
    if first["count"] >= 2 and last["count"] >= 2:
        se = math.sqrt(first["var"] / first["count"] + last["var"] / last["count"])
    rise = float(last["mean"] - first["mean"])
    rose = bool(np.isfinite(se) and rise > RISE_SE * se and relative > RISE_MIN)
    return MeasuredChange(
        float(stats.index[0]),
        float(stats.index[-1]),
        float(first["mean"]),
        float(last["mean"]),
        relative,
        se,
        rose,
    )


def measured_changes(table: pd.DataFrame) -> dict[str, MeasuredChange]:
    """Return, per curve of ``table``, the change of its mean error over n.

    From the smallest to the largest n measured; keyed by
    :func:`~bayes_scaling.curves.curve_ids`.

    Parameters
    ----------
    table : pandas.DataFrame
        A curve table, one row per trial (columns ``n``, ``error`` and the curve's key
        columns).

    Returns
    -------
    dict of str to MeasuredChange
        Curves measured at a single n are left out.

    Raises
    ------
    BayesScalingError
        Without the columns ``n`` and ``error``.

    """
    missing = [c for c in ("n", "error") if c not in table]
    if missing:
        raise BayesScalingError(f"measured_changes needs the curve table's columns {missing}.")
    rows = table.assign(_curve=curve_ids(table).to_numpy())
    rows = rows.assign(error=pd.to_numeric(rows["error"], errors="coerce"))
    out = {}
    for cid, g in rows.groupby("_curve", sort=True):
        change = _change(g.dropna(subset=["error"]).groupby("n")["error"])
        if change is not None:
            out[str(cid)] = change
    return out
