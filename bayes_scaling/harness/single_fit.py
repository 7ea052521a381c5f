"""One model fit per :class:`~bayes_scaling.harness.jobs.Job`.

:func:`run_job` fits one strategy on one (n, seed, m) cell and scores it on the seed's test
split: the legacy protocol's transfer cells and the scratch cells of both protocols.
Features are standardised with the source subset and the target training rows together.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.harness.config import METRICS, stable_seed
from bayes_scaling.harness.jobs import Job
from bayes_scaling.harness.prepare import PreparedPair
from bayes_scaling.harness.strategies import get_strategy
from bayes_scaling.harness.threads import single_threaded_blas


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
