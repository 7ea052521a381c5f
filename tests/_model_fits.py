"""Shared simulated curve sets and small fits for the model tests (``test_model_*.py``).

Fits are cached per test process, so every module that needs "the standard fit" shares one,
and models with the same structure reuse nutpie's compiled model (the compile, ~10 s, costs
more than sampling these small models). Callers must not modify the returned models;
curve tables are returned as fresh copies.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd

from bayes_scaling.models import ScalingLawModel
from bayes_scaling.models.diagnostics import ConvergenceWarning
from bayes_scaling.simulate import draw_curve_params, simulate_curves

#: Small fits for tests: enough draws for means/intervals, convergence not enforced.
FAST: dict = {"draws": 300, "tune": 300, "chains": 2, "check_convergence": False}
#: target_scale per property of the standard set (so original != normalised scale).
SCALES: dict[str, float] = {"p0": 2.0, "p1": 0.5, "p2": 10.0}
#: Sizes and seeds of the single-curve set (shared with the SBC test: one compiled model).
SINGLE_GRID: tuple[int, ...] = (16, 128, 1024, 8192, 65536)
SINGLE_SEEDS: int = 3
#: Truth of the single curve (normalised scale).
SINGLE_TRUTH: dict[str, float] = {"D": 2.0, "alpha": 0.6, "C": 0.15}


@functools.cache
def _standard_params() -> pd.DataFrame:
    p = draw_curve_params(3, 2, rng=11)
    # crossed with property and database, two curves per level: a usable default group
    p["strategy"] = ["finetune", "feature", "feature", "finetune", "finetune", "feature"]
    return p


def standard_params() -> pd.DataFrame:
    """True (D, alpha, C, sigma) of the 6 standard curves (3 properties x 2 databases)."""
    return _standard_params().copy()


@functools.cache
def _standard_curves(seeds: int, noise_scale: float, rng: int) -> pd.DataFrame:
    p = _standard_params().copy()
    p["sigma"] = p["sigma"] * noise_scale
    return simulate_curves(p, seeds=seeds, target_scale=SCALES, rng=rng)


def standard_curves(seeds: int = 5, noise_scale: float = 1.0, rng: int = 12) -> pd.DataFrame:
    """The standard curve table: 6 curves, 8 sizes from 16 to 1e5, ``seeds`` seeds."""
    return _standard_curves(seeds, noise_scale, rng).copy()


def fit(curves: pd.DataFrame, **kwargs) -> ScalingLawModel:
    """Fit with :data:`FAST` settings (overridable), ignoring convergence warnings."""
    settings = {**FAST, "random_seed": 1, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ScalingLawModel(**settings).fit(curves)


@functools.cache
def standard_fit() -> ScalingLawModel:
    """Default model (power_gap, default groups, noncentred) on the standard curves."""
    return fit(standard_curves())


def single_curve(rng: int = 0, **truth: float) -> pd.DataFrame:
    """One simulated curve on :data:`SINGLE_GRID` with :data:`SINGLE_SEEDS` seeds."""
    t = {**SINGLE_TRUTH, **truth}
    params = pd.DataFrame(
        {
            "property": ["tg"],
            "database": ["radonpy"],
            "D": [t["D"]],
            "alpha": [t["alpha"]],
            "C": [t["C"]],
            "sigma": [t.get("sigma", 0.1)],
        }
    )
    return simulate_curves(
        params, n_grid=SINGLE_GRID, seeds=SINGLE_SEEDS, target_scale=3.0, rng=rng
    )


def flat(model: ScalingLawModel, name: str) -> np.ndarray:
    """Posterior draws of a per-curve variable as ``(sample, curve)``."""
    return model._flat(name)


#: Settings of the longer single-curve fits (cheap: one curve), enough for tight comparisons.
LONG: dict = {"draws": 1000, "tune": 500, "chains": 2}


@functools.cache
def _single_long_curves() -> pd.DataFrame:
    return single_curve(rng=7)


def single_long_curves() -> pd.DataFrame:
    """The curve of :func:`single_long_fit`."""
    return _single_long_curves().copy()


@functools.cache
def single_long_fit(aggregate: bool = True) -> ScalingLawModel:
    """Default model on one curve with :data:`LONG` settings (seed aggregation on or off)."""
    return fit(
        _single_long_curves(), random_seed=5 if aggregate else 6, aggregate=aggregate, **LONG
    )
