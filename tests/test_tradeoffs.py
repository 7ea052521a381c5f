"""Simulations-vs-experiments decisions against their closed forms (known parameters).

A :class:`SurfacePosterior` built with ``from_physical`` holds one "draw" of known
parameters, so every decision must equal the closed form written out here (independently
of the package's solver), and the cheapest-plan search must match a brute-force search.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from _known_surface import TASK, known

from bayes_scaling.exceptions import BayesScalingError, CurveSchemaError
from bayes_scaling.simulate import (
    SURFACE_TARGETS,
    SURFACE_TASKS,
    surface_truth_error,
)
from bayes_scaling.tradeoffs import (
    cheapest_plan,
    exchange_rate,
    scratch_equivalent,
    surface_grid,
)


def truth(form: str, task: str = TASK):
    prop, db = task.split("|")
    return SURFACE_TARGETS[prop], SURFACE_TASKS[form][(prop, db)]


@pytest.mark.parametrize("form", ["additive", "effective_data"])
def test_from_physical_reproduces_the_closed_form_surface(form):
    sp = known(form)
    tg, tk = truth(form)
    n = np.array([0.0, 16, 500, 1e5])
    m = np.array([10.0, 40, 250, 3000])
    got = sp.error(TASK, n[None, :], m[:, None])[0]
    want = surface_truth_error(form, n[None, :], m[:, None], tg, tk)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # n = 0 is the scratch curve, for both forms
    np.testing.assert_allclose(got[:, 0], tg["E"] * m ** -tg["beta"] + tg["S"], rtol=1e-10)
    back = sp.physical(TASK)
    for k, v in {**tg, **tk}.items():
        if k != "target_scale":
            assert back[k][0] == pytest.approx(v, rel=1e-10)


@pytest.mark.parametrize("form", ["additive", "effective_data"])
def test_floor_is_the_large_n_limit(form):
    sp = known(form)
    tg, tk = truth(form)
    m = np.array([40.0, 250.0])
    want = tg["E"] * m ** -tg["beta"] + tk["C"] if form == "additive" else np.full(2, tg["S"])
    np.testing.assert_allclose(sp.floor(TASK, m)[0], want, rtol=1e-10)
    far = sp.error(TASK, 1e30, m)[0]
    np.testing.assert_allclose(far, want, rtol=1e-6)


def test_exchange_rate_matches_closed_form_additive():
    sp = known("additive")
    tg, tk = truth("additive")
    E, beta, S, C, alpha = tg["E"], tg["beta"], tg["S"], tk["C"], tk["alpha"]
    n, m = 1000.0, 100.0
    dns = [100.0, 10_000.0]
    d = exchange_rate(sp, TASK, dn=dns, n=n, m=m)
    for row, dn in zip(d.table.itertuples(), dns, strict=True):
        g = (S - C) * ((1 + n) ** -alpha - (1 + n + dn) ** -alpha)
        dm = (m**-beta - g / E) ** (-1 / beta) - m
        assert row.dm_median == pytest.approx(dm, rel=1e-6)
        assert row.rate_median == pytest.approx(dn / dm, rel=1e-6)
    # marginal rate = (de/dm) / (de/dn) analytically
    de_dm = -beta * E * m ** (-beta - 1)
    de_dn = -alpha * (S - C) * (1 + n) ** (-alpha - 1)
    assert d.table["marginal_rate_median"].iloc[0] == pytest.approx(de_dm / de_dn, rel=1e-4)
    assert "simulations per experiment" in d.sentence and "90 % interval" in d.sentence


def test_exchange_rate_matches_closed_form_effective_data():
    sp = known("effective_data")
    tg, tk = truth("effective_data")
    n, m, dn = 1000.0, 100.0, 5000.0

    def T(n_):
        return tk["k"] * n_ ** tk["gamma"] * m ** tk["delta"]

    # error(n, m + dm) = error(n + dn, m)  <=>  m + dm + T(n, m + dm) = m + T(n + dn, m)
    goal = m + T(n + dn)
    dm = exchange_rate(sp, TASK, dn=dn, n=n, m=m).table["dm_median"].iloc[0]
    mm = m + dm
    lhs = mm + tk["k"] * n ** tk["gamma"] * mm ** tk["delta"]
    assert lhs == pytest.approx(goal, rel=1e-6)


@pytest.mark.parametrize("form", ["additive", "effective_data"])
def test_scratch_equivalent_matches_closed_form(form):
    sp = known(form)
    tg, tk = truth(form)
    n, m = 2000.0, 100.0
    d = scratch_equivalent(sp, TASK, n=[0.0, n], m=m)
    if form == "effective_data":
        want = m + tk["k"] * n ** tk["gamma"] * m ** tk["delta"]  # Hernandez: m + T
    else:
        rhs = m ** -tg["beta"] - (tg["S"] - tk["C"]) * (1 - (1 + n) ** -tk["alpha"]) / tg["E"]
        want = rhs ** (-1 / tg["beta"])
    assert d.table["m_eq_median"].iloc[0] == pytest.approx(m, rel=1e-8)  # no simulations
    assert d.table["worth_median"].iloc[0] == 0.0
    assert d.table["m_eq_median"].iloc[1] == pytest.approx(want, rel=1e-6)


def test_scratch_equivalent_infinite_when_transfer_beats_any_scratch():
    sp = known("additive")
    tg, tk = truth("additive")
    # as n grows the transfer floor E m^-beta + C falls below the scratch floor S whenever
    # E m^-beta < S - C: then no amount of scratch data matches
    m = (0.5 * (tg["S"] - tk["C"]) / tg["E"]) ** (-1 / tg["beta"])
    d = scratch_equivalent(sp, TASK, n=[1e12], m=m)
    assert d.table["p_beats_scratch"].iloc[0] == 1.0
    assert math.isinf(d.table["m_eq_median"].iloc[0])
    assert "any number of experiments" in d.sentence


@pytest.mark.parametrize("worth", [3.1, 47.0, 230.0])
def test_scratch_equivalent_sentence_shows_the_worth_in_its_total(worth):
    """The sentence's m_eq less today's m reads as the worth it states.

    The main job once said "matches a scratch model trained on 130 experiments ..., so the
    simulations are worth 3.1 experiments" at m = 123: m_eq was rounded to two figures.
    """
    from bayes_scaling.models.surface import SurfacePosterior
    from bayes_scaling.models.surface_data import prepare_surface
    from bayes_scaling.simulate import simulate_surface

    n, m = 314.0, 123.0
    tasks = {f"{p}|{d}": dict(v) for (p, d), v in SURFACE_TASKS["effective_data"].items()}
    t = tasks[TASK]
    t["k"] = worth / (n ** t["gamma"] * m ** t["delta"])  # m_eq = m + k n^gamma m^delta
    data = prepare_surface(simulate_surface("effective_data", rng=0))
    sp = SurfacePosterior.from_physical(data, "effective_data", SURFACE_TARGETS, tasks)
    d = scratch_equivalent(sp, TASK, n=n, m=m)
    assert d.table["worth_median"].iloc[0] == pytest.approx(worth, rel=1e-6)
    found = re.search(r"trained on ([\d,.]+) experiments .*worth ([\d,.]+) experiments", d.sentence)
    assert found, d.sentence
    shown_total, shown_worth = (float(g.replace(",", "")) for g in found.groups())
    assert shown_worth == pytest.approx(worth, rel=0.05)
    # the total is shown finely enough that total - m agrees with the stated worth
    assert shown_total - m == pytest.approx(shown_worth, rel=0.05, abs=0.05), d.sentence


def brute_force(form, target, cs, ce, n, m, tg, tk):
    """Cheapest (dn, dm) by exhaustive search on integer dm for a dense dn grid."""
    best = (math.inf, None)
    for dn in np.concatenate([[0.0], np.geomspace(1, 1e8, 3000)]):
        # smallest dm with error <= target (error falls with m): bisection on integers
        def f(dm, dn=dn):
            return surface_truth_error(form, n + dn, m + dm, tg, tk)

        if f(1e6) > target:
            continue
        lo, hi = -1, 10**6
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if f(mid) <= target else (mid, hi)
        cost = cs * dn + ce * hi
        if cost < best[0]:
            best = (cost, (dn, hi))
    return best


@pytest.mark.parametrize(("form", "cs"), [("additive", 0.01), ("effective_data", 1.0)])
def test_cheapest_plan_beats_naive_plans_and_matches_brute_force(form, cs):
    sp = known(form)
    tg, tk = truth(form)
    n, m = 1000.0, 100.0
    now = surface_truth_error(form, n, m, tg, tk)
    target = 0.8 * float(now)
    ce = 200.0
    d = cheapest_plan(
        sp, TASK, target, cost_simulation=cs, cost_experiment=ce, n=n, m=m, scale="normalised"
    )
    rows = d.table.set_index("plan")
    best = rows.loc["cheapest"]
    assert best["feasible"] and best["prob"] == 1.0  # one known draw: it is reached
    assert surface_truth_error(form, n + best["dn"], m + best["dm"], tg, tk) <= target + 1e-12
    for naive in ("simulations only", "experiments only"):
        assert best["cost"] <= rows.loc[naive, "cost"]
    # the answer is known: a brute-force search over a denser grid
    bf_cost, (bf_dn, bf_dm) = brute_force(form, target, cs, ce, n, m, tg, tk)
    assert best["cost"] <= bf_cost * 1.03
    # in this case the mix is strictly cheaper than either pure plan
    assert best["dn"] > 0 and best["dm"] > 0
    naive = min(rows.loc["simulations only", "cost"], rows.loc["experiments only", "cost"])
    assert best["cost"] < 0.95 * naive
    # the experiments-only plan is the closed-form scratch-in-m answer at fixed n
    dm_exp = rows.loc["experiments only", "dm"]
    assert surface_truth_error(form, n, m + dm_exp, tg, tk) <= target
    assert surface_truth_error(form, n, m + dm_exp - 1, tg, tk) > target
    assert "cheapest plan" in d.sentence
    assert len(d.frontier) > 100 and d.frontier["cost"].min() == pytest.approx(best["cost"])


def test_cheapest_plan_cost_ratio_moves_the_plan():
    sp = known("additive")
    cheap_exp = cheapest_plan(sp, TASK, 0.12, cost_simulation=1.0, cost_experiment=0.01,
                              n=1000, m=100, scale="normalised")  # fmt: skip
    cheap_sim = cheapest_plan(sp, TASK, 0.12, cost_simulation=1e-6, cost_experiment=1000,
                              n=1000, m=100, scale="normalised")  # fmt: skip
    a = cheap_exp.table.set_index("plan").loc["cheapest"]
    b = cheap_sim.table.set_index("plan").loc["cheapest"]
    assert a["dm"] > b["dm"] and a["dn"] < b["dn"]


def test_cheapest_plan_unreachable_target():
    sp = known("effective_data")
    tg, _ = truth("effective_data")
    d = cheapest_plan(sp, TASK, 0.5 * tg["S"], cost_simulation=1, cost_experiment=1,
                      n=1000, m=100, scale="normalised")  # fmt: skip
    assert not d.table["feasible"].any()
    assert "no plan within the limits" in d.sentence


def test_bad_inputs():
    sp = known("additive")
    with pytest.raises(CurveSchemaError, match="Unknown task 'nope'"):
        exchange_rate(sp, "nope")
    with pytest.raises(BayesScalingError, match="dn"):
        exchange_rate(sp, TASK, dn=-5)
    with pytest.raises(BayesScalingError, match="cost_experiment"):
        cheapest_plan(sp, TASK, 0.1, cost_simulation=1, cost_experiment=0)
    with pytest.raises(BayesScalingError, match="prob"):
        cheapest_plan(sp, TASK, 0.1, cost_simulation=1, cost_experiment=1, prob=1.5)
    with pytest.raises(BayesScalingError, match="n >= 0 and m > 0"):
        sp.error(TASK, -1, 10)


def test_surface_grid_is_the_median_surface():
    sp = known("additive")
    tg, tk = truth("additive")
    g = surface_grid(sp, TASK, points=7, scale="normalised")
    assert g.median.shape == (7, 7)
    want = surface_truth_error("additive", g.n[None, :], g.m[:, None], tg, tk)
    np.testing.assert_allclose(g.median, want, rtol=1e-10)
    assert set(g.observed.columns) >= {"n", "m", "seeds"}
    assert g.observed["m"].nunique() == 3


def test_plot_error_surface_draws_the_grid_and_never_recomputes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayes_scaling.plotting import plot_error_surface

    sp = known("additive")
    g = surface_grid(sp, TASK, points=12, scale="normalised")
    fig, ax = plt.subplots()
    out_fig, out_ax = plot_error_surface(g, targets=[0.2], ax=ax)
    assert out_ax is ax and out_fig is fig
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    # the white dots are exactly the fitted design points
    offsets = ax.collections[-1].get_offsets()
    assert len(offsets) == len(g.observed)
    # the filled contours span the grid's median range (drawn, not recomputed)
    filled = [c for c in ax.collections if hasattr(c, "levels")][0]
    assert filled.levels[0] <= g.median.min() and filled.levels[-1] >= g.median.max()
    assert "fitted (n, m)" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    with pytest.raises(BayesScalingError, match="needs a SurfaceGrid"):
        plot_error_surface(g.median)
