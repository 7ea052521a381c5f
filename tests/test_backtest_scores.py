"""The scoring functions of ``benchmarks/backtest.py`` against hand-computed values."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayes_scaling.simulate import simulate_curves

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "backtest.py"


@pytest.fixture(scope="module")
def bt():
    spec = importlib.util.spec_from_file_location("backtest_under_test", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_coverage_of_central_intervals(bt):
    draws = np.repeat(np.arange(1.0, 101.0)[:, None], 4, axis=1)  # 1, 2, ..., 100
    # np.quantile of 1..100 at 0.1 / 0.9: 10.9 and 90.1
    lo, hi = bt.interval(draws, 0.8)
    np.testing.assert_allclose(lo, 10.9)
    np.testing.assert_allclose(hi, 90.1)
    y = np.array([10.0, 10.9, 50.0, 91.0])
    np.testing.assert_array_equal(bt.coverage(draws, y, 0.8), [0.0, 1.0, 1.0, 0.0])
    # no interval (NaN draws): no verdict
    draws[:, 0] = np.nan
    assert np.isnan(bt.coverage(draws, y, 0.8)[0])


def test_interval_score_formula(bt):
    lo, hi = np.array([1.0, 1.0, 1.0]), np.array([3.0, 3.0, 3.0])
    y = np.array([2.0, 0.0, 4.5])
    # width 2; below: 2 + 2/0.2 * (1 - 0) = 12; above: 2 + 2/0.2 * (4.5 - 3) = 17
    np.testing.assert_allclose(bt.interval_score(lo, hi, y, 0.2), [2.0, 12.0, 17.0])


def test_crps_of_draws(bt):
    # two draws {0, 1} at y = 0: mean|X - y| = 0.5, mean over all pairs |X - X'| = 0.5
    np.testing.assert_allclose(bt.crps(np.array([[0.0], [1.0]]), np.array([0.0])), [0.25])
    # the sorted-draws formula equals the brute-force double sum
    g = np.random.default_rng(0)
    d = g.normal(size=(50, 3))
    y = np.array([-1.0, 0.2, 3.0])
    brute = np.abs(d - y).mean(axis=0) - 0.5 * np.abs(d[:, None, :] - d[None, :, :]).mean(
        axis=(0, 1)
    )
    np.testing.assert_allclose(bt.crps(d, y), brute, rtol=1e-12)
    # a large normal sample matches the closed form (Gneiting & Raftery 2007, eq. 5)
    mu, sd = 0.3, 0.7
    y = np.array([0.3, 1.0, -2.0])
    draws = g.normal(mu, sd, size=(20_000, 1)) * np.ones((1, 3))
    z = (y - mu) / sd
    exact = sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
    np.testing.assert_allclose(bt.crps(draws, y), exact, rtol=0.02)


def test_seed_noise_scales_with_the_number_of_seeds(bt):
    g = np.random.default_rng(1)
    law = np.zeros((40_000, 2))
    out = bt.seed_noise(law, np.full(40_000, 0.2), np.array([1.0, 16.0]), g)
    np.testing.assert_allclose(out.std(axis=0), [0.2, 0.05], rtol=0.03)


def _two_curves() -> pd.DataFrame:
    truth = pd.DataFrame(
        {"property": ["a", "b"], "database": "db", "D": 2.0, "alpha": 0.5, "C": 0.1}
    )
    wide = simulate_curves(truth.iloc[:1], n_grid=[16, 32, 64, 128, 256, 512, 1024], seeds=3, rng=0)
    # curve b: 16 ... 64 only, so n <= 64 / 8 keeps a single size: skipped
    narrow = simulate_curves(truth.iloc[1:], n_grid=[16, 32, 64], seeds=2, rng=1)
    return pd.concat([wide, narrow], ignore_index=True)


def test_split_and_flat_reference(bt):
    curves = _two_curves()
    sp = bt.split(curves, 8)
    assert list(sp.skipped["curve"]) == ["b|db|transfer|mae"]
    assert sp.skipped["reason"].iloc[0] == "< 3 kept sizes"
    assert sorted(sp.train["n"].unique()) == [16, 32, 64, 128]  # n <= 1024 / 8
    assert list(sp.points["n"]) == [256, 512, 1024]
    assert list(sp.points["k"]) == [3, 3, 3]
    assert list(sp.points["final"]) == [False, False, True]
    held = curves[(curves["property"] == "a") & (curves["n"] == 512)]
    assert sp.points["y"].iloc[1] == pytest.approx(np.log(held["error"]).mean())
    draws, centre = bt.flat_draws(sp.train, sp.points, np.random.default_rng(0), n_draws=20_000)
    last = np.log(sp.train.loc[sp.train["n"] == 128, "error"])
    np.testing.assert_allclose(centre, last.mean())
    sd = last.std(ddof=1) * np.sqrt(1 / 3 + 1 / 3)
    np.testing.assert_allclose(draws.std(axis=0), sd, rtol=0.03)


def _scores(bt) -> pd.DataFrame:
    # two curves, two held-out sizes each; bayes exact on curve x, off on y; ls the reverse
    points = pd.DataFrame(
        {
            "curve": ["x", "x", "y", "y"],
            "n": [100, 200, 100, 200],
            "y": [0.0, 0.0, 0.0, 0.0],
            "k": [5, 5, 5, 5],
            "final": [False, True, False, True],
        }
    )
    g = np.random.default_rng(2)
    base = g.normal(0.0, 0.1, size=(4000, 4))
    bayes = base + np.array([0.0, 0.0, 1.0, 1.0])
    ls = base + np.array([1.0, 1.0, 0.0, 0.05])
    draws = {
        "bayes": (bayes, np.array([0.0, 0.0, 1.0, 1.0])),
        "ls": (ls, np.array([1.0, 1.0, 0.0, 0.05])),
        "flat": (base, np.zeros(4)),
    }
    return bt.score_methods(draws, points).assign(set="s", cut="n_max/8", group="transfer")


def test_summary_wins_and_verdicts(bt):
    scores = _scores(bt)
    s = bt.summary(scores, ["set", "cut", "group"]).set_index("method")
    assert s.loc["bayes", "curves"] == 2 and s.loc["bayes", "points"] == 4
    assert s.loc["bayes", "cov80"] == 0.5  # inside on curve x, far off on curve y
    assert s.loc["flat", "cov95"] == 1.0
    # MALE: median over curves of (x: 0, y: 1) = 0.5 for bayes; (x: 1, y: 0.025) for ls
    assert s.loc["bayes", "MALE"] == pytest.approx(0.5)
    assert s.loc["ls", "MALE"] == pytest.approx((1.0 + 0.025) / 2)
    w = bt.wins(scores, ["set", "cut", "group"]).iloc[0]
    assert w["MALE bayes <= LS"] == "1/2 = 0.50"
    assert w["IS80 bayes < LS"] == "1/2 = 0.50"
    final = bt.summary(scores[scores["final"]], ["set", "cut", "group"]).set_index("method")
    assert final.loc["ls", "MALE"] == pytest.approx((1.0 + 0.05) / 2)
    lines = bt.verdicts(scores)
    assert lines[0].startswith("MISS  bayes s n_max/8 transfer (2 curves, 4 points): 80% coverage")
    assert any(line.startswith("MISS") and "MALE bayes <= LS on 1/2" in line for line in lines)
    assert any(line.startswith("MISS") and "interval score" in line for line in lines)
    # the stacked method (--stack) gets the same wins and verdicts under its own name
    as_stack = scores.assign(method=scores["method"].replace("bayes", "stack"))
    assert bt.wins(as_stack, ["set", "cut", "group"], "stack").iloc[0]["MALE stack <= LS"] == (
        "1/2 = 0.50"
    )
    assert bt.verdicts(as_stack, "stack")[0].startswith("MISS  stack s n_max/8 transfer")
