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
Which = Literal["decision", "fit"]
PARAMS: tuple[str, ...] = ("D", "alpha", "C")
#: Names of the fitted law's draws in a calibrated posterior (``D_fit``, ...).
FIT_PARAMS: tuple[str, ...] = tuple(f"{p}_fit" for p in PARAMS)
#: Name of the optional in-data curve draws and of their size coordinate (see the class).
INSIDE, INSIDE_COORD = "log_e_inside", "log_n_rel"
#: ``log(n / n_max)`` grid of the in-data curve draws: n_max / 8192 to n_max, 40 steps.
INSIDE_GRID: np.ndarray = np.linspace(np.log(1.0 / 8192.0), 0.0, 40)


@dataclass(frozen=True)
class CurvePosterior:
    """Posterior draws of (D, alpha, C) per curve.

    Parameters
    ----------
    draws : xarray.Dataset
        Variables ``D``, ``alpha``, ``C`` (and optionally ``sigma``) with dims
        ``("sample", "curve")``; ``D`` and ``C`` on the normalised scale. A **calibrated**
        posterior (``ScalingLawModel.curve_posterior()``) also holds ``D_fit``,
        ``alpha_fit``, ``C_fit``: then ``D``, ``alpha``, ``C`` are the laws bent beyond
        each curve's largest observed size ``n_max`` by the extrapolation discrepancy
        (:mod:`bayes_scaling.models.extrapolation`; equal to the fit at ``n_max``), which
        every decision reads, and the ``*_fit`` draws are the fitted law, used at and below
        ``n_max`` (:meth:`expected_error`) and for parameter tables (``which="fit"``).
        Laws that are not ``D n^-alpha + C`` inside the data (the asymptotic laws
        ``broken_power`` and ``mmf``, or a stack holding them) also carry ``log_e_inside``,
        dims ``("sample", "curve", "log_n_rel")``: the log mean error at ``log(n / n_max)
        =`` :data:`INSIDE_GRID`, which :meth:`expected_error` interpolates at ``n <= n_max``
        (their ``(D, alpha, C)`` pass through the curve at ``n_max`` only).
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
        present = [p for p in FIT_PARAMS if p in self.draws]
        if present and len(present) != len(FIT_PARAMS):
            raise BayesScalingError(
                f"CurvePosterior draws hold {present} but not all of {list(FIT_PARAMS)}."
            )
        for p in PARAMS + tuple(present):
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
        fit: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        inside: np.ndarray | None = None,
    ) -> CurvePosterior:
        """Build from ``(sample, curve)`` arrays (``D``, ``C`` normalised).

        ``fit``: the fitted law's ``(D, alpha, C)`` when ``D, alpha, C`` are bent beyond
        ``n_max`` (a calibrated posterior); ``inside``: ``(sample, curve, grid)`` log mean
        errors on :data:`INSIDE_GRID` (see the class docstring).
        """
        coords = {"sample": np.arange(np.shape(D)[0]), "curve": list(curves.index)}
        data = {
            "D": (("sample", "curve"), np.asarray(D, float)),
            "alpha": (("sample", "curve"), np.asarray(alpha, float)),
            "C": (("sample", "curve"), np.asarray(C, float)),
        }
        if fit is not None:
            for name, value in zip(FIT_PARAMS, fit, strict=True):
                data[name] = (("sample", "curve"), np.asarray(value, float))
        if sigma is not None:
            data["sigma"] = (("sample", "curve"), np.asarray(sigma, float))
        if inside is not None:
            data[INSIDE] = (("sample", "curve", INSIDE_COORD), np.asarray(inside, np.float32))
            coords[INSIDE_COORD] = INSIDE_GRID
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

    @property
    def calibrated(self) -> bool:
        """Whether ``D, alpha, C`` carry the extrapolation discrepancy beyond ``n_max``."""
        return FIT_PARAMS[0] in self.draws

    def params(
        self, curve: str, scale: Scale = "normalised", which: Which = "decision"
    ) -> dict[str, np.ndarray]:
        """Draws of ``D``, ``alpha``, ``C`` (1-D arrays) for one curve on ``scale``.

        ``which="decision"`` (default): the draws decisions use (bent beyond ``n_max`` in a
        calibrated posterior); ``"fit"``: the fitted law (the same when not calibrated).
        """
        self.check_curve(curve)
        if which not in ("decision", "fit"):
            raise BayesScalingError(f"which must be 'decision' or 'fit', got {which!r}.")
        f = self.scale_factor(curve, scale)
        sub = self.draws.sel(curve=curve)
        names = FIT_PARAMS if which == "fit" and self.calibrated else PARAMS
        D, alpha, C = (sub[name].values for name in names)
        return {"D": D * f, "alpha": alpha, "C": C * f}

    def expected_error(
        self, n: float | np.ndarray, curve: str, scale: Scale = "normalised"
    ) -> np.ndarray:
        """Posterior draws of the mean error ``D n^-alpha + C``; shape ``(sample, len(n))``.

        In a calibrated posterior the fitted law at ``n <= n_max`` and the bent law beyond
        (continuous at ``n_max``).
        """
        n_arr = np.atleast_1d(np.asarray(n, dtype=float))
        if np.any(n_arr <= 0):
            raise BayesScalingError("n must be > 0.")

        def law(p: dict[str, np.ndarray]) -> np.ndarray:
            return p["D"][:, None] * n_arr[None, :] ** (-p["alpha"][:, None]) + p["C"][:, None]

        out = law(self.params(curve, scale))
        n_max = float(self.curves.loc[curve, "n_max"])
        inside = n_arr <= n_max
        if self.calibrated:
            out[:, inside] = law(self.params(curve, scale, "fit"))[:, inside]
        if INSIDE in self.draws:
            u = np.log(n_arr / n_max)
            grid = self.draws[INSIDE_COORD].values
            on = inside & (u >= grid[0])
            if on.any():
                table = self.draws[INSIDE].sel(curve=curve).values.astype(float)
                pos = np.interp(u[on], grid, np.arange(grid.size))
                j = np.minimum(np.floor(pos).astype(int), grid.size - 2)
                w = pos - j
                log_e = (1.0 - w) * table[:, j] + w * table[:, j + 1]
                out[:, on] = np.exp(log_e) * self.scale_factor(curve, scale)
        return out
