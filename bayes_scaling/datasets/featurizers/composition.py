"""Vectorised Magpie composition features (same numbers as matminer, much faster).

matminer's ``ElementProperty.from_preset("magpie")`` computes, for 22 elemental properties
of its Magpie table, six statistics weighted by the element amounts of the composition:
``minimum``, ``maximum``, ``range``, ``mean``, ``avg_dev`` (weighted mean absolute
deviation from the weighted mean) and ``mode`` (the property of the most abundant element;
ties, judged with ``numpy.isclose`` on the amounts, go to the smallest value). It loops in
Python per composition, which takes minutes for the 341k OQMD formulas.

:class:`CompositionFeaturizer` reads the same table (``matminer.utils.data.MagpieData``) into
an ``(element × property)`` array, parses each distinct formula once
(:func:`bayes_scaling.datasets.composition.parse_formula`; memoised within a call), and
evaluates the statistics
for blocks of formulas with NumPy on padded ``(formula × element)`` arrays. Missing table
values are imputed with the property mean exactly as matminer's default (``impute_nan=True``);
with ``impute_nan=False`` a statistic involving a missing value is NaN, as in matminer.
Column names and order equal matminer's ``feature_labels()``
(``"MagpieData <stat> <property>"``, property-major). Optionally the 118 atomic fractions
(H … Og, as matminer's ``ElementFraction``) are appended as ``frac_<El>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.datasets.composition import ATOMIC_NUMBER, ELEMENTS, _parse
from bayes_scaling.datasets.featurizers._base import OnError, StatelessFeaturizer, column_values
from bayes_scaling.exceptions import FeaturizationError

#: The 22 Magpie properties of matminer's "magpie" preset, in its order.
MAGPIE_PROPERTIES: tuple[str, ...] = (
    "Number",
    "MendeleevNumber",
    "AtomicWeight",
    "MeltingT",
    "Column",
    "Row",
    "CovalentRadius",
    "Electronegativity",
    "NsValence",
    "NpValence",
    "NdValence",
    "NfValence",
    "NValence",
    "NsUnfilled",
    "NpUnfilled",
    "NdUnfilled",
    "NfUnfilled",
    "NUnfilled",
    "GSvolume_pa",
    "GSbandgap",
    "GSmagmom",
    "SpaceGroupNumber",
)
#: The six statistics of the preset, in its order.
MAGPIE_STATS: tuple[str, ...] = ("minimum", "maximum", "range", "mean", "avg_dev", "mode")
_N_FRACTION_ELEMENTS = 118
_CHUNK = 32_768


@lru_cache(maxsize=2)
def magpie_table(impute_nan: bool = True) -> np.ndarray:
    """Magpie property table as an array of shape ``(119, 22)``; row ``Z`` is element ``Z``.

    Row 0 (no element; used for padding) is zero.
    """
    try:
        from matminer.utils.data import MagpieData
    except ImportError as exc:  # pragma: no cover - matminer is a dependency
        raise FeaturizationError(
            "CompositionFeaturizer needs matminer's Magpie element table; install matminer."
        ) from exc
    data = MagpieData(impute_nan=impute_nan)
    table = np.zeros((len(ELEMENTS) + 1, len(MAGPIE_PROPERTIES)), dtype=np.float64)
    for j, prop in enumerate(MAGPIE_PROPERTIES):
        values = data.all_elemental_props[prop]
        for z, sym in enumerate(ELEMENTS, start=1):
            table[z, j] = float(values.get(sym, np.nan))
    table.setflags(write=False)
    return table


def magpie_feature_names() -> list[str]:
    """Matminer's labels of the magpie preset, in its order."""
    return [f"MagpieData {stat} {prop}" for prop in MAGPIE_PROPERTIES for stat in MAGPIE_STATS]


def _padded(
    parsed: Sequence[tuple[tuple[str, float], ...]],
) -> tuple[np.ndarray, np.ndarray]:
    """Atomic numbers and amounts of parsed formulas, zero-padded to the longest."""
    width = max((len(p) for p in parsed), default=1)
    Z = np.zeros((len(parsed), width), dtype=np.int64)
    W = np.zeros((len(parsed), width), dtype=np.float64)
    for i, comp in enumerate(parsed):
        for j, (el, amount) in enumerate(comp):
            Z[i, j] = ATOMIC_NUMBER[el]
            W[i, j] = amount
    return Z, W


