"""Polymer datasets (RadonPy PI1070, PolyMon aggregate, Afzal et al. 2021) and SMILES keys.

Keys are RDKit canonical SMILES of the repeat unit with its ``*`` attachment points kept as
dummy atoms. Two SMILES of the same repeat unit written from different starting atoms
(``*CCO*`` vs ``*COC*``, a translation of the repeat unit) are *not* identified; the shared
files do not need it (every overlap quoted in the shared README is found).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase

from bayes_scaling.datasets.loaders import (
    DatasetSpec,
    deduplicate,
    invalid_examples,
    read_csv_files,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError

#: ``Source`` values of the PolyMon aggregate that are simulations (molecular dynamics).
POLYMON_COMPUTED_SOURCES: frozenset[str] = frozenset({"MAFA-MD", "HT-MD", "LT-MD", "PI1070"})
#: ``Source`` values that are experimental measurements.
POLYMON_EXPERIMENTAL_SOURCES: frozenset[str] = frozenset(
    {"GREA", "PolyMetriX", "HT-PolyInfo", "HT-exp", "MAFA-exp", "SC-Bicerano", "SC-JCIM", "LT-exp"}
)
_POLYMON_PROPERTIES = {"tg": "Tg", "ffv": "FFV", "rg": "Rg", "density": "Density", "tc": "Tc"}
_KELVIN_OFFSET = 273.15
_HEAD_TAIL = re.compile(r"\[(?:Ce|Th)\]")


@lru_cache(maxsize=200_000)
def _canonical_cached(smiles: str) -> str | None:
    if not smiles.strip():
        return None
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def canonical_smiles(smiles: str) -> str | None:
    """Return RDKit's canonical SMILES (``*`` kept), or ``None`` if RDKit cannot parse it.

    Examples
    --------
    >>> canonical_smiles("C(*)C*")
    '*CC*'
    >>> canonical_smiles("not a smiles") is None
    True

    """
    return canonicalise([smiles])[0][0]


def canonicalise(values: Iterable[Any]) -> tuple[list[str | None], list[int]]:
    """Canonicalise SMILES, returning the keys and the positions that failed.

    RDKit's own parse messages are silenced; failures are returned instead.
    """
    blocker = rdBase.BlockLogs()
    try:
        keys = [_canonical_cached(v) if isinstance(v, str) else None for v in values]
    finally:
        del blocker
    return keys, [i for i, k in enumerate(keys) if k is None]


def head_tail_to_stars(smiles: str) -> str:
    r"""Replace Afzal et al.'s ``[Ce]``/``[Th]`` head/tail placeholders with ``*``.

    Examples
    --------
    >>> head_tail_to_stars("[Ce]CC(C)[Th]")
    '*CC(C)*'

    """
    return _HEAD_TAIL.sub("*", smiles)


def _keyed(
    df: pd.DataFrame, smiles_col: str, spec: DatasetSpec, attrs: dict[str, Any]
) -> pd.DataFrame:
    """Add ``key`` (canonical SMILES), drop invalid rows and record what was dropped."""
    values = df[smiles_col].tolist()
    keys, bad = canonicalise(values)
    attrs["n_invalid_dropped"] = len(bad)
    attrs["invalid_examples"] = invalid_examples(values, bad)
    if bad:
        warnings.warn(
            f"{spec.name}: dropped {len(bad)} rows with unparseable SMILES "
            f"({'; '.join(attrs['invalid_examples'][:3])}).",
            stacklevel=3,
        )
    out = df.assign(key=keys)
    out = out[out["key"].notna()]
    return out[["key", *[c for c in out.columns if c != "key"]]]


def _finish(
    df: pd.DataFrame, spec: DatasetSpec, attrs: dict[str, Any], join: tuple[str, ...] = ()
) -> pd.DataFrame:
    merged, n_removed = deduplicate(df, ["key"], join_columns=join)
    attrs["n_merged"] = int(n_removed)
    attrs["n_rows"] = len(merged)
    merged.attrs = {**spec.base_attrs(), **attrs}
    return merged


def _select_property(
    df: pd.DataFrame, spec: DatasetSpec, prop: str | None, columns: dict[str, str]
) -> tuple[pd.DataFrame, str | None]:
    """Keep rows with ``prop`` present; return the column name selected (or None)."""
    if prop is None:
        return df, None
    if not isinstance(prop, str):
        raise BayesScalingError(f"{spec.name}: `property` must be one name, got {prop!r}.")
    col = columns.get(prop.lower())
    if col is None:
        raise UnknownNameError(
            f"Unknown property {prop!r} for dataset {spec.name!r}; valid: {', '.join(columns)}."
        )
    return df[df[col].notna()], col


def load_radonpy(spec: DatasetSpec, property: str | None = None) -> pd.DataFrame:  # noqa: A002
    """Load RadonPy PI1070 (MD properties of 1,077 polymers).

    Columns: ``key``, ``smiles`` (as in the file), ``monomer_id``, ``polymer_class`` and every
    numeric column of the file under its original name (``density`` [g/cm³], ``Rg``,
    ``Cp``, ``thermal_conductivity``, ``refractive_index``, ... and their ``_std`` /
    ``_count`` companions), then ``n_merged``.
    """
    raw = read_csv_files(spec).drop(columns="_file")
    attrs: dict[str, Any] = {"n_raw": len(raw)}
    raw = raw.rename(columns={"monomer_ID": "monomer_id"})
    numeric = [c for c in raw.columns if pd.api.types.is_numeric_dtype(raw[c])]
    props = {c.lower(): c for c in numeric}
    raw, col = _select_property(raw, spec, property, props)
    attrs["n_filtered"] = len(raw)
    if col is not None:
        attrs["property"] = col
        attrs["unit"] = spec.units.get(col, "see RadonPy documentation")
    df = _keyed(raw, "smiles", spec, attrs)
    return _finish(df, spec, attrs)


def load_polymon(
    spec: DatasetSpec,
    source: str | tuple[str, ...] | None = None,
    property: str | None = None,  # noqa: A002
) -> pd.DataFrame:
    """Load the PolyMon aggregate, optionally filtered on ``Source`` and one property.

    Columns: ``key``, ``smiles`` (first SMILES of the key as written in the file), ``tg``
    [°C], ``ffv``, ``rg`` [Å], ``density`` [g/cm³], ``tc`` [W/(m·K)], ``source`` (the merged
    rows' sources joined with ``"+"``), ``n_merged``.

    ``attrs["data_kind"]`` is ``"experimental"`` or ``"computed"`` when every selected source
    is of that kind (``MAFA-MD``, ``HT-MD``, ``LT-MD``, ``PI1070`` are MD), else ``"mixed"``.
    """
    raw = read_csv_files(spec).drop(columns=["_file", "id"])
    attrs: dict[str, Any] = {"n_raw": len(raw)}
    raw = raw.rename(
        columns={
            "SMILES": "smiles",
            "Source": "source",
            **{v: k for k, v in _POLYMON_PROPERTIES.items()},
        }
    )
    if source is not None:
        wanted = (source,) if isinstance(source, str) else tuple(source)
        known = sorted(raw["source"].dropna().unique())
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise UnknownNameError(
                f"Unknown PolyMon Source {unknown}; valid sources: {', '.join(known)}."
            )
        raw = raw[raw["source"].isin(wanted)]
        kinds = {
            "computed"
            if s in POLYMON_COMPUTED_SOURCES
            else "experimental"
            if s in POLYMON_EXPERIMENTAL_SOURCES
            else "mixed"
            for s in wanted
        }
        attrs["data_kind"] = kinds.pop() if len(kinds) == 1 else "mixed"
        attrs["sources"] = list(wanted)
    raw, col = _select_property(raw, spec, property, {k: k for k in _POLYMON_PROPERTIES})
    attrs["n_filtered"] = len(raw)
    if col is not None:
        attrs["property"] = col
        attrs["unit"] = spec.units[col]
    df = _keyed(raw, "smiles", spec, attrs)
    return _finish(df, spec, attrs, join=("source",))


def load_afzal2021(spec: DatasetSpec) -> pd.DataFrame:
    """Load Afzal et al. (2021): paired experimental and MD Tg and density of 315 polymers.

    The ``[Ce]``/``[Th]`` head/tail placeholders become ``*``; Tg is converted from K to °C
    (``tg_md_std`` is a difference, so K = °C). Columns: ``key``, ``smiles`` (with ``*``),
    ``name``, ``tg_exp``, ``tg_md``, ``tg_md_std`` , ``density_exp``, ``density_md``,
    ``density_md_std``, ``cte_glass_md``, ``cte_glass_md_std``, ``cte_rubber_md``,
    ``cte_rubber_md_std`` (10⁻⁶/K), ``n_merged``.
    """
    raw = read_csv_files(spec, na_values=["NA", "N/A", ""]).drop(columns="_file")
    attrs: dict[str, Any] = {"n_raw": len(raw)}
    raw.columns = [str(c).strip() for c in raw.columns]
    smiles_col = next((c for c in raw.columns if c.startswith("SMILES")), "SMILES")
    names = {
        "Poymer name": "name",
        smiles_col: "smiles",
        "Experiment Tg (K)": "tg_exp",
        "Calculated Tg (K)": "tg_md",
        "Calculated Tg std. dev. (K)": "tg_md_std",
        "Experiment density at 300K (g/cc)": "density_exp",
        "Calculated density at 300K (g/cc)": "density_md",
        "Calulated density at 300K std. dev. (g/cc)": "density_md_std",
        "Calculated glass CTE (10-6/K)": "cte_glass_md",
        "Calculated glass CTE std. dev. (10-6/K)": "cte_glass_md_std",
        "Calculated rubber CTE (10-6/K)": "cte_rubber_md",
        "Calculated rubber CTE std. dev. (10-6/K)": "cte_rubber_md_std",
    }
    missing = [c for c in names if c not in raw.columns]
    if missing:
        raise BayesScalingError(f"{spec.name}: expected columns missing from the file: {missing}.")
    df = raw[list(names)].rename(columns=names)
    df["name"] = df["name"].astype(str).str.strip()
    df["smiles"] = df["smiles"].map(head_tail_to_stars)
    for col in ("tg_exp", "tg_md"):
        df[col] = df[col].astype(float) - _KELVIN_OFFSET
    for col in df.columns[2:]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(np.float64)
    attrs["n_filtered"] = len(df)
    attrs["note"] = "Tg converted from K to °C (x - 273.15)"
    keyed = _keyed(df, "smiles", spec, attrs)
    return _finish(keyed, spec, attrs)
