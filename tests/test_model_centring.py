"""``centring="auto"``: partial-centring weights from the least-squares fit, and the standard
errors it relies on (``inf`` where the data do not identify a parameter)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _model_fits import standard_curves

from bayes_scaling.models import ScalingLawModel, fit_least_squares
from bayes_scaling.models.hierarchical import MIN_RESIDUAL_DOF
from bayes_scaling.simulate import draw_curve_params, simulate_curves


def _weights(curves: pd.DataFrame, **kwargs) -> tuple[np.ndarray, list[str], dict]:
    model = ScalingLawModel(**{"centring": "auto", **kwargs})
    pm_model = model.build_model(curves)
    data = model.prepare_data(curves)
    groups = {
        g.column: pm_model[f"centring_weight_{g.column}"].get_value() for g in data.groups
    }
    return pm_model["centring_weight"].get_value(), list(pm_model.coords["param"]), groups


def test_pure_power_law_leaves_the_gap_unidentified():
    p = pd.DataFrame(
        {"property": ["a", "b"], "database": ["x", "x"], "D": [1.5, 0.8], "alpha": [0.5, 0.3],
         "C": [0.0, 0.2]}
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
    # the error at n_ref is pinned down by 8 sizes x 5 seeds: (nearly) centred
    assert w[:, e].min() > 0.6 and w[:, e].mean() > 0.75, w[:, e]
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


def test_auto_is_noncentred_at_curve_level_without_residual_dof():
    # 6 curves with property (3), database (2) and strategy (2) effects: 6 - 2 - 1 - 1 - 1 = 1
    curves = standard_curves()
    w, _, groups = _weights(curves)
    assert 6 - 2 - 1 - 1 - 1 < MIN_RESIDUAL_DOF
    assert set(groups) == {"property", "database", "strategy"}
    assert (w == 0).all()
    # with the curves pooled around one mean there are 5 residual dof: centred where precise
    w_pooled, params, _ = _weights(curves, groups=[])
    assert w_pooled[:, params.index("log_e_ref")].min() > 0.8


def test_gamma_spread_priors_are_opt_in():
    import pytest

    from bayes_scaling.exceptions import BayesScalingError
    from bayes_scaling.models.priors import Priors

    curves = standard_curves()
    default = ScalingLawModel().build_model(curves)
    gamma = ScalingLawModel(priors=Priors(sd_family="gamma")).build_model(curves)
    kind = lambda m, name: type(m[name].owner.op).__name__  # noqa: E731
    assert "HalfNormal" in kind(default, "tau_curve")
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
