"""Preparation of one source→target pair: load, featurize, split, grids (both protocols).

:func:`prepare_pair` returns a :class:`PreparedPair`: the featurized source and target, the
target's group splits and per-split training orders, the nested source orders per source
seed, and the n and m grids of the configured protocol (see
:mod:`bayes_scaling.harness.runner` for the protocols). Everything is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.harness.config import (
    SOURCE_CAPS,
    HarnessConfig,
    geometric_grid,
    stable_seed,
)


@dataclass
class PreparedPair:
    """Featurized arrays and splits of one pair (what jobs need)."""

    name: str
    meta: dict[str, Any]
    Xs: np.ndarray
    ys: np.ndarray
    source_order: dict[int, np.ndarray]
    Xt: np.ndarray
    yt: np.ndarray
    splits: dict[int, tuple[np.ndarray, np.ndarray]]
    scratch_order: dict[int, np.ndarray]
    n_grid: list[int]
    m_grid: list[int]
    target_scale: float
    scratch_label: str
    m_levels: list[int] = field(default_factory=list)
    m_n_grid: list[int] = field(default_factory=list)
    config: HarnessConfig = field(default_factory=HarnessConfig)


def _target_id(pair: Any) -> str:
    """Return the id of a pair's target data (pairs sharing it share splits and scratch)."""
    return str(getattr(pair, "target_id", None) or f"{pair.property}_{pair.target}")


def _featurize(pair: Any, frame: pd.DataFrame) -> np.ndarray:
    feat = pair.make_featurizer()
    X = feat.fit_transform(frame)
    return np.ascontiguousarray(np.asarray(X, dtype=np.float32))


def prepare_pair(name: str, config: HarnessConfig) -> PreparedPair:
    """Load, deduplicate, featurize and split one pair (deterministic)."""
    from bayes_scaling.datasets import get_pair

    pair = get_pair(name)
    target = pair.load_target().reset_index(drop=True)
    source = pair.load_source().reset_index(drop=True)
    tid = _target_id(pair)
    if config.target_max is not None and len(target) > config.target_max:
        rng = np.random.default_rng(stable_seed("target_max", tid))
        keep = np.sort(rng.choice(len(target), config.target_max, replace=False))
        target = target.iloc[keep].reset_index(drop=True)
    n_groups = target["group"].nunique()
    min_groups = 10
    if n_groups < min_groups:
        raise BayesScalingError(
            f"Pair {name!r}: only {n_groups} target groups; the train/test split needs at "
            f"least {min_groups}."
        )

    scarce = config.protocol == "scarce"
    # Splits and scratch orders depend only on (seed, target); a scarce trial t uses the
    # split and order of seed t.
    n_splits = config.max_trials if scarce else config.seeds
    n_sources = config.pretrain_seeds if scarce else config.seeds
    splits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    scratch_order: dict[int, np.ndarray] = {}
    for seed in range(n_splits):
        gss = GroupShuffleSplit(
            n_splits=1, test_size=config.test_fraction, random_state=stable_seed("split", tid, seed)
        )
        tr, te = next(gss.split(np.zeros(len(target)), groups=target["group"].to_numpy()))
        splits[seed] = (np.sort(tr), np.sort(te))
        rng = np.random.default_rng(stable_seed("scratch", tid, seed))
        scratch_order[seed] = rng.permutation(np.sort(tr))
    n_train_min = min(len(tr) for tr, _ in splits.values())
    if n_train_min < config.n_min:
        raise BayesScalingError(
            f"Pair {name!r}: too few target rows ({len(target)}) for a split with at least "
            f"{config.n_min} training rows."
        )

    if config.full_sources:
        cap = None
    else:
        cap = config.source_cap if config.source_cap is not None else SOURCE_CAPS.get(name)
    n_source = len(source) if cap is None else min(len(source), cap)
    if config.n_grid is not None:
        n_grid = sorted({int(v) for v in config.n_grid})
        if n_grid[-1] > len(source):
            raise BayesScalingError(
                f"Pair {name!r}: n={n_grid[-1]} is larger than the source ({len(source)} rows)."
            )
        n_source = max(n_grid)
    else:
        n_grid = geometric_grid(config.n_min, n_source, config.n_points)
    if scarce:
        m_grid, m_levels = _scarce_m_grid(name, config, n_train_min)
        m_n_grid = list(n_grid)
    else:
        m_grid, m_levels, m_n_grid = _legacy_m_grids(name, config, n_train_min, n_grid)

    # Nested source subsets: the first n rows of one permutation per seed. Only the rows any
    # seed can reach are featurized (matters for the capped DFT databases).
    perms = {
        seed: np.random.default_rng(stable_seed("source", name, seed)).permutation(len(source))[
            :n_source
        ]
        for seed in range(n_sources)
    }
    used = np.unique(np.concatenate(list(perms.values())))
    position = np.full(len(source), -1, dtype=np.int64)
    position[used] = np.arange(len(used))
    source_order = {seed: position[p] for seed, p in perms.items()}
    Xs = _featurize(pair, source.iloc[used])
    ys = source["y"].to_numpy(dtype=float)[used]
    Xt = _featurize(pair, target)
    yt = target["y"].to_numpy(dtype=float)
    meta = {
        "pair": name,
        "property": pair.property,
        "database": pair.database,
        "family": pair.family,
        "unit": pair.unit,
    }
    return PreparedPair(
        name=name,
        meta=meta,
        Xs=Xs,
        ys=ys,
        source_order=source_order,
        Xt=Xt,
        yt=yt,
        splits=splits,
        scratch_order=scratch_order,
        n_grid=n_grid,
        m_grid=m_grid,
        target_scale=float(np.std(yt, ddof=1)),
        scratch_label=f"scratch_{tid}",
        m_levels=m_levels,
        m_n_grid=[int(v) for v in m_n_grid],
        config=config,
    )


