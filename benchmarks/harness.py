"""Harness throughput, measured side by side in one run.

Usage::

    .venv/bin/python benchmarks/harness.py reuse [--pair chi_cosmo_rs] [--n-grid 16,128,1206]
    .venv/bin/python benchmarks/harness.py workers [--pair chi_cosmo_rs] [--seeds 4] [--repeats 2]
    .venv/bin/python benchmarks/harness.py cost [--curves data/curves_scarce/curves.parquet]

``reuse`` (the scarce protocol's saving from pretraining once): the same scarce-protocol cells
(one pair, strategies finetune + gentle + frozen, the default m grid, 4 trials per m up to
128 and 1 above and at the full split, i.e. the cells that one pretraining seed serves in
the default protocol) are run once with ``reuse_pretrained=True`` (one pretraining per
(n, seed), adapted for every cell) and once with ``reuse_pretrained=False`` (pretrained again
for every cell), sequentially, and the script checks that both give identical errors and
prints both wall times and their ratio.

``workers``: the legacy job set (one pair, finetune + scratch) with ``n_jobs=1`` and
``n_jobs=2``, alternating the order over repeats to cancel drift on a noisy machine; prints
fits/s and the speed-up ratio.

``cost`` (what a full regeneration costs, from a finished run's own timings): every curve
row records ``wall_time``, the seconds of its cell's fit plus its share of the pretraining
it reused. Summed over the cells of one metric this is the run's single-worker compute;
cells more than 10x their (pair, kind, strategy, n) median (a paused or starved worker) are
replaced by that median. The validation fits (``validation.csv``, not timed) are charged at
the mean transfer cell time. Divided by the worker count it estimates the wall time on idle
cores (an upper estimate when the timings were taken on a loaded machine).

Preparation (loading, featurizing) is done once beforehand and is not timed. The
full-regeneration wall time is printed by ``bayes-scaling curves --all`` itself and recorded
in ``data/README.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from bayes_scaling.harness import HarnessConfig, prepare_pair, run_harness, runner


def _timed_runs(pair: str, config: HarnessConfig, plan: list[dict], strategies) -> list[float]:
    """Run ``run_harness`` once per entry of ``plan`` (kwargs / config overrides); wall times."""
    prep = prepare_pair(pair, config)  # warm the dataset caches
    original = runner.prepare_pair
    runner.prepare_pair = lambda name, cfg: runner.PreparedPair(**{**prep.__dict__, "config": cfg})
    walls = []
    try:
        for entry in plan:
            with tempfile.TemporaryDirectory() as tmp:
                cfg = entry.get("config", config)
                t0 = time.perf_counter()
                table = run_harness(
                    pair,
                    strategies=strategies,
                    config=cfg,
                    out=tmp,
                    quiet=True,
                    **entry.get("kwargs", {}),
                )
                walls.append(time.perf_counter() - t0)
                entry["table"] = table
    finally:
        runner.prepare_pair = original
    return walls


def bench_reuse(args: argparse.Namespace) -> None:
    grid = tuple(int(v) for v in args.n_grid.split(","))
    base = HarnessConfig(n_grid=grid, trials=4, trials_full=1, pretrain_seeds=1, selection_seeds=0)
    strategies = ("finetune", "gentle", "frozen")
    plan = [
        {"config": base, "kwargs": {"backend": "sequential"}},
        {
            "config": HarnessConfig(**{**base.__dict__, "reuse_pretrained": False}),
            "kwargs": {"backend": "sequential"},
        },
    ]
    walls = _timed_runs(args.pair, base, plan, strategies)
    cols = [c for c in plan[0]["table"].columns if c != "wall_time"]
    pd.testing.assert_frame_equal(plan[0]["table"][cols], plan[1]["table"][cols])
    prep = prepare_pair(args.pair, base)
    jobs = runner.make_jobs(prep, strategies)
    cells = sum(len(j.cells) for j in jobs)
    print(f"pair={args.pair} n_grid={list(grid)} m_levels={prep.m_levels}+full")
    print(f"pretrainings: {len(jobs)} with reuse, {cells} without; identical errors: yes")
    print("| mode | wall (s) |")
    print("|---|---|")
    print(f"| reuse (pretrain once per (n, seed)) | {walls[0]:.1f} |")
    print(f"| no reuse (pretrain per cell) | {walls[1]:.1f} |")
    print(f"saving: no-reuse / reuse wall = {walls[1] / walls[0]:.1f}x")


def bench_workers(args: argparse.Namespace) -> None:
    config = HarnessConfig(protocol="legacy", seeds=args.seeds, n_points=args.n_points, m_points=6)
    prep = prepare_pair(args.pair, config)
    n_fits = len(runner.make_jobs(prep, ("finetune", "scratch")))
    times: dict[int, list[float]] = {1: [], 2: []}
    for rep in range(args.repeats):
        order = (1, 2) if rep % 2 == 0 else (2, 1)
        plan = [{"kwargs": {"n_jobs": w}} for w in order]
        walls = _timed_runs(args.pair, config, plan, ("finetune", "scratch"))
        for w, t in zip(order, walls, strict=True):
            times[w].append(t)
    best = {w: min(t) for w, t in times.items()}
    print(f"pair={args.pair} fits={n_fits} repeats={args.repeats}")
    print("| workers | best wall (s) | fits/s |")
    print("|---|---|---|")
    for w in (1, 2):
        print(f"| {w} | {best[w]:.1f} | {n_fits / best[w]:.2f} |")
    print(f"speed-up 2 vs 1 workers: {best[1] / best[2]:.2f}x")


def bench_cost(args: argparse.Namespace) -> None:
    from pathlib import Path

    from bayes_scaling.curves import read_curves

    table = read_curves(args.curves)
    cells = table[table["metric"] == table["metric"].iloc[0]]
    key = ["pair", "kind", "strategy", "n"]
    median = cells.groupby(key)["wall_time"].transform("median")
    slow = cells["wall_time"] > 10 * median
    seconds = cells["wall_time"].where(~slow, median)
    transfer = cells["kind"] == "transfer"
    validation = Path(args.curves).with_name("validation.csv")
    n_val = len(pd.read_csv(validation)) if validation.exists() else 0
    val_s = n_val * float(seconds[transfer].mean()) if transfer.any() else 0.0
    per_pair = seconds.groupby(cells["pair"]).sum() / 3600
    print(f"curves={args.curves}: {len(cells):,} cells, {int(slow.sum())} slow outliers replaced")
    print("| pair | CPU-hours |")
    print("|---|---|")
    for pair, h in per_pair.items():
        print(f"| {pair} | {h:.2f} |")
    total = float(seconds.sum()) + val_s
    print(f"| validation fits ({n_val:,}, charged at the mean cell) | {val_s / 3600:.2f} |")
    print(f"total {total / 3600:.2f} CPU-hours (raw sum {cells['wall_time'].sum() / 3600:.2f})")
    for w in (1, 2, 4):
        print(f"estimated wall on {w} idle worker(s): {total / w / 3600:.2f} h")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("reuse", "workers", "cost"), nargs="?", default="reuse")
    ap.add_argument("--curves", default="data/curves_scarce/curves.parquet", help="cost: table")
    ap.add_argument("--pair", default="chi_cosmo_rs")
    ap.add_argument("--n-grid", default="16,128,1206", help="reuse: comma-separated n grid")
    ap.add_argument("--seeds", type=int, default=4, help="workers: legacy seeds")
    ap.add_argument("--n-points", type=int, default=6, help="workers: n grid points")
    ap.add_argument("--repeats", type=int, default=2, help="workers: repeats")
    args = ap.parse_args()
    {"reuse": bench_reuse, "workers": bench_workers, "cost": bench_cost}[args.mode](args)


if __name__ == "__main__":
    main()
