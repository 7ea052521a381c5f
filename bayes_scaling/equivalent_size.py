"""Equivalent experimental sample size: experiments a scratch model needs to match transfer.

Per posterior draw, the transfer error at source size n is matched on the scratch curve
(error vs experimental size m) by :func:`equivalent_sample_size` with the closed form of
:func:`~bayes_scaling.closed_forms.equivalent_m_draws`; the scratch baseline of a transfer
curve is found from the curve metadata (:func:`find_scratch_curve`). Import them from
:mod:`bayes_scaling.planning`, the public entry to every planning decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayes_scaling.closed_forms import equivalent_m_draws
from bayes_scaling.decisions import (
    Decision,
    describe_curve,
    format_interval,
    format_number,
    format_probability,
    join_sentences,
    summarise,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models.posterior import CurvePosterior
from bayes_scaling.planning_helpers import _as_values, _frozen, _is_scratch, _rows


class NoMatchingCurveError(UnknownNameError):
    """No curve in the posterior matches the one requested (e.g. no scratch baseline)."""


class AmbiguousCurveError(BayesScalingError):
    """Several curves match where exactly one was needed; the caller must choose."""


@dataclass(frozen=True, eq=False, kw_only=True)
class EquivalentSampleSizeDecision(Decision):
    """Experiments a scratch model needs to match the transfer model.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per source size n plus a last row with ``n = inf`` (the limit set by the
        transfer gap): ``curve, scratch_curve, n, m_eq_median, m_eq_lower, m_eq_upper``
        (``inf`` where transfer beats any amount of scratch data), ``p_beats_scratch``
        (``P(m_eq = inf)``) and ``scratch_m_max`` (largest m observed on the scratch
        curve).
    draws : numpy.ndarray
        ``m_eq`` per posterior draw, shape ``(sample, n)`` (last column: the limit).

    """

    draws: np.ndarray
    title = "Equivalent experimental sample size"


def find_scratch_curve(posterior: CurvePosterior, curve: str) -> str:
    """Find the scratch baseline of a transfer curve from the curve metadata.

    A match has ``kind="scratch"``, the same ``metric`` and the same ``pair`` (when the
    metadata has pairs and one matches), otherwise the same ``property``.

    Raises
    ------
    NoMatchingCurveError
        No scratch curve matches.
    AmbiguousCurveError
        Several scratch curves match; pass ``scratch=`` explicitly.

    """
    posterior.check_curve(curve)
    meta = posterior.curves
    if "kind" not in meta:
        raise NoMatchingCurveError(
            "The curve metadata has no 'kind' column, so no scratch curve can be found; "
            "pass scratch= explicitly."
        )
    row = meta.loc[curve]
    cand = meta[meta["kind"] == "scratch"]
    if "metric" in meta:
        cand = cand[cand["metric"] == row["metric"]]
    same_pair = cand.iloc[0:0]
    if "pair" in meta and not pd.isna(row["pair"]):
        same_pair = cand[cand["pair"] == row["pair"]]
    if len(same_pair):
        cand = same_pair
    elif "property" in meta:
        cand = cand[cand["property"] == row["property"]]
    else:
        cand = cand.iloc[0:0]
    if len(cand) == 0:
        raise NoMatchingCurveError(
            f"No scratch curve matches {curve!r} (kind='scratch', same metric and pair or "
            f"property); pass scratch= explicitly."
        )
    if len(cand) > 1:
        raise AmbiguousCurveError(
            f"Several scratch curves match {curve!r}: {list(cand.index)}; pass scratch=."
        )
    return str(cand.index[0])


def equivalent_sample_size(
    posterior: CurvePosterior,
    curve: str,
    *,
    n: float | Sequence[float] | None = None,
    scratch: str | None = None,
) -> EquivalentSampleSizeDecision:
    """Posterior of ``m_eq(n)``: experiments a scratch model needs to match transfer at n.

    Per draw, ``D_s m^-alpha_s + C_s = D_t n^-alpha_t + C_t`` gives
    ``m = (D_s / (e_t - C_s))^(1/alpha_s)`` where ``e_t > C_s``, else ``inf`` (the
    transfer model beats any amount of scratch data). The limit ``n -> inf`` uses
    ``e_t = C_t``. Errors are compared in original units (identical to the normalised
    answer when both curves share a target scale). Draws of the two curves are paired, so
    their posterior correlation propagates.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws containing the transfer and the scratch curve.
    curve : str
        Transfer curve id (error vs source size n).
    n : float or sequence of float, optional
        Source sizes; default the transfer curve's ``n_max``.
    scratch : str, optional
        Scratch curve id (error vs experimental size m); default found by
        :func:`find_scratch_curve`.

    Returns
    -------
    EquivalentSampleSizeDecision

    """
    posterior.check_curve(curve)
    if _is_scratch(posterior, curve):
        raise BayesScalingError(f"{curve!r} is a scratch curve; pass the transfer curve.")
    if scratch is None:
        scratch = find_scratch_curve(posterior, curve)
    else:
        posterior.check_curve(scratch)
        if "kind" in posterior.curves and not _is_scratch(posterior, scratch):
            raise BayesScalingError(f"scratch={scratch!r} is not a kind='scratch' curve.")
    sizes = (
        _as_values(n, name="n") if n is not None else (float(posterior.curves.loc[curve, "n_max"]),)
    )
    t = posterior.params(curve, "original")
    s = posterior.params(scratch, "original")
    grid = np.append(np.asarray(sizes), np.inf)
    with np.errstate(divide="ignore"):
        e_t = t["D"][:, None] * grid[None, :] ** (-t["alpha"][:, None]) + t["C"][:, None]
    m = equivalent_m_draws(e_t, s["D"][:, None], s["alpha"][:, None], s["C"][:, None])
    table = pd.DataFrame(
        {
            "curve": curve,
            "scratch_curve": scratch,
            "n": grid,
            **summarise(m, "m_eq"),
            "p_beats_scratch": np.isinf(m).mean(axis=0),
            "scratch_m_max": float(posterior.curves.loc[scratch, "n_max"]),
        }
    )
    label = describe_curve(posterior.curves, curve, "original")
    return EquivalentSampleSizeDecision(table, _equivalent_sentence(table, label), draws=_frozen(m))


def _equivalent_clause(row: pd.Series) -> str:
    if row["p_beats_scratch"] >= 0.5:
        return (
            f"beats a scratch model trained on any number of experimental samples "
            f"(P {format_probability(row['p_beats_scratch'])})"
        )
    return (
        f"matches a scratch model trained on {format_number(row['m_eq_median'])} experimental "
        f"samples ({format_interval(row['m_eq_lower'], row['m_eq_upper'])})"
    )


def _equivalent_sentence(table: pd.DataFrame, label) -> str:
    finite = [row for row in _rows(table) if math.isfinite(row["n"])]
    limit = table.iloc[-1]
    parts = [
        f"at n = {format_number(row['n'], sig=3)} {label.samples} the transfer model for "
        f"{label.name} {_equivalent_clause(row)}"
        for row in finite
    ]
    tail = _equivalent_clause(limit)
    parts.append(f"as the database grows without limit it {tail}, set by the transfer gap C")
    m_max = format_number(limit["scratch_m_max"], sig=3)
    return (
        join_sentences(parts)
        + f" The scratch curve was observed up to m = {m_max}; larger m_eq are extrapolated."
    )
