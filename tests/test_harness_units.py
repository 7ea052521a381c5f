"""Harness pieces that need no dataset: grids, strategies, the crash-safe shard store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.harness import (
    STRATEGIES,
    HarnessConfig,
    ShardStore,
    geometric_grid,
    get_strategy,
)
from bayes_scaling.harness.runner import stable_seed


def test_geometric_grid():
    g = geometric_grid(16, 1077, 10)
    assert g[0] == 16 and g[-1] == 1077 and len(g) == 10
    assert all(b > a for a, b in zip(g, g[1:], strict=False))
    ratios = np.diff(np.log(g))
    assert ratios.std() < 0.05
    with pytest.raises(BayesScalingError, match="0 < lo <= hi"):
        geometric_grid(100, 10, 5)


def test_stable_seed_is_deterministic_and_distinct():
    assert stable_seed("a", 1) == stable_seed("a", 1)
    assert stable_seed("a", 1) != stable_seed("a", 2)
    assert 0 <= stable_seed("x") < 2**32


def test_config_validation():
    with pytest.raises(BayesScalingError, match="seeds must be >= 1"):
        HarnessConfig(seeds=0)
    with pytest.raises(BayesScalingError, match="test_fraction"):
        HarnessConfig(test_fraction=0.9)


def test_unknown_strategy():
    with pytest.raises(UnknownNameError, match="Unknown strategy 'magic'.*finetune"):
        get_strategy("magic")


def _toy(seed=0, n_src=300, n_tgt=120):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=8)
    Xs = rng.normal(size=(n_src, 8))
    ys = Xs @ w
    Xt = rng.normal(size=(n_tgt, 8))
    yt = 0.8 * (Xt @ w) + 0.3 + 0.05 * rng.normal(size=n_tgt)
    yt = (yt - yt.mean()) / yt.std()
    ys = (ys - ys.mean()) / ys.std()
    return Xs, ys, Xt[:40], yt[:40], Xt[40:], yt[40:]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategies_are_deterministic_and_learn(name):
    Xs, ys, Xt, yt, Xte, yte = _toy()
    strat = get_strategy(name)
    p1 = strat.fit_predict(Xs, ys, Xt, yt, Xte, 7)
    p2 = strat.fit_predict(Xs, ys, Xt, yt, Xte, 7)
    np.testing.assert_array_equal(p1, p2)
    mae = np.mean(np.abs(p1 - yte))
    assert mae < np.mean(np.abs(yte - yt.mean()))  # beats predicting the mean


def test_frozen_head_is_stable_when_a_unit_fires_in_one_training_row():
    """A hidden unit active in one of m rows must not blow up a test row where it fires.

    Regression test for the committed curves' defect (band-gap MAE of 418 eV): standardising
    the activations per unit on the m rows divided this unit by a standard deviation of
    ~2e-4, so the test row's prediction was ~3,000 target standard deviations.
    """
    from types import SimpleNamespace

    from bayes_scaling.harness.strategies import FrozenFeatures

    rng = np.random.default_rng(0)
    m = 25
    X = np.column_stack([rng.normal(size=m), rng.uniform(0, 1, m)])
    X[3, 1] = 1.001  # the only training row where unit 1 (relu(x1 - 1)) fires, barely
    y = X[:, 0] + 0.3 * rng.normal(size=m)
    y = (y - y.mean()) / y.std()
    net = SimpleNamespace(  # what hidden_features reads of a fitted MLPRegressor
        coefs_=[np.eye(2), np.ones((2, 1))], intercepts_=[np.array([0.0, -1.0]), np.zeros(1)]
    )
    pred = FrozenFeatures().adapt(net, X, y, np.array([[0.5, 5.0], [0.5, 0.5]]), 0)
    assert np.all(np.abs(pred) < 3.0), pred
    # Unit 0 (relu(x0)) carries the signal: both rows share x0, so their predictions agree.
    assert abs(pred[0] - pred[1]) < 0.5


def test_transfer_beats_scratch_with_related_source():
    Xs, ys, Xt, yt, Xte, yte = _toy(seed=3, n_src=2000, n_tgt=60)
    ft = get_strategy("finetune").fit_predict(Xs, ys, Xt[:15], yt[:15], Xte, 1)
    sc = get_strategy("scratch").fit_predict(Xs[:0], ys[:0], Xt[:15], yt[:15], Xte, 1)
    assert np.mean(np.abs(ft - yte)) < np.mean(np.abs(sc - yte))


def _rows(pair, n, seed):
    return [
        dict(
            pair=pair,
            strategy="finetune",
            kind="transfer",
            n=n,
            seed=seed,
            metric=m,
            error=0.1 * n,
            property="p",
            database="d",
            target_scale=1.0,
        )
        for m in ("mae", "rmse")
    ]


def test_store_append_done_and_collect(tmp_path):
    store = ShardStore(tmp_path)
    store.append("a", _rows("a", 16, 0))
    store.append("a", _rows("a", 32, 0))
    store.append("b", _rows("b", 16, 1))
    fresh = ShardStore(tmp_path)  # a new process reading from disk
    assert fresh.done(["a"]) == {  # (pair, strategy, kind, n, seed, m); no m column: m = 0
        ("a", "finetune", "transfer", 16, 0, 0),
        ("a", "finetune", "transfer", 32, 0, 0),
    }
    assert len(fresh.collect()) == 6
    assert not list((tmp_path / "shards").glob("*.tmp"))


def test_store_survives_failed_write(tmp_path, monkeypatch):
    store = ShardStore(tmp_path)
    store.append("a", _rows("a", 16, 0))
    before = (tmp_path / "shards" / "a.csv").read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt  # interrupted while writing

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        store.append("a", _rows("a", 32, 0))
    monkeypatch.undo()
    assert (tmp_path / "shards" / "a.csv").read_bytes() == before
    assert ShardStore(tmp_path).done(["a"]) == {("a", "finetune", "transfer", 16, 0, 0)}


def test_store_corrupt_shard(tmp_path):
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "a.csv").write_bytes(b'\x00\x01garbage\n"unterminated')
    with pytest.raises(BayesScalingError, match="unreadable"):
        ShardStore(tmp_path).done(["a"])


def _blas_threads() -> set[int]:
    from threadpoolctl import threadpool_info

    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_single_threaded_blas_survives_an_overlapping_job():
    """Two jobs in threads of one process: the first to leave must not undo the other's limit.

    ``threadpoolctl.threadpool_limits`` alone restores the process-wide BLAS thread count it
    saw on entry, so job B ran with 2+ BLAS threads after job A finished (the Dask/threading
    non-determinism); the reference-counted guard keeps one thread until the last job leaves.
    """
    import threading

    from threadpoolctl import threadpool_limits

    from bayes_scaling.harness.threads import single_threaded_blas

    seen: dict[str, set[int]] = {}
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def job_a() -> None:
        with single_threaded_blas():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def job_b() -> None:
        a_in.wait(10)
        with single_threaded_blas():
            b_in.set()
            a_out.wait(10)
            seen["b after a left"] = _blas_threads()

    with threadpool_limits(limits=2, user_api="blas"):  # the process default on 2 cores
        threads = [threading.Thread(target=job_a), threading.Thread(target=job_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        seen["after both"] = _blas_threads()
    assert seen["b after a left"] == {1}
    assert seen["after both"] == {2}  # the original limit is restored once all jobs left


def test_blas_thread_count_of_the_caller_does_not_change_a_fit():
    """The same fit under an outer limit of 1 or 2 BLAS threads gives identical predictions."""
    from threadpoolctl import threadpool_limits

    from bayes_scaling.harness.threads import single_threaded_blas

    Xs, ys, Xt, yt, Xte, _ = _toy(seed=5, n_src=600, n_tgt=300)
    preds = []
    for outer in (1, 2):
        with threadpool_limits(limits=outer, user_api="blas"), single_threaded_blas():
            preds.append(get_strategy("finetune").fit_predict(Xs, ys, Xt, yt, Xte, 3))
    np.testing.assert_array_equal(preds[0], preds[1])
