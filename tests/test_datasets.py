"""Dataset loaders, formula normalisation and the transfer-pair registry, on the real data."""

from __future__ import annotations

import dataclasses
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from bayes_scaling.constants import DATA_ENV_VAR
from bayes_scaling.datasets import (
    DATASETS,
    PAIRS,
    get_pair,
    list_datasets,
    list_pairs,
    load_dataset,
    normalise_formula,
    parse_formula,
)
from bayes_scaling.exceptions import DataNotFoundError, FeaturizationError, UnknownNameError

pytestmark = pytest.mark.usefixtures("shared_data_root")

ALL_DATASETS = [
    "radonpy_pi1070",
    "polymer_properties_polymon",
    "afzal2021_md_exp",
    "chi_aoki2023_cosmo_rs",
    "chi_aoki2023_experimental",
    "bandgap_matbench_expt_gap",
    "bandgap_matbench_mp_gap",
    "bandgap_oqmd",
    "bandgap_aflow",
]
PAIR_NAMES = [
    "polymer_density_radonpy",
    "polymer_density_mafa",
    "polymer_tg_md",
    "chi_cosmo_rs",
    "bandgap_mp",
    "bandgap_oqmd",
    "bandgap_aflow",
]

# (dataset, filters, rows read, rows after filters [shared README], rows after dedup, data_kind)
COUNTS = [
    ("radonpy_pi1070", {"property": "density"}, 1077, 1077, 1077, "computed"),
    ("polymer_properties_polymon", {}, 36567, 36567, None, "mixed"),
    ("polymer_properties_polymon", {"source": "GREA", "property": "density"},
     36567, 1693, 1693, "experimental"),
    ("polymer_properties_polymon", {"source": "PolyMetriX", "property": "tg"},
     36567, 7367, 7367, "experimental"),
    ("polymer_properties_polymon", {"source": "MAFA-MD", "property": "density"},
     36567, 315, 314, "computed"),
    ("polymer_properties_polymon", {"source": ["MAFA-MD", "HT-MD", "LT-MD"], "property": "tg"},
     36567, 315 + 240 + 96, 605, "computed"),
    ("polymer_properties_polymon", {"source": "GREA", "property": "tg"},
     36567, 7174, None, "experimental"),
    ("afzal2021_md_exp", {}, 315, 315, 314, "mixed"),
    ("chi_aoki2023_cosmo_rs", {}, 1206, 1206, 1206, "computed"),
    ("chi_aoki2023_experimental", {}, 1190, 1190, 1190, "experimental"),
    ("bandgap_matbench_expt_gap", {}, 4604, 4604, 4601, "experimental"),
    ("bandgap_matbench_mp_gap", {}, 106113, 106113, 78164, "computed"),
    ("bandgap_oqmd", {}, 341608, 341608, 341608, "computed"),
    ("bandgap_aflow", {}, 27577, 27577, 27573, "computed"),
]  # fmt: skip


# ----------------------------------------------------------------------------- registry
def test_list_datasets_names_every_dataset_without_reading_data():
    table = list_datasets()
    assert list(table["dataset"]) == ALL_DATASETS
    assert set(DATASETS) == set(ALL_DATASETS)
    assert {"family", "data_kind", "units", "licence", "source_repo"} <= set(table.columns)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(UnknownNameError, match="Unknown dataset 'qm9'") as info:
        load_dataset("qm9")
    for name in ALL_DATASETS:
        assert name in str(info.value)


def test_unknown_filter_and_filter_values_are_named():
    with pytest.raises(UnknownNameError, match=r"filter 'temperature'.*accepted filters: none"):
        load_dataset("bandgap_aflow", temperature=300)
    with pytest.raises(UnknownNameError, match=r"Source \['GREAT'\].*GREA.*PolyMetriX"):
        load_dataset("polymer_properties_polymon", source="GREAT")
    with pytest.raises(UnknownNameError, match=r"property 'modulus'.*tg.*density"):
        load_dataset("polymer_properties_polymon", source="GREA", property="modulus")


