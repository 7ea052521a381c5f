"""Registry of the seven Sim2Real source → target transfer tasks of the shared data.

Each :class:`TransferPair` says which computed database is the *source*, which experimental
set is the *target*, which property and unit, and how to featurize the inputs. Its
:meth:`~TransferPair.load_source` / :meth:`~TransferPair.load_target` return frames with one
column contract per family:

=========  ===================================  ==============================  ==========
family     input columns                        ``group`` (never split)         ``y`` unit
=========  ===================================  ==============================  ==========
polymer    ``smiles`` (canonical, ``*`` ends)   ``key`` (the canonical SMILES)  g/cm³, °C
chi        ``polymer``, ``solvent``, ``temp``   ``key`` = polymer–solvent pair  1 (χ)
inorganic  ``formula`` (reduced, sorted)        ``key`` (the composition)       eV
=========  ===================================  ==============================  ==========

Every frame has the columns ``key``, the input columns, ``y`` and ``group`` in that order,
one row per key (per key and ``temp`` for χ), rows with a missing property removed, a fresh
index, and ``attrs`` from the dataset loader plus ``pair``, ``role`` (``"source"`` or
``"target"``), ``property``, ``unit``.

Examples
--------
>>> from bayes_scaling.datasets import get_pair
>>> pair = get_pair("bandgap_aflow")
>>> pair.database, pair.property, pair.unit
('aflow', 'bandgap', 'eV')
>>> X = pair.make_featurizer().fit_transform(pair.load_target())  # doctest: +SKIP

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from bayes_scaling.datasets.featurizers import make_featurizer
from bayes_scaling.datasets.loaders import (
    UNIT_CELSIUS,
    UNIT_DENSITY,
    UNIT_DIMENSIONLESS,
    UNIT_EV,
    load_dataset,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError

Family = Literal["polymer", "chi", "inorganic"]

_INPUTS: dict[str, tuple[str, ...]] = {
    "polymer": ("smiles",),
    "chi": ("polymer", "solvent", "temp"),
    "inorganic": ("formula",),
}
_FEATURIZER: dict[str, str] = {
    "polymer": "polymer",
    "chi": "polymer_solvent",
    "inorganic": "composition",
}
_MATERIAL: dict[str, str] = {
    "polymer": "polymer",
    "chi": "polymer_solvent",
    "inorganic": "inorganic",
}


Options = tuple[tuple[str, Any], ...]


def _opts(**kwargs: Any) -> Options:
    """Keyword options as a sorted tuple of pairs (hashable and picklable)."""
    return tuple(sorted(kwargs.items()))


@dataclass(frozen=True)
class TransferPair:
    """One source → target transfer task.

    Parameters
    ----------
    name : str
        Pair name (e.g. ``"bandgap_oqmd"``).
    family : {"polymer", "chi", "inorganic"}
        Data family; fixes the input columns and the featurizer.
    property : str
        ``"density"``, ``"tg"``, ``"chi"`` or ``"bandgap"``.
    unit : str
        Unit of ``y`` (``"g/cm³"``, ``"°C"``, ``"dimensionless"``, ``"eV"``).
    database : str
        Short name of the source database (curve column ``database``).
    target : str
        Short name of the target set; pairs with the same ``property`` and ``target`` share
        their target data (see :attr:`target_id`).
    source_dataset, target_dataset : str
        Names in :func:`~bayes_scaling.datasets.load_dataset`.
    source_column, target_column : str
        Property column of each dataset that becomes ``y``.
    source_filters, target_filters : tuple of (str, value) pairs
        Filters passed to :func:`~bayes_scaling.datasets.load_dataset` (``dict(...)`` of it).
    description : str
        One line for tables and reports.
    featurizer_params : tuple of (str, value) pairs
        Extra keyword arguments for the featurizer.

    """

    name: str
    family: Family
    property: str
    unit: str
    database: str
    target: str
    source_dataset: str
    source_column: str
    target_dataset: str
    target_column: str
    source_filters: Options = ()
    target_filters: Options = ()
    description: str = ""
    featurizer_params: Options = ()

    @property
    def material_kind(self) -> str:
        """``"polymer"``, ``"polymer_solvent"`` or ``"inorganic"``."""
        return _MATERIAL[self.family]

    @property
    def featurizer(self) -> str:
        """Short featurizer name (``polymer``, ``polymer_solvent``, ``composition``)."""
        return _FEATURIZER[self.family]

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Columns of the loaded frames that the featurizer reads."""
        return _INPUTS[self.family]

    @property
    def target_id(self) -> str:
        """``"<property>_<target>"``: identical for pairs that share their target data."""
        return f"{self.property}_{self.target}"

    @property
    def source_label(self) -> str:
        """Human-readable source selection, e.g. ``radonpy_pi1070:density``."""
        return _label(self.source_dataset, self.source_filters, self.source_column)

    @property
    def target_label(self) -> str:
        """Human-readable target selection."""
        return _label(self.target_dataset, self.target_filters, self.target_column)

    def load_source(self) -> pd.DataFrame:
        """Source (computed) rows: ``key``, input columns, ``y``, ``group``."""
        return self._load("source", self.source_dataset, self.source_column, self.source_filters)

    def load_target(self) -> pd.DataFrame:
        """Target (experimental) rows: ``key``, input columns, ``y``, ``group``."""
        return self._load("target", self.target_dataset, self.target_column, self.target_filters)

    def make_featurizer(self) -> Any:
        """Return a new, unfitted scikit-learn transformer: loaded frame → float array."""
        return make_featurizer(self.featurizer, **dict(self.featurizer_params))

    def _load(self, role: str, dataset: str, column: str, filters: Options) -> pd.DataFrame:
        df = load_dataset(dataset, **dict(filters))
        if column not in df.columns:
            raise BayesScalingError(
                f"Pair {self.name!r}: column {column!r} not in dataset {dataset!r}."
            )
        df = df[df[column].notna()]
        out = pd.DataFrame({"key": df["key"].to_numpy(dtype=object)})
        if self.family == "polymer":
            out["smiles"] = df["key"].to_numpy(dtype=object)
        elif self.family == "chi":
            out["polymer"] = df["polymer"].to_numpy(dtype=object)
            out["solvent"] = df["solvent"].to_numpy(dtype=object)
            out["temp"] = df["temp"].to_numpy(dtype=np.float64)
        else:
            out["formula"] = df["key"].to_numpy(dtype=object)
        out["y"] = df[column].to_numpy(dtype=np.float64)
        out["group"] = df["key"].to_numpy(dtype=object)
        if len(out) == 0:
            raise BayesScalingError(f"Pair {self.name!r}: the {role} data are empty.")
        out.attrs = {
            **df.attrs,
            "pair": self.name,
            "role": role,
            "property": self.property,
            "unit": self.unit,
            "y_column": column,
        }
        return out


