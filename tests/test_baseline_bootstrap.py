"""Bootstrap of the per-curve least-squares fit (``bootstrap_least_squares``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import least_squares

from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models import bootstrap_least_squares, fit_least_squares
from bayes_scaling.models.baseline import _bounds
from bayes_scaling.models.baseline_bootstrap import _batched_lm
from bayes_scaling.models.laws import get_law
from bayes_scaling.simulate import law_error, simulate_curves


def _truth(m: int, rng: int) -> pd.DataFrame:
    g = np.random.default_rng(rng)
    return pd.DataFrame(
        {
            # zero-padded: curve ids sort like the rows
            "property": [f"p{i:02d}" for i in range(m)],
            "database": "db",
            "D": g.uniform(1.0, 4.0, m),
            "alpha": g.uniform(0.3, 0.8, m),
            "C": g.uniform(0.05, 0.3, m),
        }
    )


def _coverage(boot, truth: pd.DataFrame, n: np.ndarray, prob: float) -> float:
    draws = boot.predict_draws(n).values  # (sample, curve, n); curves in truth's order
    lo, hi = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    true = np.stack([law_error(n, r.D, r.alpha, r.C) for r in truth.itertuples()])
    return float(((lo <= true) & (true <= hi)).mean())


def test_seed_bootstrap_intervals_cover_the_true_law_at_about_the_nominal_rate():
    truth = _truth(60, rng=5)
    curves = simulate_curves(truth, seeds=5, noise=0.1, rng=6)
    boot = bootstrap_least_squares(curves, n_boot=200, random_seed=2)
    assert (boot.scheme == "seeds").all()
    n = np.array([1000.0, 1e5])  # inside the grid, and at its end (16 ... 1e5)
    # percentile intervals from 5 seeds run a little narrow (about 0.72 here); a broken
    # resampling (identical replicates, or residual noise drawn on top) lands far outside
    assert 0.6 <= _coverage(boot, truth, n, 0.8) <= 0.92
    assert 0.3 <= _coverage(boot, truth, n, 0.5) <= 0.7
    alpha = boot.parameter_draws("alpha").values
    lo, hi = np.quantile(alpha, [0.1, 0.9], axis=0)
    assert 0.55 <= np.mean((lo <= truth["alpha"].values) & (truth["alpha"].values <= hi)) <= 0.95
    # the bootstrap is centred on the point fit
    point = fit_least_squares(curves).params
    pd.testing.assert_frame_equal(boot.fit.params, point)
    med = np.median(boot.parameter_draws("log_e_ref").values, axis=0)
    np.testing.assert_allclose(med, point["log_e_ref"], atol=0.02)


def test_single_seed_curves_fall_back_to_residual_resampling():
    truth = _truth(30, rng=1)
    curves = simulate_curves(truth, seeds=1, noise=0.05, rng=2)
    boot = bootstrap_least_squares(curves, n_boot=150, random_seed=3)
    assert (boot.scheme == "residuals").all()
    assert 0.5 <= _coverage(boot, truth, np.array([1000.0, 1e5]), 0.8) <= 0.97
    assert np.isfinite(boot.parameter_draws("sigma").values).all()


def test_deterministic_given_the_seed_and_independent_of_n_jobs():
    curves = simulate_curves(_truth(4, rng=0), seeds=4, noise=0.1, rng=1)
    a = bootstrap_least_squares(curves, n_boot=30, random_seed=7)
    b = bootstrap_least_squares(curves, n_boot=30, random_seed=7)
    c = bootstrap_least_squares(curves, n_boot=30, random_seed=8)
    d = bootstrap_least_squares(curves, n_boot=30, random_seed=7, n_jobs=2)
    for name in ("log_e_ref", "alpha", "C", "sigma"):
        np.testing.assert_array_equal(a.draws[name], b.draws[name])
        np.testing.assert_array_equal(a.draws[name], d.draws[name])
        assert not np.array_equal(a.draws[name], c.draws[name])
    obs1 = a.predict_draws([1e6], kind="observation").values
    obs2 = a.predict_draws([1e6], kind="observation").values
    np.testing.assert_array_equal(obs1, obs2)


def test_unbalanced_seeds_and_prediction_outputs():
    curves = simulate_curves(_truth(3, rng=0), seeds=4, noise=0.1, rng=1)
    # seed 3 misses the two smallest sizes of every curve
    small = np.sort(curves["n"].unique())[:2]
    curves = curves[~((curves["seed"] == 3) & curves["n"].isin(small))]
    boot = bootstrap_least_squares(curves, n_boot=40, random_seed=0)
    ids = boot.curve_ids
    da = boot.predict_draws([100, 1e6], ids[1:], scale="original")
    assert da.dims == ("sample", "curve", "n") and da.shape == (40, 2, 2)
    assert np.isfinite(da.values).all() and (da.values > 0).all()
    mean = boot.predict_draws([1e6], kind="mean").values
    obs = boot.predict_draws([1e6], kind="observation").values
    assert (np.std(np.log(obs), axis=0) > np.std(np.log(mean), axis=0)).all()
    table = boot.predict([1e6], ids[0], prob=0.8)
    assert list(table.columns) == [
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
    row = table.iloc[0]
    assert row["lower"] < row["median"] < row["upper"]
    q = np.quantile(boot.predict_draws([1e6], ids[0]).values, [0.1, 0.9])
    np.testing.assert_allclose([row["lower"], row["upper"]], q)


def test_batched_solver_matches_scipy():
    law = get_law("power_gap")
    n = np.geomspace(16, 1e5, 8)
    x = np.log(n) - np.log(n).mean()
    g = np.random.default_rng(0)
    true = np.log(law_error(n, 2.0, 0.5, 0.2))
    y = true[None, :] + 0.1 * g.standard_normal((25, n.size))
    w = g.integers(1, 6, size=y.shape).astype(float)
    lo, hi = _bounds(law, (x.min(), x.max()))
    start = np.array([true[3], 0.0, np.log(0.5)])
    v, cost, ok = _batched_lm(law, x, y, w, start, lo, hi)
    assert ok.all()
    for b in range(y.shape[0]):

        def resid(p, b=b):
            return (law.log_mean(x, dict(zip(law.params, p, strict=True))) - y[b]) * np.sqrt(w[b])

        ref = least_squares(resid, start, bounds=(lo, hi), method="trf")
        assert cost[b] <= ref.cost * (1 + 1e-6) + 1e-12
        np.testing.assert_allclose(v[b], ref.x, atol=2e-3)


def test_bad_input():
    curves = simulate_curves(_truth(2, rng=0), seeds=3, rng=1)
    for bad in (0, -5, 2.5, True, "10"):
        with pytest.raises(BayesScalingError, match="n_boot must be"):
            bootstrap_least_squares(curves, n_boot=bad)
    with pytest.raises(BayesScalingError, match="n_jobs must be"):
        bootstrap_least_squares(curves, n_boot=5, n_jobs=0)
    with pytest.raises(UnknownNameError, match="Unknown law"):
        bootstrap_least_squares(curves, n_boot=5, law="linear")
    boot = bootstrap_least_squares(curves, n_boot=5, random_seed=0)
    with pytest.raises(UnknownNameError, match="Unknown curve"):
        boot.predict_draws([10], "nope")
    with pytest.raises(BayesScalingError, match="n must be"):
        boot.predict_draws([0.0])
    with pytest.raises(BayesScalingError, match="kind must be"):
        boot.predict_draws([10], kind="median")
    with pytest.raises(BayesScalingError, match="scale must be"):
        boot.predict_draws([10], scale="log")
    with pytest.raises(BayesScalingError, match="prob must be"):
        boot.predict([10], prob=1.5)
    with pytest.raises(BayesScalingError, match="Unknown parameter"):
        boot.parameter_draws("beta")
