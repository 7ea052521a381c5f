"""Fit time and diagnostics of the joint (n, m) surface model on the real surface.

Usage::

    .venv/bin/python benchmarks/surface_fit.py [--repeats 2] [--forms additive effective_data]
    .venv/bin/python benchmarks/surface_fit.py --forms effective_data --seeds 20250146 1 2 3 4

Fits :class:`~bayes_scaling.models.surface.SurfaceModel` with its default settings (4 chains
x 1000 draws, 1000 tuning steps, nutpie, the form's default target_accept and centring) to
the surface rows of the bundled curves (``data/curves_scarce/curves.parquet``, metric
``mae``, the default strategy finetune: 7 transfer tasks at 6 experimental sizes + 4 scratch
curves, 4,920 rows; ``--curves data/curves/curves.csv`` for the legacy surface),
``--repeats`` times per form (or once per sampler seed of ``--seeds``), alternating the forms
so machine drift hits both alike. Prints wall time (compilation included),
divergences, max R-hat, min bulk/tail ESS, leapfrog steps per draw and min-ESS per second,
then the PSIS-LOO comparison of the forms. Targets (issue 8): 0 divergences, R-hat <= 1.01,
<= 60 s on 2 cores. Results are recorded in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

from bayes_scaling.constants import DEFAULT_SEED
from bayes_scaling.curves import read_curves
from bayes_scaling.models.surface import SurfaceModel
from bayes_scaling.pipeline import BUNDLED_CURVES, surface_table
from bayes_scaling.tradeoffs import surface_form_evidence


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=Path, default=BUNDLED_CURVES)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="one run per seed")
    ap.add_argument("--forms", nargs="+", default=["additive", "effective_data"])
    args = ap.parse_args()
    table = surface_table(read_curves(args.curves), metric="mae")
    if table is None:
        raise SystemExit(f"{args.curves} has no surface curves (m column).")
    print(f"rows={len(table)} cores={os.cpu_count()} load={os.getloadavg()[0]:.2f}")
    print("| form | run (seed) | wall (s) | divergences | max R-hat | min ESS bulk | min ESS tail "
          "| steps/draw | min ESS/s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    last = {}
    seeds = args.seeds or [DEFAULT_SEED] * args.repeats
    for rep, seed in enumerate(seeds):
        forms = args.forms if rep % 2 == 0 else args.forms[::-1]
        for form in forms:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = SurfaceModel(form=form, random_seed=seed, check_convergence=False).fit(
                    table
                )
            wall = time.perf_counter() - t0
            rep_ = model.convergence
            steps = float(model.idata["sample_stats"]["n_steps"].mean())
            ess = min(rep_.min_ess_bulk, rep_.min_ess_tail)
            print(
                f"| {form} | {rep + 1} ({seed}) | {wall:.1f} | {rep_.divergences} | "
                f"{rep_.worst_rhat:.3f} | {rep_.min_ess_bulk:.0f} | {rep_.min_ess_tail:.0f} | "
                f"{steps:.0f} | {ess / wall:.1f} |"
            )
            last[form] = model
    if len(last) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evidence = surface_form_evidence(last)
        print()
        print(evidence.table.to_string(index=False))
        print(evidence.sentence)


if __name__ == "__main__":
    main()
