"""Compare databases, strategies or properties on the posterior draws.

:func:`compare_groups` ranks groups (e.g. databases) within a matching context (e.g. the
same property and metric): pairwise ``P(C_A < C_B)``, ``P(alpha_A > alpha_B)`` and
``P(error_A(n) < error_B(n))`` at a common n, the posterior of the expected error at that
n and at ``n -> inf`` (which is ``C``), and a ranking with ``P(rank = 1)`` and the expected
rank. :func:`expansion_gain` asks, for one database, which of its properties gains most
from adding samples. Both work draw by draw, so all posterior uncertainty (and the
correlation a hierarchical model puts between curves) propagates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from bayes_scaling.decisions import (
    Decision,
    check_positive,
    describe_curve,
    format_interval,
    format_number,
    format_probability,
    join_sentences,
    summarise,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models.posterior import CurvePosterior, Scale
from bayes_scaling.planning import AmbiguousCurveError, error_draws

RankBy = Literal["error", "gap", "alpha"]
Quantity = Literal["C", "alpha", "error"]
GainBy = Literal["absolute", "relative"]

_PAIR_COLUMNS: dict[str, str] = {
    "C": "p_C_lower",
    "alpha": "p_alpha_higher",
    "error": "p_error_lower",
}


# ====================================================================== shared helpers
def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str) or np.ndim(value) == 0:
        return [value]
    return list(value)


def select_curves(
    posterior: CurvePosterior,
    *,
    kind: str | None = "transfer",
    where: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Metadata rows of the curves with the given ``kind`` matching ``where``.

    ``where`` maps a metadata column to a value or a list of accepted values.
    """
    meta = posterior.curves
    sel = meta
    if kind is not None and "kind" in meta:
        sel = sel[sel["kind"] == kind]
    for col, value in (where or {}).items():
        if col not in meta:
            raise BayesScalingError(
                f"where names unknown metadata column {col!r}; columns: {list(meta.columns)}."
            )
        sel = sel[sel[col].isin(_as_list(value))]
    return sel


def rank_draws(values: np.ndarray, *, higher_is_better: bool) -> np.ndarray:
    """Rank (1 = best) of each column within each draw; ``values`` is ``(sample, group)``."""
    key = -values if higher_is_better else values
    return np.argsort(np.argsort(key, axis=1, kind="stable"), axis=1) + 1


def _ranking_columns(ranks: np.ndarray) -> dict[str, np.ndarray]:
    expected = ranks.mean(axis=0)
    order = np.argsort(np.argsort(expected, kind="stable"), kind="stable") + 1
    return {"p_best": (ranks == 1).mean(axis=0), "expected_rank": expected, "rank": order}


# ====================================================================== group comparison
@dataclass(frozen=True, eq=False, kw_only=True)
class ComparisonDecision(Decision):
    """Ranking of groups within matching contexts.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (context, group), sorted by context and rank: ``context``, the
        ``within`` columns, ``group, curve, scale, n`` (the common n), ``error_median,
        error_lower, error_upper`` (expected error at n), ``C_median, C_lower, C_upper``
        (expected error as n -> inf), ``alpha_median, alpha_lower, alpha_upper``,
        ``p_best`` (P(rank = 1)), ``expected_rank`` and ``rank`` (order of the expected
        ranks).
    pairwise : pandas.DataFrame
        One row per ordered pair of groups in a context: ``context, group_a, group_b,
        p_C_lower`` (P(C_a < C_b)), ``p_alpha_higher`` (P(alpha_a > alpha_b)) and
        ``p_error_lower`` (P(error_a(n) < error_b(n))).

    """

    pairwise: pd.DataFrame
    by: str
    within: tuple[str, ...]
    rank_by: RankBy
    title = "Comparison"
    section = "comparison"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "pairwise", self.pairwise.copy())

    @property
    def contexts(self) -> list[str]:
        """Contexts compared, in table order."""
        return list(dict.fromkeys(self.table["context"]))

    def matrix(self, quantity: Quantity = "C", *, context: str | None = None) -> pd.DataFrame:
        """Square matrix of pairwise probabilities for one context (row beats column).

        ``quantity="C"``: P(C_row < C_col); ``"alpha"``: P(alpha_row > alpha_col);
        ``"error"``: P(error_row(n) < error_col(n)). The diagonal is NaN.
        """
        if quantity not in _PAIR_COLUMNS:
            raise BayesScalingError(
                f"quantity must be one of {list(_PAIR_COLUMNS)}, got {quantity!r}."
            )
        ctx = self.resolve_context(context)
        groups = list(self.table.loc[self.table["context"] == ctx, "group"])
        sub = self.pairwise[self.pairwise["context"] == ctx]
        mat = sub.pivot(index="group_a", columns="group_b", values=_PAIR_COLUMNS[quantity])
        mat = mat.reindex(index=groups, columns=groups)
        mat.index.name, mat.columns.name = self.by, self.by
        return mat

    def resolve_context(self, context: str | None) -> str:
        """Return ``context``, or the only context when None; raise if unknown or ambiguous."""
        contexts = self.contexts
        if context is None:
            if len(contexts) > 1:
                raise BayesScalingError(
                    f"Several contexts were compared; pass context= one of {contexts}."
                )
            return contexts[0]
        if context not in contexts:
            raise UnknownNameError(f"Unknown context {context!r}; known: {contexts}.")
        return context


