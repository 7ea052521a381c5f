"""First look at scarce curves: trial summaries, drops and verdicts against closed forms."""

from __future__ import annotations

import importlib.util
import math
import sys
import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from bayes_scaling.exceptions import BayesScalingError, UnknownNameError  # noqa: E402
from bayes_scaling.first_look import (  # noqa: E402
    TRIAL_BAND,
    compute_scarce_summary,
    compute_trial_summary,
    detect_protocol,
    format_scarce_summary,
    scratch_pair_of,
)
from bayes_scaling.first_look_plots import (  # noqa: E402
    error_label,
    plot_error_vs_m_by_n,
    plot_error_vs_n_by_m,
    plot_first_look_grid,
)

# The simulated task: transfer error(n, m, trial) = (A n^-B + C / m) * F[trial],
# scratch error(m, trial) = S / sqrt(m) * F[trial]; the trial factors average to 1.
A, B, C, S = 2.0, 0.5, 4.0, 0.8
F = np.array([0.9, 1.0, 1.1])
N_GRID = [10, 100, 1000, 10000]
M_LEVELS = [20, 40, 80]
FULL = 160  # the full training split (m missing, n_train = 160)
SCRATCH_M = [*M_LEVELS, FULL]
SCRATCH = "scratch_x_target"


def transfer_truth(n: float, m: float) -> float:
    return A * n**-B + C / m


def scratch_truth(m: float) -> float:
    return S / math.sqrt(m)


def make_table(pairs=("pA",), strategies=("finetune", "gentle"), scratch=True) -> pd.DataFrame:
    rows = []
    base = {"property": "x", "family": "fam", "unit": "eV", "target_scale": 2.0, "n_test": 40}
    for pair in pairs:
        for strat in strategies:
            for m in [*M_LEVELS, None]:
                for n in N_GRID:
                    for t, f in enumerate(F):
                        mm = FULL if m is None else m
                        rows.append(
                            base
                            | {"pair": pair, "database": "sim", "kind": "transfer"}
                            | {"strategy": strat, "n": n, "seed": t, "m": m, "n_train": mm}
                            | {"metric": "mae", "error": transfer_truth(n, mm) * f}
                        )
    if scratch:
        for m in SCRATCH_M:
            for t, f in enumerate(F):
                rows.append(
                    base
                    | {"pair": SCRATCH, "database": "none", "kind": "scratch"}
                    | {"strategy": "scratch", "n": m, "seed": t, "m": None, "n_train": m}
                    | {"metric": "mae", "error": scratch_truth(m) * f}
                )
    table = pd.DataFrame(rows)
    extra = table.assign(metric="nmae", error=table["error"] / table["target_scale"])
    return pd.concat([table, extra], ignore_index=True)


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("plt.show() must never be called")

    monkeypatch.setattr(plt, "show", fail)
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def table():
    return make_table()


def m_lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_label().startswith("m = ")]


def n_lines(ax):
    return [ln for ln in ax.get_lines() if ln.get_label().startswith("n = ")]


# ====================================================================== compute
def test_trial_summary_matches_closed_form(table):
    s = compute_trial_summary(table, metric="mae")
    t = s[(s["kind"] == "transfer") & (s["strategy"] == "finetune")]
    assert len(t) == len(N_GRID) * (len(M_LEVELS) + 1)
    assert (t["trials"] == len(F)).all()
    truth = np.array([transfer_truth(n, m) for n, m in zip(t["n"], t["m"], strict=True)])
    np.testing.assert_allclose(t["mean"], truth, rtol=1e-12)
    q = np.quantile(F, TRIAL_BAND)  # 0.92 and 1.08 for three trials
    np.testing.assert_allclose(q, [0.92, 1.08])
    np.testing.assert_allclose(t["lower"], truth * q[0], rtol=1e-12)
    np.testing.assert_allclose(t["upper"], truth * q[1], rtol=1e-12)
    np.testing.assert_allclose(t["sem"], truth * 0.1 / math.sqrt(3), rtol=1e-12)
    assert t["band"].iloc[0] == "10–90 % of trials"


def test_sem_band_is_mean_plus_minus_standard_error(table):
    s = compute_trial_summary(table, metric="mae", band="sem")
    np.testing.assert_allclose(s["upper"] - s["mean"], s["mean"] * 0.1 / math.sqrt(3))
    np.testing.assert_allclose(s["mean"] - s["lower"], s["upper"] - s["mean"])
    assert s["band"].iloc[0] == "mean ± 1 s.e."


