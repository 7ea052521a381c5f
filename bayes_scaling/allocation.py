"""How to split a production budget across databases (or curves): :func:`allocate_budget`.

The objective -- the weighted mean expected normalised error, or the weighted expected
number of curves that reach their targets -- is evaluated on every posterior draw of
``error(n) = D n^-alpha + C`` and optimised exactly by dynamic programming over a grid of
budget increments; the answer is a frozen :class:`AllocationDecision` compared against the
equal split. Import it from :mod:`bayes_scaling.planning`, the public entry to every
planning decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from bayes_scaling.closed_forms import error_draws
from bayes_scaling.decisions import (
    Decision,
    check_positive,
    format_number,
    join_sentences,
    summarise,
    with_unit,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models.posterior import CurvePosterior, Scale
from bayes_scaling.planning_helpers import _is_scratch

#: Default number of budget increments of the allocation grid.
DEFAULT_BUDGET_STEPS: Final[int] = 200

Objective = Literal["error", "targets"]
AllocationUnit = Literal["database", "curve"]


@dataclass(frozen=True, eq=False, kw_only=True)
class AllocationDecision(Decision):
    """A production budget split across databases (or curves), against the equal split.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per curve: ``unit`` (database or curve the budget is spent on), ``curve,
        cost_per_sample, n_current, n_added, n_total, spent`` (budget spent on the row's
        unit), ``share`` (fraction of the budget), ``scale, error_median, error_lower,
        error_upper`` (error at ``n_total``), ``equal_n_added, equal_error_median``
        (the equal split), and for ``objective="targets"`` also ``target, p_target,
        equal_p_target``.
    objective : {"error", "targets"}
        What was optimised.
    value, equal_split_value : float
        Objective of the allocation and of the equal split: the weighted mean expected
        normalised error (lower is better) or the weighted expected number of curves that
        reach their targets (higher is better).

    """

    objective: Objective
    value: float
    equal_split_value: float
    budget: float
    title = "Budget allocation"


def allocate_budget(
    posterior: CurvePosterior,
    budget: float,
    costs: Mapping[str, float],
    *,
    curves: Sequence[str] | None = None,
    by: AllocationUnit = "database",
    objective: Objective = "error",
    targets: Mapping[str, float] | None = None,
    weights: Mapping[str, float] | None = None,
    scale: Scale = "original",
    cost_unit: str = "",
    n_steps: int = DEFAULT_BUDGET_STEPS,
) -> AllocationDecision:
    """Split a production budget across databases to minimise error or reach targets.

    Samples bought for a database extend the source size n of *every* selected curve
    pretrained on it (``by="database"``); with ``by="curve"`` each curve is bought for on
    its own. The objective is evaluated on all posterior draws:

    - ``"error"``: minimise the weighted mean (over curves) of the posterior expected
      *normalised* error at the new n (normalised so that properties are comparable);
    - ``"targets"``: maximise the weighted expected number of curves whose error reaches
      their target, ``sum_c w_c P(error_c(n_c) <= target_c)``.

    The objective is separable across units, so the allocation is solved *exactly* on a
    grid of budget increments by dynamic programming (better than greedy, which is only
    optimal for concave gains and fails on the step-like target probabilities). The grid
    has a multiple of the number of units as its size, so the equal split is one of its
    points and the allocation is never worse than the equal split in its own objective
    (should ties ever make it so, the equal split is returned).

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    budget : float
        Total budget (> 0) in the units of ``costs``.
    costs : mapping of str to float
        Cost per sample (> 0) for every unit: database names (``by="database"``) or curve
        ids (``by="curve"``).
    curves : sequence of str, optional
        Curves to optimise; default every ``kind="transfer"`` curve (every curve when
        the metadata has no ``kind``) whose unit appears in ``costs``.
    by : {"database", "curve"}, default "database"
        What a sample is bought for.
    objective : {"error", "targets"}, default "error"
        What to optimise.
    targets : mapping of str to float, optional
        Target error per curve id or property (required for ``objective="targets"``), on
        ``scale``.
    weights : mapping of str to float, optional
        Weight (>= 0) per curve id or property; default 1.
    scale : {"original", "normalised"}, default "original"
        Scale of ``targets`` and of the errors in the table.
    cost_unit : str, optional
        Name of the budget unit for the sentence, e.g. ``"CPU-hours"``.
    n_steps : int, default 200
        Approximate number of budget increments of the grid (rounded up to a multiple of
        the number of units).

    Returns
    -------
    AllocationDecision

    Raises
    ------
    BayesScalingError
        Budget or a cost not > 0, a negative weight, missing targets, bad options.
    UnknownNameError
        A curve, database, or mapping key that is not in the posterior; a unit without a
        cost.

    """
    budget = check_positive(budget, name="budget")
    _check_allocation_options(by, objective, n_steps)
    unit_costs = _unit_costs(posterior, costs, by)
    ids = _allocation_curves(posterior, curves, by, unit_costs)
    unit_of = {c: _unit_name(posterior, c, by) for c in ids}
    units = list(dict.fromkeys(unit_of.values()))
    missing = [u for u in units if u not in unit_costs]
    if missing:
        raise UnknownNameError(f"No cost per sample given for {by}(s) {missing}.")
    w = _per_curve(posterior, ids, weights, name="weights", default=1.0, allow_zero=True)
    if sum(w.values()) <= 0:
        raise BayesScalingError("weights must not all be zero.")
    eps = _allocation_targets(posterior, ids, objective, targets, scale)

    k_total = len(units) * math.ceil(n_steps / len(units))
    ks = np.arange(k_total + 1)
    added = {u: np.floor(ks * (budget / k_total) / unit_costs[u]) for u in units}
    primary, tiebreak = _unit_losses(posterior, ids, unit_of, units, added, w, eps)
    k_best = _best_split(primary + 1e-9 * tiebreak, k_total)
    k_equal = np.full(len(units), k_total // len(units))
    rows = np.arange(len(units))
    value, equal_value = primary[rows, k_best].sum(), primary[rows, k_equal].sum()
    if value > equal_value:  # cannot happen on the grid; a guard against ties
        k_best, value = k_equal, equal_value
    # losses -> reported objective: mean error, or expected number of targets reached
    scale_by = -1.0 if objective == "targets" else 1.0 / sum(w.values())
    value, equal_value = float(scale_by * value), float(scale_by * equal_value)

    n_added = {u: float(added[u][k]) for u, k in zip(units, k_best, strict=True)}
    n_equal = {u: float(added[u][k]) for u, k in zip(units, k_equal, strict=True)}
    table = _allocation_table(
        posterior, ids, unit_of, unit_costs, n_added, n_equal, budget, eps, scale
    )
    outcome = _allocation_outcome(objective, value, equal_value, len(ids))
    spend = _allocation_spend(units, n_added, unit_costs, budget, cost_unit)
    return AllocationDecision(
        table,
        join_sentences([spend, outcome]),
        objective=objective,
        value=value,
        equal_split_value=equal_value,
        budget=budget,
    )


def _check_allocation_options(by: str, objective: str, n_steps: int) -> None:
    if by not in ("database", "curve"):
        raise BayesScalingError(f"by must be 'database' or 'curve', got {by!r}.")
    if objective not in ("error", "targets"):
        raise BayesScalingError(f"objective must be 'error' or 'targets', got {objective!r}.")
    if not isinstance(n_steps, int | np.integer) or n_steps < 1:
        raise BayesScalingError(f"n_steps must be a positive integer, got {n_steps!r}.")


def _unit_costs(
    posterior: CurvePosterior, costs: Mapping[str, float], by: AllocationUnit
) -> dict[str, float]:
    """Validate costs: known unit names (databases or curve ids), values > 0."""
    if not isinstance(costs, Mapping) or not costs:
        raise BayesScalingError("costs must be a non-empty mapping of name -> cost per sample.")
    known = {_unit_name(posterior, c, by) for c in posterior.curve_ids}
    unknown = sorted(str(k) for k in costs if str(k) not in known)
    if unknown:
        raise UnknownNameError(f"costs name unknown {by}(s) {unknown}; known: {sorted(known)}.")
    return {str(k): check_positive(v, name=f"cost per sample of {k!r}") for k, v in costs.items()}


def _allocation_targets(
    posterior: CurvePosterior,
    ids: Sequence[str],
    objective: Objective,
    targets: Mapping[str, float] | None,
    scale: Scale,
) -> dict[str, float] | None:
    """Normalised target per curve for ``objective="targets"`` (None otherwise)."""
    if objective != "targets":
        if targets is not None:
            raise BayesScalingError("targets= is only used with objective='targets'.")
        return None
    if targets is None:
        raise BayesScalingError("objective='targets' needs targets= (per curve or property).")
    raw = _per_curve(posterior, ids, targets, name="targets", default=None)
    return {c: raw[c] / posterior.scale_factor(c, scale) for c in ids}


def _unit_name(posterior: CurvePosterior, curve: str, by: AllocationUnit) -> str:
    if by == "curve":
        return curve
    if "database" not in posterior.curves:
        raise BayesScalingError("by='database' needs a 'database' column in the curve metadata.")
    return str(posterior.curves.loc[curve, "database"])


def _allocation_curves(
    posterior: CurvePosterior,
    curves: Sequence[str] | None,
    by: AllocationUnit,
    unit_costs: Mapping[str, float],
) -> list[str]:
    if curves is not None:
        ids = [posterior.check_curve(c) for c in curves]
        if not ids:
            raise BayesScalingError("curves must name at least one curve.")
        return list(dict.fromkeys(ids))
    pool = [c for c in posterior.curve_ids if not _is_scratch(posterior, c)]
    ids = [c for c in pool if _unit_name(posterior, c, by) in unit_costs]
    if not ids:
        known = sorted({_unit_name(posterior, c, by) for c in pool})
        raise UnknownNameError(
            f"No curve is pretrained on a {by} named in costs {sorted(unit_costs)}; known: {known}."
        )
    return ids


def _per_curve(
    posterior: CurvePosterior,
    ids: Sequence[str],
    values: Mapping[str, float] | None,
    *,
    name: str,
    default: float | None,
    allow_zero: bool = False,
) -> dict[str, float]:
    """Resolve a mapping keyed by curve id or property into one value per curve."""
    values = dict(values or {})
    props = posterior.curves["property"] if "property" in posterior.curves else None
    known = set(posterior.curve_ids) | (set(props.astype(str)) if props is not None else set())
    unknown = sorted(str(k) for k in values if k not in known)
    if unknown:
        raise UnknownNameError(f"{name} has unknown curve(s) or property(ies) {unknown}.")
    out: dict[str, float] = {}
    for c in ids:
        if c in values:
            v = values[c]
        elif props is not None and str(props[c]) in values:
            v = values[str(props[c])]
        elif default is not None:
            v = default
        else:
            raise BayesScalingError(f"{name} has no value for curve {c!r}.")
        if allow_zero:
            v = float(v)
            if not (math.isfinite(v) and v >= 0):
                raise BayesScalingError(f"{name} must be finite and >= 0, got {v!r} for {c!r}.")
            out[c] = v
        else:
            out[c] = check_positive(v, name=f"{name}[{c!r}]")
    return out


def _unit_losses(
    posterior: CurvePosterior,
    ids: Sequence[str],
    unit_of: Mapping[str, str],
    units: Sequence[str],
    added: Mapping[str, np.ndarray],
    weights: Mapping[str, float],
    targets: Mapping[str, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss of each unit per budget increment, shape ``(unit, k)``: primary and tie-break.

    Primary: weighted expected normalised error, or minus the weighted probability of
    reaching the target. Tie-break: the weighted expected normalised error.
    """
    k = len(next(iter(added.values())))
    primary = np.zeros((len(units), k))
    tiebreak = np.zeros((len(units), k))
    for c in ids:
        u = units.index(unit_of[c])
        p = posterior.params(c, "normalised")
        n = float(posterior.curves.loc[c, "n_max"]) + added[unit_of[c]]
        err = error_draws(p["D"], p["alpha"], p["C"], n)
        mean_err = weights[c] * err.mean(axis=0)
        tiebreak[u] += mean_err
        if targets is None:
            primary[u] += mean_err
        else:
            primary[u] -= weights[c] * (err <= targets[c]).mean(axis=0)
    return primary, tiebreak


