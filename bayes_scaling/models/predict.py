"""Posterior predictive error of a fitted hierarchical model, on fitted or new curves.

:func:`predict_error` is the work behind
:meth:`~bayes_scaling.models.hierarchical.ScalingLawModel.predict`: the law's value (or one
new seed's error) at any sizes, from the posterior draws of fitted curves or, for a table of
new curves, from population-predictive draws (:func:`new_curve_params`: known group levels
keep their effects, unseen ones draw a new effect).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models._data import CurveData
from bayes_scaling.models._draws import (
    check_kind,
    check_prob,
    check_scale,
    check_sizes,
    flat_curve,
    prediction_table,
)
from bayes_scaling.models.assemble import flat_params
from bayes_scaling.models.extrapolation import ExtrapolationSpread, anchor_law, bend_fitted
from bayes_scaling.models.laws import ScalingLaw
from bayes_scaling.models.posterior import Scale
from bayes_scaling.models.priors import Priors, sd_prior

Kind = Literal["mean", "observation"]


def new_curve_params(
    post: xr.DataTree | xr.Dataset,
    data: CurveData,
    law: ScalingLaw,
    priors: Priors,
    new: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], np.ndarray]:
    """Population-predictive draws ``(sample, new curve)`` for curves not in the fit.

    Returns the law's parameters, the noise of one new seed (``sigma``, with the shared
    point noise of the curve's kind where the fit has it: ``sqrt(sigma^2 + tau^2)``), the
    new curves' ids (:func:`new_ids`) and target scales (:func:`new_scales`).
    """
    P = list(law.pooled)
    S = post.sizes["chain"] * post.sizes["draw"]
    m = len(new)

    def flat(name: str, *dims: str) -> np.ndarray:
        v = post[name].transpose("chain", "draw", *dims).values
        return v.reshape((S,) + v.shape[2:])

    if "mu" in post:
        theta = np.repeat(flat("mu", "param")[:, None, :], m, axis=1)
        tau_c = flat("tau_curve", "param")
        for g in data.groups:
            eff = flat(f"effect_{g.column}", g.column, "param")
            tau_g = (
                flat(f"tau_{g.column}", "param")
                if f"tau_{g.column}" in post
                else np.full((S, len(P)), priors.group_sd)  # fixed effects: prior scale
            )
            values = (
                new[g.column].map(lambda v: "full" if pd.isna(v) else str(v)).tolist()
                if g.column in new
                else [None] * m
            )
            if g.column == "m" and g.column in new:
                values = ["full" if pd.isna(v) else str(int(v)) for v in new[g.column].tolist()]
            for i, v in enumerate(values):
                if v in g.excluded:  # the level of an earlier column: no effect from this one
                    continue
                if v in g.levels:
                    theta[:, i, :] += eff[:, g.levels.index(v), :]
                else:  # unseen or unknown level: a new group effect
                    theta[:, i, :] += tau_g * rng.standard_normal((S, len(P)))
        if data.has_m_slope:
            theta += new_log_m(new, data)[None, :, None] * flat("m_slope", "param")[:, None, :]
        theta += tau_c[:, None, :] * rng.standard_normal((S, m, len(P)))
        log_sigma = flat("mu_log_sigma")[:, None] + flat("tau_log_sigma")[:, None] * (
            rng.standard_normal((S, m))
        )
    else:  # single-curve fit: curve-to-curve spread comes from its prior
        theta = np.repeat(flat("theta", "curve", "param")[:, :1, :], m, axis=1)
        scale = priors.spread(priors.curve_sd, P)
        if priors.sd_family == "gamma":
            shape, rate = sd_prior(scale)
            tau_c = rng.gamma(shape, 1.0 / rate, (S, 1, len(P)))
        else:
            tau_c = np.abs(scale * rng.standard_normal((S, 1, len(P))))
        theta += tau_c * rng.standard_normal((S, m, len(P)))
        log_sigma = np.repeat(flat("log_sigma", "curve")[:, :1], m, axis=1)
    params = {p: theta[..., j] for j, p in enumerate(P)}
    if "log_alpha2" in law.extra:
        params["log_alpha2"] = params["log_alpha"] + priors.delta_log_alpha_sd * (
            rng.standard_normal((S, m))
        )
    if "log_break" in law.extra:
        loc, scale = priors.break_prior(*data.x_range)
        params["log_break"] = loc + scale * rng.standard_normal((S, m))
    ids = new_ids(new)
    sd = np.exp(log_sigma)
    if "tau_point" in post:  # the new curve's kind, or the kinds' mean if unseen
        tau = flat("tau_point", "noise_group")
        kinds = new["kind"].astype(str).tolist() if "kind" in new else [None] * m
        tau_new = np.column_stack(
            [
                tau[:, data.noise_groups.index(k)] if k in data.noise_groups else tau.mean(1)
                for k in kinds
            ]
        )
        sd = np.hypot(sd, tau_new)
    return params, sd, ids, new_scales(new, data.meta)


def _bend_beyond(
    log_mean: np.ndarray,
    p_all: dict[str, np.ndarray],
    law: ScalingLaw,
    data: CurveData,
    pos: list[int],
    n: np.ndarray,
    spread: ExtrapolationSpread,
    seed: int,
) -> np.ndarray:
    """Replace ``log_mean`` ``(sample, curve, n)`` beyond each curve's ``n_max`` by the bent law.

    ``p_all``: law parameters of every fitted curve; ``pos``: the predicted curves.
    """
    n_max = data.meta["n_max"].to_numpy(dtype=float)
    beyond = n[None, :] > n_max[pos, None]
    if not beyond.any():
        return log_mean
    D, alpha, C = law.dac(p_all, data.log_n_ref)
    if law.asymptotic:  # through the curve at n_max, as the calibrated curve posterior
        log_ea = law.log_mean(np.log(n_max)[None, :] - data.log_n_ref, p_all)
        D, alpha, C = anchor_law(D, alpha, C, n_max, log_ea)
    Db, ab, Cb = (
        v[:, pos] for v in bend_fitted(spread, D, alpha, C, data.meta, seed, has_gap=law.has_gap)
    )
    bent = np.log(Db[..., None] * n[None, None, :] ** (-ab[..., None]) + Cb[..., None])
    return np.where(beyond[None, :, :], bent, log_mean)


def new_log_m(new: pd.DataFrame, data: CurveData) -> np.ndarray:
    """Centred ``log m`` of new curves for the fit's ``m`` slope (0: the fit's centre).

    From the ``m`` column (else ``n_train``) where set and > 0; scratch curves and curves
    without either get 0, as in the fit.
    """
    m = np.full(len(new), np.nan)
    for col in ("n_train", "m"):  # m wins where both are set
        if col in new:
            v = pd.to_numeric(new[col], errors="coerce").to_numpy(dtype=float)
            m = np.where(np.isfinite(v) & (v > 0), v, m)
    if "kind" in new:
        m[new["kind"].astype(str).to_numpy() == "scratch"] = np.nan
    out = np.log(m) - data.log_m_centre
    return np.where(np.isfinite(out), out, 0.0)


def new_ids(new: pd.DataFrame) -> list[str]:
    """Ids of new curves: the ``curve`` column, their key columns' ids, or ``new_<i>``."""
    from bayes_scaling.curves import curve_ids

    if "curve" in new:
        return [str(v) for v in new["curve"]]
    ids = curve_ids(new).tolist() if len(new) else []
    if not ids or any(i == "" for i in ids) or len(set(ids)) != len(ids):
        ids = [f"new_{i}" for i in range(len(new))]
    return [f"new:{i}" if not i.startswith("new") else i for i in ids]


