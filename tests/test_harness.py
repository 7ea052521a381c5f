"""Transfer harness on a small real subset: nesting, leakage, determinism, resume, dask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.curves import validate_curves
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.harness import HarnessConfig, Job, make_jobs, prepare_pair, run_harness, run_job
from bayes_scaling.harness.runner import _job_arrays

PAIR = "polymer_density_radonpy"
SMALL = HarnessConfig(
    protocol="legacy", seeds=2, n_grid=(16, 32, 64), m_grid=(16, 32, 64), target_max=300
)


@pytest.fixture(scope="module")
def prep():
    return prepare_pair(PAIR, SMALL)


def test_prepare_shapes_and_grids(prep):
    assert prep.Xs.shape[0] == prep.ys.shape[0] and prep.Xt.shape[0] == 300
    assert prep.Xs.shape[1] == prep.Xt.shape[1]
    assert np.isfinite(prep.Xt).all() and np.isfinite(prep.Xs).all()
    assert prep.n_grid == [16, 32, 64] and prep.m_grid == [16, 32, 64]
    assert prep.target_scale > 0


def test_default_grid_spans_source():
    p = prepare_pair(PAIR, HarnessConfig(seeds=1, target_max=300))
    assert p.n_grid[0] == 16 and len(p.n_grid) >= 8
    assert p.n_grid[-1] == len(p.Xs)  # full source (no cap for this pair)


def test_nested_source_subsets(prep):
    for seed in range(SMALL.seeds):
        order = prep.source_order[seed]
        assert len(set(order)) == len(order)  # a permutation slice: no repeats
        sub = {n: set(order[:n]) for n in prep.n_grid}
        assert sub[16] < sub[32] < sub[64]
    assert not np.array_equal(prep.source_order[0][:64], prep.source_order[1][:64])


def test_no_test_group_in_training(prep):
    g = prep_groups(prep)
    assert len(g) == prep.Xt.shape[0]
    for seed, (train, test) in prep.splits.items():
        assert len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == prep.Xt.shape[0]
        assert not set(g[train]) & set(g[test]), f"seed {seed}: test group leaked into training"
        assert set(prep.scratch_order[seed]) == set(train)


def prep_groups(prep):
    # The runner keeps row order of the (subsampled) target; rebuild its group labels.
    from bayes_scaling.datasets import get_pair
    from bayes_scaling.harness.runner import _target_id, stable_seed

    pair = get_pair(PAIR)
    target = pair.load_target().reset_index(drop=True)
    rng = np.random.default_rng(stable_seed("target_max", _target_id(pair)))
    keep = np.sort(rng.choice(len(target), SMALL.target_max, replace=False))
    return target["group"].to_numpy()[keep]


def test_run_job_is_deterministic(prep):
    job = Job(PAIR, "finetune", "transfer", 32, 1, PAIR)
    a = run_job(job, _job_arrays(prep, 1))
    b = run_job(job, _job_arrays(prep, 1))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)
    assert {r["metric"] for r in a} == {"mae", "rmse", "nmae", "nrmse"}
    mae = next(r for r in a if r["metric"] == "mae")
    nmae = next(r for r in a if r["metric"] == "nmae")
    assert nmae["error"] == pytest.approx(mae["error"] / prep.target_scale)


def test_run_harness_table_and_resume(tmp_path, prep):
    calls = []
    table = run_harness(
        PAIR, config=SMALL, out=tmp_path, n_jobs=2, quiet=True, on_result=calls.append
    )
    n_jobs = len(make_jobs(prep, ("finetune", "scratch"), SMALL.seeds))
    # per seed: 3 full-split transfer + 2 surface levels x 3 n + 3 scratch
    assert len(calls) == n_jobs == 24
    assert len(table) == n_jobs * 4
    surf = table[table["m"].notna()]
    assert sorted(surf["m"].unique()) == prep.m_levels
    assert (surf["n_train"] == surf["m"]).all() and set(surf["kind"]) == {"transfer"}
    validate_curves(table)
    assert (tmp_path / "curves.csv").exists()
    assert set(table["kind"]) == {"transfer", "scratch"}
    assert set(table.loc[table.kind == "scratch", "database"]) == {"none"}
    # Rerun: nothing left to do, same table.
    calls.clear()
    again = run_harness(
        PAIR, config=SMALL, out=tmp_path, n_jobs=1, quiet=True, on_result=calls.append
    )
    assert calls == []
    pd.testing.assert_frame_equal(again, table)


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_parallel_backends_match_sequential(tmp_path, backend):
    cfg = HarnessConfig(
        protocol="legacy", seeds=1, n_grid=(16, 32, 64), m_grid=(16, 32, 64), target_max=300
    )
    # "threading" runs two jobs in one process: it reproduced the Dask flakiness (BLAS
    # thread limit undone by the job that finished first) in 2 of 3 runs before the fix.
    a = run_harness(PAIR, config=cfg, out=tmp_path / "a", backend=backend, n_jobs=2, quiet=True)
    b = run_harness(PAIR, config=cfg, out=tmp_path / "b", backend="sequential", quiet=True)
    pd.testing.assert_frame_equal(a.drop(columns="wall_time"), b.drop(columns="wall_time"))


@pytest.mark.integration
def test_dask_backend_matches_loky(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    cfg = HarnessConfig(
        protocol="legacy", seeds=1, n_grid=(16, 32, 64), m_grid=(16, 32, 64), target_max=300
    )
    ref = run_harness(PAIR, config=cfg, out=tmp_path / "loky", backend="sequential", quiet=True)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
            got = run_harness(
                PAIR, config=cfg, out=tmp_path / "dask", backend="dask", n_jobs=2, quiet=True
            )
    pd.testing.assert_frame_equal(got.drop(columns="wall_time"), ref.drop(columns="wall_time"))


@pytest.mark.integration
def test_kill_minus_nine_then_resume(tmp_path):
    """A real SIGKILL mid-run loses at most the jobs in flight; a rerun completes cleanly."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "bayes_scaling",
        "curves",
        "--protocol",
        "legacy",
        "--pair",
        PAIR,
        "--seeds",
        "2",
        "--n-points",
        "4",
        "--m-points",
        "3",
        "--m-fraction",
        "0.5",
        "--m-n-points",
        "3",
        "--target-max",
        "300",
        "--out",
        str(out),
        "--jobs",
        "1",
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    shard = out / "shards" / f"{PAIR}.csv"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if shard.exists() and len(pd.read_csv(shard)) >= 8:  # >= 2 jobs recorded
            break
        time.sleep(0.2)
    assert proc.poll() is None, f"run finished before it could be killed: {proc.stderr.read()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = pd.read_csv(shard)  # never torn: parses
    assert (
        len(partial) % 4 == 0
        and not partial.duplicated(["pair", "strategy", "kind", "n", "seed", "m", "metric"]).any()
    )
    assert not list((out / "shards").glob("*.tmp"))
    done_before = len(partial) // 4
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    final = validate_curves(pd.read_csv(out / "curves.csv"))
    expected_jobs = 2 * 4 + 2 * 3 + 2 * 3  # full split + one surface level (3 n) + scratch
    assert len(final) == expected_jobs * 4
    full = pd.read_csv(shard)
    # rows recorded before the kill are kept unchanged
    pd.testing.assert_frame_equal(full.iloc[: len(partial)], partial)
    assert done_before >= 2


