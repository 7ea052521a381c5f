"""RDKit featurizers for polymer repeat units and polymer–solvent pairs.

Representation of a repeat unit
-------------------------------
The ``*`` attachment points are **capped with hydrogen**: every ``*`` (also ``[*]``,
``[1*]``, ``[*:1]``) is replaced by ``[H]`` and the molecule parsed with RDKit's default
hydrogen removal, so ``*CC(*)c1ccccc1`` is featurized as ethylbenzene. If that does not give
a valid molecule (a ``*`` with a double bond or two neighbours, which some aggregated
SMILES contain), the dummy atoms are removed from the graph and their bond orders added to
their neighbours' hydrogen counts; if even that fails to sanitise, the molecule is featurized
with the dummy atoms in place. The number of attachment points is kept as a feature
(``n_attachment_points``). SMILES without ``*`` (solvents, the cyclic oligomers of the χ
data) are featurized as they are.

Features (in this order)
------------------------
Descriptors (:data:`DESCRIPTOR_NAMES`, 67 values), all from the capped molecule:

* size/composition: ``mol_wt``, ``heavy_atom_count``, ``num_heteroatoms``, ``num_hbd``,
  ``num_hba``, ``num_rotatable_bonds`` (RDKit non-strict definition), ``num_amide_bonds``,
  ``fraction_csp3``;
* rings: ``num_rings`` and aromatic/aliphatic/saturated carbo-/heterocycle counts (spiro
  and bridgehead counts are left out: seconds per molecule on the χ macrocycles);
* surface/polarity: ``labute_asa``, ``tpsa``, Wildman–Crippen ``crippen_logp`` and
  ``crippen_mr`` (hydrogens included, identical to ``Descriptors.MolLogP``/``MolMR``),
  ``slogp_vsa1..12`` and ``smr_vsa1..10`` (identical to RDKit's ``SlogP_VSA_``/``SMR_VSA_``,
  computed from one Crippen typing);
* topology: ``chi0v``, ``chi1v``, ``chi0n``, ``chi1n``, ``hall_kier_alpha``, ``kappa1``;
* counts: ``n_attachment_points``, atoms of C, N, O, F, Si, S, Cl, Br, P and of other heavy
  elements, hydrogens, aromatic atoms, double and triple bonds, charged atoms.

Fingerprint: count-based Morgan fingerprint (``rdFingerprintGenerator``, radius ``radius``,
``n_bits`` folded bits, no chirality) of the capped molecule, columns
``morgan_r{radius}_{i:04d}``.

Expensive descriptors (Gasteiger charges, EState, BertzCT, chi2+/kappa2+, fragment SMARTS)
are left out: ~8k polymers take about 10 s on one core (~1 ms each, a third of it the
Crippen atom typing) the first time, well under a second when cached. Results are memoised
per (SMILES, radius, n_bits) in a process-wide LRU cache (:func:`clear_feature_cache`);
the fingerprint is stored sparsely, so the cache stays small.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdFingerprintGenerator
from rdkit.Chem import rdMolDescriptors as rd

from bayes_scaling.datasets.featurizers._base import (
    OnError,
    StatelessFeaturizer,
    column_values,
)
from bayes_scaling.exceptions import FeaturizationError

_STAR = re.compile(r"\[[^\]]*\*[^\]]*\]|\*")
_LOGP_BINS = np.array([-0.4, -0.2, 0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6])
_MR_BINS = np.array([1.29, 1.82, 2.24, 2.45, 2.75, 3.05, 3.63, 3.8, 4.0])
_COUNTED_ELEMENTS = ((6, "C"), (7, "N"), (8, "O"), (9, "F"), (14, "Si"), (16, "S"), (17, "Cl"),
                     (35, "Br"), (15, "P"))  # fmt: skip
_COUNTED_SYMBOLS = frozenset({"H", *(sym for _, sym in _COUNTED_ELEMENTS)})
_FORMULA_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)")
_NONSTRICT = rd.NumRotatableBondsOptions.NonStrict
_RING_FUNCS = (
    ("num_rings", rd.CalcNumRings),
    ("num_aromatic_rings", rd.CalcNumAromaticRings),
    ("num_aliphatic_rings", rd.CalcNumAliphaticRings),
    ("num_saturated_rings", rd.CalcNumSaturatedRings),
    ("num_heterocycles", rd.CalcNumHeterocycles),
    ("num_aromatic_heterocycles", rd.CalcNumAromaticHeterocycles),
    ("num_aromatic_carbocycles", rd.CalcNumAromaticCarbocycles),
    ("num_aliphatic_heterocycles", rd.CalcNumAliphaticHeterocycles),
    ("num_aliphatic_carbocycles", rd.CalcNumAliphaticCarbocycles),
    ("num_saturated_heterocycles", rd.CalcNumSaturatedHeterocycles),
    ("num_saturated_carbocycles", rd.CalcNumSaturatedCarbocycles),
)
_TOPO_FUNCS = (
    ("chi0v", rd.CalcChi0v),
    ("chi1v", rd.CalcChi1v),
    ("chi0n", rd.CalcChi0n),
    ("chi1n", rd.CalcChi1n),
    ("hall_kier_alpha", rd.CalcHallKierAlpha),
    ("kappa1", rd.CalcKappa1),
)

#: Names of the descriptor block, in output order.
DESCRIPTOR_NAMES: tuple[str, ...] = (
    "mol_wt",
    "heavy_atom_count",
    "num_heteroatoms",
    "num_hbd",
    "num_hba",
    "num_rotatable_bonds",
    "num_amide_bonds",
    "fraction_csp3",
    *(name for name, _ in _RING_FUNCS),
    "labute_asa",
    "tpsa",
    "crippen_logp",
    "crippen_mr",
    *(f"slogp_vsa{i}" for i in range(1, 13)),
    *(f"smr_vsa{i}" for i in range(1, 11)),
    *(name for name, _ in _TOPO_FUNCS),
    "n_attachment_points",
    *(f"n_{sym}" for _, sym in _COUNTED_ELEMENTS),
    "n_other_heavy",
    "n_H",
    "n_aromatic_atoms",
    "n_double_bonds",
    "n_triple_bonds",
    "n_charged_atoms",
)

_local = threading.local()


def _count_patterns() -> tuple[Chem.Mol, Chem.Mol, Chem.Mol]:
    """SMARTS for double bonds, triple bonds and charged atoms (one per thread)."""
    pats = getattr(_local, "count_patterns", None)
    if pats is None:
        pats = _local.count_patterns = tuple(Chem.MolFromSmarts(s) for s in ("*=*", "*#*", "[!+0]"))
    return pats


def _remove_hs_params() -> Chem.RemoveHsParameters:
    params = getattr(_local, "remove_hs", None)
    if params is None:
        params = _local.remove_hs = Chem.RemoveHsParameters()
        params.removeDefiningBondStereo = True
    return params


def _generator(radius: int, n_bits: int) -> Any:
    gens = getattr(_local, "gens", None)
    if gens is None:
        gens = _local.gens = {}
    key = (radius, n_bits)
    if key not in gens:
        gens[key] = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    return gens[key]


def _graph_cap(mol: Chem.Mol) -> Chem.Mol | None:
    """Remove dummy atoms, adding their bond orders to the neighbours' H counts."""
    rw = Chem.RWMol(mol)
    dummies = [a.GetIdx() for a in rw.GetAtoms() if a.GetAtomicNum() == 0]
    for idx in dummies:
        atom = rw.GetAtomWithIdx(idx)
        for bond in atom.GetBonds():
            other = bond.GetOtherAtom(atom)
            if other.GetAtomicNum() == 0:
                continue
            other.SetNumExplicitHs(other.GetTotalNumHs() + int(round(bond.GetBondTypeAsDouble())))
            other.SetNoImplicit(True)
    for idx in sorted(dummies, reverse=True):
        rw.RemoveAtom(idx)
    out = rw.GetMol()
    try:
        Chem.SanitizeMol(out)
    except Exception:  # noqa: BLE001 - RDKit raises several exception types
        return None
    return out


