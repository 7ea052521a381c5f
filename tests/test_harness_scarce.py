"""The scarce-experiment protocol: m grid x n grid, trials, pretrain once, strategies.

One tiny run (300 target rows, n <= 64, two m levels below the full split, 3 / 1 trials,
2 pretraining seeds, gentle + frozen + scratch) is shared by the tests that need harness
output; the whole module is meant to stay well under a minute on two cores.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.curves import read_curves, validate_curves
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.harness import (
    HarnessConfig,
    PretrainJob,
    make_jobs,
    prepare_pair,
    run_harness,
    run_pretrain_job,
    select_strategy,
)
from bayes_scaling.harness.runner import _pretrain_arrays

PAIR = "polymer_density_radonpy"
STRATS = ("gentle", "frozen", "scratch")
TINY = HarnessConfig(
    n_grid=(16, 32, 64),
    m_grid=(16, 40),
    trials=3,
    trials_full=1,
    many_trials_max_m=40,
    pretrain_seeds=2,
    target_max=300,
)


def _strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]


@pytest.fixture(scope="module")
def prep():
    return prepare_pair(PAIR, TINY)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("scarce")
    calls: list = []
    table = run_harness(
        PAIR,
        strategies=STRATS,
        config=TINY,
        out=out,
        backend="sequential",
        quiet=True,
        on_result=calls.append,
    )
    return out, table, calls


def test_default_grids_follow_the_protocol():
    """Default config: >= 5 m levels from ~25 to the full split, >= 8 n, 20 / 5 trials."""
    cfg = HarnessConfig(target_max=300)
    p = prepare_pair(PAIR, cfg)
    train_min = min(len(tr) for tr, _ in p.splits.values())
    assert len(p.splits) == 20 and len(p.source_order) == 5
    assert p.m_levels[0] == 25 and len(p.m_levels) + 1 >= 5  # + the full split
    assert p.m_grid == [*p.m_levels, train_min] and len(p.n_grid) >= 8
    jobs = make_jobs(p, ("finetune", "gentle", "frozen", "scratch"))
    cells = [(j.n, st, m, t) for j in jobs if isinstance(j, PretrainJob) for st, m, t in j.cells]
    assert len(cells) == len(set(cells))  # every cell exactly once
    per_level = pd.DataFrame(cells, columns=["n", "st", "m", "t"]).groupby(["n", "st", "m"])
    counts = per_level["t"].nunique()
    for (_, _, m), k in counts.items():
        assert k == (20 if 0 < m <= 128 else 5), (m, k)
    for j in jobs:  # trial t is served by pretraining seed t % 5
        if isinstance(j, PretrainJob):
            assert all(t % 5 == j.seed for _, _, t in j.cells)
    scratch = [(j.n, j.seed) for j in jobs if not isinstance(j, PretrainJob)]
    assert sorted({n for n, _ in scratch}) == p.m_grid
    assert sum(1 for n, _ in scratch if n == train_min) == 5


def test_run_table_has_every_cell(run, prep):
    out, table, calls = run
    validate_curves(table)
    nm = table[table["metric"] == "nmae"]
    tr = nm[nm["kind"] == "transfer"]
    assert set(tr["strategy"]) == {"gentle", "frozen"}
    trials = tr.assign(m=tr["m"].fillna(0)).groupby(["strategy", "m", "n"])["seed"].nunique()
    assert trials.xs(16, level="m").eq(3).all() and trials.xs(40, level="m").eq(3).all()
    assert trials.xs(0, level="m").eq(1).all()
    assert tr.groupby(["strategy", tr["m"].fillna(0)])["n"].nunique().eq(3).all()
    small = tr[tr["m"].notna()]
    assert (small["n_train"] == small["m"]).all()
    full = tr[tr["m"].isna()]
    assert (full["n_train"] == full["seed"].map(lambda t: len(prep.splits[t][0]))).all()
    sc = nm[nm["kind"] == "scratch"]
    assert sorted(sc["n"].unique()) == prep.m_grid
    # one pretraining per (n, seed): 3 n x 2 seeds, plus the scratch fits
    assert sum(isinstance(c, PretrainJob) for c in calls) == 6
    val = pd.read_csv(out / "validation.csv")
    assert len(val) and (val["seed"] % TINY.pretrain_seeds == 0).all()  # selection seed 0
    assert (val["n_fit"] + val["n_val"] <= val["m"].fillna(10**6)).all()
    assert np.isfinite(val["val_nmae"]).all()


def test_subsets_nested_in_n_and_m_and_shared_with_scratch(prep, monkeypatch):
    for s, order in prep.source_order.items():
        sub = [set(order[:n]) for n in prep.n_grid]
        assert sub[0] < sub[1] < sub[2], s
    seen: list[tuple[int, np.ndarray, np.ndarray]] = []
    from bayes_scaling.harness import scarce

    original = scarce._adapt_predict

    def spy(strategy, net, X, y, fit_idx, eval_idx, tf, rs):
        seen.append((len(fit_idx), np.array(fit_idx), np.array(eval_idx)))
        return original(strategy, net, X, y, fit_idx, eval_idx, tf, rs)

    monkeypatch.setattr(scarce, "_adapt_predict", spy)  # where run_pretrain_job looks it up
    job = PretrainJob(PAIR, 32, 0, PAIR, (("frozen", 16, 2), ("frozen", 40, 2), ("frozen", 0, 2)))
    run_pretrain_job(job, {**_pretrain_arrays(prep, job), "validate": False})
    train, test = prep.splits[2]
    order = prep.scratch_order[2]  # the scratch curve's subsets of trial 2
    assert [k for k, _, _ in seen] == [16, 40, len(train)]
    for k, fit_idx, eval_idx in seen:
        np.testing.assert_array_equal(fit_idx, order[:k])
        np.testing.assert_array_equal(eval_idx, test)
    assert set(order[:16]) < set(order[:40]) < set(train)


def test_no_test_label_or_feature_reaches_a_fit(prep):
    """Test labels set to NaN never reach a fit; test features never change training."""
    cells = (("finetune", 16, 1), ("gentle", 16, 1), ("frozen", 16, 1), ("frozen", 0, 1))
    job = PretrainJob(PAIR, 32, 1, PAIR, cells)
    arrays = {**_pretrain_arrays(prep, job), "validate": True}
    rows, val = run_pretrain_job(job, arrays)
    _, test = prep.splits[1]
    yt = prep.yt.copy()
    yt[test] = np.nan  # any fit on a test label raises (sklearn refuses NaN targets)
    Xt = prep.Xt.copy()
    Xt[test] = 1e6  # any scaler or fit that saw a test row would change the validation rows
    rows2, val2 = run_pretrain_job(job, {**arrays, "yt": yt, "Xt": Xt})
    assert val2 == val and len(val) == len(cells)
    assert all(np.isnan(r["error"]) for r in rows2)
    assert all(np.isfinite(r["error"]) for r in rows)


def test_reuse_gives_identical_errors_to_no_reuse(prep):
    cells = tuple((st, 16, t) for st in ("finetune", "gentle", "frozen") for t in (0, 2))
    job = PretrainJob(PAIR, 64, 0, PAIR, cells)
    arrays = {**_pretrain_arrays(prep, job), "validate": True}
    reused, val_a = run_pretrain_job(job, {**arrays, "reuse": True})
    fresh, val_b = run_pretrain_job(job, {**arrays, "reuse": False})
    assert _strip(reused) == _strip(fresh) and val_a == val_b
    assert len({r["error"] for r in reused if r["metric"] == "mae"}) > 1  # not degenerate


def test_concurrent_jobs_in_threads_match_sequential(prep):
    job = PretrainJob(PAIR, 32, 1, PAIR, (("finetune", 16, 1), ("frozen", 40, 1)))
    arrays = _pretrain_arrays(prep, job)
    ref = _strip(run_pretrain_job(job, arrays)[0])
    with ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda _: _strip(run_pretrain_job(job, arrays)[0]), range(4)))
    assert all(g == ref for g in got)


def test_resume_recomputes_only_missing_cells(run, tmp_path):
    out, table, _ = run
    copy = tmp_path / "resume"
    shutil.copytree(out, copy)
    shard = copy / "shards" / f"{PAIR}.csv"
    rows = pd.read_csv(shard)
    lost = (rows["strategy"] == "gentle") & (rows["n"] == 64)  # as if killed before them
    rows[~lost].to_csv(shard, index=False)
    calls: list = []
    again = run_harness(
        PAIR, strategies=STRATS, config=TINY, out=copy, quiet=True, on_result=calls.append
    )
    assert len(calls) == 2 and all(isinstance(c, PretrainJob) and c.n == 64 for c in calls)
    assert {st for c in calls for st, _, _ in c.cells} == {"gentle"}
    cols = [c for c in table.columns if c != "wall_time"]
    key = ["pair", "kind", "strategy", "m", "n", "seed", "metric"]
    pd.testing.assert_frame_equal(
        again[cols].sort_values(key).reset_index(drop=True),
        table[cols].sort_values(key).reset_index(drop=True),
    )
    # a settings change that alters computed cells is refused, not silently mixed
    with pytest.raises(BayesScalingError, match="other settings.*pretrain_seeds"):
        run_harness(
            PAIR,
            strategies=STRATS,
            config=replace(TINY, pretrain_seeds=3),
            out=copy,
            quiet=True,
        )


def test_select_strategy_reads_validation_only(run, tmp_path):
    out, _, _ = run
    choice = select_strategy(out / "validation.csv")
    assert choice.default in {"finetune", "gentle", "frozen"}
    assert choice.default in choice.sentence
    fake = pd.DataFrame(
        {
            "pair": ["a"] * 4 + ["b"] * 4,
            "strategy": ["x", "y"] * 4,
            "m": [25, 25, None, None] * 2,
            "val_nmae": [0.5, 0.4, 0.3, 0.2, 0.6, 0.7, 0.3, 0.25],
        }
    )
    got = select_strategy(fake)
    assert got.default == "y" and got.summary.loc["y", "wins"] == 3
    with pytest.raises(BayesScalingError, match="No validation rows"):
        select_strategy(tmp_path / "missing.csv")
    with pytest.raises(BayesScalingError, match="lacks columns"):
        select_strategy(fake.drop(columns="val_nmae"))


def test_bad_scarce_inputs():
    with pytest.raises(BayesScalingError, match="m=5000 exceeds the smallest target training"):
        prepare_pair(PAIR, HarnessConfig(m_grid=(16, 5000), target_max=300))
    with pytest.raises(BayesScalingError, match="m_grid is empty"):
        HarnessConfig(m_grid=())
    with pytest.raises(BayesScalingError, match="trials must be >= 1, got 0"):
        HarnessConfig(trials=0)
    with pytest.raises(BayesScalingError, match="trials_full must be >= 1"):
        HarnessConfig(trials_full=0)
    with pytest.raises(BayesScalingError, match="pretrain_seeds must be >= 1"):
        HarnessConfig(pretrain_seeds=0)
    with pytest.raises(BayesScalingError, match="Unknown protocol 'nope'"):
        HarnessConfig(protocol="nope")  # type: ignore[arg-type]
    with pytest.raises(BayesScalingError, match="either source_cap or full_sources"):
        HarnessConfig(source_cap=100, full_sources=True)


def test_cli_reports_bad_scarce_options(tmp_path):
    from typer.testing import CliRunner

    from bayes_scaling.cli import app

    base = ["curves", "--pair", PAIR, "--out", str(tmp_path), "--quiet"]
    for extra, message in (
        (["--trials", "0"], "trials must be >= 1"),
        (["--source-cap", "lots"], "--source-cap must be an integer or 'none'"),
        (["--protocol", "nope"], "Unknown protocol"),
    ):
        res = CliRunner().invoke(app, base + extra)
        assert res.exit_code == 2 and message in res.output, res.output


def test_full_sources_option_lifts_the_cap():
    from bayes_scaling.harness import SOURCE_CAPS

    assert min(SOURCE_CAPS.values()) >= 32_768
    capped = prepare_pair(PAIR, HarnessConfig(target_max=300, source_cap=64, n_points=3))
    assert capped.n_grid[-1] == 64
    full = prepare_pair(PAIR, HarnessConfig(target_max=300, full_sources=True, n_points=3))
    assert full.n_grid[-1] == len(full.ys) > 64


def test_scarce_run_refuses_a_legacy_folder(tmp_path):
    """Shards without settings.json are legacy results: never resumed as scarce cells."""
    (tmp_path / "shards").mkdir()
    pd.DataFrame({"pair": [PAIR]}).to_csv(tmp_path / "shards" / f"{PAIR}.csv", index=False)
    with pytest.raises(BayesScalingError, match="legacy protocol"):
        run_harness(PAIR, config=TINY, out=tmp_path, quiet=True)
    # a committed curves.csv without its shards is protected too (never overwritten)
    committed = tmp_path / "committed"
    committed.mkdir()
    (committed / "curves.csv").write_text("legacy table\n")
    with pytest.raises(BayesScalingError, match="overwrite its curves.csv"):
        run_harness(PAIR, config=TINY, out=committed, quiet=True)
    assert (committed / "curves.csv").read_text() == "legacy table\n"
    assert not (committed / "shards").exists()


@pytest.mark.integration
def test_dask_backend_matches_sequential_for_pretrain_jobs(tmp_path):
    """Grouped (pair, n, seed) jobs give the same rows on threaded Dask workers."""
    distributed = pytest.importorskip("dask.distributed")
    cfg = replace(TINY, m_grid=(16,), trials=2, trials_full=1, pretrain_seeds=1)
    strategies = ("frozen",)  # the pretraining is the BLAS-heavy, thread-sensitive part
    ref = run_harness(
        PAIR,
        strategies=strategies,
        config=cfg,
        out=tmp_path / "s",
        backend="sequential",
        quiet=True,
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        got = run_harness(
            PAIR,
            strategies=strategies,
            config=cfg,
            out=tmp_path / "d",
            backend="dask",
            n_jobs=2,
            quiet=True,
        )
    pd.testing.assert_frame_equal(got.drop(columns="wall_time"), ref.drop(columns="wall_time"))


def test_committed_scarce_curves_meet_the_protocol():
    """The bundled scarce-protocol curves (data/curves_scarce): issue 13's figures.

    Every transfer task has >= 5 m levels (the full split included), each with >= 8 n and
    every strategy; >= 20 trials per point at the smallest m; at the smallest m, for at
    least 5 of the 7 tasks the mean error falls >= 15 % from the smallest to the largest n
    and transfer beats scratch at the same m.
    """
    from bayes_scaling.datasets import list_pairs
    from bayes_scaling.first_look import compute_scarce_summary
    from bayes_scaling.pipeline import BUNDLED_CURVES
    from bayes_scaling.selection import default_strategy, is_scarce

    if not BUNDLED_CURVES.exists():
        pytest.fail(f"{BUNDLED_CURVES} missing: regenerate with the command in data/README.md")
    table = read_curves(BUNDLED_CURVES)
    assert is_scarce(table)
    transfer = table[(table["kind"] == "transfer") & (table["metric"] == "mae")]
    assert set(list_pairs()["pair"]) == set(transfer["pair"])
    level = transfer["m"].astype("Float64").fillna(-1)  # -1: the full split
    assert level.groupby(transfer["pair"]).nunique().min() >= 5
    assert (level == -1).groupby(transfer["pair"]).any().all()
    per_level = transfer.assign(level=level).groupby(["pair", "strategy", "level"])
    assert per_level["n"].nunique().min() >= 8
    assert set(transfer["strategy"]) == {"finetune", "gentle", "frozen"}
    smallest = transfer[level == level.where(level > 0).groupby(transfer["pair"]).transform("min")]
    assert smallest.groupby(["pair", "strategy", "n"])["seed"].nunique().min() >= 20
    summary = compute_scarce_summary(table, strategy=default_strategy(BUNDLED_CURVES))
    first = summary[summary["m"] == summary.groupby("pair")["m"].transform("min")]
    good = first[(first["drop"] >= 0.15) & first["beats_scratch"].astype(bool)]
    assert len(first) == 7 and len(good) >= 5, first[["pair", "m", "drop", "beats_scratch"]]
