"""Package-wide constants.

``CREDIBLE_INTERVAL`` is the single credible-interval mass used by every summary, decision
object, report and plot. ArviZ 1 changed its default to an 89 % equal-tailed interval; we
never rely on library defaults and pass this constant explicitly.
"""

from __future__ import annotations

from typing import Final

#: Mass of every credible interval reported by the package (equal-tailed).
CREDIBLE_INTERVAL: Final[float] = 0.90

#: Environment variable that points the dataset loaders to the shared data folder.
DATA_ENV_VAR: Final[str] = "BAYES_SCALING_DATA"

#: Default random seed used where the user passes none.
DEFAULT_SEED: Final[int] = 20250146

#: An n needed for a target that is more than this many times today's n is said to be an
#: extrapolation far beyond the measured curve (summary recommendations, sample sizes).
FAR_BEYOND: Final[float] = 100.0