def test_surface_levels_are_nested_subsets_of_the_split(prep):
    train_min = min(len(tr) for tr, _ in prep.splits.values())
    assert prep.m_levels == [int(0.25 * train_min), int(0.5 * train_min)]
    assert prep.m_n_grid == prep.n_grid  # 3-point grid: all of it
    p5 = prepare_pair(PAIR, HarnessConfig(protocol="legacy", seeds=1, target_max=300, m_n_points=4))
    assert len(p5.m_n_grid) == 4 and p5.m_n_grid[0] == p5.n_grid[0]
    assert p5.m_n_grid[-1] == p5.n_grid[-1] and set(p5.m_n_grid) <= set(p5.n_grid)
    # a surface job trains on the first m rows of the scratch order (nested, inside the split)
    m = prep.m_levels[0]
    rows = run_job(Job(PAIR, "finetune", "transfer", 32, 0, PAIR, m=m), _job_arrays(prep, 0))
    assert {r["m"] for r in rows} == {m} and {r["n_train"] for r in rows} == {m}
    full = run_job(Job(PAIR, "finetune", "transfer", 32, 0, PAIR), _job_arrays(prep, 0))
    assert {r["m"] for r in full} == {None}
    assert {r["n_train"] for r in full} == {len(prep.splits[0][0])}
    assert rows[0]["error"] != full[0]["error"]
    with pytest.raises(BayesScalingError, match="larger than the target training split"):
        run_job(Job(PAIR, "finetune", "transfer", 32, 0, PAIR, m=10**6), _job_arrays(prep, 0))


