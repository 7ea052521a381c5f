"""Sampler backends: choose NUTS by name, with a clear message for missing extras.

``"nutpie"`` (default) compiles the PyMC model with numba and samples in Rust; compiled
models are cached per process by model structure, so refitting a model of the same shape
(new data, new seed: simulation studies, backtests, calibration) skips the compilation; a
new process loads PyTensor's graph and nutpie's callbacks from the disk cache
(:mod:`bayes_scaling.models.nutpie_glue`): about 1.5 s instead of 6 s for 18 curves.
``"pymc"`` is PyMC's own NUTS; ``"numpyro"`` needs the optional ``numpyro`` and ``jax``
packages (``pip install 'bayes_scaling[numpyro]'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.nutpie_glue import lean_glue

Sampler = Literal["nutpie", "pymc", "numpyro"]
#: Supported sampler names.
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc", "numpyro")
_REQUIRES: dict[str, tuple[str, ...]] = {
    "nutpie": ("nutpie", "numba"),
    "pymc": (),
    "numpyro": ("numpyro", "jax"),
}
_EXTRA: dict[str, str] = {"numpyro": "numpyro", "nutpie": ""}
_CACHE_SIZE = 8
_COMPILED: OrderedDict[Hashable, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()


class SamplerUnavailableError(BayesScalingError, ImportError):
    """The requested sampler needs optional packages that are not installed."""


def check_sampler(sampler: str) -> str:
    """Validate a sampler name and that its packages are importable.

    Raises
    ------
    BayesScalingError
        Unknown name.
    SamplerUnavailableError
        A required optional package is missing (the message names it and the extra).

    """
    if sampler not in SAMPLERS:
        raise BayesScalingError(
            f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}."
        )
    missing = [pkg for pkg in _REQUIRES[sampler] if importlib.util.find_spec(pkg) is None]
    if missing:
        extra = _EXTRA.get(sampler)
        hint = (
            f"pip install 'bayes_scaling[{extra}]'" if extra else f"pip install {' '.join(missing)}"
        )
        raise SamplerUnavailableError(
            f"sampler={sampler!r} needs the package(s) {', '.join(missing)}, which are not "
            f"installed; install them ({hint}) or use sampler='nutpie' or 'pymc'."
        )
    return sampler


def clear_compile_cache() -> None:
    """Forget every cached compiled nutpie model."""
    with _CACHE_LOCK:
        _COMPILED.clear()


def _seed_int(seed: int | np.random.SeedSequence) -> int:
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def _data_values(model: Any) -> dict[str, np.ndarray]:
    return {v.name: np.asarray(v.get_value()) for v in model.data_vars}


def _nutpie_initial_point_func(
    model: Any, compiled: Any, initial_values: Mapping[str, np.ndarray]
) -> Any:
    from pymc.initial_point import make_initial_point_fn

    fixed = set(initial_values)
    jitter = {rv for rv in model.free_RVs if rv.name not in fixed}
    fn = make_initial_point_fn(
        model=model,
        overrides=dict(initial_values),
        jitter_rvs=jitter,
        default_strategy="support_point",
        return_transformed=True,
    )
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]  # nutpie's flat order
    lock = threading.Lock()

    def initial_point(seed: Any = None) -> np.ndarray:
        with lock:
            point = fn(seed)
        return np.concatenate([np.asarray(point[n], dtype="float64").ravel() for n in names])

    return initial_point


#: Environment variable: set to ``0`` to sample PyTensor's graph even where a fused log
#: density exists (:mod:`bayes_scaling.models.fused_density`; benchmarks compare the two).
FUSED_ENV: str = "BAYES_SCALING_FUSED_DENSITY"


def fused_density_of(model: Any) -> Any:
    """Return the model's fused log density (``model.fused_density``), unless switched off."""
    if os.environ.get(FUSED_ENV, "1").strip() in ("0", "false", "no", "off"):
        return None
    return getattr(model, "fused_density", None)