def _best_split(loss: np.ndarray, k_total: int) -> np.ndarray:
    """Exact minimiser of ``sum_u loss[u, k_u]`` subject to ``sum_u k_u = k_total``.

    Dynamic programme over units: ``best[j]`` is the least loss of the units so far with
    ``j`` increments; time ``O(units * k_total^2)``, memory ``O(units * k_total)``.
    """
    n_units = loss.shape[0]
    best = loss[0].copy()
    choices = []
    for u in range(1, n_units):
        new_best = np.empty_like(best)
        choice = np.empty(k_total + 1, dtype=int)
        for j in range(k_total + 1):
            cand = best[j::-1] + loss[u, : j + 1]  # best[j - k] + loss[u, k], k = 0..j
            choice[j] = int(np.argmin(cand))
            new_best[j] = cand[choice[j]]
        best = new_best
        choices.append(choice)
    k = np.zeros(n_units, dtype=int)
    remaining = k_total
    for u in range(n_units - 1, 0, -1):
        k[u] = choices[u - 1][remaining]
        remaining -= k[u]
    k[0] = remaining
    return k


def _allocation_table(
    posterior: CurvePosterior,
    ids: Sequence[str],
    unit_of: Mapping[str, str],
    unit_costs: Mapping[str, float],
    n_added: Mapping[str, float],
    n_equal: Mapping[str, float],
    budget: float,
    targets: Mapping[str, float] | None,
    scale: Scale,
) -> pd.DataFrame:
    rows = []
    for c in ids:
        u = unit_of[c]
        p = posterior.params(c, scale)
        n0 = float(posterior.curves.loc[c, "n_max"])
        err = error_draws(p["D"], p["alpha"], p["C"], np.array([n0 + n_added[u], n0 + n_equal[u]]))
        spent = n_added[u] * unit_costs[u]
        row = {
            "unit": u,
            "curve": c,
            "cost_per_sample": unit_costs[u],
            "n_current": n0,
            "n_added": n_added[u],
            "n_total": n0 + n_added[u],
            "spent": spent,
            "share": spent / budget,
            "scale": scale,
            **{k: float(v) for k, v in summarise(err[:, 0], "error").items()},
            "equal_n_added": n_equal[u],
            "equal_error_median": float(np.median(err[:, 1])),
        }
        if targets is not None:
            eps = targets[c] * posterior.scale_factor(c, scale)
            row["target"] = eps
            row["p_target"] = float(np.mean(err[:, 0] <= eps))
            row["equal_p_target"] = float(np.mean(err[:, 1] <= eps))
        rows.append(row)
    return pd.DataFrame(rows)


def _allocation_spend(
    units: Sequence[str],
    n_added: Mapping[str, float],
    unit_costs: Mapping[str, float],
    budget: float,
    cost_unit: str,
) -> str:
    parts = [
        f"{u} {format_number(n_added[u], sig=3)} samples "
        f"({format_number(100 * n_added[u] * unit_costs[u] / budget, sig=2)} %)"
        for u in units
    ]
    return f"spend the budget of {with_unit(budget, cost_unit, sig=3)} as " + ", ".join(parts)


def _allocation_outcome(objective: Objective, value: float, equal: float, n_curves: int) -> str:
    if objective == "targets":
        return (
            f"an expected {format_number(value, sig=3)} of {n_curves} curves reach their "
            f"targets (equal split: {format_number(equal, sig=3)})"
        )
    return (
        f"the mean expected normalised error becomes {format_number(value, sig=3)} "
        f"(equal split: {format_number(equal, sig=3)})"
    )
