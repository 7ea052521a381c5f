"""Scarce protocol: pretrain once per (pair, n, source seed), adapt to every cell.

:func:`run_pretrain_job` pretrains one network on the first n rows of a source permutation
and adapts it with every strategy to every (m, trial) cell of that seed, recording the test
errors and, in the selection seeds' trials, the validation rows that choose the default
strategy (:mod:`bayes_scaling.harness.strategy_choice`). The protocol is stated in
:mod:`bayes_scaling.harness.runner`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.preprocessing import StandardScaler

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.harness.config import METRICS, stable_seed
from bayes_scaling.harness.jobs import PretrainJob
from bayes_scaling.harness.prepare import PreparedPair
from bayes_scaling.harness.strategies import get_strategy, pretrain_source
from bayes_scaling.harness.threads import single_threaded_blas


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
