"""Shared plumbing of the featurizers: input extraction, error reporting, row dropping."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from bayes_scaling.exceptions import FeaturizationError

OnError = Literal["raise", "drop"]
_MAX_LISTED = 20


class FeaturizationWarning(UserWarning):
    """Rows were dropped by a featurizer created with ``on_error="drop"``."""


def column_values(X: Any, column: str, what: str) -> tuple[list[Any], list[Hashable]]:
    """Return the values of ``column`` and the row labels of ``X``.

    ``X`` may be a DataFrame (``column`` is required), a Series, a 1-D array/list, or a 2-D
    array with one column.
    """
    if isinstance(X, pd.DataFrame):
        if column not in X.columns:
            raise FeaturizationError(
                f"Input has no {what} column {column!r}; columns are {list(X.columns)}."
            )
        return X[column].tolist(), list(X.index)
    if isinstance(X, pd.Series):
        return X.tolist(), list(X.index)
    if isinstance(X, str):
        raise FeaturizationError(f"Expected a table or a list of {what} strings, got one string.")
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise FeaturizationError(
            f"Expected a DataFrame with column {column!r} or a 1-D sequence of {what} strings; "
            f"got an array of shape {arr.shape}."
        )
    return arr.tolist(), list(range(len(arr)))


def describe_bad(
    labels: Sequence[Hashable], values: Sequence[Any], bad: dict[int, str], what: str, column: str
) -> str:
    """Message listing the bad rows as ``index <label>: <value> (<reason>)``."""
    items = sorted(bad)
    listed = "; ".join(
        f"index {labels[i]!r}: {values[i]!r} ({bad[i]})" for i in items[:_MAX_LISTED]
    )
    more = f"; ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return (
        f"Could not featurize {len(items)} of {len(values)} {what} in column {column!r}: "
        f"{listed}{more}. Fix or remove these rows, or use on_error='drop'."
    )


def check_on_error(on_error: str) -> None:
    """Validate the ``on_error`` parameter."""
    if on_error not in ("raise", "drop"):
        raise FeaturizationError(f"on_error must be 'raise' or 'drop', got {on_error!r}.")


class StatelessFeaturizer(TransformerMixin, BaseEstimator):
    """Base class of the featurizers: ``fit`` learns nothing.

    Separate ``fit_transform`` calls on source and target data therefore give the same
    columns.

    After a ``transform`` with ``on_error="drop"`` the attributes ``dropped_`` (list of
    ``(index label, value, reason)``) and ``kept_mask_`` (boolean array over the input rows)
    describe what was removed; with ``on_error="raise"`` they describe an empty drop.
    Dropping rows changes the row count, so in a :class:`~sklearn.pipeline.Pipeline` with a
    target ``y`` use ``on_error="raise"`` (or drop the rows beforehand with
    ``kept_mask_``).
    """

    on_error: OnError

    def fit(self, X: Any, y: Any = None) -> StatelessFeaturizer:
        """Check the parameters; nothing is learned. Returns ``self``."""
        self._check_params()
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def _check_params(self) -> None:
        check_on_error(self.on_error)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.input_tags.one_d_array = True
        return tags

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (deterministic, independent of the data)."""
        return np.asarray(self._feature_names(), dtype=object)

    def _feature_names(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _handle_bad(
        self,
        labels: Sequence[Hashable],
        values: Sequence[Any],
        bad: dict[int, str],
        what: str,
        column: str,
    ) -> np.ndarray:
        """Raise for bad rows, or record and warn about them; return the kept-row mask."""
        keep = np.ones(len(values), dtype=bool)
        self.dropped_ = [(labels[i], values[i], bad[i]) for i in sorted(bad)]
        if bad:
            message = describe_bad(labels, values, bad, what, column)
            if self.on_error == "raise":
                raise FeaturizationError(message)
            keep[list(bad)] = False
            warnings.warn(
                f"Dropped {len(bad)} row(s): {message.split(': ', 1)[1].rsplit('. Fix', 1)[0]}",
                FeaturizationWarning,
                stacklevel=3,
            )
        self.kept_mask_ = keep
        return keep
