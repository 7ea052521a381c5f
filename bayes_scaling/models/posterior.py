"""Posterior draws of every curve's scaling law: the contract between models and decisions.

A :class:`CurvePosterior` holds flattened posterior draws of ``D``, ``alpha`` and ``C`` per
curve on the **normalised** scale (errors divided by the curve's ``target_scale``), the
per-curve observation noise ``sigma`` (log scale) and one metadata row per curve. Planning,
comparison, reporting and plotting only ever consume this object, so they work with any
model that can produce it (hierarchical fit, single-curve fit, or draws built by hand in
tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.exceptions import BayesScalingError, UnknownNameError

Scale = Literal["normalised", "original"]
PARAMS: tuple[str, ...] = ("D", "alpha", "C")


@dataclass(frozen=True)
class CurvePosterior:
    """Posterior draws of (D, alpha, C) per curve.

    Parameters
    ----------
    draws : xarray.Dataset
        Variables ``D``, ``alpha``, ``C`` (and optionally ``sigma``) with dims
        ``("sample", "curve")``; ``D`` and ``C`` on the normalised scale.
    curves : pandas.DataFrame
        One row per curve, indexed by the curve id (same order as the ``curve`` coordinate),
        with at least ``target_scale`` and ``n_max`` (largest observed n); usually also
        ``property``, ``database``, ``kind``, ``strategy``, ``metric``, ``unit``.

    """

    draws: xr.Dataset
    curves: pd.DataFrame

    def __post_init__(self) -> None:
        missing = [p for p in PARAMS if p not in self.draws]
        if missing:
            raise BayesScalingError(f"CurvePosterior draws lack variable(s) {missing}.")
        for p in PARAMS:
            if tuple(self.draws[p].dims) != ("sample", "curve"):
                raise BayesScalingError(
                    f"CurvePosterior variable {p!r} must have dims ('sample', 'curve'), "
                    f"got {self.draws[p].dims}."
                )
        ids = list(self.draws["curve"].values)
        if list(self.curves.index) != ids:
            raise BayesScalingError("CurvePosterior curves table must be indexed by the curve ids.")
        for col in ("target_scale", "n_max"):
            if col not in self.curves:
                raise BayesScalingError(f"CurvePosterior curves table needs column {col!r}.")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        D: np.ndarray,
        alpha: np.ndarray,
        C: np.ndarray,
        curves: pd.DataFrame,
        sigma: np.ndarray | None = None,
    ) -> CurvePosterior:
        """Build from ``(sample, curve)`` arrays (``D``, ``C`` normalised)."""
        coords = {"sample": np.arange(np.shape(D)[0]), "curve": list(curves.index)}
        data = {
            "D": (("sample", "curve"), np.asarray(D, float)),
            "alpha": (("sample", "curve"), np.asarray(alpha, float)),
            "C": (("sample", "curve"), np.asarray(C, float)),
        }
        if sigma is not None:
            data["sigma"] = (("sample", "curve"), np.asarray(sigma, float))
        return cls(xr.Dataset(data, coords=coords), curves)

    # ------------------------------------------------------------------ access
    @property
    def curve_ids(self) -> list[str]:
        """Curve identifiers in order."""
        return [str(c) for c in self.draws["curve"].values]

    @property
    def n_samples(self) -> int:
        """Number of posterior draws."""
        return int(self.draws.sizes["sample"])

    def check_curve(self, curve: str) -> str:
        """Return ``curve`` if known, else raise :class:`UnknownNameError` listing the ids."""
        if curve not in self.curve_ids:
            raise UnknownNameError(
                f"Unknown curve {curve!r}; known curves: {', '.join(self.curve_ids)}."
            )
        return curve

    def select(self, curves: Sequence[str]) -> CurvePosterior:
        """Return the posterior restricted to ``curves`` (in that order)."""
        for c in curves:
            self.check_curve(c)
        return CurvePosterior(self.draws.sel(curve=list(curves)), self.curves.loc[list(curves)])

    def scale_factor(self, curve: str, scale: Scale) -> float:
        """Multiplier from the normalised scale to ``scale`` for ``curve``."""
        if scale == "normalised":
            return 1.0
        if scale == "original":
            return float(self.curves.loc[curve, "target_scale"])
        raise BayesScalingError(f"scale must be 'normalised' or 'original', got {scale!r}.")

    def params(self, curve: str, scale: Scale = "normalised") -> dict[str, np.ndarray]:
        """Draws of ``D``, ``alpha``, ``C`` (1-D arrays) for one curve on ``scale``."""
        self.check_curve(curve)
        f = self.scale_factor(curve, scale)
        sub = self.draws.sel(curve=curve)
        return {"D": sub["D"].values * f, "alpha": sub["alpha"].values, "C": sub["C"].values * f}

    def expected_error(
        self, n: float | np.ndarray, curve: str, scale: Scale = "normalised"
    ) -> np.ndarray:
        """Posterior draws of the mean error ``D n^-alpha + C``; shape ``(sample, len(n))``."""
        p = self.params(curve, scale)
        n_arr = np.atleast_1d(np.asarray(n, dtype=float))
        if np.any(n_arr <= 0):
            raise BayesScalingError("n must be > 0.")
        return p["D"][:, None] * n_arr[None, :] ** (-p["alpha"][:, None]) + p["C"][:, None]