def new_scales(new: pd.DataFrame, meta: pd.DataFrame) -> np.ndarray:
    """Target scales of new curves: their own, else the fitted median of their property."""
    if "target_scale" in new:
        return new["target_scale"].to_numpy(dtype=float)
    out = []
    for _, row in new.iterrows():
        if "property" in new and "property" in meta:
            same = meta.loc[meta["property"] == row["property"], "target_scale"]
            out.append(float(same.median()) if len(same) else np.nan)
        else:
            out.append(np.nan)
    return np.array(out, dtype=float)


def resolve_curves(known: Sequence[str], curves: str | Sequence[str] | None) -> list[str]:
    """Fitted curve ids to predict (default: all), or :class:`UnknownNameError`."""
    if curves is None:
        return list(known)
    if isinstance(curves, str):
        curves = [curves]
    out = list(curves)
    for c in out:
        if c not in known:
            raise UnknownNameError(
                f"Unknown curve {c!r}; known curves: {', '.join(known)}. Pass a DataFrame "
                "of group columns to predict a new curve."
            )
    return out


def observation_noise(
    post: xr.DataTree | xr.Dataset,
    likelihood: str,
    rng: np.random.Generator,
    shape: tuple[int, ...],
) -> np.ndarray:
    """Standardised noise of one new seed (Student-t with the posterior ``nu`` if so fitted)."""
    if likelihood == "studentt":
        nu = post["nu"].values.reshape(-1)
        return rng.standard_t(nu[:, None, None], size=shape)
    return rng.standard_normal(shape)


