"""Dataset registry: one validated loader per shared dataset.

Every loader returns a :class:`pandas.DataFrame` with

* ``key`` – canonical identifier of the material (first column): RDKit-canonical repeat-unit
  SMILES with ``*`` ends for polymers, the reduced element-sorted formula of
  :func:`bayes_scaling.datasets.composition.normalise_formula` for inorganic compounds, and
  ``"<polymer>_<solvent>"`` canonical SMILES for polymer–solvent pairs;
* the property columns (lower-case names; units in ``df.attrs["units"]``);
* ``n_merged`` – how many raw rows were averaged into the row.

Rows with the same key (for χ: the same key *and* ``temp``) are merged by the **mean** of each
numeric column (missing values skipped); text columns keep their first value, except the
polymer aggregate's ``source``, which lists the merged sources joined by ``"+"``. Rows whose
key cannot be built (invalid SMILES/formula) are dropped. What happened is recorded in
``df.attrs``:

``dataset``, ``description``, ``files``, ``source_repo``, ``source_path``, ``source_commit``,
``licence``, ``citation``, ``data_kind`` (``"computed"``, ``"experimental"`` or ``"mixed"``),
``key`` (what the key means), ``units`` (column → unit), ``unit`` (unit of ``property`` when a
single property is selected), ``property``, ``filters``, ``n_raw`` (rows read),
``n_filtered`` (rows left after the filters), ``n_invalid_dropped``, ``invalid_examples``,
``n_merged`` (rows removed by merging duplicates), ``n_rows`` (rows returned).

Frames are cached per (name, filters, data folder) with :func:`functools.lru_cache`; every call
returns a deep copy, so callers may modify it freely.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.datasets._paths import data_root
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError

#: Unit strings used in ``attrs["units"]`` and by the pairs.
UNIT_DENSITY = "g/cm³"
UNIT_CELSIUS = "°C"
UNIT_KELVIN = "K"
UNIT_DIMENSIONLESS = "dimensionless"
UNIT_EV = "eV"

FilterValue = str | tuple[str, ...]


@dataclass(frozen=True)
class DatasetSpec:
    """Static description of one registered dataset.

    Parameters
    ----------
    name : str
        Registry name passed to :func:`load_dataset`.
    loader : str
        ``"module:function"`` of the loader; the function takes ``(spec, **filters)``.
    description : str
        One line on what the data are.
    family : str
        ``"polymer"``, ``"chi"`` or ``"inorganic"``.
    files : tuple of str
        Paths below the shared data folder.
    source_repo, source_path, source_commit : str
        Where the files were taken from.
    licence, citation : str
        Licence of the data and the paper to cite.
    data_kind : str
        ``"computed"``, ``"experimental"`` or ``"mixed"`` (may be refined by a filter).
    key : str
        Meaning of the ``key`` column.
    units : Mapping
        Unit of every property column.
    filters : tuple of str
        Keyword filters the loader accepts.

    """

    name: str
    loader: str
    description: str
    family: str
    files: tuple[str, ...]
    source_repo: str
    source_path: str
    source_commit: str
    licence: str
    citation: str
    data_kind: str
    key: str
    units: Mapping[str, str] = field(default_factory=dict)
    filters: tuple[str, ...] = ()

    def base_attrs(self) -> dict[str, Any]:
        """Provenance part of ``df.attrs`` (plain JSON-serialisable values)."""
        return {
            "dataset": self.name,
            "description": self.description,
            "family": self.family,
            "files": list(self.files),
            "source_repo": self.source_repo,
            "source_path": self.source_path,
            "source_commit": self.source_commit,
            "licence": self.licence,
            "citation": self.citation,
            "data_kind": self.data_kind,
            "key": self.key,
            "units": dict(self.units),
        }


_POLYMON_COMMIT = "31e59677178e3601377383552a5fc9ac628bea38"
_CRABNET_COMMIT = "457b4d4835737ecbe4dd33e53174bd818bd82143"
_AOKI_COMMIT = "7d9a4d872af19e0025898a09118fb1847ae4171c"
_POLYMER_KEY = "RDKit canonical repeat-unit SMILES with '*' attachment points"
_FORMULA_KEY = "reduced composition, elements in alphabetical order (normalise_formula)"
_CHI_KEY = (
    "'<polymer>_<solvent>' with RDKit-canonical SMILES of the cyclic oligomer (polymer) and "
    "of the solvent; rows are unique per (key, temp)"
)
_CHI_CITATION = "Aoki et al., Macromolecules 56, 5446-5456 (2023)"
_CHI_UNITS = {"chi": UNIT_DIMENSIONLESS, "temp": UNIT_CELSIUS}
_CRABNET = "anthony-wang/CrabNet"
_BANDGAP_UNITS = {"bandgap": UNIT_EV}

_SPECS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        name="radonpy_pi1070",
        loader="bayes_scaling.datasets.polymers:load_radonpy",
        description="RadonPy PI1070: all-atom MD properties of 1,077 polymers at 300 K, 1 atm",
        family="polymer",
        files=("radonpy_pi1070/PI1070.csv",),
        source_repo="RadonPy/RadonPy",
        source_path="data/PI1070.csv",
        source_commit="648c9a492808339c9bb7ad2c1137e5a7b07614ca",
        licence="BSD-3-Clause",
        citation="Hayashi et al., npj Comput. Mater. 8, 222 (2022), doi:10.1038/s41524-022-00906-4",
        data_kind="computed",
        key=_POLYMER_KEY,
        units={
            "density": UNIT_DENSITY,
            "Rg": "Å",
            "Cp": "J/(kg·K)",
            "Cv": "J/(kg·K)",
            "thermal_conductivity": "W/(m·K)",
            "linear_expansion": "1/K",
            "volume_expansion": "1/K",
            "refractive_index": UNIT_DIMENSIONLESS,
            "static_dielectric_const": UNIT_DIMENSIONLESS,
        },
        filters=("property",),
    ),
    DatasetSpec(
        name="polymer_properties_polymon",
        loader="bayes_scaling.datasets.polymers:load_polymon",
        description=(
            "PolyMon aggregate of experimental (GREA/PoLyInfo, PolyMetriX, ...) and MD polymer "
            "properties; filter on `source`"
        ),
        family="polymer",
        files=("polymer_properties_polymon/database.csv",),
        source_repo="fate1997/polymon",
        source_path="database/database.csv",
        source_commit=_POLYMON_COMMIT,
        licence=(
            "no licence file in the aggregating repository; per source: GREA MIT, PolyMetriX MIT, "
            "HT sets Apache-2.0, Kaggle MIT, MAFA/SC/LT paper supplements"
        ),
        citation="PolyMon (github.com/fate1997/polymon) and the papers of each `Source`",
        data_kind="mixed",
        key=_POLYMER_KEY,
        units={
            "tg": UNIT_CELSIUS,
            "ffv": UNIT_DIMENSIONLESS,
            "rg": "Å",
            "density": UNIT_DENSITY,
            "tc": "W/(m·K)",
        },
        filters=("source", "property"),
    ),
    DatasetSpec(
        name="afzal2021_md_exp",
        loader="bayes_scaling.datasets.polymers:load_afzal2021",
        description=(
            "Afzal et al. 2021: 315 polymers with experimental and MD Tg and density "
            "(Tg converted from K to °C)"
        ),
        family="polymer",
        files=("polymer_properties_polymon/afzal2021_md_exp.csv",),
        source_repo="fate1997/polymon",
        source_path="database/raw_csv/ap0c00524_si_001.csv",
        source_commit=_POLYMON_COMMIT,
        licence="paper supporting information (no licence stated)",
        citation=(
            "Afzal et al., ACS Appl. Polym. Mater. 3, 620-630 (2021), doi:10.1021/acsapm.0c00524"
        ),
        data_kind="mixed",
        key=_POLYMER_KEY,
        units={
            "tg_exp": UNIT_CELSIUS,
            "tg_md": UNIT_CELSIUS,
            "tg_md_std": UNIT_KELVIN,
            "density_exp": UNIT_DENSITY,
            "density_md": UNIT_DENSITY,
            "density_md_std": UNIT_DENSITY,
            "cte_glass_md": "1e-6/K",
            "cte_rubber_md": "1e-6/K",
        },
    ),
    DatasetSpec(
        name="chi_aoki2023_cosmo_rs",
        loader="bayes_scaling.datasets.chi:load_chi_cosmo_rs",
        description="Flory–Huggins χ from COSMO-RS for polymer–solvent pairs (Aoki et al. 2023)",
        family="chi",
        files=("chi_aoki2023/chi_cosmo_rs.csv", "chi_aoki2023/chi_experimental.csv"),
        source_repo="yoshida-lab/MTL_ChiParameter",
        source_path="sample_data/data_COSMO.csv",
        source_commit=_AOKI_COMMIT,
        licence="MIT",
        citation=_CHI_CITATION,
        data_kind="computed",
        key=_CHI_KEY,
        units=_CHI_UNITS,
    ),
    DatasetSpec(
        name="chi_aoki2023_experimental",
        loader="bayes_scaling.datasets.chi:load_chi_experimental",
        description=(
            "Experimental Flory–Huggins χ (Orwoll & Arnold handbook) collected by Aoki et al. 2023"
        ),
        family="chi",
        files=("chi_aoki2023/chi_experimental.csv",),
        source_repo="yoshida-lab/MTL_ChiParameter",
        source_path="sample_data/data_Chi.csv",
        source_commit=_AOKI_COMMIT,
        licence="MIT",
        citation=_CHI_CITATION,
        data_kind="experimental",
        key=_CHI_KEY,
        units=_CHI_UNITS,
    ),
    DatasetSpec(
        name="bandgap_matbench_expt_gap",
        loader="bayes_scaling.datasets.inorganic:load_bandgap",
        description="matbench expt_gap: experimental band gaps of 4,604 compositions (~53% metals)",
        family="inorganic",
        files=("bandgap_matbench/expt_gap.csv",),
        source_repo=_CRABNET,
        source_path="data/matbench/expt_gap.csv",
        source_commit=_CRABNET_COMMIT,
        licence="MIT (repository); data from Zhuo et al. 2018 via matbench",
        citation=(
            "Zhuo, Mansouri Tehrani & Brgoch, J. Phys. Chem. Lett. 9, 1668 (2018); "
            "Dunn et al., npj Comput. Mater. 6, 138 (2020)"
        ),
        data_kind="experimental",
        key=_FORMULA_KEY,
        units=_BANDGAP_UNITS,
    ),
    DatasetSpec(
        name="bandgap_matbench_mp_gap",
        loader="bayes_scaling.datasets.inorganic:load_bandgap",
        description="matbench mp_gap: Materials Project PBE band gaps (polymorphs averaged)",
        family="inorganic",
        files=("bandgap_matbench/mp_gap.csv",),
        source_repo=_CRABNET,
        source_path="data/matbench/mp_gap.csv",
        source_commit=_CRABNET_COMMIT,
        licence="MIT (repository); Materials Project data CC-BY-4.0",
        citation=(
            "Jain et al., APL Mater. 1, 011002 (2013); "
            "Dunn et al., npj Comput. Mater. 6, 138 (2020)"
        ),
        data_kind="computed",
        key=_FORMULA_KEY,
        units=_BANDGAP_UNITS,
    ),
    DatasetSpec(
        name="bandgap_oqmd",
        loader="bayes_scaling.datasets.inorganic:load_bandgap",
        description="OQMD DFT band gaps (CrabNet benchmark train+val+test concatenated)",
        family="inorganic",
        files=tuple(f"bandgap_oqmd/{s}.csv" for s in ("train", "val", "test")),
        source_repo=_CRABNET,
        source_path="data/benchmark_data/OQMD_Bandgap/{train,val,test}.csv",
        source_commit=_CRABNET_COMMIT,
        licence="MIT (repository); OQMD data CC-BY-4.0",
        citation="Kirklin et al., npj Comput. Mater. 1, 15010 (2015)",
        data_kind="computed",
        key=_FORMULA_KEY,
        units=_BANDGAP_UNITS,
    ),
    DatasetSpec(
        name="bandgap_aflow",
        loader="bayes_scaling.datasets.inorganic:load_bandgap",
        description="AFLOW DFT band gaps (CrabNet benchmark train+val+test concatenated)",
        family="inorganic",
        files=tuple(f"bandgap_aflow/{s}.csv" for s in ("train", "val", "test")),
        source_repo=_CRABNET,
        source_path="data/benchmark_data/aflow__Egap/{train,val,test}.csv",
        source_commit=_CRABNET_COMMIT,
        licence="MIT (repository); AFLOW data open",
        citation="Curtarolo et al., Comput. Mater. Sci. 58, 218 (2012)",
        data_kind="computed",
        key=_FORMULA_KEY,
        units=_BANDGAP_UNITS,
    ),
)

#: Registered datasets by name.
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def get_dataset_spec(name: str) -> DatasetSpec:
    """Return the registry entry of a dataset.

    Raises
    ------
    UnknownNameError
        If ``name`` is not registered; the message lists the valid names.

    """
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise UnknownNameError(
            f"Unknown dataset {name!r}; valid names: {', '.join(DATASETS)}."
        ) from None


def list_datasets() -> pd.DataFrame:
    """List the registered datasets (no data are read).

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset``, ``family``, ``data_kind``, ``units``, ``filters``, ``licence``,
        ``source_repo``, ``description``.

    Examples
    --------
    >>> "bandgap_oqmd" in set(list_datasets()["dataset"])
    True

    """
    rows = [
        {
            "dataset": s.name,
            "family": s.family,
            "data_kind": s.data_kind,
            "units": ", ".join(f"{k} [{v}]" for k, v in s.units.items()),
            "filters": ", ".join(s.filters),
            "licence": s.licence,
            "source_repo": s.source_repo,
            "description": s.description,
        }
        for s in _SPECS
    ]
    return pd.DataFrame(rows)


def _freeze_filters(spec: DatasetSpec, filters: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    frozen: list[tuple[str, Any]] = []
    for key in sorted(filters):
        if key not in spec.filters:
            allowed = ", ".join(spec.filters) if spec.filters else "none"
            raise UnknownNameError(
                f"Unknown filter {key!r} for dataset {spec.name!r}; accepted filters: {allowed}."
            )
        value = filters[key]
        if value is None:
            continue
        if isinstance(value, str):
            frozen.append((key, value))
        elif isinstance(value, Sequence | set | frozenset | np.ndarray | pd.Index):
            frozen.append((key, tuple(sorted(str(v) for v in value))))
        else:
            raise BayesScalingError(
                f"Filter {key}={value!r} for dataset {spec.name!r} must be a string or a list "
                "of strings."
            )
    return tuple(frozen)


def load_dataset(name: str, **filters: FilterValue | Sequence[str] | None) -> pd.DataFrame:
    """Load one shared dataset as a validated, deduplicated DataFrame.

    Parameters
    ----------
    name : str
        Registered name (see :func:`list_datasets`).
    **filters
        Dataset-specific filters: ``property`` (``radonpy_pi1070``,
        ``polymer_properties_polymon``) keeps rows where that property is present and sets
        ``attrs["unit"]``; ``source`` (``polymer_properties_polymon``) keeps rows whose
        ``Source`` is the given name or one of the given names.

    Returns
    -------
    pandas.DataFrame
        ``key`` first, then the dataset's columns and ``n_merged``; provenance and
        bookkeeping in ``attrs`` (see the module docstring). A fresh copy on every call.

    Raises
    ------
    UnknownNameError
        Unknown dataset, filter or filter value.
    DataNotFoundError
        The shared data folder or a file is missing (names ``BAYES_SCALING_DATA``).

    Examples
    --------
    >>> df = load_dataset("polymer_properties_polymon", source="GREA", property="density")
    >>> df.attrs["unit"], df.attrs["data_kind"]  # doctest: +SKIP
    ('g/cm³', 'experimental')

    """
    spec = get_dataset_spec(name)
    frozen = _freeze_filters(spec, filters)
    root = str(data_root())
    df = _load_cached(name, frozen, root)
    out = df.copy(deep=True)
    out.attrs = copy.deepcopy(df.attrs)
    return out


@lru_cache(maxsize=64)
def _load_cached(name: str, frozen: tuple[tuple[str, Any], ...], root: str) -> pd.DataFrame:
    spec = DATASETS[name]
    module_name, func_name = spec.loader.split(":")
    loader: Callable[..., pd.DataFrame] = getattr(importlib.import_module(module_name), func_name)
    df = loader(spec, **dict(frozen))
    df.attrs.setdefault("filters", {k: (list(v) if isinstance(v, tuple) else v) for k, v in frozen})
    _validate(df, spec)
    return df


def clear_cache() -> None:
    """Forget every cached dataset (e.g. after the files changed)."""
    _load_cached.cache_clear()


def _validate(df: pd.DataFrame, spec: DatasetSpec) -> None:
    if df.columns[0] != "key":
        raise BayesScalingError(f"Loader of {spec.name!r} did not put 'key' first.")
    if df["key"].isna().any() or (df["key"] == "").any():
        raise BayesScalingError(f"Dataset {spec.name!r}: empty keys after loading.")
    ids = ["key", "temp"] if spec.family == "chi" else ["key"]
    if df.duplicated(ids).any():
        raise BayesScalingError(f"Dataset {spec.name!r}: duplicate {ids} after deduplication.")
    if len(df) == 0:
        raise BayesScalingError(f"Dataset {spec.name!r} with {df.attrs.get('filters')} is empty.")


# ----------------------------------------------------------------------------- helpers
def read_csv_files(spec: DatasetSpec, **kwargs: Any) -> pd.DataFrame:
    """Read and concatenate the dataset's files (column ``_file`` = index in ``spec.files``)."""
    from bayes_scaling.datasets._paths import data_file

    frames = []
    for i, rel in enumerate(spec.files):
        frame = pd.read_csv(data_file(*rel.split("/")), **kwargs)
        frame["_file"] = i
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def deduplicate(
    df: pd.DataFrame,
    by: Sequence[str],
    join_columns: Sequence[str] = (),
) -> tuple[pd.DataFrame, int]:
    """Merge rows sharing ``by``: mean of numeric columns, first value of the others.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows to merge; must contain the ``by`` columns without missing values.
    by : sequence of str
        Identity columns (kept in first-appearance order).
    join_columns : sequence of str
        Text columns whose distinct values are joined with ``"+"`` (sorted) instead of
        keeping the first.

    Returns
    -------
    merged : pandas.DataFrame
        One row per distinct ``by``; ``n_merged`` = rows merged into it.
    n_removed : int
        ``len(df) - len(merged)``.

    """
    by = list(by)
    numeric = [c for c in df.columns if c not in by and pd.api.types.is_numeric_dtype(df[c])]
    other = [c for c in df.columns if c not in by and c not in numeric]
    grouped = df.groupby(by, sort=False, dropna=False)
    parts = [grouped.size().rename("n_merged")]
    if numeric:
        parts.append(grouped[numeric].mean())
    joined = [c for c in other if c in join_columns]
    firsts = [c for c in other if c not in join_columns]
    if firsts:
        parts.append(grouped[firsts].first())
    for col in joined:
        parts.append(grouped[col].agg(lambda s: "+".join(sorted(set(map(str, s.dropna()))))))
    merged = pd.concat(parts, axis=1).reset_index()
    merged = merged[[*by, *[c for c in df.columns if c not in by], "n_merged"]]
    merged["n_merged"] = merged["n_merged"].astype(np.int64)
    return merged, len(df) - len(merged)


def invalid_examples(values: Sequence[Any], positions: Sequence[int], limit: int = 10) -> list[str]:
    """Describe up to ``limit`` invalid entries as ``"row <i>: <value>"`` strings."""
    return [f"row {i}: {values[i]!r}" for i in list(positions)[:limit]]