def capped_molecule(smiles: str) -> tuple[Chem.Mol | None, int]:
    """Parse a repeat-unit SMILES and cap its ``*`` ends with hydrogen.

    Parameters
    ----------
    smiles : str
        SMILES, with or without ``*`` attachment points.

    Returns
    -------
    mol : rdkit.Chem.Mol or None
        Capped molecule (``None`` if RDKit cannot parse the SMILES).
    n_stars : int
        Number of attachment points.

    Examples
    --------
    >>> mol, n = capped_molecule("*CC(*)c1ccccc1")
    >>> Chem.MolToSmiles(mol), n
    ('CCc1ccccc1', 2)

    """
    n_stars = len(_STAR.findall(smiles))
    blocker = rdBase.BlockLogs()
    try:
        if n_stars == 0:
            return Chem.MolFromSmiles(smiles), 0
        mol = Chem.MolFromSmiles(_STAR.sub("[H]", smiles))
        if mol is not None:
            if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():  # e.g. H kept for bond stereo
                mol = Chem.RemoveHs(mol, _remove_hs_params())
            return mol, n_stars
        original = Chem.MolFromSmiles(smiles)
        if original is None:
            return None, n_stars
        capped = _graph_cap(original)
        return (capped if capped is not None else original), n_stars
    finally:
        del blocker