def _magpie_block(Z: np.ndarray, W: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Statistics for one block of padded compositions; shape ``(n, 22 * 6)``."""
    mask = Z > 0
    V = table[Z]  # (n, k, p)
    m3 = mask[:, :, None]
    w3 = W[:, :, None]
    total = W.sum(axis=1)[:, None]
    mean = (w3 * V).sum(axis=1) / total
    # padded entries: V == 0 and W == 0, so they add nothing above; exclude them below
    vmin = np.where(m3, V, np.inf).min(axis=1)
    vmax = np.where(m3, V, -np.inf).max(axis=1)
    avg_dev = (w3 * np.abs(V - mean[:, None, :])).sum(axis=1) / total
    wmax = W.max(axis=1, keepdims=True)
    top = mask & (np.abs(W - wmax) <= 1e-8 + 1e-5 * np.abs(wmax))  # numpy.isclose(w, wmax)
    mode = np.where(top[:, :, None], V, np.inf).min(axis=1)
    stats = np.stack([vmin, vmax, vmax - vmin, mean, avg_dev, mode], axis=2)  # (n, p, 6)
    return stats.reshape(len(Z), -1)


def _fractions(Z: np.ndarray, W: np.ndarray) -> np.ndarray:
    out = np.zeros((len(Z), _N_FRACTION_ELEMENTS + 1), dtype=np.float64)
    frac = W / W.sum(axis=1, keepdims=True)
    rows = np.repeat(np.arange(len(Z)), Z.shape[1])
    zs = Z.ravel()
    keep = (zs > 0) & (zs <= _N_FRACTION_ELEMENTS)
    np.add.at(out, (rows[keep], zs[keep]), frac.ravel()[keep])
    return out[:, 1:]


class CompositionFeaturizer(StatelessFeaturizer):
    """Chemical formula → Magpie composition features (matminer-identical, vectorised).

    Parameters
    ----------
    formula_column : str, default "formula"
        Column read when ``X`` is a DataFrame (a Series, list or 1-column array is used
        directly).
    element_fractions : bool, default False
        Append the atomic fractions of H … Og (118 columns ``frac_<El>``, as matminer's
        ``ElementFraction``).
    impute_nan : bool, default True
        matminer's ``impute_nan`` of the Magpie table.
    on_error : {"raise", "drop"}, default "raise"
        Unparseable formulas raise :class:`~bayes_scaling.exceptions.FeaturizationError`
        listing the rows (index, formula, reason), or are dropped (``dropped_``,
        ``kept_mask_``, a warning).

    Examples
    --------
    >>> f = CompositionFeaturizer()
    >>> X = f.fit_transform(["Fe2O3", "NaCl"])
    >>> X.shape, f.get_feature_names_out()[3]
    ((2, 132), 'MagpieData mean Number')

    """

    def __init__(
        self,
        formula_column: str = "formula",
        element_fractions: bool = False,
        impute_nan: bool = True,
        on_error: OnError = "raise",
    ) -> None:
        self.formula_column = formula_column
        self.element_fractions = element_fractions
        self.impute_nan = impute_nan
        self.on_error = on_error

    def _feature_names(self) -> list[str]:
        names = magpie_feature_names()
        if self.element_fractions:
            names += [f"frac_{el}" for el in ELEMENTS[:_N_FRACTION_ELEMENTS]]
        return names

    def transform(self, X: Any) -> np.ndarray:
        """Featurize the formulas of ``X``.

        Returns
        -------
        numpy.ndarray
            Float array ``(n_rows, 132)`` (``+ 118`` with ``element_fractions``), fewer rows
            if ``on_error="drop"`` dropped some.

        """
        self._check_params()
        values, labels = column_values(X, self.formula_column, "formula")
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        parsed: list[tuple[tuple[str, float], ...]] = []
        unique_ok = np.zeros(len(uniques), dtype=bool)
        unique_reason: dict[int, str] = {}
        for u, value in enumerate(uniques):
            if not isinstance(value, str):
                unique_reason[u] = "not a string"
                continue
            try:
                parsed.append(_parse(value))
            except FeaturizationError as exc:
                unique_reason[u] = str(exc)
                continue
            unique_ok[u] = True
        table = magpie_table(bool(self.impute_nan))
        n_feat = len(self._feature_names())
        U = np.empty((len(parsed), n_feat), dtype=np.float64)
        for start in range(0, len(parsed), _CHUNK):
            Z, W = _padded(parsed[start : start + _CHUNK])
            block = _magpie_block(Z, W, table)
            if self.element_fractions:
                block = np.hstack([block, _fractions(Z, W)])
            U[start : start + _CHUNK] = block
        # map rows -> rows of U (-1: missing value or unparseable)
        u_to_row = np.full(len(uniques) + 1, -1, dtype=np.int64)
        u_to_row[:-1][unique_ok] = np.arange(len(parsed))
        row_code = u_to_row[codes]  # codes == -1 (missing) picks the trailing -1
        bad: dict[int, str] = {}
        for i in np.flatnonzero(row_code < 0):
            c = int(codes[i])
            bad[int(i)] = "missing value" if c < 0 else unique_reason[c]
        if (
            not bad
            and len(parsed) == len(values)
            and np.array_equal(row_code, np.arange(len(values)))
        ):
            out = U  # all distinct and valid, in order: no copy
        else:
            out = np.zeros((len(values), n_feat), dtype=np.float64)
            ok = row_code >= 0
            out[ok] = U[row_code[ok]]
        keep = self._handle_bad(labels, values, bad, "formulas", self.formula_column)
        return out[keep] if bad else out