def test_missing_data_folder_names_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "does_not_exist"))
    with pytest.raises(DataNotFoundError, match=DATA_ENV_VAR) as info:
        load_dataset("bandgap_aflow")
    assert "does_not_exist" in str(info.value)
    with pytest.raises(DataNotFoundError, match=DATA_ENV_VAR):
        get_pair("bandgap_aflow").load_target()


def test_missing_file_in_existing_folder_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    with pytest.raises(DataNotFoundError, match=r"expt_gap\.csv.*BAYES_SCALING_DATA"):
        load_dataset("bandgap_matbench_expt_gap")


# ----------------------------------------------------------------------------- loaders
@pytest.mark.parametrize(("name", "filters", "n_raw", "n_filtered", "n_rows", "kind"), COUNTS)
def test_row_counts_provenance_and_dedup(name, filters, n_raw, n_filtered, n_rows, kind):
    df = load_dataset(name, **filters)
    a = df.attrs
    assert a["dataset"] == name
    assert a["n_raw"] == n_raw
    assert a["n_filtered"] == n_filtered
    if n_rows is not None:
        assert len(df) == n_rows
    assert a["n_rows"] == len(df)
    assert a["n_invalid_dropped"] == 0
    # merged rows are accounted for
    assert a["n_filtered"] - a["n_invalid_dropped"] - a["n_merged"] == len(df)
    assert int(df["n_merged"].sum()) == a["n_filtered"] - a["n_invalid_dropped"]
    assert a["data_kind"] == kind
    # provenance
    assert re.fullmatch(r"[0-9a-f]{40}", a["source_commit"])
    assert "/" in a["source_repo"] and a["licence"] and a["citation"] and a["key"]
    assert isinstance(a["units"], dict) and a["units"]
    # one row per key (per key and temperature for chi)
    assert df.columns[0] == "key"
    ids = ["key", "temp"] if DATASETS[name].family == "chi" else ["key"]
    assert not df.duplicated(ids).any()
    assert df["key"].notna().all()


@pytest.mark.parametrize(
    ("name", "filters", "column", "unit"),
    [
        ("radonpy_pi1070", {"property": "density"}, "density", "g/cm³"),
        ("polymer_properties_polymon", {"source": "GREA", "property": "density"}, "density",
         "g/cm³"),
        ("polymer_properties_polymon", {"source": "PolyMetriX", "property": "tg"}, "tg", "°C"),
        ("chi_aoki2023_experimental", {}, "chi", "dimensionless"),
        ("bandgap_oqmd", {}, "bandgap", "eV"),
    ],
)  # fmt: skip
def test_units_in_attrs(name, filters, column, unit):
    df = load_dataset(name, **filters)
    assert df.attrs["units"][column] == unit
    assert df.attrs["unit"] == unit
    assert df[column].notna().all()


def test_polymer_keys_are_canonical_smiles_with_star_ends():
    df = load_dataset("polymer_properties_polymon", source="GREA", property="density")
    sample = df.sample(200, random_state=0)
    for key in sample["key"]:
        assert Chem.MolToSmiles(Chem.MolFromSmiles(key)) == key
    assert (df["key"].str.count(r"\*") >= 2).mean() > 0.99
    assert set(df["source"]) == {"GREA"}


def test_radonpy_and_grea_share_512_polymers():
    # the overlap stated in the shared README (RDKit canonical SMILES)
    radon = load_dataset("radonpy_pi1070", property="density")
    grea = load_dataset("polymer_properties_polymon", source="GREA", property="density")
    assert len(set(radon["key"]) & set(grea["key"])) == 512


