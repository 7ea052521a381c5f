"""Arrays the models need, derived once from a validated curve table (internal)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayes_scaling.curves import (
    CURVE_KEYS,
    curve_ids,
    curve_key_columns,
    normalised_error,
    validate_curves,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError

#: Default grouping columns (those present in the data are used).
DEFAULT_GROUPS: tuple[str, ...] = ("property", "database", "strategy")
#: Columns describing a curve that may be used as grouping columns.
GROUPABLE: tuple[str, ...] = (*CURVE_KEYS, "unit", "family")
#: Sum of squares floor (an exactly zero within-point spread would make the Gamma term -inf).
SS_FLOOR: float = 1e-12
#: A grouping column is kept only when at least this many of its levels hold two or more
#: curves: the spread between levels is told apart from the curve-to-curve spread only by
#: replicated levels. The headline curves' ``database`` (one curve per source database, four
#: scratch curves under ``none``) has one, so it is dropped there: kept, its effects and the
#: curve deviations were two names for the same thing and the posterior was a ridge (600
#: leapfrog steps per draw, divergences; issue 15).
MIN_REPLICATED_LEVELS: int = 2
#: Columns that tell the curves of one task apart when only the experimental size ``m``
#: differs (the task key for the ``m`` slope; the ones present are used).
TASK_COLUMNS: tuple[str, ...] = ("pair", "property", "database", "kind", "strategy", "metric")


@dataclass(frozen=True)
class GroupSpec:
    """One grouping column used by the model.

    Attributes
    ----------
    column : str
        Column name (also the name of the model dimension of its levels).
    levels : list of str
        Sorted level labels (those with an effect).
    curve_index : numpy.ndarray
        Level index of every curve (``int64``, length ``n_curves``); ``len(levels)`` for a
        curve at an excluded level (no effect from this column).
    excluded : tuple of str
        Levels without an effect: each holds exactly the curves of a level of an earlier
        grouping column (scratch curves are database ``none`` and strategy ``scratch``),
        so its effect would be a second name for that one (a ridge; issue 15).

    """

    column: str
    levels: list[str]
    curve_index: np.ndarray
    excluded: tuple[str, ...] = ()

    @property
    def has_excluded(self) -> bool:
        """Whether some curves get no effect from this column."""
        return bool(self.excluded)

    def take(self, effect: np.ndarray, axis: int) -> np.ndarray:
        """Each curve's effect (levels of ``effect`` along ``axis``); 0 at an excluded level."""
        if self.has_excluded:
            shape = list(effect.shape)
            shape[axis] = 1
            effect = np.concatenate([effect, np.zeros(shape, dtype=effect.dtype)], axis=axis)
        return np.take(effect, self.curve_index, axis=axis)