@contextlib.contextmanager
def nutpie_compile_settings(fused: Any = None) -> Iterator[dict[str, Any]]:
    """Compile nutpie models inside this block as the package does.

    Yields the options to pass to ``nutpie.compile_pymc_model`` (``cache=True`` for the
    glue's disk cache where it applies). Two settings: the lean, disk-cached C glue
    (:func:`~bayes_scaling.models.nutpie_glue.lean_glue`: the same functions, compiled
    once per model structure and machine), IEEE arithmetic instead of
    PyTensor's fast-math default, and no Python stack recorded on each new graph node
    (PyTensor's ``traceback__limit=0``: the gradient graph nutpie builds is ours, not the
    user's, and walking the stack for each of its thousands of nodes took about 0.15 s of
    the compile). With fast-math, LLVM contracts and reassociates a graph
    compiled afresh (inlined into nutpie's callback) differently from the same graph loaded
    from numba's on-disk cache, so the same seed gave other draws on a machine's first fit
    of a model structure than on later ones (``tests/test_model_samplers.py``); without it
    the draws are the same, and sampling is no slower (benchmarks/README.md, stop 20).
    ``fused``: the model's :class:`~bayes_scaling.models.fused_density.FusedDensity`, if
    any: nutpie's log density callback then calls it instead of PyTensor's graph.
    """
    import pytensor

    flags = {"numba__fastmath": False, "traceback__limit": 0}
    with lean_glue(fused=fused) as options, pytensor.config.change_flags(**flags):
        yield options


def _sample_nutpie(
    model: Any,
    *,
    cache_key: Hashable | None,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    seed: int,
    initial_values: Mapping[str, np.ndarray] | None,
    kwargs: Mapping[str, Any],
) -> xr.DataTree:
    import nutpie

    compiled = None
    fused = fused_density_of(model)
    if cache_key is not None:
        cache_key = (cache_key, fused is not None)
        with _CACHE_LOCK:
            compiled = _COMPILED.get(cache_key)
            if compiled is not None:
                _COMPILED.move_to_end(cache_key)
    if compiled is None:
        with nutpie_compile_settings(fused) as options:
            if initial_values:  # nutpie's own start function takes them: no second compile
                fixed = set(initial_values)
                compiled = nutpie.compile_pymc_model(
                    model,
                    initial_points=dict(initial_values),
                    jitter_rvs={rv for rv in model.free_RVs if rv.name not in fixed},
                    **options,
                )
            else:
                compiled = nutpie.compile_pymc_model(model, **options)
        if cache_key is not None:
            with _CACHE_LOCK:
                _COMPILED[cache_key] = compiled
                while len(_COMPILED) > _CACHE_SIZE:
                    _COMPILED.popitem(last=False)
    else:
        compiled = compiled.with_data(**_data_values(model))
        # this model's start (the cached one may hold another fit's start values)
        compiled = dataclasses.replace(
            compiled,
            initial_point_func=_nutpie_initial_point_func(model, compiled, initial_values or {}),
        )
    opts = {"progress_bar": False, "save_warmup": False, **kwargs}
    return nutpie.sample(
        compiled, draws=draws, tune=tune, chains=chains, cores=cores, seed=seed, **opts
    )


