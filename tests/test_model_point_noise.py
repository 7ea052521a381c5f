"""The noise shared by the seeds of a point (``tau_point``): density, graph and recovery."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _model_fits import FAST, fit
from scipy import stats

from bayes_scaling.curves import normalised_error
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models import ScalingLawModel
from bayes_scaling.models._data import prepare
from bayes_scaling.models.assemble import pointwise_loglik
from bayes_scaling.models.laws import get_law
from bayes_scaling.simulate import draw_curve_params, simulate_curves

TRUE_SIGMA, TRUE_TAU = 0.10, 0.06


def _curves(point_noise: float, rng: int = 3) -> pd.DataFrame:
    params = draw_curve_params(3, 2, rng=rng).assign(sigma=TRUE_SIGMA)
    grid = np.unique(np.geomspace(16, 20_000, 9).round().astype(int))
    return simulate_curves(params, n_grid=grid, seeds=8, point_noise=point_noise, rng=rng)


def test_pointwise_loglik_is_the_joint_normal_density_of_the_seeds():
    """With tau > 0 a point's term is the MVN density, covariance sigma^2 I + tau^2 11'."""
    curves = _curves(TRUE_TAU)
    data = prepare(curves, None)
    law = get_law("power_gap")
    rng = np.random.default_rng(0)
    draws = 3
    theta = np.stack(
        [rng.normal([np.log(0.4), 0.0, np.log(0.4)], 0.2, (data.n_curves, 3)) for _ in range(draws)]
    )[None]  # (chain, draw, curve, param)
    post = xr.Dataset(
        {
            "theta": (("chain", "draw", "curve", "param"), theta),
            "log_sigma": (
                ("chain", "draw", "curve"),
                rng.normal(np.log(0.1), 0.2, (1, draws, data.n_curves)),
            ),
            "tau_point": (("chain", "draw", "noise_group"), rng.uniform(0.01, 0.1, (1, draws, 1))),
        },
        coords={"param": list(law.pooled)},
    )
    ll = pointwise_loglik(post, data, law, "normal")
    y = np.log(normalised_error(curves).to_numpy())
    for j in (0, 7, data.n_points - 1):
        seeds = y[data.obs_point == j]
        c = data.point_curve[j]
        for d in range(draws):
            p = {name: theta[0, d, c, i] for i, name in enumerate(law.pooled)}
            mean = float(law.log_mean(np.asarray(data.point_x[j]), p))
            s = float(np.exp(post["log_sigma"].values[0, d, c]))
            t = float(post["tau_point"].values[0, d, 0])
            cov = s**2 * np.eye(seeds.size) + t**2
            expected = stats.multivariate_normal(np.full(seeds.size, mean), cov).logpdf(seeds)
            assert ll[0, d, j] == pytest.approx(expected, rel=1e-10, abs=1e-10)


def test_potential_and_observed_graphs_differ_by_a_constant():
    """The sampled Potential and the observed-variable form are the same density of tau."""
    curves = _curves(TRUE_TAU).query("property == 'p0'")
    model = ScalingLawModel(point_noise=True)
    data = model.prepare_data(curves)
    pot, _, _ = model._build(data)
    obs, _, _ = model._build(data, observed_rvs=True)
    assert "tau_point" in {rv.name for rv in pot.free_RVs}
    lp_pot, lp_obs = pot.compile_logp(), obs.compile_logp()
    base = pot.initial_point()
    rng = np.random.default_rng(1)
    diffs, taus = [], []
    for _ in range(6):
        point = {k: v + rng.normal(0, 0.5, size=np.shape(v)) for k, v in base.items()}
        diffs.append(lp_pot(point) - lp_obs(point))
        taus.append(float(np.exp(point["tau_point_log__"][0])))
    assert np.ptp(taus) > 0.05  # tau really moved
    assert np.ptp(diffs) < 1e-8 * max(1.0, abs(diffs[0]))


def test_point_noise_needs_the_aggregated_likelihood():
    curves = _curves(0.0).query("property == 'p0'")
    with pytest.raises(BayesScalingError, match="point_noise=True needs the seed-aggregated"):
        ScalingLawModel(likelihood="studentt", point_noise=True).build_model(curves)
    per_seed = ScalingLawModel(likelihood="studentt").build_model(curves)  # default: off
    assert "tau_point" not in {rv.name for rv in per_seed.free_RVs}
    off = ScalingLawModel().build_model(curves)  # the default: off
    assert "tau_point" not in {rv.name for rv in off.free_RVs}
    on = ScalingLawModel(point_noise=True).build_model(curves)
    assert "tau_point" in {rv.name for rv in on.free_RVs}


@functools.cache
def _fit(point_noise: float) -> ScalingLawModel:
    settings = {**FAST, "draws": 500, "tune": 500, "random_seed": 4}
    return fit(_curves(point_noise), point_noise=True, **settings)


@pytest.mark.integration
def test_recovers_the_shared_point_noise_and_the_seed_noise():
    model = _fit(TRUE_TAU)
    post = model.idata_["posterior"]
    lo, hi = np.quantile(post["tau_point"].values, [0.05, 0.95])
    assert lo < TRUE_TAU < hi, (lo, hi)
    assert lo > 0.02  # told apart from zero
    sigma = float(post["sigma"].median())
    assert sigma == pytest.approx(TRUE_SIGMA, rel=0.15)
    # every curve carries its kind's tau
    np.testing.assert_allclose(
        post["point_sd"].values, np.broadcast_to(post["tau_point"].values, post["point_sd"].shape)
    )


@pytest.mark.integration
def test_no_shared_noise_gives_a_small_tau_and_the_old_likelihood():
    model = _fit(0.0)
    tau = model.idata_["posterior"]["tau_point"].values
    assert np.quantile(tau, 0.95) < 0.03
    # one new seed's predictive sd includes the point noise: wider than sigma alone
    obs = model.predict([1000], kind="observation", return_draws=True)
    mean = model.predict([1000], kind="mean", return_draws=True)
    spread = np.log(obs.values / mean.values).std(axis=0)
    sigma = model.idata_["posterior"]["sigma"].median().item()
    assert np.all(spread > 0.9 * sigma)


def test_centring_sees_the_precision_the_point_noise_leaves():
    """The least-squares se behind the centring weights widen by the means' excess scatter."""
    from bayes_scaling.models.baseline import _fit_prepared
    from bayes_scaling.models.sampling_policy import point_noise_factor

    law = get_law("power_gap")
    factors = {}
    for tau in (0.0, TRUE_TAU):
        data = prepare(_curves(tau), None)
        factors[tau] = np.median(point_noise_factor(data, law, _fit_prepared(data, law)))
    k = 8  # seeds per point
    expected = np.sqrt((TRUE_SIGMA**2 / k + TRUE_TAU**2) / ((TRUE_SIGMA**2 + TRUE_TAU**2) / k))
    assert factors[0.0] < 1.3
    assert factors[TRUE_TAU] == pytest.approx(expected, rel=0.3)