def predict_error(
    post: xr.DataTree,
    data: CurveData,
    law: ScalingLaw,
    priors: Priors,
    likelihood: str,
    n: float | Sequence[float] | np.ndarray,
    curves: str | Sequence[str] | pd.DataFrame | None,
    *,
    scale: Scale,
    kind: Kind,
    prob: float,
    return_draws: bool,
    seed: int | None,
    spread: ExtrapolationSpread | None = None,
    bend_seed: int = 0,
) -> pd.DataFrame | xr.DataArray:
    """Posterior predictive error at sizes ``n`` (see ``ScalingLawModel.predict``).

    ``post`` is the fit's posterior group, ``seed`` the seed of the noise and population
    draws. With ``spread``, fitted curves beyond their largest observed size follow the
    bent laws of :func:`~bayes_scaling.models.extrapolation.bend_fitted` seeded by
    ``bend_seed`` (the calibrated extrapolation, the same draws as the calibrated
    ``curve_posterior``); at and below it, the fitted law.
    """
    check_scale(scale)
    prob = check_prob(prob)
    check_kind(kind)
    n_arr = check_sizes(n)
    rng = np.random.default_rng(seed)
    if isinstance(curves, pd.DataFrame):
        params, sigma, ids, scales = new_curve_params(post, data, law, priors, curves, rng)
        if scale == "original" and np.any(~np.isfinite(scales)):
            raise BayesScalingError(
                "scale='original' for new curves needs a 'target_scale' column (or a "
                "property seen in the fit)."
            )
    else:
        ids = resolve_curves(data.curve_ids, curves)
        pos = [data.curve_ids.index(c) for c in ids]
        p_all = flat_params(post.to_dataset(), law)
        params = {k: v[:, pos] for k, v in p_all.items()}
        sigma = flat_curve(post, "sigma")[:, pos]
        if "point_sd" in post:  # one new seed also carries the noise its point shares
            sigma = np.hypot(sigma, flat_curve(post, "point_sd")[:, pos])
        scales = data.meta["target_scale"].to_numpy()[pos]
    x = np.log(n_arr) - data.log_n_ref
    log_mean = law.log_mean(x[None, None, :], {k: v[..., None] for k, v in params.items()})
    if spread is not None and not isinstance(curves, pd.DataFrame):
        log_mean = _bend_beyond(log_mean, p_all, law, data, pos, n_arr, spread, bend_seed)
    if kind == "observation":
        log_mean = log_mean + sigma[..., None] * observation_noise(
            post, likelihood, rng, log_mean.shape
        )
    draws = np.exp(log_mean)
    if scale == "original":
        draws = draws * scales[None, :, None]
    if return_draws:
        return xr.DataArray(
            draws,
            dims=("sample", "curve", "n"),
            coords={"sample": np.arange(draws.shape[0]), "curve": ids, "n": n_arr},
            name="error",
            attrs={"scale": scale, "kind": kind},
        )
    return prediction_table(draws, ids, n_arr, scale=scale, kind=kind, prob=prob)
