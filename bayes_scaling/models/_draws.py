"""Small helpers on posterior draws shared by prediction and the summary tables (internal)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayes_scaling.exceptions import BayesScalingError


def flat_curve(post: xr.DataTree | xr.Dataset, name: str) -> np.ndarray:
    """Posterior draws of a curve variable as ``(sample, curve)``."""
    da = post[name].transpose("chain", "draw", "curve")
    v = da.values
    return v.reshape(-1, v.shape[-1])


def quantile_table(values: np.ndarray, prob: float) -> dict[str, np.ndarray]:
    """Mean, median and equal-tailed bounds over axis 0."""
    lo, hi = (1.0 - prob) / 2.0, 1.0 - (1.0 - prob) / 2.0
    q = np.quantile(values, [0.5, lo, hi], axis=0)
    return {"mean": values.mean(axis=0), "median": q[0], "lower": q[1], "upper": q[2]}


def check_prob(prob: float) -> float:
    """Return ``prob`` as a float in (0, 1), or raise :class:`BayesScalingError`."""
    prob = float(prob)
    if not 0.0 < prob < 1.0:
        raise BayesScalingError(f"prob must be in (0, 1), got {prob}.")
    return prob


def check_scale(scale: str) -> str:
    """Return ``scale`` if it is ``"normalised"`` or ``"original"``, else raise."""
    if scale not in ("normalised", "original"):
        raise BayesScalingError(f"scale must be 'normalised' or 'original', got {scale!r}.")
    return scale