def test_md_tg_duplicates_are_averaged():
    raw = pd.read_csv(_data("polymer_properties_polymon", "database.csv"))
    raw = raw[raw["Source"].isin(["MAFA-MD", "HT-MD", "LT-MD"]) & raw["Tg"].notna()]
    raw["key"] = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in raw["SMILES"]]
    expected = raw.groupby("key")["Tg"].mean()
    df = load_dataset(
        "polymer_properties_polymon", source=["MAFA-MD", "HT-MD", "LT-MD"], property="tg"
    ).set_index("key")
    assert df["n_merged"].max() > 1
    pd.testing.assert_series_equal(df["tg"].sort_index(), expected.sort_index(), check_names=False)
    merged_sources = df.loc[df["n_merged"] > 1, "source"]
    assert merged_sources.str.contains(r"\+").any()  # e.g. "HT-MD+MAFA-MD"


def test_afzal_head_tail_placeholders_and_kelvin_conversion():
    df = load_dataset("afzal2021_md_exp")
    assert not df["smiles"].str.contains(r"\[Ce\]|\[Th\]").any()
    pdms = df[df["name"] == "Poly(dimethyl siloxane)"].iloc[0]
    assert pdms["key"] == "*O[Si](*)(C)C"
    assert pdms["tg_exp"] == pytest.approx(152 - 273.15)
    assert df.attrs["units"]["tg_exp"] == "°C"
    # the MD density is the PolyMon "MAFA-MD" set
    mafa = load_dataset("polymer_properties_polymon", source="MAFA-MD", property="density")
    both = df.merge(mafa, on="key")
    assert len(both) == 314
    np.testing.assert_allclose(both["density_md"], both["density"])


@pytest.mark.parametrize("name", ["chi_aoki2023_cosmo_rs", "chi_aoki2023_experimental"])
def test_chi_split_into_polymer_solvent_and_temperature(name):
    df = load_dataset(name)
    assert list(df.columns[:5]) == ["key", "temp", "polymer", "solvent", "chi"]
    assert (df["key"] == df["polymer"] + "_" + df["solvent"]).all()
    assert not df["polymer"].str.contains(r"\*").any()  # cyclic oligomer form
    assert df["polymer_repeat_unit"].str.count(r"\*").eq(2).all()
    assert df["temp"].between(0, 229).all()
    assert df.attrs["units"]["temp"] == "°C"
    assert df["polymer"].nunique() == 46


def test_chi_source_and_target_share_pair_keys():
    src = load_dataset("chi_aoki2023_cosmo_rs")
    tgt = load_dataset("chi_aoki2023_experimental")
    assert src.attrs["n_pairs"] == 761 and tgt.attrs["n_pairs"] == 766
    assert len(set(src["key"]) & set(tgt["key"])) == 761


def test_loaded_frames_are_independent_copies():
    a = load_dataset("bandgap_aflow")
    a.loc[:, "bandgap"] = -1.0
    a.attrs["units"]["bandgap"] = "meV"
    b = load_dataset("bandgap_aflow")
    assert (b["bandgap"] >= 0).all()
    assert b.attrs["units"]["bandgap"] == "eV"


# ----------------------------------------------------------------------------- formulas
@pytest.mark.parametrize(
    ("formula", "key"),
    [
        ("Co12Mn5Nd2", "Co12Mn5Nd2"),
        ("Ag(AuS)2", "AgAu2S2"),
        ("Au2S2Ag1", "AgAu2S2"),
        ("Fe4O6", "Fe2O3"),
        ("O3Fe2", "Fe2O3"),
        ("Li0.5Fe0.5O1", "FeLiO2"),
        ("Ca[OH]2", "CaH2O2"),
        ("K4Mn4O8", "KMnO2"),
        ("Al0.01Cd0.99Sb0.01Te0.99", "AlCd99SbTe99"),
        ("Lu3.94S4.0582", "Lu3.94S4.0582"),
        ("Mg((OH)2)3", "H6MgO6"),
    ],
)
def test_normalise_formula(formula, key):
    assert normalise_formula(formula) == key
    assert normalise_formula(key) == key  # idempotent


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("Xx2O", "unknown element 'Xx'"),
        ("Fe2(O3", "unbalanced"),
        ("Fe2)O3", "unbalanced"),
        ("", "Empty"),
        ("2Fe", "follows no element"),
        ("Fe-O", "unexpected character '-'"),
        ("Fe0O", "not positive"),
    ],
)
def test_bad_formulas_raise_with_reason(formula, message):
    with pytest.raises(FeaturizationError, match=message):
        normalise_formula(formula)


