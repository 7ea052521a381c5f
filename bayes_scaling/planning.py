"""Planning decisions from the posterior of ``error(n) = D n^-alpha + C``: the public entry.

This module holds no code of its own; it re-exports the planning decisions from the
modules that implement them, so ``from bayes_scaling.planning import ...`` reaches every
one. Every function works per posterior draw with the closed forms of the power law, so all
uncertainty propagates, and returns a frozen :class:`~bayes_scaling.decisions.Decision`
(a tidy table plus one plain sentence on the pinned
:data:`~bayes_scaling.constants.CREDIBLE_INTERVAL`):

- :func:`sample_size_for_target` -- the n needed for a target error, or "unreachable"
  when the transfer gap ``C`` is the bottleneck;
- :func:`next_batch_value` -- the error reduction bought by the next ``delta_n`` samples;
- :func:`stopping_point` -- the n where one more sample gains less than a threshold
  ("stop producing: converged");
- :func:`allocate_budget` -- how to split a production budget across databases;
- :func:`equivalent_sample_size` -- how many experiments a scratch model would need to
  match the transfer model.

Throughout, ``error(n)`` is the scaling-law *mean* error of a draw; the seed-to-seed
scatter (``sigma``) is not part of it. Targets, thresholds and errors are on the scale
chosen by ``scale``: ``"original"`` (the property's units, the default) or
``"normalised"`` (divided by the curve's ``target_scale``).

Where the code lives:

- :mod:`bayes_scaling.closed_forms` -- the closed forms per draw (``n_required_draws``,
  ``error_draws``, ``marginal_gain_draws``, ``stopping_n_draws``, ``equivalent_m_draws``);
- :mod:`bayes_scaling.sample_size` -- sample size to a target, next batch, stopping point;
- :mod:`bayes_scaling.allocation` -- budget allocation;
- :mod:`bayes_scaling.equivalent_size` -- equivalent sample size and the scratch-curve
  lookup (with its errors);
- :mod:`bayes_scaling.planning_helpers` -- small private helpers the three share.
"""

from __future__ import annotations

from bayes_scaling.allocation import (
    DEFAULT_BUDGET_STEPS,
    AllocationDecision,
    AllocationUnit,
    Objective,
    allocate_budget,
)
from bayes_scaling.closed_forms import (
    equivalent_m_draws,
    error_draws,
    marginal_gain_draws,
    n_required_draws,
    stopping_n_draws,
)
from bayes_scaling.equivalent_size import (
    AmbiguousCurveError,
    EquivalentSampleSizeDecision,
    NoMatchingCurveError,
    equivalent_sample_size,
    find_scratch_curve,
)
from bayes_scaling.sample_size import (
    DEFAULT_PROBABILITY,
    NextBatchDecision,
    SampleSizeDecision,
    StoppingDecision,
    next_batch_value,
    sample_size_for_target,
    stopping_point,
)

__all__ = [
    "DEFAULT_BUDGET_STEPS",
    "DEFAULT_PROBABILITY",
    "AllocationDecision",
    "AllocationUnit",
    "AmbiguousCurveError",
    "EquivalentSampleSizeDecision",
    "NextBatchDecision",
    "NoMatchingCurveError",
    "Objective",
    "SampleSizeDecision",
    "StoppingDecision",
    "allocate_budget",
    "equivalent_m_draws",
    "equivalent_sample_size",
    "error_draws",
    "find_scratch_curve",
    "marginal_gain_draws",
    "n_required_draws",
    "next_batch_value",
    "sample_size_for_target",
    "stopping_n_draws",
    "stopping_point",
]