def test_full_split_and_scratch_conventions(table):
    s = compute_trial_summary(table, metric="mae")
    t = s[s["kind"] == "transfer"]
    assert sorted(t["m"].unique()) == [*M_LEVELS, FULL]
    assert set(t.loc[t["m_full"], "m"]) == {FULL}  # m missing -> the smallest n_train
    sc = s[s["kind"] == "scratch"]
    assert (sc["n"] == 0).all() and sorted(sc["m"]) == SCRATCH_M
    assert sc.loc[sc["m_full"], "m"].tolist() == [FULL]
    np.testing.assert_allclose(sc["mean"], [scratch_truth(m) for m in sc["m"]])


def test_full_split_uses_smallest_n_train():
    t = make_table(strategies=("finetune",), scratch=False)
    full = t["m"].isna()
    t.loc[full & (t["seed"] == 2), "n_train"] = FULL + 7  # a larger split in one trial
    s = compute_trial_summary(t)
    assert set(s.loc[s["m_full"], "m"]) == {FULL}


def test_scarce_summary_drops_and_scratch_verdicts(table):
    out = compute_scarce_summary(table, strategy="finetune")
    assert len(out) == len(M_LEVELS) + 1
    assert out["m"].tolist() == [*M_LEVELS, FULL]
    assert out["m_full"].tolist() == [False, False, False, True]
    n0, n1 = N_GRID[0], N_GRID[-1]
    assert (out["n_min"] == n0).all() and (out["n_max"] == n1).all()
    for row in out.itertuples():
        drop = 1 - transfer_truth(n1, row.m) / transfer_truth(n0, row.m)
        assert row.drop == pytest.approx(drop, rel=1e-12)
        gain = 1 - transfer_truth(n1, row.m) / scratch_truth(row.m)
        assert row.gain_vs_scratch == pytest.approx(gain, rel=1e-12)
        assert bool(row.beats_scratch) is (gain > 0)
        # the same trial factor multiplies both, so every paired trial goes the same way
        assert row.win_fraction == (1.0 if gain > 0 else 0.0)
        assert row.paired_trials == len(F)
        assert row.scratch_pair == SCRATCH
    # the shared C / m term weighs less at larger m, so the relative drop grows with m
    assert out["drop"].is_monotonic_increasing
    # scratch wins at m = 20 (0.179 < 0.22 at n_max); transfer wins at every larger m
    expected = [transfer_truth(n1, m) < scratch_truth(m) for m in out["m"]]
    assert out["beats_scratch"].tolist() == expected == [False, True, True, True]


def test_drops_do_not_depend_on_normalisation(table):
    a = compute_scarce_summary(table, metric="mae")
    b = compute_scarce_summary(table, metric="nmae")
    np.testing.assert_allclose(a["drop"], b["drop"])
    np.testing.assert_allclose(a["gain_vs_scratch"], b["gain_vs_scratch"])


def test_win_fraction_pairs_trials_by_seed():
    t = make_table(strategies=("finetune",))
    t = t[t["metric"] == "mae"].copy()
    # scratch at m = 20 with the trial factors reversed and the transfer mean at n_max
    sc = (t["kind"] == "scratch") & (t["n"] == 20)
    level = transfer_truth(N_GRID[-1], 20)
    t.loc[sc, "error"] = level * F[::-1][t.loc[sc, "seed"].to_numpy()]
    out = compute_scarce_summary(t).set_index("m")
    # trial 0: 0.9 vs 1.1 (win), trial 1: tie (no win), trial 2: 1.1 vs 0.9 (loss)
    assert out.loc[20, "win_fraction"] == pytest.approx(1 / 3)
    assert out.loc[20, "gain_vs_scratch"] == pytest.approx(0.0, abs=1e-12)


def test_summary_of_every_strategy_and_single_n(table):
    out = compute_scarce_summary(table, strategy=None)
    assert sorted(out["strategy"].unique()) == ["finetune", "gentle"]
    one_n = table[table["n"].isin([N_GRID[-1]]) | (table["kind"] == "scratch")]
    assert compute_scarce_summary(one_n)["drop"].isna().all()


