"""Bootstrap of the per-curve least-squares fit: predictive intervals for the baseline.

:func:`bootstrap_least_squares` refits every curve of a table on its seeds (trials)
resampled with replacement (residuals where a curve has one seed) and returns the
replicates' laws as draws (:class:`LeastSquaresBootstrap`), shaped like the Bayesian
model's predictive draws, so the extrapolation backtest (``benchmarks/backtest.py``) scores
both the same way. The least-squares fit itself is :mod:`bayes_scaling.models.baseline`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._data import prepare
from bayes_scaling.models._draws import (
    check_kind,
    check_prob,
    check_scale,
    check_sizes,
    prediction_table,
)
from bayes_scaling.models.baseline import (
    LeastSquaresFit,
    _bounds,
    _curve_list,
    _fit_prepared,
    _solve,
)
from bayes_scaling.models.laws import ScalingLaw, get_law
from bayes_scaling.models.posterior import Scale

# ---------------------------------------------------------------------------- bootstrap
#: Resampling schemes of :func:`bootstrap_least_squares` (per curve).
BootScheme = Literal["seeds", "residuals", "failed"]
#: A seed resample is drawn again (at most this many times) while it holds fewer distinct
#: sizes than the law has parameters (only possible when seeds miss some sizes).
_MAX_REDRAWS = 100


def _batched_lm(
    law: ScalingLaw,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    start: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    max_iter: int = 300,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounded Levenberg-Marquardt on many weighted problems at once (NumPy, vectorised).

    Minimises ``0.5 sum_j w_bj (f(x_j; v_b) - y_bj)^2`` for every row ``b`` of ``y`` and
    ``w`` (``(B, J)``), each from ``start``: forward-difference Jacobian, Marquardt's
    diagonal damping, steps projected onto the box ``[lo, hi]``, a parameter at a bound
    whose gradient points outwards held there. Returns ``(v, cost, ok)``; ``ok`` marks the
    rows whose projected gradient vanishes (a KKT point), the caller re-solves the others.
    """
    names = law.params
    B, P = y.shape[0], len(names)
    root_w = np.sqrt(w)
    span = hi - lo
    eye = np.eye(P)
    eps = np.sqrt(np.finfo(float).eps)

    def resid(v: np.ndarray, rows: np.ndarray) -> np.ndarray:
        # v stacks blocks of len(rows) parameter rows; residuals of the same rows per block
        m = v.shape[0] // rows.size
        f = law.log_mean(x[None, :], {p: v[:, j, None] for j, p in enumerate(names)})
        return (f - np.tile(y[rows], (m, 1))) * np.tile(root_w[rows], (m, 1))

    def jac_grad(v: np.ndarray, r: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        h = eps * np.maximum(1.0, np.abs(v))
        pert = np.concatenate([v + h[:, j, None] * eye[j] for j in range(P)])
        jac = (np.stack(np.split(resid(pert, rows), P), axis=2) - r[:, :, None]) / h[:, None, :]
        g = np.einsum("bjp,bj->bp", jac, r)
        fixed = ((v <= lo + 1e-12 * span) & (g > 0)) | ((v >= hi - 1e-12 * span) & (g < 0))
        return jac, g, fixed

    every = np.arange(B)
    v = np.repeat(np.clip(start, lo + 1e-9, hi - 1e-9)[None, :], B, axis=0)
    r = resid(v, every)
    cost = 0.5 * np.sum(r**2, axis=1)
    lam = np.full(B, 1e-3)
    active = np.ones(B, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        va, ra, ca = v[idx], r[idx], cost[idx]
        jac, g, fixed = jac_grad(va, ra, idx)
        A = np.einsum("bjp,bjq->bpq", jac, jac)
        diag = np.maximum(np.einsum("bpp->bp", A), 1e-12)
        Ad = A + (lam[idx, None] * diag)[:, :, None] * eye
        free = ~fixed
        Ad = np.where(free[:, :, None] & free[:, None, :], Ad, 0.0) + fixed[:, :, None] * eye
        delta = np.linalg.solve(Ad, np.where(fixed, 0.0, -g)[..., None])[..., 0]
        v_new = np.clip(va + delta, lo, hi)
        r_new = resid(v_new, idx)
        c_new = 0.5 * np.sum(r_new**2, axis=1)
        better = c_new < ca
        stalled = ca - c_new <= 1e-15 * (1.0 + ca)
        upd = idx[better]
        v[upd], r[upd], cost[upd] = v_new[better], r_new[better], c_new[better]
        lam[idx] = np.where(better, lam[idx] / 3.0, lam[idx] * 4.0)
        active[idx[(better & stalled) | (lam[idx] > 1e12)]] = False
    jac, g, fixed = jac_grad(v, r, every)
    pg = np.abs(np.where(fixed, 0.0, g)).max(axis=1)
    size = np.sqrt(np.einsum("bjp,bjp->bp", jac, jac)).max(axis=1) * np.sqrt(2.0 * cost)
    ok = pg <= 1e-6 * (1.0 + size)
    return v, cost, ok


def _boot_curve(
    law: ScalingLaw,
    x: np.ndarray,
    y: np.ndarray,
    seeds: np.ndarray,
    x_range: tuple[float, float],
    estimate: np.ndarray,
    n_boot: int,
    seed_seq: np.random.SeedSequence,
) -> tuple[np.ndarray, BootScheme, int]:
    """Bootstrap refits of one curve.

    Returns ``(draws, scheme, n_fallback)``: ``draws`` is ``(n_boot, n_params + 1)`` (the
    parameters, then sigma), ``n_fallback`` the refits :func:`_batched_lm` left to scipy.
    A refit minimises the same sum of squares as a fit to every resampled observation,
    written with per-size means: ``sum_j k_j (ybar_j - f(x_j))^2`` plus the within-size
    sum of squares (constant in the parameters), so a solve sees one residual per size.
    """
    names = law.params
    p = len(names)
    out = np.full((n_boot, p + 1), np.nan)
    if not np.all(np.isfinite(estimate)):
        return out, "failed", 0
    lo, hi = _bounds(law, x_range)
    rng = np.random.default_rng(seed_seq)
    sizes, col = np.unique(x, return_inverse=True)
    labels, row = np.unique(seeds, return_inverse=True)
    scheme: BootScheme = "seeds" if labels.size >= 2 else "residuals"
    if scheme == "seeds":
        table = np.full((labels.size, sizes.size), np.nan)  # seed x size (NaN: not measured)
        table[row, col] = y
        need = min(p, sizes.size)
        picks = np.empty((n_boot, labels.size), dtype=np.int64)
        for b in range(n_boot):
            for _ in range(_MAX_REDRAWS):
                picks[b] = rng.integers(labels.size, size=labels.size)
                if np.count_nonzero((~np.isnan(table[picks[b]])).any(axis=0)) >= need:
                    break
        sub = table[picks]  # (boot, seed, size)
        k = np.sum(~np.isnan(sub), axis=1).astype(float)
        ybar = np.nansum(sub, axis=1) / np.maximum(k, 1.0)
        ss_within = np.nansum((sub - ybar[:, None, :]) ** 2, axis=(1, 2))
        xb = sizes
    else:
        # centred residuals inflated by sqrt(N / (N - p)): their variance estimates sigma^2
        fitted = law.log_mean(x, dict(zip(names, estimate, strict=True)))
        resid = y - fitted
        resid = (resid - resid.mean()) * np.sqrt(y.size / max(y.size - p, 1))
        ybar = fitted[None, :] + rng.choice(resid, size=(n_boot, y.size))
        k = np.ones_like(ybar)
        ss_within = np.zeros(n_boot)
        xb = x
    v, cost, ok = _batched_lm(law, xb, ybar, k, estimate, lo, hi)
    for b in np.flatnonzero(~ok):  # rare: re-solve with scipy from the same start
        has = k[b] > 0
        res = _solve(law, xb[has], ybar[b, has], [estimate], lo, hi, weights=k[b, has])
        if res is not None and res.cost <= cost[b]:
            v[b], cost[b] = res.x, res.cost
    n_obs = k.sum(axis=1)
    out[:, :p] = v
    out[:, p] = np.sqrt((2.0 * cost + ss_within) / np.maximum(n_obs - p, 1.0))
    return out, scheme, int((~ok).sum())


@dataclass(frozen=True)
class LeastSquaresBootstrap:
    """Bootstrap of the per-curve least-squares fits (:func:`bootstrap_least_squares`).

    Attributes
    ----------
    fit : LeastSquaresFit
        The point fits on all the data (the bootstrap's centre and every refit's start).
    draws : dict of str to numpy.ndarray
        ``(sample, curve)`` draws, one per bootstrap replicate: the law's parameters
        (``log_e_ref``, ...), ``D``, ``alpha``, ``C`` (normalised scale) and ``sigma`` (the
        replicate's residual sd of log error). A replicate whose refit failed is ``NaN``.
    scheme : pandas.Series
        Resampling scheme per curve: ``"seeds"``, ``"residuals"`` (fewer than two seeds)
        or ``"failed"`` (the point fit failed; all draws ``NaN``).
    resolved : pandas.Series
        Per curve, the refits the vectorised solver left unconverged and scipy's
        ``least_squares`` solved instead (usually 0).
    n_boot : int
        Number of bootstrap replicates.
    random_seed : int or None
        The seed the replicates were drawn with.

    """

    fit: LeastSquaresFit
    draws: dict[str, np.ndarray]
    scheme: pd.Series
    resolved: pd.Series
    n_boot: int
    random_seed: int | None

    @property
    def curve_ids(self) -> list[str]:
        """Curve ids in the order of the draws' ``curve`` axis."""
        return list(self.fit.params.index)

    def parameter_draws(self, name: str, curves: str | Sequence[str] | None = None) -> xr.DataArray:
        """Bootstrap draws of one parameter as a ``(sample, curve)`` DataArray.

        Parameters
        ----------
        name : str
            A law parameter (``log_e_ref``, ...), ``D``, ``alpha``, ``C`` or ``sigma``.
        curves : str, sequence of str or None
            Curve ids (default: all).

        """
        if name not in self.draws:
            raise BayesScalingError(
                f"Unknown parameter {name!r}; bootstrap draws hold {', '.join(self.draws)}."
            )
        ids = _curve_list(curves, self.curve_ids)
        pos = [self.curve_ids.index(c) for c in ids]
        return xr.DataArray(
            self.draws[name][:, pos],
            dims=("sample", "curve"),
            coords={"sample": np.arange(self.n_boot), "curve": ids},
            name=name,
        )

    def predict_draws(
        self,
        n: float | Sequence[float] | np.ndarray,
        curves: str | Sequence[str] | None = None,
        *,
        scale: Scale = "normalised",
        kind: Literal["mean", "observation"] = "mean",
        random_seed: int | None = None,
    ) -> xr.DataArray:
        """Bootstrap draws of the predicted error at sizes ``n``.

        Parameters
        ----------
        n : float or array-like
            Sample sizes (> 0), inside or beyond the fitted range.
        curves : str, sequence of str or None
            Curve ids (default: all).
        scale : {"normalised", "original"}
            ``error / target_scale`` or the property's own units.
        kind : {"mean", "observation"}
            ``"mean"``: each replicate's law (the median error over seeds); ``"observation"``:
            one new seed's error (adds ``sigma * z``, ``z ~ Normal(0, 1)``, to the log error
            with each replicate's residual sd).
        random_seed : int, optional
            Seed of the observation noise (default: the bootstrap's seed).

        Returns
        -------
        xarray.DataArray
            Dims ``(sample, curve, n)`` like ``ScalingLawModel.predict(..., return_draws=True)``
            (a sample is a bootstrap replicate).

        """
        law = get_law(self.fit.law)
        check_scale(scale)
        check_kind(kind)
        n_arr = check_sizes(n)
        ids = _curve_list(curves, self.curve_ids)
        pos = [self.curve_ids.index(c) for c in ids]
        x = np.log(n_arr) - self.fit.log_n_ref
        p = {k: self.draws[k][:, pos, None] for k in law.params}
        log_e = law.log_mean(x[None, None, :], p)
        if kind == "observation":
            rng = np.random.default_rng(self.random_seed if random_seed is None else random_seed)
            log_e = log_e + self.draws["sigma"][:, pos, None] * rng.standard_normal(log_e.shape)
        draws = np.exp(log_e)
        if scale == "original":
            draws = draws * self.fit.curves.loc[ids, "target_scale"].to_numpy(float)[None, :, None]
        return xr.DataArray(
            draws,
            dims=("sample", "curve", "n"),
            coords={"sample": np.arange(self.n_boot), "curve": ids, "n": n_arr},
            name="error",
            attrs={"scale": scale, "kind": kind, "method": "least-squares bootstrap"},
        )

    def predict(
        self,
        n: float | Sequence[float] | np.ndarray,
        curves: str | Sequence[str] | None = None,
        *,
        scale: Scale = "normalised",
        kind: Literal["mean", "observation"] = "mean",
        prob: float = CREDIBLE_INTERVAL,
    ) -> pd.DataFrame:
        """Bootstrap percentile intervals of the error at sizes ``n``.

        Returns
        -------
        pandas.DataFrame
            Columns ``curve``, ``n``, ``scale``, ``kind``, ``mean``, ``median``, ``lower``,
            ``upper``, ``ci_prob`` (equal-tailed, over the replicates whose refit succeeded),
            as ``ScalingLawModel.predict``.

        """
        prob = check_prob(prob)
        da = self.predict_draws(n, curves, scale=scale, kind=kind)
        return prediction_table(
            da.values, da["curve"].values, da["n"].values,
            scale=scale, kind=kind, prob=prob, skipna=True,
        )  # fmt: skip


def bootstrap_least_squares(
    curves: pd.DataFrame,
    n_boot: int = 200,
    *,
    law: str = "power_gap",
    random_seed: int | None = None,
    n_jobs: int = 1,
) -> LeastSquaresBootstrap:
    """Per-curve least squares with a bootstrap of each curve, for predictive intervals.

    Each curve is fitted by :func:`fit_least_squares`, then refitted ``n_boot`` times:

    * **seeds** (a curve with two or more seeds): draw the curve's seeds (trials) with
      replacement and refit on every observation of the drawn seeds (a seed drawn twice
      counts twice). A seed's errors at different sizes are correlated (shared split,
      shared pretraining), and resampling whole seeds keeps that correlation;
    * **residuals** (a single seed): refit ``fitted + r*``, ``r*`` drawn with replacement
      from the centred residuals inflated by ``sqrt(N / (N - p))``.

    Every refit starts at the curve's point estimate (a local solve, no multi-start); all
    replicates of a curve are solved at once by a vectorised, bounded Levenberg-Marquardt
    on the per-size means (the same objective), and the few it leaves unconverged are
    re-solved by scipy's ``least_squares`` from the same start (counted in ``resolved``).
    200 replicates of the 130 scarce-protocol curves took about a minute on one core of a
    loaded 2-core machine, about half of it the point fits.
    Each replicate also records its residual sd ``sigma``, the spread of one seed's log
    error around the law, so predictions can add seed noise
    (``predict_draws(..., kind="observation")``, or ``sigma / sqrt(k)`` for a mean over
    ``k`` seeds).

    Parameters
    ----------
    curves : pandas.DataFrame
        Curve table (validated with :func:`bayes_scaling.curves.validate_curves`).
    n_boot : int
        Number of bootstrap replicates (>= 1).
    law : {"power_gap", "power", "broken_power", "mmf"}
        The law to fit.
    random_seed : int, optional
        Seed of the resampling. Curve ``i`` uses the ``i``-th child of
        ``numpy.random.SeedSequence(random_seed)``, so the draws do not depend on ``n_jobs``.
    n_jobs : int
        Parallel workers over curves (joblib; ``1`` runs in this process, ``-1`` all cores).

    Returns
    -------
    LeastSquaresBootstrap

    Raises
    ------
    BayesScalingError
        ``n_boot`` or ``n_jobs`` not a positive integer (``n_jobs = -1`` allowed).

    Examples
    --------
    >>> import pandas as pd
    >>> from bayes_scaling.simulate import simulate_curves
    >>> truth = pd.DataFrame({"property": ["tg"], "database": ["radonpy"], "D": [4.0],
    ...                       "alpha": [0.5], "C": [0.2]})
    >>> table = simulate_curves(truth, seeds=5, rng=0)
    >>> boot = bootstrap_least_squares(table, n_boot=50, random_seed=1)
    >>> boot.predict_draws([1e6]).shape
    (50, 1, 1)

    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise BayesScalingError(f"n_boot must be an integer >= 1, got {n_boot!r}.")
    if (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, int | np.integer)
        or (n_jobs < 1 and n_jobs != -1)
    ):
        raise BayesScalingError(f"n_jobs must be an integer >= 1 or -1, got {n_jobs!r}.")
    law_obj = get_law(law)
    data = prepare(curves, groups=[])
    point = LeastSquaresFit(_fit_prepared(data, law_obj), data.meta, law_obj.name, data.log_n_ref)
    names = law_obj.params
    x_obs = data.point_x[data.obs_point]
    curve_obs = data.point_curve[data.obs_point]
    seeds = data.table["seed"].to_numpy()
    children = np.random.SeedSequence(random_seed).spawn(data.n_curves)
    jobs = []
    for c, cid in enumerate(data.curve_ids):
        sel = curve_obs == c
        x = x_obs[sel]
        est = point.params.loc[cid, list(names)].to_numpy(dtype=float)
        jobs.append(
            (
                law_obj,
                x,
                data.obs_y[sel],
                seeds[sel],
                (float(x.min()), float(x.max())),
                est,
                int(n_boot),
                children[c],
            )
        )
    if n_jobs == 1 or len(jobs) < 2:
        results = [_boot_curve(*job) for job in jobs]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs)(delayed(_boot_curve)(*job) for job in jobs)
    stacked = np.stack([r[0] for r in results], axis=1)  # (boot, curve, param + sigma)
    draws = {p: stacked[..., j] for j, p in enumerate(names)}
    D, alpha, C = law_obj.dac(draws, data.log_n_ref)
    draws.update(D=D, alpha=alpha, C=C, sigma=stacked[..., len(names)])
    scheme = pd.Series([r[1] for r in results], index=point.params.index, name="scheme")
    resolved = pd.Series([r[2] for r in results], index=point.params.index, name="resolved")
    return LeastSquaresBootstrap(point, draws, scheme, resolved, int(n_boot), random_seed)
