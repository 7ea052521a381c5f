"""The (n, m) error-surface table: transfer curves at several experimental sizes + scratch.

A *surface table* is an ordinary curve table (:mod:`bayes_scaling.curves`) that holds, for a
property, its ``scratch`` curve (error vs experimental training size, no simulations) and
``transfer`` curves measured at several experimental training sizes ``m``. The pieces:

task
    One transfer setting: ``property|database`` (``|strategy`` when the table has a
    ``strategy`` column). Its rows may have several ``m``.
target
    The property. Its scratch curve is the ``n = 0`` limit of every task of that property.
m of a transfer row
    The ``m`` column; where it is missing the row used the full training split, whose size is
    the ``n_train`` column. A transfer row with neither is refused ("missing m").
m of a scratch row
    Its ``n`` (the scratch curve's size axis is the experimental size); the simulation size of
    a scratch row is 0.

:func:`prepare_surface` validates such a table and returns the index arrays the joint model
needs (:class:`SurfaceData`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayes_scaling.curves import is_normalised_metric, normalised_error, validate_curves
from bayes_scaling.exceptions import CurveSchemaError

#: Fewest distinct experimental sizes a task needs (the point of a surface).
MIN_M_LEVELS = 2


@dataclass(frozen=True)
class SurfaceData:
    """Validated surface table and the index arrays of the joint model.

    Attributes
    ----------
    table : pandas.DataFrame
        The validated curve table (one metric).
    metric : str
        Its metric.
    targets : list of str
        Target (property) names; index ``t``.
    tasks : list of str
        Task ids ``property|database[|strategy]``; index ``p``.
    task_target : numpy.ndarray
        Target index of every task.
    curves : list of str
        Noise groups: one per (task, m level) and one per scratch curve; index ``c``.
    obs_task, obs_target, obs_curve : numpy.ndarray
        Per observation (table row): task index (-1 for scratch rows), target index, curve.
    obs_n, obs_m : numpy.ndarray
        Simulation size (0 for scratch rows) and experimental size of every row.
    obs_y : numpy.ndarray
        ``log(error / target_scale)`` of every row.
    m_ref : numpy.ndarray
        Reference experimental size per target (geometric mean of its m values).
    n_ref : numpy.ndarray
        Reference simulation size per task (geometric mean of its n values).
    target_scale : numpy.ndarray
        ``target_scale`` per target (for the original scale).
    units : list of str
        Unit per target ("" when the table has no unit column).
    m_levels : dict
        Sorted distinct m per task.

    """

    table: pd.DataFrame
    metric: str
    targets: list[str]
    tasks: list[str]
    task_target: np.ndarray
    curves: list[str]
    obs_task: np.ndarray
    obs_target: np.ndarray
    obs_curve: np.ndarray
    obs_n: np.ndarray
    obs_m: np.ndarray
    obs_y: np.ndarray
    m_ref: np.ndarray
    n_ref: np.ndarray
    target_scale: np.ndarray
    units: list[str]
    m_levels: dict[str, list[int]]

    @property
    def n_obs(self) -> int:
        """Number of observations (rows)."""
        return len(self.obs_y)

    def task_index(self, task: str) -> int:
        """Index of ``task``; raises a clear error naming the known tasks."""
        if task not in self.tasks:
            raise CurveSchemaError(
                f"Unknown task {task!r}; the surface was fitted to: {', '.join(self.tasks)}."
            )
        return self.tasks.index(task)

    def task_rows(self, task: str) -> pd.DataFrame:
        """Return the transfer rows of ``task`` with their resolved ``m``."""
        p = self.task_index(task)
        keep = self.obs_task == p
        out = self.table.loc[keep].copy()
        out["m_used"] = self.obs_m[keep]
        return out


def task_ids(table: pd.DataFrame) -> pd.Series:
    """Return the task id of every row: ``property|database[|strategy]``."""
    cols = ["property", "database"] + (["strategy"] if "strategy" in table else [])
    out = table[cols[0]].astype(str)
    for c in cols[1:]:
        out = out + "|" + table[c].astype(str)
    return out.rename("task")


def resolved_m(table: pd.DataFrame) -> pd.Series:
    """Experimental training size of every row (see the module docstring).

    Raises
    ------
    CurveSchemaError
        A transfer row has neither ``m`` nor ``n_train`` ("missing m").

    """
    transfer = table["kind"] == "transfer"
    m = pd.Series(np.nan, index=table.index, dtype=float)
    if "m" in table:
        m = pd.to_numeric(table["m"], errors="coerce").astype(float)
    if "n_train" in table:
        m = m.where(m.notna() | ~transfer, pd.to_numeric(table["n_train"]).astype(float))
    missing = transfer & m.isna()
    if missing.any():
        rows = table.loc[missing].head(5).to_string()
        raise CurveSchemaError(
            f"Missing m: {int(missing.sum())} transfer row(s) have no experimental training size "
            "(column 'm' empty and no 'n_train' to fall back on). A surface table needs 'm' for "
            f"every transfer row, or 'n_train' for full-split rows.\nOffending rows:\n{rows}"
        )
    m = m.where(transfer, table["n"].astype(float))
    return m.rename("m_used")


def prepare_surface(table: pd.DataFrame, *, metric: str | None = None) -> SurfaceData:
    """Validate a surface table and build :class:`SurfaceData`.

    Parameters
    ----------
    table : pandas.DataFrame
        Curve table with scratch curves and transfer curves at several ``m``.
    metric : str, optional
        Metric to keep; required when the table holds more than one.

    Raises
    ------
    CurveSchemaError
        Schema errors (see :func:`bayes_scaling.curves.validate_curves`), several metrics
        without ``metric=``, missing m, a property without a scratch curve, a task with fewer
        than :data:`MIN_M_LEVELS` experimental sizes, or ``m`` above ``n_train``.

    """
    table = validate_curves(table)
    metrics = sorted(table["metric"].unique())
    if metric is None:
        if len(metrics) > 1:
            raise CurveSchemaError(
                f"The table holds several metrics {metrics}; pass metric= to choose one."
            )
        metric = metrics[0]
    if metric not in metrics:
        raise CurveSchemaError(f"Metric {metric!r} not in the table (it has {metrics}).")
    table = table[table["metric"] == metric].reset_index(drop=True)
    m = resolved_m(table)
    transfer = (table["kind"] == "transfer").to_numpy()
    if not transfer.any():
        raise CurveSchemaError("A surface table needs transfer rows (kind='transfer').")
    targets = sorted(table["property"].astype(str).unique())
    with_scratch = set(table.loc[~transfer, "property"].astype(str))
    lacking = [t for t in targets if t not in with_scratch]
    if lacking:
        raise CurveSchemaError(
            f"Property(ies) {lacking} have no scratch curve (kind='scratch'); the surface model "
            "uses each property's scratch curve as the n = 0 limit of its transfer curves."
        )
    task = task_ids(table).where(transfer, "")
    tasks = sorted(task[transfer].unique())
    m_levels = {
        tk: sorted(int(v) for v in np.unique(m[task == tk].round().astype(int))) for tk in tasks
    }
    thin = {tk: lv for tk, lv in m_levels.items() if len(lv) < MIN_M_LEVELS}
    if thin:
        raise CurveSchemaError(
            f"Task(s) {sorted(thin)} have fewer than {MIN_M_LEVELS} experimental sizes m "
            f"({thin}); an error surface needs transfer curves at several m (the harness "
            "writes them with --m-fraction)."
        )
    t_index = {t: i for i, t in enumerate(targets)}
    p_index = {p: i for i, p in enumerate(tasks)}
    obs_target = table["property"].astype(str).map(t_index).to_numpy()
    obs_task = np.array([p_index[v] if v else -1 for v in task], dtype=int)
    task_target = np.array(
        [t_index[str(table.loc[task == p, "property"].iloc[0])] for p in tasks], dtype=int
    )
    m_int = m.round().astype(int).to_numpy()
    curve_key = np.where(
        transfer,
        task.to_numpy() + "|m=" + m_int.astype(str),
        "scratch|" + table["property"].astype(str).to_numpy(),
    )
    curves = sorted(set(curve_key))
    c_index = {c: i for i, c in enumerate(curves)}
    obs_n = np.where(transfer, table["n"].to_numpy(dtype=float), 0.0)
    obs_m = m.to_numpy(dtype=float)
    obs_y = np.log(normalised_error(table).to_numpy(dtype=float))
    m_ref = np.array([np.exp(np.mean(np.log(obs_m[obs_target == t]))) for t in range(len(targets))])
    n_ref = np.array([np.exp(np.mean(np.log(obs_n[obs_task == p]))) for p in range(len(tasks))])
    scale = np.array(
        [float(table.loc[obs_target == t, "target_scale"].iloc[0]) for t in range(len(targets))]
    )
    if is_normalised_metric(metric):
        units = [""] * len(targets)
    elif "unit" in table:
        units = [str(table.loc[obs_target == t, "unit"].iloc[0]) for t in range(len(targets))]
    else:
        units = [""] * len(targets)
    return SurfaceData(
        table=table,
        metric=metric,
        targets=targets,
        tasks=tasks,
        task_target=task_target,
        curves=curves,
        obs_task=obs_task,
        obs_target=obs_target,
        obs_curve=np.array([c_index[c] for c in curve_key], dtype=int),
        obs_n=obs_n,
        obs_m=obs_m,
        obs_y=obs_y,
        m_ref=m_ref,
        n_ref=n_ref,
        target_scale=scale,
        units=units,
        m_levels=m_levels,
    )
