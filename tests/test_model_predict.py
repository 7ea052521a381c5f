"""Predictions: extrapolation, original scale, new curves, observation noise, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _model_fits import (
    SCALES,
    fit,
    single_curve,
    standard_curves,
    standard_fit,
    standard_params,
)

from bayes_scaling.exceptions import BayesScalingError, UnknownNameError

pytestmark = pytest.mark.integration
N_NEW = [16.0, 1e5, 1e6, 1e8]


@pytest.fixture(scope="module")
def model():
    return standard_fit()


def test_extrapolation_table(model):
    pred = model.predict(N_NEW)
    assert list(pred.columns) == [
        "curve",
        "n",
        "scale",
        "kind",
        "mean",
        "median",
        "lower",
        "upper",
        "ci_prob",
    ]
    assert len(pred) == 6 * len(N_NEW)
    assert set(pred["curve"]) == set(model.curve_ids_)
    assert (pred["lower"] < pred["median"]).all() and (pred["median"] < pred["upper"]).all()
    for _, g in pred.groupby("curve"):
        med = g.sort_values("n")["median"].to_numpy()
        assert (np.diff(med) < 0).all()  # the law decreases in n ...
        width = (g["upper"] - g["lower"]).to_numpy()
        assert width[-1] > width[1]  # ... and extrapolation far out is less certain


def test_mean_draws_are_the_law_of_the_posterior(model):
    cid = model.curve_ids_[1]
    draws = model.predict(N_NEW, cid, return_draws=True, extrapolation="law")
    assert isinstance(draws, xr.DataArray) and draws.dims == ("sample", "curve", "n")
    D, alpha, C = (model._flat(v)[:, 1] for v in ("D", "alpha", "C"))
    expected = D[:, None] * np.asarray(N_NEW)[None, :] ** -alpha[:, None] + C[:, None]
    np.testing.assert_allclose(draws.values[:, 0, :], expected, rtol=1e-9)


def test_predictions_near_the_truth_inside_the_data(model):
    p = standard_params()
    pred = model.predict([1000.0], prob=0.99).set_index("curve")
    inside = []
    for _, row in p.iterrows():
        cid = next(
            c for c in model.curve_ids_ if c.startswith(f"{row['property']}|{row['database']}|")
        )
        e = row["D"] * 1000.0 ** -row["alpha"] + row["C"]
        inside.append(pred.loc[cid, "lower"] < e < pred.loc[cid, "upper"])
    assert sum(inside) >= 5, inside


def test_original_scale_is_normalised_times_target_scale(model):
    a = model.predict(N_NEW, return_draws=True, scale="normalised", random_seed=3)
    b = model.predict(N_NEW, return_draws=True, scale="original", random_seed=3)
    ts = model.curves_["target_scale"].loc[list(a["curve"].values)].to_numpy()
    np.testing.assert_array_equal(b.values, a.values * ts[None, :, None])
    assert sorted(set(ts)) == sorted(SCALES.values())
    ta = model.predict(N_NEW, scale="normalised")
    tb = model.predict(N_NEW, scale="original")
    ratio = (tb["median"] / ta["median"]).to_numpy()
    np.testing.assert_allclose(ratio, np.repeat(ts, len(N_NEW)), rtol=1e-12)
    # observation draws too (same noise draws for the same seed)
    ao = model.predict([1e6], kind="observation", return_draws=True, random_seed=4)
    bo = model.predict(
        [1e6], kind="observation", scale="original", return_draws=True, random_seed=4
    )
    np.testing.assert_allclose(bo.values, ao.values * ts[None, :, None], rtol=1e-12)


def test_observation_is_wider_than_mean(model):
    mean = model.predict(N_NEW, kind="mean")
    obs = model.predict(N_NEW, kind="observation")
    assert ((obs["upper"] - obs["lower"]) > (mean["upper"] - mean["lower"])).all()
    assert (obs["kind"] == "observation").all()
    # the median error over seeds is the law's value: the medians agree roughly
    np.testing.assert_allclose(obs["median"], mean["median"], rtol=0.1)


def test_new_curve_of_a_known_group_is_wider(model):
    curves = standard_curves()
    row = curves.iloc[0]
    cid = model.curve_ids_[0]
    known = model.predict([1e6], cid)
    new = pd.DataFrame(
        {
            "property": [row["property"]],
            "database": [row["database"]],
            "strategy": [row["strategy"]],
        }
    )
    pop = model.predict([1e6], new)
    assert pop["curve"].iloc[0].startswith("new")
    assert (pop["upper"] - pop["lower"]).iloc[0] > (known["upper"] - known["lower"]).iloc[0]
    # the new curve's median follows its groups: closer to its group's curves than not
    assert pop["lower"].iloc[0] < known["median"].iloc[0] < pop["upper"].iloc[0]
    # an unseen level draws a new group effect: wider again
    unseen = model.predict([1e6], new.assign(database=["materials_project"]))
    w = lambda t: float((t["upper"] - t["lower"]).iloc[0])  # noqa: E731
    assert w(unseen) > w(pop)
    # original scale of a new curve takes the property's target_scale (or a given one)
    orig = model.predict([1e6], new, scale="original", random_seed=2)
    norm = model.predict([1e6], new, scale="normalised", random_seed=2)
    assert orig["median"].iloc[0] == pytest.approx(norm["median"].iloc[0] * SCALES[row["property"]])
    given = model.predict([1e6], new.assign(target_scale=7.0), scale="original", random_seed=2)
    assert given["median"].iloc[0] == pytest.approx(norm["median"].iloc[0] * 7.0)
    with pytest.raises(BayesScalingError, match="target_scale"):
        model.predict([1e6], new.assign(property="viscosity"), scale="original")


def test_predict_errors(model):
    with pytest.raises(UnknownNameError, match="Unknown curve 'nope'"):
        model.predict([100], "nope")
    with pytest.raises(BayesScalingError, match="n must be"):
        model.predict([0, 100])
    with pytest.raises(BayesScalingError, match="n must be"):
        model.predict([np.nan])
    with pytest.raises(BayesScalingError, match="kind must be"):
        model.predict([100], kind="median")
    with pytest.raises(BayesScalingError, match="scale must be"):
        model.predict([100], scale="log")


def test_predictions_are_deterministic(model):
    a = model.predict(N_NEW, kind="observation")
    b = model.predict(N_NEW, kind="observation")
    pd.testing.assert_frame_equal(a, b)
    c = model.predict(N_NEW, kind="observation", random_seed=123)
    assert not np.allclose(a["upper"], c["upper"])


def test_same_seed_same_fit():
    curves = single_curve(rng=3)  # any structure will do; one curve is fast
    small = {"draws": 100, "tune": 100}
    a = fit(curves, random_seed=42, **small)
    b = fit(curves, random_seed=42, **small)
    c = fit(curves, random_seed=43, **small)
    for name in ("theta", "D", "alpha", "C", "sigma"):
        np.testing.assert_array_equal(
            a.idata["posterior"][name].values, b.idata["posterior"][name].values
        )
    assert not np.array_equal(a.idata["posterior"]["C"].values, c.idata["posterior"]["C"].values)
    pd.testing.assert_frame_equal(
        a.predict(N_NEW, kind="observation"), b.predict(N_NEW, kind="observation")
    )
    assert not a.predict(N_NEW, kind="observation").equals(c.predict(N_NEW, kind="observation"))
