"""ScalingLawModel structure and API: fitted state, grouping variants, input and setting errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _model_fits import (
    FAST,
    SINGLE_GRID,
    fit,
    single_curve,
    standard_curves,
    standard_fit,
    standard_params,
)

from bayes_scaling.exceptions import (
    BayesScalingError,
    CurveSchemaError,
    NotFittedError,
    UnknownNameError,
)
from bayes_scaling.models import CurvePosterior, Priors, ScalingLawModel
from bayes_scaling.models._data import prepare
from bayes_scaling.models.graph import data_column
from bayes_scaling.models.samplers import SamplerUnavailableError
from bayes_scaling.simulate import simulate_curves

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- fitted model and default groups
def test_fit_returns_self_and_a_datatree():
    curves = standard_curves()
    # NumPy integers (e.g. from rng.integers) are fine as settings: they are stored as JSON
    model = ScalingLawModel(
        draws=np.int64(30), tune=30, chains=2, random_seed=np.int64(3), check_convergence=False
    )
    assert model.fit(curves) is model
    assert model.random_seed_ == 3 and model.get_params()["draws"] == 30
    idata = model.idata
    assert isinstance(idata, xr.DataTree)
    for group in (
        "posterior",
        "sample_stats",
        "log_likelihood",
        "observed_data",
        "constant_data",
        "curves",
    ):
        assert group in idata.children, group
    post = idata["posterior"]
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 30
    assert idata["sample_stats"]["diverging"].shape == (2, 30)


def test_default_groups_are_property_database_strategy():
    model = standard_fit()
    curves = standard_curves()
    assert model.groups_ == ["property", "database", "strategy"]
    assert model.dropped_groups_ == {}
    post = model.idata["posterior"]
    n_levels = {"property": 3, "database": 2, "strategy": 2}
    for col, k in n_levels.items():
        eff = post[f"effect_{col}"]
        assert eff.sizes[col] == k
        # zero-sum effects: the levels of every draw sum to zero
        np.testing.assert_allclose(eff.sum(col).values, 0.0, atol=1e-9)
    ids = model.curve_ids_
    assert len(ids) == 6 and set(ids) == set(model.curves_.index)
    for name in ("D", "alpha", "C", "sigma", "e_ref", "gap_fraction"):
        assert post[name].dims == ("chain", "draw", "curve"), name
        assert list(post[name]["curve"].values) == ids
    # the pointwise log-likelihood has one entry per distinct (curve, n)
    ll = model.idata["log_likelihood"]["log_error"]
    assert ll.sizes["point"] == curves.groupby(["property", "database", "n"]).ngroups
    assert np.isfinite(ll.values).all()
    assert model.n_ref_ == pytest.approx(np.exp(np.mean(np.log(np.unique(curves["n"])))))


def test_derived_d_alpha_c_match_the_law():
    """D n^-alpha + C from the stored draws equals e_ref at the reference size."""
    model = standard_fit()
    post = model.idata["posterior"]
    D, alpha, C = (post[v].values for v in ("D", "alpha", "C"))
    e_ref = post["e_ref"].values
    n_ref = model.n_ref_
    np.testing.assert_allclose(D * n_ref**-alpha + C, e_ref, rtol=1e-10)
    np.testing.assert_allclose(C / e_ref, post["gap_fraction"].values, rtol=1e-10)
    assert (D > 0).all() and (alpha > 0).all() and (C > 0).all()


def test_summary_table():
    model = standard_fit()
    s = model.summary()
    assert {
        "level",
        "name",
        "group",
        "parameter",
        "scale",
        "mean",
        "sd",
        "median",
        "lower",
        "upper",
        "ci_prob",
        "ess_bulk",
        "ess_tail",
        "r_hat",
    } <= set(s.columns)
    curve = s[s["level"] == "curve"]
    assert set(curve["name"]) == set(model.curve_ids_)
    assert (curve["lower"] <= curve["median"]).all() and (curve["median"] <= curve["upper"]).all()
    # original-scale C is the normalised C times the curve's target_scale
    c_norm = curve[(curve["parameter"] == "C") & (curve["scale"] == "normalised")]
    c_orig = curve[(curve["parameter"] == "C") & (curve["scale"] == "original")]
    ts = model.curves_["target_scale"].loc[c_norm["name"]].to_numpy()
    np.testing.assert_allclose(c_orig["median"].to_numpy(), c_norm["median"].to_numpy() * ts)
    groups = s[s["level"] != "curve"]
    assert "population" in set(groups["name"])
    assert {"property=p0", "database=db1", "strategy=feature"} <= set(groups["name"])
    assert set(model.summary(level="group")["level"]) == {"group", "population"}
    narrow = model.summary(level="curve", prob=0.5)
    wide = model.summary(level="curve", prob=0.95)
    assert ((wide["upper"] - wide["lower"]) >= (narrow["upper"] - narrow["lower"])).all()


def test_curve_posterior_handoff():
    model = standard_fit()
    cid = model.curve_ids_[2]
    for extrapolation in ("law", "calibrated"):
        cp = model.curve_posterior(extrapolation)
        assert isinstance(cp, CurvePosterior)
        assert cp.curve_ids == model.curve_ids_
        np.testing.assert_array_equal(cp.params(cid, which="fit")["C"], model._flat("C")[:, 2])
        # decisions and predictions read the same draws, beyond the data too
        e = cp.expected_error([1e6], cid, scale="original")[:, 0]
        pred = model.predict(
            [1e6], cid, scale="original", return_draws=True, extrapolation=extrapolation
        )
        np.testing.assert_allclose(e, pred.values[:, 0, 0], rtol=1e-9)


def test_repr_and_get_params_roundtrip():
    model = ScalingLawModel(groups=["property"], law="power", draws=10, priors={"curve_sd": 0.3})
    params = model.get_params()
    assert params["groups"] == ["property"] and params["law"] == "power"
    assert params["priors"]["curve_sd"] == 0.3
    clone = ScalingLawModel(**params)
    assert clone.get_params() == params
    assert "law='power'" in repr(model) and "draws=10" in repr(model)


# ---------------------------------------------------------------- grouping variants
@pytest.fixture(scope="module")
def pooled_fit():
    return fit(standard_curves(), groups=[])


def test_no_groups_pools_around_one_mean(pooled_fit):
    assert pooled_fit.groups_ == []
    post = pooled_fit.idata["posterior"]
    assert not [v for v in post.data_vars if str(v).startswith(("effect_", "tau_p", "z_"))]
    assert post["mu"].sizes["param"] == 3 and "tau_curve" in post
    s = pooled_fit.summary(level="group")
    assert set(s["name"]) == {"population"}


def test_single_curve_has_no_pooling():
    curves = single_curve(rng=1)
    model = fit(curves)
    assert model.groups_ == []
    assert set(model.dropped_groups_) == {"property", "database"}
    assert "single curve" in model.dropped_groups_["property"]
    post = model.idata["posterior"]
    assert "mu" not in post and "tau_curve" not in post
    assert post["theta"].sizes["curve"] == 1
    pred = model.predict([1e6])
    assert len(pred) == 1 and np.isfinite(pred["median"]).all()
    # a new curve: the curve-to-curve spread comes from the prior, so it is wider
    new = model.predict([1e6], pd.DataFrame({"property": ["tg"], "database": ["other"]}))
    assert (new["upper"] - new["lower"]).iloc[0] > (pred["upper"] - pred["lower"]).iloc[0]


def test_nested_groups_family_then_property():
    # 4 properties (2 per family) x 2 databases
    p = standard_params().iloc[:4]
    extra = p.assign(property=p["property"].str.replace("p", "q"))
    both = pd.concat([p, extra], ignore_index=True)
    both["family"] = np.where(both["property"].str.startswith("p"), "polymer", "inorganic")
    both["strategy"] = "finetune"
    curves = simulate_curves(both, rng=4)
    model = fit(curves, groups=["family", "property"], draws=100, tune=150)
    assert model.groups_ == ["family", "property"]
    post = model.idata["posterior"]
    assert post["effect_family"].sizes["family"] == 2
    assert post["effect_property"].sizes["property"] == 4
    names = set(model.summary(level="group")["name"])
    assert {"family=polymer", "family=inorganic", "property=q1"} <= names
    assert np.isfinite(model.predict([1e5])["median"]).all()


def test_groups_that_cannot_pool_are_dropped():
    curves = standard_curves()
    data = ScalingLawModel(groups=["property", "kind"]).prepare_data(curves)
    assert [g.column for g in data.groups] == ["property"]
    assert "one level" in data.dropped_groups["kind"]
    # one curve per level: not identifiable from the curve-level deviation
    p = standard_params().iloc[:3].assign(strategy=["a", "b", "c"])
    data = ScalingLawModel(groups=["strategy"]).prepare_data(simulate_curves(p, rng=0))
    assert data.groups == [] and "one curve per level" in data.dropped_groups["strategy"]


def test_a_level_aliasing_an_earlier_column_gets_no_effect():
    """Scratch curves are database 'none' and strategy 'scratch': one effect, not two."""
    p = pd.concat([standard_params()] * 2, ignore_index=True)
    p["database"] = p["database"].where(p.index < 6, "none")
    p["strategy"] = np.where(p.index < 6, np.where(p.index < 3, "finetune", "gentle"), "scratch")
    p["kind"] = np.where(p.index < 6, "transfer", "scratch")
    p["pair"] = [f"c{i}" for i in range(len(p))]
    data = ScalingLawModel(groups=["database", "strategy"]).prepare_data(simulate_curves(p, rng=5))
    db, strat = data.groups
    assert "none" in db.levels and strat.excluded == ("scratch",)
    assert strat.levels == ["finetune", "gentle"]
    scratch = np.flatnonzero(data.meta["strategy"].to_numpy() == "scratch")
    effect = np.array([[1.0, 2.0], [-1.0, -2.0]])  # (level, param)
    taken = strat.take(effect, axis=0)
    np.testing.assert_array_equal(taken[scratch], 0.0)
    assert np.all(np.abs(np.delete(taken, scratch, axis=0)) > 0)
    # with only scratch besides one level, the column is dropped and says why
    q = p[p["strategy"] != "gentle"]
    data = ScalingLawModel(groups=["database", "strategy"]).prepare_data(simulate_curves(q, rng=5))
    assert [g.column for g in data.groups] == ["database"]
    assert "earlier grouping column" in data.dropped_groups["strategy"]


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        (["family"], "'family' is not in the curve table"),
        (["error"], "'error' is not a curve-level column"),
        (["colour"], "'colour'"),
    ],
)
def test_unknown_group_column(groups, match):
    with pytest.raises(UnknownNameError, match=match):
        ScalingLawModel(groups=groups, **FAST).fit(standard_curves())


def test_group_column_varying_within_a_curve():
    curves = standard_curves()
    curves["family"] = np.where(curves["n"] > 1000, "a", "b")
    with pytest.raises(BayesScalingError, match="varies within curve"):
        ScalingLawModel(groups=["family"]).prepare_data(curves)


# ---------------------------------------------------------------- bad input
def _bad(kind: str) -> pd.DataFrame:
    c = standard_curves()
    if kind == "missing":
        return c.drop(columns="target_scale")
    if kind == "unknown":
        return c.assign(colour="red")
    if kind == "nan":
        c.loc[3, "error"] = np.nan
        return c
    if kind == "negative":
        c.loc[3, "error"] = -0.2
        return c
    if kind == "zero_n":
        c.loc[c["n"] == 16, "n"] = 0
        return c
    if kind == "one_point":
        return c[c["n"] == c["n"].min()]
    if kind == "two_points":
        return c[c["n"] <= sorted(c["n"].unique())[1]]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("missing", r"missing required column\(s\) \['target_scale'\]"),
        ("unknown", r"unknown column\(s\) \['colour'\]"),
        ("nan", "'error' has 1 NaN"),
        ("negative", "'error' must be > 0"),
        ("zero_n", "'n' must be > 0"),
        ("one_point", "at least 3 distinct n"),
        ("two_points", "at least 3 distinct n"),
    ],
)
def test_bad_curve_tables_are_rejected(kind, match):
    with pytest.raises(CurveSchemaError, match=match):
        ScalingLawModel(**FAST).fit(_bad(kind))


def test_not_a_dataframe():
    with pytest.raises(CurveSchemaError, match="DataFrame"):
        ScalingLawModel(**FAST).fit({"n": [1, 2, 3]})


# ---------------------------------------------------------------- invalid settings
@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"law": "exponential"}, UnknownNameError, "Unknown law 'exponential'"),
        ({"likelihood": "cauchy"}, BayesScalingError, "likelihood must be"),
        ({"sampler": "emcee"}, BayesScalingError, "Unknown sampler 'emcee'"),
        ({"target_accept": 1.0}, BayesScalingError, "target_accept must be .auto. or in"),
        ({"target_accept": 0.2}, BayesScalingError, "target_accept must be .auto. or in"),
        ({"centring": "sideways"}, BayesScalingError, "centring must be"),
        ({"init": "random"}, BayesScalingError, "init must be"),
        ({"likelihood": "studentt", "aggregate": True}, BayesScalingError, "aggregate=True"),
        ({"draws": 0}, BayesScalingError, "draws must be an integer >= 1"),
        ({"chains": 1.5}, BayesScalingError, "chains must be an integer"),
        ({"priors": {"curve_sd": -1.0}}, BayesScalingError, "'curve_sd' must be"),
        ({"priors": {"slope": 1.0}}, BayesScalingError, "Unknown prior setting"),
        ({"priors": 3}, BayesScalingError, "priors must be a Priors"),
        ({"sampler_kwargs": {"init_mean": object()}}, BayesScalingError, "JSON-serialisable"),
    ],
)
def test_invalid_settings(settings, error, match):
    with pytest.raises(error, match=match):
        ScalingLawModel(**{**FAST, **settings}).fit(single_curve())


def test_missing_sampler_package_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpyro" else real(name, *a)
    )
    with pytest.raises(SamplerUnavailableError, match=r"bayes_scaling\[numpyro\]"):
        ScalingLawModel(sampler="numpyro").fit(single_curve())


def test_invalid_output_arguments():
    model = standard_fit()
    with pytest.raises(BayesScalingError, match="prob must be in"):
        model.summary(prob=1.5)
    with pytest.raises(BayesScalingError, match="prob must be in"):
        model.predict([100], prob=0.0)
    with pytest.raises(BayesScalingError, match="level must be"):
        model.summary(level="seed")
    with pytest.raises(BayesScalingError, match="scale must be"):
        model.gap_probability(0.1, scale="log")


# ---------------------------------------------------------------- unfitted
@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.idata,
        lambda m: m.convergence,
        lambda m: m.summary(),
        lambda m: m.predict([100]),
        lambda m: m.gap_probability(),
        lambda m: m.loo(),
        lambda m: m.curve_posterior(),
        lambda m: m.save("x.nc"),
        lambda m: m.curves_,
        lambda m: m.groups_,
    ],
)
def test_unfitted_model_raises(call):
    with pytest.raises(NotFittedError, match="not fitted"):
        call(ScalingLawModel())


def test_build_model_without_sampling():
    model = ScalingLawModel(priors=Priors(curve_sd=0.2)).build_model(single_curve())
    free = {rv.name for rv in model.free_RVs}
    assert free == {"theta", "log_sigma"}
    # the seed-aggregated Normal likelihood is one potential of the sufficient statistics
    assert not model.observed_RVs
    assert [p.name for p in model.potentials] == ["log_error_loglik"]
    assert len(SINGLE_GRID) == data_column(model, "log_n_centred").size


def test_break_prior_is_centred_on_each_curve_own_range():
    """broken_power / mmf: the break's prior sits in the middle of that curve's log n range."""
    short = single_curve().query("n <= 1024")
    table = pd.concat([single_curve(), short.assign(database="short")], ignore_index=True)
    model = ScalingLawModel(law="mmf", groups=None).build_model(table)
    loc, scale = data_column(model, "break_loc"), data_column(model, "break_scale")
    data = prepare(table, groups=None)
    lo, hi = data.curve_x_range
    for c, cid in enumerate(data.curve_ids):
        x = data.point_x[data.point_curve == c]
        assert (lo[c], hi[c]) == (x.min(), x.max()), cid
    np.testing.assert_allclose(loc, 0.5 * (lo + hi))
    np.testing.assert_allclose(scale, Priors().log_break_sd_factor * 0.5 * (hi - lo))
    assert loc[0] != loc[1] and scale[0] > scale[1]


# ---------------------------------------------------------------- laws
def test_laws_agree_with_the_closed_form():
    from bayes_scaling.models.laws import LAWS, get_law, params_from_dac

    rng = np.random.default_rng(0)
    D, alpha, C = rng.uniform(0.5, 5, 20), rng.uniform(0.1, 1.5, 20), rng.uniform(0.01, 0.5, 20)
    log_n_ref = np.log(1000.0)
    p = params_from_dac(D, alpha, C, log_n_ref)
    law = get_law("power_gap")
    for got, want in zip(law.dac(p, log_n_ref), (D, alpha, C), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    n = np.array([1.0, 16.0, 1e3, 1e7])[:, None]
    np.testing.assert_allclose(law.expected_error(n, p, log_n_ref), D * n**-alpha + C, rtol=1e-10)
    # no gap: C = 0; broken power law with alpha2 = alpha is the power law with gap
    p0 = params_from_dac(D, alpha, np.zeros(20), log_n_ref)
    assert np.isneginf(p0["logit_gap"]).all()
    pw = get_law("power").expected_error(n, p0, log_n_ref)
    np.testing.assert_allclose(pw, D * n**-alpha, rtol=1e-10)
    pb = {**p, "log_alpha2": p["log_alpha"], "log_break": np.zeros(20)}
    np.testing.assert_allclose(
        LAWS["broken_power"].expected_error(n, pb, log_n_ref), D * n**-alpha + C, rtol=1e-10
    )
    assert get_law(law) is law
    with pytest.raises(UnknownNameError, match="choose one of power, power_gap, broken_power"):
        get_law("exp")


def test_packed_data_round_trips_columns_and_keeps_indices_integer():
    """One container per table: every column comes back as it went in (indices as ints)."""
    import pymc as pm
    import pytensor

    from bayes_scaling.models.graph import packed_data

    rng = np.random.default_rng(0)
    cols = {"x": rng.normal(size=6), "idx": np.array([0, 2, 1, 1, 0, 2], dtype=np.int32),
            "block": rng.normal(size=(6, 3))}  # fmt: skip
    rows = {"w_a": rng.uniform(size=3), "w_b": rng.uniform(size=3)}  # a table of params
    with pm.Model() as model:
        d = packed_data("t", "row", cols)
        g = packed_data("g", "param", rows)
        assert packed_data("none", "row", {}) == {}
    assert [v.name for v in model.data_vars] == ["t", "g"]
    assert list(model.coords["t_column"]) == ["x", "idx", "block[0]", "block[1]", "block[2]"]
    values = pytensor.function([], [d["x"], d["idx"], d["block"], g["w_a"], g["w_b"]])()
    np.testing.assert_array_equal(values[0], cols["x"])
    assert values[1].dtype.kind == "i" and np.array_equal(values[1], cols["idx"])
    np.testing.assert_array_equal(values[2], cols["block"])
    np.testing.assert_array_equal(values[3], rows["w_a"])
    np.testing.assert_array_equal(values[4], rows["w_b"])
    for name, want in (("x", cols["x"]), ("block", cols["block"]), ("w_b", rows["w_b"])):
        np.testing.assert_array_equal(data_column(model, name), want)
    with pytest.raises(KeyError, match="no data column 'nope'"):
        data_column(model, "nope")
