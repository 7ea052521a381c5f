"""Plots: compute tables are right, plot functions draw what they say, honour ax=, never show."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from _fake_posterior import DEFAULT_SPECS, fake_curve_table, fake_posterior, ids  # noqa: E402

from bayes_scaling.compare import compare_groups  # noqa: E402
from bayes_scaling.exceptions import BayesScalingError  # noqa: E402
from bayes_scaling.planning import next_batch_value, sample_size_for_target  # noqa: E402
from bayes_scaling.plotting import (  # noqa: E402
    compute_curve_bands,
    compute_forest,
    compute_observed_points,
    plot_comparison,
    plot_forest,
    plot_learning_curves,
    plot_n_required,
)

N_CURVES = len(DEFAULT_SPECS)


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("plt.show() must never be called")

    monkeypatch.setattr(plt, "show", fail)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def post():
    return fake_posterior(n_samples=500)


@pytest.fixture(scope="module")
def bands(post):
    return compute_curve_bands(post, n_points=30)


# ====================================================================== compute
def test_curve_bands_match_truth(post):
    grid = np.array([10.0, 100.0, 1000.0])
    bands = compute_curve_bands(post, grid, scale="original")
    assert len(bands) == N_CURVES * len(grid)
    for spec, (_, band) in zip(DEFAULT_SPECS, bands.groupby("curve", sort=False), strict=True):
        truth = spec["target_scale"] * (spec["D"] * grid ** -spec["alpha"] + spec["C"])
        assert np.all(band["lower"] <= truth) and np.all(truth <= band["upper"])
        np.testing.assert_allclose(band["median"], truth, rtol=0.05)
        c_true = spec["C"] * spec["target_scale"]
        assert band["C_lower"].iloc[0] <= c_true <= band["C_upper"].iloc[0]
    assert {"curve", "label", "n", "median", "lower", "upper", "C_median", "n_max"} <= set(bands)


def test_curve_bands_default_grid_and_validation(post, bands):
    first = bands[bands["curve"] == post.curve_ids[0]]
    assert first["n"].iloc[0] == DEFAULT_SPECS[0]["n_min"]
    assert first["n"].iloc[-1] == pytest.approx(10 * DEFAULT_SPECS[0]["n_max"])
    with pytest.raises(BayesScalingError, match="n_grid"):
        compute_curve_bands(post, [0.0, 10.0])
    with pytest.raises(BayesScalingError, match="Unknown curve"):
        compute_curve_bands(post, curves=["nope"])


def test_observed_points_scales():
    table = fake_curve_table()
    norm = compute_observed_points(table)
    orig = compute_observed_points(table, scale="original")
    assert len(norm) == len(table)
    np.testing.assert_allclose(norm["error"] * table["target_scale"], orig["error"])
    np.testing.assert_allclose(orig["error"], table["error"])  # metric "mae": original units
    keep = norm["curve"].iloc[0]
    assert set(compute_observed_points(table, curves=[keep])["curve"]) == {keep}


# ====================================================================== learning curves
def test_learning_curves_draw_expected_artists(post, bands):
    observed = compute_observed_points(fake_curve_table())
    fig, ax = plot_learning_curves(bands, observed=observed)
    assert ax.figure is fig
    assert len(ax.lines) == 2 * N_CURVES  # median + plateau per curve
    assert len(ax.collections) == 2 * N_CURVES  # band + observed points per curve
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "density · radonpy" in legend and "plateau C" in legend
    assert "90 %" in ax.get_title()


def test_learning_curves_honour_ax_and_options(bands):
    fig, axes = plt.subplots(1, 2)
    before = plt.get_fignums()
    out_fig, out_ax = plot_learning_curves(bands, ax=axes[1], show_plateau=False, legend=False)
    assert out_ax is axes[1] and out_fig is fig
    assert plt.get_fignums() == before  # no new figure
    assert len(axes[1].lines) == N_CURVES and len(axes[1].collections) == N_CURVES
    assert len(axes[0].lines) == 0 and axes[1].get_legend() is None


def test_learning_curves_reject_bad_input(bands):
    with pytest.raises(BayesScalingError, match="lacks column"):
        plot_learning_curves(bands.drop(columns="median"))
    with pytest.raises(BayesScalingError, match="Axes"):
        plot_learning_curves(bands, ax="left")  # type: ignore[arg-type]


def test_dollar_signs_in_names_are_drawn_literally():
    specs = [dict(DEFAULT_SPECS[0], property="$a_{$")]  # an even number of "$"
    post = fake_posterior(specs, n_samples=100)
    fig, ax = plot_learning_curves(compute_curve_bands(post, n_points=10))
    fig.canvas.draw()  # mathtext would fail to parse "$a_{$"
    fig, axes = plot_forest(compute_forest(post))
    fig.canvas.draw()


# ====================================================================== forest
def test_forest_table_and_plot(post):
    forest = compute_forest(post, params=("alpha", "C"), group="database")
    assert len(forest) == 2 * N_CURVES
    c_rows = forest[forest["param"] == "C"].set_index("label")
    assert (
        c_rows.loc["density · radonpy", "lower"] <= 0.2 <= c_rows.loc["density · radonpy", "upper"]
    )
    fig, axes = plot_forest(forest)
    assert len(axes) == 2
    for ax in axes:
        assert len(ax.collections) == 2  # interval lines + median points
        assert len(ax.get_yticks()) == N_CURVES


def test_forest_honours_ax(post):
    forest = compute_forest(post, params=("C",))
    fig, ax = plt.subplots()
    out_fig, axes = plot_forest(forest, ax=ax)
    assert out_fig is fig and axes[0] is ax
    with pytest.raises(BayesScalingError, match="one Axes per parameter"):
        plot_forest(compute_forest(post), ax=ax)
    with pytest.raises(BayesScalingError, match="params"):
        compute_forest(post, params=("sigma",))  # type: ignore[arg-type]


# ====================================================================== n required
def test_n_required_histogram(post):
    c = ids(post)[("density", "radonpy")]
    d = sample_size_for_target(post, c, [0.025, 0.021, 0.015])  # last: unreachable everywhere
    fig, ax = plot_n_required(d)
    finite_targets = int(np.isfinite(d.draws).any(axis=0).sum())
    assert finite_targets == 2
    assert len(ax.patches) == finite_targets  # one filled histogram per reachable target
    n_lines = 1 + int(np.isfinite(d.table["n_at_prob"]).sum())  # current n + n at prob
    assert len(ax.lines) == n_lines
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("0.015 g/cm³" in t and "P(unreachable) = 1.00" in t for t in texts)
    _, own = plt.subplots()
    assert plot_n_required(d, ax=own)[1] is own


def test_n_required_needs_sample_size_decision(post):
    d = next_batch_value(post, post.curve_ids[0], 100)
    with pytest.raises(BayesScalingError, match="SampleSizeDecision"):
        plot_n_required(d)  # type: ignore[arg-type]


# ====================================================================== comparison
def test_comparison_heatmap(post):
    d = compare_groups(post)
    fig, ax = plot_comparison(d, quantity="C")
    assert len(ax.images) == 1
    assert len(ax.texts) == 2  # k (k - 1) off-diagonal cells for k = 2
    assert len(fig.axes) == 2  # plot + colour bar
    assert "P(C_row < C_column)" in ax.get_title()
    fig2, ax2 = plt.subplots()
    out_fig, out_ax = plot_comparison(d, quantity="alpha", ax=ax2, colorbar=False)
    assert out_ax is ax2 and len(fig2.axes) == 1
    value = float(ax2.texts[0].get_text())
    assert value == pytest.approx(d.matrix("alpha").iloc[0, 1], abs=0.005)
    with pytest.raises(BayesScalingError, match="ComparisonDecision"):
        plot_comparison(d.table)  # type: ignore[arg-type]


def test_plot_n_required_survives_astronomical_draws():
    """Nearly flat curves give finite n draws like 1e300; the plot must not overflow."""
    from bayes_scaling.planning import SampleSizeDecision
    from bayes_scaling.plotting import N_PLOT_MAX

    rng = np.random.default_rng(0)
    draws = np.concatenate([10 ** rng.uniform(3, 5, 500), 10 ** rng.uniform(20, 300, 500)])
    table = pd.DataFrame({"target": [0.1], "unit": [""], "p_unreachable": [0.0],
                          "n_at_prob": [float(np.quantile(draws, 0.9))], "n_max": [1000.0],
                          "prob": [0.9]})
    decision = SampleSizeDecision(table, "sentence", draws=draws[:, None])
    fig, ax = plot_n_required(decision)
    fig.canvas.draw()
    assert ax.get_xlim()[1] <= N_PLOT_MAX * 10
    import matplotlib.pyplot as plt

    plt.close(fig)