def test_parser_agrees_with_pymatgen_on_every_expt_gap_formula():
    from pymatgen.core import Composition

    formulas = pd.read_csv(_data("bandgap_matbench", "expt_gap.csv"))["formula"]
    aflow = pd.read_csv(_data("bandgap_aflow", "val.csv"))["formula"]
    for formula in [*formulas, *aflow.sample(1000, random_state=0)]:
        ours = parse_formula(formula)
        ref = Composition(formula).get_el_amt_dict()
        assert ours.keys() == ref.keys(), formula
        np.testing.assert_allclose([ours[k] for k in ref], list(ref.values()), err_msg=formula)


def test_formula_styles_are_merged_in_expt_gap():
    df = load_dataset("bandgap_matbench_expt_gap")
    merged = df[df["n_merged"] > 1].set_index("key")
    assert set(merged.index) == {"Cu9S5", "CuIn3Se5", "SeTe"}
    # Cu1.8S1 (2.30 eV) and Cu9S5 (0.00 eV) are one composition: the mean is kept
    assert merged.loc["Cu9S5", "bandgap"] == pytest.approx(1.15)
    assert 0.5 < df.attrs["fraction_zero"] < 0.56  # ~53 % metals, kept


def test_mp_gap_polymorphs_are_averaged_by_reduced_composition():
    from pymatgen.core import Composition

    df = load_dataset("bandgap_matbench_mp_gap").set_index("key")
    raw = pd.read_csv(_data("bandgap_matbench", "mp_gap.csv"))
    assert df.attrs["n_merged"] == len(raw) - len(df)
    # check a few multi-row keys against pymatgen's reduced composition
    keys = df.index[df["n_merged"] >= 3][:5]
    for key in keys:
        ref = Composition(key).reduced_composition
        elements = sorted(el.symbol for el in ref.elements)
        cand = raw[
            raw["formula"].map(lambda f, els=elements: sorted(re.findall(r"[A-Z][a-z]?", f)) == els)
        ]
        same = cand[[Composition(f).reduced_composition == ref for f in cand["formula"]]]
        assert len(same) == df.loc[key, "n_merged"]
        assert df.loc[key, "bandgap"] == pytest.approx(same["target"].mean())


def test_inorganic_keys_are_normalised_formulas():
    df = load_dataset("bandgap_aflow")
    assert (df["key"] == df["formula"]).all()
    assert all(normalise_formula(k) == k for k in df["key"].sample(500, random_state=1))
    assert (df["bandgap"] >= 0).all()
    assert set(df["split"]) == {"train", "val", "test"}


# ----------------------------------------------------------------------------- pairs
def test_pairs_registry_has_exactly_the_seven_tasks():
    assert list(PAIRS) == PAIR_NAMES
    assert {p.property for p in PAIRS.values()} == {"density", "tg", "chi", "bandgap"}
    assert [p.database for p in PAIRS.values()] == [
        "radonpy",
        "mafa_md",
        "md_tg",
        "cosmo_rs",
        "materials_project",
        "oqmd",
        "aflow",
    ]
    units = {p.property: p.unit for p in PAIRS.values()}
    assert units == {"density": "g/cm³", "tg": "°C", "chi": "dimensionless", "bandgap": "eV"}


def test_unknown_pair_lists_valid_names():
    with pytest.raises(UnknownNameError, match="Unknown pair 'bandgap_icsd'") as info:
        get_pair("bandgap_icsd")
    for name in PAIR_NAMES:
        assert name in str(info.value)


