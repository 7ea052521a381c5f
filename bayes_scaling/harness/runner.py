"""Run the Sim2Real transfer protocol and record learning curves.

Two protocols share the preparation (per source→target pair of
:mod:`bayes_scaling.datasets.pairs`):

* The target (experimental) data are deduplicated by canonical key by the loaders. Split
  ``t`` of the target into train/test is a *group* split (test fraction
  :attr:`HarnessConfig.test_fraction`, default 0.2) so that no test key (for χ: no test
  polymer–solvent pair, at any temperature) appears in training. It depends only on ``t``
  and the target dataset, so every source database of one target is scored on the same test
  sets. Each split's training rows get one random order; the experimental training subset of
  size m is its first m rows (nested in m, and shared with the scratch curve).
* Source seed ``s`` permutes the source rows once; the subset for size n is the first n rows
  of that permutation (nested in n). n runs on a geometric grid from
  :attr:`HarnessConfig.n_min` to the source size (or the cap :data:`SOURCE_CAPS` of the large
  DFT databases; ``full_sources`` lifts it).
* The test error is recorded as MAE and RMSE in the property's units and divided by
  ``target_scale`` (the standard deviation of the whole deduplicated target) as ``nmae`` and
  ``nrmse``.

**Scarce protocol** (default, ``protocol="scarce"``; issue 13):

1. m on a geometric grid of :attr:`HarnessConfig.m_level_points` points from
   :attr:`HarnessConfig.m_min` (25) to the smallest training split, the top point being the
   full split (transfer rows: the trial's whole training split, ``m`` missing). Every m level
   gets the whole n grid.
2. Trial ``t`` (the ``seed`` column) uses split ``t`` and its order; there are
   :attr:`HarnessConfig.trials` trials (20) per (n, m) for m ≤
   :attr:`HarnessConfig.many_trials_max_m` (128), :attr:`HarnessConfig.trials_full` (5) above
   and at the full split. Trial ``t`` is pretrained with source seed
   ``t % pretrain_seeds``.
3. One job (:class:`PretrainJob`) = (pair, n, source seed): the network is pretrained once
   and adapted by every strategy to every (m, trial) cell of that seed
   (:func:`run_pretrain_job`); features are standardised with the n source rows'
   statistics, which the network's input layer is tied to.
4. The trials of source seeds ``< selection_seeds`` also fit every strategy on the first
   80 % of the training subset and score the rest (``OUT/validation.csv``); the default
   strategy is chosen from those rows only (:func:`select_strategy`).
5. ``scratch`` rows: the same m levels and trials (one scratch curve per target, shared by
   the pairs with that target), ``n`` = m, the top level being the smallest training split.

**Legacy protocol** (``protocol="legacy"``: the curves committed before issue 13):
``seeds`` splits and source seeds (seed s uses split s and source seed s); ``transfer``
rows pretrain on n source rows and train on the whole target training split (``m``
missing), plus (n, m)-surface rows with the first m rows of the split's order, m =
``fraction × smallest training split`` for each of :attr:`HarnessConfig.m_fractions`, on
:attr:`HarnessConfig.m_n_points` points of the n grid; ``scratch`` rows on an ``m_points``
geometric grid up to the smallest split. Features are standardised with the statistics of
the source subset and the target training rows together.

Target labels are standardised with the statistics of the rows a model is fitted on, source
labels with the source subset's. Every fit runs with one BLAS thread
(:mod:`bayes_scaling.harness.threads`), so results do not depend on the backend.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit
from sklearn.preprocessing import StandardScaler

from bayes_scaling.curves import atomic_write_bytes, validate_curves, write_curves
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.harness.store import ShardStore, job_key
from bayes_scaling.harness.strategies import STRATEGIES, get_strategy, pretrain_source
from bayes_scaling.harness.threads import single_threaded_blas

#: Largest source size used per pair: the full database unless listed here. The DFT
#: databases (Materials Project 106k, OQMD 342k rows) are capped at 32,768 rows so that a
#: full regeneration fits the two-core budget; the grid spans more than three decades of n.
#: ``HarnessConfig(full_sources=True)`` (``--source-cap none``) uses the full databases; the
#: curves committed before the scarce protocol used 16,384 (``--source-cap 16384``).
SOURCE_CAPS: Final[dict[str, int]] = {
    "bandgap_mp": 32_768,
    "bandgap_oqmd": 32_768,
    "bandgap_aflow": 32_768,
}
METRICS: Final[tuple[str, ...]] = ("mae", "rmse", "nmae", "nrmse")
Backend = Literal["loky", "threading", "sequential", "dask"]
#: Version of the scarce protocol's cell definitions (part of the resume fingerprint).
SCARCE_FORMAT: Final[int] = 1


def stable_seed(*parts: object) -> int:
    """Return a 32-bit seed derived from ``parts`` (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def geometric_grid(lo: int, hi: int, points: int) -> list[int]:
    """Integer geometric grid from ``lo`` to ``hi`` (both included, duplicates removed).

    Examples
    --------
    >>> geometric_grid(16, 1024, 7)
    [16, 32, 64, 128, 256, 512, 1024]

    """
    if lo <= 0 or hi < lo:
        raise BayesScalingError(f"Grid needs 0 < lo <= hi, got lo={lo}, hi={hi}.")
    if points < 2:
        raise BayesScalingError("A grid needs at least 2 points.")
    grid = np.unique(np.round(np.geomspace(lo, hi, points)).astype(int))
    return [int(v) for v in grid]


Protocol = Literal["scarce", "legacy"]


@dataclass(frozen=True)
class HarnessConfig:
    """Settings of one harness run (all documented defaults, none tuned on test data).

    Two protocols are available. ``"scarce"`` (the default) measures every transfer task on a
    geometric grid of experimental training sizes m with many trials where the noise is
    large, pretraining each network once and adapting it with several strategies (see the
    module docstring). ``"legacy"`` is the protocol of the curves committed before the scarce
    regime (5 seeds, fine-tuning on the full split plus two surface fractions); use it with
    ``source_cap=16384`` to reproduce those curves exactly.

    Parameters
    ----------
    protocol : {"scarce", "legacy"}
        Which protocol to run.
    seeds : int
        Legacy: number of repeated random splits / source subsamples (seeds ``0..seeds-1``).
    test_fraction : float
        Fraction of target groups held out for testing.
    n_min : int
        Smallest source size (and, legacy, smallest scratch size m).
    n_points, m_points : int
        Points of the geometric grids over n (transfer) and, legacy, m (scratch).
    source_cap : int or None
        Cap on the source size for every pair (overrides :data:`SOURCE_CAPS`; None: defaults).
    full_sources : bool
        Use every source row (no cap at all, not even :data:`SOURCE_CAPS`): the full DFT
        databases (Materials Project 106k, OQMD 342k, AFLOW rows). Meant for more cores or a
        Dask cluster.
    target_max : int or None
        Use only this many target rows (random, fixed) - for quick tests.
    n_grid : sequence of int or None
        Explicit source-size grid (overrides ``n_min``/``n_points``).
    m_grid : sequence of int or None
        Explicit experimental-size grid. Legacy: the scratch sizes. Scarce: the experimental
        training sizes below the full split (the full split is always added); must not be
        empty and must not exceed the smallest training split.
    m_fractions : sequence of float
        Legacy: experimental training sizes of the extra transfer curves of the (n, m)
        surface, as fractions in (0, 1) of the smallest target training split (the full split
        is always run). Empty: no surface curves.
    m_n_points : int or None
        Legacy: how many points of the n grid (evenly spaced by index, ends included) the
        surface curves use; None: the whole n grid.
    trials : int
        Scarce: trials per (n, m) for m <= ``many_trials_max_m``.
    trials_full : int
        Scarce: trials per (n, m) above ``many_trials_max_m`` and at the full split.
    many_trials_max_m : int
        Scarce: largest m that gets ``trials`` trials.
    pretrain_seeds : int
        Scarce: pretraining seeds; trial ``t`` uses seed ``t % pretrain_seeds`` (its source
        subset and network initialisation), so one pretrained network serves every trial,
        m level and strategy that share its seed.
    m_min : int
        Scarce: smallest experimental training size of the default m grid.
    m_level_points : int
        Scarce: points of the default geometric m grid from ``m_min`` to the smallest training
        split (the top point is the full split).
    selection_seeds : int
        Scarce: the trials of pretraining seeds ``< selection_seeds`` also fit every transfer
        strategy on the first ``1 - validation_fraction`` of their training subset and score
        it on the rest (validation rows, ``OUT/validation.csv``), which is what chooses the
        default strategy (:func:`select_strategy`); 0: none.
    validation_fraction : float
        Scarce: share of a training subset that validates in ``selection_seeds`` trials.
    reuse_pretrained : bool
        Scarce: pretrain once per (pair, n, seed) and reuse the network (True), or pretrain
        again for every cell (False; identical numbers, slower - for checks and benchmarks).

    """

    protocol: Protocol = "scarce"
    seeds: int = 5
    test_fraction: float = 0.2
    n_min: int = 16
    n_points: int = 10
    m_points: int = 8
    source_cap: int | None = None
    full_sources: bool = False
    target_max: int | None = None
    n_grid: tuple[int, ...] | None = None
    m_grid: tuple[int, ...] | None = None
    m_fractions: tuple[float, ...] = (0.25, 0.5)
    m_n_points: int | None = 5
    trials: int = 20
    trials_full: int = 5
    many_trials_max_m: int = 128
    pretrain_seeds: int = 5
    m_min: int = 25
    m_level_points: int = 6
    selection_seeds: int = 1
    validation_fraction: float = 0.2
    reuse_pretrained: bool = True

    def __post_init__(self) -> None:
        if self.protocol not in ("scarce", "legacy"):
            raise BayesScalingError(
                f"Unknown protocol {self.protocol!r}; choose 'scarce' or 'legacy'."
            )
        bad = [f for f in self.m_fractions if not 0.0 < float(f) < 1.0]
        if bad:
            raise BayesScalingError(
                f"m_fractions must lie in (0, 1) (fractions of the target training split; the "
                f"full split is always run), got {bad}."
            )
        if self.m_n_points is not None and self.m_n_points < 3:
            raise BayesScalingError(f"m_n_points must be >= 3 or None, got {self.m_n_points}.")
        if self.seeds < 1:
            raise BayesScalingError(f"seeds must be >= 1, got {self.seeds}.")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise BayesScalingError(
                f"test_fraction must be in [0.05, 0.5], got {self.test_fraction}."
            )
        if self.n_min < 2:
            raise BayesScalingError(f"n_min must be >= 2, got {self.n_min}.")
        if self.m_grid is not None and len(self.m_grid) == 0:
            raise BayesScalingError(
                "m_grid is empty: give at least one experimental training size (or None for "
                "the default grid)."
            )
        if self.m_grid is not None and min(int(m) for m in self.m_grid) < 2:
            raise BayesScalingError(f"m_grid sizes must be >= 2, got {sorted(self.m_grid)}.")
        for name in ("trials", "trials_full", "pretrain_seeds"):
            if getattr(self, name) < 1:
                raise BayesScalingError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.selection_seeds < 0:
            raise BayesScalingError(f"selection_seeds must be >= 0, got {self.selection_seeds}.")
        if self.m_min < 2:
            raise BayesScalingError(f"m_min must be >= 2, got {self.m_min}.")
        if self.m_level_points < 2:
            raise BayesScalingError(
                f"m_level_points must be >= 2 (the smallest m and the full split), got "
                f"{self.m_level_points}."
            )
        if not 0.0 < self.validation_fraction <= 0.5:
            raise BayesScalingError(
                f"validation_fraction must be in (0, 0.5], got {self.validation_fraction}."
            )
        if self.full_sources and self.source_cap is not None:
            raise BayesScalingError("Give either source_cap or full_sources, not both.")

    @property
    def max_trials(self) -> int:
        """Number of distinct trials (train/test splits) the scarce protocol uses."""
        return max(self.trials, self.trials_full)

    def trials_at(self, m: int) -> int:
        """Scarce: trials at experimental size ``m`` (0: the full split)."""
        return self.trials if 0 < m <= self.many_trials_max_m else self.trials_full

    def fingerprint(self) -> dict[str, Any]:
        """Return the settings that change an already computed cell (the resume guard)."""
        from bayes_scaling.harness import strategies as st

        common = {
            "protocol": self.protocol,
            "test_fraction": self.test_fraction,
            "target_max": self.target_max,
            "mlp": {k: list(v) if isinstance(v, tuple) else v for k, v in st.MLP_PARAMS.items()},
            "epochs": [st.PRETRAIN_EPOCHS, st.TARGET_EPOCHS, st.EARLY_STOP_MIN],
        }
        if self.protocol == "legacy":
            return common
        return common | {
            "pretrain_seeds": self.pretrain_seeds,
            "validation_fraction": self.validation_fraction,
            "gentle": [
                st.GENTLE_LEARNING_RATE,
                st.GENTLE_VALIDATION_FRACTION,
                st.GENTLE_PATIENCE,
            ],
            "frozen": list(st.FROZEN_ALPHAS),
            "format": SCARCE_FORMAT,
        }


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


@dataclass(frozen=True)
class Job:
    """One model fit: a (pair, strategy, kind, n, seed, m) cell of the protocol.

    ``m`` is the experimental training size of a surface job; 0 means the full training split
    (and, for scratch jobs, the size is ``n``).
    """

    pair: str
    strategy: str
    kind: Literal["transfer", "scratch"]
    n: int
    seed: int
    label: str = field(default="", compare=False)
    m: int = 0

    @property
    def key(self) -> tuple:
        """The job key used for resuming."""
        return job_key(asdict(self))


# ---------------------------------------------------------------------------- preparation
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


@dataclass(frozen=True)
class PretrainJob:
    """Scarce protocol: every cell that shares one pretrained network.

    One network is pretrained on the first ``n`` rows of source permutation ``seed`` and
    adapted, for each cell ``(strategy, m, trial)`` (``m`` 0: the full split), to the first
    ``m`` rows of the trial's permutation of its training split, then scored on the trial's
    test split. The cells are the trials ``t`` with ``t % pretrain_seeds == seed``.
    """

    pair: str
    n: int
    seed: int
    label: str = field(default="", compare=False)
    cells: tuple[tuple[str, int, int], ...] = ()
    kind: Literal["transfer"] = "transfer"

    def cell_keys(self) -> list[tuple]:
        """Job keys (as stored in the shards) of the cells."""
        return [
            job_key(
                {"pair": self.pair, "strategy": st, "kind": "transfer", "n": self.n, "seed": t}
                | {"m": m}
            )
            for st, m, t in self.cells
        ]


def make_jobs(
    prep: PreparedPair, strategies: Sequence[str], seeds: int | None = None
) -> list[Job | PretrainJob]:
    """All jobs of one prepared pair (``seeds``: legacy only; default the config's)."""
    if prep.config.protocol == "scarce":
        return _scarce_jobs(prep, strategies)
    seeds = prep.config.seeds if seeds is None else seeds
    jobs: list[Job | PretrainJob] = []
    for strat in strategies:
        if strat == "scratch":
            jobs += [
                Job(prep.scratch_label, "scratch", "scratch", m, s, prep.scratch_label)
                for s in range(seeds)
                for m in prep.m_grid
            ]
        else:
            jobs += [
                Job(prep.name, strat, "transfer", n, s, prep.name)
                for s in range(seeds)
                for n in prep.n_grid
            ]
            jobs += [
                Job(prep.name, strat, "transfer", n, s, prep.name, m=m)
                for m in prep.m_levels
                for s in range(seeds)
                for n in prep.m_n_grid
            ]
    return jobs


def _scarce_jobs(prep: PreparedPair, strategies: Sequence[str]) -> list[Job | PretrainJob]:
    cfg = prep.config
    jobs: list[Job | PretrainJob] = []
    if "scratch" in strategies:
        top = prep.m_grid[-1]  # the smallest training split: scratch's "full split"
        jobs += [
            Job(prep.scratch_label, "scratch", "scratch", m, t, prep.scratch_label)
            for m in prep.m_grid
            for t in range(cfg.trials_at(0 if m == top else m))
        ]
    transfer = [s for s in strategies if s != "scratch"]
    if not transfer:
        return jobs
    levels = [*prep.m_levels, 0]
    for n in prep.n_grid:
        for seed in range(cfg.pretrain_seeds):
            cells = tuple(
                (st, m, t)
                for m in levels
                for t in range(cfg.trials_at(m))
                if t % cfg.pretrain_seeds == seed
                for st in transfer
            )
            if cells:
                jobs.append(PretrainJob(prep.name, n, seed, prep.name, cells))
    return jobs


# ---------------------------------------------------------------------------- one job
def run_job(job: Job, arrays: dict[str, Any]) -> list[dict[str, Any]]:
    """Fit one model and return its result rows (one per metric).

    ``arrays`` holds the seed-specific arrays of the pair (see :func:`_job_arrays`).
    The function is pure: the same job and arrays give the same errors.
    """
    t0 = time.perf_counter()
    strategy = get_strategy(job.strategy)
    Xt, yt = arrays["Xt"], arrays["yt"]
    train, test = arrays["train"], arrays["test"]
    if job.kind == "scratch":
        train = arrays["scratch_order"][: job.n]
        Xs_n = np.empty((0, Xt.shape[1]), dtype=Xt.dtype)
        ys_n = np.empty(0)
    else:
        idx = arrays["source_order"][: job.n]
        Xs_n, ys_n = arrays["Xs"][idx], arrays["ys"][idx]
        if job.m:
            if job.m > len(train):
                raise BayesScalingError(
                    f"Job {job}: m={job.m} is larger than the target training split "
                    f"({len(train)} rows)."
                )
            train = arrays["scratch_order"][: job.m]  # nested, shared with the scratch curve
    y_mean, y_std = float(np.mean(yt[train])), float(np.std(yt[train]) or 1.0)
    ytr = (yt[train] - y_mean) / y_std
    fit_rows = np.vstack([Xs_n, Xt[train]]) if len(Xs_n) else Xt[train]
    scaler = StandardScaler().fit(fit_rows)

    def tf(a: np.ndarray) -> np.ndarray:
        return np.clip(scaler.transform(a), -10, 10) if len(a) else a

    if len(ys_n):
        ys_std = float(np.std(ys_n)) or 1.0
        ysn = (ys_n - float(np.mean(ys_n))) / ys_std
    else:
        ysn = ys_n
    # full-split jobs keep the seeds they had before surface jobs existed
    surface = ("m", job.m) if job.m else ()
    rs = stable_seed("model", job.pair, job.strategy, job.n, job.seed, *surface)
    # One BLAS thread, reference-counted so that concurrent jobs in one process (threading
    # backend, threaded Dask workers) cannot undo each other's limit (see harness.threads).
    with single_threaded_blas():
        pred = strategy.fit_predict(tf(Xs_n), ysn, tf(Xt[train]), ytr, tf(Xt[test]), rs)
    pred = pred * y_std + y_mean
    resid = pred - yt[test]
    mae = float(np.mean(np.abs(resid)))
    rmse = float(np.sqrt(np.mean(resid**2)))
    scale = arrays["target_scale"]
    wall = time.perf_counter() - t0
    base = {
        **arrays["meta"],
        "pair": job.pair,
        "database": "none" if job.kind == "scratch" else arrays["meta"]["database"],
        "kind": job.kind,
        "strategy": job.strategy,
        "n": job.n,
        "seed": job.seed,
        "m": job.m if job.m else None,
        "target_scale": scale,
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "wall_time": wall,
    }
    values = {"mae": mae, "rmse": rmse, "nmae": mae / scale, "nrmse": rmse / scale}
    return [{**base, "metric": m, "error": values[m]} for m in METRICS]


def _adapt_predict(
    strategy: Any,
    net: Any,
    X: np.ndarray,
    y: np.ndarray,
    fit_idx: np.ndarray,
    eval_idx: np.ndarray,
    tf: Callable[[np.ndarray], np.ndarray],
    random_state: int,
) -> np.ndarray:
    """Adapt ``net`` to rows ``fit_idx`` and predict rows ``eval_idx`` (property units).

    The only place where target labels are used: those of ``fit_idx`` only.
    """
    y_fit = y[fit_idx]
    y_mean, y_std = float(np.mean(y_fit)), float(np.std(y_fit) or 1.0)
    pred = strategy.adapt(
        net, tf(X[fit_idx]), (y_fit - y_mean) / y_std, tf(X[eval_idx]), random_state
    )
    return np.asarray(pred, dtype=float) * y_std + y_mean


def run_pretrain_job(
    job: PretrainJob, arrays: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run every cell of a scarce-protocol job; return (result rows, validation rows).

    The network is pretrained once (``arrays["reuse"]`` True) or again for every cell
    (False); both give identical numbers because pretraining is seeded by (pair, n, seed)
    only and no strategy modifies the network it adapts. Features are standardised with the
    statistics of the n source rows (the network's input layer is tied to them), source
    labels with theirs and target labels with those of the rows each model is fitted on.
    """
    t0 = time.perf_counter()
    idx = arrays["source_order"][: job.n]
    Xs_n, ys_n = arrays["Xs"][idx], arrays["ys"][idx]
    Xt, yt = arrays["Xt"], arrays["yt"]
    scale = arrays["target_scale"]
    reuse = bool(arrays.get("reuse", True))
    validate = bool(arrays.get("validate", False))
    vfrac = float(arrays.get("validation_fraction", 0.2))
    rows: list[dict[str, Any]] = []
    val_rows: list[dict[str, Any]] = []
    with single_threaded_blas():
        scaler = StandardScaler().fit(Xs_n)

        def tf(a: np.ndarray) -> np.ndarray:
            return np.clip(scaler.transform(a), -10, 10)

        Xs_t = tf(Xs_n)
        ysn = (ys_n - float(np.mean(ys_n))) / (float(np.std(ys_n)) or 1.0)
        rs_pre = stable_seed("pretrain", job.pair, job.n, job.seed)
        shared = pretrain_source(Xs_t, ysn, rs_pre) if reuse else None
        pre_wall = time.perf_counter() - t0
        for strat_name, m, trial in job.cells:
            t1 = time.perf_counter()
            _, test = arrays["splits"][trial]
            order = arrays["orders"][trial]
            if m > len(order):
                raise BayesScalingError(
                    f"{job.pair}: m={m} is larger than trial {trial}'s target training split "
                    f"({len(order)} rows)."
                )
            train = order[:m] if m else order  # nested in m, shared with the scratch curve
            net = shared if shared is not None else pretrain_source(Xs_t, ysn, rs_pre)
            strategy = get_strategy(strat_name)
            rs = stable_seed("adapt", job.pair, strat_name, job.n, trial, m)
            pred = _adapt_predict(strategy, net, Xt, yt, train, test, tf, rs)
            resid = pred - yt[test]
            mae = float(np.mean(np.abs(resid)))
            rmse = float(np.sqrt(np.mean(resid**2)))
            wall = time.perf_counter() - t1 + (pre_wall / len(job.cells) if reuse else 0.0)
            base = {
                **arrays["meta"],
                "pair": job.pair,
                "kind": "transfer",
                "strategy": strat_name,
                "n": job.n,
                "seed": trial,
                "m": m if m else None,
                "target_scale": scale,
                "n_train": int(len(train)),
                "n_test": int(len(test)),
                "wall_time": wall,
            }
            values = {"mae": mae, "rmse": rmse, "nmae": mae / scale, "nrmse": rmse / scale}
            rows += [{**base, "metric": k, "error": values[k]} for k in METRICS]
            if validate:
                k_fit = len(train) - max(2, round(vfrac * len(train)))
                if k_fit >= 2:
                    fit_idx, val_idx = train[:k_fit], train[k_fit:]
                    vpred = _adapt_predict(strategy, net, Xt, yt, fit_idx, val_idx, tf, rs)
                    vmae = float(np.mean(np.abs(vpred - yt[val_idx])))
                    val_rows.append(
                        {
                            "pair": job.pair,
                            "strategy": strat_name,
                            "n": job.n,
                            "seed": trial,
                            "m": m if m else None,
                            "n_fit": int(k_fit),
                            "n_val": int(len(val_idx)),
                            "val_nmae": vmae / scale,
                        }
                    )
    return rows, val_rows


def _pretrain_arrays(prep: PreparedPair, job: PretrainJob) -> dict[str, Any]:
    trials = sorted({t for _, _, t in job.cells})
    cfg = prep.config
    return {
        "Xs": prep.Xs,
        "ys": prep.ys,
        "source_order": prep.source_order[job.seed],
        "Xt": prep.Xt,
        "yt": prep.yt,
        "splits": {t: prep.splits[t] for t in trials},
        "orders": {t: prep.scratch_order[t] for t in trials},
        "target_scale": prep.target_scale,
        "meta": prep.meta,
        "reuse": cfg.reuse_pretrained,
        "validate": job.seed < cfg.selection_seeds,
        "validation_fraction": cfg.validation_fraction,
    }


def _job_arrays(prep: PreparedPair, seed: int) -> dict[str, Any]:
    train, test = prep.splits[seed]
    return {
        "Xs": prep.Xs,
        "ys": prep.ys,
        # scarce trials beyond the pretraining seeds are scratch jobs: no source needed
        "source_order": prep.source_order.get(seed, np.empty(0, dtype=np.int64)),
        "Xt": prep.Xt,
        "yt": prep.yt,
        "train": train,
        "test": test,
        "scratch_order": prep.scratch_order[seed],
        "target_scale": prep.target_scale,
        "meta": prep.meta,
    }


# ---------------------------------------------------------------------------- the run
def _progress(total: int, quiet: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=quiet, desc=desc, unit="fit", dynamic_ncols=True)


def run_harness(
    pairs: Sequence[str] | str,
    *,
    strategies: Sequence[str] = ("finetune", "scratch"),
    config: HarnessConfig | None = None,
    out: str | Path = "data/curves",
    n_jobs: int = 1,
    backend: Backend = "loky",
    quiet: bool = False,
    on_result: Callable[[Job], None] | None = None,
) -> pd.DataFrame:
    """Run (or resume) the harness and return the validated curve table of ``pairs``.

    Parameters
    ----------
    pairs : str or sequence of str
        Pair names from :func:`bayes_scaling.datasets.list_pairs`, or ``"all"``.
    strategies : sequence of str
        Any of ``finetune``, ``feature``, ``residual``, ``scratch``.
    config : HarnessConfig, optional
        Protocol settings (defaults: 5 seeds, 10-point n grid, 8-point m grid).
    out : path-like
        Output folder; results go to ``out/shards/*.csv`` as they finish and the collected
        table to ``out/curves.csv``. Rerunning with the same folder skips finished jobs.
    n_jobs : int
        Parallel workers (joblib).
    backend : {"loky", "threading", "sequential", "dask"}
        joblib backend; ``"dask"`` needs an active ``dask.distributed.Client``.
    quiet : bool
        Hide the progress bar.
    on_result : callable, optional
        Called with each finished job after its rows are stored (hooks, tests).

    Returns
    -------
    pandas.DataFrame
        Validated curve table (all shards of the requested pairs, finished jobs only).

    Examples
    --------
    >>> run_harness("chi_cosmo_rs", config=HarnessConfig(seeds=2), n_jobs=2)  # doctest: +SKIP

    """
    from bayes_scaling.datasets import list_pairs

    config = config or HarnessConfig()
    known = list(list_pairs(counts=False)["pair"])
    names = (
        known
        if pairs == "all" or pairs == ["all"]
        else ([pairs] if isinstance(pairs, str) else list(pairs))
    )
    for nm in names:
        if nm not in known:
            raise UnknownNameError(f"Unknown pair {nm!r}; known pairs: {', '.join(known)}.")
    for s in strategies:
        if s not in STRATEGIES:
            raise UnknownNameError(f"Unknown strategy {s!r}; choose from {', '.join(STRATEGIES)}.")
    if backend not in ("loky", "threading", "sequential", "dask"):
        raise BayesScalingError(f"Unknown backend {backend!r}.")

    _check_settings(Path(out), config)  # before the (slow) preparation: fail fast
    store = ShardStore(out)
    preps = {nm: prepare_pair(nm, config) for nm in names}
    jobs: list[tuple[Job | PretrainJob, PreparedPair]] = []
    seen: set[tuple] = set()
    for prep in preps.values():
        for job in make_jobs(prep, strategies):
            ident = job.key if isinstance(job, Job) else ("pretrain", job.pair, job.n, job.seed)
            if ident not in seen:  # scratch jobs shared by pairs with one target
                seen.add(ident)
                jobs.append((job, prep))
    labels = {job.label for job, _ in jobs}
    done = store.done(labels)
    todo: list[tuple[Job | PretrainJob, PreparedPair]] = []
    for job, prep in jobs:
        if isinstance(job, PretrainJob):  # only the cells not recorded yet (one pretraining)
            keys = job.cell_keys()
            missing = tuple(c for c, k in zip(job.cells, keys, strict=True) if k not in done)
            if missing:
                todo.append((replace(job, cells=missing), prep))
        elif job.key not in done:
            todo.append((job, prep))
    # Most expensive first (large n, then large m) so the parallel tail is short.
    todo.sort(key=lambda jp: (-jp[0].n, -(getattr(jp[0], "m", 0) or 10**9)))

    vstore = ShardStore(Path(out) / "validation") if config.protocol == "scarce" else None
    bar = _progress(len(todo), quiet, "harness")
    if todo:
        workers = 1 if backend == "sequential" else n_jobs
        # Dispatch lazily: the arrays of each pair go to the workers once (joblib memmaps
        # large arrays for loky and scatters them for dask). parallel_config (not a Parallel
        # argument) is what registers joblib's dask backend on first use.
        tasks = (_task(job, prep) for job, prep in todo)
        with joblib.parallel_config(backend=backend, n_jobs=workers):
            for job, rows, val_rows in joblib.Parallel(return_as="generator_unordered")(tasks):
                if val_rows and vstore is not None:  # first: a job counts as done by its rows
                    vstore.append(job.label, val_rows)
                store.append(job.label, rows)
                bar.update(1)
                if on_result is not None:
                    on_result(job)
    bar.close()
    table = store.collect()
    if table.empty:
        raise BayesScalingError(f"No harness results in {out}.")
    table = table[table["pair"].isin(labels)]
    table = validate_curves(table)
    write_curves(table, Path(out) / "curves.csv")
    if vstore is not None:
        val = vstore.collect()
        if not val.empty:
            val = val.drop_duplicates(["pair", "strategy", "n", "seed", "m"], keep="last")
            val = val[val["pair"].isin(labels)].sort_values(["pair", "strategy", "m", "n", "seed"])
            atomic_write_bytes(Path(out) / "validation.csv", val.to_csv(index=False).encode())
    return table


def _task(job: Job | PretrainJob, prep: PreparedPair) -> Any:
    if isinstance(job, PretrainJob):
        return joblib.delayed(_run_pretrain_tagged)(job, _pretrain_arrays(prep, job))
    return joblib.delayed(_run_tagged)(job, _job_arrays(prep, job.seed))


def _run_pretrain_tagged(
    job: PretrainJob, arrays: dict[str, Any]
) -> tuple[PretrainJob, list[dict[str, Any]], list[dict[str, Any]]]:
    return job, *run_pretrain_job(job, arrays)


SETTINGS_FILE: Final[str] = "settings.json"


def _check_settings(out: Path, config: HarnessConfig) -> None:
    """Refuse to resume into a folder whose results were made with other settings.

    ``OUT/settings.json`` records :meth:`HarnessConfig.fingerprint`. With results present
    (``OUT/shards/*.csv`` or ``OUT/curves.csv``) a different fingerprint, or no settings
    file under a non-legacy protocol (the legacy harness wrote none), is an error; without
    results the file is (re)written.
    """
    path = out / SETTINGS_FILE
    current = json.loads(json.dumps(config.fingerprint()))  # tuples -> lists, as on disk
    # Shards, or a collected table (a committed curves.csv comes without its shards).
    has_results = any((out / "shards").glob("*.csv")) or (out / "curves.csv").exists()
    if has_results and path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BayesScalingError(f"{path} is unreadable ({exc}); delete it.") from exc
        if stored != current:
            diff = ", ".join(
                f"{k}: {stored.get(k)!r} -> {current.get(k)!r}"
                for k in sorted(set(stored) | set(current))
                if stored.get(k) != current.get(k)
            )
            raise BayesScalingError(
                f"{out} holds harness results made with other settings ({diff}); resuming "
                f"would mix them. Use a new --out, or delete {out} to recompute."
            )
        return
    if has_results and config.protocol != "legacy":
        raise BayesScalingError(
            f"{out} holds harness results (shards or curves.csv) without {SETTINGS_FILE}: "
            "results of the legacy protocol (written before settings were recorded). "
            f"Running the {config.protocol!r} protocol there would mix protocols and "
            "overwrite its curves.csv; use a new --out, or pass --protocol legacy to extend "
            "them."
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(current, indent=1, sort_keys=True) + "\n").encode())


def _run_tagged(
    job: Job, arrays: dict[str, Any]
) -> tuple[Job, list[dict[str, Any]], list[dict[str, Any]]]:
    return job, run_job(job, arrays), []


# ---------------------------------------------------------------------------- default strategy
#: Transfer strategies measured side by side by default under the scarce protocol.
SCARCE_STRATEGIES: Final[tuple[str, ...]] = ("finetune", "gentle", "frozen", "scratch")


@dataclass(frozen=True)
class StrategyChoice:
    """The default transfer strategy chosen on validation rows (never the test split).

    Attributes
    ----------
    table : pandas.DataFrame
        Per (pair, m, strategy): mean validation nMAE over the n grid and the validation
        trials, and the strategy's rank within its (pair, m) cell (1 = best).
    default : str
        Strategy with the lowest mean rank over every (pair, m) cell (ties: lowest mean
        validation nMAE).
    summary : pandas.DataFrame
        Per strategy: mean rank, cells won, mean validation nMAE.

    """

    table: pd.DataFrame
    default: str
    summary: pd.DataFrame

    @property
    def sentence(self) -> str:
        """One plain sentence stating the choice."""
        s = self.summary.loc[self.default]
        return (
            f"Default transfer strategy: {self.default!r} (mean rank {s['mean_rank']:.2f} over "
            f"{int(s['cells'])} (pair, m) cells, best in {int(s['wins'])}; chosen on "
            "validation rows of the training subsets only)."
        )


def select_strategy(validation: pd.DataFrame | str | Path) -> StrategyChoice:
    """Choose the default transfer strategy from validation rows only.

    The protocol: in the trials of the first ``selection_seeds`` pretraining seeds, every
    transfer strategy is also fitted on the first ``1 - validation_fraction`` of the trial's
    training subset and scored (nMAE) on the rest of it; the test split is never read. Per
    (pair, m level) the strategies are ranked by their mean validation nMAE over the n grid
    and those trials; the default is the strategy with the lowest mean rank over all
    (pair, m) cells, ties broken by the lower mean validation nMAE.

    Parameters
    ----------
    validation : pandas.DataFrame or path-like
        ``OUT/validation.csv`` of a scarce-protocol run (or its frame).

    Returns
    -------
    StrategyChoice

    """
    if not isinstance(validation, pd.DataFrame):
        path = Path(validation)
        if not path.exists():
            raise BayesScalingError(
                f"No validation rows at {path}: run the scarce protocol with "
                "selection_seeds >= 1 first."
            )
        validation = pd.read_csv(path)
    need = {"pair", "strategy", "m", "val_nmae"}
    missing = need - set(validation.columns)
    if missing or validation.empty:
        raise BayesScalingError(
            f"Validation table is empty or lacks columns {sorted(missing)}; expected "
            f"{sorted(need)}."
        )
    v = validation.assign(m=validation["m"].fillna(0).astype(int))
    table = v.groupby(["pair", "m", "strategy"], as_index=False)["val_nmae"].mean()
    table["rank"] = table.groupby(["pair", "m"])["val_nmae"].rank(method="average")
    summary = table.groupby("strategy").agg(
        mean_rank=("rank", "mean"),
        wins=("rank", lambda r: int((r == 1).sum())),
        cells=("rank", "size"),
        mean_val_nmae=("val_nmae", "mean"),
    )
    default = str(summary.sort_values(["mean_rank", "mean_val_nmae"]).index[0])
    return StrategyChoice(table=table, default=default, summary=summary)