def test_resume_from_shards_written_before_the_surface(tmp_path):
    """Shards without an ``m`` column count as full-split jobs; only surface jobs rerun."""
    cfg = HarnessConfig(
        protocol="legacy", seeds=1, n_grid=(16, 32, 64), m_grid=(16, 32, 64), target_max=300
    )
    old = HarnessConfig(
        protocol="legacy",
        seeds=1,
        n_grid=(16, 32, 64),
        m_grid=(16, 32, 64),
        target_max=300,
        m_fractions=(),
    )
    first = run_harness(PAIR, config=old, out=tmp_path, quiet=True)
    assert first["m"].isna().all()
    for shard in (tmp_path / "shards").glob("*.csv"):  # as written by the old harness
        pd.read_csv(shard).drop(columns="m").to_csv(shard, index=False)
    calls = []
    table = run_harness(PAIR, config=cfg, out=tmp_path, quiet=True, on_result=calls.append)
    assert len(calls) == 6 and all(job.m > 0 for job in calls)
    assert table["m"].notna().sum() == 6 * 4


def test_bad_inputs(tmp_path):
    with pytest.raises(UnknownNameError, match="Unknown pair 'nope'"):
        run_harness("nope", out=tmp_path, quiet=True)
    with pytest.raises(UnknownNameError, match="Unknown strategy 'magic'"):
        run_harness(PAIR, strategies=("magic",), out=tmp_path, quiet=True)
    with pytest.raises(BayesScalingError, match="larger than the source"):
        prepare_pair(PAIR, HarnessConfig(seeds=1, n_grid=(16, 10**7), target_max=300))
    with pytest.raises(BayesScalingError, match="target groups"):
        prepare_pair(PAIR, HarnessConfig(seeds=1, target_max=5))
    with pytest.raises(BayesScalingError, match="exceeds the smallest target training split"):
        prepare_pair(PAIR, HarnessConfig(seeds=1, m_grid=(16, 5000), target_max=300))
    with pytest.raises(BayesScalingError, match=r"m_fractions must lie in \(0, 1\)"):
        HarnessConfig(m_fractions=(0.5, 1.5))
    with pytest.raises(BayesScalingError, match="m_n_points"):
        HarnessConfig(m_n_points=2)
    with pytest.raises(BayesScalingError, match="below n_min"):
        prepare_pair(
            PAIR, HarnessConfig(protocol="legacy", seeds=1, target_max=300, m_fractions=(0.01,))
        )


def test_cli_requires_pair(tmp_path):
    from typer.testing import CliRunner

    from bayes_scaling.cli import app

    res = CliRunner().invoke(app, ["curves", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--pair" in res.output
    res = CliRunner().invoke(app, ["curves", "--pair", "nope", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "Unknown pair 'nope'" in res.output


def test_committed_curves_are_valid():
    """The committed real curves cover every pair, finetune + scratch, >= 5 seeds."""
    from bayes_scaling.datasets import list_pairs

    path = Path(__file__).resolve().parents[1] / "data" / "curves" / "curves.csv"
    if not path.exists():
        pytest.fail(f"{path} missing: regenerate with the command in data/README.md")
    table = validate_curves(pd.read_csv(path))
    assert set(list_pairs()["pair"]) <= set(table["pair"])
    assert table.groupby(["pair", "strategy"])["seed"].nunique().min() >= 5
    assert {"finetune", "scratch"} <= set(table["strategy"])
    assert table.groupby("pair")["n"].nunique().min() >= 8
    # the (n, m) surface: every transfer pair at >= 3 experimental sizes (two m + full split)
    transfer = table[table["kind"] == "transfer"]
    levels = transfer.assign(m=transfer["m"].fillna(0)).groupby("pair")["m"].nunique()
    assert levels.min() >= 3, levels
    surf = transfer[transfer["m"].notna()]
    assert (surf["m"] < surf["n_train"].astype(int) + 1).all()
    assert surf.groupby(["pair", "m"])["n"].nunique().min() >= 5