def test_summary_without_scratch_has_no_verdict():
    out = compute_scarce_summary(make_table(scratch=False))
    assert out["scratch_error"].isna().all() and out["beats_scratch"].isna().all()
    assert "n/a" in format_scarce_summary(out)


def test_format_scarce_summary(table):
    text = format_scarce_summary(compute_scarce_summary(table))
    lines = text.splitlines()
    assert len(lines) == 2 + len(M_LEVELS) + 1
    assert "160 (full)" in text and "10–10,000" in text
    first = lines[2]
    drop = 1 - transfer_truth(N_GRID[-1], 20) / transfer_truth(N_GRID[0], 20)
    assert f"| {round(100 * drop)} % |" in first  # two significant figures
    assert "; 3/3 trials" in text and "eV" in text
    assert "pA" in first


def test_detect_protocol(table):
    assert detect_protocol(table) == "scarce"
    legacy = table[table["m"].isna() | (table["m"] == 20)]
    assert detect_protocol(legacy) == "legacy"
    assert detect_protocol(table.drop(columns="m")) == "legacy"


def test_error_label():
    assert error_label("mae", "eV") == "MAE [eV]"
    assert error_label("nmae", "eV").startswith("normalised MAE")
    assert error_label("log_loss") == "log_loss"


# ====================================================================== plots
def test_error_vs_n_draws_one_line_per_m(table):
    fig, ax = plt.subplots()
    out_fig, out_ax = plot_error_vs_n_by_m(table, "pA", strategy="finetune", ax=ax)
    assert out_ax is ax and out_fig is fig
    lines = m_lines(ax)
    assert [ln.get_label() for ln in lines] == ["m = 20", "m = 40", "m = 80", "m = 160 (full)"]
    for ln, m in zip(lines, [*M_LEVELS, FULL], strict=True):
        np.testing.assert_allclose(ln.get_xdata(), N_GRID)
        np.testing.assert_allclose(ln.get_ydata(), [transfer_truth(n, m) for n in N_GRID])
    scratch = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(scratch) == len(SCRATCH_M)  # one dotted scratch level per m
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.get_ylabel() == "MAE [eV]"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "scratch at the same m" in legend
    assert "10–90 % of trials" in ax.get_legend().get_title().get_text()
    assert len(ax.collections) == len(M_LEVELS) + 1  # one band per m


def test_error_vs_n_accepts_summary_and_subsets(table):
    summary = compute_trial_summary(table, metric="nmae")
    fig, ax = plot_error_vs_n_by_m(
        summary, "pA", metric="nmae", m_levels=[20, 80], show_scratch=False
    )
    assert len(m_lines(ax)) == 2 and len(ax.get_lines()) == 2
    assert ax.get_ylabel().startswith("normalised MAE")


def test_error_vs_m_draws_scratch_as_n_zero(table):
    fig, ax = plot_error_vs_m_by_n(table, "pA", max_lines=3)
    lines = n_lines(ax)
    assert [ln.get_label() for ln in lines] == ["n = 10", "n = 1,000", "n = 10,000"]
    for ln, n in zip(lines, [10, 1000, 10000], strict=True):
        np.testing.assert_allclose(ln.get_xdata(), [*M_LEVELS, FULL])
        np.testing.assert_allclose(ln.get_ydata(), [transfer_truth(n, m) for m in ln.get_xdata()])
    scratch = [ln for ln in ax.get_lines() if ln.get_label() == "scratch (n = 0)"]
    assert len(scratch) == 1
    np.testing.assert_allclose(scratch[0].get_ydata(), [scratch_truth(m) for m in SCRATCH_M])
    assert ax.get_xlabel() == "experimental training samples m"
    fig, ax = plot_error_vs_m_by_n(table, "pA", n_values=[100], show_scratch=False)
    assert [ln.get_label() for ln in ax.get_lines()] == ["n = 100"]


