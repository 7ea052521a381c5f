"""Priors: configuration, validation, and the prior predictive check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from _model_fits import single_curve, standard_curves

from bayes_scaling.curves import normalised_error, read_curves
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models import Priors, ScalingLawModel

REAL_CURVES = Path(__file__).resolve().parents[1] / "data" / "curves" / "curves.csv"


def test_defaults_and_describe():
    p = Priors()
    assert p.log_alpha == (math.log(0.5), 0.75)
    assert p.location("logit_gap") == (0.0, 1.5)
    table = p.describe()
    assert list(table.columns) == ["parameter", "prior", "meaning"]
    assert len(table) == 11
    assert "m_slope" in set(table["parameter"])
    assert "Normal(-0.693, 0.75)" in set(table["prior"])
    with pytest.raises(BayesScalingError, match="Unknown curve parameter"):
        p.location("log_sigma")


def test_dict_round_trip():
    p = Priors(log_alpha=(-1.0, 0.5), curve_sd=0.3, nu=(3.0, 0.2))
    d = p.to_dict()
    assert d["log_alpha"] == [-1.0, 0.5] and d["curve_sd"] == 0.3
    assert Priors.from_dict(d) == p
    assert Priors.from_dict(json.loads(json.dumps(d))) == p
    assert Priors.from_dict(None) == Priors()
    assert Priors.from_dict({"group_sd": 0.1}) == Priors(group_sd=0.1)
    assert Priors(log_alpha=[-1, 0.5]).log_alpha == (-1.0, 0.5)  # lists become float pairs


def test_unknown_key():
    with pytest.raises(BayesScalingError, match=r"Unknown prior setting\(s\) \['slope'\]"):
        Priors.from_dict({"slope": (0, 1)})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"log_alpha": (0.0, -1.0)}, "'log_alpha': the scale/rate must be > 0"),
        ({"log_alpha": (0.0, 1.0, 2.0)}, "'log_alpha' must be a pair"),
        ({"log_alpha": 0.5}, "'log_alpha' must be a pair of numbers"),
        ({"logit_gap": (float("nan"), 1.0)}, "'logit_gap' must be a pair of finite numbers"),
        ({"nu": (0.0, 0.1)}, "'nu': the Gamma shape must be > 0"),
        ({"log_sigma_sd": (2.0, 0.0)}, "'log_sigma_sd': the scale/rate must be > 0"),
        ({"curve_sd": 0.0}, "'curve_sd' must be a finite number > 0"),
        ({"group_sd": float("inf")}, "'group_sd' must be a finite number > 0"),
        ({"delta_log_alpha_sd": -0.1}, "'delta_log_alpha_sd'"),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(BayesScalingError, match=match):
        Priors(**kwargs)


def test_priors_reach_the_model():
    model = ScalingLawModel(priors={"log_alpha": (math.log(0.2), 0.1)})
    pm_model = model.build_model(single_curve())
    theta = pm_model["theta"]
    # the single-curve theta ~ Normal(loc, scale): its support point is the prior mean
    assert pm_model.initial_point()["theta"][0, 2] == pytest.approx(math.log(0.2))
    assert theta.owner.inputs[-1].eval()[0, 2] == pytest.approx(0.1)


@pytest.mark.integration
def test_prior_predictive_single_curve_matches_the_priors():
    p = Priors()
    dt = ScalingLawModel().sample_prior_predictive(single_curve(), draws=2000, random_seed=3)
    prior = dt["prior"]
    for name, j in (("log_e_ref", 0), ("logit_gap", 1), ("log_alpha", 2)):
        v = prior["theta"].values[..., 0, j].ravel()
        mu, sd = p.location(name)
        assert v.mean() == pytest.approx(mu, abs=4 * sd / math.sqrt(v.size)), name
        assert v.std() == pytest.approx(sd, rel=0.08), name
    alpha = prior["alpha"].values.ravel()
    np.testing.assert_allclose(np.log(alpha), prior["theta"].values[..., 0, 2].ravel())
    log_sigma = np.log(prior["sigma"].values.ravel())
    assert log_sigma.mean() == pytest.approx(p.log_sigma[0], abs=0.1)
    # a different prior moves the prior predictive
    tight = ScalingLawModel(priors={"log_alpha": (math.log(0.2), 0.05)}).sample_prior_predictive(
        single_curve(), draws=500, random_seed=3
    )
    assert np.median(tight["prior"]["alpha"].values) == pytest.approx(0.2, rel=0.02)


@pytest.fixture(scope="module")
def prior_predictive():
    curves = standard_curves()
    model = ScalingLawModel()
    dt = model.sample_prior_predictive(curves, draws=500, random_seed=1)
    return model, curves, dt


@pytest.mark.integration
def test_prior_predictive_covers_plausible_errors(prior_predictive):
    model, curves, dt = prior_predictive
    assert {"prior", "prior_predictive", "observed_data"} <= set(dt.children)
    prior = dt["prior"]
    for name in ("D", "alpha", "C", "e_ref", "sigma", "gap_fraction"):
        assert prior[name].dims == ("chain", "draw", "curve"), name
        assert prior[name].sizes["curve"] == 6
        assert (prior[name].values > 0).all(), name
    assert (prior["C"].values < prior["e_ref"].values).all()
    pred = dt["prior_predictive"]
    assert set(pred.data_vars) == {"log_error_mean", "log_error_ss"}
    err = np.exp(pred["log_error_mean"].values.ravel())
    q05, q50, q95 = np.quantile(err, [0.05, 0.5, 0.95])
    # the real curves' normalised errors lie inside the central 90% of the prior predictive
    real = normalised_error(read_curves(REAL_CURVES))
    assert q05 < real.min() and real.max() < q95
    assert 0.1 < q50 < 1.0
    again = model.sample_prior_predictive(curves, draws=500, random_seed=1)
    np.testing.assert_array_equal(again["prior"]["C"].values, prior["C"].values)


def _small_n_errors(model, curves, dt):
    x = model.prepare_data(curves).point_x
    err = np.exp(dt["prior_predictive"]["log_error_mean"].values)
    return err[..., x < -2.0].ravel(), err[..., np.abs(x) <= 2.0].ravel()


@pytest.mark.integration
def test_prior_predictive_near_the_reference_size_is_moderate(prior_predictive):
    _, central = _small_n_errors(*prior_predictive)
    assert np.quantile(central, 0.5) < 1.0
    assert np.mean(central > 3.0) < 0.2


@pytest.mark.integration
@pytest.mark.xfail(
    strict=True,
    reason=(
        "known prior weakness: e_ref at n_ref and alpha are a priori independent and the "
        "hierarchy widens alpha (curve-level 95% quantile about 3), so far below n_ref the prior "
        "predictive puts about 45% of its mass above 3 target sds (real curves stay below 1.5)"
    ),
)
def test_prior_predictive_far_below_the_reference_size_is_plausible(prior_predictive):
    small, _ = _small_n_errors(*prior_predictive)
    assert np.mean(small > 3.0) < 0.2
