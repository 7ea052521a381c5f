"""Error metrics of a curve table: errors, normalised errors, and scores made errors.

The curve schema (:mod:`bayes_scaling.curves`) accepts any lower-is-better error name;
this module holds the vocabulary around it: the harness's metrics, the normalised ones
(already divided by ``target_scale``), the higher-is-better scores, and the documented rule
that turns a known score into an error (:func:`score_conversion`, :func:`to_error_metric`).
Every name here is also importable from :mod:`bayes_scaling.curves`.
"""

from __future__ import annotations

import re
from typing import Final

import pandas as pd

from bayes_scaling.exceptions import CurveSchemaError

#: The metrics the harness writes (the metric vocabulary itself is open: any lower-is-better
#: error name is accepted, see :func:`score_conversion`).
METRICS: Final[tuple[str, ...]] = ("mae", "rmse", "nmae", "nrmse")
#: Metrics whose errors are already divided by ``target_scale`` (besides names starting with
#: one of :data:`NORMALISED_PREFIXES`).
NORMALISED_METRICS: Final[frozenset[str]] = frozenset({"nmae", "nrmse"})
#: A metric whose name starts with one of these prefixes is already normalised.
NORMALISED_PREFIXES: Final[tuple[str, ...]] = ("normalised_", "normalized_")
#: Higher-is-better scores bounded above by 1 (a perfect model scores 1), converted by
#: ``error = 1 - score`` into the metric ``"1-<score>"``. The names are scikit-learn's scorer
#: names (plus ``auc`` and ``acc``).
ONE_MINUS_SCORES: Final[frozenset[str]] = frozenset(
    {
        "accuracy",
        "acc",
        "balanced_accuracy",
        "top_k_accuracy",
        "r2",
        "explained_variance",
        "auc",
        "roc_auc",
        "average_precision",
        "f1",
        "precision",
        "recall",
        "jaccard",
        "matthews_corrcoef",
        "adjusted_rand_score",
        "rand_score",
        "adjusted_mutual_info_score",
        "normalized_mutual_info_score",
        "homogeneity_score",
        "completeness_score",
        "v_measure_score",
        "fowlkes_mallows_score",
        "d2_absolute_error_score",
        "d2_pinball_score",
        "d2_tweedie_score",
        "d2_log_loss_score",
    }
)
#: Score families whose scikit-learn variants carry a suffix (``f1_macro``,
#: ``roc_auc_ovr_weighted``, ``precision_micro``, the D² scores ``d2_*``, ...): also
#: ``1 - score``.
ONE_MINUS_FAMILIES: Final[tuple[str, ...]] = (
    "f1",
    "precision",
    "recall",
    "jaccard",
    "roc_auc",
    "d2",
)
#: Words that mark a user's own metric name as a higher-is-better score bounded by 1
#: (``val_accuracy``, ``test_auc``, ``macro_f1``): also ``1 - score``.
SCORE_WORDS: Final[frozenset[str]] = frozenset(
    {"accuracy", "acc", "auc", "r2", "f1", "precision", "recall"}
)
#: Words that mark a name as an error even when it also holds a score word
#: (``acc_error``, ``f1_loss``).
ERROR_WORDS: Final[frozenset[str]] = frozenset({"error", "err", "loss", "rate"})
#: Prefix of scikit-learn's negated losses (``neg_mean_absolute_error`` is ``-MAE``):
#: converted by ``error = -score`` into the metric without the prefix.
NEGATED_PREFIX: Final[str] = "neg_"
#: Higher-is-better scores without a bound, so without a conversion rule: always rejected.
UNCONVERTIBLE_SCORES: Final[frozenset[str]] = frozenset(
    {"mutual_info_score", "positive_likelihood_ratio"}
)


def _metric_key(metric: str) -> str:
    return str(metric).strip().lower()


def is_normalised_metric(metric: str) -> bool:
    """Return whether errors of ``metric`` are already divided by ``target_scale``.

    The rule is explicit: the names in :data:`NORMALISED_METRICS` (``nmae``, ``nrmse``)
    and names starting with ``normalised_`` or ``normalized_``. Every other metric
    (``mae``, ``nll``, ``error_rate``, ...) is divided by ``target_scale`` before modelling.

    Examples
    --------
    >>> is_normalised_metric("nmae"), is_normalised_metric("nll")
    (True, False)
    >>> is_normalised_metric("normalised_log_loss")
    True

    """
    key = _metric_key(metric)
    return key in NORMALISED_METRICS or key.startswith(NORMALISED_PREFIXES)


