"""Inorganic band-gap datasets (matbench expt_gap / mp_gap, OQMD, AFLOW via CrabNet).

Every file has columns ``formula``, ``target`` (band gap, eV). Formulas are normalised with
:func:`bayes_scaling.datasets.composition.normalise_formula` (reduced composition, elements
in alphabetical order), so ``Co12Mn5Nd2``-style and ``Ag(AuS)2``-style formulas of the same
composition share a key; rows with the same key (e.g. ``mp_gap`` polymorphs) are averaged.

Columns: ``key`` (= the normalised formula), ``formula`` (= ``key``; the input column of the
composition featurizer), ``formula_raw`` (first formula of the key as written in the file),
``bandgap`` [eV], ``split`` (for OQMD/AFLOW: file of the first merged row, ``train``/``val``/
``test`` of the CrabNet benchmark; otherwise the file stem), ``n_merged``.
``attrs["fraction_zero"]`` is the fraction of rows with a zero gap (metals).
"""

from __future__ import annotations

import warnings
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.datasets.composition import normalise_formulas
from bayes_scaling.datasets.loaders import (
    DatasetSpec,
    deduplicate,
    invalid_examples,
    read_csv_files,
)
from bayes_scaling.exceptions import BayesScalingError


def load_bandgap(spec: DatasetSpec) -> pd.DataFrame:
    """Load one band-gap dataset (files concatenated, formulas normalised, duplicates averaged)."""
    raw = read_csv_files(spec, dtype={"formula": str})
    for col in ("formula", "target"):
        if col not in raw.columns:
            raise BayesScalingError(f"{spec.name}: column {col!r} missing from {spec.files}.")
    attrs: dict[str, Any] = {"n_raw": len(raw), "n_filtered": len(raw)}
    formulas = raw["formula"].tolist()
    keys, bad = normalise_formulas(formulas)
    gap = pd.to_numeric(raw["target"], errors="coerce").to_numpy(dtype=np.float64)
    bad = sorted(set(bad) | set(np.flatnonzero(~np.isfinite(gap)).tolist()))
    attrs["n_invalid_dropped"] = len(bad)
    attrs["invalid_examples"] = invalid_examples(formulas, bad)
    if bad:
        warnings.warn(
            f"{spec.name}: dropped {len(bad)} rows with an unparseable formula or missing gap "
            f"({'; '.join(attrs['invalid_examples'][:3])}).",
            stacklevel=3,
        )
    stems = [PurePosixPath(f).stem for f in spec.files]
    df = pd.DataFrame(
        {
            "key": keys,
            "formula_raw": raw["formula"].astype(object),
            "bandgap": gap,
            "split": [stems[i] for i in raw["_file"].to_numpy()],
        }
    )
    keep = np.ones(len(df), dtype=bool)
    keep[bad] = False
    merged, n_removed = deduplicate(df[keep], ["key"])
    merged.insert(1, "formula", merged["key"])
    attrs["n_merged"] = int(n_removed)
    attrs["n_rows"] = len(merged)
    attrs["property"] = "bandgap"
    attrs["unit"] = spec.units["bandgap"]
    attrs["fraction_zero"] = float((merged["bandgap"] == 0).mean())
    merged.attrs = {**spec.base_attrs(), **attrs}
    return merged
