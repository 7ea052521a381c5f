"""How wrong the law's extrapolation gets beyond the data, learnt from the data's own tails.

The posterior of a learning curve's law is sharp because it assumes the law is exactly
right; real curves bend away from it beyond the sizes measured (scratch curves steepen,
transfer curves saturate early: issue 14). This module adds a **discrepancy that grows
with the distance beyond the largest observed size** ``n_a`` of each curve: every posterior
draw of the law is bent there, continuously, by a random change of its gap share and of its
exponent,

    e'(n) = e(n_a) [g' + (1 - g') (n / n_a)^-alpha']     for n > n_a
    logit g' = logit(C / e(n_a)) + eta_g,   log alpha' = log alpha + eta_a
    eta_g ~ Normal(mu_g, kappa_g),   eta_a ~ Normal(mu_a, kappa_a)   (independent per curve)

so predictions at and below ``n_a`` are unchanged (as sharp as the fit) and the bend, its
shift and its spread, grows with ``log(n / n_a)``. ``e'`` is again a law
``D' n^-alpha' + C'``, so every decision that reads ``(D, alpha, C)`` draws works on the
bent draws unchanged.

The means ``(mu_g, mu_a)`` (a systematic bend: ``mu_g < 0`` or ``mu_a > 0`` when real
curves tend to steepen beyond the law, the other signs when they flatten) and the scales
``(kappa_g, kappa_a)`` are **pooled across curves** of a kind (transfer, scratch) and
**learnt from the data's held-out tails** (:func:`estimate_spread`): each curve is cut at
``n_max / 4`` and ``n_max / 8`` (:data:`CUTS`; a cut that keeps the same sizes as another
is used once), its law is refitted to the kept sizes with the fitted hierarchy as its prior
(a maximum a posteriori fit: the model's prior for that curve given the posterior's
population location and spread), bent as above from the cut, and the held-out seed means
score every ``(mu_g, mu_a, kappa_g, kappa_a)`` on a grid (:data:`GRIDS`; the likelihood of
a curve's tail integrates over its ``eta``). The grid posterior (a normal prior on each
mean, half-normal on each scale: :data:`PRIOR_SCALE`) is kept; each posterior draw of the
law is bent with hyper-parameters drawn from it, so their own uncertainty is carried too.
Everything is deterministic given the fit (fixed pseudo-random draws, the fit's prediction
seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special
from scipy.optimize import least_squares

from bayes_scaling.models._data import CurveData, curve_kinds
from bayes_scaling.models.graph import curve_location
from bayes_scaling.models.laws import ScalingLaw
from bayes_scaling.models.posterior import CurvePosterior
from bayes_scaling.models.priors import Priors

#: Cut-offs of the self-backtest: keep ``n <= n_max / F`` of each curve, score the rest.
CUTS: tuple[float, ...] = (4.0, 8.0)
#: Fewest kept distinct sizes for a cut to be used (the law has three parameters).
MIN_KEPT_SIZES: int = 3
#: Grids of the bend's hyper-parameters, in the order of the grid posterior's axes: means
#: (``mu_gap`` on the logit gap share, ``mu_alpha`` on log alpha) and spreads
#: (``kappa_gap``, ``kappa_alpha``).
GRIDS: dict[str, np.ndarray] = {
    "mu_gap": np.linspace(-3.0, 1.5, 7),
    "mu_alpha": np.linspace(-0.4, 1.2, 5),
    "kappa_gap": np.linspace(0.0, 4.0, 9),
    "kappa_alpha": np.linspace(0.0, 1.2, 7),
}
#: Prior scales: Normal(0, s) on the means, half-normal(s) on the spreads.
PRIOR_SCALE: dict[str, float] = {
    "mu_gap": 1.5, "mu_alpha": 0.5, "kappa_gap": 2.0, "kappa_alpha": 0.6,
}  # fmt: skip
#: Fewest curves with a usable tail for a kind to get its own grid posterior (else: all kinds).
MIN_TAIL_CURVES: int = 3
#: Monte Carlo draws of ``eta`` per tail; fixed seed (deterministic scores).
N_ETA: int = 256
#: Floor of a held-out point's standard deviation on the log scale (the Monte Carlo
#: integral's resolution and the refit's own error; 2 %).
SD_FLOOR: float = 0.02
#: Bounds of the refitted parameters.
#: Largest exponent of a law used for decisions (bent or anchored): beyond it a doubling of
#: n already divides the excess error over C by > 250, so capping changes no decision, and
#: it keeps ``D = excess * n_max^alpha`` finite (the steepening ``mmf`` law can fit a cliff
#: with a very large exponent).
MAX_ALPHA: float = 8.0

_BOUNDS = {
    "log_e_ref": (-12.0, 8.0),
    "logit_gap": (-12.0, 12.0),
    "log_alpha": (-7.0, 2.1),
    "log_alpha2": (-7.0, 2.1),
    "log_break": (-20.0, 20.0),
}


@dataclass(frozen=True)
class ExtrapolationSpread:
    """Pooled bend (shift and spread) of the law's extrapolation, learnt from held-out tails.

    Attributes
    ----------
    weights : xarray.DataArray
        Grid posterior ``(kind, mu_gap, mu_alpha, kappa_gap, kappa_alpha)`` (sums to 1 per
        kind; grids :data:`GRIDS`).
    tails : pandas.DataFrame
        One row per curve and cut used: curve, kind, cut, kept and held-out sizes.

    """

    weights: xr.DataArray
    tails: pd.DataFrame

    @property
    def kinds(self) -> list[str]:
        """Kinds with their own grid posterior (``"all"`` pools every curve)."""
        return [str(k) for k in self.weights["kind"].values]

    def summary(self) -> pd.DataFrame:
        """Posterior mean and 90 % range of each hyper-parameter, per kind, with the tails used."""
        rows = []
        for kind in self.kinds:
            w = self.weights.sel(kind=kind)
            for name, grid in GRIDS.items():
                marg = w.sum([a for a in GRIDS if a != name]).values
                cdf = np.cumsum(marg)
                lo = grid[np.searchsorted(cdf, 0.05)]
                hi = grid[min(np.searchsorted(cdf, 0.95), len(grid) - 1)]
                used = self.tails if kind == "all" else self.tails[self.tails["kind"] == kind]
                rows.append({
                    "kind": kind, "parameter": name, "mean": float(marg @ grid),
                    "lower": float(lo), "upper": float(hi),
                    "curves": int(used["curve"].nunique()), "tails": len(used),
                })  # fmt: skip
        return pd.DataFrame(rows)

    def sentence(self) -> str:
        """One sentence for reports: what the decisions' extrapolation carries, per kind."""
        s = self.summary().set_index(["kind", "parameter"])
        kinds = [k for k in self.kinds if k != "all"] or ["all"]
        parts = []
        for kind in kinds:
            v = {name: s.loc[(kind, name)] for name in GRIDS}
            parts.append(
                f"{'all curves' if kind == 'all' else kind + ' curves'}: logit gap share "
                f"shifted by {v['mu_gap']['mean']:+.2g} ± {v['kappa_gap']['mean']:.2g}, log α "
                f"by {v['mu_alpha']['mean']:+.2g} ± {v['kappa_alpha']['mean']:.2g} (from "
                f"{int(v['mu_gap']['tails'])} tails of {int(v['mu_gap']['curves'])} curves)"
            )
        return (
            "Beyond the largest size measured, every answer includes how far real curves "
            "bend away from the law, learnt from the curves' own held-out tails (each cut at "
            f"n_max/{int(CUTS[0])} and n_max/{int(CUTS[-1])}, refitted, and scored on the "
            "sizes left out; a negative gap shift or a positive α shift means the curves "
            "steepen beyond the law): " + "; ".join(parts) + "."
        )

    def draw(self, kinds: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        """Draws of ``(mu_g, mu_a, kappa_g, kappa_a)`` per posterior draw and curve kind.

        Returns an array ``(n_draws, len(kinds), 4)``; curves of one kind share the draw
        (pooled hyper-parameters), a kind without its own grid posterior uses ``"all"``.
        """
        out = np.zeros((n_draws, len(kinds), len(GRIDS)))
        mesh = np.meshgrid(*GRIDS.values(), indexing="ij")
        flat = np.column_stack([m.ravel() for m in mesh])
        for kind in pd.unique(np.asarray(kinds, dtype=object)):
            key = kind if kind in self.kinds else "all"
            p = self.weights.sel(kind=key).values.ravel()
            idx = rng.choice(p.size, size=n_draws, p=p / p.sum())
            out[:, np.asarray(kinds, dtype=object) == kind, :] = flat[idx][:, None, :]
        return out


def bend(
    log_e_anchor: np.ndarray,
    gap_share: np.ndarray,
    alpha: np.ndarray,
    eta_gap: np.ndarray,
    eta_alpha: np.ndarray,
    *,
    has_gap: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bent law at the anchor: ``(log e(n_a), gap share g', alpha')`` (broadcasting).

    ``gap_share`` is ``C / e(n_a)``; a law without a gap keeps ``g' = 0`` and only its
    exponent is bent.
    """
    alpha_b = np.minimum(alpha * np.exp(eta_alpha), MAX_ALPHA)
    if not has_gap:
        return log_e_anchor, np.zeros_like(alpha_b * gap_share), alpha_b
    g = np.clip(gap_share, 1e-12, 1.0 - 1e-12)
    return log_e_anchor, special.expit(special.logit(g) + eta_gap), alpha_b


def bent_log_error(
    x: np.ndarray, x_anchor: np.ndarray, log_e_anchor: np.ndarray, g: np.ndarray, alpha: np.ndarray
) -> np.ndarray:
    """``log e'(x)`` of the bent law (``x`` in the same ``log n`` units as ``x_anchor``)."""
    decay = np.exp(-alpha * (x - x_anchor))
    return log_e_anchor + np.log(g + (1.0 - g) * decay)


def _refit(
    law: ScalingLaw,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    loc: np.ndarray,
    sd: np.ndarray,
) -> np.ndarray:
    """Maximum a posteriori law parameters of one truncated curve under the fitted prior.

    ``y`` are point means with weights ``w = 1 / var`` (``k / sigma^2`` without shared
    point noise); the prior is
    ``Normal(loc, sd)`` per parameter of ``law.params`` (the hierarchy's location and
    spread for the curve; the graph's own priors for an asymptotic law's extras).
    """
    names = list(law.params)
    root_w = np.sqrt(w)

    def resid(v: np.ndarray) -> np.ndarray:
        fit = law.log_mean(x, dict(zip(names, v, strict=True))) - y
        return np.concatenate([fit * root_w, (v - loc) / sd])

    lo = np.array([_BOUNDS[p][0] for p in names])
    hi = np.array([_BOUNDS[p][1] for p in names])
    v0 = np.clip(loc, lo + 1e-6, hi - 1e-6)
    return least_squares(resid, v0, bounds=(lo, hi), method="trf").x


def mean_curve_location(post: xr.Dataset, data: CurveData, law: ScalingLaw) -> np.ndarray:
    """Posterior mean of each curve's prior location ``mu + effects + m_slope s_c``."""
    P = list(law.pooled)

    def mean(name: str, *dims: str) -> np.ndarray:
        return post[name].mean(("chain", "draw")).transpose(*dims).values

    effects = {g.column: mean(f"effect_{g.column}", g.column, "param") for g in data.groups}
    slope = mean("m_slope", "param") if data.has_m_slope else None
    lin = curve_location(mean("mu", "param"), effects, slope, data)
    return np.broadcast_to(lin, (data.n_curves, lin.shape[-1]))[:, : len(P)]


def _with_extras(
    law: ScalingLaw,
    loc: np.ndarray,
    sd: np.ndarray,
    pooled: list[str],
    x_kept: np.ndarray,
    priors: Priors,
) -> tuple[np.ndarray, np.ndarray]:
    """Prior location and scale of all ``law.params`` for one truncated curve.

    An asymptotic law's extras get the graph's priors as a fit to the kept sizes alone
    would set them (``graph.build_pymc_model``): the break centred on the kept ``log n``
    range, the second exponent around the first.
    """
    break_loc, break_sd = priors.break_prior(x_kept.min(), x_kept.max())
    extra_loc = {"log_break": break_loc, "log_alpha2": loc[pooled.index("log_alpha")]}
    extra_sd = {"log_break": break_sd, "log_alpha2": priors.delta_log_alpha_sd}
    return (
        np.concatenate([loc, [extra_loc[e] for e in law.extra]]),
        np.concatenate([sd, [extra_sd[e] for e in law.extra]]),
    )


def tail_cases(
    post: xr.Dataset, data: CurveData, law: ScalingLaw, priors: Priors
) -> tuple[pd.DataFrame, list[dict[str, np.ndarray]]]:
    """Truncate every curve at each cut, refit it (``law`` itself), collect its held-out tail.

    The tail is scored against the law's own extrapolation: anchored at the kept data's
    largest size, with its (large-``n``) exponent and gap, as :func:`bent_draws` bends it.
    """
    P = list(law.pooled)
    if "mu" in post:
        loc = mean_curve_location(post, data, law)
        sd = post["tau_curve"].mean(("chain", "draw")).transpose("param").values[: len(P)]
    else:  # single curve: the population prior
        loc = np.array([[priors.location(p)[0] for p in P]])
        sd = np.hypot([priors.location(p)[1] for p in P], priors.spread(priors.curve_sd, P))
    loc = np.broadcast_to(loc, (data.n_curves, len(P)))
    sd = np.broadcast_to(sd, (len(P),))
    sigma = np.exp(post["log_sigma"].mean(("chain", "draw")).transpose("curve").values)
    point_sd = (
        post["point_sd"].mean(("chain", "draw")).transpose("curve").values
        if "point_sd" in post
        else np.zeros(data.n_curves)
    )
    kinds = curve_kinds(data.meta)
    rows, cases = [], []
    for c in range(data.n_curves):
        sel = data.point_curve == c
        n = data.point_n[sel].astype(float)
        x, y, k = data.point_x[sel], data.point_ybar[sel], data.point_k[sel].astype(float)
        seen: set[int] = set()
        for cut in CUTS:
            kept = n <= n.max() / cut
            if kept.sum() < MIN_KEPT_SIZES or kept.all() or int(kept.sum()) in seen:
                continue  # too few kept sizes, nothing held out, or the same tail again
            seen.add(int(kept.sum()))
            loc_c, sd_c = _with_extras(law, loc[c], sd, P, x[kept], priors)
            w = 1.0 / (sigma[c] ** 2 / k[kept] + point_sd[c] ** 2)  # 1 / var(seed mean)
            theta = _refit(law, x[kept], y[kept], w, loc_c, sd_c)
            p = {name: np.asarray(v) for name, v in zip(law.params, theta, strict=True)}
            xa = float(x[kept].max())
            log_ea = float(law.log_mean(np.asarray(xa), p))
            _, alpha, C = law.dac(p, data.log_n_ref)
            held = ~kept
            cases.append({
                "x": x[held], "y": y[held], "xa": xa, "log_ea": log_ea,
                "g": min(float(C) / np.exp(log_ea), 1.0 - 1e-9), "alpha": float(alpha),
                "var": sigma[c] ** 2 / k[held] + point_sd[c] ** 2 + SD_FLOOR**2,
            })  # fmt: skip
            rows.append({
                "curve": data.curve_ids[c], "kind": kinds[c], "cut": cut,
                "kept": int(kept.sum()), "held_out": int(held.sum()),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=["curve", "kind", "cut", "kept", "held_out"]), cases


def _log_scores(cases: list[dict[str, np.ndarray]], has_gap: bool) -> np.ndarray:
    """Log predictive density of every tail on the grid: ``(case, *GRIDS axes)``."""
    rng = np.random.default_rng(20250146)
    z = rng.standard_normal((N_ETA, 2))
    shape = tuple(v.size for v in GRIDS.values())
    out = np.zeros((len(cases), *shape))
    mg, ma, kg, ka = (
        v.reshape([-1 if j == i else 1 for j in range(len(GRIDS))] + [1])
        for i, v in enumerate(GRIDS.values())
    )  # each broadcast along its own axis, then eta
    eta_g = mg + kg * z[:, 0]  # (mu_g, 1, kappa_g, 1, eta)
    eta_a = ma + ka * z[:, 1]  # (1, mu_a, 1, kappa_a, eta)
    for i, case in enumerate(cases):
        _, g, a = bend(
            np.asarray(case["log_ea"]), np.asarray(case["g"]), np.asarray(case["alpha"]),
            eta_g, eta_a, has_gap=has_gap,
        )  # fmt: skip
        pred = bent_log_error(
            case["x"], case["xa"], case["log_ea"], g[..., None], a[..., None]
        )  # (*grid, eta, point)
        ll = -0.5 * ((case["y"] - pred) ** 2 / case["var"] + np.log(2 * np.pi * case["var"]))
        out[i] = special.logsumexp(ll.sum(axis=-1), axis=-1) - np.log(N_ETA)
    return out


def estimate_spread(
    post: xr.Dataset, data: CurveData, law: ScalingLaw, priors: Priors
) -> ExtrapolationSpread:
    """Learn the extrapolation spreads from the curves' held-out tails (module docstring)."""
    tails, cases = tail_cases(post, data, law, priors)
    scores = (
        _log_scores(cases, law.has_gap)
        if cases
        else np.zeros((0, *(v.size for v in GRIDS.values())))
    )
    log_prior = sum(
        -0.5
        * (v / PRIOR_SCALE[name]).reshape([-1 if j == i else 1 for j in range(len(GRIDS))]) ** 2
        for i, (name, v) in enumerate(GRIDS.items())
    )
    kinds = ["all"]
    if len(tails):
        per_kind = tails.groupby("kind")["curve"].nunique()
        kinds += sorted(str(k) for k in per_kind.index[per_kind >= MIN_TAIL_CURVES])
    weights = []
    for kind in kinds:
        rows = np.ones(len(tails), dtype=bool) if kind == "all" else (tails["kind"] == kind)
        lp = log_prior + scores[np.asarray(rows)].sum(axis=0) if len(tails) else log_prior
        w = np.exp(lp - lp.max())
        weights.append(w / w.sum())
    da = xr.DataArray(
        np.stack(weights),
        dims=("kind", *GRIDS),
        coords={"kind": kinds, **GRIDS},
        name="weight",
    )
    return ExtrapolationSpread(da, tails)


def bent_draws(
    spread: ExtrapolationSpread,
    D: np.ndarray,
    alpha: np.ndarray,
    C: np.ndarray,
    n_anchor: np.ndarray,
    kinds: np.ndarray,
    rng: np.random.Generator,
    *,
    has_gap: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bend ``(sample, curve)`` draws of ``(D, alpha, C)`` beyond ``n_anchor`` per curve.

    Returns ``(D', alpha', C')`` of the bent laws (same shapes): equal to the law at
    ``n_anchor``, with the calibrated spread beyond it. Callers put an asymptotic law's draws
    through the curve at the anchor first (:func:`anchor_law`).
    """
    S, K = D.shape
    hyper = spread.draw(kinds, S, rng)  # mu_g, mu_a, kappa_g, kappa_a
    eta = hyper[..., :2] + rng.standard_normal((S, K, 2)) * hyper[..., 2:]
    n_a = np.asarray(n_anchor, dtype=float)[None, :]
    e_a = D * n_a ** (-alpha) + C
    _, g, a = bend(np.log(e_a), C / e_a, alpha, eta[..., 0], eta[..., 1], has_gap=has_gap)
    C_b = g * e_a
    D_b = (1.0 - g) * e_a * n_a**a
    return D_b, a, C_b


def anchor_law(
    D: np.ndarray,
    alpha: np.ndarray,
    C: np.ndarray,
    n_anchor: np.ndarray,
    log_e_anchor: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``D n^-alpha + C`` through the law's own value at ``n_anchor``, same ``alpha`` and ``C``.

    For the asymptotic laws (:attr:`~bayes_scaling.models.laws.ScalingLaw.asymptotic`),
    whose ``(D, alpha, C)`` describe the curve only far beyond the break: ``D`` is moved so
    that the law equals the curve at its largest observed size (the anchor every decision
    extrapolates from); exponents are capped at :data:`MAX_ALPHA`. ``(sample, curve)``
    arrays; ``n_anchor`` per curve.
    """
    n_a = np.asarray(n_anchor, dtype=float)[None, :]
    e_a = np.exp(log_e_anchor)
    C_a = np.minimum(C, e_a * (1.0 - 1e-9))  # the asymptote lies below the curve
    alpha = np.minimum(alpha, MAX_ALPHA)
    return (e_a - C_a) * n_a**alpha, alpha, C_a


def calibrated_posterior(
    spread: ExtrapolationSpread,
    D: np.ndarray,
    alpha: np.ndarray,
    C: np.ndarray,
    sigma: np.ndarray,
    meta: pd.DataFrame,
    seed: int,
    *,
    has_gap: bool = True,
    inside: np.ndarray | None = None,
) -> CurvePosterior:
    """Return the :class:`CurvePosterior` decisions use: laws bent beyond each ``n_max``.

    ``D, alpha, C, sigma`` are ``(sample, curve)`` draws of the fitted laws; the bending
    (:func:`bent_draws`) is seeded by ``seed``. The fitted law is kept as ``*_fit``;
    ``inside``: the law's own in-data curve draws, if it is not ``D n^-alpha + C`` there.
    """
    bent = bend_fitted(spread, D, alpha, C, meta, seed, has_gap=has_gap)
    return CurvePosterior.from_arrays(*bent, meta, sigma=sigma, fit=(D, alpha, C), inside=inside)


def bend_fitted(
    spread: ExtrapolationSpread,
    D: np.ndarray,
    alpha: np.ndarray,
    C: np.ndarray,
    meta: pd.DataFrame,
    seed: int,
    *,
    has_gap: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`bent_draws` of **all** fitted curves, anchored at their ``n_max``, seeded.

    One seed for every use (the calibrated posterior and ``predict``), so decisions and
    predictions read the same bent draws.
    """
    return bent_draws(
        spread, D, alpha, C, meta["n_max"].to_numpy(dtype=float), curve_kinds(meta),
        np.random.default_rng(seed), has_gap=has_gap,
    )  # fmt: skip