def score_conversion(metric: str) -> tuple[str, str] | None:
    """Return how a higher-is-better score becomes an error, or ``None`` for an error.

    The documented rule, applied to the metric name (case-insensitive):

    * scikit-learn's negated losses, ``neg_<loss>``: ``error = -score``, metric ``<loss>``
      (``neg_mean_absolute_error`` -> ``mean_absolute_error``, ``neg_log_loss`` ->
      ``log_loss``);
    * scores bounded above by 1 (:data:`ONE_MINUS_SCORES`; unless the name contains one of
      the words of :data:`ERROR_WORDS`, also the suffixed variants of
      :data:`ONE_MINUS_FAMILIES` such as ``f1_macro`` and any name containing one of the
      words of :data:`SCORE_WORDS`, such as ``val_accuracy``): ``error = 1 - score``,
      metric ``1-<score>`` (``accuracy`` -> ``1-accuracy``, ``r2`` -> ``1-r2``);
    * every other name (``mae``, ``error_rate``, ``log_loss``, ``1-accuracy``,
      ``acc_error``, ...) is a lower-is-better error and is kept as it is.

    Parameters
    ----------
    metric : str
        Metric name.

    Returns
    -------
    tuple of (str, str) or None
        ``(new_metric, rule)`` with ``rule`` either ``"1 - score"`` or ``"-score"``;
        ``None`` when ``metric`` already is an error.

    Raises
    ------
    CurveSchemaError
        For a higher-is-better score without a bound (:data:`UNCONVERTIBLE_SCORES`).

    Examples
    --------
    >>> score_conversion("accuracy")
    ('1-accuracy', '1 - score')
    >>> score_conversion("neg_mean_absolute_error")
    ('mean_absolute_error', '-score')
    >>> score_conversion("error_rate") is None
    True

    """
    key = _metric_key(metric)
    if key in UNCONVERTIBLE_SCORES:
        raise CurveSchemaError(
            f"Metric {metric!r} is a higher-is-better score without an upper bound, so there is "
            "no rule turning it into an error; compute a positive, lower-is-better error "
            "(e.g. an error rate or a loss) and use that as the metric."
        )
    if key.startswith("1-"):
        return None
    if key.startswith(NEGATED_PREFIX) and len(key) > len(NEGATED_PREFIX):
        return key[len(NEGATED_PREFIX) :], "-score"
    if key in ONE_MINUS_SCORES:
        return f"1-{key}", "1 - score"
    words = set(re.split(r"[^a-z0-9]+", key))
    if words & ERROR_WORDS:
        return None
    if any(key.startswith(f + "_") for f in ONE_MINUS_FAMILIES) or words & SCORE_WORDS:
        return f"1-{key}", "1 - score"
    return None


def _conversion_hint(metric: str) -> str:
    try:
        conv = score_conversion(metric)
    except CurveSchemaError as exc:
        return str(exc)
    assert conv is not None
    new, rule = conv
    formula = f"1 - {metric}" if rule == "1 - score" else f"-({metric})"
    return f"{metric!r} -> error = {formula}, metric {new!r}"


def to_error_metric(df: pd.DataFrame) -> pd.DataFrame:
    """Convert rows holding higher-is-better scores into errors, by :func:`score_conversion`.

    Rows whose metric already is an error are left unchanged, so the function is idempotent.

    Parameters
    ----------
    df : pandas.DataFrame
        A table with ``metric`` and ``error`` columns (``error`` holding the score values
        on the rows to convert).

    Returns
    -------
    pandas.DataFrame
        A copy with ``error`` and ``metric`` converted (not validated).

    Raises
    ------
    CurveSchemaError
        Missing ``metric``/``error`` column, or a score without a conversion rule.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"metric": ["accuracy", "neg_log_loss", "mae"],
    ...                   "error": [0.9, -0.3, 0.2]})
    >>> to_error_metric(t).round(3).values.tolist()
    [['1-accuracy', 0.1], ['log_loss', 0.3], ['mae', 0.2]]

    """
    missing = [c for c in ("metric", "error") if c not in df.columns]
    if missing:
        raise CurveSchemaError(f"Cannot convert scores: missing column(s) {missing}.")
    out = df.copy()
    metric = out["metric"].astype(str)
    error = pd.to_numeric(out["error"], errors="coerce").astype(float)
    new_metric = metric.copy()
    for name in metric.unique():
        conv = score_conversion(name)
        if conv is None:
            continue
        rows = metric == name
        new, rule = conv
        error = error.where(~rows, 1.0 - error if rule == "1 - score" else -error)
        new_metric = new_metric.where(~rows, new)
    out["error"] = error
    out["metric"] = new_metric
    return out


def _is_score(metric: str) -> bool:
    try:
        return score_conversion(metric) is not None
    except CurveSchemaError:
        return True
