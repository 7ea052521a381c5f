"""Law shapes and their Bayesian stacking (issue 14, item 2).

The steepening ``mmf`` law against its closed form and least squares; stacking weights
recovered on curves whose true shape is known (steepening curves load on the shapes that
can steepen, curves with a clear gap give the no-gap law no weight); the stacked posterior
is an exact mixture of the laws' draws in the weights' proportions; a law whose fit did not
converge is left out, loudly, naming it.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
from _model_fits import FAST, single_long_curves

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models import ScalingLawModel
from bayes_scaling.models.baseline import fit_least_squares
from bayes_scaling.models.diagnostics import ConvergenceWarning
from bayes_scaling.models.laws import core_law, get_law
from bayes_scaling.models.stacking import LawStack, _counts
from bayes_scaling.simulate import simulate_curves

GRID = np.geomspace(16, 20000, 9).round().astype(int)


# ---------------------------------------------------------------------- the mmf law
def test_mmf_law_steepens_and_reaches_its_asymptote():
    law = get_law("mmf")
    assert law.asymptotic and law.has_gap and core_law(law).name == "power_gap"
    p = {
        "log_e_ref": np.array(-0.5),
        "logit_gap": np.array(-3.0),
        "log_alpha": np.array(np.log(0.8)),
        "log_break": np.array(1.0),
    }
    log_n_ref = np.log(500.0)
    x = np.linspace(-6.0, 4.0, 41)
    slope = np.diff(law.log_mean(x, p)) / np.diff(x)
    # flat far below the break, steeper and steeper up to the knee (log-log axes)
    assert abs(slope[0]) < 0.02
    knee = int(np.argmin(slope))
    assert knee > 10 and np.all(np.diff(slope[: knee + 1]) < 0)
    # e(n_ref) = e_ref; far beyond the break e(n) -> D n^-alpha + C (closed form of dac)
    assert law.expected_error(np.array([500.0]), p, log_n_ref)[0] == pytest.approx(np.exp(-0.5))
    D, alpha, C = law.dac(p, log_n_ref)
    n = np.array([1e8, 1e10])
    assert np.allclose(law.expected_error(n, p, log_n_ref), D * n ** (-alpha) + C, rtol=1e-6)
    assert C == pytest.approx(np.exp(-0.5) / (1 + np.exp(3.0)))


def test_mmf_least_squares_recovers_a_noise_free_curve():
    law = get_law("mmf")
    truth = pd.DataFrame(
        {"property": ["tg"], "database": ["md"], "D": [1.0], "alpha": [1.0], "C": [0.0]}
    )
    table = simulate_curves(truth, n_grid=GRID, seeds=2, noise=0.0, rng=0)
    log_n_ref = float(np.log(np.sqrt(GRID[0] * GRID[-1])))
    p = {
        "log_e_ref": np.array(0.0),
        "logit_gap": np.array(-2.5),
        "log_alpha": np.array(np.log(0.9)),
        "log_break": np.array(0.5),
    }
    table["error"] = np.repeat(law.expected_error(table["n"].to_numpy(), p, log_n_ref), 1)
    fit = fit_least_squares(table, law="mmf")
    row = fit.params.iloc[0]
    assert np.exp(row["log_alpha"]) == pytest.approx(0.9, rel=0.05)
    assert row["log_break"] + fit.log_n_ref == pytest.approx(0.5 + log_n_ref, abs=0.15)


# ---------------------------------------------------------------------- stacking
def _steepening_and_gap_curves() -> pd.DataFrame:
    """Scratch curves flat then steepening (slope 0.05 -> 0.9); transfer curves with a gap."""
    steep = pd.DataFrame(
        {
            "property": ["a", "b", "c"],
            "database": "none",
            "kind": "scratch",
            "strategy": "scratch",
            "D": [1.0, 1.2, 0.9],
            "alpha": 0.05,
            "alpha2": 0.9,
            "n_break": [400.0, 700.0, 300.0],
            "C": 0.0,
        }
    )
    gap = pd.DataFrame(
        {
            "property": ["a", "b", "c"],
            "database": "sim",
            "kind": "transfer",
            "strategy": "finetune",
            "D": [3.0, 2.5, 4.0],
            "alpha": 0.6,
            "C": [0.3, 0.25, 0.35],
        }
    )
    return simulate_curves(
        pd.concat([steep, gap], ignore_index=True), n_grid=GRID, seeds=4, noise=0.04, rng=3
    )


@functools.cache
def _stack() -> LawStack:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = {
            law: ScalingLawModel(law=law, random_seed=2, **FAST).fit(_steepening_and_gap_curves())
            for law in ("power_gap", "power", "mmf")
        }
    return LawStack.from_models(models, require_convergence=False, random_seed=5)


def test_stacking_weights_follow_the_true_shapes():
    stack = _stack()
    w = stack.weights_
    assert set(w.columns) == {"all", "scratch", "transfer"}
    assert np.allclose(w.sum(), 1.0)
    # the steepening curves: only the shape that can steepen predicts their held-out points
    assert w.loc["mmf", "scratch"] > 0.8
    # the curves with a clear gap: the law without a gap gets (almost) nothing
    assert w.loc["power", "transfer"] < 0.1
    assert "scratch curves: mmf" in stack.sentence()
    assert stack.table.loc["mmf", "converged"]


def test_stacked_posterior_is_the_weighted_mixture_of_the_laws_draws():
    stack = _stack()
    post = stack.curve_posterior(extrapolation="law")
    singles = {law: m.curve_posterior(extrapolation="law") for law, m in stack.models_.items()}
    kinds = post.curves["kind"].to_numpy()
    for j, cid in enumerate(post.curve_ids):
        mixed = post.draws["alpha"].values[:, j]
        source = {law: np.isin(mixed, p.draws["alpha"].values[:, j]) for law, p in singles.items()}
        counts = np.array([source[law].sum() for law in stack.models_])
        expected = _counts(stack.weights_[kinds[j]].to_numpy(), post.n_samples)
        assert np.array_equal(counts, expected), cid
    # draws of one slot come from one law for every curve of a kind (joint draws)
    scratch = np.flatnonzero(kinds == "scratch")
    first = post.draws["alpha"].values[:, scratch[0]]
    second = post.draws["alpha"].values[:, scratch[1]]
    for law, p in singles.items():
        a = np.isin(first, p.draws["alpha"].values[:, scratch[0]])
        b = np.isin(second, p.draws["alpha"].values[:, scratch[1]])
        assert np.array_equal(a, b), law
    # decisions and predictions read the same mixture
    draws = stack.predict([5e4], return_draws=True, extrapolation="law")
    cid = post.curve_ids[0]
    law_mean = post.expected_error(5e4, cid)[:, 0]
    assert np.quantile(draws.sel(curve=cid).values[:, 0], 0.5) == pytest.approx(
        np.quantile(law_mean, 0.5), rel=0.05
    )


def test_counts_are_exact_largest_remainders():
    assert _counts(np.array([0.5, 0.25, 0.25]), 10).tolist() == [5, 3, 2]
    assert _counts(np.array([1 / 3] * 3), 100).sum() == 100
    assert _counts(np.array([0.0, 1.0]), 7).tolist() == [0, 7]


def test_a_law_that_did_not_converge_is_left_out_loudly():
    good = ScalingLawModel(random_seed=3).fit(single_long_curves())  # package defaults
    assert good.convergence_.ok
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bad = ScalingLawModel(
            law="mmf", draws=15, tune=5, chains=2, random_seed=1, check_convergence=False
        ).fit(single_long_curves())
    assert not bad.convergence_.ok
    with pytest.warns(ConvergenceWarning, match="'mmf' left out of the stack"):
        stack = LawStack.from_models({"power_gap": good, "mmf": bad})
    assert list(stack.excluded_) == ["mmf"]
    assert stack.weights_.loc["mmf"].eq(0.0).all() and stack.weights_.loc["power_gap"].eq(1).all()
    assert "Left out (fit did not converge): mmf" in stack.sentence()
    conv = stack.convergence  # decisions rest on the converged law: ok, but says who is out
    assert conv.ok and "LEFT OUT OF THE STACK" in conv.message and "mmf (max R-hat" in conv.message
    assert conv.table["parameter"].str.startswith("power_gap:").all()
    post = stack.curve_posterior(extrapolation="law")  # the converged law alone
    ref = good.curve_posterior(extrapolation="law")
    assert np.isin(post.draws["alpha"].values, ref.draws["alpha"].values).all()
    with pytest.warns(ConvergenceWarning):
        empty = LawStack.from_models({"mmf": bad})
    assert not empty.converged and not empty.convergence.ok
    with pytest.raises(BayesScalingError, match="No law of the stack converged"):
        empty.curve_posterior()


def test_asymptotic_law_posterior_follows_the_law_inside_the_data_and_is_continuous():
    model = _stack().models_["mmf"]
    cid = model.curve_ids_[0]  # a steepening scratch curve
    n_max = float(model.curves_.loc[cid, "n_max"])
    n = np.array([30.0, 200.0, 1500.0, n_max])
    for extrapolation in ("law", "calibrated"):
        post = model.curve_posterior(extrapolation)
        mine = post.expected_error(n, cid)
        law = model.predict(n, curves=[cid], return_draws=True, extrapolation="law")
        ref = law.sel(curve=cid).values
        assert np.allclose(np.median(mine, 0), np.median(ref, 0), rtol=2e-3), extrapolation
    # (D, alpha, C) pass through the curve at n_max: no jump where the data end
    p = post.params(cid)
    at = p["D"] * n_max ** (-p["alpha"]) + p["C"]
    assert np.allclose(at, post.expected_error(n_max, cid)[:, 0], rtol=1e-4)
    beyond = post.expected_error(n_max * (1 + 1e-7), cid)[:, 0]
    assert np.allclose(beyond, at, rtol=1e-5)
    # the stack's mixture carries the in-data curves of all its laws
    mixed = _stack().curve_posterior()
    assert "log_e_inside" in mixed.draws