def _jitter(value: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Perturb a start value by about 5 %, multiplicatively for positive values.

    Positive parameters (scales) stay positive, so a jittered start never leaves the
    support (an additive jitter could turn a small scale negative: NaN start).
    """
    noise = 0.05 * rng.standard_normal(np.shape(value))
    if np.all(value > 0):
        return value * np.exp(noise)
    return value + noise


def _sample_pymc(
    model: Any,
    *,
    nuts_sampler: str,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    seed: int,
    initial_values: Mapping[str, np.ndarray] | None,
    kwargs: Mapping[str, Any],
) -> xr.DataTree:
    import pymc as pm

    opts: dict[str, Any] = {
        "progressbar": False,
        "compute_convergence_checks": False,
        **kwargs,
    }
    if initial_values and nuts_sampler == "pymc":
        rng = np.random.default_rng(seed)
        opts.setdefault(
            "initvals",
            [
                {k: _jitter(np.asarray(v), rng) for k, v in initial_values.items()}
                for _ in range(chains)
            ],
        )
        opts.setdefault("init", "jitter+adapt_diag")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Tt]he effective sample size.*")
        warnings.filterwarnings("ignore", message=".*rhat statistic.*")
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=seed,
            nuts_sampler=nuts_sampler,
            model=model,
            **opts,
        )


def _clean(trace: xr.DataTree, model: Any) -> xr.DataTree:
    """Keep posterior (free variables) and numeric sample stats, with the model's labels."""
    free = [rv.name for rv in model.free_RVs] + [d.name for d in model.deterministics]
    post = trace["posterior"].to_dataset()
    post = post[[v for v in free if v in post.data_vars]]
    stats = trace["sample_stats"].to_dataset()
    stats = stats[[v for v in stats.data_vars if stats[v].dtype.kind in "biuf"]]
    coords = {
        dim: list(vals)
        for dim, vals in model.coords.items()
        if vals is not None and dim in post.dims
    }
    post = post.assign_coords(coords)
    post = post.assign_coords(
        chain=np.arange(post.sizes["chain"]), draw=np.arange(post.sizes["draw"])
    )
    stats = stats.assign_coords(chain=post["chain"].values, draw=post["draw"].values)
    post.attrs, stats.attrs = {}, {}
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def sample_model(
    model: Any,
    *,
    sampler: str = "nutpie",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    random_seed: int | np.random.SeedSequence = 0,
    initial_values: Mapping[str, np.ndarray] | None = None,
    cache_key: Hashable | None = None,
    sampler_kwargs: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Run NUTS on a PyMC model with the named backend.

    Parameters
    ----------
    model : pymc.Model
        The model (its data containers hold the data).
    sampler : {"nutpie", "pymc", "numpyro"}
        Backend.
    draws, tune, chains : int
        Posterior draws per chain, tuning steps per chain, number of chains.
    cores : int, optional
        Parallel chains; default ``min(chains, os.cpu_count())``.
    random_seed : int or numpy.random.SeedSequence
        Seed; the same seed gives the same draws.
    initial_values : mapping, optional
        Starting values of some free variables (model scale); the others are jittered.
    cache_key : hashable, optional
        nutpie only: key identifying the model graph up to its data; a cached compiled
        model with this key is reused with the new data.
    sampler_kwargs : mapping, optional
        Passed to ``nutpie.sample`` or ``pymc.sample``.

    Returns
    -------
    xarray.DataTree
        Groups ``posterior`` (free variables, the model's coordinates) and ``sample_stats``
        (numeric statistics, including ``diverging``).

    """
    check_sampler(sampler)
    for name, value, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if int(value) != value or value < low:
            raise BayesScalingError(f"{name} must be an integer >= {low}, got {value!r}.")
    if cores is None:
        cores = min(chains, os.cpu_count() or 1)
    seed = _seed_int(random_seed)
    kwargs = dict(sampler_kwargs or {})
    if sampler == "nutpie":
        trace = _sample_nutpie(
            model,
            cache_key=cache_key,
            draws=int(draws),
            tune=int(tune),
            chains=int(chains),
            cores=int(cores),
            seed=seed,
            initial_values=initial_values,
            kwargs=kwargs,
        )
    else:
        trace = _sample_pymc(
            model,
            nuts_sampler=sampler,
            draws=int(draws),
            tune=int(tune),
            chains=int(chains),
            cores=int(cores),
            seed=seed,
            initial_values=initial_values,
            kwargs=kwargs,
        )
    return _clean(trace, model)
