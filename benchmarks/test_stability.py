"""Run the whole test suite several times under different conditions; report unstable tests.

Sampler paths differ slightly between machines (CPU features, BLAS, thread timing), so a
test that passes only on the machine it was written on is not a test of the package. This
script runs the README's test command (``bash scripts/test.sh``: bootstrap, then pytest on
its xdist workers) N times, each run with another ``OMP_NUM_THREADS`` /
``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` setting (1 and 2 alternately) and another
``PYTHONHASHSEED``, records every test's outcome from a JUnit XML file per run and prints:

* the wall time of each run and its pass/fail counts;
* every test whose outcome differs between runs ("unstable"), and every test that failed in
  all runs ("broken").

The exit status is 0 only when every run passed. The file name starts with ``test_`` only
because it tests the suite; pytest does not collect ``benchmarks/``.

Usage (from the repository root, after ``bash scripts/bootstrap.sh``)::

    .venv/bin/python benchmarks/test_stability.py --runs 3
    .venv/bin/python benchmarks/test_stability.py --runs 2 -- tests/test_harness.py

Record the last result in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def outcomes(junit: Path) -> dict[str, str]:
    """Return ``{test id: "passed" | "failed" | "skipped"}`` from a JUnit XML file."""
    out: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            out[name] = "failed"
        elif case.find("skipped") is not None:
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out


def run_once(i: int, threads: int, extra: list[str], workdir: Path) -> tuple[dict, float, int]:
    """Run the suite once; return (outcomes, wall seconds, exit code)."""
    junit = workdir / f"run{i}.xml"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONHASHSEED": str(1000 + i),
        "MPLBACKEND": "Agg",
    }
    cmd = ["bash", "scripts/test.sh", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    t0 = time.perf_counter()
    proc = subprocess.run([*cmd, *extra], cwd=ROOT, env=env, check=False)
    wall = time.perf_counter() - t0
    return (outcomes(junit) if junit.exists() else {}), wall, proc.returncode


def main(argv: list[str] | None = None) -> int:
    """Run the suite ``--runs`` times and print the stability table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="number of full runs (>= 2)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2 to compare runs")
    results: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            threads = 1 if i % 2 == 0 else 2
            res, wall, rc = run_once(i, threads, args.pytest_args, Path(tmp))
            counts = defaultdict(int)
            for v in res.values():
                counts[v] += 1
            print(
                f"run {i + 1}: OMP_NUM_THREADS={threads} PYTHONHASHSEED={1000 + i} "
                f"exit {rc}, {counts['passed']} passed, {counts['failed']} failed, "
                f"{counts['skipped']} skipped, wall {wall / 60:.1f} min",
                flush=True,
            )
            results.append(res)
    names = sorted(set().union(*results))
    unstable = [n for n in names if len({r.get(n, "missing") for r in results}) > 1]
    broken = [n for n in names if all(r.get(n) == "failed" for r in results)]
    for n in unstable:
        print(f"UNSTABLE {n}: " + ", ".join(r.get(n, "missing") for r in results))
    for n in broken:
        print(f"BROKEN {n}: failed in every run")
    ok = (
        not unstable
        and not broken
        and all(all(v != "failed" for v in r.values()) and r for r in results)
    )
    print(
        f"{len(names)} tests, {len(unstable)} unstable, {len(broken)} broken: "
        f"{'STABLE' if ok else 'NOT STABLE'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
