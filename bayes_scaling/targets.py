"""Target errors of the summary: parsed from ``PROPERTY=VALUE`` options or a default rule.

:func:`parse_targets` reads ``--target`` options into ``{property: value}``;
:func:`resolve_targets` gives every transfer curve its target as a :class:`TargetChoice`
(the value with the rule that produced it): the user's for its property, else
:data:`DEFAULT_TARGET_FRACTION` of today's error (:func:`today_error`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from bayes_scaling.decisions import format_number
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models.posterior import CurvePosterior

#: Default target: this fraction of today's error (posterior median at the largest n).
DEFAULT_TARGET_FRACTION: Final[float] = 0.9


@dataclass(frozen=True)
class TargetChoice:
    """A target error with the rule that produced it.

    Attributes
    ----------
    value : float
        Target error (original units).
    rule : str
        How it was chosen, printed next to it: ``"set with --target"`` or the default rule
        as a formula of today's error (shown beside it), e.g. ``"default: today − 10 %"``.
    user : bool
        Whether the user set it.

    """

    value: float
    rule: str
    user: bool = False


_TARGET_RE = re.compile(r"^\s*([^=\s][^=]*?)\s*=\s*(\S+)\s*$")


def parse_targets(items: Sequence[str] | None) -> dict[str, float]:
    """Parse ``PROPERTY=VALUE`` options (``--target``) into ``{property: value}``.

    Raises
    ------
    BayesScalingError
        A malformed item, a value that is not a finite number > 0, or a property given
        twice with different values.

    Examples
    --------
    >>> parse_targets(["bandgap=0.4", "density = 0.05"])
    {'bandgap': 0.4, 'density': 0.05}

    """
    out: dict[str, float] = {}
    for item in items or ():
        match = _TARGET_RE.match(str(item))
        if not match:
            raise BayesScalingError(
                f"--target must look like PROPERTY=VALUE (e.g. bandgap=0.4), got {item!r}."
            )
        prop, raw = match.groups()
        try:
            value = float(raw)
        except ValueError:
            raise BayesScalingError(
                f"--target {item!r}: {raw!r} is not a number (want PROPERTY=VALUE)."
            ) from None
        if not (math.isfinite(value) and value > 0):
            raise BayesScalingError(
                f"--target {item!r}: the target error must be a finite number > 0."
            )
        if prop in out and out[prop] != value:
            raise BayesScalingError(f"--target gives property {prop!r} twice.")
        out[prop] = value
    return out


def today_error(posterior: CurvePosterior, curve: str) -> float:
    """Posterior-median error at the largest observed n (original units)."""
    n_max = float(posterior.curves.loc[curve, "n_max"])
    return float(np.median(posterior.expected_error(n_max, curve, scale="original")))


def resolve_targets(
    posterior: CurvePosterior,
    user: Mapping[str, float] | None = None,
    *,
    curves: Sequence[str] | None = None,
    fraction: float = DEFAULT_TARGET_FRACTION,
) -> dict[str, TargetChoice]:
    """Target of every transfer curve: the user's for its property, else the default rule.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws.
    user : mapping of str to float, optional
        Target per property (original units, > 0), e.g. from :func:`parse_targets`.
    curves : sequence of str, optional
        Curves to resolve; default every transfer curve.
    fraction : float, default :data:`DEFAULT_TARGET_FRACTION`
        Default rule: ``fraction`` × today's error (posterior median at the largest n).

    Raises
    ------
    UnknownNameError
        A user target names a property the posterior does not hold.
    BayesScalingError
        A user target that is not a finite number > 0.

    """
    meta = posterior.curves
    user = dict(user or {})
    props = sorted(str(p) for p in meta["property"].unique()) if "property" in meta else []
    unknown = sorted(p for p in user if p not in props)
    if unknown:
        raise UnknownNameError(
            f"--target names unknown property(ies) {unknown}; known: {', '.join(props) or 'none'}."
        )
    for p, v in user.items():
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise BayesScalingError(f"Target for {p!r} must be a finite number > 0, got {v!r}.")
    if curves is None:
        curves = [
            c for c in posterior.curve_ids if "kind" not in meta or meta.loc[c, "kind"] != "scratch"
        ]
    pct = format_number(100 * (1 - fraction), sig=3)
    out: dict[str, TargetChoice] = {}
    for c in curves:
        prop = str(meta.loc[c, "property"]) if "property" in meta else None
        if prop is not None and prop in user:
            out[c] = TargetChoice(float(user[prop]), "set with --target", user=True)
        else:
            rule = f"default: today\u00a0−\u00a0{pct}\u00a0%"  # no-break spaces: one line
            out[c] = TargetChoice(fraction * today_error(posterior, c), rule)
    return out
