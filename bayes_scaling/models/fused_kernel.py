"""The fused log density's numba kernel (see :mod:`bayes_scaling.models.fused_density`).

Kept apart so that importing the model does not import numba. The positions in the layout
array are :mod:`bayes_scaling.models.fused_density`'s.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numba
import numpy as np

from bayes_scaling.models.fused_density import (
    _BREAK,
    _CBLOC,
    _CBSCALE,
    _CLOGM,
    _CWEIGHT,
    _LAW,
    _LS,
    _MLS,
    _MSLOPE,
    _MU,
    _NG,
    _NTP,
    _P,
    _PCURVE,
    _PK,
    _PNG,
    _PSS,
    _PX,
    _PYBAR,
    _RAW,
    _SDFAM,
    _TAUC,
    _TAUPT,
    _TLS,
    GROUP_FIELDS,
    HEADER,
)

_LOG_2PI = math.log(2.0 * math.pi)
#: Hash of this module's source as imported (part of every compiled callback's cache key: a
#: callback compiled with this code is never loaded for other code).
SOURCE_HASH: str = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


@numba.njit(cache=True, inline="always")
def _softplus(z: float) -> float:
    if z < -37.0:
        return math.exp(z)
    if z < 18.0:
        return math.log1p(math.exp(z))
    if z < 33.3:
        return z + math.exp(-z)
    return z


@numba.njit(cache=True, inline="always")
def _softplus_and_sigmoid(u: float) -> tuple[float, float]:
    """Return ``softplus(u)`` and its derivative ``sigmoid(u)`` from one exponential."""
    e = math.exp(-abs(u))
    return max(u, 0.0) + math.log1p(e), (1.0 if u >= 0.0 else e) / (1.0 + e)


@numba.njit(cache=True, inline="always")
def _group(layout: np.ndarray, gi: int) -> tuple[int, int, int, int, int, int]:
    """Return grouping column ``gi``'s layout: pooled, levels, tau and z offsets, columns."""
    b = HEADER + gi * GROUP_FIELDS
    return layout[b], layout[b + 1], layout[b + 2], layout[b + 3], layout[b + 4], layout[b + 5]


@numba.njit(cache=True, inline="always")
def _sigmoid(z: float) -> float:
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@numba.njit(cache=True, inline="always")
def _normal(v: float, m: float, log_s: float) -> tuple[float, float]:
    """Return the Normal log density of ``v`` (mean ``m``, log sd ``log_s``), ``(v - m) / s^2``."""
    inv_var = math.exp(-2.0 * log_s)
    r = v - m
    return -0.5 * r * r * inv_var - log_s - 0.5 * _LOG_2PI, r * inv_var


@numba.njit(cache=True, inline="always")
def _sd_prior(v: float, a: float, b: float, family: int) -> tuple[float, float]:
    """Log density (with the log transform's Jacobian) of ``v = log sd`` and its derivative.

    ``family`` 0: ``sd ~ Gamma(a, rate=b)``; 1: ``sd ~ HalfNormal(a)``.
    """
    sd = math.exp(v)
    if family == 0:
        return a * math.log(b) - math.lgamma(a) + a * v - b * sd, a - b * sd
    t = sd / a
    return 0.5 * math.log(2.0 / math.pi) - math.log(a) - 0.5 * t * t + v, 1.0 - t * t


