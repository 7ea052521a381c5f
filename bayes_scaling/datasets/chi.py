"""Polymer–solvent Flory–Huggins χ (Aoki et al. 2023): COSMO-RS source, experimental target.

Both files identify a pair by ``ps_pair`` = ``<cyclic-oligomer polymer SMILES>_<solvent SMILES>``
(the COSMO-RS file has no repeat-unit form), so that representation is used for both: the
polymer and solvent SMILES are split on ``"_"`` and canonicalised with RDKit separately, and
``key = polymer + "_" + solvent``. χ depends on temperature, so rows are unique per
``(key, temp)``; duplicate (key, temp) rows are averaged.

Columns of both loaders: ``key``, ``polymer`` (canonical cyclic oligomer SMILES), ``solvent``
(canonical SMILES), ``temp`` [°C], ``chi`` [dimensionless], ``polymer_class``,
``polymer_repeat_unit`` (canonical ``*``-ended repeat unit from the experimental file's
``ps_pair_nonCyclic``; for the COSMO-RS rows looked up through the cyclic polymer),
``n_merged``. The experimental file's ``DIFF``/``SIGN2``/``SIGN3`` flags are not kept.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.datasets._paths import data_file
from bayes_scaling.datasets.loaders import DatasetSpec, deduplicate, invalid_examples
from bayes_scaling.datasets.polymers import canonicalise
from bayes_scaling.exceptions import BayesScalingError

_EXPERIMENTAL_FILE = ("chi_aoki2023", "chi_experimental.csv")
_COSMO_FILE = ("chi_aoki2023", "chi_cosmo_rs.csv")


def _read(parts: tuple[str, str]) -> pd.DataFrame:
    df = pd.read_csv(data_file(*parts))
    return df.drop(columns=[c for c in df.columns if str(c).startswith("Unnamed")])


def split_pairs(pairs: pd.Series) -> tuple[list[str | None], list[str | None], list[int]]:
    """Split ``polymer_solvent`` strings and canonicalise both halves.

    Returns
    -------
    polymers, solvents : list of str or None
        Canonical SMILES (``None`` where invalid).
    invalid : list of int
        Positions whose pair has no single ``"_"`` or an unparseable half.

    """
    polys: list[Any] = []
    solvs: list[Any] = []
    for value in pairs.tolist():
        parts = value.split("_") if isinstance(value, str) else []
        if len(parts) == 2:
            polys.append(parts[0])
            solvs.append(parts[1])
        else:
            polys.append(None)
            solvs.append(None)
    cpoly, bad_p = canonicalise(polys)
    csolv, bad_s = canonicalise(solvs)
    bad = sorted(set(bad_p) | set(bad_s))
    for i in bad:
        cpoly[i] = csolv[i] = None
    return cpoly, csolv, bad


def _repeat_unit_map() -> dict[str, str]:
    """Canonical cyclic polymer -> canonical repeat unit, from the experimental file."""
    exp = _read(_EXPERIMENTAL_FILE)
    cyclic, _, _ = split_pairs(exp["ps_pair"])
    units = [v.split("_")[0] if isinstance(v, str) else None for v in exp["ps_pair_nonCyclic"]]
    cunits, _ = canonicalise(units)
    mapping: dict[str, str] = {}
    for poly, unit in zip(cyclic, cunits, strict=True):
        if poly is not None and unit is not None:
            mapping.setdefault(poly, unit)
    return mapping


def _load(spec: DatasetSpec, parts: tuple[str, str]) -> pd.DataFrame:
    raw = _read(parts)
    attrs: dict[str, Any] = {"n_raw": len(raw), "n_filtered": len(raw)}
    for col in ("ps_pair", "temp", "chi"):
        if col not in raw.columns:
            raise BayesScalingError(f"{spec.name}: column {col!r} missing from {parts[-1]}.")
    polys, solvs, bad = split_pairs(raw["ps_pair"])
    bad = sorted(set(bad) | set(np.flatnonzero(raw[["temp", "chi"]].isna().any(axis=1))))
    attrs["n_invalid_dropped"] = len(bad)
    attrs["invalid_examples"] = invalid_examples(raw["ps_pair"].tolist(), bad)
    if bad:
        warnings.warn(
            f"{spec.name}: dropped {len(bad)} rows with an invalid ps_pair, temp or chi.",
            stacklevel=3,
        )
    units = _repeat_unit_map()
    df = pd.DataFrame(
        {
            "key": [
                None if p is None or s is None else f"{p}_{s}"
                for p, s in zip(polys, solvs, strict=True)
            ],
            "polymer": polys,
            "solvent": solvs,
            "temp": raw["temp"].astype(np.float64),
            "chi": raw["chi"].astype(np.float64),
            "polymer_class": raw.get("polymer_class"),
            "polymer_repeat_unit": [units.get(p) if p is not None else None for p in polys],
        }
    )
    keep = np.ones(len(df), dtype=bool)
    keep[bad] = False
    df = df[keep]
    merged, n_removed = deduplicate(df, ["key", "temp"])
    attrs["n_merged"] = int(n_removed)
    attrs["n_rows"] = len(merged)
    attrs["n_pairs"] = int(merged["key"].nunique())
    attrs["property"] = "chi"
    attrs["unit"] = spec.units["chi"]
    attrs["note"] = "temp in °C as given by the source; rows unique per (key, temp)"
    merged.attrs = {**spec.base_attrs(), **attrs}
    return merged


def load_chi_cosmo_rs(spec: DatasetSpec) -> pd.DataFrame:
    """Load COSMO-RS χ (1,206 rows, 761 polymer–solvent pairs); columns in the module doc."""
    return _load(spec, _COSMO_FILE)


def load_chi_experimental(spec: DatasetSpec) -> pd.DataFrame:
    """Load experimental χ (1,190 rows, 766 pairs, 46 polymers); columns in the module doc."""
    return _load(spec, _EXPERIMENTAL_FILE)
