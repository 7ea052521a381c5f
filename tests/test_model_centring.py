"""``centring="auto"``: partial-centring weights from the least-squares fit, and the standard
errors it relies on (``inf`` where the data do not identify a parameter)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _model_fits import standard_curves

from bayes_scaling.models import ScalingLawModel, fit_least_squares
from bayes_scaling.models.centring import MIN_RESIDUAL_DOF
from bayes_scaling.models.graph import data_column
from bayes_scaling.simulate import draw_curve_params, simulate_curves


def _weights(curves: pd.DataFrame, **kwargs) -> tuple[np.ndarray, list[str], dict]:
    model = ScalingLawModel(**{"centring": "auto", **kwargs})
    pm_model = model.build_model(curves)
    data = model.prepare_data(curves)
    groups = {  # columns with fewer than 3 levels have fixed effects: no spread, no weight
        g.column: data_column(pm_model, f"centring_weight_{g.column}")
        for g in data.groups
        if f"tau_{g.column}" in pm_model.named_vars
    }
    return data_column(pm_model, "centring_weight"), list(pm_model.coords["param"]), groups


def test_pure_power_law_leaves_the_gap_unidentified():
    p = pd.DataFrame(
        {
            "property": ["a", "b"],
            "database": ["x", "x"],
            "D": [1.5, 0.8],
            "alpha": [0.5, 0.3],
            "C": [0.0, 0.2],
        }
    )
    curves = simulate_curves(p, noise=0.0, seeds=1, rng=0)
    ls = fit_least_squares(curves).params.sort_index()
    no_gap, gap = ls.iloc[0], ls.iloc[1]  # curve ids sort as a|..., b|...
    # C = 0: the gap fraction sits at its bound and the error does not depend on it
    assert np.isinf(no_gap["se_logit_gap"])
    assert np.isfinite(no_gap["se_log_alpha"]) and np.isfinite(no_gap["se_log_e_ref"])
    assert np.isfinite(gap[["se_log_e_ref", "se_logit_gap", "se_log_alpha"]].astype(float)).all()


def test_auto_centres_what_the_data_pin_down():
    # 18 curves, crossed 6 x 3: plenty of residual degrees of freedom
    curves = simulate_curves(draw_curve_params(6, 3, rng=5), seeds=5, rng=6)
    w, params, groups = _weights(curves)
    assert w.shape == (18, 3)
    assert ((w >= 0) & (w <= 1)).all()
    e = params.index("log_e_ref")
    # the error at n_ref is pinned down by 8 sizes x 5 seeds: the most centred parameter
    # (weights at TAU_SHRINK x the spread estimate: partly centred)
    assert w[:, e].min() > 0.1 and w[:, e].mean() > 0.25, w[:, e]
    assert (w[:, e] > w[:, params.index("logit_gap")]).all()
    # within a parameter, the less precisely a curve's data pin it down, the lower its weight
    ids = ScalingLawModel().prepare_data(curves).curve_ids
    ls = fit_least_squares(curves).params.loc[ids]
    for j, p in enumerate(params):
        se = ls[f"se_{p}"].to_numpy(dtype=float)
        order = np.argsort(se)
        assert (np.diff(w[order, j]) <= 1e-12).all(), p
    assert set(groups) == {"property", "database"}
    # fixed settings give the fixed weights
    w0, _, g0 = _weights(curves, centring="noncentred")
    w1, _, g1 = _weights(curves, centring="centred")
    assert (w0 == 0).all() and (w1 == 1).all()
    assert all((v == 0).all() for v in g0.values()) and all((v == 1).all() for v in g1.values())


def test_auto_uses_the_prior_spread_at_curve_level_without_residual_dof():
    # 6 curves with property (3), database (2) and strategy (2) effects: 6 - 2 - 1 - 1 - 1 = 1
    from bayes_scaling.models.centring import TAU_SHRINK
    from bayes_scaling.models.priors import Priors

    curves = standard_curves()
    w, params, groups = _weights(curves)
    assert 6 - 2 - 1 - 1 - 1 < MIN_RESIDUAL_DOF
    assert set(groups) == {"property"}  # database and strategy (2 levels each): fixed effects
    # no spread estimate: TAU_SHRINK x the prior's mean spread (0.15 for log e_ref) against
    # each curve's standard error: the precise error at n_ref (nearly) centred
    t = TAU_SHRINK * Priors().spread(Priors().curve_sd, params)
    assert t[0] == pytest.approx(0.15)
    e = params.index("log_e_ref")
    assert w[:, e].min() > 0.9
    assert (w[:, e] > w[:, params.index("log_alpha")]).all()
    # with the curves pooled around one mean there are 5 residual dof: centred where precise
    w_pooled, params, _ = _weights(curves, groups=[])
    assert w_pooled[:, params.index("log_e_ref")].min() > 0.8


def test_gamma_spread_priors_are_the_default():
    import pytest

    from bayes_scaling.exceptions import BayesScalingError
    from bayes_scaling.models.priors import Priors

    curves = standard_curves()
    halfnormal = ScalingLawModel(priors=Priors(sd_family="halfnormal")).build_model(curves)
    gamma = ScalingLawModel().build_model(curves)
    kind = lambda m, name: type(m[name].owner.op).__name__  # noqa: E731
    assert Priors().sd_family == "gamma"
    assert "HalfNormal" in kind(halfnormal, "tau_curve")
    assert "Gamma" in kind(gamma, "tau_curve") and "Gamma" in kind(gamma, "tau_property")
    # the Gamma(2, 2 / scale) prior has mean `scale` and no mass at zero
    lp = gamma.compile_logp(vars=[gamma["tau_curve"]], jacobian=False)
    pt = gamma.initial_point()
    name = gamma.rvs_to_values[gamma["tau_curve"]].name
    near_zero = {**pt, name: np.log(np.full(3, 1e-6))}
    at_mean = {**pt, name: np.log(np.full(3, 0.5))}
    assert lp(near_zero) < lp(at_mean) - 20
    assert "Gamma(2, 4) (mean 0.5)" in Priors(sd_family="gamma").describe()["prior"].tolist()
    assert Priors.from_dict(Priors(sd_family="gamma").to_dict()).sd_family == "gamma"
    with pytest.raises(BayesScalingError, match="sd_family"):
        Priors(sd_family="lognormal")


def test_paule_mandel_matches_the_closed_form_with_equal_variances():
    from bayes_scaling.models.centring import _paule_mandel

    rng = np.random.default_rng(3)
    # equal sampling variances: sum r^2 / (v + t) = dof  <=>  t = sum r^2 / dof - v
    r = rng.normal(0.0, 0.5, 40)
    v = np.full(40, 0.04)
    dof = 39
    expected = (r**2).sum() / dof - 0.04
    assert _paule_mandel(r**2, v, dof, upper=10.0) == pytest.approx(expected, rel=1e-9)
    # residuals smaller than their noise: no between-unit variance
    assert _paule_mandel(np.full(5, 0.01), np.full(5, 1.0), 4, upper=10.0) == 0.0
    # capped at the upper bound
    assert _paule_mandel(np.full(5, 100.0), np.full(5, 0.01), 4, upper=2.0) == 2.0


def test_centring_weights_recover_the_spread_and_ignore_unidentified_curves():
    from bayes_scaling.models._data import GroupSpec
    from bayes_scaling.models.centring import TAU_SHRINK, centring_weights

    rng = np.random.default_rng(11)
    n_levels, per_level = 8, 25
    index = np.repeat(np.arange(n_levels), per_level)
    group = GroupSpec("g", [f"l{i}" for i in range(n_levels)], index)
    effects = rng.normal(0.0, 0.6, n_levels)
    n = n_levels * per_level
    se = np.full((n, 2), 0.05)
    se[:, 1] = 2.0  # the second parameter: the data barely inform it
    se[0, 0] = 10.0  # one curve with an unidentified first parameter
    truth = 1.0 + effects[index][:, None] + rng.normal(0.0, 0.3, (n, 2))
    theta = truth + se * rng.standard_normal((n, 2))
    theta[0, 0] = 50.0  # its estimate is garbage and must not inflate the spreads
    w, tau = centring_weights(theta, se, [group], max_sd=5.0)
    assert tau[0] == pytest.approx(0.3, rel=0.15)
    # weights at TAU_SHRINK x the spread: precise curves mostly centred (0.3 x 0.3 = 0.09
    # against se 0.05: w = 0.76), the unidentified one non-centred
    t2 = (TAU_SHRINK * tau[0]) ** 2
    np.testing.assert_allclose(w["curve"][:, 0], t2 / (t2 + se[:, 0] ** 2))
    assert w["curve"][1:, 0].min() > 0.7 and w["curve"][0, 0] < 0.01
    # noisy parameter: curves non-centred, but the level means average 25 curves each
    assert w["curve"][:, 1].max() < 0.3
    assert w["g"][0] > 0.95


def test_latent_to_theta_is_the_graphs_transformation():
    """The NumPy twin gives the same theta and effects as the PyMC graph, any weights."""
    import pymc as pm
    import pytensor.tensor as pt
    import xarray as xr

    from bayes_scaling.models.graph import (
        MIN_POOLED_LEVELS,
        build_pymc_model,
        latent_to_theta,
        zero_sum_basis,
    )
    from bayes_scaling.models.laws import get_law
    from bayes_scaling.models.priors import Priors

    curves = simulate_curves(draw_curve_params(3, 2, rng=1), seeds=2, rng=2)
    model = ScalingLawModel()
    data = model.prepare_data(curves)
    law = get_law("power_gap")
    rng = np.random.default_rng(0)
    weights = {"curve": rng.uniform(size=(data.n_curves, 3))}
    for g in data.groups:
        weights[g.column] = rng.uniform(size=3)
    pm_model = build_pymc_model(data, law=law, priors=Priors(), centring=weights)
    prior = pm.sample_prior_predictive(draws=7, model=pm_model, random_seed=4)["prior"]
    post = prior.to_dataset()
    ours = latent_to_theta(post, data, law.pooled, weights)
    # the graph's own theta, evaluated at the same draws
    with pm_model:
        lin = pm_model["mu"][None, :]
        effects = {}
        for g in data.groups:
            if len(g.levels) >= MIN_POOLED_LEVELS:
                w = data_column(pm_model, f"centring_weight_{g.column}")
                tau = pm_model[f"tau_{g.column}"]
                effects[g.column] = (tau ** (1.0 - w))[:, None] * pt.dot(
                    pm_model[f"z_{g.column}"], zero_sum_basis(len(g.levels)).T
                )
            else:  # two databases: fixed effects, no spread sampled
                assert f"tau_{g.column}" not in pm_model.named_vars
                effects[g.column] = pt.dot(
                    pm_model[f"z_{g.column}"], zero_sum_basis(len(g.levels)).T
                )
            lin = lin + effects[g.column].T[data_column(pm_model, f"{g.column}_index").astype(int)]
        w = data_column(pm_model, "centring_weight")
        tau_c = pm_model["tau_curve"][None, :]
        raw = pm_model["theta_raw"]
        theta = lin + tau_c ** (1.0 - w) * (raw - w * lin)
        fn = pm.compile_fn(
            [theta, *effects.values()], inputs=pm_model.free_RVs, on_unused_input="ignore"
        )
    names = [rv.name for rv in pm_model.free_RVs]
    for c in range(post.sizes["chain"]):
        for d in range(post.sizes["draw"]):
            point = {n: post[n].values[c, d] for n in names}
            graph_theta, *graph_effects = fn(point)
            np.testing.assert_allclose(ours["theta"].values[c, d], graph_theta, rtol=1e-10)
            for g, eff in zip(data.groups, graph_effects, strict=True):
                np.testing.assert_allclose(
                    ours[f"effect_{g.column}"].values[c, d], eff.T, rtol=1e-10, atol=1e-12
                )
    assert isinstance(ours, xr.Dataset) and ours["theta"].dims[2:] == ("curve", "param")


@pytest.mark.parametrize("levels", [2, 3, 7])
def test_zero_sum_contrasts_are_pymcs_zero_sum_normal(levels):
    """Contrasts through the basis have ZeroSumNormal's covariance, and its density."""
    import pymc as pm

    from bayes_scaling.models.graph import zero_sum_basis

    basis = zero_sum_basis(levels)
    assert basis.shape == (levels, levels - 1)
    np.testing.assert_allclose(basis.T @ basis, np.eye(levels - 1), atol=1e-12)
    np.testing.assert_allclose(basis.sum(axis=0), 0.0, atol=1e-12)
    s = 0.7
    np.testing.assert_allclose(
        s**2 * basis @ basis.T, s**2 * (np.eye(levels) - 1.0 / levels), atol=1e-12
    )
    # the same log density as PyMC's ZeroSumNormal (up to a constant) at zero-sum points
    rng = np.random.default_rng(levels)
    us = rng.normal(size=(2, levels - 1))
    zsn = [pm.logp(pm.ZeroSumNormal.dist(sigma=s, shape=levels), basis @ u).eval() for u in us]
    ours = [pm.logp(pm.Normal.dist(0.0, s, shape=levels - 1), u).eval().sum() for u in us]
    np.testing.assert_allclose(zsn[1] - zsn[0], ours[1] - ours[0], rtol=1e-10)