def test_pairs_are_frozen_hashable_and_picklable():
    pair = get_pair("polymer_tg_md")
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.unit = "K"  # type: ignore[misc]
    assert hash(pair) == hash(get_pair("polymer_tg_md"))
    assert pickle.loads(pickle.dumps(pair)) == pair
    assert pair.target_id == "tg_polymetrix"
    assert (
        get_pair("polymer_density_radonpy").target_id == get_pair("polymer_density_mafa").target_id
    )
    assert (
        len({get_pair(n).target_id for n in ("bandgap_mp", "bandgap_oqmd", "bandgap_aflow")}) == 1
    )


EXPECTED_PAIR_COUNTS = {
    "polymer_density_radonpy": (1077, 1693),
    "polymer_density_mafa": (314, 1693),
    "polymer_tg_md": (605, 7367),
    "chi_cosmo_rs": (1206, 1190),
    "bandgap_mp": (78164, 4601),
    "bandgap_oqmd": (341608, 4601),
    "bandgap_aflow": (27573, 4601),
}


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_each_pair_loads_source_and_target(name):
    pair = get_pair(name)
    expected_columns = ["key", *pair.input_columns, "y", "group"]
    frames = {"source": pair.load_source(), "target": pair.load_target()}
    for role, df in frames.items():
        assert list(df.columns) == expected_columns, role
        assert len(df) == EXPECTED_PAIR_COUNTS[name][0 if role == "source" else 1]
        assert np.isfinite(df["y"].to_numpy()).all()
        assert df["y"].dtype == np.float64
        assert df.index.equals(pd.RangeIndex(len(df)))
        assert df.attrs["role"] == role and df.attrs["unit"] == pair.unit
        assert df.attrs["pair"] == name
        ids = ["key", "temp"] if pair.family == "chi" else ["key"]
        assert not df.duplicated(ids).any()
        if pair.family == "chi":
            assert (df["group"] == df["polymer"] + "_" + df["solvent"]).all()
        else:
            assert (df["group"] == df["key"]).all()
            assert (df[pair.input_columns[0]] == df["key"]).all()
    assert frames["source"].attrs["data_kind"] == "computed"
    assert frames["target"].attrs["data_kind"] == "experimental"


def test_chi_group_spans_temperatures():
    target = get_pair("chi_cosmo_rs").load_target()
    per_group = target.groupby("group")["temp"].nunique()
    assert per_group.max() > 1  # several temperatures share one group
    assert target["group"].nunique() == 766


def test_make_featurizer_returns_fresh_transformers_matching_both_sides():
    pair = get_pair("polymer_density_mafa")
    f1, f2 = pair.make_featurizer(), pair.make_featurizer()
    assert f1 is not f2
    Xs = f1.fit_transform(pair.load_source().head(20))
    Xt = f2.fit_transform(pair.load_target().head(30))
    assert Xs.shape[1] == Xt.shape[1] == len(f1.get_feature_names_out())
    assert Xs.dtype == np.float64


def test_list_pairs_reports_real_counts():
    table = list_pairs()
    assert list(table.columns) == [
        "pair",
        "family",
        "property",
        "unit",
        "database",
        "source",
        "target",
        "n_source",
        "n_target",
        "featurizer",
    ]
    assert list(table["pair"]) == PAIR_NAMES
    for row in table.itertuples():
        assert (row.n_source, row.n_target) == EXPECTED_PAIR_COUNTS[row.pair]
    assert table.loc[0, "target"] == "polymer_properties_polymon[source=GREA]:density"
    text = repr(table)
    for name in PAIR_NAMES:
        assert name in text
    assert "341608" in text and "n_source" in text  # printed without column truncation
    quick = list_pairs(counts=False)
    assert quick["n_source"].isna().all() and list(quick["pair"]) == PAIR_NAMES


def _data(*parts: str):
    from bayes_scaling.datasets import data_file

    return data_file(*parts)
