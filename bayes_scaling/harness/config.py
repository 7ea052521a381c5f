"""Settings of a harness run and the helpers every stage shares.

:class:`HarnessConfig` (both protocols' settings and the resume fingerprint), the source caps
:data:`SOURCE_CAPS`, the recorded metrics, :func:`stable_seed` (every random choice of the
harness) and :func:`geometric_grid` (the n and m grids). The protocols themselves are stated
in :mod:`bayes_scaling.harness.runner`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from bayes_scaling.exceptions import BayesScalingError

#: Largest source size used per pair: the full database unless listed here. The DFT
#: databases (Materials Project 106k, OQMD 342k rows) are capped at 32,768 rows so that a
#: full regeneration fits the two-core budget; the grid spans more than three decades of n.
#: ``HarnessConfig(full_sources=True)`` (``--source-cap none``) uses the full databases; the
#: curves committed before the scarce protocol used 16,384 (``--source-cap 16384``).
SOURCE_CAPS: Final[dict[str, int]] = {
    "bandgap_mp": 32_768,
    "bandgap_oqmd": 32_768,
    "bandgap_aflow": 32_768,
}
METRICS: Final[tuple[str, ...]] = ("mae", "rmse", "nmae", "nrmse")
#: Version of the scarce protocol's cell definitions (part of the resume fingerprint).
SCARCE_FORMAT: Final[int] = 1


def stable_seed(*parts: object) -> int:
    """Return a 32-bit seed derived from ``parts`` (independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def geometric_grid(lo: int, hi: int, points: int) -> list[int]:
    """Integer geometric grid from ``lo`` to ``hi`` (both included, duplicates removed).

    Examples
    --------
    >>> geometric_grid(16, 1024, 7)
    [16, 32, 64, 128, 256, 512, 1024]

    """
    if lo <= 0 or hi < lo:
        raise BayesScalingError(f"Grid needs 0 < lo <= hi, got lo={lo}, hi={hi}.")
    if points < 2:
        raise BayesScalingError("A grid needs at least 2 points.")
    grid = np.unique(np.round(np.geomspace(lo, hi, points)).astype(int))
    return [int(v) for v in grid]


Protocol = Literal["scarce", "legacy"]


@dataclass(frozen=True)
class HarnessConfig:
    """Settings of one harness run (all documented defaults, none tuned on test data).

    Two protocols are available. ``"scarce"`` (the default) measures every transfer task on a
    geometric grid of experimental training sizes m with many trials where the noise is
    large, pretraining each network once and adapting it with several strategies (see the
    module docstring). ``"legacy"`` is the protocol of the curves committed before the scarce
    regime (5 seeds, fine-tuning on the full split plus two surface fractions); use it with
    ``source_cap=16384`` to reproduce those curves exactly.

    Parameters
    ----------
    protocol : {"scarce", "legacy"}
        Which protocol to run.
    seeds : int
        Legacy: number of repeated random splits / source subsamples (seeds ``0..seeds-1``).
    test_fraction : float
        Fraction of target groups held out for testing.
    n_min : int
        Smallest source size (and, legacy, smallest scratch size m).
    n_points, m_points : int
        Points of the geometric grids over n (transfer) and, legacy, m (scratch).
    source_cap : int or None
        Cap on the source size for every pair (overrides :data:`SOURCE_CAPS`; None: defaults).
    full_sources : bool
        Use every source row (no cap at all, not even :data:`SOURCE_CAPS`): the full DFT
        databases (Materials Project 106k, OQMD 342k, AFLOW rows). Meant for more cores or a
        Dask cluster.
    target_max : int or None
        Use only this many target rows (random, fixed) - for quick tests.
    n_grid : sequence of int or None
        Explicit source-size grid (overrides ``n_min``/``n_points``).
    m_grid : sequence of int or None
        Explicit experimental-size grid. Legacy: the scratch sizes. Scarce: the experimental
        training sizes below the full split (the full split is always added); must not be
        empty and must not exceed the smallest training split.
    m_fractions : sequence of float
        Legacy: experimental training sizes of the extra transfer curves of the (n, m)
        surface, as fractions in (0, 1) of the smallest target training split (the full split
        is always run). Empty: no surface curves.
    m_n_points : int or None
        Legacy: how many points of the n grid (evenly spaced by index, ends included) the
        surface curves use; None: the whole n grid.
    trials : int
        Scarce: trials per (n, m) for m <= ``many_trials_max_m``.
    trials_full : int
        Scarce: trials per (n, m) above ``many_trials_max_m`` and at the full split.
    many_trials_max_m : int
        Scarce: largest m that gets ``trials`` trials.
    pretrain_seeds : int
        Scarce: pretraining seeds; trial ``t`` uses seed ``t % pretrain_seeds`` (its source
        subset and network initialisation), so one pretrained network serves every trial,
        m level and strategy that share its seed.
    m_min : int
        Scarce: smallest experimental training size of the default m grid.
    m_level_points : int
        Scarce: points of the default geometric m grid from ``m_min`` to the smallest training
        split (the top point is the full split).
    selection_seeds : int
        Scarce: the trials of pretraining seeds ``< selection_seeds`` also fit every transfer
        strategy on the first ``1 - validation_fraction`` of their training subset and score
        it on the rest (validation rows, ``OUT/validation.csv``), which is what chooses the
        default strategy (:func:`select_strategy`); 0: none.
    validation_fraction : float
        Scarce: share of a training subset that validates in ``selection_seeds`` trials.
    reuse_pretrained : bool
        Scarce: pretrain once per (pair, n, seed) and reuse the network (True), or pretrain
        again for every cell (False; identical numbers, slower - for checks and benchmarks).

    """

    protocol: Protocol = "scarce"
    seeds: int = 5
    test_fraction: float = 0.2
    n_min: int = 16
    n_points: int = 10
    m_points: int = 8
    source_cap: int | None = None
    full_sources: bool = False
    target_max: int | None = None
    n_grid: tuple[int, ...] | None = None
    m_grid: tuple[int, ...] | None = None
    m_fractions: tuple[float, ...] = (0.25, 0.5)
    m_n_points: int | None = 5
    trials: int = 20
    trials_full: int = 5
    many_trials_max_m: int = 128
    pretrain_seeds: int = 5
    m_min: int = 25
    m_level_points: int = 6
    selection_seeds: int = 1
    validation_fraction: float = 0.2
    reuse_pretrained: bool = True

    def __post_init__(self) -> None:
        if self.protocol not in ("scarce", "legacy"):
            raise BayesScalingError(
                f"Unknown protocol {self.protocol!r}; choose 'scarce' or 'legacy'."
            )
        bad = [f for f in self.m_fractions if not 0.0 < float(f) < 1.0]
        if bad:
            raise BayesScalingError(
                f"m_fractions must lie in (0, 1) (fractions of the target training split; the "
                f"full split is always run), got {bad}."
            )
        if self.m_n_points is not None and self.m_n_points < 3:
            raise BayesScalingError(f"m_n_points must be >= 3 or None, got {self.m_n_points}.")
        if self.seeds < 1:
            raise BayesScalingError(f"seeds must be >= 1, got {self.seeds}.")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise BayesScalingError(
                f"test_fraction must be in [0.05, 0.5], got {self.test_fraction}."
            )
        if self.n_min < 2:
            raise BayesScalingError(f"n_min must be >= 2, got {self.n_min}.")
        if self.m_grid is not None and len(self.m_grid) == 0:
            raise BayesScalingError(
                "m_grid is empty: give at least one experimental training size (or None for "
                "the default grid)."
            )
        if self.m_grid is not None and min(int(m) for m in self.m_grid) < 2:
            raise BayesScalingError(f"m_grid sizes must be >= 2, got {sorted(self.m_grid)}.")
        for name in ("trials", "trials_full", "pretrain_seeds"):
            if getattr(self, name) < 1:
                raise BayesScalingError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.selection_seeds < 0:
            raise BayesScalingError(f"selection_seeds must be >= 0, got {self.selection_seeds}.")
        if self.m_min < 2:
            raise BayesScalingError(f"m_min must be >= 2, got {self.m_min}.")
        if self.m_level_points < 2:
            raise BayesScalingError(
                f"m_level_points must be >= 2 (the smallest m and the full split), got "
                f"{self.m_level_points}."
            )
        if not 0.0 < self.validation_fraction <= 0.5:
            raise BayesScalingError(
                f"validation_fraction must be in (0, 0.5], got {self.validation_fraction}."
            )
        if self.full_sources and self.source_cap is not None:
            raise BayesScalingError("Give either source_cap or full_sources, not both.")

    @property
    def max_trials(self) -> int:
        """Number of distinct trials (train/test splits) the scarce protocol uses."""
        return max(self.trials, self.trials_full)

    def trials_at(self, m: int) -> int:
        """Scarce: trials at experimental size ``m`` (0: the full split)."""
        return self.trials if 0 < m <= self.many_trials_max_m else self.trials_full

    def fingerprint(self) -> dict[str, Any]:
        """Return the settings that change an already computed cell (the resume guard)."""
        from bayes_scaling.harness import strategies as st

        common = {
            "protocol": self.protocol,
            "test_fraction": self.test_fraction,
            "target_max": self.target_max,
            "mlp": {k: list(v) if isinstance(v, tuple) else v for k, v in st.MLP_PARAMS.items()},
            "epochs": [st.PRETRAIN_EPOCHS, st.TARGET_EPOCHS, st.EARLY_STOP_MIN],
        }
        if self.protocol == "legacy":
            return common
        return common | {
            "pretrain_seeds": self.pretrain_seeds,
            "validation_fraction": self.validation_fraction,
            "gentle": [
                st.GENTLE_LEARNING_RATE,
                st.GENTLE_VALIDATION_FRACTION,
                st.GENTLE_PATIENCE,
            ],
            "frozen": list(st.FROZEN_ALPHAS),
            "frozen_format": st.FROZEN_FORMAT,
            "format": SCARCE_FORMAT,
        }
