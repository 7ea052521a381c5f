"""Surface tables: resolution of m, task/target structure, and every bad input's message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.exceptions import CurveSchemaError, UnknownNameError
from bayes_scaling.models.surface_data import prepare_surface, resolved_m, task_ids
from bayes_scaling.models.surface_forms import SurfacePriors, check_form
from bayes_scaling.simulate import simulate_surface


@pytest.fixture(scope="module")
def table():
    return simulate_surface("additive", rng=0)


def test_structure(table):
    d = prepare_surface(table)
    assert d.targets == ["chi", "density"]
    assert d.tasks == ["chi|cosmo", "chi|md", "density|dft", "density|md"]
    assert [d.targets[t] for t in d.task_target] == ["chi", "chi", "density", "density"]
    assert d.m_levels["density|md"] == [40, 100, 250]
    # 4 tasks x 3 m levels + 2 scratch curves
    assert len(d.curves) == 14
    scratch = d.obs_task < 0
    assert (d.obs_n[scratch] == 0).all() and (d.obs_n[~scratch] >= 16).all()
    np.testing.assert_array_equal(d.obs_m[scratch], table.loc[scratch, "n"])
    np.testing.assert_allclose(np.exp(d.obs_y), table["error"])  # nmae: already normalised
    # reference sizes are geometric means of the data
    t = d.targets.index("density")
    assert d.m_ref[t] == pytest.approx(np.exp(np.log(d.obs_m[d.obs_target == t]).mean()))


def test_full_split_rows_take_n_train(table):
    full = table["m"].isna() & (table["kind"] == "transfer")
    assert full.any()
    m = resolved_m(table)
    assert (m[full] == table.loc[full, "n_train"]).all()
    assert (m[table["kind"] == "scratch"] == table.loc[table["kind"] == "scratch", "n"]).all()


def test_task_ids_include_strategy():
    df = pd.DataFrame({"property": ["a"], "database": ["b"], "strategy": ["finetune"]})
    assert task_ids(df).tolist() == ["a|b|finetune"]


def test_missing_m(table):
    bad = table.drop(columns="n_train")
    with pytest.raises(CurveSchemaError, match="Missing m"):
        prepare_surface(bad)


def test_m_larger_than_split(table):
    bad = table.copy()
    rows = bad["m"].notna()
    bad.loc[rows, "n_train"] = bad.loc[rows, "m"] - 1
    with pytest.raises(CurveSchemaError, match="larger than the target training split"):
        prepare_surface(bad)


def test_no_scratch_curve(table):
    bad = table[~((table["kind"] == "scratch") & (table["property"] == "chi"))]
    with pytest.raises(CurveSchemaError, match=r"\['chi'\] have no scratch curve"):
        prepare_surface(bad)


def test_one_m_level(table):
    bad = table[table["m"].isna()]
    with pytest.raises(CurveSchemaError, match="fewer than 2 experimental sizes"):
        prepare_surface(bad)


def test_no_transfer_rows(table):
    with pytest.raises(CurveSchemaError, match="needs transfer rows"):
        prepare_surface(table[table["kind"] == "scratch"])


def test_metric_choice(table):
    two = pd.concat([table, table.assign(metric="nrmse")], ignore_index=True)
    with pytest.raises(CurveSchemaError, match="several metrics"):
        prepare_surface(two)
    assert prepare_surface(two, metric="nrmse").metric == "nrmse"
    with pytest.raises(CurveSchemaError, match="Metric 'mae' not in the table"):
        prepare_surface(table, metric="mae")


def test_schema_errors_reach_the_user(table):
    bad = table.copy()
    bad.loc[0, "error"] = np.nan
    with pytest.raises(CurveSchemaError, match="NaN"):
        prepare_surface(bad)
    with pytest.raises(CurveSchemaError, match="'n' must be > 0"):
        prepare_surface(table.assign(n=0))


def test_form_and_prior_names():
    with pytest.raises(UnknownNameError, match="Unknown surface form 'cubic'"):
        check_form("cubic")
    with pytest.raises(UnknownNameError, match="Unknown surface prior 'log_zeta'"):
        SurfacePriors.from_dict({"mu": {"log_zeta": (0, 1)}})
    p = SurfacePriors.from_dict({"mu": {"log_alpha": (-1.0, 0.5)}, "tau": {"log_alpha": 0.2}})
    assert p.mu["log_alpha"] == (-1.0, 0.5) and p.tau["log_alpha"] == 0.2
    assert SurfacePriors.from_dict(p.to_dict()) == p
