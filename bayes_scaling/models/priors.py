"""Weakly informative priors of the hierarchical scaling-law model, documented in one place.

The model works on **normalised** errors ``e = error / target_scale`` and on the log scale.
Each curve ``c`` has three curve-level parameters (see :mod:`bayes_scaling.models.laws`):

``log_e_ref``
    log of the expected normalised error at the reference size ``n_ref`` (the geometric
    centre of the observed sizes, stored with the fit).
``logit_gap``
    logit of the gap fraction ``g = C / e_ref`` in (0, 1): the share of the error at
    ``n_ref`` that no amount of source data removes.
``log_alpha``
    log of the power-law exponent.

so that ``C = g e_ref`` and ``D = (1 - g) e_ref n_ref^alpha`` (for ``law="power"`` there is
no gap and ``logit_gap`` is absent). Each parameter vector is ``mu + sum_j effect_j[level]
+ curve residual``; the effects of grouping column ``j`` are zero-sum normals with scale
``tau_j``, the curve residual is normal with scale ``tau_curve`` (both sampled partially
centred by default, see ``ScalingLawModel(centring=...)``). Observation noise on the log
scale is per curve: ``log sigma_c ~ Normal(mu_log_sigma, tau_log_sigma)``.

All prior hyper-parameters live in :class:`Priors`; :meth:`Priors.describe` renders the
table below for reports. Defaults (normalised scale, natural logs):

==================  ==========================  =============================================
parameter           prior                       meaning / 90 % prior range
==================  ==========================  =============================================
mu[log_e_ref]       Normal(log 0.5, 1.0)        e_ref in about [0.10, 2.6]
mu[logit_gap]       Normal(0, 1.5)              gap fraction g in about [0.08, 0.92]
mu[log_alpha]       Normal(log 0.5, 0.75)       alpha in about [0.15, 1.7]
tau_<group>         Gamma(2, 4) (mean 0.5)      spread of a group's effects: [0.09, 1.2]
                    x spread_scale (1, 2, 0.4)  for log_e_ref, logit_gap, log_alpha
tau_curve           Gamma(2, 4) (mean 0.5)      curve-to-curve spread within groups
                    x spread_scale              (as tau_<group>)
mu_log_sigma        Normal(log 0.1, 1.0)        typical seed-to-seed log-error noise
tau_log_sigma       Gamma(2, 4)                 spread of log sigma across curves (mode 0.25)
nu (StudentT)       Gamma(2, 0.1)               tail weight of the StudentT likelihood
log_alpha2 - log_alpha  Normal(0, 0.5)          broken power law: change of slope
log_break           Normal(centre, half-range)  broken_power, mmf: break point in log n
                    x 0.5 (the curve's own range)
m_slope             Normal(0, 0.5)              change per unit of log m (curves measured
                    x spread_scale              at several experimental sizes m)
==================  ==========================  =============================================

The ranges above are those of the population means. A single curve's parameters add the
group and curve spreads: with the defaults and three grouping columns a curve's ``alpha`` has
a prior 90 % range of about [0.09, 3], so far below ``n_ref`` (where ``(n / n_ref)^-alpha``
is large) the prior predictive puts much mass on errors far above the target's standard
deviation. The data dominate these directions in practice, but the prior is weaker there
than it needs to be.

The spreads ``tau_<group>`` and ``tau_curve`` have boundary-avoiding ``Gamma(2, 2 / scale)``
priors with mean ``scale`` (``sd_family="gamma"``, the default; :data:`SD_PRIOR_SHAPE`;
Chung et al. 2013): their density vanishes at zero, so little mass sits where a spread
collapses to zero and the sampler rarely enters the funnel there (with few levels, e.g.
three databases, the data cannot tell a spread from zero and a HalfNormal leaves the
sampler in that funnel). With mean 0.5 the Gamma's 90 % range is about [0.09, 1.2].
``Priors(sd_family="halfnormal")`` restores ``HalfNormal(scale)`` priors (upper 90 % point
0.82 for scale 0.5), the earlier default.

``tau_log_sigma`` has a boundary-avoiding Gamma prior so the (centred) noise hierarchy has no
funnel at zero; with several seeds per point the noise of each curve is well identified and
the prior matters little.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.exceptions import BayesScalingError

#: Families of the group/curve standard-deviation priors (``Priors.sd_family``).
SD_FAMILIES: tuple[str, ...] = ("halfnormal", "gamma")
#: Shape of the Gamma priors on the hierarchy's standard deviations (rate = shape / mean).
SD_PRIOR_SHAPE: float = 2.0


def sd_prior(mean: Any) -> tuple[float, Any]:
    """Return ``(shape, rate)`` of the boundary-avoiding Gamma prior with mean ``mean``.

    ``mean`` may be an array (one mean per parameter): the rate is then an array too.
    """
    rate = SD_PRIOR_SHAPE / np.asarray(mean, dtype=float)
    return SD_PRIOR_SHAPE, float(rate) if rate.ndim == 0 else rate


#: Names of the hierarchical curve-level parameters, in order.
CURVE_PARAMS: tuple[str, ...] = ("log_e_ref", "logit_gap", "log_alpha")


@dataclass(frozen=True)
class Priors:
    """Hyper-parameters of the priors (normalised error scale, natural logs).

    Every ``(mu, sigma)`` pair is a Normal location and scale; ``group_sd`` and
    ``curve_sd`` are the means of the Gamma priors on the hierarchy's standard deviations
    (the scales with ``sd_family="halfnormal"``).

    Parameters
    ----------
    log_e_ref : tuple of float
        Normal prior on the population mean of ``log e_ref``.
    logit_gap : tuple of float
        Normal prior on the population mean of ``logit(C / e_ref)``.
    log_alpha : tuple of float
        Normal prior on the population mean of ``log alpha``.
    group_sd : float
        Scale of the prior of every group-effect standard deviation ``tau_<group>``.
    curve_sd : float
        Scale of the prior of the curve-level standard deviation ``tau_curve``.
    sd_family : {"gamma", "halfnormal"}
        Family of the ``tau_<group>`` and ``tau_curve`` priors: the boundary-avoiding
        ``Gamma(2, 2 / scale)`` (mean ``scale``; default) or ``HalfNormal(scale)``.
    log_sigma : tuple of float
        Normal prior on ``mu_log_sigma`` (log of the seed-to-seed noise on the log scale).
    log_sigma_sd : tuple of float
        Gamma(shape, rate) prior on ``tau_log_sigma``.
    nu : tuple of float
        Gamma(shape, rate) prior on the StudentT degrees of freedom.
    spread_scale : tuple of float
        Per curve parameter (``log_e_ref``, ``logit_gap``, ``log_alpha``), the factor by
        which ``group_sd`` and ``curve_sd`` are multiplied for that parameter's spreads
        (default ``(1, 2, 0.4)``: prior mean spreads 0.5, 1.0 and 0.2 with the default
        scales). Decay rates vary less between curves than plateaus do; with one scale for
        all three, a flat curve could be explained either by its gap or by a decay rate
        near zero, and the posterior of the real headline curves split between the two
        explanations (R-hat up to 1.22, issue 15). Fixed effects (grouping columns with
        fewer than 3 levels) keep ``group_sd``: they are systematic differences (transfer
        vs scratch), not spreads.
    m_slope_sd : float
        Normal scale (times ``spread_scale``) of ``m_slope``, the change of each curve
        parameter per unit of ``log m`` when a task was measured at several experimental
        sizes ``m`` (see :func:`bayes_scaling.models._data.m_covariate`). With the default
        0.5, ``log alpha`` may change by about ±0.2 per e-fold of ``m`` (90 %: ±0.33).
    delta_log_alpha_sd : float
        Broken power law: Normal scale of ``log alpha2 - log alpha``.
    log_break_sd_factor : float
        ``broken_power`` and ``mmf``: the break's prior sd in ``log n`` is this factor times
        half the curve's observed ``log n`` range; its mean is the centre of that range.
    point_sd : float
        HalfNormal scale of ``tau_point``, the sd (log scale) of the noise that all seeds of
        one ``(curve, n)`` point share (``point_noise``; e.g. the scarce harness's trials of
        one size reuse five pretrained networks). The default 0.1 allows up to ~20 %
        (95 %) shared scatter of a point's mean error; the committed scarce curves need
        about 4 % (median over their transfer curves).

    Examples
    --------
    >>> from bayes_scaling.models.priors import Priors
    >>> p = Priors(log_alpha=(-1.0, 0.5))
    >>> Priors.from_dict(p.to_dict()) == p
    True

    """

    log_e_ref: tuple[float, float] = (math.log(0.5), 1.0)
    logit_gap: tuple[float, float] = (0.0, 1.5)
    log_alpha: tuple[float, float] = (math.log(0.5), 0.75)
    group_sd: float = 0.5
    curve_sd: float = 0.5
    log_sigma: tuple[float, float] = (math.log(0.1), 1.0)
    log_sigma_sd: tuple[float, float] = (2.0, 4.0)
    nu: tuple[float, float] = (2.0, 0.1)
    spread_scale: tuple[float, float, float] = (1.0, 2.0, 0.4)
    delta_log_alpha_sd: float = 0.5
    log_break_sd_factor: float = 0.5
    sd_family: str = "gamma"
    m_slope_sd: float = 0.5
    point_sd: float = 0.1

    def __post_init__(self) -> None:
        for name in ("log_e_ref", "logit_gap", "log_alpha", "log_sigma", "log_sigma_sd", "nu"):
            value = getattr(self, name)
            try:
                pair = tuple(float(v) for v in value)
            except TypeError as exc:
                raise BayesScalingError(
                    f"Prior {name!r} must be a pair of numbers, got {value!r}."
                ) from exc
            if len(pair) != 2 or not all(math.isfinite(v) for v in pair):
                raise BayesScalingError(f"Prior {name!r} must be a pair of finite numbers.")
            if pair[1] <= 0:
                raise BayesScalingError(f"Prior {name!r}: the scale/rate must be > 0.")
            if name in ("log_sigma_sd", "nu") and pair[0] <= 0:
                raise BayesScalingError(f"Prior {name!r}: the Gamma shape must be > 0.")
            object.__setattr__(self, name, pair)
        try:
            spread = tuple(float(v) for v in self.spread_scale)
        except TypeError as exc:
            raise BayesScalingError(
                f"Prior 'spread_scale' must be three numbers, got {self.spread_scale!r}."
            ) from exc
        if len(spread) != len(CURVE_PARAMS) or not all(math.isfinite(v) and v > 0 for v in spread):
            raise BayesScalingError(
                f"Prior 'spread_scale' must be {len(CURVE_PARAMS)} finite numbers > 0 (one per "
                f"{', '.join(CURVE_PARAMS)}), got {self.spread_scale!r}."
            )
        object.__setattr__(self, "spread_scale", spread)
        if self.sd_family not in SD_FAMILIES:
            raise BayesScalingError(
                f"Prior 'sd_family' must be one of {SD_FAMILIES}, got {self.sd_family!r}."
            )
        for name in (
            "group_sd",
            "curve_sd",
            "delta_log_alpha_sd",
            "log_break_sd_factor",
            "m_slope_sd",
            "point_sd",
        ):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value > 0):
                raise BayesScalingError(f"Prior {name!r} must be a finite number > 0.")
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ helpers
    def sd_text(self, scale: float) -> str:
        """Describe the prior of a group/curve standard deviation with this scale."""
        if self.sd_family == "gamma":
            shape, rate = sd_prior(scale)
            return f"Gamma({shape:.3g}, {rate:.3g}) (mean {scale:.3g})"
        return f"HalfNormal({scale:.3g})"

    def spread(self, base: float, params: Sequence[str]) -> np.ndarray:
        """Prior mean (scale) of each parameter's spread: ``base`` times its ``spread_scale``."""
        factor = dict(zip(CURVE_PARAMS, self.spread_scale, strict=True))
        return np.array([float(base) * factor[p] for p in params])

    def break_prior(self, lo: Any, hi: Any) -> tuple[Any, Any]:
        """Return the Normal ``(loc, scale)`` of ``log_break`` for a ``log n`` range ``[lo, hi]``.

        The centre of the range, and :attr:`log_break_sd_factor` times its half-width (at
        least 0.5); scalars or arrays (one range per curve).
        """
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        return 0.5 * (lo + hi), self.log_break_sd_factor * np.maximum(0.5 * (hi - lo), 0.5)

    def location(self, param: str) -> tuple[float, float]:
        """Return the Normal ``(mu, sigma)`` of the population mean of ``param``."""
        if param not in CURVE_PARAMS:
            raise BayesScalingError(f"Unknown curve parameter {param!r}; known {CURVE_PARAMS}.")
        return getattr(self, param)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (lists for pairs)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Priors:
        """Build from :meth:`to_dict` output (unknown keys are an error)."""
        if data is None:
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BayesScalingError(f"Unknown prior setting(s) {unknown}; known: {sorted(known)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def describe(self) -> pd.DataFrame:
        """Return a table of every prior (parameter, distribution, meaning)."""
        e, g, a = self.log_e_ref, self.logit_gap, self.log_alpha
        rows = [
            (
                "mu[log_e_ref]",
                f"Normal({e[0]:.3g}, {e[1]:.3g})",
                "population log error at the reference n (normalised)",
            ),
            (
                "mu[logit_gap]",
                f"Normal({g[0]:.3g}, {g[1]:.3g})",
                "population logit of the gap fraction C / e_ref",
            ),
            (
                "mu[log_alpha]",
                f"Normal({a[0]:.3g}, {a[1]:.3g})",
                "population log power-law exponent",
            ),
            (
                "tau_<group>",
                self.sd_text(self.group_sd),
                "sd of each grouping column's effects (zero-sum); x spread_scale "
                f"{tuple(round(v, 3) for v in self.spread_scale)} per parameter",
            ),
            (
                "tau_curve",
                self.sd_text(self.curve_sd),
                "sd of curve-level deviations; x spread_scale per parameter",
            ),
            (
                "mu_log_sigma",
                f"Normal({self.log_sigma[0]:.3g}, {self.log_sigma[1]:.3g})",
                "typical log-scale noise between seeds",
            ),
            (
                "tau_log_sigma",
                f"Gamma({self.log_sigma_sd[0]:.3g}, {self.log_sigma_sd[1]:.3g})",
                "spread of log noise across curves (boundary-avoiding)",
            ),
            (
                "nu",
                f"Gamma({self.nu[0]:.3g}, {self.nu[1]:.3g})",
                "StudentT degrees of freedom (likelihood='studentt' only)",
            ),
            (
                "log_alpha2 - log_alpha",
                f"Normal(0, {self.delta_log_alpha_sd:.3g})",
                "broken power law: change of exponent after the break",
            ),
            (
                "log_break",
                f"Normal(centre, {self.log_break_sd_factor:.3g} x half-range)",
                "broken_power, mmf: the break in log n (the curve's own range)",
            ),
            (
                "m_slope",
                f"Normal(0, {self.m_slope_sd:.3g}) x spread_scale",
                "change of each curve parameter per unit of log m (tasks measured at "
                "several experimental sizes m)",
            ),
        ]
        return pd.DataFrame(rows, columns=["parameter", "prior", "meaning"])
