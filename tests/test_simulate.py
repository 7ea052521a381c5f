"""Tests of bayes_scaling.simulate (fast, no sampling)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.curves import curve_ids, normalised_error, validate_curves
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.simulate import DEFAULT_N_GRID, draw_curve_params, law_error, simulate_curves


@pytest.fixture
def truth() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "property": ["tg", "density", "tg"],
            "database": ["radonpy", "radonpy", "polyinfo"],
            "D": [3.0, 2.0, 4.0],
            "alpha": [0.5, 0.4, 0.6],
            "C": [0.3, 0.2, 0.1],
        }
    )


def test_default_grid_is_geometric_16_to_1e5():
    assert DEFAULT_N_GRID[0] == 16 and DEFAULT_N_GRID[-1] == 100_000
    assert len(DEFAULT_N_GRID) == 8
    ratios = np.diff(np.log(DEFAULT_N_GRID))
    assert np.allclose(ratios, ratios.mean(), atol=0.01)


def test_output_is_a_valid_curve_table(truth):
    table = simulate_curves(truth, n_grid=[16, 64, 256, 1024], seeds=3, rng=0)
    assert table.shape == (3 * 4 * 3, 8)
    pd.testing.assert_frame_equal(validate_curves(table), table)
    assert curve_ids(table).nunique() == 3
    assert set(table["seed"]) == {0, 1, 2}


def test_deterministic_given_rng(truth):
    a = simulate_curves(truth, rng=5)
    b = simulate_curves(truth, rng=5)
    c = simulate_curves(truth, rng=6)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["error"], c["error"])
    gen = np.random.default_rng(5)
    pd.testing.assert_frame_equal(simulate_curves(truth, rng=gen), a)


def test_noise_free_curves_follow_the_law(truth):
    table = simulate_curves(truth, noise=0.0, seeds=2, target_scale=2.5, rng=0)
    row = truth.iloc[1]
    sub = table[(table["property"] == "density")]
    expected = 2.5 * (row["D"] * sub["n"] ** -row["alpha"] + row["C"])
    np.testing.assert_allclose(sub["error"], expected, rtol=1e-12)
    np.testing.assert_allclose(normalised_error(sub), expected / 2.5, rtol=1e-12)


def test_noise_level_matches_sigma(truth):
    big = simulate_curves(truth.assign(sigma=[0.2, 0.2, 0.2]), seeds=400, noise=0.01, rng=1)
    y = np.log(normalised_error(big))
    resid = y - y.groupby([curve_ids(big), big["n"]]).transform("mean")
    assert resid.std() == pytest.approx(0.2, rel=0.05)


def test_target_scale_per_property_and_per_row(truth):
    table = simulate_curves(truth, target_scale={"tg": 10.0, "density": 0.1}, rng=0)
    scales = table.groupby("property")["target_scale"].first()
    assert scales["tg"] == 10.0 and scales["density"] == 0.1
    table2 = simulate_curves(truth.assign(target_scale=[1.0, 2.0, 3.0]), rng=0)
    assert sorted(table2["target_scale"].unique()) == [1.0, 2.0, 3.0]
    with pytest.raises(BayesScalingError, match="no entry for property"):
        simulate_curves(truth, target_scale={"tg": 1.0})


def test_normalised_metric_is_not_rescaled(truth):
    table = simulate_curves(truth, noise=0.0, metric="nmae", target_scale=7.0, rng=0)
    raw = simulate_curves(truth, noise=0.0, metric="mae", target_scale=7.0, rng=0)
    np.testing.assert_allclose(normalised_error(table), normalised_error(raw))


def test_pass_through_columns(truth):
    p = truth.assign(strategy="finetune", unit="K", pair="tg_radonpy", m=[100, 100, 50])
    table = simulate_curves(p, rng=0)
    assert {"strategy", "unit", "pair", "m"} <= set(table.columns)
    assert str(table["m"].dtype) == "Int64"


def test_studentt_noise_has_heavier_tails(truth):
    n = simulate_curves(truth.iloc[:1], seeds=2000, noise=0.1, rng=0)
    t = simulate_curves(truth.iloc[:1], seeds=2000, noise=0.1, noise_dist="studentt", df=3, rng=0)

    def kurt(df):
        y = np.log(df["error"])
        r = y - y.groupby(df["n"]).transform("mean")
        return float(((r - r.mean()) ** 4).mean() / r.var() ** 2)

    assert kurt(t) > kurt(n) + 1


def test_broken_power_law_columns(truth):
    p = truth.assign(alpha2=[1.0, 0.4, 0.6], n_break=[1000.0, 1000.0, 1000.0])
    table = simulate_curves(p, noise=0.0, rng=0)
    plain = simulate_curves(truth, noise=0.0, rng=0)
    same = table["property"] == "density"  # alpha2 == alpha: identical law
    np.testing.assert_allclose(table.loc[same, "error"], plain.loc[same, "error"])
    steeper = (table["property"] == "tg") & (table["database"] == "radonpy")
    assert (table.loc[steeper, "error"] <= plain.loc[steeper, "error"] + 1e-12).all()


def test_law_error_reduces_to_power_law():
    n = np.array([10.0, 100.0, 1e4])
    np.testing.assert_allclose(law_error(n, 2.0, 0.5, 0.1), 2.0 * n**-0.5 + 0.1)
    np.testing.assert_allclose(
        law_error(n, 2.0, 0.5, 0.1, alpha2=0.5, n_break=100.0), 2.0 * n**-0.5 + 0.1
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda p: p.drop(columns="C"), "lacks column"),
        (lambda p: p.assign(D=-1.0), "D > 0"),
        (lambda p: p.assign(alpha=np.nan), "finite"),
        (lambda p: p.assign(bogus=1), "unknown column"),
        (lambda p: p.iloc[:0], "empty"),
    ],
)
def test_bad_params_are_rejected(truth, change, match):
    with pytest.raises(BayesScalingError, match=match):
        simulate_curves(change(truth))


def test_bad_settings_are_rejected(truth):
    with pytest.raises(BayesScalingError, match="three distinct"):
        simulate_curves(truth, n_grid=[16, 32])
    with pytest.raises(BayesScalingError, match="noise"):
        simulate_curves(truth, noise=-0.1)
    with pytest.raises(BayesScalingError, match="noise_dist"):
        simulate_curves(truth, noise_dist="cauchy")
    with pytest.raises(BayesScalingError, match="DataFrame"):
        simulate_curves({"D": 1})


def test_draw_curve_params_realistic():
    p = draw_curve_params(6, 3, rng=3)
    assert len(p) == 18
    assert list(p.columns) == ["property", "database", "D", "alpha", "C", "sigma"]
    e16 = p["D"] * 16.0 ** -p["alpha"] + p["C"]
    assert e16.between(0.2, 1.7).all()
    assert p["C"].between(0.08, 0.65).all()
    assert p["sigma"].between(0.05, 0.15).all()
    pd.testing.assert_frame_equal(p, draw_curve_params(6, 3, rng=3))
    named = draw_curve_params(["tg", "chi"], ["radonpy"], rng=0)
    assert list(named["property"]) == ["tg", "chi"]
    table = simulate_curves(p, rng=3)
    assert curve_ids(table).nunique() == 18
