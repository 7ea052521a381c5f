"""Per-curve least-squares fit of a scaling law on log error: the paper's method.

Minami et al. (2025) fit ``error(n) = D n^-alpha + C`` to each learning curve separately.
:func:`fit_least_squares` does the same on the log scale (every seed's observation, equal
weights), with the numerically stable reference-size parameterisation of
:mod:`bayes_scaling.models.laws` and a few starting points. It is the baseline the Bayesian
model is compared against and the sampler's starting point. Its bootstrap over seeds, for
predictive intervals, is :mod:`bayes_scaling.models.baseline_bootstrap`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._data import CurveData, prepare
from bayes_scaling.models.laws import ScalingLaw, get_law
from bayes_scaling.models.posterior import Scale

#: Box constraints of the least-squares parameters (natural logs, logits).
BOUNDS: dict[str, tuple[float, float]] = {
    "log_e_ref": (-12.0, 8.0),
    "logit_gap": (-12.0, 12.0),
    "log_alpha": (np.log(1e-3), np.log(8.0)),
    "log_alpha2": (np.log(1e-3), np.log(8.0)),
    "log_break": (-20.0, 20.0),
}


def _bounds(law: ScalingLaw, x_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of ``law``'s parameters (the break inside the data's range)."""
    names = law.params
    lo = np.array([BOUNDS[p][0] for p in names])
    hi = np.array([BOUNDS[p][1] for p in names])
    if "log_break" in names:
        j = names.index("log_break")
        lo[j], hi[j] = x_range
    return lo, hi


def _solve(
    law: ScalingLaw,
    x: np.ndarray,
    y: np.ndarray,
    starts: Sequence[np.ndarray],
    lo: np.ndarray,
    hi: np.ndarray,
    weights: np.ndarray | None = None,
) -> Any:
    """Best :func:`scipy.optimize.least_squares` result over ``starts`` (None if all fail).

    ``weights`` (per observation) multiply the squared residuals.
    """
    names = law.params
    root_w = None if weights is None else np.sqrt(weights)

    def resid(v: np.ndarray) -> np.ndarray:
        r = law.log_mean(x, dict(zip(names, v, strict=True))) - y
        return r if root_w is None else r * root_w

    best = None
    for v0 in starts:
        v0 = np.clip(v0, lo + 1e-9, hi - 1e-9)
        try:
            res = least_squares(resid, v0, bounds=(lo, hi), method="trf", x_scale=1.0)
        except (ValueError, FloatingPointError):  # pragma: no cover - defensive
            continue
        if best is None or res.cost < best.cost:
            best = res
    return best


def _fit_one(
    law: ScalingLaw, x: np.ndarray, y: np.ndarray, x_range: tuple[float, float]
) -> tuple[dict[str, float], dict[str, float], float, bool]:
    names = law.params
    lo, hi = _bounds(law, x_range)
    # starting points: level at the reference size, a few gap fractions and slopes
    level = float(np.mean(y[np.abs(x) == np.abs(x).min()]))
    starts = []
    for gap in (-2.0, 0.0, 2.0) if law.has_gap else (0.0,):
        for la in (np.log(0.3), np.log(1.0)):
            start = {
                "log_e_ref": level,
                "logit_gap": gap,
                "log_alpha": la,
                "log_alpha2": la,
                "log_break": float(np.mean(x_range)),
            }
            starts.append(np.array([start[p] for p in names]))
    best = _solve(law, x, y, starts, lo, hi)
    if best is None:  # pragma: no cover - defensive
        return {p: np.nan for p in names}, {p: np.nan for p in names}, np.nan, False
    dof = max(len(y) - len(names), 1)
    sigma = float(np.sqrt(2.0 * best.cost / dof))
    # asymptotic standard errors (Gauss-Newton covariance of the parameters not at a bound).
    # A parameter the data do not identify gets inf: one at (or within 1e-6 of) a bound, or
    # one in a null direction of J^T J (e.g. the slope of a curve whose gap fraction is at
    # its lower bound is fine, but a flat curve's gap fraction is not; a pseudo-inverse would
    # report 0 there).
    jac = np.asarray(best.jac, dtype=float)
    near = 1e-6 * (hi - lo)
    at_bound = (best.x - lo <= near) | (hi - best.x <= near)
    if hasattr(best, "active_mask"):
        at_bound |= best.active_mask != 0
    se = np.full(len(names), np.inf)
    free = np.flatnonzero(~at_bound)
    if free.size:
        eig, vec = np.linalg.eigh(jac[:, free].T @ jac[:, free])
        null = eig <= max(float(eig.max()), 1e-300) * 1e-10
        kept = vec[:, ~null]
        cov = (kept / eig[~null]) @ kept.T * max(sigma, 1e-12) ** 2
        se_free = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        unidentified = (np.abs(vec[:, null]) > 1e-3).any(axis=1)
        se[free] = np.where(unidentified | ~np.isfinite(se_free), np.inf, se_free)
    return (
        dict(zip(names, best.x.tolist(), strict=True)),
        dict(zip(names, se.tolist(), strict=True)),
        sigma,
        bool(best.success),
    )


