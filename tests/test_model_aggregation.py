"""Seed aggregation: the sufficient-statistic likelihood gives the per-seed posterior exactly."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import xarray as xr
from _model_fits import single_curve, single_long_curves, single_long_fit, standard_curves
from scipy import stats

from bayes_scaling.curves import normalised_error
from bayes_scaling.models import ScalingLawModel
from bayes_scaling.models.assemble import pointwise_loglik
from bayes_scaling.models.graph import data_column, latent_to_theta

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def curves():
    return single_long_curves()


@pytest.fixture(scope="module")
def pair():
    return single_long_fit(aggregate=True), single_long_fit(aggregate=False)


def test_aggregate_default_follows_the_likelihood():
    m = ScalingLawModel()
    assert m._resolved()[3] is True
    assert ScalingLawModel(likelihood="studentt")._resolved()[3] is False
    assert ScalingLawModel(aggregate=False)._resolved()[3] is False


def test_graphs_differ_as_documented(curves):
    agg = ScalingLawModel().build_model(curves)
    per_seed = ScalingLawModel(aggregate=False).build_model(curves)
    # aggregated: one potential of the sufficient statistics (what nutpie samples)
    assert not agg.observed_RVs and [p.name for p in agg.potentials] == ["log_error_loglik"]
    assert {rv.name for rv in per_seed.observed_RVs} == {"log_error"}
    n_obs = len(curves)
    assert per_seed["log_error_data"].get_value().size == n_obs
    assert data_column(agg, "log_error_mean_data").size == curves["n"].nunique()
    assert data_column(agg, "log_error_ss_data").size == curves["n"].nunique()


@pytest.mark.parametrize(
    "make",
    [single_curve, lambda: standard_curves().query("property == 'p0'")],
    ids=["one_curve", "two_curves"],
)
def test_joint_logp_differs_by_a_constant(make):
    """log p_agg(theta) - log p_seed(theta) does not depend on theta: same posterior."""
    curves = make()
    agg = ScalingLawModel().build_model(curves)
    per_seed = ScalingLawModel(aggregate=False).build_model(curves)
    lp_agg, lp_seed = agg.compile_logp(), per_seed.compile_logp()
    point_fn = agg.initial_point
    base = point_fn()
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(6):
        point = {k: v + rng.normal(0, 0.5, size=np.shape(v)) for k, v in base.items()}
        diffs.append(lp_agg(point) - lp_seed(point))
    assert np.ptp(diffs) < 1e-8 * max(1.0, abs(diffs[0]))
    # and the difference is not trivially zero because the two likelihoods are the same
    assert abs(diffs[0]) > 1e-3


def test_posteriors_agree_within_monte_carlo_error(pair):
    agg, seed = pair
    for name in ("D", "alpha", "C", "sigma"):
        a = agg.idata["posterior"][name]
        s = seed.idata["posterior"][name]
        mcse_a = float(az.mcse(a.to_dataset(), method="mean")[name].values[0])
        mcse_s = float(az.mcse(s.to_dataset(), method="mean")[name].values[0])
        diff = float(a.mean() - s.mean())
        assert abs(diff) < 4.0 * np.hypot(mcse_a, mcse_s), (name, diff, mcse_a, mcse_s)
        sd_a, sd_s = float(a.std()), float(s.std())
        assert sd_a == pytest.approx(sd_s, rel=0.15), name


def test_pointwise_loglik_is_the_per_seed_density(pair, curves):
    """Stored log-likelihood = per-seed Normal log density summed per (curve, n), exactly."""
    agg, seed = pair
    y = np.log(normalised_error(curves).to_numpy())
    n = curves["n"].to_numpy()
    for model in (agg, seed):
        post = model.idata["posterior"]
        D, alpha, C, sigma = (post[v].values[..., 0] for v in ("D", "alpha", "C", "sigma"))
        ll = model.idata["log_likelihood"]["log_error"]
        for j, n_j in enumerate(ll["point_n"].values):
            sel = n == n_j
            mean = np.log(D[..., None] * float(n_j) ** -alpha[..., None] + C[..., None])
            expected = stats.norm.logpdf(y[sel], mean, sigma[..., None]).sum(axis=-1)
            np.testing.assert_allclose(ll.values[..., j], expected, rtol=1e-9, atol=1e-9)


@pytest.mark.filterwarnings("ignore:Estimated shape parameter")
def test_pointwise_loglik_identical_given_the_same_draws(pair):
    """Both fits store the same per-point log-likelihood when evaluated at the same draws."""
    import pymc as pm

    agg, seed = pair
    # evaluate the per-seed PyMC model's own log density at the aggregated fit's draws
    post = agg.idata["posterior"].to_dataset()[["theta", "log_sigma"]]
    ll = pm.compute_log_likelihood(
        xr.DataTree.from_dict({"posterior": post}),
        model=seed.model,
        extend_inferencedata=False,
        progressbar=False,
    )
    per_obs = ll["log_error"].values
    obs_point = seed.data_.obs_point
    summed = np.stack(
        [per_obs[..., obs_point == j].sum(axis=-1) for j in range(seed.data_.n_points)], axis=-1
    )
    np.testing.assert_allclose(  # atol: a point's density can cross zero (rounding ~1e-14)
        agg.idata["log_likelihood"]["log_error"].values, summed, rtol=1e-10, atol=1e-10
    )
    # the two fits' LOO are on the same scale (same points, comparable ELPD)
    la, ls = agg.loo(), seed.loo()
    assert la.elpd == pytest.approx(ls.elpd, abs=3 * max(la.se, 1.0))


def test_studentt_loglik_sums_the_per_seed_density():
    curves = standard_curves().query("property == 'p0'")
    model = ScalingLawModel(likelihood="studentt")
    data = model.prepare_data(curves)
    pm_model = model.build_model(data)
    import pymc as pm

    prior = pm.sample_prior_predictive(draws=20, model=pm_model, random_seed=1)["prior"]
    free = [rv.name for rv in pm_model.free_RVs]
    assert "nu" in free
    centring, _ = model._start(data, model._resolved()[0], model._resolved()[1])
    post = prior.to_dataset()
    post = xr.merge([post, latent_to_theta(post, data, model._resolved()[0].pooled, centring)])
    ours = pointwise_loglik(post, data, model._resolved()[0], "studentt")
    ll = pm.compute_log_likelihood(
        xr.DataTree.from_dict({"posterior": post[free]}),
        model=pm_model,
        extend_inferencedata=False,
        progressbar=False,
    )["log_error"].values
    summed = np.stack(
        [ll[..., data.obs_point == j].sum(axis=-1) for j in range(data.n_points)], axis=-1
    )
    assert summed.shape == ours.shape == (1, 20, data.n_points)
    np.testing.assert_allclose(ours, summed, rtol=1e-9)