def compare_groups(
    posterior: CurvePosterior,
    *,
    by: str = "database",
    within: str | Sequence[str] | None = "property",
    n: float | None = None,
    rank_by: RankBy = "error",
    kind: str | None = "transfer",
    where: Mapping[str, Any] | None = None,
    scale: Scale = "normalised",
) -> ComparisonDecision:
    """Compare groups (databases, strategies or properties) within matching contexts.

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    by : str, default "database"
        Metadata column whose values are compared.
    within : str or sequence of str or None, default "property"
        Metadata column(s) defining a context: only curves sharing them are compared. The
        ``metric`` column is always added when present (MAE and RMSE do not compare).
        ``None`` compares all selected curves together.
    n : float, optional
        Common source size for the expected error; default the largest ``n_max`` in
        each context.
    rank_by : {"error", "gap", "alpha"}, default "error"
        Ranking criterion: expected error at n (lower is better), transfer gap ``C``
        (the error as n -> inf; lower is better) or decay rate ``alpha`` (higher is
        better).
    kind : str or None, default "transfer"
        Keep only curves of this kind (``None``: all).
    where : mapping, optional
        Further filter: metadata column -> accepted value(s), e.g.
        ``{"strategy": "finetune"}``.
    scale : {"normalised", "original"}, default "normalised"
        Scale of the reported errors (probabilities are scale-free within a context
        that shares a target scale).

    Returns
    -------
    ComparisonDecision

    Raises
    ------
    BayesScalingError
        Unknown column or option, or no context with at least two groups.
    AmbiguousCurveError
        Several curves share a (context, group); narrow them with ``where`` or ``within``.

    Examples
    --------
    >>> d = compare_groups(posterior, by="database", within="property")  # doctest: +SKIP
    >>> d.matrix("C", context="property=density, metric=mae")  # doctest: +SKIP

    """
    if rank_by not in ("error", "gap", "alpha"):
        raise BayesScalingError(f"rank_by must be 'error', 'gap' or 'alpha', got {rank_by!r}.")
    n_common = None if n is None else check_positive(n, name="n")
    meta = posterior.curves
    within_cols = [] if within is None else _as_list(within)
    if "metric" in meta and "metric" not in within_cols and by != "metric":
        within_cols.append("metric")
    for col in [by, *within_cols]:
        if col not in meta:
            raise BayesScalingError(
                f"Metadata has no column {col!r}; columns: {list(meta.columns)}."
            )
    if by in within_cols:
        raise BayesScalingError(f"by={by!r} cannot also be a within column.")
    sel = select_curves(posterior, kind=kind, where=where)

    tables, pairs, sentences = [], [], []
    grouped = sel.groupby(within_cols, sort=False) if within_cols else [((), sel)]
    for key, ctx_meta in grouped:
        if ctx_meta[by].nunique() < 2:
            continue
        values = dict(zip(within_cols, _as_list(key) if within_cols else [], strict=True))
        ctx = ", ".join(f"{k}={v}" for k, v in values.items()) or "all"
        table, pair = _compare_context(
            posterior, ctx_meta, by=by, n=n_common, scale=scale, rank_by=rank_by
        )
        table.insert(0, "context", ctx)
        for i, (k, v) in enumerate(values.items()):
            table.insert(1 + i, k, v)
        pair.insert(0, "context", ctx)
        tables.append(table)
        pairs.append(pair)
        sentences.append(_comparison_sentence(table, pair, values, rank_by=rank_by))
    if not tables:
        raise BayesScalingError(
            f"Nothing to compare: no context ({within_cols or 'all curves'}) holds two or more "
            f"{by} values among the selected curves ({len(sel)} of {len(meta)})."
        )
    return ComparisonDecision(
        pd.concat(tables, ignore_index=True),
        " ".join(sentences),
        pairwise=pd.concat(pairs, ignore_index=True),
        by=by,
        within=tuple(within_cols),
        rank_by=rank_by,
    )


