"""Running jobs on a joblib backend: sequential, loky, threading or Dask.

:func:`run_jobs` dispatches the jobs lazily (each pair's arrays reach the workers once) and
stores every job's rows as it finishes, so an interrupted run resumes where it stopped.
Every fit runs with one BLAS thread (:mod:`bayes_scaling.harness.threads`), so results do not
depend on the backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import joblib

from bayes_scaling.harness.jobs import Job, PretrainJob
from bayes_scaling.harness.prepare import PreparedPair
from bayes_scaling.harness.scarce import _pretrain_arrays, run_pretrain_job
from bayes_scaling.harness.single_fit import _job_arrays, run_job
from bayes_scaling.harness.store import ShardStore

Backend = Literal["loky", "threading", "sequential", "dask"]


def run_jobs(
    todo: list[tuple[Job | PretrainJob, PreparedPair]],
    *,
    backend: Backend,
    n_jobs: int,
    store: ShardStore,
    vstore: ShardStore | None,
    quiet: bool,
    on_result: Callable[[Job], None] | None,
) -> None:
    """Run ``todo`` on ``backend`` and store each job's rows as it finishes.

    Parameters
    ----------
    todo : list of (job, prepared pair)
        The jobs still to run, in dispatch order.
    backend : {"loky", "threading", "sequential", "dask"}
        joblib backend; ``"dask"`` needs an active ``dask.distributed.Client``.
    n_jobs : int
        Parallel workers (ignored by ``"sequential"``).
    store, vstore : ShardStore
        Where result rows and (scarce protocol; None: not recorded) validation rows go.
    quiet : bool
        Hide the progress bar.
    on_result : callable, optional
        Called with each finished job after its rows are stored.

    """
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


def _progress(total: int, quiet: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=quiet, desc=desc, unit="fit", dynamic_ncols=True)


def _task(job: Job | PretrainJob, prep: PreparedPair) -> Any:
    if isinstance(job, PretrainJob):
        return joblib.delayed(_run_pretrain_tagged)(job, _pretrain_arrays(prep, job))
    return joblib.delayed(_run_tagged)(job, _job_arrays(prep, job.seed))


def _run_pretrain_tagged(
    job: PretrainJob, arrays: dict[str, Any]
) -> tuple[PretrainJob, list[dict[str, Any]], list[dict[str, Any]]]:
    return job, *run_pretrain_job(job, arrays)


def _run_tagged(
    job: Job, arrays: dict[str, Any]
) -> tuple[Job, list[dict[str, Any]], list[dict[str, Any]]]:
    return job, run_job(job, arrays), []
