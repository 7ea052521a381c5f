"""Small helpers on posterior draws shared by prediction and the summary tables (internal)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.exceptions import BayesScalingError


def flat_curve(post: xr.DataTree | xr.Dataset, name: str) -> np.ndarray:
    """Posterior draws of a curve variable as ``(sample, curve)``."""
    da = post[name].transpose("chain", "draw", "curve")
    v = da.values
    return v.reshape(-1, v.shape[-1])


def quantile_table(
    values: np.ndarray, prob: float, *, skipna: bool = False
) -> dict[str, np.ndarray]:
    """Mean, median and equal-tailed bounds over axis 0 (``skipna``: ignoring NaN draws)."""
    lo, hi = (1.0 - prob) / 2.0, 1.0 - (1.0 - prob) / 2.0
    quantile, mean = (np.nanquantile, np.nanmean) if skipna else (np.quantile, np.mean)
    q = quantile(values, [0.5, lo, hi], axis=0)
    return {"mean": mean(values, axis=0), "median": q[0], "lower": q[1], "upper": q[2]}


def check_sizes(n: Any) -> np.ndarray:
    """Return sizes ``n`` as a 1-D float array, or raise if any is not finite and > 0."""
    n_arr = np.atleast_1d(np.asarray(n, dtype=float))
    if n_arr.ndim != 1 or np.any(~np.isfinite(n_arr)) or np.any(n_arr <= 0):
        raise BayesScalingError("n must be a 1-D array of finite sizes > 0.")
    return n_arr


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is ``"mean"`` or ``"observation"``, else raise."""
    if kind not in ("mean", "observation"):
        raise BayesScalingError(f"kind must be 'mean' or 'observation', got {kind!r}.")
    return kind


def prediction_table(
    draws: np.ndarray,
    ids: Sequence[str],
    n: np.ndarray,
    *,
    scale: str,
    kind: str,
    prob: float,
    skipna: bool = False,
) -> pd.DataFrame:
    """Build a predict table: one row per curve and size, from draws ``(sample, curve, n)``.

    Columns ``curve``, ``n``, ``scale``, ``kind``, ``mean``, ``median``, ``lower``,
    ``upper``, ``ci_prob`` (equal-tailed interval of mass ``prob``).
    """
    q = quantile_table(draws, prob, skipna=skipna)
    C, N = len(ids), len(n)
    return pd.DataFrame(
        {
            "curve": np.repeat(list(ids), N),
            "n": np.tile(n, C),
            "scale": scale,
            "kind": kind,
            "mean": q["mean"].ravel(),
            "median": q["median"].ravel(),
            "lower": q["lower"].ravel(),
            "upper": q["upper"].ravel(),
            "ci_prob": prob,
        }
    )


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
