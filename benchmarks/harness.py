"""Harness throughput: fits per second with 1 vs 2 workers, measured side by side in one run.

Usage::

    .venv/bin/python benchmarks/harness.py [--pair chi_cosmo_rs] [--seeds 4] [--repeats 2]

Runs the same job set (one pair, finetune + scratch) into fresh temporary folders with
``n_jobs=1`` and ``n_jobs=2``, alternating the order over repeats to cancel drift on a noisy
machine, and prints fits/s and the speed-up ratio. Preparation (loading, featurizing) is
done once beforehand and is not timed. The full-regeneration wall time is printed by
``bayes-scaling curves --all`` itself and recorded in ``data/README.md``.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from bayes_scaling.harness import HarnessConfig, prepare_pair, run_harness, runner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", default="chi_cosmo_rs")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--n-points", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    config = HarnessConfig(seeds=args.seeds, n_points=args.n_points, m_points=6)

    prep = prepare_pair(args.pair, config)  # warm the dataset caches
    cache = {args.pair: prep}
    original = runner.prepare_pair
    runner.prepare_pair = lambda name, cfg: cache[name]  # time the fits only
    n_fits = len(runner.make_jobs(prep, ("finetune", "scratch"), args.seeds))
    times: dict[int, list[float]] = {1: [], 2: []}
    try:
        for rep in range(args.repeats):
            order = (1, 2) if rep % 2 == 0 else (2, 1)
            for workers in order:
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    run_harness(args.pair, config=config, out=tmp, n_jobs=workers, quiet=True)
                    times[workers].append(time.perf_counter() - t0)
    finally:
        runner.prepare_pair = original
    best = {w: min(t) for w, t in times.items()}
    print(f"pair={args.pair} fits={n_fits} repeats={args.repeats}")
    print("| workers | best wall (s) | fits/s |")
    print("|---|---|---|")
    for w in (1, 2):
        print(f"| {w} | {best[w]:.1f} | {n_fits / best[w]:.2f} |")
    print(f"speed-up 2 vs 1 workers: {best[1] / best[2]:.2f}x")


if __name__ == "__main__":
    main()