def test_too_few_curves_for_a_spread_use_the_priors():
    """Fewer residual degrees of freedom than MIN_RESIDUAL_DOF: the prior's spread stands in
    for the estimate (precise parameters centred), or every weight is 0 without one."""
    from bayes_scaling.models.centring import TAU_SHRINK, centring_weights

    theta = np.array([[0.1, 0.0], [0.3, 1.0], [-0.2, -1.0]])
    se = np.array([[0.01, 5.0], [0.02, 5.0], [0.01, 5.0]])
    w0, _ = centring_weights(theta, se, [], max_sd=1.0)
    assert (w0["curve"] == 0.0).all()
    prior = np.array([0.5, 1.0])
    w, _ = centring_weights(theta, se, [], max_sd=1.0, prior_sd=prior)
    t2 = (TAU_SHRINK * prior) ** 2
    np.testing.assert_allclose(w["curve"], t2 / (t2 + se**2))
    assert w["curve"][:, 0].min() > 0.9 and w["curve"][:, 1].max() < 0.01


def _as_draw(start: dict, model) -> xr.Dataset:
    """The start values as a one-draw posterior with the model's dimensions."""
    out = {}
    for name, value in start.items():
        dims = model.named_vars_to_dims.get(name, ())
        out[name] = (("chain", "draw", *dims), np.asarray(value)[None, None])
    return xr.Dataset(out)


