"""Scaling-law models: the hierarchical Bayesian fit, its baseline, diagnostics and I/O.

Main entry point: :class:`ScalingLawModel`. Everything downstream consumes
:class:`CurvePosterior` (``ScalingLawModel.curve_posterior()``).

Modules
-------
priors
    :class:`Priors`, every prior documented in one place.
laws
    The laws (``power``, ``power_gap``, ``broken_power``, ``mmf``) as objects.
hierarchical
    :class:`ScalingLawModel`: settings, fit orchestration, prior predictive, save/load.
fitted_outputs
    What a fitted model gives back: curve posterior, predictions, LOO, summaries.
extrapolation
    The calibrated extrapolation: laws bent beyond each curve's largest size, with spreads
    learnt from the curves' held-out tails (:class:`ExtrapolationSpread`).
_data
    Data preparation: a validated curve table as model arrays (``CurveData``).
graph
    The PyMC graph (:func:`build_pymc_model`) and its NumPy twin ``latent_to_theta``.
centring
    Partial-centring weights from per-curve estimates (Paule-Mandel spreads).
sampling_policy
    Start values, the ``target_accept="auto"`` attempts and the fallback refit.
assemble
    A sampler's trace as the fit's DataTree (curve parameters, derived laws, LOO terms).
predict
    Posterior predictive error on fitted and new curves.
posterior_tables
    The ``summary()`` and ``gap_probability()`` tables.
baseline
    Per-curve least squares (:func:`fit_least_squares`), the paper's method.
baseline_bootstrap
    Its bootstrap over seeds (:func:`bootstrap_least_squares`) for predictive intervals.
samplers
    Backend selection (nutpie, pymc, numpyro) and compiled-model caching.
diagnostics
    :class:`ConvergenceReport` and :class:`ConvergenceWarning`.
persistence
    netCDF save/load and the file's root attributes.
comparison
    LOO comparison of laws, :func:`transfer_gap_evidence`.
stacking
    :class:`LawStack`: several law shapes fitted to the same curves and averaged by
    Bayesian stacking (weights per curve kind), as one posterior for the decisions.
surface, surface_data, surface_forms, surface_graph, surface_posterior, surface_persistence
    The joint (n, m) error-surface model :class:`SurfaceModel` (simulations vs
    experiments), its table preparation, its two forms with :class:`SurfacePriors`, its
    PyMC graph, :class:`SurfacePosterior` and its netCDF files.
"""

from __future__ import annotations

import importlib
from typing import Any

from bayes_scaling.models.posterior import CurvePosterior

_LAZY = {
    "ScalingLawModel": "bayes_scaling.models.hierarchical",
    "build_pymc_model": "bayes_scaling.models.graph",
    "Priors": "bayes_scaling.models.priors",
    "ScalingLaw": "bayes_scaling.models.laws",
    "LAWS": "bayes_scaling.models.laws",
    "get_law": "bayes_scaling.models.laws",
    "fit_least_squares": "bayes_scaling.models.baseline",
    "LeastSquaresFit": "bayes_scaling.models.baseline",
    "bootstrap_least_squares": "bayes_scaling.models.baseline_bootstrap",
    "LeastSquaresBootstrap": "bayes_scaling.models.baseline_bootstrap",
    "ExtrapolationSpread": "bayes_scaling.models.extrapolation",
    "ConvergenceReport": "bayes_scaling.models.diagnostics",
    "ConvergenceWarning": "bayes_scaling.models.diagnostics",
    "SamplerUnavailableError": "bayes_scaling.models.samplers",
    "clear_compile_cache": "bayes_scaling.models.samplers",
    "compare_models": "bayes_scaling.models.comparison",
    "fit_laws": "bayes_scaling.models.comparison",
    "transfer_gap_evidence": "bayes_scaling.models.comparison",
    "LawStack": "bayes_scaling.models.stacking",
    "stacking_weights": "bayes_scaling.models.stacking",
    "TransferGapEvidence": "bayes_scaling.models.comparison",
    "save_model": "bayes_scaling.models.persistence",
    "load_model": "bayes_scaling.models.persistence",
    "SurfaceModel": "bayes_scaling.models.surface",
    "SurfacePosterior": "bayes_scaling.models.surface",
    "compare_surface_forms": "bayes_scaling.models.surface",
    "SurfacePriors": "bayes_scaling.models.surface_forms",
}

__all__ = ["CurvePosterior", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bayes_scaling.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