def test_grid_one_panel_per_pair():
    t = make_table(pairs=("pA", "pB", "pC", "pD"), strategies=("finetune",))
    fig, axes = plot_first_look_grid(t, view="n", family="fam", ncols=3)
    assert axes.shape == (2, 3)
    visible = [ax for ax in axes.flat if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["pA", "pB", "pC", "pD"]
    assert all(len(m_lines(ax)) == len(M_LEVELS) + 1 for ax in visible)
    fig, axes = plot_first_look_grid(t, view="m", pairs=["pC"])
    assert axes.shape == (1, 1) and len(n_lines(axes[0, 0])) == 4


# ====================================================================== bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: compute_trial_summary(t.drop(columns="seed")), r"lacks column\(s\) \['seed'\]"),
        (lambda t: compute_trial_summary(t.iloc[:0]), "is empty"),
        (lambda t: compute_trial_summary(t, metric="rmse"), "No rows with metric 'rmse'"),
        (lambda t: compute_trial_summary(t, band="hdi"), "band must be"),
        (lambda t: compute_trial_summary(t.drop(columns="n_train")), "need the column 'n_train'"),
        (lambda t: compute_trial_summary(pd.concat([t, t.head(1)])), "repeat a"),
        (lambda t: compute_trial_summary(t.assign(kind="other")), "'transfer' or 'scratch'"),
        (lambda t: compute_trial_summary(t.assign(error=np.nan)), "non-finite"),
        (lambda t: compute_trial_summary(t.to_dict()), "must be a pandas DataFrame"),
        (lambda t: plot_error_vs_n_by_m(t, "nope"), "Unknown transfer pair 'nope'"),
        (lambda t: plot_error_vs_n_by_m(t, SCRATCH), "that is a scratch curve"),
        (lambda t: plot_error_vs_n_by_m(t, "pA", strategy="frozen"), "No rows of strategy"),
        (lambda t: plot_error_vs_n_by_m(t, "pA", m_levels=[33]), "m_levels"),
        (lambda t: plot_error_vs_n_by_m(t, "pA", ax="ax"), "must be a matplotlib Axes"),
        (lambda t: plot_error_vs_m_by_n(t, "pA", n_values=[11]), "n_values"),
        (lambda t: plot_error_vs_m_by_n(t, "pA", max_lines=0), "max_lines"),
        (lambda t: plot_first_look_grid(t, view="x"), "view must be"),
        (lambda t: plot_first_look_grid(t, family="nope"), "families present"),
        (lambda t: compute_scarce_summary(t, strategy="frozen"), "No transfer rows of strategy"),
        (lambda t: compute_scarce_summary(compute_trial_summary(t)), "needs the curve table"),
        (lambda t: format_scarce_summary(t), "lacks column"),
    ],
)
def test_bad_input_raises_value_error(table, call, match):
    with pytest.raises(BayesScalingError, match=match) as info:
        call(table)
    assert isinstance(info.value, ValueError)


def test_scratch_reference_choice(table, monkeypatch):
    registry = types.ModuleType("bayes_scaling.datasets")  # 'pA' is in no registry

    def get_pair(name):
        raise UnknownNameError(f"unknown pair {name!r}")

    registry.get_pair = get_pair
    monkeypatch.setitem(sys.modules, "bayes_scaling.datasets", registry)
    assert scratch_pair_of(table, "pA") == SCRATCH
    other = table[table["kind"] == "scratch"].assign(pair="scratch_other")
    two = pd.concat([table, other], ignore_index=True)
    with pytest.raises(BayesScalingError, match="pass scratch="):
        scratch_pair_of(two, "pA")
    assert scratch_pair_of(two, "pA", "scratch_other") == "scratch_other"
    with pytest.raises(BayesScalingError, match="Unknown scratch curve"):
        scratch_pair_of(two, "pA", "nope")
    fig, ax = plot_error_vs_n_by_m(two, "pA", scratch="scratch_other")
    assert len([ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]) == len(SCRATCH_M)


# ====================================================================== script
def _script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "first_look.py"
    spec = importlib.util.spec_from_file_location("first_look_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_writes_scarce_pngs_and_table(tmp_path, capsys):
    t = make_table(strategies=("finetune",))
    t = t.assign(wall_time=1.0)
    path = tmp_path / "curves.csv"
    t.to_csv(path, index=False)
    _script().main([str(path), "--out", str(tmp_path / "out"), "--dpi", "30"])
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["first_look_scarce_fam_m.png", "first_look_scarce_fam_n.png"]
    text = capsys.readouterr().out
    assert "Smallest experimental size m per task" in text
    assert text.count("| pA | finetune |") == 1 + len(M_LEVELS) + 1  # smallest m, then all
