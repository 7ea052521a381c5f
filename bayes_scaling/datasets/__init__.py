"""Shared public datasets, the seven transfer tasks and their featurizers.

The data are read in place from the shared folder (``$BAYES_SCALING_DATA``, default
``../shared/data``), never copied into the project.

* :func:`load_dataset` / :func:`list_datasets` – one validated, deduplicated loader per
  dataset, with provenance in ``df.attrs`` (:mod:`bayes_scaling.datasets.loaders`);
* :func:`get_pair` / :func:`list_pairs` / :data:`PAIRS` – the source → target tasks
  (:mod:`bayes_scaling.datasets.pairs`);
* :class:`PolymerFeaturizer`, :class:`PolymerSolventFeaturizer`,
  :class:`CompositionFeaturizer` – stateless scikit-learn transformers
  (:mod:`bayes_scaling.datasets.featurizers`);
* :func:`normalise_formula` – canonical composition keys
  (:mod:`bayes_scaling.datasets.composition`).

Examples
--------
>>> from bayes_scaling.datasets import list_pairs
>>> print(list_pairs())  # doctest: +SKIP

"""

from __future__ import annotations

from bayes_scaling.datasets._paths import data_file, data_root
from bayes_scaling.datasets.composition import normalise_formula, parse_formula
from bayes_scaling.datasets.featurizers import (
    CompositionFeaturizer,
    FeaturizationWarning,
    PolymerFeaturizer,
    PolymerSolventFeaturizer,
    make_featurizer,
)
from bayes_scaling.datasets.loaders import DATASETS, clear_cache, list_datasets, load_dataset
from bayes_scaling.datasets.pairs import PAIRS, TransferPair, get_pair, list_pairs

__all__ = [
    "DATASETS",
    "PAIRS",
    "CompositionFeaturizer",
    "FeaturizationWarning",
    "PolymerFeaturizer",
    "PolymerSolventFeaturizer",
    "TransferPair",
    "clear_cache",
    "data_file",
    "data_root",
    "get_pair",
    "list_datasets",
    "list_pairs",
    "load_dataset",
    "make_featurizer",
    "normalise_formula",
    "parse_formula",
]