@dataclass(frozen=True)
class CurveData:
    """Model-ready arrays of a curve table (points are distinct ``(curve, n)``)."""

    table: pd.DataFrame
    curve_ids: list[str]
    meta: pd.DataFrame
    log_n_ref: float
    point_curve: np.ndarray
    point_n: np.ndarray
    point_x: np.ndarray
    point_k: np.ndarray
    point_ybar: np.ndarray
    point_ss: np.ndarray
    obs_point: np.ndarray
    obs_y: np.ndarray
    groups: list[GroupSpec]
    dropped_groups: dict[str, str] = field(default_factory=dict)
    curve_log_m: np.ndarray | None = None
    log_m_centre: float = 0.0
    m_slope_note: str = ""
    #: Levels of the shared point noise's scale (``tau_point``): the curve kinds present
    #: (``transfer``, ``scratch``), or ``["all"]`` without a ``kind`` column
    #: (:func:`curve_kinds`).
    noise_groups: list[str] = field(default_factory=lambda: ["all"])

    @property
    def curve_noise_group(self) -> np.ndarray:
        """Per curve, the position of its kind in :attr:`noise_groups`."""
        kinds = curve_kinds(self.meta)
        return np.array([self.noise_groups.index(k) for k in kinds], dtype="int64")

    @property
    def point_noise_group(self) -> np.ndarray:
        """Per point, the position of its curve's kind in :attr:`noise_groups`."""
        return self.curve_noise_group[self.point_curve]

    @property
    def n_curves(self) -> int:
        """Number of curves."""
        return len(self.curve_ids)

    @property
    def n_points(self) -> int:
        """Number of distinct ``(curve, n)`` points."""
        return len(self.point_curve)

    @property
    def ss_points(self) -> np.ndarray:
        """Indices of points with at least two seeds (they carry a spread term)."""
        return np.flatnonzero(self.point_k >= 2)

    @property
    def x_range(self) -> tuple[float, float]:
        """Smallest and largest ``log n - log n_ref``."""
        return float(self.point_x.min()), float(self.point_x.max())

    @property
    def curve_x_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Per curve, smallest and largest ``log n - log n_ref`` (arrays over curves)."""
        lo = np.full(self.n_curves, np.inf)
        hi = np.full(self.n_curves, -np.inf)
        np.minimum.at(lo, self.point_curve, self.point_x)
        np.maximum.at(hi, self.point_curve, self.point_x)
        return lo, hi

    def structure_key(self, aggregate: bool = False) -> tuple:
        """Everything that fixes the model graph's shapes (for compile caching).

        With ``aggregate=True`` the graph only sees per-point arrays, so the number of
        seeds (observations) is left out: refits with more or fewer seeds reuse the model.
        """
        return (
            self.n_curves,
            self.n_points,
            int(self.ss_points.size),
            None if aggregate else int(self.obs_y.size),
            tuple((g.column, len(g.levels), g.has_excluded) for g in self.groups),
            self.curve_log_m is not None,
            len(self.noise_groups),
        )

    @property
    def has_m_slope(self) -> bool:
        """Whether the curve parameters get a slope in ``log m`` (see :func:`m_covariate`)."""
        return self.curve_log_m is not None


def _curve_value(col: pd.Series) -> pd.Series:
    if str(col.dtype) == "Int64":
        return col.map(lambda v: "full" if pd.isna(v) else str(int(v)))
    return col.astype(str)


def curve_kinds(meta: pd.DataFrame) -> np.ndarray:
    """Each curve's kind (``"all"`` where the table has no ``kind`` column)."""
    if "kind" in meta:
        return meta["kind"].astype(str).to_numpy()
    return np.full(len(meta), "all")


def curve_metadata(table: pd.DataFrame, cid: pd.Series | None = None) -> pd.DataFrame:
    """One row per curve (index ``curve``): key columns, unit, target scale, n range, counts.

    ``target_scale`` is the median over the curve's rows (it is constant in well-formed
    tables).
    """
    if cid is None:
        cid = curve_ids(table)
    keys = curve_key_columns(table)
    extra = [c for c in ("unit", "family") if c in table]
    g = table.assign(_curve=cid.values).groupby("_curve", sort=False)
    meta = g[keys + extra].first()
    meta["target_scale"] = g["target_scale"].median()
    meta["n_min"] = g["n"].min().astype("int64")
    meta["n_max"] = g["n"].max().astype("int64")
    meta["n_obs"] = g.size().astype("int64")
    meta["n_points"] = g["n"].nunique().astype("int64")
    meta["n_seeds"] = g["seed"].nunique().astype("int64")
    meta.index.name = "curve"
    return meta


def resolve_groups(table: pd.DataFrame, groups: Sequence[str] | None) -> list[str]:
    """Return the requested grouping columns, checked against the table."""
    if groups is None:
        return [c for c in DEFAULT_GROUPS if c in table.columns]
    if isinstance(groups, str):
        groups = [groups]
    out: list[str] = []
    for col in groups:
        if col not in GROUPABLE:
            raise UnknownNameError(
                f"Grouping column {col!r} is not a curve-level column; choose from "
                f"{', '.join(GROUPABLE)}."
            )
        if col not in table.columns:
            raise UnknownNameError(
                f"Grouping column {col!r} is not in the curve table (columns: "
                f"{', '.join(table.columns)})."
            )
        if col not in out:
            out.append(col)
    return out


