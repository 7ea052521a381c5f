"""Run the Sim2Real transfer protocol and record learning curves.

Protocol (per source→target pair of :mod:`bayes_scaling.datasets.pairs`):

1. The target (experimental) data are deduplicated by canonical key by the loaders. For each
   seed the target is split into train/test with a *group* split (test fraction
   :attr:`HarnessConfig.test_fraction`, default 0.2) so that no test key (for χ: no test
   polymer–solvent pair, at any temperature) appears in training. The split depends only on
   the seed and the target dataset, so every source database of one target is scored on the
   same test sets.
2. For each seed the source rows are permuted once; the subset for size n is the first n rows
   of that permutation, so subsets are nested (larger n contains smaller n).
3. ``transfer`` rows: for n on a geometric grid from :attr:`HarnessConfig.n_min` to the source
   size (or the documented cap :data:`SOURCE_CAPS` for the 100k–340k-row DFT databases), the
   strategy pretrains on n source rows and trains on the whole target training split
   (column ``m`` missing). For the (n, m) error surface the same is repeated with only the
   first m rows of the seed's target-training permutation (the scratch order below, so the
   m-subsets are nested and shared with the scratch curve), m = ``fraction × smallest
   training split`` for each of :attr:`HarnessConfig.m_fractions` (default 25 % and 50 %),
   on :attr:`HarnessConfig.m_n_points` points of the n grid; these rows carry ``m``.
4. ``scratch`` rows: no source; the model is trained on the first m rows of a per-seed
   permutation of the target training split, m on a geometric grid up to the full split. One
   scratch curve per target dataset (shared by the pairs with that target).
5. The test error is recorded as MAE and RMSE in the property's units and divided by
   ``target_scale`` (the standard deviation of the whole deduplicated target) as ``nmae`` and
   ``nrmse``.

Features are standardised with statistics of the rows used for training only; target labels
with the training split's mean and standard deviation; source labels with the source subset's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit
from sklearn.preprocessing import StandardScaler

from bayes_scaling.curves import validate_curves, write_curves
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.harness.store import ShardStore, job_key
from bayes_scaling.harness.strategies import STRATEGIES, get_strategy
from bayes_scaling.harness.threads import single_threaded_blas

#: Largest source size used per pair: the full database unless listed here. The DFT
#: databases (Materials Project 106k, OQMD 342k rows) are capped so that a full regeneration
#: fits in the one-hour, two-core budget; the grid still spans three decades of n.
SOURCE_CAPS: Final[dict[str, int]] = {
    "bandgap_mp": 16_384,
    "bandgap_oqmd": 16_384,
    "bandgap_aflow": 16_384,
}
METRICS: Final[tuple[str, ...]] = ("mae", "rmse", "nmae", "nrmse")
Backend = Literal["loky", "threading", "sequential", "dask"]


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


@dataclass(frozen=True)
class HarnessConfig:
    """Settings of one harness run (all documented defaults, none tuned on test data).

    Parameters
    ----------
    seeds : int
        Number of repeated random splits / source subsamples (seeds ``0..seeds-1``).
    test_fraction : float
        Fraction of target groups held out for testing.
    n_min : int
        Smallest source size (and smallest scratch size m).
    n_points, m_points : int
        Points of the geometric grids over n (transfer) and m (scratch).
    source_cap : int or None
        Cap on the source size for every pair (overrides :data:`SOURCE_CAPS`; None: defaults).
    target_max : int or None
        Use only this many target rows (random, fixed) - for quick tests.
    n_grid : sequence of int or None
        Explicit source-size grid (overrides ``n_min``/``n_points``).
    m_grid : sequence of int or None
        Explicit scratch-size grid.
    m_fractions : sequence of float
        Experimental training sizes of the extra transfer curves of the (n, m) surface, as
        fractions in (0, 1) of the smallest target training split (the full split is always
        run). Empty: no surface curves.
    m_n_points : int or None
        How many points of the n grid (evenly spaced by index, ends included) the surface
        curves use; None: the whole n grid.

    """

    seeds: int = 5
    test_fraction: float = 0.2
    n_min: int = 16
    n_points: int = 10
    m_points: int = 8
    source_cap: int | None = None
    target_max: int | None = None
    n_grid: tuple[int, ...] | None = None
    m_grid: tuple[int, ...] | None = None
    m_fractions: tuple[float, ...] = (0.25, 0.5)
    m_n_points: int | None = 5

    def __post_init__(self) -> None:
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

    # Splits and scratch orders depend only on (seed, target).
    splits: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    scratch_order: dict[int, np.ndarray] = {}
    for seed in range(config.seeds):
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

    # Nested source subsets: the first n rows of one permutation per seed. Only the rows any
    # seed can reach are featurized (matters for the capped DFT databases).
    perms = {
        seed: np.random.default_rng(stable_seed("source", name, seed)).permutation(len(source))[
            :n_source
        ]
        for seed in range(config.seeds)
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
    )


def make_jobs(prep: PreparedPair, strategies: Sequence[str], seeds: int) -> list[Job]:
    """All jobs of one prepared pair."""
    jobs: list[Job] = []
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


def _job_arrays(prep: PreparedPair, seed: int) -> dict[str, Any]:
    train, test = prep.splits[seed]
    return {
        "Xs": prep.Xs,
        "ys": prep.ys,
        "source_order": prep.source_order[seed],
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

    store = ShardStore(out)
    preps = {nm: prepare_pair(nm, config) for nm in names}
    jobs: list[tuple[Job, PreparedPair]] = []
    seen: set[tuple] = set()
    for prep in preps.values():
        for job in make_jobs(prep, strategies, config.seeds):
            if job.key not in seen:  # scratch jobs shared by pairs with one target
                seen.add(job.key)
                jobs.append((job, prep))
    labels = {job.label for job, _ in jobs}
    done = store.done(labels)
    todo = [(j, p) for j, p in jobs if j.key not in done]
    # Most expensive first (large n, then large m) so the parallel tail is short.
    todo.sort(key=lambda jp: (-jp[0].n, -(jp[0].m or 10**9)))

    bar = _progress(len(todo), quiet, "harness")
    if todo:
        workers = 1 if backend == "sequential" else n_jobs
        # Dispatch lazily: the arrays of each pair go to the workers once (joblib memmaps
        # large arrays for loky and scatters them for dask). parallel_config (not a Parallel
        # argument) is what registers joblib's dask backend on first use.
        tasks = (
            joblib.delayed(_run_tagged)(job, _job_arrays(prep, job.seed)) for job, prep in todo
        )
        with joblib.parallel_config(backend=backend, n_jobs=workers):
            for job, rows in joblib.Parallel(return_as="generator_unordered")(tasks):
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
    return table


def _run_tagged(job: Job, arrays: dict[str, Any]) -> tuple[Job, list[dict[str, Any]]]:
    return job, run_job(job, arrays)