def _legacy_m_grids(
    name: str, config: HarnessConfig, n_train_min: int, n_grid: list[int]
) -> tuple[list[int], list[int], list[int]]:
    """Legacy protocol: scratch sizes, surface sizes and the surface's n grid."""
    if config.m_grid is not None:
        m_grid = sorted({int(v) for v in config.m_grid})
        if m_grid[-1] > n_train_min:
            raise BayesScalingError(
                f"Pair {name!r}: m={m_grid[-1]} exceeds the smallest target training split "
                f"({n_train_min} rows)."
            )
    else:
        m_grid = geometric_grid(config.n_min, n_train_min, config.m_points)
    m_levels = sorted({int(f * n_train_min) for f in config.m_fractions})
    too_small = [m for m in m_levels if m < config.n_min]
    if too_small:
        raise BayesScalingError(
            f"Pair {name!r}: surface size(s) m={too_small} are below n_min={config.n_min} "
            f"(smallest training split {n_train_min} rows); raise m_fractions."
        )
    k = len(n_grid) if config.m_n_points is None else min(config.m_n_points, len(n_grid))
    idx = np.unique(np.round(np.linspace(0, len(n_grid) - 1, k)).astype(int))
    m_n_grid = [n_grid[int(i)] for i in idx]
    return m_grid, m_levels, [int(v) for v in m_n_grid]


def _scarce_m_grid(
    name: str, config: HarnessConfig, n_train_min: int
) -> tuple[list[int], list[int]]:
    """Scarce protocol: (scratch sizes, transfer sizes below the full split).

    The transfer curves are measured at every size below the full split plus the full split
    itself (``m`` missing); the scratch curve at the same sizes, its top point being the
    smallest training split (the full split of the smallest trial).
    """
    if config.m_grid is not None:
        levels = sorted({int(v) for v in config.m_grid})
        if levels[-1] > n_train_min:
            raise BayesScalingError(
                f"Pair {name!r}: m={levels[-1]} exceeds the smallest target training split "
                f"({n_train_min} rows); the full split is always measured, so give sizes "
                "below it."
            )
    else:
        if n_train_min <= config.m_min:
            raise BayesScalingError(
                f"Pair {name!r}: the smallest target training split ({n_train_min} rows) is "
                f"not above m_min={config.m_min}."
            )
        levels = geometric_grid(config.m_min, n_train_min, config.m_level_points)
    below = [m for m in levels if m < n_train_min]
    return below + [n_train_min], below
