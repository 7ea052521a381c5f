"""Per-curve least squares (the paper's method) and its agreement with the Bayesian fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _model_fits import fit, standard_curves, standard_params
from scipy.optimize import curve_fit

from bayes_scaling.curves import curve_ids, normalised_error
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models import fit_least_squares
from bayes_scaling.simulate import simulate_curves


def _truth_by_curve(curves: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """Align true parameters (one row per property x database) with curve ids."""
    keys = curves.drop_duplicates(["property", "database"])
    ids = curve_ids(keys)
    t = params.set_index(["property", "database"])
    rows = t.loc[list(zip(keys["property"], keys["database"], strict=True))]
    return rows.set_index(pd.Index(ids.to_numpy(), name="curve"))


def test_noise_free_curves_are_recovered_exactly():
    p = standard_params().drop(columns="sigma")  # a sigma column overrides noise
    curves = simulate_curves(p, noise=0.0, seeds=1, rng=0)
    ls = fit_least_squares(curves)
    truth = _truth_by_curve(curves, p)
    got = ls.params.loc[truth.index]
    for col in ("D", "alpha", "C"):
        np.testing.assert_allclose(got[col], truth[col], rtol=1e-5, err_msg=col)
    assert got["success"].all()
    assert (got["sigma"] < 1e-6).all()
    # predictions reproduce the noise-free table
    pred = ls.predict(np.unique(curves["n"]), scale="original")
    merged = curves.assign(curve=curve_ids(curves)).merge(pred, on=["curve", "n"])
    np.testing.assert_allclose(merged["error_x"], merged["error_y"], rtol=1e-5)


def test_agrees_with_scipy_curve_fit():
    curves = standard_curves()
    ls = fit_least_squares(curves)
    y = np.log(normalised_error(curves).to_numpy())
    cid = curve_ids(curves).to_numpy()

    def log_law(n, D, alpha, C):
        return np.log(D * n ** (-alpha) + C)

    for c in np.unique(cid):
        sel = cid == c
        n = curves.loc[sel, "n"].to_numpy(float)
        popt, _ = curve_fit(
            log_law,
            n,
            y[sel],
            p0=[1.0, 0.5, 0.1],
            bounds=([1e-8, 1e-3, 1e-8], [1e6, 8.0, 10.0]),
            max_nfev=20000,
        )
        got = ls.params.loc[c, ["D", "alpha", "C"]].to_numpy(float)
        np.testing.assert_allclose(got, popt, rtol=2e-3, err_msg=c)
        # the same objective: the residual sd is that of the scipy fit
        resid = y[sel] - log_law(n, *popt)
        assert ls.params.loc[c, "sigma"] == pytest.approx(
            np.sqrt((resid**2).sum() / (sel.sum() - 3)), rel=1e-3
        )


def test_standard_errors_match_the_spread_of_repeated_fits():
    reps = 120
    truth = pd.DataFrame(
        {
            "property": [f"r{i}" for i in range(reps)],
            "database": "db",
            "D": 2.0,
            "alpha": 0.5,
            "C": 0.2,
        }
    )
    curves = simulate_curves(truth, seeds=3, noise=0.1, rng=5)
    ls = fit_least_squares(curves).params
    for p in ("log_e_ref", "logit_gap", "log_alpha"):
        spread = ls[p].std(ddof=1)
        se = ls[f"se_{p}"].median()
        assert np.isfinite(se)
        assert 0.75 < se / spread < 1.33, (p, se, spread)
    # and the estimates centre on the truth (within 4 standard errors of the mean)
    alpha = ls["alpha"]
    assert abs(alpha.mean() - 0.5) < 4 * alpha.std() / np.sqrt(reps)


def test_broken_power_and_power_laws():
    p = standard_params().iloc[:2].drop(columns="sigma").assign(C=0.0)
    curves = simulate_curves(p, noise=0.0, seeds=1, rng=0)
    power = fit_least_squares(curves, law="power")
    truth = _truth_by_curve(curves, p)
    np.testing.assert_allclose(power.params.loc[truth.index, "alpha"], truth["alpha"], rtol=1e-5)
    assert (power.params["C"] == 0).all() and "gap_fraction" not in power.params
    pb = (
        standard_params()
        .iloc[:2]
        .drop(columns="sigma")
        .assign(alpha2=lambda d: d["alpha"] * 2.0, n_break=500.0)
    )
    bcurves = simulate_curves(
        pb, noise=0.0, seeds=1, n_grid=np.geomspace(16, 1e5, 14).round(), rng=0
    )
    broken = fit_least_squares(bcurves, law="broken_power")
    bt = _truth_by_curve(bcurves, pb)
    got = broken.params.loc[bt.index]
    # the large-n asymptote D n^-alpha2 + C: alpha reported is alpha2
    np.testing.assert_allclose(got["alpha"], bt["alpha2"], rtol=0.05)
    np.testing.assert_allclose(got["C"], bt["C"], rtol=0.05)
    assert (got["sigma"] < 0.01).all()


def test_errors():
    ls = fit_least_squares(standard_curves())
    with pytest.raises(UnknownNameError, match="Unknown law"):
        fit_least_squares(standard_curves(), law="linear")
    with pytest.raises(UnknownNameError, match="Unknown curve"):
        ls.predict([10], "nope")
    with pytest.raises(BayesScalingError, match="n must be"):
        ls.predict([-1])
    with pytest.raises(BayesScalingError, match="scale must be"):
        ls.predict([10], scale="log")


@pytest.mark.integration
def test_bayesian_medians_agree_with_least_squares_on_nearly_noiseless_curves():
    curves = standard_curves(noise_scale=0.1, rng=3)  # log-scale noise sd 0.005-0.015
    ls = fit_least_squares(curves).params
    # centring="auto" (the default; same posterior): "noncentred" hits the maximum tree depth
    # on every draw when the data pin each curve down this tightly (4x slower here)
    model = fit(curves, draws=200, tune=300, centring="auto")
    s = model.summary(level="curve")
    truth = _truth_by_curve(curves, standard_params())
    for par in ("D", "alpha", "C"):
        rows = s[(s["parameter"] == par) & (s["scale"] != "original")].set_index("name")
        med = rows.loc[truth.index, "median"].to_numpy()
        np.testing.assert_allclose(med, ls.loc[truth.index, par], rtol=0.03, err_msg=par)
        np.testing.assert_allclose(med, truth[par], rtol=0.06, err_msg=par)
