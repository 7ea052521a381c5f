"""Stateless scikit-learn featurizers for polymers, polymer–solvent pairs and compositions.

All featurizers learn nothing in ``fit`` (so source and target data can be featurized by
separate instances and still share columns), return float NumPy arrays with a fixed,
documented column order (:meth:`get_feature_names_out`), work inside a
:class:`sklearn.pipeline.Pipeline`, and report invalid inputs with a
:class:`~bayes_scaling.exceptions.FeaturizationError` listing the rows, or drop them with
``on_error="drop"``.

* :class:`PolymerFeaturizer` – ``smiles`` (repeat unit with ``*`` ends) → 67 RDKit
  descriptors + count Morgan fingerprint;
* :class:`PolymerSolventFeaturizer` – ``polymer``, ``solvent``, ``temp`` → both blocks +
  ``temp`` and ``1000/T``;
* :class:`CompositionFeaturizer` – ``formula`` → 132 Magpie statistics (+ 118 atomic
  fractions), identical to matminer's ``ElementProperty.from_preset("magpie")``.
"""

from __future__ import annotations

from typing import Any

from bayes_scaling.datasets.featurizers._base import FeaturizationWarning
from bayes_scaling.datasets.featurizers.composition import (
    MAGPIE_PROPERTIES,
    MAGPIE_STATS,
    CompositionFeaturizer,
)
from bayes_scaling.datasets.featurizers.polymer import (
    DESCRIPTOR_NAMES,
    PolymerFeaturizer,
    PolymerSolventFeaturizer,
    capped_molecule,
    clear_feature_cache,
)
from bayes_scaling.exceptions import UnknownNameError

#: Featurizer classes by the short name used in :class:`~bayes_scaling.datasets.TransferPair`.
FEATURIZERS: dict[str, type] = {
    "polymer": PolymerFeaturizer,
    "polymer_solvent": PolymerSolventFeaturizer,
    "composition": CompositionFeaturizer,
}


def make_featurizer(name: str, **params: Any) -> Any:
    """Return a new featurizer by short name (``polymer``, ``polymer_solvent``, ``composition``).

    Raises
    ------
    UnknownNameError
        If ``name`` is not one of :data:`FEATURIZERS`.

    """
    try:
        cls = FEATURIZERS[name]
    except KeyError:
        raise UnknownNameError(
            f"Unknown featurizer {name!r}; valid names: {', '.join(FEATURIZERS)}."
        ) from None
    return cls(**params)


__all__ = [
    "DESCRIPTOR_NAMES",
    "FEATURIZERS",
    "MAGPIE_PROPERTIES",
    "MAGPIE_STATS",
    "CompositionFeaturizer",
    "FeaturizationWarning",
    "PolymerFeaturizer",
    "PolymerSolventFeaturizer",
    "capped_molecule",
    "clear_feature_cache",
    "make_featurizer",
]
