"""Planning decisions on fake posteriors with known truth (no MCMC)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from _fake_posterior import DEFAULT_SPECS, fake_posterior, ids

from bayes_scaling.constants import CREDIBLE_INTERVAL, FAR_BEYOND
from bayes_scaling.decisions import (
    Decision,
    ceil_significant,
    format_number,
    format_probability,
    quantiles,
    smallest_with_probability,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.models.posterior import CurvePosterior
from bayes_scaling.planning import (
    AllocationDecision,
    AmbiguousCurveError,
    NoMatchingCurveError,
    allocate_budget,
    equivalent_sample_size,
    find_scratch_curve,
    n_required_draws,
    next_batch_value,
    sample_size_for_target,
    stopping_point,
)

TRUTH = {(s["property"], s["database"]): s for s in DEFAULT_SPECS}
DENSITY = TRUTH[("density", "radonpy")]


@pytest.fixture(scope="module")
def post() -> CurvePosterior:
    return fake_posterior()


@pytest.fixture(scope="module")
def cid(post) -> dict[tuple[str, str], str]:
    return ids(post)


def closed_form_n(D: float, alpha: float, C: float, target: float) -> float:
    return (D / (target - C)) ** (1 / alpha) if target > C else math.inf


def error_at(spec: dict, n: float) -> float:
    return spec["D"] * n ** -spec["alpha"] + spec["C"]


# ====================================================================== helpers
def test_quantiles_handle_infinite_draws():
    x = np.array([1.0, 2.0, 3.0, np.inf])
    q = quantiles(x, np.array([0.0, 0.5, 0.9, 1.0]))
    assert q[0] == 1.0 and q[1] == pytest.approx(2.5)
    assert np.isinf(q[2]) and np.isinf(q[3])
    assert not np.isnan(q).any()
    finite = np.random.default_rng(0).normal(size=101)
    np.testing.assert_allclose(quantiles(finite, [0.05, 0.5]), np.quantile(finite, [0.05, 0.5]))


def test_smallest_with_probability_is_exact_order_statistic():
    x = np.arange(1.0, 11.0)
    assert smallest_with_probability(x, 0.9) == 9.0
    assert smallest_with_probability(x, 0.91) == 10.0
    assert np.isinf(smallest_with_probability(np.append(x[:8], [np.inf, np.inf]), 0.9))


def test_format_number_rounds_to_significant_figures():
    assert format_number(12345.0) == "12,000"
    assert format_number(0.05123) == "0.051"
    assert format_number(0.05, sig=3) == "0.05"
    assert format_number(math.inf) == "∞"
    assert format_number(2.5e-7) == "2.5e-7"
    assert ceil_significant(12345.0) == 13000.0
    assert format_probability(0.999) == "> 0.99" and format_probability(0.973) == "= 0.97"


# ====================================================================== the decision object
def test_decision_is_frozen_and_exports(post, cid):
    d = sample_size_for_target(post, cid[("density", "radonpy")], 0.025)
    assert isinstance(d, Decision)
    assert d.interval == CREDIBLE_INTERVAL
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.sentence = "changed"  # type: ignore[misc]
    out = d.to_dict()
    assert out["kind"] == "SampleSizeDecision" and out["sentence"] == d.sentence
    assert len(out["table"]) == 1 and out["table"][0]["target"] == 0.025
    assert d.sentence in str(d)
    md = d._repr_markdown_()
    assert "| curve |" in md and "90 %" in md
    assert "density\\|radonpy" in md  # pipes inside cells are escaped
    assert not d.draws.flags.writeable


def test_decision_copies_its_table():
    frame = pd.DataFrame({"x": [1.0]})
    d = Decision(frame, "s")
    frame.loc[0, "x"] = 2.0
    assert d.table.loc[0, "x"] == 1.0
    with pytest.raises(BayesScalingError, match="interval"):
        Decision(frame, "s", interval=1.5)


# ====================================================================== sample size to a target
def test_n_required_closed_form_per_draw():
    n = n_required_draws(np.array([2.0, 2.0]), np.array([0.4, 0.4]), np.array([0.2, 0.3]), 0.25)
    assert n[0] == math.ceil(closed_form_n(2.0, 0.4, 0.2, 0.25))
    assert np.isinf(n[1])


@pytest.mark.parametrize("target", [0.22, 0.25, 0.35])
def test_n_required_matches_closed_form_within_interval(post, cid, target):
    d = sample_size_for_target(post, cid[("density", "radonpy")], target, scale="normalised")
    row = d.table.iloc[0]
    truth = closed_form_n(DENSITY["D"], DENSITY["alpha"], DENSITY["C"], target)
    assert row["n_lower"] <= truth <= row["n_upper"]
    assert row["n_median"] == pytest.approx(truth, rel=0.3)
    assert row["p_unreachable"] < 0.01


def test_original_and_normalised_targets_agree(post, cid):
    c = cid[("density", "radonpy")]
    orig = sample_size_for_target(post, c, 0.025).table.iloc[0]
    norm = sample_size_for_target(post, c, 0.25, scale="normalised").table.iloc[0]
    assert orig["n_median"] == norm["n_median"] and orig["n_at_prob"] == norm["n_at_prob"]
    assert orig["unit"] == "g/cm³" and norm["unit"] == ""


def test_target_below_true_gap_is_unreachable(post, cid):
    d = sample_size_for_target(post, cid[("density", "radonpy")], 0.015)  # C = 0.02 g/cm³
    row = d.table.iloc[0]
    assert row["p_unreachable"] > 0.99
    assert np.isinf(row["n_at_prob"]) and np.isinf(row["more_at_prob"])
    assert "unreachable" in d.sentence and "transfer gap" in d.sentence
    assert "more" not in d.sentence and "∞" not in d.sentence and "inf" not in d.sentence


def test_target_well_above_gap_is_reachable(post, cid):
    d = sample_size_for_target(post, cid[("density", "radonpy")], 0.03)
    assert d.table.iloc[0]["p_unreachable"] < 0.01
    assert "unreachable" not in d.sentence


def test_an_n_far_beyond_the_measured_curve_is_called_an_extrapolation(post, cid):
    c = cid[("density", "radonpy")]
    far = sample_size_for_target(post, c, 0.21, scale="normalised")  # C = 0.2, n_max 5,000
    row = far.table.iloc[0]
    assert math.isfinite(row["n_at_prob"]) and row["n_at_prob"] > FAR_BEYOND * row["n_max"]
    ratio = format_number(row["n_at_prob"] / row["n_max"])
    assert f"{ratio}× today's: an extrapolation far beyond the measured curve" in far.sentence
    near = sample_size_for_target(post, c, 0.025)
    assert near.table.iloc[0]["n_at_prob"] < FAR_BEYOND * DENSITY["n_max"]
    assert "far beyond" not in near.sentence


def test_n_at_prob_is_smallest_n_with_probability(post, cid):
    c = cid[("density", "radonpy")]
    for q in (0.5, 0.9, 0.99):
        d = sample_size_for_target(post, c, 0.025, prob=q)
        n_q = d.table.iloc[0]["n_at_prob"]
        draws = d.draws[:, 0]
        assert np.mean(draws <= n_q) >= q
        assert np.mean(draws < n_q) < q
    n50 = sample_size_for_target(post, c, 0.025, prob=0.5).table.iloc[0]["n_at_prob"]
    n99 = sample_size_for_target(post, c, 0.025, prob=0.99).table.iloc[0]["n_at_prob"]
    assert n50 < n99


def test_more_samples_and_sentence(post, cid):
    d = sample_size_for_target(post, cid[("density", "radonpy")], [0.025, 0.015])
    reach, gap = d.table.iloc[0], d.table.iloc[1]
    assert reach["more_at_prob"] == reach["n_at_prob"] - DENSITY["n_max"] > 0
    more = format_number(ceil_significant(reach["more_at_prob"]))
    assert d.sentence.startswith(f"With {more} more radonpy samples")
    assert "density MAE reaches 0.025 g/cm³ with 90 % probability" in d.sentence
    assert (
        f"makes 0.015 g/cm³ unreachable (P {format_probability(gap['p_unreachable'])})"
        in d.sentence
    )
    assert d.draws.shape == (post.n_samples, 2)


def test_target_already_reached(post, cid):
    d = sample_size_for_target(post, cid[("density", "radonpy")], 0.05)
    row = d.table.iloc[0]
    assert row["more_at_prob"] == 0 and row["p_reached_now"] > 0.99
    assert "already reaches" in d.sentence


def test_partly_unreachable_target_is_not_promised(post):
    meta = post.curves.iloc[[0]]
    rng = np.random.default_rng(3)
    C = rng.uniform(0.15, 0.35, size=(1000, 1))  # P(C >= 0.30) = 0.25
    p = CurvePosterior.from_arrays(np.full((1000, 1), 2.0), np.full((1000, 1), 0.4), C, meta)
    d = sample_size_for_target(p, meta.index[0], 0.30, scale="normalised")
    row = d.table.iloc[0]
    assert 0.15 < row["p_unreachable"] < 0.35
    assert np.isinf(row["n_at_prob"])
    assert "cannot be reached with 90 % probability" in d.sentence


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(curve="nope", target=0.1), UnknownNameError, "Unknown curve 'nope'"),
        (dict(target=0.0), BayesScalingError, "target must be a finite number > 0"),
        (dict(target=-1.0), BayesScalingError, "target"),
        (dict(target=float("nan")), BayesScalingError, "target"),
        (dict(target=[]), BayesScalingError, "at least one"),
        (dict(target=0.1, prob=0.0), BayesScalingError, "prob must be a probability"),
        (dict(target=0.1, prob=1.0), BayesScalingError, "prob"),
        (dict(target=0.1, prob=1.5), BayesScalingError, "prob"),
        (dict(target=0.1, scale="log"), BayesScalingError, "scale"),
    ],
)
def test_sample_size_validation(post, cid, kwargs, error, match):
    kwargs = {"curve": cid[("density", "radonpy")], **kwargs}
    with pytest.raises(error, match=match):
        sample_size_for_target(post, kwargs.pop("curve"), kwargs.pop("target"), **kwargs)


# ====================================================================== value of the next batch
def test_next_batch_matches_closed_form(post, cid):
    c = cid[("density", "radonpy")]
    d = next_batch_value(post, c, [1000, 10000], scale="normalised")
    n0 = DENSITY["n_max"]
    for row in d.table.itertuples():
        truth = error_at(DENSITY, n0) - error_at(DENSITY, n0 + row.delta_n)
        assert row.reduction_lower <= truth <= row.reduction_upper
        assert row.reduction_median == pytest.approx(truth, rel=0.1)
        assert row.relative_reduction_median == pytest.approx(
            truth / error_at(DENSITY, n0), rel=0.1
        )
    assert d.table["reduction_median"].is_monotonic_increasing
    assert d.draws.shape == (post.n_samples, 2)


def test_next_batch_sentence_and_current_n(post, cid):
    c = cid[("density", "radonpy")]
    d = next_batch_value(post, c, 1000, n_current=100)
    row = d.table.iloc[0]
    assert row["n_current"] == 100 and row["n_after"] == 1100
    truth = (error_at(DENSITY, 100) - error_at(DENSITY, 1100)) * DENSITY["target_scale"]
    assert row["reduction_median"] == pytest.approx(truth, rel=0.1)
    assert d.sentence.startswith(
        "Adding 1,000 radonpy samples to the current 100 lowers the density MAE by"
    )
    assert "90 % interval" in d.sentence and "g/cm³" in d.sentence


@pytest.mark.parametrize(
    "kwargs", [dict(delta_n=0), dict(delta_n=-5), dict(delta_n=10, n_current=0)]
)
def test_next_batch_validation(post, cid, kwargs):
    with pytest.raises(BayesScalingError, match="must be a finite number > 0"):
        next_batch_value(post, cid[("density", "radonpy")], **kwargs)


# ====================================================================== stopping point
def test_stopping_point_matches_closed_form(post, cid):
    c = cid[("density", "radonpy")]
    tau = 1e-5
    d = stopping_point(post, c, tau, scale="normalised")
    row = d.table.iloc[0]
    truth = (DENSITY["alpha"] * DENSITY["D"] / tau) ** (1 / (DENSITY["alpha"] + 1))
    assert row["n_stop_lower"] <= truth <= row["n_stop_upper"]
    gain = DENSITY["alpha"] * DENSITY["D"] * DENSITY["n_max"] ** (-DENSITY["alpha"] - 1)
    assert row["gain_now_lower"] <= gain <= row["gain_now_upper"]
    assert np.mean(d.draws <= row["n_stop_at_prob"]) >= 0.9


def test_stopping_point_says_converged_plainly(post, cid):
    c = cid[("density", "radonpy")]
    done = stopping_point(post, c, 1e-4, scale="normalised")  # n_stop ~ 150 << 5000
    assert bool(done.table.iloc[0]["converged"]) and done.table.iloc[0]["more_at_prob"] == 0
    assert done.sentence.startswith("Stop producing: converged.")
    going = stopping_point(post, c, 1e-7, scale="normalised")  # n_stop ~ 45,000
    assert not bool(going.table.iloc[0]["converged"])
    assert going.sentence.startswith("Keep producing")
    assert going.table.iloc[0]["p_converged_now"] < 0.01


def test_stopping_point_validation(post, cid):
    with pytest.raises(BayesScalingError, match="gain_threshold"):
        stopping_point(post, cid[("density", "radonpy")], 0.0)
    with pytest.raises(BayesScalingError, match="prob"):
        stopping_point(post, cid[("density", "radonpy")], 1e-5, prob=2.0)


# ====================================================================== budget allocation
def objective_at(post, curves, added, *, targets=None):
    """Independent recomputation of the allocation objective from the draws."""
    total, weight = 0.0, 0
    for c in curves:
        p = post.params(c, "normalised")
        n = float(post.curves.loc[c, "n_max"]) + added[c]
        err = p["D"] * n ** -p["alpha"] + p["C"]
        if targets is None:
            total += err.mean()
            weight += 1
        else:
            total += np.mean(err <= targets[c])
    return total / weight if targets is None else total


COSTS = {"radonpy": 2.0, "pubchem": 0.5}


@pytest.mark.parametrize(
    "costs", [COSTS, {"radonpy": 0.5, "pubchem": 2.0}, {"radonpy": 1.0, "pubchem": 1.0}]
)
@pytest.mark.parametrize("budget", [100.0, 10_000.0])
def test_allocation_beats_or_equals_equal_split_in_error(post, costs, budget):
    d = allocate_budget(post, budget, costs, cost_unit="CPU-hours")
    assert isinstance(d, AllocationDecision)
    assert d.value <= d.equal_split_value + 1e-12
    added = dict(zip(d.table["curve"], d.table["n_added"], strict=True))
    equal = dict(zip(d.table["curve"], d.table["equal_n_added"], strict=True))
    assert objective_at(post, list(added), added) == pytest.approx(d.value, rel=1e-9)
    assert objective_at(post, list(equal), equal) == pytest.approx(d.equal_split_value, rel=1e-9)
    spent = d.table.drop_duplicates("unit")["spent"].sum()
    assert spent <= budget + 1e-9


def test_allocation_strictly_beats_equal_split_when_one_database_is_worthless(post):
    # pubchem's density curve is far flatter than radonpy's density and tg curves.
    d = allocate_budget(post, 20_000, {"radonpy": 1.0, "pubchem": 1.0})
    by_unit = d.table.drop_duplicates("unit").set_index("unit")
    assert by_unit.loc["radonpy", "n_added"] > by_unit.loc["pubchem", "n_added"]
    assert d.value < d.equal_split_value - 1e-4


def test_allocation_targets_objective(post, cid):
    targets = {"density": 0.026, "tg": 20.0}
    d = allocate_budget(post, 10_000, COSTS, objective="targets", targets=targets)
    assert d.value >= d.equal_split_value
    assert {"target", "p_target", "equal_p_target"} <= set(d.table.columns)
    assert d.value == pytest.approx(d.table["p_target"].sum())
    assert d.equal_split_value == pytest.approx(d.table["equal_p_target"].sum())
    assert "of 3 curves reach their targets" in d.sentence


def test_allocation_shared_database_extends_every_curve(post, cid):
    d = allocate_budget(post, 5_000, COSTS)
    rows = d.table.set_index("curve")
    a, b = rows.loc[cid[("density", "radonpy")]], rows.loc[cid[("tg", "radonpy")]]
    assert a["unit"] == b["unit"] == "radonpy" and a["n_added"] == b["n_added"]
    assert cid[("density", "none")] not in rows.index  # scratch curves are not bought for


def test_allocation_is_the_grid_optimum(post, cid):
    """Brute force over every split of a coarse grid between two curves."""
    curves = [cid[("density", "radonpy")], cid[("density", "pubchem")]]
    costs = {curves[0]: 3.0, curves[1]: 1.0}
    budget, steps = 3_000.0, 20
    d = allocate_budget(post, budget, costs, by="curve", n_steps=steps)
    best = min(
        objective_at(
            post,
            curves,
            {
                curves[0]: np.floor(k * budget / steps / 3.0),
                curves[1]: np.floor((steps - k) * budget / steps / 1.0),
            },
        )
        for k in range(steps + 1)
    )
    assert d.value == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        ((-1.0, COSTS), {}, BayesScalingError, "budget"),
        ((0.0, COSTS), {}, BayesScalingError, "budget"),
        ((100.0, {"radonpy": -1.0, "pubchem": 1.0}), {}, BayesScalingError, "cost per sample"),
        (
            (100.0, {"radonpy": 1.0}),
            dict(curves=None, weights={"tg": -1.0}),
            BayesScalingError,
            "weights",
        ),
        ((100.0, {"radonpy": 1.0, "qm9": 1.0}), {}, UnknownNameError, "qm9"),
        ((100.0, {}), {}, BayesScalingError, "costs"),
        ((100.0, COSTS), dict(objective="targets"), BayesScalingError, "targets="),
        (
            (100.0, COSTS),
            dict(objective="targets", targets={"density": 0.02}),
            BayesScalingError,
            "no value for curve",
        ),
        ((100.0, COSTS), dict(objective="fast"), BayesScalingError, "objective"),
        ((100.0, COSTS), dict(weights={"viscosity": 1.0}), UnknownNameError, "viscosity"),
    ],
)
def test_allocation_validation(post, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        allocate_budget(post, *args, **kwargs)


def test_allocation_ignores_costs_of_unselected_databases(post, cid):
    chosen = [cid[("density", "radonpy")], cid[("tg", "radonpy")]]
    d = allocate_budget(post, 1_000, COSTS, curves=chosen)
    assert list(d.table["curve"]) == chosen
    assert d.table["n_added"].iloc[0] == 500  # the whole budget at 2 per sample


def test_allocation_needs_costs_for_chosen_curves(post, cid):
    with pytest.raises(UnknownNameError, match="No cost per sample"):
        allocate_budget(
            post,
            100.0,
            {"radonpy": 1.0},
            curves=[cid[("density", "radonpy")], cid[("density", "pubchem")]],
        )


# ====================================================================== equivalent sample size
def m_closed(transfer: dict, scratch: dict, n: float) -> float:
    e_t = transfer["target_scale"] * (transfer["D"] * n ** -transfer["alpha"] + transfer["C"])
    D_s, C_s = scratch["D"] * scratch["target_scale"], scratch["C"] * scratch["target_scale"]
    return (D_s / (e_t - C_s)) ** (1 / scratch["alpha"]) if e_t > C_s else math.inf


def test_equivalent_sample_size_matches_closed_form(post, cid):
    c = cid[("density", "radonpy")]
    d = equivalent_sample_size(post, c, n=[16, 100, 1000])
    scratch = TRUTH[("density", "none")]
    assert d.table["scratch_curve"].iloc[0] == cid[("density", "none")]
    for row in d.table.iloc[:-1].itertuples():
        truth = m_closed(DENSITY, scratch, row.n)
        assert row.m_eq_lower <= truth <= row.m_eq_upper
        assert row.m_eq_median == pytest.approx(truth, rel=0.3)
    limit = d.table.iloc[-1]  # C_t = 0.2 < C_s = 0.25: transfer beats any scratch size
    assert np.isinf(limit["n"]) and limit["p_beats_scratch"] > 0.99
    assert "beats a scratch model trained on any number" in d.sentence
    assert d.draws.shape == (post.n_samples, 4)


def test_equivalent_sample_size_finite_limit_and_different_scales():
    transfer = dict(DENSITY, C=0.3, target_scale=0.1)
    scratch = dict(TRUTH[("density", "none")], C=0.1, target_scale=0.2)  # original C = 0.02
    post = fake_posterior([transfer, scratch], n_samples=1000)
    cid = post.curve_ids
    d = equivalent_sample_size(post, cid[0], n=500)
    row, limit = d.table.iloc[0], d.table.iloc[1]
    truth = m_closed(transfer, scratch, 500)
    assert row["m_eq_lower"] <= truth <= row["m_eq_upper"]
    e_inf = transfer["C"] * transfer["target_scale"]
    truth_inf = (scratch["D"] * 0.2 / (e_inf - 0.02)) ** (1 / scratch["alpha"])
    assert limit["m_eq_lower"] <= truth_inf <= limit["m_eq_upper"]
    assert limit["p_beats_scratch"] < 0.01
    assert "set by the transfer gap C" in d.sentence


def test_scratch_curve_matching(post, cid):
    assert find_scratch_curve(post, cid[("tg", "radonpy")]) == cid[("tg", "none")]
    d = equivalent_sample_size(post, cid[("tg", "radonpy")], scratch=cid[("tg", "none")])
    assert d.table["n"].iloc[0] == TRUTH[("tg", "radonpy")]["n_max"]
    with pytest.raises(BayesScalingError, match="not a kind='scratch'"):
        equivalent_sample_size(post, cid[("tg", "radonpy")], scratch=cid[("density", "radonpy")])
    with pytest.raises(BayesScalingError, match="is a scratch curve"):
        equivalent_sample_size(post, cid[("tg", "none")])


def test_scratch_curve_matching_by_pair_and_errors():
    specs = [dict(s, pair=f"{s['property']}_pair") for s in DEFAULT_SPECS]
    specs.append(dict(DEFAULT_SPECS[3], pair="density_pair", strategy="scratch2"))
    post = fake_posterior(specs, n_samples=200)
    cid = post.curve_ids
    assert find_scratch_curve(post, cid[2]) == cid[4]  # tg by pair
    with pytest.raises(AmbiguousCurveError, match="pass scratch="):
        find_scratch_curve(post, cid[0])
    no_scratch = fake_posterior(DEFAULT_SPECS[:3], n_samples=200)
    with pytest.raises(NoMatchingCurveError, match="No scratch curve matches"):
        equivalent_sample_size(no_scratch, no_scratch.curve_ids[0])
    rmse = fake_posterior([DEFAULT_SPECS[0], dict(DEFAULT_SPECS[3], metric="rmse")], n_samples=200)
    with pytest.raises(NoMatchingCurveError):
        find_scratch_curve(rmse, rmse.curve_ids[0])


def test_equivalent_sample_size_validation(post, cid):
    with pytest.raises(UnknownNameError, match="Unknown curve"):
        equivalent_sample_size(post, "nope")
    with pytest.raises(BayesScalingError, match="n must be"):
        equivalent_sample_size(post, cid[("density", "radonpy")], n=0)