def _label(dataset: str, filters: Options, column: str) -> str:
    shown = {k: v for k, v in filters if k != "property"}
    if not shown:
        return f"{dataset}:{column}"
    parts = ",".join(
        f"{k}={'|'.join(v) if isinstance(v, tuple | list) else v}" for k, v in shown.items()
    )
    return f"{dataset}[{parts}]:{column}"


_GREA_DENSITY = _opts(source="GREA", property="density")
_EXPT_GAP = "bandgap_matbench_expt_gap"

_PAIR_LIST: tuple[TransferPair, ...] = (
    TransferPair(
        name="polymer_density_radonpy",
        family="polymer",
        property="density",
        unit=UNIT_DENSITY,
        database="radonpy",
        target="grea",
        source_dataset="radonpy_pi1070",
        source_column="density",
        source_filters=_opts(property="density"),
        target_dataset="polymer_properties_polymon",
        target_column="density",
        target_filters=_GREA_DENSITY,
        description="RadonPy MD density → experimental density (GREA/PoLyInfo)",
    ),
    TransferPair(
        name="polymer_density_mafa",
        family="polymer",
        property="density",
        unit=UNIT_DENSITY,
        database="mafa_md",
        target="grea",
        source_dataset="polymer_properties_polymon",
        source_column="density",
        source_filters=_opts(source="MAFA-MD", property="density"),
        target_dataset="polymer_properties_polymon",
        target_column="density",
        target_filters=_GREA_DENSITY,
        description="MAFA (Afzal et al.) MD density → experimental density (GREA/PoLyInfo)",
    ),
    TransferPair(
        name="polymer_tg_md",
        family="polymer",
        property="tg",
        unit=UNIT_CELSIUS,
        database="md_tg",
        target="polymetrix",
        source_dataset="polymer_properties_polymon",
        source_column="tg",
        source_filters=_opts(source=("HT-MD", "LT-MD", "MAFA-MD"), property="tg"),
        target_dataset="polymer_properties_polymon",
        target_column="tg",
        target_filters=_opts(source="PolyMetriX", property="tg"),
        description="MD Tg (MAFA-MD, HT-MD, LT-MD; averaged per polymer) → PolyMetriX Tg",
    ),
    TransferPair(
        name="chi_cosmo_rs",
        family="chi",
        property="chi",
        unit=UNIT_DIMENSIONLESS,
        database="cosmo_rs",
        target="aoki2023",
        source_dataset="chi_aoki2023_cosmo_rs",
        source_column="chi",
        target_dataset="chi_aoki2023_experimental",
        target_column="chi",
        description="COSMO-RS χ → experimental χ (Aoki et al. 2023), temperature as input",
    ),
    TransferPair(
        name="bandgap_mp",
        family="inorganic",
        property="bandgap",
        unit=UNIT_EV,
        database="materials_project",
        target="expt_gap",
        source_dataset="bandgap_matbench_mp_gap",
        source_column="bandgap",
        target_dataset=_EXPT_GAP,
        target_column="bandgap",
        description="Materials Project PBE gap (polymorphs averaged) → experimental gap",
    ),
    TransferPair(
        name="bandgap_oqmd",
        family="inorganic",
        property="bandgap",
        unit=UNIT_EV,
        database="oqmd",
        target="expt_gap",
        source_dataset="bandgap_oqmd",
        source_column="bandgap",
        target_dataset=_EXPT_GAP,
        target_column="bandgap",
        description="OQMD DFT gap → experimental gap (matbench expt_gap)",
    ),
    TransferPair(
        name="bandgap_aflow",
        family="inorganic",
        property="bandgap",
        unit=UNIT_EV,
        database="aflow",
        target="expt_gap",
        source_dataset="bandgap_aflow",
        source_column="bandgap",
        target_dataset=_EXPT_GAP,
        target_column="bandgap",
        description="AFLOW DFT gap → experimental gap (matbench expt_gap)",
    ),
)