def _fit_prepared(data: CurveData, law: ScalingLaw) -> pd.DataFrame:
    rows = []
    x_obs = data.point_x[data.obs_point]
    curve_obs = data.point_curve[data.obs_point]
    for c, cid in enumerate(data.curve_ids):
        sel = curve_obs == c
        x, y = x_obs[sel], data.obs_y[sel]
        params, se, sigma, ok = _fit_one(law, x, y, (float(x.min()), float(x.max())))
        D, alpha, C = law.dac({k: np.asarray(v) for k, v in params.items()}, data.log_n_ref)
        row = {
            "curve": cid,
            **params,
            "D": float(D),
            "alpha": float(alpha),
            "C": float(C),
            "sigma": sigma,
            "success": ok,
            **{f"se_{k}": v for k, v in se.items()},
        }
        rows.append(row)
    out = pd.DataFrame(rows).set_index("curve")
    out["e_ref"] = np.exp(out["log_e_ref"])
    if law.has_gap:
        out["gap_fraction"] = 1.0 / (1.0 + np.exp(-out["logit_gap"]))
    return out


@dataclass(frozen=True)
class LeastSquaresFit:
    """Least-squares fits of one law to every curve.

    Attributes
    ----------
    params : pandas.DataFrame
        One row per curve (index ``curve``): the law's parameters (``log_e_ref``, ...),
        ``D``, ``alpha``, ``C`` (normalised scale; for ``broken_power`` the large-n
        asymptote), ``sigma`` (residual sd of log error), ``success``, and asymptotic
        standard errors ``se_<parameter>`` (``inf`` at a bound).
    curves : pandas.DataFrame
        Curve metadata (``target_scale``, ``n_min``, ``n_max``, ...).
    law : str
        Name of the fitted law.
    log_n_ref : float
        Reference ``log n`` of the parameterisation.

    """

    params: pd.DataFrame
    curves: pd.DataFrame
    law: str
    log_n_ref: float

    def predict(
        self,
        n: float | Sequence[float] | np.ndarray,
        curves: str | Sequence[str] | None = None,
        *,
        scale: Scale = "normalised",
    ) -> pd.DataFrame:
        """Point predictions of the error at sizes ``n``.

        Returns
        -------
        pandas.DataFrame
            Columns ``curve``, ``n``, ``scale``, ``error``.

        """
        law = get_law(self.law)
        n_arr = np.atleast_1d(np.asarray(n, dtype=float))
        if np.any(~np.isfinite(n_arr)) or np.any(n_arr <= 0):
            raise BayesScalingError("n must be finite and > 0.")
        ids = _curve_list(curves, list(self.params.index))
        if scale not in ("normalised", "original"):
            raise BayesScalingError(f"scale must be 'normalised' or 'original', got {scale!r}.")
        rows = []
        for cid in ids:
            p = {k: np.asarray(self.params.loc[cid, k], dtype=float) for k in law.params}
            e = law.expected_error(n_arr, p, self.log_n_ref)
            if scale == "original":
                e = e * float(self.curves.loc[cid, "target_scale"])
            rows.append(pd.DataFrame({"curve": cid, "n": n_arr, "scale": scale, "error": e}))
        return pd.concat(rows, ignore_index=True)


def _curve_list(curves: str | Sequence[str] | None, known: list[str]) -> list[str]:
    from bayes_scaling.exceptions import UnknownNameError

    if curves is None:
        return known
    if isinstance(curves, str):
        curves = [curves]
    out = list(curves)
    for c in out:
        if c not in known:
            raise UnknownNameError(f"Unknown curve {c!r}; known curves: {', '.join(known)}.")
    return out


def fit_least_squares(curves: pd.DataFrame, law: str = "power_gap") -> LeastSquaresFit:
    """Fit ``law`` to each curve separately by least squares on log (normalised) error.

    Parameters
    ----------
    curves : pandas.DataFrame
        Curve table (validated with :func:`bayes_scaling.curves.validate_curves`).
    law : {"power_gap", "power", "broken_power", "mmf"}
        The law to fit.

    Returns
    -------
    LeastSquaresFit

    Examples
    --------
    >>> import pandas as pd
    >>> from bayes_scaling.simulate import simulate_curves
    >>> truth = pd.DataFrame({"property": ["tg"], "database": ["radonpy"], "D": [4.0],
    ...                       "alpha": [0.5], "C": [0.2]})
    >>> table = simulate_curves(truth, noise=1e-6, seeds=1, rng=0)
    >>> fit = fit_least_squares(table)
    >>> round(float(fit.params["C"].iloc[0]), 3)
    0.2

    """
    law_obj = get_law(law)
    data = prepare(curves, groups=[])
    return LeastSquaresFit(_fit_prepared(data, law_obj), data.meta, law_obj.name, data.log_n_ref)
