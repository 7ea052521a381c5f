"""How the answers about simulations change with the number of experiments m.

Sim2Real transfer pays where experiments are scarce: with a few dozen experiments a larger
simulation database lowers the error markedly, with thousands the learning curve in n is
flat. :func:`answers_by_m` reads that off a fitted (n, m) error surface
(:class:`~bayes_scaling.models.surface.SurfacePosterior`) for one task, at each measured
experimental size: today's error at the largest observed n, the error with ``factor`` times
more simulations, the relative reduction, and what today's simulations are worth in
experiments (the scratch-equivalent ``m_eq - m``). It is the report's "how the answers
change with m" table; every interval is the pinned 90 % credible interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayes_scaling.decisions import (
    Decision,
    check_positive,
    format_number,
    format_probability,
    percent,
    summarise,
)
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.surface_posterior import SurfacePosterior

#: Relative error reduction below which a tenfold larger database "hardly helps".
NEGLIGIBLE_REDUCTION: float = 0.02


class AnswersByMDecision(Decision):
    """The value of more simulations at each experimental size m, for one task.

    Table, one row per m: ``task, m, n, factor``, ``error_median/_lower/_upper`` (today,
    at ``(n, m)``, original units), ``error_more_median/_lower/_upper`` (at
    ``(factor * n, m)``), ``reduction_median/_lower/_upper`` (``1 - error_more / error``,
    draw by draw), ``p_helps`` (``P(reduction > NEGLIGIBLE_REDUCTION)``) and
    ``worth_median/_lower/_upper`` (experiments a scratch model needs beyond m to match the
    transfer model at ``(n, m)``; ``inf`` where scratch never matches) with ``p_unmatched``.
    """

    title = "How the answers change with the number of experiments m"
    section = "surface"


def measured_levels(sp: SurfacePosterior, task: str) -> np.ndarray:
    """Return the experimental sizes a task was measured at, the full split once.

    Rows with an ``m`` give their levels; full-split rows (no ``m``; their size is the
    trial's training split, which can differ by a few rows between trials) give one level,
    the median of their sizes.
    """
    rows = sp.data.task_rows(task)
    if "m" not in rows:
        return np.unique(rows["m_used"].to_numpy(float))
    given = pd.to_numeric(rows["m"], errors="coerce")
    levels = list(np.unique(given.dropna().to_numpy(float)))
    full = rows.loc[given.isna(), "m_used"]
    if len(full):
        levels.append(float(np.median(full)))
    return np.unique(np.asarray(levels, float))


def _levels(sp: SurfacePosterior, task: str, m: Sequence[float] | None) -> np.ndarray:
    if m is None:
        levels = measured_levels(sp, task)
    else:
        levels = np.unique(np.asarray(m, float))
    if levels.size == 0 or not np.all(np.isfinite(levels)) or (levels <= 0).any():
        raise BayesScalingError(f"m levels must be finite and > 0, got {levels.tolist()}.")
    return levels


def answers_by_m(
    sp: SurfacePosterior,
    task: str,
    *,
    m: Sequence[float] | None = None,
    n: float | None = None,
    factor: float = 10.0,
) -> AnswersByMDecision:
    """Tabulate, per experimental size m, what ``factor`` times more simulations buy.

    Parameters
    ----------
    sp : SurfacePosterior
        Fitted surface.
    task : str
        Task id (``property|database[|strategy]``).
    m : sequence of float, optional
        Experimental sizes (default: every m the task was measured at,
        :func:`measured_levels`).
    n : float, optional
        Today's simulation size (default: the task's largest observed n).
    factor : float
        Size of the larger database relative to today's (> 1).

    Returns
    -------
    AnswersByMDecision

    Raises
    ------
    BayesScalingError
        ``factor <= 1``, an m or n that is not finite and > 0, or an unknown task.

    """
    check_positive(factor, name="factor")
    if factor <= 1:
        raise BayesScalingError(f"factor must be > 1 (a larger database), got {factor}.")
    n0, _ = sp.current(task)
    n = n0 if n is None else float(n)
    if not math.isfinite(n) or n <= 0:
        raise BayesScalingError(f"n must be finite and > 0, got {n}.")
    levels = _levels(sp, task, m)
    now = sp.error(task, n, levels, scale="original")
    more = sp.error(task, factor * n, levels, scale="original")
    reduction = 1.0 - more / now
    meq = np.stack([sp.equivalent_scratch_experiments(task, n, float(v)) for v in levels], axis=1)
    worth = meq - levels[None, :]
    table = pd.DataFrame(
        {
            "task": task,
            "m": levels,
            "n": n,
            "factor": factor,
            **summarise(now, "error"),
            **summarise(more, "error_more"),
            **summarise(reduction, "reduction"),
            "p_helps": (reduction > NEGLIGIBLE_REDUCTION).mean(axis=0),
            **summarise(worth, "worth"),
            "p_unmatched": np.isinf(meq).mean(axis=0),
        }
    )
    return AnswersByMDecision(table, _sentence(sp, task, table))


def _sentence(sp: SurfacePosterior, task: str, table: pd.DataFrame) -> str:
    label = task.replace("|", " · ")
    unit = sp.unit(task)
    first, last = table.iloc[0], table.iloc[-1]
    steps = ", ".join(
        f"{100 * r.reduction_median:.1f} % at m = {format_number(r.m, sig=3)}"
        for r in table.itertuples()
    )
    worth = (
        "more than any number of experiments for a scratch model"
        if first["p_unmatched"] >= 0.5
        else f"about {format_number(first['worth_median'])} experiments"
    )
    if table["p_helps"].max() < 0.5:
        trend = f"hardly any help at any m: below {percent(NEGLIGIBLE_REDUCTION)} with P ≥ 0.5"
    elif first["reduction_median"] > last["reduction_median"]:
        trend = "the fewer the experiments, the more simulations help"
    else:
        trend = "more simulations help about as much (or more) with more experiments"
    return (
        f"For {label}: {format_number(first['factor'], sig=3)}× more simulations "
        f"(n = {format_number(first['n'], sig=3)} → "
        f"{format_number(first['factor'] * first['n'], sig=3)}) lower the error by {steps} "
        f"({trend}; P(more than {percent(NEGLIGIBLE_REDUCTION)}) "
        f"{format_probability(first['p_helps'])} at the smallest m, "
        f"{format_probability(last['p_helps'])} at the largest). At the smallest m today's "
        f"simulations are worth {worth}"
        + (f" (error {format_number(first['error_median'])} {unit})." if unit else ".")
    )
