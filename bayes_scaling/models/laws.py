"""Scaling laws as objects: the mean log error of a curve as a function of ``log n``.

Each law is written once against a tiny array namespace (:data:`NUMPY_OPS` or
:data:`PYTENSOR_OPS`), so the PyMC model, the pointwise log-likelihood, predictions and the
least-squares baseline all evaluate exactly the same expression.

All laws use the reference-size parameterisation (``x = log n - log n_ref``):

``power`` (no transfer gap, ``C = 0``)
    ``e(n) = e_ref (n / n_ref)^-alpha``
``power_gap`` (Minami et al. 2025)
    ``e(n) = e_ref [g + (1 - g)(n / n_ref)^-alpha] = D n^-alpha + C`` with
    ``C = g e_ref`` and ``D = (1 - g) e_ref n_ref^alpha``.
``broken_power`` (one smooth break, Caballero et al. 2022, with the gap)
    ``e(n) = e_ref [g + (1 - g) s(n)]``, ``log s = -alpha1 x - (alpha2 - alpha1) f
    [softplus((x - x_b) / f) - softplus(-x_b / f)]``; slope ``alpha1`` before the break
    ``n_b = n_ref e^{x_b}``, ``alpha2`` after it, smoothness ``f`` (:data:`BREAK_SMOOTHNESS`,
    in units of ``log n``). :meth:`ScalingLaw.dac` reports its large-``n`` asymptote
    ``D n^-alpha2 + C``.
``mmf`` (Morgan-Mercer-Flodin, the sigmoidal learning curve of Domhan et al. 2015 and
    Viering & Loog 2022, with the gap)
    ``e(n) = C + (E_0 - C) / (1 + (n / n_b)^alpha)``: flat at small ``n``, then
    **steepening** on log-log axes towards slope ``-alpha`` past ``n_b = n_ref e^{x_b}``
    (curves of models trained from scratch at small sizes look like this). In the reference
    parameterisation ``e(n) = e_ref [g + (1 - g) s(x)]``, ``log s = softplus(-alpha x_b) -
    softplus(alpha (x - x_b))``; :meth:`ScalingLaw.dac` reports its large-``n`` asymptote.

``broken_power`` and ``mmf`` are *asymptotic* laws (:attr:`ScalingLaw.asymptotic`): their
``(D, alpha, C)`` describe the curve far beyond the break, and their extra parameters have
no group effects. :func:`core_law` names the power law they reduce to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from bayes_scaling.exceptions import UnknownNameError

#: Width of the broken power law's transition, in natural-log units of ``n``.
BREAK_SMOOTHNESS: float = 1.0


def _np_softplus(x: Any) -> Any:
    return np.logaddexp(0.0, x)


#: Array namespace for NumPy evaluation.
NUMPY_OPS = SimpleNamespace(log=np.log, exp=np.exp, softplus=_np_softplus)


def _pytensor_ops() -> SimpleNamespace:
    import pytensor.tensor as pt

    return SimpleNamespace(log=pt.log, exp=pt.exp, softplus=pt.softplus)


class _LazyOps(SimpleNamespace):
    def __getattr__(self, name: str) -> Any:  # built on first use: pytensor import is slow
        ops = _pytensor_ops()
        self.__dict__.update(vars(ops))
        return getattr(ops, name)


#: Array namespace for PyTensor graphs.
PYTENSOR_OPS = _LazyOps()


def _log_g(ops: Any, logit_gap: Any) -> tuple[Any, Any]:
    """Return ``(log g, log(1 - g))`` for ``g = sigmoid(logit_gap)``, stably."""
    return -ops.softplus(-logit_gap), -ops.softplus(logit_gap)


@dataclass(frozen=True)
class ScalingLaw:
    """A learning-curve law with named curve-level parameters.

    Parameters
    ----------
    name : str
        Registry name (``"power"``, ``"power_gap"``, ``"broken_power"``, ``"mmf"``).
    description : str
        One-line formula.
    pooled : tuple of str
        Curve-level parameters that get the hierarchical (group + curve) structure.
    extra : tuple of str
        Curve-level parameters without group effects (the asymptotic laws only).
    terms_fn : callable
        ``(ops, p) -> tuple`` of curve-level terms (everything that does not depend on
        ``n``), from a mapping ``p`` of parameter arrays.
    point_fn : callable
        ``(ops, x, terms) -> log e(n)``, ``x = log n - log n_ref``, the terms broadcastable
        against ``x``.

    The law is split in two so that the PyMC graph computes the terms once per curve and
    only ``point_fn`` per point (``graph.build_pymc_model``): the transcendental functions
    of the parameters are then not repeated at every size (issue 15: about a third of the
    gradient's cost).

    """

    name: str
    description: str
    pooled: tuple[str, ...]
    extra: tuple[str, ...]
    terms_fn: Callable[[Any, Mapping[str, Any]], tuple[Any, ...]]
    point_fn: Callable[[Any, Any, tuple[Any, ...]], Any]

    @property
    def params(self) -> tuple[str, ...]:
        """All curve-level parameters."""
        return self.pooled + self.extra

    @property
    def asymptotic(self) -> bool:
        """Whether ``(D, alpha, C)`` of :meth:`dac` are only the law's large-``n`` asymptote."""
        return bool(self.extra)

    @property
    def has_gap(self) -> bool:
        """Whether the law has a transfer gap ``C``."""
        return "logit_gap" in self.pooled

    def log_mean(self, x: Any, params: Mapping[str, Any], ops: Any = NUMPY_OPS) -> Any:
        """Return the log of the expected (normalised) error at ``x = log n - log n_ref``."""
        return self.point_fn(ops, x, self.terms_fn(ops, params))

    def expected_error(
        self, n: np.ndarray, params: Mapping[str, np.ndarray], log_n_ref: float
    ) -> np.ndarray:
        """NumPy expected normalised error at sizes ``n`` (broadcasting with ``params``)."""
        x = np.log(np.asarray(n, dtype=float)) - log_n_ref
        return np.exp(self.log_mean(x, params, NUMPY_OPS))

    def dac(
        self, params: Mapping[str, np.ndarray], log_n_ref: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(D, alpha, C)`` of ``D n^-alpha + C`` (the large-n asymptote if broken)."""
        le = np.asarray(params["log_e_ref"], dtype=float)
        la = np.asarray(params["log_alpha"], dtype=float)
        if self.has_gap:
            log_g, log_1mg = _log_g(NUMPY_OPS, np.asarray(params["logit_gap"], dtype=float))
            C = np.exp(le + log_g)
        else:
            log_1mg = np.zeros_like(le)
            C = np.zeros_like(le)
        alpha = np.exp(la)
        if self.name == "broken_power":
            alpha2 = np.exp(np.asarray(params["log_alpha2"], dtype=float))
            xb = np.asarray(params["log_break"], dtype=float)
            delta = alpha2 - alpha
            f = BREAK_SMOOTHNESS
            log_D = (
                le + log_1mg + alpha2 * log_n_ref + delta * xb + delta * f * _np_softplus(-xb / f)
            )
            return np.exp(log_D), alpha2, C
        if self.name == "mmf":
            xb = np.asarray(params["log_break"], dtype=float)
            log_D = le + log_1mg + _np_softplus(-alpha * xb) + alpha * (xb + log_n_ref)
            return np.exp(log_D), alpha, C
        log_D = le + log_1mg + alpha * log_n_ref
        return np.exp(log_D), alpha, C


# Each law as curve-level terms and a point-level expression. The gap laws use
# log(g + (1 - g) s) = log g + softplus(log s - logit g), one softplus per point.
def _power_terms(ops: Any, p: Mapping[str, Any]) -> tuple[Any, ...]:
    return p["log_e_ref"], ops.exp(p["log_alpha"])


def _power(ops: Any, x: Any, t: tuple[Any, ...]) -> Any:
    log_e_ref, alpha = t
    return log_e_ref - alpha * x


def _gap_terms(ops: Any, p: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(log C, logit g)``: the log of the gap ``C = g e_ref`` and the logit of its share."""
    return p["log_e_ref"] - ops.softplus(-p["logit_gap"]), p["logit_gap"]


def _power_gap_terms(ops: Any, p: Mapping[str, Any]) -> tuple[Any, ...]:
    return (*_gap_terms(ops, p), ops.exp(p["log_alpha"]))


def _power_gap(ops: Any, x: Any, t: tuple[Any, ...]) -> Any:
    log_c, logit_gap, alpha = t
    return log_c + ops.softplus(-logit_gap - alpha * x)


def _broken_power_terms(ops: Any, p: Mapping[str, Any]) -> tuple[Any, ...]:
    a1 = ops.exp(p["log_alpha"])
    f = BREAK_SMOOTHNESS
    xb = p["log_break"]
    return (
        *_gap_terms(ops, p), a1, (ops.exp(p["log_alpha2"]) - a1) * f, xb,
        ops.softplus(-xb / f),
    )  # fmt: skip


def _broken_power(ops: Any, x: Any, t: tuple[Any, ...]) -> Any:
    log_c, logit_gap, a1, delta_f, xb, s0 = t
    log_s = -a1 * x - delta_f * (ops.softplus((x - xb) / BREAK_SMOOTHNESS) - s0)
    return log_c + ops.softplus(log_s - logit_gap)


def _mmf_terms(ops: Any, p: Mapping[str, Any]) -> tuple[Any, ...]:
    a = ops.exp(p["log_alpha"])
    xb = p["log_break"]
    return (*_gap_terms(ops, p), a, xb, ops.softplus(-a * xb))


def _mmf(ops: Any, x: Any, t: tuple[Any, ...]) -> Any:
    log_c, logit_gap, a, xb, s0 = t
    return log_c + ops.softplus(s0 - ops.softplus(a * (x - xb)) - logit_gap)


POWER = ScalingLaw(
    "power",
    "e(n) = D n^-alpha (no transfer gap)",
    ("log_e_ref", "log_alpha"),
    (),
    _power_terms,
    _power,
)
POWER_GAP = ScalingLaw(
    "power_gap",
    "e(n) = D n^-alpha + C (Minami et al. 2025)",
    ("log_e_ref", "logit_gap", "log_alpha"),
    (),
    _power_gap_terms,
    _power_gap,
)
BROKEN_POWER = ScalingLaw(
    "broken_power",
    "e(n) = C + D n^-alpha1 (1 + (n/n_b)^(1/f))^-((alpha2-alpha1) f) (Caballero et al. 2022)",
    ("log_e_ref", "logit_gap", "log_alpha"),
    ("log_alpha2", "log_break"),
    _broken_power_terms,
    _broken_power,
)
MMF = ScalingLaw(
    "mmf",
    "e(n) = C + (E0 - C) / (1 + (n/n_b)^alpha) (Morgan-Mercer-Flodin: flat, then steepening)",
    ("log_e_ref", "logit_gap", "log_alpha"),
    ("log_break",),
    _mmf_terms,
    _mmf,
)

#: Registered laws by name.
LAWS: dict[str, ScalingLaw] = {law.name: law for law in (POWER, POWER_GAP, BROKEN_POWER, MMF)}


def get_law(law: str | ScalingLaw) -> ScalingLaw:
    """Return the registered law ``law`` (or ``law`` itself if already a law)."""
    if isinstance(law, ScalingLaw):
        return law
    try:
        return LAWS[law]
    except (KeyError, TypeError):
        raise UnknownNameError(f"Unknown law {law!r}; choose one of {', '.join(LAWS)}.") from None


def core_law(law: str | ScalingLaw) -> ScalingLaw:
    """Return the power law (with or without gap) that ``law`` reduces to without extras.

    Least-squares starts, tail refits and group summaries use it for the asymptotic laws.
    """
    law = get_law(law)
    if not law.asymptotic:
        return law
    return POWER_GAP if law.has_gap else POWER


def params_from_dac(
    D: np.ndarray, alpha: np.ndarray, C: np.ndarray, log_n_ref: float
) -> dict[str, np.ndarray]:
    """Map ``(D, alpha, C)`` of the power law with gap to the reference parameterisation."""
    D, alpha, C = (np.asarray(v, dtype=float) for v in (D, alpha, C))
    excess = D * np.exp(-alpha * log_n_ref)
    e_ref = excess + C
    with np.errstate(divide="ignore"):
        logit_gap = np.log(C) - np.log(excess)
    return {"log_e_ref": np.log(e_ref), "logit_gap": logit_gap, "log_alpha": np.log(alpha)}