@pytest.mark.parametrize("with_m", [False, True])
def test_every_chain_starts_at_the_least_squares_fit_with_its_group_effects(with_m):
    """The start of the hierarchy (mu, zero-sum contrasts, spreads, m slope, curve
    deviations) maps back through the graph's transformation to the least-squares curve
    parameters, and its group effects are the moment estimates (not random: random
    group-effect starts put chains into separate modes on the bundled curves)."""
    from bayes_scaling.models.centring import empirical_bayes
    from bayes_scaling.models.graph import latent_to_theta
    from bayes_scaling.models.sampling_policy import START_LIMITS as lims
    from bayes_scaling.models.sampling_policy import start_values

    params = draw_curve_params(4, 3, rng=7)
    curves = simulate_curves(params, seeds=4, rng=8)
    if with_m:  # the same tasks at two experimental sizes (an m slope) and two strategies
        # (a column with fixed effects: fewer than 3 levels)
        parity = (
            curves["property"].str[1:].astype(int) + curves["database"].str[2:].astype(int)
        ) % 2
        curves = curves.assign(strategy=np.where(parity == 0, "a", "b"))
        curves = pd.concat([curves.assign(m=40), curves.assign(m=400, error=curves["error"] * 0.8)])
    model = ScalingLawModel()
    data = model.prepare_data(curves)
    assert data.has_m_slope == with_m
    law, priors, *_ = model._resolved()
    weights, start = start_values(data, law, priors, centring="auto", init="least_squares")
    pm_model = model.build_model(curves)
    free = {rv.name for rv in pm_model.free_RVs}
    assert {"mu", "tau_curve", "theta_raw", "z_property"} <= set(start) <= free
    assert ("z_strategy" in start and "tau_strategy" not in free) == with_m
    assert free - set(start) <= {"tau_log_sigma"}, free - set(start)
    back = latent_to_theta(_as_draw(start, pm_model), data, law.pooled, weights)
    # the least-squares estimates the start was built from (clipped inside the priors)
    theta = back["theta"].values[0, 0]
    ls = fit_least_squares(curves).params.loc[data.curve_ids]
    ls_theta = np.column_stack([ls[p].to_numpy(dtype=float) for p in law.pooled])
    for j, p in enumerate(law.pooled):
        np.testing.assert_allclose(theta[:, j], np.clip(ls_theta[:, j], *lims[p]), atol=1e-8)
    se = np.column_stack([ls[f"se_{p}"].to_numpy(dtype=float) for p in law.pooled])
    se = np.clip(np.nan_to_num(se, nan=10.0, posinf=10.0), 1e-3, 10.0)
    eb = empirical_bayes(
        np.column_stack([np.clip(ls_theta[:, j], *lims[p]) for j, p in enumerate(law.pooled)]),
        se, data.groups, max_sd=2.0 * priors.curve_sd,
        prior_sd=priors.spread(priors.curve_sd, law.pooled), covariate=data.curve_log_m,
    )  # fmt: skip
    for g in data.groups:
        np.testing.assert_allclose(
            back[f"effect_{g.column}"].values[0, 0], eb.effects[g.column], atol=1e-8
        )
        assert np.abs(eb.effects[g.column]).max() > 1e-3  # not a trivial all-zero start