def _descriptors(mol: Chem.Mol, n_stars: int) -> np.ndarray:
    n_atoms = mol.GetNumAtoms()  # AddHs appends the implicit hydrogens after these
    molh = Chem.AddHs(mol)
    crippen = np.asarray(rd._CalcCrippenContribs(molh), dtype=np.float64).reshape(-1, 2)
    asa = np.asarray(rd._CalcLabuteASAContribs(mol)[0], dtype=np.float64)
    heavy = crippen[:n_atoms]
    slogp_vsa = np.bincount(
        np.searchsorted(_LOGP_BINS, heavy[:, 0], side="right"), weights=asa, minlength=12
    )
    smr_vsa = np.bincount(
        np.searchsorted(_MR_BINS, heavy[:, 1], side="right"), weights=asa, minlength=10
    )
    counts: dict[str, int] = {}
    for sym, num in _FORMULA_TOKEN.findall(rd.CalcMolFormula(mol)):
        counts[sym] = counts.get(sym, 0) + (int(num) if num else 1)
    element_counts = [float(counts.get(sym, 0)) for _, sym in _COUNTED_ELEMENTS]
    n_other = float(sum(v for k, v in counts.items() if k not in _COUNTED_SYMBOLS))
    n_double, n_triple, n_charged = (
        len(mol.GetSubstructMatches(patt, uniquify=True, maxMatches=1_000_000))
        for patt in _count_patterns()
    )
    values = [
        rd._CalcMolWt(mol),
        float(mol.GetNumHeavyAtoms()),
        rd.CalcNumHeteroatoms(mol),
        rd.CalcNumHBD(mol),
        rd.CalcNumHBA(mol),
        rd.CalcNumRotatableBonds(mol, _NONSTRICT),
        rd.CalcNumAmideBonds(mol),
        rd.CalcFractionCSP3(mol),
        *(func(mol) for _, func in _RING_FUNCS),
        rd.CalcLabuteASA(mol),
        rd.CalcTPSA(mol),
        float(crippen[:, 0].sum()),
        float(crippen[:, 1].sum()),
        *slogp_vsa,
        *smr_vsa,
        *(func(mol) for _, func in _TOPO_FUNCS),
        float(n_stars),
        *element_counts,
        n_other,
        float(counts.get("H", 0)),
        float(len(mol.GetAromaticAtoms())),
        float(n_double),
        float(n_triple),
        float(n_charged),
    ]
    return np.asarray(values, dtype=np.float64)