#: The seven transfer tasks by name.
PAIRS: dict[str, TransferPair] = {p.name: p for p in _PAIR_LIST}


def get_pair(name: str) -> TransferPair:
    """Return a transfer task by name.

    Raises
    ------
    UnknownNameError
        If ``name`` is unknown; the message lists the valid names.

    Examples
    --------
    >>> get_pair("chi_cosmo_rs").input_columns
    ('polymer', 'solvent', 'temp')

    """
    try:
        return PAIRS[name]
    except (KeyError, TypeError):
        raise UnknownNameError(f"Unknown pair {name!r}; valid names: {', '.join(PAIRS)}.") from None


class PairTable(pd.DataFrame):
    """DataFrame of :func:`list_pairs` that prints in full (no column truncation)."""

    @property
    def _constructor(self) -> type[PairTable]:
        return PairTable

    def __repr__(self) -> str:
        return self.to_string()


def list_pairs(counts: bool = True) -> PairTable:
    """Table of the transfer tasks.

    Parameters
    ----------
    counts : bool, default True
        Load every source and target (cached) to report real row counts after
        deduplication; ``False`` leaves ``n_source``/``n_target`` empty and reads no data.

    Returns
    -------
    PairTable
        A :class:`pandas.DataFrame` (printed without truncation) with columns ``pair``,
        ``family``, ``property``, ``unit``, ``database``, ``source``, ``target``,
        ``n_source``, ``n_target``, ``featurizer``.

    Examples
    --------
    >>> list_pairs(counts=False)["pair"].tolist()[:2]
    ['polymer_density_radonpy', 'polymer_density_mafa']

    """
    rows = []
    for pair in PAIRS.values():
        rows.append(
            {
                "pair": pair.name,
                "family": pair.family,
                "property": pair.property,
                "unit": pair.unit,
                "database": pair.database,
                "source": pair.source_label,
                "target": pair.target_label,
                "n_source": len(pair.load_source()) if counts else pd.NA,
                "n_target": len(pair.load_target()) if counts else pd.NA,
                "featurizer": pair.featurizer,
            }
        )
    table = PairTable(rows)
    table["n_source"] = table["n_source"].astype("Int64")
    table["n_target"] = table["n_target"].astype("Int64")
    return table
