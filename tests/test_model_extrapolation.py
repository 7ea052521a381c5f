"""The calibrated extrapolation (issue 14): laws bent beyond the data, spreads from tails.

The pure-NumPy parts are tested without sampling: the bent law is continuous at the anchor
and is the law where the spreads are zero; its spread grows with the distance beyond the
anchor; the spreads learnt from held-out tails are small for curves that follow the law and
large for curves that bend away from it, and the calibrated intervals then cover the
bending curves' truth where the law's do not. One fitted model checks the wiring
(``predict``, ``curve_posterior``) and determinism.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _model_fits import standard_fit

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._data import prepare
from bayes_scaling.models.extrapolation import (
    CUTS,
    GRIDS,
    PRIOR_SCALE,
    ExtrapolationSpread,
    bend,
    bent_draws,
    bent_log_error,
    estimate_spread,
)
from bayes_scaling.models.laws import get_law, params_from_dac
from bayes_scaling.models.posterior import CurvePosterior
from bayes_scaling.models.priors import Priors
from bayes_scaling.simulate import simulate_curves

GRID = np.unique(np.geomspace(16, 32768, 12).astype(int))


def point_spread(kg: float, ka: float, mg: float = 0.0, ma: float = 0.0) -> ExtrapolationSpread:
    """A spread whose grid posterior sits on one ``(mu_g, mu_a, kappa_g, kappa_a)`` cell."""
    w = np.zeros((1, *(v.size for v in GRIDS.values())))
    cell = [np.argmin(abs(GRIDS[k] - v)) for k, v in zip(GRIDS, (mg, ma, kg, ka), strict=True)]
    w[(0, *cell)] = 1.0
    da = xr.DataArray(w, dims=("kind", *GRIDS), coords={"kind": ["all"], **GRIDS})
    return ExtrapolationSpread(da, pd.DataFrame(columns=["curve", "kind"]))


def law_draws(S: int = 2000, seed: int = 0):
    rng = np.random.default_rng(seed)
    D = 2.0 * np.exp(0.05 * rng.standard_normal((S, 2)))
    alpha = np.array([0.5, 0.3]) * np.exp(0.05 * rng.standard_normal((S, 2)))
    C = np.array([0.05, 0.2]) * np.exp(0.05 * rng.standard_normal((S, 2)))
    return D, alpha, C


def test_bent_law_is_continuous_at_the_anchor_and_the_law_without_spread():
    D, alpha, C = law_draws()
    n_a = np.array([1000.0, 5000.0])
    kinds = np.array(["all", "all"])
    Db, ab, Cb = bent_draws(
        point_spread(2.0, 0.5), D, alpha, C, n_a, kinds, np.random.default_rng(1)
    )
    at = D * n_a ** (-alpha) + C
    np.testing.assert_allclose(Db * n_a ** (-ab) + Cb, at, rtol=1e-10)
    assert not np.allclose(ab, alpha)  # bent beyond
    D0, a0, C0 = bent_draws(
        point_spread(0.0, 0.0), D, alpha, C, n_a, kinds, np.random.default_rng(1)
    )
    np.testing.assert_allclose(D0, D, rtol=1e-10)
    np.testing.assert_allclose(a0, alpha, rtol=1e-12)
    np.testing.assert_allclose(C0, C, rtol=1e-10)


def test_spread_grows_with_distance_beyond_the_anchor():
    D, alpha, C = law_draws()
    n_a = np.array([1000.0, 1000.0])
    Db, ab, Cb = bent_draws(
        point_spread(1.5, 0.4), D, alpha, C, n_a, np.array(["all", "all"]),
        np.random.default_rng(2),
    )  # fmt: skip
    widths = []
    for f in (1.0, 4.0, 64.0, 4096.0):
        n = 1000.0 * f
        e = np.log(Db * n ** (-ab) + Cb)
        e_law = np.log(D * n ** (-alpha) + C)
        widths.append(np.subtract(*np.quantile(e, [0.95, 0.05], axis=0)))
        if f == 1.0:
            np.testing.assert_allclose(e, e_law, rtol=1e-10)
    widths = np.array(widths)
    assert np.all(np.diff(widths, axis=0) > 0)


def test_a_shift_bends_every_draw_one_way():
    D, alpha, C = law_draws()
    n_a = np.array([1000.0, 1000.0])
    kinds = np.array(["all", "all"])
    Db, ab, Cb = bent_draws(
        point_spread(0.0, 0.0, mg=-1.5, ma=0.4), D, alpha, C, n_a, kinds, np.random.default_rng(3)
    )
    n = 1e5
    assert np.all(Db * n ** (-ab) + Cb < D * n ** (-alpha) + C)  # steeper than the law


def test_bend_formula_matches_the_law_form():
    # log e'(x) = log e_a + log(g' + (1 - g') e^{-alpha' (x - x_a)}) is D' n^-alpha' + C'
    log_ea, g, a = bend(np.log(0.4), np.asarray(0.3), np.asarray(0.5), 0.7, -0.2)
    x_a, x = np.log(100.0), np.log(np.array([100.0, 1e3, 1e5]))
    e = np.exp(bent_log_error(x, x_a, log_ea, g, a))
    D_b, C_b = (1 - g) * 0.4 * 100.0**a, g * 0.4
    np.testing.assert_allclose(e, D_b * np.exp(x) ** (-a) + C_b, rtol=1e-12)
    assert 0.3 < g < 1 and a < 0.5


def fake_posterior(
    curves: pd.DataFrame, truth: pd.DataFrame, sigma: float
) -> tuple[xr.Dataset, object]:
    """A posterior-like dataset around the curves' truth (what the tail refits need)."""
    data = prepare(curves, groups=[])
    law = get_law("power_gap")
    q = params_from_dac(truth["D"], truth["alpha"], truth["C"], data.log_n_ref)
    loc = np.array([[float(np.mean(q[k])) for k in law.pooled]])  # (1, param)
    post = xr.Dataset(
        {
            "mu": (("chain", "draw", "param"), loc[None]),
            "tau_curve": (("chain", "draw", "param"), np.array([[[0.7, 1.5, 0.3]]])),
            "log_sigma": (
                ("chain", "draw", "curve"),
                np.full((1, 1, data.n_curves), np.log(sigma)),
            ),
        },
        coords={"param": list(law.pooled), "curve": data.curve_ids},
    )
    return post, data