@numba.njit(cache=True)
def log_density_and_gradient(  # noqa: C901 - one pass, written out on purpose
    x: np.ndarray,
    point: np.ndarray,
    curve: np.ndarray,
    group: np.ndarray,
    layout: np.ndarray,
    consts: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Log density of the hierarchical model at the unconstrained draw ``x``, and its gradient.

    ``point``, ``curve``, ``group``: the packed data tables; ``layout``, ``consts``:
    :class:`FusedDensity`'s arrays. The model is the one of ``graph.build_pymc_model``
    (module docstring there); the comments name its variables.
    """
    grad = np.zeros(x.size)
    P = layout[_P]
    n_curves = curve.shape[0]
    n_groups = layout[_NG]
    fam = layout[_SDFAM]
    c_loc, c_scale, c_tauc = 0, P, 2 * P  # constants' blocks
    c_mslope = 4 * P
    c_ls = 5 * P
    c_gsd = c_ls + 4
    c_gspread = c_gsd + 1
    c_point_sd = c_gspread + 2 * P
    c_helmert = c_point_sd + 1
    lp = 0.0

    # mu ~ Normal(loc, scale)
    mu0 = layout[_MU]
    for p in range(P):
        d, r = _normal(x[mu0 + p], consts[c_loc + p], math.log(consts[c_scale + p]))
        lp += d
        grad[mu0 + p] -= r

    # lin[c, p] = mu + sum of group effects + m_slope * log m
    lin = np.empty((n_curves, P))
    for c in range(n_curves):
        for p in range(P):
            lin[c, p] = x[mu0 + p]
    for gi in range(n_groups):
        pooled, L, tau0, z0, icol, gcol = _group(layout, gi)
        K = L - 1
        eff = np.zeros((L + 1, P))  # last row: excluded levels (no effect)
        for p in range(P):
            w = 0.0
            if pooled == 1:
                lt = x[tau0 + p]
                w = group[p, gcol]
                d, dv = _sd_prior(lt, consts[c_gspread + p], consts[c_gspread + P + p], fam)
                lp += d
                grad[tau0 + p] += dv
                log_s = w * lt
                scale_e = math.exp((1.0 - w) * lt)
            else:
                log_s = math.log(consts[c_gsd])
                scale_e = 1.0
            inv_var = math.exp(-2.0 * log_s)
            for k in range(K):
                z = x[z0 + p * K + k]
                lp += -0.5 * z * z * inv_var - log_s - 0.5 * _LOG_2PI
                grad[z0 + p * K + k] -= z * inv_var
                if pooled == 1:  # d/d log tau of the contrast's own density
                    grad[tau0 + p] += w * (z * z * inv_var - 1.0)
            # effect = scale * (Helmert basis @ z), in O(L): level l gets the sum of
            # z_k / sqrt((k + 1)(k + 2)) over k >= l, minus l z_(l-1) / sqrt(l (l + 1))
            tail = 0.0
            for level in range(K, -1, -1):
                if level < K:
                    tail += x[z0 + p * K + level] * consts[c_helmert + level]
                v = tail
                if level >= 1:
                    v -= level * x[z0 + p * K + level - 1] * consts[c_helmert + level - 1]
                eff[level, p] = scale_e * v
        for c in range(n_curves):
            level = int(curve[c, icol])
            for p in range(P):
                lin[c, p] += eff[level, p]
    ms0, lmcol = layout[_MSLOPE], layout[_CLOGM]
    if ms0 >= 0:
        for p in range(P):
            d, r = _normal(x[ms0 + p], 0.0, math.log(consts[c_mslope + p]))
            lp += d
            grad[ms0 + p] -= r
        for c in range(n_curves):
            for p in range(P):
                lin[c, p] += curve[c, lmcol] * x[ms0 + p]

    # theta = lin + tau_c^(1 - w) (raw - w lin), raw ~ Normal(w lin, tau_c^w)
    tc0, raw0, wcol = layout[_TAUC], layout[_RAW], layout[_CWEIGHT]
    theta = np.empty((n_curves, P))
    scale_c = np.empty((n_curves, P))  # tau_c^(1 - w), kept for the backward pass
    r_raw = np.empty((n_curves, P))  # (raw - w lin) / tau_c^(2 w)
    for p in range(P):
        d, dv = _sd_prior(x[tc0 + p], consts[c_tauc + p], consts[c_tauc + P + p], fam)
        lp += d
        grad[tc0 + p] += dv
    for c in range(n_curves):
        for p in range(P):
            w = curve[c, wcol + p]
            ltc = x[tc0 + p]
            dev = x[raw0 + c * P + p] - w * lin[c, p]
            scale_c[c, p] = math.exp((1.0 - w) * ltc)
            theta[c, p] = lin[c, p] + scale_c[c, p] * dev
            d, r = _normal(dev, 0.0, w * ltc)
            r_raw[c, p] = r
            lp += d
            grad[raw0 + c * P + p] -= r
            grad[tc0 + p] += w * (r * dev - 1.0)

    # log sigma_c ~ Normal(mu_log_sigma, tau_log_sigma)
    mls0, tls0, ls0 = layout[_MLS], layout[_TLS], layout[_LS]
    d, r = _normal(x[mls0], consts[c_ls], math.log(consts[c_ls + 1]))
    lp += d
    grad[mls0] -= r
    d, dv = _sd_prior(x[tls0], consts[c_ls + 2], consts[c_ls + 3], 0)  # always Gamma
    lp += d
    grad[tls0] += dv
    inv_var = math.exp(-2.0 * x[tls0])
    for c in range(n_curves):
        dev = x[ls0 + c] - x[mls0]
        lp += -0.5 * dev * dev * inv_var - x[tls0] - 0.5 * _LOG_2PI
        grad[ls0 + c] -= dev * inv_var
        grad[mls0] += dev * inv_var
        grad[tls0] += dev * dev * inv_var - 1.0

    # the likelihood: per point -k log sigma - (k (ybar - m)^2 + ss) / (2 sigma^2)
    law = layout[_LAW]
    brk0 = layout[_BREAK]
    g_theta = np.zeros((n_curves, P))
    log_c = np.empty(n_curves)  # gap laws: log C = log e_ref - softplus(-logit g)
    sig_gap = np.empty(n_curves)  # gap laws: sigmoid(-logit g)
    alpha = np.empty(n_curves)
    prec = np.empty(n_curves)
    s0 = np.empty(n_curves)  # mmf: softplus(-alpha x_b) and its sigmoid
    sig0 = np.empty(n_curves)
    for c in range(n_curves):
        alpha[c] = math.exp(theta[c, P - 1])
        prec[c] = math.exp(-2.0 * x[ls0 + c])
        if law >= 1:
            log_c[c] = theta[c, 0] - _softplus(-theta[c, 1])
            sig_gap[c] = _sigmoid(-theta[c, 1])
        if law == 2:  # log_break ~ Normal(break_loc, break_scale), per curve
            xb = x[brk0 + c]
            s0[c], sig0[c] = _softplus_and_sigmoid(-alpha[c] * xb)
            loc, scale = curve[c, layout[_CBLOC]], curve[c, layout[_CBSCALE]]
            d, r = _normal(xb, loc, math.log(scale))
            lp += d
            grad[brk0 + c] -= r
    tp0 = layout[_TAUPT]  # shared point noise: tau_point ~ HalfNormal(point_sd), per group
    n_tp = layout[_NTP] if tp0 >= 0 else 0
    tau_pt2 = np.empty(max(n_tp, 1))
    for j in range(n_tp):
        d, dv = _sd_prior(x[tp0 + j], consts[c_point_sd], 0.0, 1)
        lp += d
        grad[tp0 + j] += dv
        tau_pt2[j] = math.exp(2.0 * x[tp0 + j])
    pxc, pkc, pyc, psc, pcc = (
        layout[_PX],
        layout[_PK],
        layout[_PYBAR],
        layout[_PSS],
        layout[_PCURVE],
    )
    for i in range(point.shape[0]):
        c = int(point[i, pcc])
        xi, k = point[i, pxc], point[i, pkc]
        a = alpha[c]
        if law == 1:  # log C + softplus(-logit g - alpha x)
            sp, su = _softplus_and_sigmoid(-theta[c, 1] - a * xi)
            mean = log_c[c] + sp
        elif law == 2:  # log C + softplus(s0 - softplus(alpha (x - x_b)) - logit g)
            xb = x[brk0 + c]
            q, sv = _softplus_and_sigmoid(a * (xi - xb))
            sp, su = _softplus_and_sigmoid(s0[c] - q - theta[c, 1])
            mean = log_c[c] + sp
        else:  # log e_ref - alpha x
            mean = theta[c, 0] - a * xi
        res = point[i, pyc] - mean
        if tp0 < 0:
            sq = k * res * res + point[i, psc]
            lp += -k * x[ls0 + c] - 0.5 * sq * prec[c]
            grad[ls0 + c] += -k + sq * prec[c]
            g_mean = k * res * prec[c]
        else:  # seeds jointly Normal, covariance sigma^2 I + tau^2 11': v = sigma^2 + k tau^2
            j = tp0 + int(point[i, layout[_PNG]])
            ktau2 = k * tau_pt2[j - tp0]
            var = 1.0 / prec[c] + ktau2
            q = k * res * res / var
            lp += (
                -(k - 1.0) * x[ls0 + c]
                - 0.5 * math.log(var)
                - 0.5 * point[i, psc] * prec[c]
                - 0.5 * q
            )
            # d v / d log sigma = 2 sigma^2, d v / d log tau = 2 k tau^2
            grad[ls0 + c] += -(k - 1.0) - (1.0 - q) / (prec[c] * var) + point[i, psc] * prec[c]
            grad[j] += -(1.0 - q) * ktau2 / var
            g_mean = k * res / var
        g_theta[c, 0] += g_mean
        if law == 1:
            g_theta[c, 1] += g_mean * (sig_gap[c] - su)
            g_theta[c, 2] -= g_mean * xi * a * su
        elif law == 2:
            g_theta[c, 1] += g_mean * (sig_gap[c] - su)
            # d inner / d alpha = -x_b sig0 - (x - x_b) sv; d inner / d x_b = alpha (sv - sig0)
            g_theta[c, 2] -= g_mean * su * a * (xb * sig0[c] + (xi - xb) * sv)
            grad[brk0 + c] += g_mean * su * a * (sv - sig0[c])
        else:
            g_theta[c, 1] -= g_mean * xi * a

    # back through theta to raw, lin and tau_curve
    g_lin = np.empty((n_curves, P))
    for c in range(n_curves):
        for p in range(P):
            w = curve[c, wcol + p]
            A = scale_c[c, p]
            dev = x[raw0 + c * P + p] - w * lin[c, p]
            gt = g_theta[c, p]
            grad[raw0 + c * P + p] += gt * A
            # raw's own density depends on lin through dev: d/d lin = w (dev / tau_c^(2 w))
            g_lin[c, p] = gt * (1.0 - A * w) + w * r_raw[c, p]
            grad[tc0 + p] += gt * (1.0 - w) * A * dev
    # ... and from lin to mu, the m slope and the group effects
    for c in range(n_curves):
        for p in range(P):
            grad[mu0 + p] += g_lin[c, p]
    if ms0 >= 0:
        for c in range(n_curves):
            for p in range(P):
                grad[ms0 + p] += g_lin[c, p] * curve[c, lmcol]
    for gi in range(n_groups):
        pooled, L, tau0, z0, icol, gcol = _group(layout, gi)
        K = L - 1
        g_eff = np.zeros((L + 1, P))  # last row: excluded levels (no effect)
        for c in range(n_curves):
            level = int(curve[c, icol])
            for p in range(P):
                g_eff[level, p] += g_lin[c, p]
        for p in range(P):
            scale_e, w = 1.0, 0.0
            if pooled == 1:
                w = group[p, gcol]
                scale_e = math.exp((1.0 - w) * x[tau0 + p])
            acc = 0.0  # sum over levels of d/d effect times the unscaled effect
            pre = 0.0  # the Helmert basis's transpose: prefix sums over the levels
            for k in range(K):
                pre += g_eff[k, p]
                s = (pre - (k + 1.0) * g_eff[k + 1, p]) * consts[c_helmert + k]
                grad[z0 + p * K + k] += scale_e * s
                acc += s * x[z0 + p * K + k]
            if pooled == 1:  # effect = tau^(1 - w) z: d/d log tau = (1 - w) effect
                grad[tau0 + p] += (1.0 - w) * scale_e * acc
    return lp, grad