@lru_cache(maxsize=32_768)
def _features_one(
    smiles: str, radius: int, n_bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
    """Descriptors + sparse fingerprint of one SMILES, or a failure reason (str)."""
    if not smiles.strip():
        return "empty SMILES"
    mol, n_stars = capped_molecule(smiles)
    if mol is None:
        return "RDKit cannot parse it"
    try:
        desc = _descriptors(mol, n_stars)
        fp = _generator(radius, n_bits).GetCountFingerprintAsNumPy(mol)
    except Exception as exc:  # noqa: BLE001 - report any RDKit failure as a bad row
        return f"RDKit descriptor failure: {exc}"
    idx = np.flatnonzero(fp).astype(np.int32)
    counts = fp[idx].astype(np.float64)
    for arr in (desc, idx, counts):
        arr.setflags(write=False)
    return desc, idx, counts


def clear_feature_cache() -> None:
    """Empty the process-wide per-SMILES feature cache."""
    _features_one.cache_clear()


def featurize_smiles(
    values: Sequence[Any], *, radius: int, n_bits: int, descriptors: bool, fingerprint: bool
) -> tuple[np.ndarray, dict[int, str]]:
    """Featurize SMILES strings; return the matrix (bad rows zero) and ``{position: reason}``.

    Each distinct SMILES is computed once (and cached across calls).
    """
    n_desc = len(DESCRIPTOR_NAMES) if descriptors else 0
    n_fp = n_bits if fingerprint else 0
    X = np.zeros((len(values), n_desc + n_fp), dtype=np.float64)
    bad: dict[int, str] = {}
    rows_fp: list[np.ndarray] = []
    cols_fp: list[np.ndarray] = []
    vals_fp: list[np.ndarray] = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            bad[i] = "not a string" if value is not None and value == value else "missing value"
            continue
        res = _features_one(value, radius, n_bits)
        if isinstance(res, str):
            bad[i] = res
            continue
        desc, idx, counts = res
        if descriptors:
            X[i, :n_desc] = desc
        if fingerprint:
            rows_fp.append(np.full(len(idx), i, dtype=np.int64))
            cols_fp.append(idx)
            vals_fp.append(counts)
    if fingerprint and rows_fp:
        X[np.concatenate(rows_fp), n_desc + np.concatenate(cols_fp)] = np.concatenate(vals_fp)
    return X, bad


class PolymerFeaturizer(StatelessFeaturizer):
    """Repeat-unit SMILES → RDKit descriptors + count Morgan fingerprint.

    Parameters
    ----------
    smiles_column : str, default "smiles"
        Column read when ``X`` is a DataFrame (a Series, list or 1-column array is used
        directly).
    radius : int, default 2
        Morgan radius.
    n_bits : int, default 1024
        Folded fingerprint length.
    descriptors, fingerprint : bool, default True
        Which blocks to produce (at least one).
    on_error : {"raise", "drop"}, default "raise"
        Invalid SMILES raise :class:`~bayes_scaling.exceptions.FeaturizationError` listing the
        rows (index and SMILES), or are dropped with a
        :class:`~bayes_scaling.datasets.featurizers.FeaturizationWarning`; see ``dropped_``
        and ``kept_mask_``.

    Notes
    -----
    The representation (hydrogen capping of ``*``, descriptor list, fingerprint) is
    described in :mod:`bayes_scaling.datasets.featurizers.polymer`.

    Examples
    --------
    >>> import pandas as pd
    >>> X = PolymerFeaturizer(n_bits=256).fit_transform(pd.DataFrame({"smiles": ["*CC*"]}))
    >>> X.shape
    (1, 323)

    """

    def __init__(
        self,
        smiles_column: str = "smiles",
        radius: int = 2,
        n_bits: int = 1024,
        descriptors: bool = True,
        fingerprint: bool = True,
        on_error: OnError = "raise",
    ) -> None:
        self.smiles_column = smiles_column
        self.radius = radius
        self.n_bits = n_bits
        self.descriptors = descriptors
        self.fingerprint = fingerprint
        self.on_error = on_error

    def _check_params(self) -> None:
        super()._check_params()
        if not (self.descriptors or self.fingerprint):
            raise FeaturizationError("PolymerFeaturizer: enable descriptors or fingerprint.")
        if int(self.radius) < 0 or int(self.n_bits) < 1:
            raise FeaturizationError(
                f"PolymerFeaturizer: radius must be >= 0 and n_bits >= 1, got "
                f"radius={self.radius}, n_bits={self.n_bits}."
            )

    def _block_names(self) -> list[str]:
        names = list(DESCRIPTOR_NAMES) if self.descriptors else []
        if self.fingerprint:
            names += [f"morgan_r{self.radius}_{i:04d}" for i in range(self.n_bits)]
        return names

    def _feature_names(self) -> list[str]:
        return self._block_names()

    def _compute(self, values: Sequence[Any]) -> tuple[np.ndarray, dict[int, str]]:
        return featurize_smiles(
            values,
            radius=int(self.radius),
            n_bits=int(self.n_bits),
            descriptors=bool(self.descriptors),
            fingerprint=bool(self.fingerprint),
        )

    def transform(self, X: Any) -> np.ndarray:
        """Featurize the SMILES of ``X``.

        Returns
        -------
        numpy.ndarray
            Float array of shape ``(n_rows, n_features)`` (fewer rows if ``on_error="drop"``
            dropped some), columns as :meth:`get_feature_names_out`.

        """
        self._check_params()
        values, labels = column_values(X, self.smiles_column, "SMILES")
        out, bad = self._compute(values)
        keep = self._handle_bad(labels, values, bad, "SMILES", self.smiles_column)
        return out[keep] if bad else out


class PolymerSolventFeaturizer(StatelessFeaturizer):
    """Polymer SMILES + solvent SMILES (+ temperature) → concatenated features.

    Output columns: the :class:`PolymerFeaturizer` block of the polymer (prefix
    ``polymer__``), the same block of the solvent (prefix ``solvent__``) and, when
    ``temperature_column`` is set, ``temp`` (as given, °C for the χ data) and
    ``inv_temp = 1000 / (temp + 273.15)`` (1/K × 1000; χ is roughly linear in 1/T).

    Parameters
    ----------
    polymer_column, solvent_column : str
        Columns of the input DataFrame holding SMILES.
    temperature_column : str or None, default "temp"
        Temperature column in °C (required in the input when not None).
    radius, n_bits, descriptors, fingerprint, on_error
        As for :class:`PolymerFeaturizer`; a row is bad if either SMILES is invalid or the
        temperature is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"polymer": ["*CC(*)c1ccccc1"], "solvent": ["Cc1ccccc1"],
    ...                    "temp": [25.0]})
    >>> PolymerSolventFeaturizer(n_bits=64).fit_transform(df).shape
    (1, 264)

    """

    def __init__(
        self,
        polymer_column: str = "polymer",
        solvent_column: str = "solvent",
        temperature_column: str | None = "temp",
        radius: int = 2,
        n_bits: int = 1024,
        descriptors: bool = True,
        fingerprint: bool = True,
        on_error: OnError = "raise",
    ) -> None:
        self.polymer_column = polymer_column
        self.solvent_column = solvent_column
        self.temperature_column = temperature_column
        self.radius = radius
        self.n_bits = n_bits
        self.descriptors = descriptors
        self.fingerprint = fingerprint
        self.on_error = on_error

    def _block(self) -> PolymerFeaturizer:
        return PolymerFeaturizer(
            radius=self.radius,
            n_bits=self.n_bits,
            descriptors=self.descriptors,
            fingerprint=self.fingerprint,
            on_error=self.on_error,
        )

    def _check_params(self) -> None:
        super()._check_params()
        self._block()._check_params()

    def _feature_names(self) -> list[str]:
        block = self._block()._block_names()
        names = [f"polymer__{n}" for n in block] + [f"solvent__{n}" for n in block]
        if self.temperature_column is not None:
            names += ["temp", "inv_temp"]
        return names

    def transform(self, X: Any) -> np.ndarray:
        """Featurize polymer, solvent and temperature of each row of ``X`` (a DataFrame)."""
        self._check_params()
        polymers, labels = column_values(X, self.polymer_column, "polymer SMILES")
        solvents, _ = column_values(X, self.solvent_column, "solvent SMILES")
        block = self._block()
        Xp, bad_p = block._compute(polymers)
        Xs, bad_s = block._compute(solvents)
        parts = [Xp, Xs]
        bad: dict[int, str] = {i: f"polymer: {r}" for i, r in bad_p.items()}
        for i, r in bad_s.items():
            bad[i] = f"{bad[i]}; solvent: {r}" if i in bad else f"solvent: {r}"
        shown: list[Hashable] = [f"{p!r} + {s!r}" for p, s in zip(polymers, solvents, strict=True)]
        if self.temperature_column is not None:
            temps_raw, _ = column_values(X, self.temperature_column, "temperature")
            temps = np.array(
                [t if isinstance(t, int | float | np.number) else np.nan for t in temps_raw],
                dtype=np.float64,
            )
            for i in np.flatnonzero(~np.isfinite(temps)):
                bad[int(i)] = f"{bad[int(i)]}; " if int(i) in bad else ""
                bad[int(i)] += f"temperature {temps_raw[int(i)]!r} is not a finite number"
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1000.0 / (temps + 273.15)
            parts.append(np.column_stack([temps, inv]))
        out = np.hstack(parts)
        keep = self._handle_bad(
            labels,
            shown,
            bad,
            "polymer/solvent rows",
            f"{self.polymer_column}/{self.solvent_column}",
        )
        return out[keep] if bad else out
