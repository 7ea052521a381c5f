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

**Modules** (the pipeline of one run; this module is the entry point and re-exports their
public names):

* :mod:`~bayes_scaling.harness.config`: :class:`HarnessConfig`, seeds and grids;
* :mod:`~bayes_scaling.harness.prepare`: :func:`prepare_pair` (load, featurize, split);
* :mod:`~bayes_scaling.harness.jobs`: :class:`Job`, :class:`PretrainJob`, :func:`make_jobs`;
* :mod:`~bayes_scaling.harness.single_fit`: :func:`run_job` (legacy transfer, scratch);
* :mod:`~bayes_scaling.harness.scarce`: :func:`run_pretrain_job` (pretrain once, adapt);
* :mod:`~bayes_scaling.harness.backends`: running the jobs on a joblib backend;
* :mod:`~bayes_scaling.harness.settings`: the ``settings.json`` resume guard;
* :mod:`~bayes_scaling.harness.strategy_choice`: :func:`select_strategy`;
* this module: :func:`run_harness`, which plans, skips finished jobs, runs and collects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from bayes_scaling.curves import atomic_write_bytes, validate_curves, write_curves
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.harness.backends import (
    Backend,
    _progress,  # noqa: F401
    _run_pretrain_tagged,  # noqa: F401
    _run_tagged,  # noqa: F401
    _task,  # noqa: F401
    run_jobs,
)
from bayes_scaling.harness.config import (
    METRICS,
    SCARCE_FORMAT,
    SOURCE_CAPS,
    HarnessConfig,
    Protocol,
    geometric_grid,
    stable_seed,
)
from bayes_scaling.harness.jobs import Job, PretrainJob, _scarce_jobs, make_jobs  # noqa: F401
from bayes_scaling.harness.prepare import (
    PreparedPair,
    _featurize,  # noqa: F401
    _legacy_m_grids,  # noqa: F401
    _scarce_m_grid,  # noqa: F401
    _target_id,  # noqa: F401
    prepare_pair,
)
from bayes_scaling.harness.scarce import (
    _adapt_predict,  # noqa: F401
    _pretrain_arrays,  # noqa: F401
    run_pretrain_job,
)
from bayes_scaling.harness.settings import SETTINGS_FILE, _check_settings
from bayes_scaling.harness.single_fit import _job_arrays, run_job  # noqa: F401
from bayes_scaling.harness.store import ShardStore
from bayes_scaling.harness.strategies import STRATEGIES
from bayes_scaling.harness.strategy_choice import (
    SCARCE_STRATEGIES,
    StrategyChoice,
    select_strategy,
)

__all__ = [
    "METRICS",
    "SCARCE_FORMAT",
    "SCARCE_STRATEGIES",
    "SETTINGS_FILE",
    "SOURCE_CAPS",
    "Backend",
    "HarnessConfig",
    "Job",
    "PreparedPair",
    "PretrainJob",
    "Protocol",
    "StrategyChoice",
    "geometric_grid",
    "make_jobs",
    "prepare_pair",
    "run_harness",
    "run_job",
    "run_pretrain_job",
    "select_strategy",
    "stable_seed",
]


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
    run_jobs(
        todo,
        backend=backend,
        n_jobs=n_jobs,
        store=store,
        vstore=vstore,
        quiet=quiet,
        on_result=on_result,
    )
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