def prepare(curves: pd.DataFrame, groups: Sequence[str] | None) -> CurveData:
    """Validate ``curves`` and compute every array the models use."""
    table = validate_curves(curves)
    cid = curve_ids(table)
    ids = list(dict.fromkeys(cid))
    meta = curve_metadata(table, cid).loc[ids]
    curve_pos = pd.Series(np.arange(len(ids)), index=ids)

    y = np.log(normalised_error(table).to_numpy(dtype=float))
    frame = pd.DataFrame(
        {"curve": curve_pos[cid.values].to_numpy(), "n": table["n"].to_numpy(), "y": y}
    )
    pts = frame.groupby(["curve", "n"], sort=True)
    agg = pts["y"].agg(["mean", "size"]).reset_index()
    point_index = pd.MultiIndex.from_frame(agg[["curve", "n"]])
    obs_point = point_index.get_indexer(pd.MultiIndex.from_frame(frame[["curve", "n"]]))
    ybar = agg["mean"].to_numpy()
    resid = y - ybar[obs_point]
    ss = np.bincount(obs_point, weights=resid**2, minlength=len(agg))

    point_n = agg["n"].to_numpy(dtype="int64")
    log_n = np.log(point_n.astype(float))
    log_n_ref = float(np.mean(log_n))

    specs: list[GroupSpec] = []
    dropped: dict[str, str] = {}
    members: set[frozenset[int]] = set()  # curve sets of the kept columns' levels
    for col in resolve_groups(table, groups):
        per_curve = table.assign(_v=_curve_value(table[col]).values, _c=cid.values)
        n_vals = per_curve.groupby("_c")["_v"].nunique()
        varying = n_vals[n_vals > 1]
        if len(varying):
            raise BayesScalingError(
                f"Grouping column {col!r} varies within curve(s) "
                f"{', '.join(map(repr, varying.index[:5]))}; a grouping column must be "
                "constant within each curve."
            )
        every = per_curve.groupby("_c")["_v"].first().loc[ids]  # one value per curve
        position = np.arange(len(ids))
        sets = {v: frozenset(position[every.to_numpy() == v]) for v in every.unique()}
        aliased = sorted(v for v, s in sets.items() if s in members)
        values = every[~every.isin(aliased)] if len(ids) > 1 else every
        levels = sorted(values.unique())
        if len(ids) == 1:
            dropped[col] = "a single curve has no group structure (no pooling)"
            continue
        if len(levels) < 2:
            besides = (
                f" besides {aliased} (the curves of a level of an earlier grouping column)"
                if aliased
                else ""
            )
            dropped[col] = (
                f"only one level ({levels[0]!r}){besides}" if levels
                else f"its levels {aliased} are those of an earlier grouping column"
            )  # fmt: skip
            continue
        if len(levels) == len(values):
            dropped[col] = (
                "one curve per level: the group effect is not identifiable from the curve-level "
                "deviation"
            )
            continue
        replicated = int((values.value_counts() >= 2).sum())
        if replicated < MIN_REPLICATED_LEVELS:
            dropped[col] = (
                f"only {replicated} of its {len(levels)} levels hold more than one curve: the "
                "spread between its levels is not told apart from the curve-level deviation"
            )
            continue
        lookup = {lvl: i for i, lvl in enumerate(levels)}
        index = np.array([lookup.get(v, len(levels)) for v in every], dtype="int64")
        specs.append(GroupSpec(col, [str(v) for v in levels], index, tuple(map(str, aliased))))
        members |= {s for v, s in sets.items() if v in lookup}

    log_m, centre, why = m_covariate(table, cid, ids)

    return CurveData(
        table=table,
        curve_ids=ids,
        meta=meta,
        log_n_ref=log_n_ref,
        point_curve=agg["curve"].to_numpy(dtype="int64"),
        point_n=point_n,
        point_x=log_n - log_n_ref,
        point_k=agg["size"].to_numpy(dtype="int64"),
        point_ybar=ybar,
        point_ss=ss,
        obs_point=np.asarray(obs_point, dtype="int64"),
        obs_y=y,
        groups=specs,
        dropped_groups=dropped,
        curve_log_m=log_m,
        log_m_centre=centre,
        m_slope_note=why,
        noise_groups=sorted(set(curve_kinds(meta))),
    )