def _compare_context(
    posterior: CurvePosterior,
    ctx_meta: pd.DataFrame,
    *,
    by: str,
    n: float | None,
    scale: Scale,
    rank_by: RankBy,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    dup = ctx_meta[ctx_meta[by].duplicated(keep=False)]
    if len(dup):
        raise AmbiguousCurveError(
            f"Several curves share a {by} value within one context: {list(dup.index)}; "
            f"narrow them with where= or add columns to within=."
        )
    curves = list(ctx_meta.index)
    groups = [str(g) for g in ctx_meta[by]]
    n_ctx = float(ctx_meta["n_max"].max()) if n is None else n
    params = [posterior.params(c, scale) for c in curves]
    C = np.column_stack([p["C"] for p in params])
    alpha = np.column_stack([p["alpha"] for p in params])
    err = np.column_stack(
        [error_draws(p["D"], p["alpha"], p["C"], np.array([n_ctx]))[:, 0] for p in params]
    )
    criterion = {"error": err, "gap": C, "alpha": alpha}[rank_by]
    ranks = rank_draws(criterion, higher_is_better=rank_by == "alpha")
    table = pd.DataFrame(
        {
            "group": groups,
            "curve": curves,
            "scale": scale,
            "n": n_ctx,
            **summarise(err, "error"),
            **summarise(C, "C"),
            **summarise(alpha, "alpha"),
            **_ranking_columns(ranks),
        }
    ).sort_values("rank", kind="stable", ignore_index=True)
    rows = [
        {
            "group_a": groups[a],
            "group_b": groups[b],
            "p_C_lower": float(np.mean(C[:, a] < C[:, b])),
            "p_alpha_higher": float(np.mean(alpha[:, a] > alpha[:, b])),
            "p_error_lower": float(np.mean(err[:, a] < err[:, b])),
        }
        for a in range(len(groups))
        for b in range(len(groups))
        if a != b
    ]
    return table, pd.DataFrame(rows)


def _comparison_sentence(
    table: pd.DataFrame, pair: pd.DataFrame, values: Mapping[str, Any], *, rank_by: RankBy
) -> str:
    ctx = ", ".join(str(v) for k, v in values.items() if k != "metric") or "all curves"
    if "metric" in values:
        ctx += f" ({str(values['metric']).upper()})"
    best, second = table.iloc[0], table.iloc[1]
    criterion = {
        "error": f"expected error at n = {format_number(best['n'], sig=3)}",
        "gap": "transfer gap C",
        "alpha": "decay rate α",
    }[rank_by]
    p = pair[(pair["group_a"] == best["group"]) & (pair["group_b"] == second["group"])].iloc[0]
    a, b = best["group"], second["group"]
    return join_sentences(
        [
            f"for {ctx}, {a} ranks first by {criterion} "
            f"(P(rank 1) {format_probability(best['p_best'])}, expected rank "
            f"{format_number(best['expected_rank'], sig=2)})",
            f"against {b}, P(C_{a} < C_{b}) {format_probability(p['p_C_lower'])} and "
            f"P(α_{a} > α_{b}) {format_probability(p['p_alpha_higher'])}",
        ]
    )


# ====================================================================== expansion gain
@dataclass(frozen=True, eq=False, kw_only=True)
class ExpansionDecision(Decision):
    """Which curves of one database gain most from adding samples.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per curve, sorted by rank: ``curve, property, database, n_current,
        delta_n, reduction_median, reduction_lower, reduction_upper`` (normalised error
        reduction), ``relative_reduction_median, relative_reduction_lower,
        relative_reduction_upper`` (reduction / current error), ``unit,
        reduction_original_median`` (in the property's units), ``p_best`` (P(largest
        gain)), ``expected_rank`` and ``rank``.

    """

    database: str
    gain_by: GainBy
    title = "Gain from expanding a database"
    section = "comparison"


def expansion_gain(
    posterior: CurvePosterior,
    database: str,
    *,
    delta_n: float | None = None,
    gain_by: GainBy = "absolute",
    kind: str | None = "transfer",
    where: Mapping[str, Any] | None = None,
) -> ExpansionDecision:
    """Rank the curves (properties) of ``database`` by the gain from ``delta_n`` more samples.

    Per draw the gain is the normalised error reduction
    ``D (n^-alpha - (n + delta_n)^-alpha)`` at each curve's current ``n = n_max``
    (normalised so that properties in different units compare), or that reduction
    relative to the current error (``gain_by="relative"``).

    Parameters
    ----------
    posterior : CurvePosterior
        Posterior draws of the curves.
    database : str
        Database name (``database`` metadata column).
    delta_n : float, optional
        Samples added to the database; default its largest ``n_max`` (roughly doubling).
    gain_by : {"absolute", "relative"}, default "absolute"
        Rank by the normalised reduction or by the relative reduction.
    kind, where
        Curve filter as in :func:`compare_groups`.

    Returns
    -------
    ExpansionDecision

    Raises
    ------
    UnknownNameError
        No selected curve uses ``database``.
    BayesScalingError
        ``delta_n <= 0`` or a bad option.

    """
    if gain_by not in ("absolute", "relative"):
        raise BayesScalingError(f"gain_by must be 'absolute' or 'relative', got {gain_by!r}.")
    if "database" not in posterior.curves:
        raise BayesScalingError("The curve metadata has no 'database' column.")
    sel = select_curves(posterior, kind=kind, where=where)
    sel = sel[sel["database"].astype(str) == str(database)]
    if sel.empty:
        known = sorted(
            select_curves(posterior, kind=kind, where=where)["database"].astype(str).unique()
        )
        raise UnknownNameError(f"No selected curve uses database {database!r}; known: {known}.")
    delta = (
        float(sel["n_max"].max()) if delta_n is None else check_positive(delta_n, name="delta_n")
    )
    curves = list(sel.index)
    reduction, relative, original = [], [], []
    for c in curves:
        p = posterior.params(c, "normalised")
        n0 = float(posterior.curves.loc[c, "n_max"])
        err = error_draws(p["D"], p["alpha"], p["C"], np.array([n0, n0 + delta]))
        reduction.append(err[:, 0] - err[:, 1])
        relative.append((err[:, 0] - err[:, 1]) / err[:, 0])
        original.append(float(np.median(reduction[-1])) * posterior.scale_factor(c, "original"))
    red, rel = np.column_stack(reduction), np.column_stack(relative)
    ranks = rank_draws(red if gain_by == "absolute" else rel, higher_is_better=True)
    labels = [describe_curve(posterior.curves, c, "original") for c in curves]
    table = pd.DataFrame(
        {
            "curve": curves,
            "property": sel["property"].astype(str).to_numpy() if "property" in sel else curves,
            "database": str(database),
            "n_current": sel["n_max"].astype(float).to_numpy(),
            "delta_n": delta,
            **summarise(red, "reduction"),
            **summarise(rel, "relative_reduction"),
            "unit": [lab.unit for lab in labels],
            "reduction_original_median": original,
            **_ranking_columns(ranks),
        }
    ).sort_values("rank", kind="stable", ignore_index=True)
    return ExpansionDecision(
        table, _expansion_sentence(table, posterior), database=str(database), gain_by=gain_by
    )


def _expansion_sentence(table: pd.DataFrame, posterior: CurvePosterior) -> str:
    best = table.iloc[0]
    label = describe_curve(posterior.curves, best["curve"], "normalised")
    rel = format_number(100 * best["relative_reduction_median"], sig=2)
    return join_sentences(
        [
            f"adding {format_number(best['delta_n'], sig=3)} {best['database']} samples helps "
            f"{best['property']} most: its {label.subject.removeprefix(best['property'] + ' ')}"
            f" falls by {format_number(best['reduction_median'])} "
            f"({format_interval(best['reduction_lower'], best['reduction_upper'])}), "
            f"{rel} % of its current value",
            f"P(largest gain) {format_probability(best['p_best'])}",
        ]
    )
