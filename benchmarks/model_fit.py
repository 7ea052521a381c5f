"""Model-fit benchmark: ScalingLawModel vs the naive centred PyMC model, side by side.

Usage::

    .venv/bin/python benchmarks/model_fit.py                  # full: 1000 draws, 4 chains
    .venv/bin/python benchmarks/model_fit.py --quick          # draws = tune = 300
    .venv/bin/python benchmarks/model_fit.py --only compare sim1 --draws 500 --tune 500

Cases (``--only`` picks a subset; default all but the heterogeneous sets):

``compare``
    Simulated data, 18 curves (6 properties x 3 databases) x 8 sizes x 5 seeds
    (:func:`bayes_scaling.simulate.draw_curve_params` / ``simulate_curves``). Fits
    ``ScalingLawModel()`` (package defaults, printed in the header: nutpie,
    ``centring="auto"``, ``target_accept="auto"``, Gamma spread priors, seed aggregation
    by sufficient statistics, least-squares start) and the issue's **naive baseline**
    written here (:func:`naive_model`): ``log D``, ``log alpha``, ``log C`` each
    ``Normal(mu + a_property + b_database, sigma)`` with centred group effects, the raw
    log-error likelihood on every seed, ``pm.sample`` with its defaults and the same
    draws and chains (4 x 1000; tuning: our default 500 steps, PyMC's documented default
    1000 for the naive model, unless ``--tune`` sets both). In PyMC 6 the
    default NUTS of ``pm.sample`` is
    **nutpie** when it is installed (``nuts_sampler=None`` picks nutpie for the numba
    backend; target_accept 0.8, its own init), so ``naive`` runs on nutpie like our model;
    ``naive-pymc`` (``--naive pymc`` or ``both``) is the same model with
    ``nuts_sampler="pymc"`` (PyMC's own NUTS, jitter+adapt_diag). Both get ``cores =
    min(chains, cpu count)``, the parallelism ``ScalingLawModel`` uses (PyMC's own default
    would be ``cpu_count // 2`` = 1 on a 2-core machine). Prints wall time, the model's
    compile time (measured separately), divergences, max R-hat, min bulk ESS, min ESS per
    second of both, the ratios, and the issue's targets (ours <= 15 s, 0 divergences,
    min ESS/s >= 50x the naive model's).
    ``ours-graph`` (skip with ``--no-graph``) is our model again with nutpie sampling
    PyTensor's compiled graph instead of the hand-written fused log density
    (:mod:`bayes_scaling.models.fused_density`, environment ``BAYES_SCALING_FUSED_DENSITY=0``):
    the same posterior, so the ratio is what the fused function buys.
    ``plain`` (skip with ``--no-plain``) is issue 15's reference, a plain
    reparameterisation (:func:`plain_model`: error at a reference size, gap share, log
    alpha; non-centred crossed effects; seed-aggregated; one pooled noise sd; nutpie), with
    the target min ESS/s over the curve parameters >= 2x its.
``sim1``, ``sim18``, ``sim60``
    ``ScalingLawModel()`` on simulated sets of 1, 18 (the ``compare`` set, reused when both
    run) and 60 curves (12 properties x 5 databases).
``het18``, ``het100``, ``het300``
    Issue 15's heterogeneous simulated sets (:func:`heterogeneous`: mixed shapes incl.
    flat, steep and broken curves, noise 0.02-0.3, 5-10 sizes, 3-10 seeds, unbalanced
    groups), ``ScalingLawModel()`` defaults; diagnostics over **every sampled parameter**
    (the fit's ``convergence_`` report); targets 15 s / 3 min / 10 min on 2 cores. Not in
    the default run (``--only het100``).
``real``
    ``ScalingLawModel()`` on the real curves ``data/curves/curves.csv`` as the pipeline
    selects them (``select_curves``: metric == "mae", full experimental split; 7 finetune
    transfer curves + 4 scratch curves, 5 seeds each; the (n, m) surface rows are left out).

Diagnostics are taken over every curve's ``D``, ``alpha`` and ``C``: for our model from
``model.summary(level="curve")`` (rows with parameter in D / alpha / C, normalised scale),
for the naive model from ``arviz.rhat`` / ``arviz.ess`` on ``log D``, ``log alpha``,
``log C`` (rank-normalised diagnostics are invariant to the monotone ``exp``). The target
(issue): 0 divergences, max R-hat <= 1.01, min bulk ESS >= 400. Wall time is the whole
``fit`` (least-squares start, model build, compilation, sampling, post-processing) in a
fresh process (after the libraries every model uses are imported, :data:`WARM_IMPORTS`, so
the first model timed does not pay the others' imports), so the first nutpie fit of a
structure includes its compile (with numba's on-disk cache warm, 0.2 s for ours with the
fused log density, 1-2 s for the PyTensor graphs; several seconds more the very first time
on a machine); later fits of the same structure in the same process reuse the compiled
model.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bayes_scaling.curves import curve_ids, normalised_error, read_curves  # noqa: E402
from bayes_scaling.models import ScalingLawModel  # noqa: E402
from bayes_scaling.models.samplers import (  # noqa: E402
    FUSED_ENV,
    fused_density_of,
    nutpie_compile_settings,
)
from bayes_scaling.pipeline import select_curves  # noqa: E402
from bayes_scaling.simulate import draw_curve_params, simulate_curves  # noqa: E402

CASES = ("compare", "sim1", "sim18", "sim60", "real", "het18", "het100", "het300")
HET_SIZES = {"het18": 18, "het100": 100, "het300": 300}
#: Issue 15's wall-time targets of the heterogeneous sets (seconds, 2 cores).
HET_TARGET_S = {"het18": 15.0, "het100": 180.0, "het300": 600.0}
SIM_SHAPES = {"sim1": (1, 1), "sim18": (6, 3), "sim60": (12, 5)}
TARGET_RHAT, TARGET_ESS, TARGET_DIV = 1.01, 400.0, 0
NAIVE_TUNE = 1000  # tuning steps of the naive model (PyMC's documented default)


def simulated(n_props: int, n_dbs: int, seed: int) -> pd.DataFrame:
    """``n_props * n_dbs`` curves x 8 sizes (16 ... 100 000) x 5 seeds."""
    rng = np.random.default_rng(seed)
    params = draw_curve_params(n_props, n_dbs, rng=rng)
    return simulate_curves(params, seeds=5, rng=rng)


def heterogeneous(n_curves: int, seed: int) -> pd.DataFrame:
    """A heterogeneous simulated set of ``n_curves`` learning curves (issue 15).

    Mixed shapes (power law with a gap 45 %, without one 15 %, flat 15 %, steep 10 %,
    smoothly broken 15 %), noise sd 0.02-0.3 on the log scale, 5-10 sizes from 16-128 up
    to 10^3-10^5, 3-10 seeds per size, unbalanced groups (property sizes geometric: a few
    large properties, many with one or two curves; 3-8 databases). Every curve gets its own
    ``pair`` so curves of the same property and database stay distinct.
    """
    rng = np.random.default_rng(seed)
    n_props = max(3, n_curves // 8)
    share = 0.7 ** np.arange(n_props)
    props = rng.choice(n_props, size=n_curves, p=share / share.sum())
    n_dbs = int(np.clip(n_curves // 12, 3, 8))
    p_eff = rng.normal(0.0, [0.35, 0.4, 0.2], (n_props, 3))
    d_eff = rng.normal(0.0, [0.15, 0.3, 0.15], (n_dbs, 3))
    shapes = rng.choice(["gap", "power", "flat", "steep", "broken"], size=n_curves,
                        p=[0.45, 0.15, 0.15, 0.10, 0.15])
    tables = []
    for i in range(n_curves):
        db = int(rng.integers(n_dbs))
        e = p_eff[props[i]] + d_eff[db] + rng.normal(0.0, [0.1, 0.2, 0.1])
        alpha = float(np.clip(0.45 * np.exp(e[2]), 0.08, 1.5))
        C = float(np.clip(0.3 * np.exp(e[0]), 0.05, 0.8))
        excess = float(np.clip(0.5 * np.exp(e[1]), 0.1, 1.5))
        row = {"property": f"p{props[i]}", "database": f"db{db}", "pair": f"c{i}",
               "sigma": float(rng.uniform(0.02, 0.3))}
        if shapes[i] == "power":
            C = 0.0
        elif shapes[i] == "flat":
            excess *= 0.05
        elif shapes[i] == "steep":
            alpha = float(rng.uniform(0.8, 1.5))
        elif shapes[i] == "broken":
            row["alpha2"] = alpha * float(rng.uniform(1.5, 2.5))
            row["n_break"] = float(np.exp(rng.uniform(np.log(300), np.log(5000))))
        first = int(rng.choice([16, 32, 64, 128]))
        grid = np.unique(np.geomspace(first, 10 ** rng.uniform(3, 5), int(rng.integers(5, 11)))
                         .round().astype(int))
        row.update(D=excess * first**alpha, alpha=alpha, C=C)
        tables.append(simulate_curves(pd.DataFrame([row]), n_grid=grid,
                                      seeds=int(rng.integers(3, 11)), rng=rng))
    return pd.concat(tables, ignore_index=True)


def fit_het(curves: pd.DataFrame, args: argparse.Namespace) -> dict:
    """``ScalingLawModel()`` defaults on a heterogeneous set; diagnostics over every sampled
    parameter (the model's own convergence report), not just the curve parameters."""
    model = ScalingLawModel(draws=args.draws, chains=args.chains, random_seed=args.seed,
                            **({} if args.tune is None else {"tune": args.tune}),
                            **adaptation_kwargs(args))
    wall = timed_fit(model, curves)
    rep = model.convergence_
    worst = rep.worst(1).iloc[0]
    stats = model.idata["sample_stats"]
    return {
        "wall": wall,
        "div": int(rep.divergences),
        "steps": float(stats["n_steps"].mean()),
        "rhat": float(rep.worst_rhat),
        "ess": float(min(rep.min_ess_bulk, rep.min_ess_tail)),
        "worst": f"{worst['parameter']}[{worst['curve']}] (all parameters)",
        "curves": int(curves.groupby(["pair", "property", "database"]).ngroups),
        "compile": None,
        "note": rep.note,
        "groups": model.groups_,
    }


def adaptation_kwargs(args: argparse.Namespace) -> dict:
    """``sampler_kwargs`` of our model for ``--adaptation`` (nutpie's mass-matrix
    adaptation; none: nutpie's default, ``"diag"``) and ``--maxdepth`` (nutpie's largest
    tree depth; none: nutpie's default, 10)."""
    kwargs = {k: v for k, v in (("adaptation", args.adaptation), ("maxdepth", args.maxdepth))
              if v is not None}  # fmt: skip
    return {"sampler_kwargs": kwargs} if kwargs else {}


def real_curves(path: Path) -> pd.DataFrame:
    """The learning curves in n at the full experimental split (what the pipeline fits)."""
    return select_curves(read_curves(path), metric="mae").reset_index(drop=True)


# --------------------------------------------------------------------------- our model
#: Libraries every model's fit imports on first use (PyMC, nutpie, numba, PyTensor's C and
#: numba backends, ArviZ, dask via xarray): imported before any timing, so the first model
#: timed in the process does not pay the others' imports (about 1 s here).
WARM_IMPORTS: tuple[str, ...] = (
    "pymc", "nutpie", "nutpie.compile_pymc", "numba", "pytensor.link.numba.linker",
    "pytensor.link.c.cmodule", "arviz", "arviz_stats", "dask.array", "jinja2", "scipy.stats",
)  # fmt: skip


def warm_imports() -> float:
    """Import :data:`WARM_IMPORTS`; return the seconds it took."""
    import importlib

    t0 = time.perf_counter()
    for name in WARM_IMPORTS:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    return time.perf_counter() - t0


def fit_ours(curves: pd.DataFrame, args: argparse.Namespace, compile_too: bool = False,
             fused: bool = True) -> dict:
    """``ScalingLawModel`` with the package defaults (or the command line's overrides);
    ``fused=False``: nutpie samples PyTensor's graph instead of the fused log density."""
    extra = {}
    if args.centring is not None:
        extra["centring"] = args.centring
    if args.target_accept is not None:
        extra["target_accept"] = args.target_accept
    if args.sd_family is not None:
        extra["priors"] = {"sd_family": args.sd_family}
    if args.tune is not None:
        extra["tune"] = args.tune
    model = ScalingLawModel(draws=args.draws, chains=args.chains,
                            random_seed=args.seed, **extra, **adaptation_kwargs(args))
    with fused_switch(fused):
        wall = timed_fit(model, curves)
        compile_s = compile_time(model.build_model(curves), lean=True) if compile_too else None
    s = model.summary(level="curve")
    s = s[s["parameter"].isin(["D", "alpha", "C"]) & (s["scale"] != "original")]
    stats = model.idata["sample_stats"]
    worst = s.sort_values("ess_bulk").iloc[0]
    return {
        "wall": wall,
        "div": int(stats["diverging"].sum()),
        "steps": float(stats["n_steps"].mean()),
        "rhat": float(s["r_hat"].max()),
        "ess": float(s["ess_bulk"].min()),
        "worst": f"{worst['parameter']}[{worst['name']}]",
        "curves": int(s["name"].nunique()),
        "compile": compile_s,
    }


@contextlib.contextmanager
def fused_switch(on: bool):
    """Sample the fused log density (package default) or, ``on=False``, PyTensor's graph."""
    old = os.environ.get(FUSED_ENV)
    if not on:
        os.environ[FUSED_ENV] = "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(FUSED_ENV, None)
        else:
            os.environ[FUSED_ENV] = old


def timed_fit(model: ScalingLawModel, curves: pd.DataFrame) -> float:
    """Fit ``model`` to ``curves`` (warnings silenced); return the wall time in seconds."""
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(curves)
    return time.perf_counter() - t0


def compile_time(pm_model, lean: bool = False) -> float:
    """Seconds to compile a PyMC model for nutpie (what a cold fit pays once); ``lean``:
    with the package's settings (``samplers.nutpie_compile_settings``), as our fit does."""
    import nutpie

    t0 = time.perf_counter()
    fused = fused_density_of(pm_model) if lean else None
    with nutpie_compile_settings(fused) if lean else contextlib.nullcontext({}) as options:
        nutpie.compile_pymc_model(pm_model, **options)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- naive model
def curve_index(curves: pd.DataFrame):
    """Row -> curve code, curve -> property / database codes, log normalised error, coords."""
    code, names = pd.factorize(curve_ids(curves))
    first = curves.assign(_c=code).drop_duplicates("_c").sort_values("_c")
    prop, prop_names = pd.factorize(first["property"])
    db, db_names = pd.factorize(first["database"])
    y = np.log(normalised_error(curves).to_numpy(dtype=float))
    coords = {"curve": list(names), "property": list(prop_names), "database": list(db_names)}
    return code, prop, db, y, coords


def naive_model(curves: pd.DataFrame):
    """The issue's naive baseline: centred crossed group effects, every seed observed.

    ``log D``, ``log alpha``, ``log C`` of each curve are each ``Normal(mu + a[property] +
    b[database], sigma)`` with **centred** group effects ``a ~ Normal(0, sigma_a)``,
    ``b ~ Normal(0, sigma_b)`` (HalfNormal spreads), and every seed's log error is
    ``Normal(log(D n^-alpha + C), sigma_c)`` (no seed aggregation, no reparameterisation).
    """
    import pymc as pm

    code, prop, db, y, coords = curve_index(curves)
    n = curves["n"].to_numpy(dtype=float)
    with pm.Model(coords=coords) as model:
        logs = {}
        for name, loc in (("D", 0.0), ("alpha", np.log(0.5)), ("C", np.log(0.3))):
            mu = pm.Normal(f"mu_log_{name}", loc, 1.0)
            a = pm.Normal(f"a_{name}", 0.0, pm.HalfNormal(f"sigma_a_{name}", 0.5),
                          dims="property")
            b = pm.Normal(f"b_{name}", 0.0, pm.HalfNormal(f"sigma_b_{name}", 0.5),
                          dims="database")
            logs[name] = pm.Normal(f"log_{name}", mu + a[prop] + b[db],
                                   pm.HalfNormal(f"sigma_log_{name}", 0.5), dims="curve")
        sigma = pm.HalfNormal("sigma", 0.5, dims="curve")
        D, alpha, C = (pm.math.exp(logs[k]) for k in ("D", "alpha", "C"))
        mean = pm.math.log(D[code] * n ** (-alpha[code]) + C[code])
        pm.Normal("log_error", mean, sigma[code], observed=y)
    return model


def fit_naive(curves: pd.DataFrame, args: argparse.Namespace, sampler: str | None) -> dict:
    import pymc as pm

    t0 = time.perf_counter()
    model = naive_model(curves)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {} if sampler is None else {"nuts_sampler": sampler}
        # same parallelism as ScalingLawModel (PyMC's own default is cpu_count // 2 = 1 here)
        cores = min(args.chains, os.cpu_count() or 1)
        # PyMC's classic default of 1000 tuning steps (pm.sample(tune=None) would give the
        # nutpie path nutpie's own, shorter default)
        kw["tune"] = NAIVE_TUNE if args.tune is None else args.tune
        idata = pm.sample(draws=args.draws, chains=args.chains, cores=cores,
                          random_seed=args.seed, model=model, progressbar=False, **kw)
    wall = time.perf_counter() - t0
    post = idata["posterior"].to_dataset()[["log_D", "log_alpha", "log_C"]]
    post = post.rename({"log_D": "D", "log_alpha": "alpha", "log_C": "C"})
    compile_s = compile_time(naive_model(curves)) if sampler is None else None
    return reference_result(idata, post, wall, compile_s)


def reference_result(idata, post, wall: float, compile_s: float | None) -> dict:
    """Diagnostics of a reference model's fit over its curves' ``D``, ``alpha``, ``C``.

    ``post`` holds one variable per curve parameter (or a monotone transform of it: the
    rank-normalised R-hat and ESS are invariant to those), dimension ``curve``.
    """
    import arviz as az

    rhat, ess = az.rhat(post), az.ess(post, method="bulk")
    worst_ess, worst = np.inf, ""
    for v in ("D", "alpha", "C"):
        e = ess[v].to_series()
        if e.min() < worst_ess:
            worst_ess, worst = float(e.min()), f"{v}[{e.idxmin()}]"
    return {
        "wall": wall,
        "div": int(idata["sample_stats"]["diverging"].sum()),
        "steps": float(idata["sample_stats"]["n_steps"].mean()),
        "rhat": float(max(float(rhat[v].max()) for v in post.data_vars)),
        "ess": worst_ess,
        "worst": worst,
        "curves": int(post.sizes["curve"]),
        "compile": compile_s,
    }


# --------------------------------------------------------------------------- plain reparam.
def plain_model(curves: pd.DataFrame):
    """Issue 15's reference: a plain reparameterisation anyone would write in 15 minutes.

    Per curve ``theta = (log e_ref, logit g, log alpha)``: the error at the curve's
    reference size ``n_ref`` (geometric mean of its n), the gap share ``g = C / e_ref`` and
    the decay rate, so ``e(n) = e_ref (g + (1 - g) (n / n_ref)^-alpha)``. ``theta = mu +
    a[property] + b[database] + tau * z`` with **non-centred** crossed effects (``a = s_a
    z_a``, ``b = s_b z_b``, HalfNormal spreads), the seeds of each (curve, n) aggregated into
    their mean and sum of squares (one ``pm.Potential``), one pooled noise sd; sampled with
    nutpie through ``pm.sample`` (its defaults, PyMC's 1000 tuning steps).
    """
    import pymc as pm
    import pytensor.tensor as pt

    code, prop, db, y, coords = curve_index(curves)
    pts = pd.DataFrame({"c": code, "n": curves["n"].to_numpy(float), "y": y})
    agg = pts.groupby(["c", "n"])["y"].agg(["mean", "count", "var"]).reset_index()
    k = agg["count"].to_numpy(float)
    ss = (agg["var"].fillna(0.0) * (k - 1)).to_numpy(float)
    pc = agg["c"].to_numpy(int)
    log_n = np.log(agg["n"].to_numpy(float))
    log_nref = pts.assign(l=np.log(pts["n"])).groupby("c")["l"].mean().to_numpy(float)
    x = log_n - log_nref[pc]
    loc = np.array([np.log(0.3), 0.0, np.log(0.5)])
    coords = {**coords, "param": ["log_e_ref", "logit_g", "log_alpha"]}
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", loc, 1.0, dims="param")
        s_a = pm.HalfNormal("s_a", 0.5, dims="param")
        s_b = pm.HalfNormal("s_b", 0.5, dims="param")
        tau = pm.HalfNormal("tau", 0.5, dims="param")
        z_a = pm.Normal("z_a", 0.0, 1.0, dims=("property", "param"))
        z_b = pm.Normal("z_b", 0.0, 1.0, dims=("database", "param"))
        z_c = pm.Normal("z_c", 0.0, 1.0, dims=("curve", "param"))
        theta = pm.Deterministic(
            "theta", mu + s_a * z_a[prop] + s_b * z_b[db] + tau * z_c, dims=("curve", "param")
        )
        e_ref, g = pt.exp(theta[:, 0]), pm.math.sigmoid(theta[:, 1])
        alpha = pt.exp(theta[:, 2])
        mean = pt.log(e_ref[pc] * (g[pc] + (1 - g[pc]) * pt.exp(-alpha[pc] * x)))
        log_sigma = pm.Normal("log_sigma", np.log(0.05), 1.0)
        pm.Potential(
            "loglik",
            pt.sum(-k * log_sigma - 0.5 * (k * (agg["mean"].to_numpy() - mean) ** 2 + ss)
                   * pt.exp(-2 * log_sigma)),
        )
    model.log_nref = log_nref  # for the curve parameters after sampling
    return model


def fit_plain(curves: pd.DataFrame, args: argparse.Namespace) -> dict:
    import pymc as pm
    import xarray as xr

    t0 = time.perf_counter()
    model = plain_model(curves)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cores = min(args.chains, os.cpu_count() or 1)
        idata = pm.sample(draws=args.draws, chains=args.chains, cores=cores,
                          tune=NAIVE_TUNE if args.tune is None else args.tune,
                          random_seed=args.seed, model=model, progressbar=False,
                          nuts_sampler="nutpie")
    wall = time.perf_counter() - t0
    th = idata["posterior"]["theta"]
    e_ref = np.exp(th.sel(param="log_e_ref"))
    g = 1 / (1 + np.exp(-th.sel(param="logit_g")))
    alpha = np.exp(th.sel(param="log_alpha"))
    nref = xr.DataArray(np.exp(model.log_nref), dims="curve", coords={"curve": th["curve"]})
    post = xr.Dataset({"C": e_ref * g, "D": e_ref * (1 - g) * nref**alpha, "alpha": alpha})
    return reference_result(idata, post, wall, compile_time(plain_model(curves)))


# --------------------------------------------------------------------------- output
def verdict(r: dict) -> str:
    bad = []
    if r["div"] > TARGET_DIV:
        bad.append("div")
    if not r["rhat"] <= TARGET_RHAT:
        bad.append("R-hat")
    if not r["ess"] >= TARGET_ESS:
        bad.append("ESS")
    return "PASS" if not bad else "MISS (" + ", ".join(bad) + ")"


def ess_per_s(r: dict, excl_compile: bool = False) -> float:
    wall = r["wall"] - ((r.get("compile") or 0.0) if excl_compile else 0.0)
    return r["ess"] / wall


def row(case: str, model: str, r: dict) -> str:
    comp = "-" if r.get("compile") is None else f"{r['compile']:.1f}"
    excl = "-" if r.get("compile") is None else f"{ess_per_s(r, True):.1f}"
    return (f"| {case} | {model} | {r['curves']} | {r['wall']:.1f} | {comp} | "
            f"{r['steps']:.0f} | {r['div']} | "
            f"{r['rhat']:.3f} | {r['ess']:.0f} | {ess_per_s(r):.1f} | {excl} | {r['worst']} | "
            f"{verdict(r)} |")


HEADER = ("| case | model | curves | wall (s) | compile (s) | leapfrog steps/draw | "
          "divergences | max R-hat | "
          "min bulk ESS | min ESS/s | min ESS/s excl. compile | lowest-ESS parameter | target |\n"
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=CASES, default=list(CASES[:5]),
                    help="cases to run (default: all but the heterogeneous sets)")
    ap.add_argument("--quick", action="store_true", help="draws = tune = 300 (smoke run)")
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (default 1000)")
    ap.add_argument("--tune", type=int, default=None,
                    help="tuning steps per chain of both models (default: 500 ours, "
                         "1000 the naive model)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1, help="seed of data and samplers")
    ap.add_argument("--sd-family", choices=("halfnormal", "gamma"), default=None,
                    help="prior family of the group/curve spreads (Priors.sd_family)")
    ap.add_argument("--centring", choices=("noncentred", "auto", "centred"), default=None,
                    help="override ScalingLawModel's centring (default: the package default)")
    ap.add_argument("--target-accept", type=float, default=None,
                    help="override ScalingLawModel's target_accept (default: package default)")
    ap.add_argument("--adaptation", choices=("diag", "draw_diag", "low_rank"), default=None,
                    help="our model's nutpie mass-matrix adaptation (default: nutpie's, "
                         "'diag'); 'draw_diag' from the draws' variances alone")
    ap.add_argument("--maxdepth", type=int, default=None,
                    help="our model's largest NUTS tree depth (default: nutpie's, 10; a "
                         "draw takes at most 2^maxdepth leapfrog steps)")
    ap.add_argument("--naive", choices=("default", "pymc", "both"), default="both",
                    help="naive model's sampler: pm.sample's default (nutpie in PyMC 6), "
                         "nuts_sampler='pymc', or both (default)")
    ap.add_argument("--no-plain", action="store_true",
                    help="skip the plain reparameterisation (issue 15's reference)")
    ap.add_argument("--no-graph", action="store_true",
                    help="skip 'ours-graph' (our model sampled through PyTensor's graph "
                         "instead of the fused log density)")
    ap.add_argument("--curves", type=Path, default=ROOT / "data" / "curves" / "curves.csv")
    args = ap.parse_args()
    logging.getLogger("pymc").setLevel(logging.WARNING)
    default = 300 if args.quick else 1000
    args.draws = args.draws or default
    if args.quick and args.tune is None:
        args.tune = default

    print(f"# model_fit benchmark {dt.datetime.now().isoformat(timespec='seconds')}")
    settings = ScalingLawModel(**{k: v for k, v in (
        ("centring", args.centring), ("target_accept", args.target_accept),
        ("priors", {"sd_family": args.sd_family} if args.sd_family else None)) if v is not None
    }).get_params()
    print("ours: ScalingLawModel(" + ", ".join(
        f"{k}={settings[k]}" for k in ("sampler", "centring", "target_accept", "init", "groups")
    ) + f", sd_family={(settings['priors'] or {}).get('sd_family', 'gamma')}"
        + (f", sampler_kwargs={adaptation_kwargs(args)['sampler_kwargs']}"
           if adaptation_kwargs(args) else "") + ")" + (
        " [overridden on the command line]"
        if args.centring or args.target_accept or args.sd_family or adaptation_kwargs(args)
        else " [package defaults]"))
    tune = args.tune or f"500 ours, {NAIVE_TUNE} naive"
    print(f"draws={args.draws} tune={tune} chains={args.chains} "
          f"seed={args.seed} "
          f"cpus={os.cpu_count()} python={platform.python_version()} cases={' '.join(args.only)}")
    print(f"target: divergences <= {TARGET_DIV}, R-hat <= {TARGET_RHAT}, "
          f"bulk ESS >= {TARGET_ESS:.0f} (over every curve's D, alpha, C)\n", flush=True)

    print(f"imports before timing (WARM_IMPORTS): {warm_imports():.1f} s\n", flush=True)
    results: list[tuple[str, str, dict]] = []
    cache: dict[str, pd.DataFrame] = {}

    def data(case: str) -> pd.DataFrame:
        if case not in cache:
            cache[case] = (real_curves(args.curves) if case == "real"
                           else simulated(*SIM_SHAPES[case], seed=args.seed))
        return cache[case]

    def report(case: str, model: str, r: dict) -> None:
        results.append((case, model, r))
        print(f"done {case:8s} {model:10s} {r['wall']:7.1f} s  div={r['div']}  "
              f"R-hat={r['rhat']:.3f}  ESS={r['ess']:.0f}", flush=True)

    ours18 = None
    if "compare" in args.only:
        curves = data("sim18")
        ours18 = fit_ours(curves, args, compile_too=True)
        report("compare", "ours", ours18)
        if not args.no_graph:
            report("compare", "ours-graph", fit_ours(curves, args, compile_too=True, fused=False))
        if args.naive in ("default", "both"):
            report("compare", "naive", fit_naive(curves, args, None))
        if args.naive in ("pymc", "both"):
            report("compare", "naive-pymc", fit_naive(curves, args, "pymc"))
        if not args.no_plain:
            report("compare", "plain", fit_plain(curves, args))
    for case in ("sim1", "sim18", "sim60", "real"):
        if case not in args.only:
            continue
        if case == "sim18" and ours18 is not None:
            results.append((case, "ours", ours18))  # same data, same fit
            continue
        report(case, "ours", fit_ours(data(case), args))
    for case in ("het18", "het100", "het300"):
        if case not in args.only:
            continue
        r = fit_het(heterogeneous(HET_SIZES[case], seed=args.seed), args)
        report(case, "ours", r)
        print(f"  {case}: groups {r['groups']}; wall <= {HET_TARGET_S[case]:.0f} s: "
              f"{'PASS' if r['wall'] <= HET_TARGET_S[case] else 'MISS'}"
              + (f"; note: {r['note']}" if r["note"] else ""), flush=True)

    print("\n" + HEADER)
    for case, model, r in results:
        print(row(case, model, r))
    comp = {m: r for c, m, r in results if c == "compare"}
    o = comp.get("ours")
    for name in ("ours-graph", "naive", "naive-pymc", "plain"):
        if o is None or name not in comp:
            continue
        nv = comp[name]
        print(f"\nours vs {name} (18 simulated curves x 8 n x 5 seeds, same data, "
              "draws/tune/chains):")
        print(f"  wall time       {name} / ours = {nv['wall'] / o['wall']:.2f}x "
              f"({nv['wall']:.1f} s vs {o['wall']:.1f} s)")
        print(f"  divergences     ours {o['div']} vs {name} {nv['div']}")
        print(f"  leapfrog steps per draw  ours {o['steps']:.1f} vs {name} {nv['steps']:.1f}")
        print(f"  max R-hat       ours {o['rhat']:.3f} vs {name} {nv['rhat']:.3f}")
        print(f"  min bulk ESS    ours / {name} = {o['ess'] / nv['ess']:.2f}x "
              f"({o['ess']:.0f} vs {nv['ess']:.0f})")
        print(f"  min ESS/s       ours / {name} = {ess_per_s(o) / ess_per_s(nv):.2f}x")
        if o.get("compile") is not None and nv.get("compile") is not None:
            print(f"  min ESS/s excl. compile  ours / {name} = "
                  f"{ess_per_s(o, True) / ess_per_s(nv, True):.2f}x")
        ratio = ess_per_s(o) / ess_per_s(nv)
        if name == "ours-graph":  # the same model: what the fused log density buys
            continue
        want = 2 if name == "plain" else 50  # issue 15: >= 2x the plain reparameterisation
        print(f"  issue targets   wall <= 15 s: {'PASS' if o['wall'] <= 15 else 'MISS'} "
              f"({o['wall']:.1f} s); divergences 0: {'PASS' if o['div'] == 0 else 'MISS'}; "
              f"ESS/s >= {want}x {name}: {'PASS' if ratio >= want else 'MISS'} "
              f"({ratio:.1f}x)")

if __name__ == "__main__":
    main()
