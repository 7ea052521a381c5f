"""A surface posterior of known parameters (one "draw"), shared by the decision tests.

``known(form)`` holds the true parameters of :func:`bayes_scaling.simulate.simulate_surface`
(``SURFACE_TARGETS``, ``SURFACE_TASKS``), so every decision computed from it must equal the
closed form written out in the test.
"""

from __future__ import annotations

from bayes_scaling.models.surface import SurfacePosterior
from bayes_scaling.models.surface_data import prepare_surface
from bayes_scaling.simulate import SURFACE_TARGETS, SURFACE_TASKS, simulate_surface

TASK = "density|md"


def known(form: str) -> SurfacePosterior:
    """The true parameters of the simulated surface of ``form`` as a one-draw posterior."""
    data = prepare_surface(simulate_surface(form, rng=0))
    tasks = {f"{p}|{d}": v for (p, d), v in SURFACE_TASKS[form].items()}
    return SurfacePosterior.from_physical(data, form, SURFACE_TARGETS, tasks)
