"""bayes_scaling: Bayesian scaling laws for Sim2Real transfer learning.

The target-test error of a model pretrained on ``n`` simulated samples and fine-tuned on
experimental data follows ``error(n) = D * n**(-alpha) + C`` (Minami et al. 2025). The
package produces such learning curves (:mod:`bayes_scaling.harness`), fits them with a
hierarchical PyMC model (:mod:`bayes_scaling.models`) and turns the posterior into
decisions (:mod:`bayes_scaling.planning`, :mod:`bayes_scaling.compare`).

Sub-modules are imported lazily, so ``import bayes_scaling`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "curves",
    "datasets",
    "harness",
    "models",
    "planning",
    "compare",
    "reporting",
    "plotting",
    "plot_style",
    "first_look",
    "first_look_plots",
    "constants",
    "exceptions",
    "simulate",
    "decisions",
    "pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"bayes_scaling.{name}")
    raise AttributeError(f"module 'bayes_scaling' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_SUBMODULES))
