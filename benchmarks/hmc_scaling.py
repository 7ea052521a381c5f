"""Issue 15 reference: how NUTS's step size shrinks with dimension on targets with no coupling.

Issue 15 asks that the fit cost grow at most linearly with the number of curves. For
Hamiltonian Monte Carlo that is not reachable even on the easiest target: on a product of
``d`` independent components the leapfrog step size that keeps a fixed acceptance rate
shrinks like ``d^(-1/4)`` (Beskos, Pillai, Roberts, Sanz-Serna and Stuart 2013, "Optimal
tuning of the hybrid Monte Carlo algorithm", Bernoulli 19(5A)), so the steps per draw grow
like ``d^(1/4)`` and the cost per draw like ``d^(5/4)``: 3x the curves, about 1.32x the
cost per curve. This script measures that floor with nutpie (the package's sampler, same
``target_accept`` 0.95, 4 chains x 1000 draws after 1000 tuning steps) side by side, on

``iid``
    ``d`` independent Normals with scales spread over 6 orders of magnitude (what a diagonal
    mass matrix removes entirely);
``blocks``
    ``d / 3`` independent correlated pairs (correlations ``tanh(Normal(1, 0.8))``: median
    0.76, the largest near 0.99, as the curves' ``logit_gap``-``log_alpha`` pairs of the
    heterogeneous sets) plus ``d / 3`` independent Normals: the geometry of independent
    curves, no hierarchy.

By default ``d`` is the number of values nutpie samples for ``ScalingLawModel`` on
``model_fit.py``'s heterogeneous sets of 18, 100 and 300 curves (data seed 1: three curve
parameters and ``log_sigma`` per curve, plus the population's and groups' parameters: 98,
462 and 1277), so the floor is read at the very dimensions the package's growth is measured
at. Tree doublings make the floor lumpy: between 462 and 1277 dimensions the ``iid`` steps
per draw grow only 1.13x, between 300 and 900 1.56x. Results: ``benchmarks/README.md``
(``model_fit.py``, stops 25 and 26).

Usage::

    .venv/bin/python benchmarks/hmc_scaling.py                 # the heterogeneous sets' d
    .venv/bin/python benchmarks/hmc_scaling.py --dims 54 300 900 --targets iid
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def build(target: str, d: int, rng: np.random.Generator):
    """The PyMC model of a ``target`` (``iid`` or ``blocks``) in ``d`` dimensions."""
    import pymc as pm

    with pm.Model() as model:
        if target == "iid":
            pm.Normal("x", 0.0, np.exp(rng.uniform(-3.0, 3.0, d)), shape=d)
        else:
            k = d // 3
            rho = np.tanh(rng.normal(1.0, 0.8, k))
            cov = np.stack([np.array([[1.0, r], [r, 1.0]]) for r in rho])
            pm.MvNormal("x", np.zeros(2), cov=cov, shape=(k, 2))
            pm.Normal("y", 0.0, 1.0, shape=d - 2 * k)
    return model


def measure(target: str, d: int, seed: int) -> dict[str, float]:
    """Sample one target with nutpie; mean step size, leapfrog steps per draw, wall time."""
    import nutpie

    compiled = nutpie.compile_pymc_model(build(target, d, np.random.default_rng(seed)))
    t0 = time.perf_counter()
    trace = nutpie.sample(compiled, draws=1000, tune=1000, chains=4, cores=2, seed=seed,
                          target_accept=0.95, progress_bar=False)  # fmt: skip
    stats = trace["sample_stats"]
    return {
        "step": float(stats["step_size"].mean()),
        "steps": float(stats["n_steps"].mean()),
        "wall": time.perf_counter() - t0,
    }


def het_dims(seed: int = 1) -> list[int]:
    """Sampled dimensions of ``ScalingLawModel`` on ``model_fit.py``'s heterogeneous sets."""
    import model_fit  # this folder's benchmark, importable when run as a script

    from bayes_scaling.models import ScalingLawModel

    dims = []
    for name in ("het18", "het100", "het300"):
        curves = model_fit.heterogeneous(model_fit.HET_SIZES[name], seed=seed)
        point = ScalingLawModel(random_seed=seed).build_model(curves).initial_point()
        dims.append(int(sum(np.size(v) for v in point.values())))
    return dims


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dims", type=int, nargs="+", default=None,
                    help="dimensions (default: the heterogeneous sets' sampled dimensions)")
    ap.add_argument("--targets", nargs="+", choices=("iid", "blocks"), default=["iid", "blocks"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.dims is None:
        args.dims = het_dims()
        print(f"d of the heterogeneous sets of 18 / 100 / 300 curves: {args.dims}")
    print("target  d     step size  ratio to previous d (d^-1/4 predicts)  steps/draw  wall (s)")
    for target in args.targets:
        prev = None
        for d in args.dims:
            r = measure(target, d, args.seed)
            ratio = "" if prev is None else (
                f"{r['step'] / prev[1]:.3f} ({(d / prev[0]) ** -0.25:.3f})"
            )  # fmt: skip
            print(f"{target:7s} {d:5d} {r['step']:9.4f}  {ratio:38s} {r['steps']:9.1f} "
                  f"{r['wall']:8.1f}", flush=True)  # fmt: skip
            prev = (d, r["step"])


if __name__ == "__main__":
    main()
