"""Bring learning curves from elsewhere into the curve schema (:mod:`bayes_scaling.curves`).

Three adapters, each returning a table already checked by
:func:`~bayes_scaling.curves.validate_curves`:

* :func:`from_learning_curve`: the output of scikit-learn's
  :func:`sklearn.model_selection.learning_curve` (every CV split becomes a seed);
* :func:`from_learning_curve_display`: a :class:`sklearn.model_selection.LearningCurveDisplay`;
* :func:`from_table`: any long table (DataFrame, CSV or Parquet) with your own column names.

How a plain learning curve maps onto the schema
-----------------------------------------------
The schema was written for transfer learning (``property`` = what is predicted, ``database`` =
where the ``n`` training samples come from). A plain learning curve (error versus
training-set size of one estimator on one data set) maps onto it as

=============  ============================================================================
schema column  plain learning curve
=============  ============================================================================
property       the data set (the task), e.g. ``"digits"``
database       the estimator, e.g. ``"logistic_regression"``: "which database to expand"
               becomes "which estimator to invest in"
kind           ``"transfer"`` (error versus the number of training samples ``n``)
n              training-set size
seed           the CV split (or repetition)
metric         the error metric (scores converted by the documented rule, see below)
target_scale   ``1`` unless given (for error rates and ``1 - score`` metrics the error is
               already on a common scale; for a regression MAE pass the target's standard
               deviation so curves of different data sets compare)
=============  ============================================================================

so ``ScalingLawModel(groups=["property", "database"])`` pools the curves by data set and by
estimator, and ``compare_groups(posterior, by="database", within="property")`` ranks the
estimators on each data set. :func:`from_table` lets you map any column onto any schema
column (``columns={"property": "dataset", "database": "model"}``).

Scores
------
scikit-learn's scorers are higher-is-better. The model needs a positive, lower-is-better
error, so scores are converted by the rule of :func:`bayes_scaling.curves.score_conversion`
(``accuracy`` -> ``1 - accuracy``, metric ``1-accuracy``; ``neg_mean_absolute_error`` ->
``-score``, metric ``mean_absolute_error``) when you pass ``convert_scores=True``; without
it a score is rejected with a message saying how it would be converted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from bayes_scaling.curves import (
    CURVE_KEYS,
    NEGATED_PREFIX,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    score_conversion,
    validate_curves,
)
from bayes_scaling.exceptions import CurveSchemaError

#: Schema columns :func:`from_table` can fill from a user column or a constant.
MAPPABLE: tuple[str, ...] = tuple(
    c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c not in ("n", "error", "seed")
)
#: Default constants of the required columns a plain learning curve does not have.
DEFAULTS: dict[str, Any] = {
    "property": "data",
    "database": "none",
    "kind": "transfer",
    "target_scale": 1.0,
}
#: Separator joining several user columns mapped onto one schema column.
JOIN: str = "/"


# ---------------------------------------------------------------------------- scikit-learn
def from_learning_curve(
    train_sizes_abs: Any,
    train_scores: Any,
    test_scores: Any,
    *,
    scoring: str | None,
    dataset: str = "data",
    estimator: str = "estimator",
    which: Literal["test", "train"] = "test",
    convert_scores: bool = False,
    target_scale: float = 1.0,
    unit: str | None = None,
) -> pd.DataFrame:
    """Turn the output of :func:`sklearn.model_selection.learning_curve` into a curve table.

    Every CV split (column of the score arrays) becomes a ``seed``; every training size
    (row) an ``n``.

    Parameters
    ----------
    train_sizes_abs : array-like of shape (n_ticks,)
        Training-set sizes, the first output of ``learning_curve``.
    train_scores, test_scores : array-like of shape (n_ticks, n_cv_folds)
        Scores on the training and the test folds.
    scoring : str or None
        The ``scoring`` passed to ``learning_curve`` (a scikit-learn scorer name such as
        ``"accuracy"`` or ``"neg_log_loss"``, or the name of your own lower-is-better error).
        ``None`` (scikit-learn's default, the estimator's ``score``: accuracy for classifiers,
        R² for regressors) is rejected: name it.
    dataset : str, default "data"
        The data set: the ``property`` column.
    estimator : str, default "estimator"
        The estimator: the ``database`` column.
    which : {"test", "train"}, default "test"
        Which scores become the curve.
    convert_scores : bool, default False
        Convert a higher-is-better score into an error by the documented rule
        (:func:`bayes_scaling.curves.score_conversion`); without it a score is rejected.
    target_scale : float, default 1.0
        The ``target_scale`` column (the error is divided by it before modelling).
    unit : str, optional
        Unit of the error (the ``unit`` column), printed in sentences.

    Returns
    -------
    pandas.DataFrame
        A validated curve table (``kind="transfer"``).

    Raises
    ------
    CurveSchemaError
        No scoring name, arrays of inconsistent shapes, NaN scores (a failed fit), a score
        without ``convert_scores=True``, or any other schema violation.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import learning_curve
    >>> from sklearn.naive_bayes import GaussianNB
    >>> X, y = load_digits(return_X_y=True)
    >>> out = learning_curve(GaussianNB(), X, y, cv=3, scoring="accuracy",
    ...                      train_sizes=[0.1, 0.4, 1.0])
    >>> curves = from_learning_curve(*out, scoring="accuracy", dataset="digits",
    ...                              estimator="naive_bayes", convert_scores=True)
    >>> curves[["n", "seed", "metric"]].shape, curves["metric"].iloc[0], curves["seed"].nunique()
    ((9, 3), '1-accuracy', 3)

    """
    if scoring is None:
        raise CurveSchemaError(
            "scoring=None: learning_curve then uses the estimator's own score (accuracy for "
            "classifiers, R² for regressors). Pass the scorer's name, e.g. scoring='accuracy' "
            "(or 'r2'), so the metric is known."
        )
    if which not in ("test", "train"):
        raise CurveSchemaError(f"which must be 'test' or 'train', got {which!r}.")
    sizes = np.asarray(train_sizes_abs)
    scores = np.asarray(test_scores if which == "test" else train_scores, dtype=float)
    other = np.asarray(train_scores if which == "test" else test_scores, dtype=float)
    if sizes.ndim != 1:
        raise CurveSchemaError(
            f"train_sizes_abs must be one-dimensional (n_ticks,), got shape {sizes.shape}."
        )
    if scores.ndim != 2 or scores.shape[0] != sizes.size:
        raise CurveSchemaError(
            f"{which}_scores must have shape (n_ticks, n_cv_folds) = ({sizes.size}, k), got "
            f"{scores.shape}."
        )
    if other.shape != scores.shape:
        raise CurveSchemaError(
            f"train_scores {np.shape(train_scores)} and test_scores {np.shape(test_scores)} "
            "have different shapes; pass the arrays learning_curve returned."
        )
    if np.isnan(scores).any():
        bad = sorted({int(sizes[i]) for i in np.flatnonzero(np.isnan(scores).any(axis=1))})
        raise CurveSchemaError(
            f"{which}_scores hold NaN at training size(s) {bad}: the estimator failed to fit "
            "there (learning_curve's error_score=nan). Drop those sizes or fix the fit."
        )
    n_ticks, n_folds = scores.shape
    table = pd.DataFrame(
        {
            "property": str(dataset),
            "database": str(estimator),
            "kind": "transfer",
            "n": np.repeat(sizes, n_folds),
            "seed": np.tile(np.arange(n_folds), n_ticks),
            "error": scores.ravel(),
            "metric": str(scoring),
            "target_scale": float(target_scale),
        }
    )
    if unit is not None:
        table["unit"] = unit
    return validate_curves(table, convert_scores=convert_scores)


def _scoring_from_score_name(score_name: str | None) -> str:
    """Recover the scorer of a display's stored scores from its ``score_name``.

    scikit-learn stores the scorer's raw output and negates only when plotting, while the
    name follows the plot: ``scoring="neg_log_loss"`` is named ``"Negative log loss"``
    (``negate_score=False``) or ``"Log loss"`` (``negate_score=True``), and
    ``scoring="accuracy"`` is named ``"Accuracy"`` or ``"Negative accuracy"``. Every
    scikit-learn scorer is higher-is-better and losses are named ``neg_<loss>``, so a
    recovered name that is a score is the scorer itself, and one that is a loss stands for
    ``neg_<loss>``.
    """
    if score_name is None or score_name.strip().lower() in ("score", "negative score", ""):
        raise CurveSchemaError(
            f"The display's score name {score_name!r} does not say which metric it holds "
            "(the estimator's default score). Pass scoring='accuracy' (or the scorer's name) "
            "to from_learning_curve_display."
        )
    name = score_name.strip().lower().replace(" ", "_").removeprefix("negative_")
    try:
        is_score = score_conversion(name) is not None
    except CurveSchemaError:
        is_score = True
    return name if is_score else NEGATED_PREFIX + name


def from_learning_curve_display(
    display: Any,
    *,
    scoring: str | None = None,
    dataset: str = "data",
    estimator: str = "estimator",
    which: Literal["test", "train"] = "test",
    convert_scores: bool = False,
    target_scale: float = 1.0,
    unit: str | None = None,
) -> pd.DataFrame:
    """Turn a :class:`sklearn.model_selection.LearningCurveDisplay` into a curve table.

    Reads the display's ``train_sizes``, ``train_scores``, ``test_scores`` (the scorer's raw
    output: scikit-learn negates only when plotting) and, unless ``scoring`` is given,
    recovers the scorer from its ``score_name``: ``"Accuracy"`` and ``"Negative accuracy"``
    are ``accuracy``; ``"Negative log loss"`` and ``"Log loss"`` (``negate_score=True``) are
    ``neg_log_loss``, since scikit-learn names every loss scorer ``neg_<loss>``. Pass
    ``scoring`` when the name is the default ``"Score"`` or your own.

    Parameters
    ----------
    display : LearningCurveDisplay
        E.g. ``LearningCurveDisplay.from_estimator(est, X, y, scoring="accuracy")``.
    scoring : str, optional
        Metric of the stored scores; default: recovered from ``display.score_name``.
    dataset, estimator, which, convert_scores, target_scale, unit
        As in :func:`from_learning_curve`.

    Returns
    -------
    pandas.DataFrame
        A validated curve table.

    Raises
    ------
    CurveSchemaError
        Not a display, a score name that does not name the metric (the default
        ``"Score"``), or anything :func:`from_learning_curve` rejects.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.model_selection import LearningCurveDisplay
    >>> from sklearn.naive_bayes import GaussianNB
    >>> X, y = load_wine(return_X_y=True)
    >>> disp = LearningCurveDisplay.from_estimator(
    ...     GaussianNB(), X, y, cv=3, scoring="neg_log_loss", train_sizes=[0.3, 0.6, 1.0],
    ...     shuffle=True, random_state=0)
    >>> t = from_learning_curve_display(disp, dataset="wine", convert_scores=True)
    >>> t["metric"].iloc[0], bool((t["error"] > 0).all())
    ('log_loss', True)

    """
    missing = [a for a in ("train_sizes", "train_scores", "test_scores") if not hasattr(display, a)]
    if missing:
        raise CurveSchemaError(
            f"Expected a fitted sklearn LearningCurveDisplay; {type(display).__name__} has no "
            f"attribute(s) {missing}."
        )
    if scoring is None:
        scoring = _scoring_from_score_name(getattr(display, "score_name", None))
    return from_learning_curve(
        display.train_sizes,
        display.train_scores,
        display.test_scores,
        scoring=scoring,
        dataset=dataset,
        estimator=estimator,
        which=which,
        convert_scores=convert_scores,
        target_scale=target_scale,
        unit=unit,
    )


# ------------------------------------------------------------------------------ any table
def _read_table(source: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.is_file():
        raise CurveSchemaError(f"Table file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise CurveSchemaError(
            f"Table file {path} has unsupported suffix {suffix!r}; use .csv or .parquet."
        )
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any parser failure means an unreadable file
        raise CurveSchemaError(f"Could not read table file {path}: {exc}") from exc


def _user_column(table: pd.DataFrame, column: str, role: str) -> pd.Series:
    if column not in table.columns:
        raise CurveSchemaError(
            f"Column {column!r} (given as {role}) is not in the table; its columns are "
            f"{list(map(str, table.columns))}."
        )
    return table[column]


def from_table(
    source: pd.DataFrame | str | os.PathLike[str],
    *,
    n: str,
    error: str,
    seed: str | None = None,
    metric: str | None = None,
    metric_column: str | None = None,
    columns: Mapping[str, str | Sequence[str]] | None = None,
    values: Mapping[str, Any] | None = None,
    convert_scores: bool = False,
) -> pd.DataFrame:
    """Turn a long table with your own column names into a validated curve table.

    Parameters
    ----------
    source : pandas.DataFrame or path
        The table, or a ``.csv``/``.parquet`` file holding it. One row per (curve, n, seed).
    n : str
        Column holding the training-set size.
    error : str
        Column holding the error (or the score, with ``convert_scores=True``).
    seed : str, optional
        Column holding the repetition (CV split, seed). Default: repeated rows of a curve at
        the same ``n`` are numbered 0, 1, ... in table order.
    metric : str, optional
        Metric name of every row (e.g. ``"error_rate"``, ``"log_loss"``, ``"accuracy"``).
    metric_column : str, optional
        Column holding the metric name per row instead. Give exactly one of ``metric`` and
        ``metric_column``.
    columns : mapping, optional
        Schema column -> your column(s), for the curve's descriptors, e.g.
        ``{"property": "dataset", "database": "model"}``. Several columns mapped onto one
        schema column are joined with ``"/"`` (``{"database": ["model", "preprocessing"]}``).
        Mappable: :data:`MAPPABLE`.
    values : mapping, optional
        Schema column -> constant, e.g. ``{"unit": "m", "target_scale": 1.2}``. Required
        columns neither mapped nor given default to :data:`DEFAULTS` (``property="data"``,
        ``database="none"``, ``kind="transfer"``, ``target_scale=1``).
    convert_scores : bool, default False
        Convert higher-is-better scores into errors by the documented rule
        (:func:`bayes_scaling.curves.score_conversion`).

    Returns
    -------
    pandas.DataFrame
        A curve table validated by :func:`~bayes_scaling.curves.validate_curves`. Columns
        of ``source`` not mapped are dropped.

    Raises
    ------
    CurveSchemaError
        An unreadable file, a named column missing from the table, an unknown schema column,
        a schema column both mapped and given, not exactly one of ``metric`` and
        ``metric_column``, or any schema violation of the result (NaN, non-positive errors,
        duplicate rows, fewer than three distinct n, a higher-is-better score, ...).

    Examples
    --------
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"train_size": [100, 300, 1000] * 2,
    ...                      "model": ["tree"] * 3 + ["forest"] * 3,
    ...                      "val_error": [0.30, 0.22, 0.18, 0.25, 0.17, 0.12]})
    >>> t = from_table(runs, n="train_size", error="val_error", metric="error_rate",
    ...                columns={"database": "model"}, values={"property": "churn"})
    >>> sorted(t["database"].unique()), t["seed"].unique().tolist()
    (['forest', 'tree'], [0])

    """
    table = _read_table(source)
    columns = dict(columns or {})
    values = dict(values or {})
    for role, mapping in (("columns", columns), ("values", values)):
        unknown = [c for c in mapping if c not in MAPPABLE]
        if unknown:
            raise CurveSchemaError(
                f"{role}= names unknown schema column(s) {unknown}; mappable: {list(MAPPABLE)} "
                "(n, error and seed have their own arguments)."
            )
    both = sorted(set(columns) & set(values))
    if both:
        raise CurveSchemaError(f"Schema column(s) {both} given both in columns= and values=.")
    if (metric is None) == (metric_column is None):
        raise CurveSchemaError(
            "Give exactly one of metric= (the metric name of every row, e.g. 'error_rate') "
            "and metric_column= (a column holding it)."
        )
    if metric_column is not None:
        columns["metric"] = metric_column
    else:
        values["metric"] = metric

    out = pd.DataFrame(index=table.index)
    out["n"] = _user_column(table, n, "n=")
    out["error"] = _user_column(table, error, "error=")
    for target, source_cols in columns.items():
        cols = [source_cols] if isinstance(source_cols, str) else list(source_cols)
        if not cols:
            raise CurveSchemaError(f"columns={{{target!r}: []}} maps no column.")
        parts = [_user_column(table, c, f"columns[{target!r}]") for c in cols]
        if len(parts) == 1:
            out[target] = parts[0]
        else:
            joined = parts[0].astype(str)
            for p in parts[1:]:
                joined = joined + JOIN + p.astype(str)
            out[target] = joined
    for target, value in {**DEFAULTS, **values}.items():
        if target not in columns:
            out[target] = value
    if seed is not None:
        out["seed"] = _user_column(table, seed, "seed=")
    else:
        keys = [c for c in CURVE_KEYS if c in out.columns] + ["n"]
        out["seed"] = out.groupby(keys, sort=False, dropna=False).cumcount()
    return validate_curves(out.reset_index(drop=True), convert_scores=convert_scores)