def curve_set(steepen: bool, seed: int = 3, count: int = 8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulated curves (power law with gap, or breaking to 3x the decay) and their truth."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        alpha = float(rng.uniform(0.3, 0.6))
        row = {
            "property": "p0", "database": f"db{i}", "D": float(rng.uniform(1.5, 3.0)),
            "alpha": alpha, "C": float(rng.uniform(0.02, 0.08)), "sigma": 0.02,
        }  # fmt: skip
        if steepen:  # a smooth break to a much steeper decay within the held-out tail
            row.update(alpha2=3.0 * alpha, n_break=float(rng.uniform(800, 3000)))
        rows.append(row)
    truth = pd.DataFrame(rows).set_index("database")
    return simulate_curves(truth.reset_index(), GRID, seeds=5, rng=seed), truth


def test_spreads_are_small_for_law_curves_and_large_for_bending_curves():
    law = get_law("power_gap")
    s_law = estimate_spread(*fake_posterior(*curve_set(False), 0.02), law, Priors()).summary()
    s_bent = estimate_spread(*fake_posterior(*curve_set(True), 0.02), law, Priors()).summary()
    mean = {
        name: s.set_index(["kind", "parameter"])["mean"]
        for name, s in (("law", s_law), ("bent", s_bent))
    }
    # every curve contributes a tail at each cut
    assert int(s_law["tails"].iloc[0]) == len(CUTS) * 8
    # how far the tails bend, in prior-scale units: a shift (mean) or a spread
    total = {
        k: sum(abs(mean[k][("all", name)]) / PRIOR_SCALE[name] for name in GRIDS) for k in mean
    }
    assert total["bent"] > 2.0 * total["law"], (s_law, s_bent)
    # the breaking curves steepen: the learnt shift says so (gap share down or alpha up)
    assert mean["bent"][("all", "mu_gap")] < 0 or mean["bent"][("all", "mu_alpha")] > 0


def test_a_tail_is_counted_once_when_both_cuts_keep_the_same_sizes():
    # sizes 16, 32, 64 then 4096: n_max/4 and n_max/8 both keep the first three
    rows = [{"property": "p0", "database": f"db{i}", "D": 2.0, "alpha": 0.4, "C": 0.05,
             "sigma": 0.02} for i in range(4)]  # fmt: skip
    truth = pd.DataFrame(rows).set_index("database")
    curves = simulate_curves(truth.reset_index(), [16, 32, 64, 4096], seeds=3, rng=1)
    spread = estimate_spread(*fake_posterior(curves, truth, 0.02), get_law("power_gap"), Priors())
    assert len(spread.tails) == 4 and set(spread.tails["cut"]) == {CUTS[0]}


def test_calibrated_intervals_cover_bending_truth_where_the_law_does_not():
    """Fit-free coverage check: refit each bending curve's truncated data, bend, compare."""
    curves, truth = curve_set(steepen=True, seed=5, count=10)
    post, data = fake_posterior(curves, truth, 0.02)
    law = get_law("power_gap")
    spread = estimate_spread(post, data, law, Priors())
    # a sharp "posterior" of each curve from its first sizes: the law before its break
    S = 4000
    D, alpha, C = (np.repeat(truth[k].to_numpy()[None, :], S, axis=0) for k in ("D", "alpha", "C"))
    n_a = np.full(D.shape[1], 512.0)
    kinds = np.full(D.shape[1], "transfer")
    Db, ab, Cb = bent_draws(spread, D, alpha, C, n_a, kinds, np.random.default_rng(7))
    n_end = float(curves["n"].max())
    end = curves[curves["n"] == n_end].groupby("database")["error"]
    observed = np.exp(end.apply(lambda e: np.log(e).mean())).loc[truth.index].to_numpy()
    bent = Db * n_end ** (-ab) + Cb
    lo, hi = np.quantile(bent, [0.1, 0.9], axis=0)
    law_pred = D[0] * n_end ** (-alpha[0]) + C[0]
    assert np.mean((observed >= lo) & (observed <= hi)) >= 0.7
    assert np.mean(np.isclose(observed, law_pred, rtol=0.05)) <= 0.2  # the law misses them


def test_calibrated_curve_posterior_keeps_the_fit_inside_the_data():
    model = standard_fit()
    cal = model.curve_posterior()
    law = model.curve_posterior("law")
    assert cal.calibrated and not law.calibrated
    c = cal.curve_ids[0]
    n_max = float(cal.curves.loc[c, "n_max"])
    inside = np.array([20.0, n_max])
    np.testing.assert_allclose(cal.expected_error(inside, c), law.expected_error(inside, c))
    for name in ("D", "alpha", "C"):
        np.testing.assert_array_equal(cal.params(c, which="fit")[name], law.params(c)[name])
    far = 1000.0 * n_max
    w_cal = np.subtract(*np.quantile(np.log(cal.expected_error(far, c)), [0.95, 0.05]))
    w_law = np.subtract(*np.quantile(np.log(law.expected_error(far, c)), [0.95, 0.05]))
    assert w_cal > w_law
    # deterministic given the fit
    again = model.curve_posterior()
    np.testing.assert_array_equal(again.draws["C"].values, cal.draws["C"].values)
    with pytest.raises(BayesScalingError, match="calibrated"):
        model.curve_posterior("wide")


def test_predict_bends_only_beyond_the_data():
    model = standard_fit()
    c = model.curve_ids_[0]
    n_max = float(model.curves_.loc[c, "n_max"])
    sizes = [50.0, n_max, 100.0 * n_max]
    cal = model.predict(sizes, curves=[c], return_draws=True).values[:, 0, :]
    law = model.predict(sizes, curves=[c], return_draws=True, extrapolation="law").values[:, 0, :]
    np.testing.assert_allclose(cal[:, :2], law[:, :2])
    assert np.std(np.log(cal[:, 2])) > np.std(np.log(law[:, 2]))
    with pytest.raises(BayesScalingError, match="extrapolation"):
        model.predict(sizes, curves=[c], extrapolation="wide")


def test_curve_posterior_checks_its_fit_draws():
    D, alpha, C = law_draws(10)
    meta = pd.DataFrame({"target_scale": [1.0, 1.0], "n_max": [100, 100]}, index=["a", "b"])
    cp = CurvePosterior.from_arrays(D, alpha, C, meta, fit=(D, alpha, C))
    assert cp.calibrated
    with pytest.raises(BayesScalingError, match="not all"):
        CurvePosterior(cp.draws.drop_vars("C_fit"), meta)
    with pytest.raises(BayesScalingError, match="which"):
        cp.params("a", which="bent")