def curve_m(table: pd.DataFrame, cid: pd.Series, ids: Sequence[str]) -> pd.Series:
    """Experimental (target) training size ``m`` of every curve, ``NaN`` where it has none.

    The ``m`` column where set; otherwise (a transfer curve at the full split) the curve's
    median ``n_train`` when it is (nearly: within 10 %) constant within the curve. A scratch
    curve's ``n`` *is* its experimental size (``n_train`` grows with ``n``): no ``m``.
    """
    frame = pd.DataFrame({"_c": cid.to_numpy()}, index=table.index)
    frame["m"] = (
        pd.to_numeric(table["m"], errors="coerce").astype(float) if "m" in table else np.nan
    )
    if "n_train" in table:
        frame["n_train"] = pd.to_numeric(table["n_train"], errors="coerce").astype(float)
        g = frame.groupby("_c")["n_train"]
        const = g.max() <= 1.1 * g.min()  # one split (chi's full split varies by trial: 935-957)
        fill = g.median().where(const)
        frame["m"] = frame["m"].fillna(frame["_c"].map(fill))
    if "kind" in table:
        frame.loc[table["kind"].astype(str).to_numpy() == "scratch", "m"] = np.nan
    return frame.groupby("_c")["m"].median().reindex(list(ids))


def m_covariate(
    table: pd.DataFrame, cid: pd.Series, ids: Sequence[str]
) -> tuple[np.ndarray | None, float, str]:
    """Centred ``log m`` per curve for the model's ``m`` slope, or ``None`` and why not.

    A task's learning curves measured at several experimental sizes ``m`` differ
    systematically (flat with thousands of experiments, steep with 25: issue 14), which a
    curve-level spread shared by all curves does not describe: the curve parameters get a
    slope in ``log m`` (``m_slope``). It is used when at least one task (the curves' key
    columns other than ``m``: :data:`TASK_COLUMNS`) was measured at two or more ``m``;
    otherwise ``m`` varies only between tasks and its slope is not told apart from the
    group effects. Curves without an ``m`` (scratch) get 0, the centre of the others.

    Returns
    -------
    log_m : numpy.ndarray or None
        ``log m - centre`` per curve (0 where no ``m``), ``None`` when not used.
    centre : float
        Mean ``log m`` over the curves that have one (to place new curves).
    why : str
        Reason the slope is not used ("" when it is).

    """
    m = curve_m(table, cid, ids)
    if len(ids) < 2:
        return None, 0.0, ""
    if not m.notna().any():
        return None, 0.0, ""
    keys = [c for c in TASK_COLUMNS if c in table.columns]
    task = (
        table.assign(_c=cid.to_numpy())
        .groupby("_c")[keys]
        .first()
        .reindex(list(ids))
        .astype(str)
        .agg("|".join, axis=1)
    )
    per_task = m.groupby(task.to_numpy()).nunique()
    if int(per_task.max()) < 2:
        why = (
            "no task was measured at two or more experimental sizes m: the m slope is not "
            "told apart from the group effects"
        )
        return None, 0.0, why
    log_m = np.log(m.to_numpy(dtype=float))
    centre = float(np.nanmean(log_m))
    return np.where(np.isfinite(log_m), log_m - centre, 0.0), centre, ""
