"""Negative transfer read from the raw trials: a measured error that rose with n."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fake_posterior import fake_curve_table, fake_posterior, ids

from bayes_scaling.curves import curve_ids
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.measured_change import RISE_MIN, RISE_SE, measured_changes
from bayes_scaling.pipeline import plan_all
from bayes_scaling.reporting import build_report
from bayes_scaling.summary import resolve_targets, summarise_tasks


def _curve(pair: str, means: dict[int, float], sd: float, trials: int, rng) -> pd.DataFrame:
    """Trials at each n; ``rng=None``: alternating +-sd (the means exact)."""
    noise = (lambda k: sd * (-1) ** k) if rng is None else (lambda k: sd * rng.standard_normal())
    rows = [
        {"pair": pair, "property": "tg", "database": pair, "kind": "transfer",
         "strategy": "finetune", "metric": "mae", "unit": "K", "n": n, "seed": k,
         "error": mean + noise(k)}
        for n, mean in means.items()
        for k in range(trials)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_a_rise_beyond_the_trials_spread_is_flagged_and_noise_is_not():
    rng = np.random.default_rng(5)
    table = pd.concat(
        [
            _curve("rises", {16: 1.0, 128: 1.1, 1024: 1.2}, 0.02, 10, rng),
            _curve("falls", {16: 1.0, 128: 0.8, 1024: 0.6}, 0.02, 10, rng),
            _curve("noisy", {16: 1.0, 1024: 1.03}, 0.2, 10, None),  # +3 %, 0.3 standard errors
            _curve("single", {16: 1.0, 1024: 1.5}, 0.02, 1, rng),  # no spread: not judged
            _curve("one_n", {16: 1.0}, 0.02, 10, rng),
        ],
        ignore_index=True,
    )
    got = {k.split("|")[0]: v for k, v in measured_changes(table).items()}
    assert set(got) == {"rises", "falls", "noisy", "single"}  # one n: no change to read
    rises = got["rises"]
    assert rises.rose and (rises.n_first, rises.n_last) == (16.0, 1024.0)
    means = table[table["pair"] == "rises"].groupby("n")["error"].mean()
    assert rises.relative == pytest.approx(means[1024] / means[16] - 1.0)
    assert rises.se == pytest.approx(
        np.sqrt(sum(table[(table["pair"] == "rises") & (table["n"] == n)]["error"].var() / 10
                    for n in (16, 1024)))
    )  # fmt: skip
    assert rises.error_last - rises.error_first > RISE_SE * rises.se
    assert not got["falls"].rose and got["falls"].relative < 0
    assert not got["noisy"].rose and got["noisy"].relative == pytest.approx(0.03)
    assert got["noisy"].relative > RISE_MIN
    assert not got["single"].rose and np.isnan(got["single"].se)
    assert set(measured_changes(table)) <= set(curve_ids(table))
    with pytest.raises(BayesScalingError, match="'error'"):
        measured_changes(table.drop(columns="error"))


def test_the_summary_and_the_report_say_when_a_measured_error_rose():
    post = fake_posterior(n_samples=200)
    table = fake_curve_table(seeds=4)
    rising = ids(post)[("density", "radonpy")]
    sel = curve_ids(table) == rising
    largest = sel & (table["n"] == table.loc[sel, "n"].max())
    smallest = sel & (table["n"] == table.loc[sel, "n"].min())
    # the largest n: 50 % above the smallest (negative transfer)
    table.loc[largest, "error"] = 1.5 * table.loc[smallest, "error"].to_numpy()
    targets = resolve_targets(post, None)
    tasks = {t.curve: t for t in summarise_tasks(
        post, plan_all(post, targets=targets), targets=targets, curves_table=table)}  # fmt: skip
    assert tasks[rising].measured is not None and tasks[rising].measured.rose
    others = [t for c, t in tasks.items() if c != rising]
    assert others and all(t.measured is not None and not t.measured.rose for t in others)
    without = {t.curve: t for t in summarise_tasks(post, plan_all(post, targets=targets))}
    assert all(t.measured is None for t in without.values())
    # the law alone says "produce more simulations"; with the rise measured, undecided
    assert without[rising].recommendation.action == "simulate"
    assert tasks[rising].recommendation.action == "undecided"
    assert "negative transfer" in tasks[rising].recommendation.reason
    assert all(t.recommendation.action == without[t.curve].recommendation.action for t in others)
    md = build_report(post, table, decisions=plan_all(post, targets=targets)).to_markdown()
    assert md.count("measured: rose") == 1 and "Measured error rose with n" in md
    plain = build_report(post, fake_curve_table(seeds=4), decisions=plan_all(post)).to_markdown()
    assert "measured: rose" not in plain and "Measured error rose" not in plain
