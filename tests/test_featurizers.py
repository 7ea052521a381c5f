"""Polymer, polymer–solvent and composition featurizers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import Descriptors, rdFingerprintGenerator
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bayes_scaling.datasets import (
    CompositionFeaturizer,
    FeaturizationWarning,
    PolymerFeaturizer,
    PolymerSolventFeaturizer,
    get_pair,
    load_dataset,
    make_featurizer,
)
from bayes_scaling.datasets.featurizers import DESCRIPTOR_NAMES, capped_molecule
from bayes_scaling.datasets.featurizers.polymer import clear_feature_cache
from bayes_scaling.exceptions import FeaturizationError, UnknownNameError

N_DESC = len(DESCRIPTOR_NAMES)
POLYMERS = ["*CC*", "*CC(*)c1ccccc1", "*CC(*)(C)C(=O)OC", "*Oc1ccc(*)cc1", "*[Si](C)(C)O*"]


def _idx(name: str) -> int:
    return list(DESCRIPTOR_NAMES).index(name)


# ----------------------------------------------------------------------------- polymer
def test_polymer_shapes_names_and_determinism():
    f = PolymerFeaturizer(n_bits=512)
    X = f.fit_transform(pd.DataFrame({"smiles": POLYMERS}))
    names = f.get_feature_names_out()
    assert X.shape == (len(POLYMERS), N_DESC + 512) == (5, len(names))
    assert N_DESC == 67 and len(set(names)) == len(names)
    assert list(names[:3]) == ["mol_wt", "heavy_atom_count", "num_heteroatoms"]
    assert names[N_DESC] == "morgan_r2_0000" and names[-1] == "morgan_r2_0511"
    assert X.dtype == np.float64 and np.isfinite(X).all()
    clear_feature_cache()
    X2 = PolymerFeaturizer(n_bits=512).fit_transform(list(reversed(POLYMERS)))
    np.testing.assert_array_equal(X2[::-1], X)
    assert list(PolymerFeaturizer(n_bits=512).get_feature_names_out()) == list(names)


def test_star_attachment_points_are_capped_with_hydrogen():
    for smiles, capped in [
        ("*CC(*)c1ccccc1", "CCc1ccccc1"),
        ("[*]CC[*]", "CC"),
        ("[1*]CC[2*]", "CC"),
        ("*n1cccc1*", "c1cc[nH]c1"),  # aromatic nitrogen gets its H
        ("*/C=C/*", "C=C"),  # H kept for bond stereo is removed
        ("*=CC=*", "CC"),  # double-bonded ends: graph capping fallback
        ("CCO", "CCO"),  # no attachment point: unchanged
    ]:
        mol, _ = capped_molecule(smiles)
        assert Chem.MolToSmiles(mol) == capped, smiles
    X = PolymerFeaturizer(fingerprint=False).fit_transform(["*CC(*)c1ccccc1", "CCc1ccccc1"])
    # identical to ethylbenzene except for the attachment-point count
    diff = np.flatnonzero(X[0] != X[1])
    assert [DESCRIPTOR_NAMES[i] for i in diff] == ["n_attachment_points"]
    assert X[0, _idx("n_attachment_points")] == 2 and X[1, _idx("n_attachment_points")] == 0
    assert X[0, _idx("n_H")] == 10 and X[0, _idx("heavy_atom_count")] == 8


@pytest.mark.usefixtures("shared_data_root")
def test_descriptors_and_fingerprint_match_rdkit_on_real_polymers():
    smiles = load_dataset("radonpy_pi1070")["key"].sample(40, random_state=0).tolist()
    f = PolymerFeaturizer(radius=2, n_bits=1024)
    X = f.fit_transform(smiles)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    reference = {
        "mol_wt": Descriptors.MolWt,
        "crippen_logp": Descriptors.MolLogP,
        "crippen_mr": Descriptors.MolMR,
        "tpsa": Descriptors.TPSA,
        "labute_asa": Descriptors.LabuteASA,
        "num_hba": Descriptors.NumHAcceptors,
        "num_aromatic_rings": Descriptors.NumAromaticRings,
        "chi1v": Descriptors.Chi1v,
        **{f"slogp_vsa{i}": getattr(Descriptors, f"SlogP_VSA{i}") for i in range(1, 13)},
        **{f"smr_vsa{i}": getattr(Descriptors, f"SMR_VSA{i}") for i in range(1, 11)},
    }
    for row, smi in enumerate(smiles):
        mol, _ = capped_molecule(smi)
        for name, func in reference.items():
            assert X[row, _idx(name)] == pytest.approx(func(Chem.Mol(mol)), abs=1e-9), name
        np.testing.assert_array_equal(X[row, N_DESC:], gen.GetCountFingerprintAsNumPy(mol))


def test_bad_smiles_error_lists_rows_and_values():
    df = pd.DataFrame(
        {"smiles": ["*CC*", "C1CC", "*CC*", "not_a_smiles", None]}, index=["a", "b", "c", "d", "e"]
    )
    with pytest.raises(FeaturizationError) as info:
        PolymerFeaturizer().fit_transform(df)
    msg = str(info.value)
    assert "3 of 5 SMILES" in msg and "'smiles'" in msg
    assert "index 'b': 'C1CC'" in msg and "index 'd': 'not_a_smiles'" in msg
    assert "index 'e': None (missing value)" in msg
    assert "'a'" not in msg and "on_error='drop'" in msg


def test_on_error_drop_removes_and_reports_rows():
    f = PolymerFeaturizer(n_bits=64, on_error="drop")
    with pytest.warns(FeaturizationWarning, match="Dropped 1 row.*C1CC"):
        X = f.fit_transform(pd.Series(["*CC*", "C1CC", "*CC(*)C"], index=[10, 11, 12]))
    assert X.shape == (2, N_DESC + 64)
    assert f.dropped_ == [(11, "C1CC", "RDKit cannot parse it")]
    np.testing.assert_array_equal(f.kept_mask_, [True, False, True])
    ref = PolymerFeaturizer(n_bits=64).fit_transform(["*CC*", "*CC(*)C"])
    np.testing.assert_array_equal(X, ref)


def test_polymer_input_validation():
    with pytest.raises(FeaturizationError, match=r"no SMILES column 'smiles'.*\['SMILES'\]"):
        PolymerFeaturizer().fit_transform(pd.DataFrame({"SMILES": ["*CC*"]}))
    with pytest.raises(FeaturizationError, match="on_error must be"):
        PolymerFeaturizer(on_error="ignore").fit(["*CC*"])
    with pytest.raises(FeaturizationError, match="descriptors or fingerprint"):
        PolymerFeaturizer(descriptors=False, fingerprint=False).fit(["*CC*"])
    X = PolymerFeaturizer(descriptors=False, n_bits=32).fit_transform(np.array([["*CC*"]]))
    assert X.shape == (1, 32)


def test_featurizers_work_in_a_pipeline_and_clone():
    df = pd.DataFrame({"smiles": POLYMERS * 4})
    y = np.arange(len(df), dtype=float)
    pipe = Pipeline(
        [
            ("feat", PolymerFeaturizer(n_bits=128)),
            ("scale", StandardScaler()),
            ("ridge", Ridge(alpha=1.0)),
        ]
    )
    pred = pipe.fit(df, y).predict(df)
    assert pred.shape == (len(df),)
    names = pipe[:-1].get_feature_names_out()
    assert len(names) == N_DESC + 128 and names[0] == "mol_wt"
    cloned = clone(PolymerFeaturizer(n_bits=128, radius=3))
    assert cloned.get_params()["radius"] == 3
    comp = Pipeline([("feat", CompositionFeaturizer()), ("ridge", Ridge())])
    comp.fit(pd.DataFrame({"formula": ["NaCl", "Fe2O3", "GaAs", "Si"]}), [5.0, 2.0, 1.4, 1.1])
    assert comp.predict(pd.DataFrame({"formula": ["KCl"]})).shape == (1,)


def test_make_featurizer_by_name():
    assert isinstance(make_featurizer("composition"), CompositionFeaturizer)
    assert make_featurizer("polymer", n_bits=16).n_bits == 16
    with pytest.raises(UnknownNameError, match="Unknown featurizer 'magpie'.*composition"):
        make_featurizer("magpie")


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data_root")
def test_polymer_cache_serves_the_second_pass():
    """8k real SMILES: every distinct one computed once, the second pass from the cache.

    Speed itself is measured by ``benchmarks/featurizers.py`` (no timed tests: a loaded
    machine made the old ``cold < 30 s`` assertion fail).
    """
    from bayes_scaling.datasets.featurizers.polymer import _features_one

    smiles = get_pair("polymer_tg_md").load_target()["smiles"].tolist()
    smiles += get_pair("polymer_tg_md").load_source()["smiles"].tolist()
    clear_feature_cache()
    X = PolymerFeaturizer().fit_transform(smiles)
    first = _features_one.cache_info()
    Y = PolymerFeaturizer().fit_transform(smiles)
    second = _features_one.cache_info()
    assert X.shape == (len(smiles), N_DESC + 1024) and len(smiles) > 7900
    assert first.misses <= len(set(smiles)) and second.misses == first.misses
    assert second.hits - first.hits >= len(set(smiles))
    np.testing.assert_array_equal(X, Y)


# ----------------------------------------------------------------------------- polymer–solvent
def test_polymer_solvent_blocks_and_temperature():
    df = pd.DataFrame(
        {
            "polymer": ["*CC(*)c1ccccc1", "*CC*"],
            "solvent": ["Cc1ccccc1", "CCO"],
            "temp": [25.0, 100.0],
        }
    )
    f = PolymerSolventFeaturizer(n_bits=64)
    X = f.fit_transform(df)
    names = list(f.get_feature_names_out())
    block = N_DESC + 64
    assert X.shape == (2, 2 * block + 2) == (2, len(names))
    assert names[0] == "polymer__mol_wt" and names[block] == "solvent__mol_wt"
    assert names[-2:] == ["temp", "inv_temp"]
    np.testing.assert_allclose(X[:, -2], [25.0, 100.0])
    np.testing.assert_allclose(X[:, -1], 1000.0 / (np.array([25.0, 100.0]) + 273.15))
    poly = PolymerFeaturizer(n_bits=64).fit_transform(df["polymer"])
    solv = PolymerFeaturizer(n_bits=64).fit_transform(df["solvent"])
    np.testing.assert_array_equal(X[:, :block], poly)
    np.testing.assert_array_equal(X[:, block : 2 * block], solv)
    no_temp = PolymerSolventFeaturizer(n_bits=64, temperature_column=None)
    assert no_temp.fit_transform(df.drop(columns="temp")).shape == (2, 2 * block)


def test_polymer_solvent_errors():
    df = pd.DataFrame(
        {
            "polymer": ["*CC*", "*CC*", "*CC*"],
            "solvent": ["CCO", "c1cc", "CO"],
            "temp": [25.0, 30.0, np.nan],
        }
    )
    with pytest.raises(FeaturizationError) as info:
        PolymerSolventFeaturizer(n_bits=16).fit_transform(df)
    msg = str(info.value)
    assert "2 of 3" in msg and "solvent: RDKit cannot parse it" in msg
    assert "temperature nan is not a finite number" in msg
    with pytest.raises(FeaturizationError, match="no temperature column 'temp'"):
        PolymerSolventFeaturizer().fit_transform(df.drop(columns="temp"))
    f = PolymerSolventFeaturizer(n_bits=16, on_error="drop")
    with pytest.warns(FeaturizationWarning):
        X = f.fit_transform(df)
    assert X.shape[0] == 1 and [d[0] for d in f.dropped_] == [1, 2]


@pytest.mark.usefixtures("shared_data_root")
def test_chi_pair_featurizes_consistently():
    pair = get_pair("chi_cosmo_rs")
    Xs = pair.make_featurizer().fit_transform(pair.load_source())
    Xt = pair.make_featurizer().fit_transform(pair.load_target())
    assert Xs.shape == (1206, 2 * (N_DESC + 1024) + 2) and Xt.shape[1] == Xs.shape[1]
    assert np.isfinite(Xs).all() and np.isfinite(Xt).all()


# ----------------------------------------------------------------------------- composition
def _real_formulas() -> list[str]:
    expt = load_dataset("bandgap_matbench_expt_gap")["formula_raw"].sample(40, random_state=3)
    aflow = load_dataset("bandgap_aflow")["formula_raw"]
    fractional = aflow[aflow.str.contains(r"\.")].head(8)
    return [*expt, *fractional, "Co12Mn5Nd2", "Ag(AuS)2", "Fe", "Og2He", "UO2", "Ca[OH]2"]


@pytest.mark.usefixtures("shared_data_root")
@pytest.mark.parametrize("impute_nan", [True, False])
def test_magpie_features_equal_matminer(impute_nan):
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    formulas = _real_formulas()
    ep = ElementProperty.from_preset("magpie", impute_nan=impute_nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.array([ep.featurize(Composition(f)) for f in formulas], dtype=float)
    f = CompositionFeaturizer(impute_nan=impute_nan)
    X = f.fit_transform(pd.DataFrame({"formula": formulas}))
    assert list(f.get_feature_names_out()) == ep.feature_labels()
    assert X.shape == ref.shape == (len(formulas), 132)
    np.testing.assert_allclose(X, ref, rtol=1e-10, atol=1e-10, equal_nan=True)
    if impute_nan:
        assert np.isfinite(X).all()
    else:
        assert np.isnan(ref).any()  # the NaN path is exercised (e.g. Og, He)


@pytest.mark.usefixtures("shared_data_root")
def test_element_fractions_equal_matminer():
    from matminer.featurizers.composition import ElementFraction
    from pymatgen.core import Composition

    formulas = _real_formulas()[:20]
    ef = ElementFraction()
    ref = np.array([ef.featurize(Composition(f)) for f in formulas], dtype=float)
    f = CompositionFeaturizer(element_fractions=True)
    X = f.fit_transform(formulas)
    assert X.shape == (20, 132 + 118)
    np.testing.assert_allclose(X[:, 132:], ref, atol=1e-12)
    assert f.get_feature_names_out()[132] == "frac_H"
    assert f.get_feature_names_out()[-1] == "frac_Og"


def test_composition_rows_follow_input_order_and_duplicates():
    formulas = ["NaCl", "Fe2O3", "NaCl", "Fe4O6", "GaAs"]
    X = CompositionFeaturizer().fit_transform(formulas)
    np.testing.assert_array_equal(X[0], X[2])
    np.testing.assert_allclose(X[1], X[3])  # same composition, different style
    perm = [4, 2, 0, 3, 1]
    Xp = CompositionFeaturizer().fit_transform([formulas[i] for i in perm])
    np.testing.assert_array_equal(Xp, X[perm])


def test_bad_formula_error_and_drop():
    df = pd.DataFrame({"formula": ["NaCl", "Xx2O", "Fe2(O3", None]}, index=[7, 8, 9, 10])
    with pytest.raises(FeaturizationError) as info:
        CompositionFeaturizer().fit_transform(df)
    msg = str(info.value)
    assert "3 of 4 formulas in column 'formula'" in msg
    assert "index 8: 'Xx2O' (Formula 'Xx2O': unknown element 'Xx'.)" in msg
    assert "index 9: 'Fe2(O3'" in msg and "unbalanced" in msg
    assert "index 10: None (missing value)" in msg
    with pytest.raises(FeaturizationError, match="no formula column 'formula'"):
        CompositionFeaturizer().fit_transform(pd.DataFrame({"composition": ["NaCl"]}))
    f = CompositionFeaturizer(on_error="drop")
    with pytest.warns(FeaturizationWarning, match="Dropped 3 row"):
        X = f.fit_transform(df)
    assert X.shape == (1, 132)
    assert [d[0] for d in f.dropped_] == [8, 9, 10]
    np.testing.assert_array_equal(X[0], CompositionFeaturizer().fit_transform(["NaCl"])[0])


@pytest.mark.slow
@pytest.mark.usefixtures("shared_data_root")
def test_composition_featurizes_all_of_oqmd():
    source = get_pair("bandgap_oqmd").load_source()
    X = CompositionFeaturizer().fit_transform(source)
    assert X.shape == (341608, 132) and np.isfinite(X).all()
