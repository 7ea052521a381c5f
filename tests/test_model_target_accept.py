"""``target_accept="auto"``: sample at 0.95, sample again at 0.99 after any divergence."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from _model_fits import single_curve, standard_curves

import bayes_scaling.models.sampling_policy as sampling_policy
from bayes_scaling.models import ScalingLawModel
from bayes_scaling.models.diagnostics import ConvergenceReport
from bayes_scaling.models.graph import data_column, latent_to_theta
from bayes_scaling.models.sampling_policy import (
    AUTO_TARGET_ACCEPT,
    EXTEND_FACTOR,
    MAX_EXTEND_FACTOR,
    extend_factor,
)

WEIGHTS: list = []
SMALL = {"draws": 50, "tune": 50, "chains": 1, "random_seed": 3, "check_convergence": False}


def _diverging(trace, n: int):
    """``trace`` with its first ``n`` draws marked divergent (and no others)."""
    div = trace["sample_stats"]["diverging"]
    div.values[:] = False
    div.values.flat[:n] = True
    return trace


def _recording(monkeypatch, divergences: dict[float, int], key=None) -> list:
    """Patch the sampler: record each call (its target_accept, or ``key(kwargs)``), fake
    divergences per rate."""
    calls: list = []
    real = sampling_policy.sample_model

    def fake(model, **kwargs):
        rate = kwargs["sampler_kwargs"]["target_accept"]
        calls.append(rate if key is None else key(kwargs))
        names = [str(c) for c in model.coords.get("curve_data_column", ())] + [
            str(c) for c in model.coords.get("group_data_column", ())
        ]
        names = [n for n in names if n.startswith("centring_weight")]
        if names:
            WEIGHTS.append(np.concatenate([data_column(model, n).ravel() for n in names]))
        return _diverging(real(model, **kwargs), divergences.get(rate, 0))

    monkeypatch.setattr(sampling_policy, "sample_model", fake)
    return calls


def test_divergences_trigger_one_refit_at_the_higher_rate(monkeypatch, tmp_path):
    calls = _recording(monkeypatch, {AUTO_TARGET_ACCEPT[0]: 3})
    model = ScalingLawModel(**SMALL).fit(single_curve())
    assert calls == list(AUTO_TARGET_ACCEPT)
    assert model.target_accept_ == AUTO_TARGET_ACCEPT[1]
    assert model.convergence.divergences == 0
    note = model.convergence.note
    assert "3 divergent transitions at target_accept 0.95 (centring='auto')" in note
    assert "sampled again at target_accept 0.99" in note and "with centring" not in note
    assert model.centring_used_ == "auto"
    assert model.idata.attrs["centring_used"] == "auto"
    assert note in model.convergence.message
    assert model.idata.attrs["target_accept_used"] == AUTO_TARGET_ACCEPT[1]
    # the note and the kept settings survive save -> load
    path = tmp_path / "fit.nc"
    model.save(path)
    loaded = ScalingLawModel.load(path)
    assert loaded.convergence.note == note
    assert loaded.target_accept_ == AUTO_TARGET_ACCEPT[1] and loaded.centring_used_ == "auto"


def test_no_divergence_no_refit(monkeypatch):
    calls = _recording(monkeypatch, {})
    model = ScalingLawModel(**SMALL).fit(single_curve())
    assert calls == [AUTO_TARGET_ACCEPT[0]]
    assert model.target_accept_ == AUTO_TARGET_ACCEPT[0] and model.convergence.note == ""


def test_divergences_left_after_the_refit_are_reported(monkeypatch):
    calls = _recording(monkeypatch, {0.95: 4, 0.99: 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ScalingLawModel(**{**SMALL, "check_convergence": True}).fit(single_curve())
    assert calls == [0.95, 0.99]
    assert model.convergence.divergences == 2 and not model.convergence.ok
    assert "DID NOT CONVERGE" in model.convergence.message


@pytest.mark.parametrize(
    "settings", [{"target_accept": 0.9}, {"sampler_kwargs": {"target_accept": 0.85}}]
)
def test_a_fixed_rate_is_never_raised(monkeypatch, settings):
    calls = _recording(monkeypatch, {0.9: 5, 0.85: 5})
    model = ScalingLawModel(**{**SMALL, **settings}).fit(single_curve())
    assert len(calls) == 1 and calls[0] in (0.9, 0.85)
    assert model.convergence.divergences == 5


def test_the_fallback_samples_the_same_graph_with_the_same_weights(monkeypatch):
    WEIGHTS.clear()
    _recording(monkeypatch, {AUTO_TARGET_ACCEPT[0]: 1})
    model = ScalingLawModel(**SMALL).fit(standard_curves())
    first, second = WEIGHTS
    assert (first > 0).any() and (second == first).all()
    assert np.isfinite(model.idata["posterior"]["theta"].values).all()
    assert model.centring_used_ == "auto"


def test_an_explicit_centring_is_kept_by_the_fallback(monkeypatch):
    WEIGHTS.clear()
    _recording(monkeypatch, {AUTO_TARGET_ACCEPT[0]: 1})
    model = ScalingLawModel(**{**SMALL, "centring": "noncentred"}).fit(standard_curves())
    first, second = WEIGHTS
    assert (first == 0).all() and (second == 0).all()
    assert model.centring_used_ == "noncentred"


def _rate_and_centring(monkeypatch, divergences: dict[tuple[float, bool], int]) -> list:
    """Patch the sampler: record ``(target_accept, fully non-centred?)`` per call, fake
    divergences per such pair."""
    calls: list = []
    real = sampling_policy.sample_model

    def fake(model, **kwargs):
        names = [str(c) for c in model.coords.get("curve_data_column", ())]
        weights = np.concatenate(  # none for one curve
            [np.zeros(0)]
            + [data_column(model, n).ravel() for n in names if n.startswith("centring_weight")]
        )
        call = (kwargs["sampler_kwargs"]["target_accept"], bool((weights == 0).all()))
        calls.append(call)
        return _diverging(real(model, **kwargs), divergences.get(call, 0))

    monkeypatch.setattr(sampling_policy, "sample_model", fake)
    return calls


@pytest.mark.parametrize("left", [0, 3])
def test_divergences_left_at_the_last_rate_are_sampled_again_fully_non_centred(
    monkeypatch, tmp_path, left
):
    """The last attempt: the plan again with every weight 0, its draws read with those
    weights; divergences left after it are reported."""
    calls = _rate_and_centring(
        monkeypatch, {(0.95, False): 4, (0.99, False): 2, (0.95, True): 1, (0.99, True): left}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ScalingLawModel(**{**SMALL, "check_convergence": True}).fit(standard_curves())
    assert calls[:4] == [(0.95, False), (0.99, False), (0.95, True), (0.99, True)]
    # then, as for any run without divergences that misses R-hat/ESS: a longer run, the same
    # parameterisation (50 draws of one chain here)
    assert calls[4:] == ([] if left else [(0.99, True)])
    note = model.convergence.note
    assert (
        "2 divergent transitions at target_accept 0.99 (centring='auto'), so the fit was "
        "sampled again with centring='noncentred', from target_accept 0.95" in note
    )
    assert "1 divergent transitions at target_accept 0.95 (centring='noncentred')" in note
    assert model.centring_used_ == "noncentred" == model.idata.attrs["centring_used"]
    assert model.target_accept_ == 0.99 and model.convergence.divergences == left
    if left:  # reported, not hidden
        assert "DID NOT CONVERGE" in model.convergence.message
    # the kept draws are read in their own parameterisation (weights 0), not the first's
    post = model.idata["posterior"].to_dataset()
    data = model.data_
    pooled = list(post["param"].values)
    for centring, same in (("noncentred", True), ("auto", False)):
        weights = model._build(data, centring=centring)[1]
        theta = latent_to_theta(post, data, pooled, weights)["theta"]
        close = np.allclose(theta.values, post["theta"].transpose(*theta.dims).values)
        assert close is same, centring
    assert (data_column(model.model, "centring_weight") == 0).all()
    model.save(tmp_path / "fit.nc")
    loaded = ScalingLawModel.load(tmp_path / "fit.nc")
    assert loaded.centring_used_ == "noncentred"
    assert (data_column(loaded.model, "centring_weight") == 0).all()


def test_no_last_attempt_for_one_curve_or_a_non_centred_fit(monkeypatch):
    calls = _rate_and_centring(monkeypatch, {(0.95, True): 4, (0.99, True): 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ScalingLawModel(**SMALL).fit(single_curve())
    assert calls == [(0.95, True), (0.99, True)]  # (one curve: no weights)
    calls = _rate_and_centring(monkeypatch, {(0.95, True): 4, (0.99, True): 2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ScalingLawModel(**{**SMALL, "centring": "noncentred"}).fit(standard_curves())
    assert calls == [(0.95, True), (0.99, True)]
    assert "sampled again with centring" not in model.convergence.note


def _draws_and_tune(kwargs: dict) -> tuple[int, int]:
    return kwargs["draws"], kwargs["tune"]


def _longer(calls: list, first: int = 50) -> int:
    """The longer run's factor, checked to be one run of 2-6 times the first's settings."""
    assert len(calls) == 2 and calls[0] == (first, first)
    factor = calls[1][0] // first
    assert calls[1] == (factor * first, factor * first)
    assert EXTEND_FACTOR <= factor <= MAX_EXTEND_FACTOR
    return factor


def test_a_run_missing_rhat_or_ess_is_sampled_once_more_with_longer_chains(monkeypatch):
    """Auto policy with the convergence check: 2-6x draws and tune, said in the note."""
    curves = standard_curves().query("property == 'p0'")
    calls = _recording(monkeypatch, {}, key=_draws_and_tune)  # no divergences: no 0.99 run
    settings = {**SMALL, "check_convergence": True, "chains": 2}
    with pytest.warns(Warning):  # 2 x 50 draws miss ESS 400 by far: the longest run
        model = ScalingLawModel(**settings).fit(curves)
    factor = _longer(calls)
    assert factor == MAX_EXTEND_FACTOR
    assert model.convergence_.n_draws == 2 * 50 * factor
    assert f"so the fit was sampled again with {50 * factor} and {50 * factor}" in (
        model.convergence_.note
    )
    assert not model.convergence_.ok  # a longer run is no promise: still checked


def test_a_longer_run_that_diverges_is_sampled_again_at_the_higher_rate(monkeypatch):
    """Divergences in the longer run (none in the first): the longer run again at 0.99."""
    curves = standard_curves().query("property == 'p0'")
    calls: list = []
    real = sampling_policy.sample_model

    def fake(model, **kwargs):
        rate = kwargs["sampler_kwargs"]["target_accept"]
        calls.append((rate, kwargs["draws"]))
        longer_first_rate = rate == AUTO_TARGET_ACCEPT[0] and kwargs["draws"] > 50
        return _diverging(real(model, **kwargs), 2 if longer_first_rate else 0)

    monkeypatch.setattr(sampling_policy, "sample_model", fake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ScalingLawModel(**{**SMALL, "check_convergence": True, "chains": 2}).fit(curves)
    (r0, d0), (r1, d1), (r2, d2) = calls
    assert (r0, d0) == (AUTO_TARGET_ACCEPT[0], 50)
    assert r1 == AUTO_TARGET_ACCEPT[0] and d1 > 50
    assert (r2, d2) == (AUTO_TARGET_ACCEPT[1], d1)
    assert model.target_accept_ == AUTO_TARGET_ACCEPT[1]
    assert model.convergence_.divergences == 0
    assert "2 divergent transitions in the longer run at target_accept 0.95" in (
        model.convergence_.note
    )


def _report(r_hat: float, ess_bulk: float, ess_tail: float) -> ConvergenceReport:
    table = pd.DataFrame(
        {"parameter": ["a", "b"], "curve": ["", ""], "r_hat": [1.001, r_hat],
         "ess_bulk": [4000.0, ess_bulk], "ess_tail": [4000.0, ess_tail]}
    )  # fmt: skip
    table["ok"] = (table["r_hat"] <= 1.01) & (table[["ess_bulk", "ess_tail"]].min(axis=1) >= 400)
    return ConvergenceReport(table, 0, 4000)


@pytest.mark.parametrize(
    ("r_hat", "ess_bulk", "ess_tail", "factor"),
    [
        (1.005, 300.0, 500.0, 2),  # 1.5 x 400 / 300 = 2
        (1.005, 380.0, 390.0, 2),  # a near miss: never less than EXTEND_FACTOR
        (1.012, 500.0, 500.0, 2),  # 1.5 x 1.2 = 1.8
        (1.029, 500.0, 206.0, 5),  # 1.5 x max(1.94, 2.9) = 4.35
        (1.02, 138.0, 56.0, 6),  # 1.5 x 7.1, capped at MAX_EXTEND_FACTOR
        (float("nan"), 100.0, 100.0, 6),
    ],
)
def test_the_longer_runs_length_follows_the_shortfall(r_hat, ess_bulk, ess_tail, factor):
    assert extend_factor(_report(r_hat, ess_bulk, ess_tail)) == factor


@pytest.mark.parametrize(
    "change", [{"check_convergence": False}, {"target_accept": 0.95}], ids=["no_check", "fixed"]
)
def test_no_longer_run_without_the_auto_policy_and_the_check(monkeypatch, change):
    curves = standard_curves().query("property == 'p0'")
    calls = _recording(monkeypatch, {}, key=_draws_and_tune)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ScalingLawModel(**{**SMALL, "chains": 2, **change}).fit(curves)
    assert calls == [(50, 50)]
    assert "sampled again with" not in model.convergence_.note


@pytest.mark.parametrize("alpha_misses", [True, False], ids=["derived_misses", "all_pass"])
def test_the_longer_run_is_decided_on_every_variable_of_the_report(monkeypatch, alpha_misses):
    """The fit's judge (every variable its report will hold, derived curve parameters
    included) decides: one derived element missing R-hat triggers the longer run, and a
    judge that passes everything keeps the first run (the sampled variables alone, with
    2 x 50 draws, would miss ESS 400 and be extended)."""
    import bayes_scaling.models.hierarchical as hierarchical
    from bayes_scaling.models import assemble

    curves = standard_curves().query("property == 'p0'")
    calls = _recording(monkeypatch, {}, key=_draws_and_tune)
    judged: list = []

    def judge(trace, **kwargs):
        report = assemble.fit_report(trace, **kwargs)
        judged.append(set(report.parameters))
        table = report.table.assign(ok=True)
        if alpha_misses:
            row = table.index[table["parameter"] == "alpha"][0]
            table.loc[row, ["r_hat", "ok"]] = [1.5, False]
        return type(report)(table, 0, report.n_draws)

    monkeypatch.setattr(hierarchical, "fit_report", judge)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ScalingLawModel(**{**SMALL, "check_convergence": True, "chains": 2}).fit(curves)
    assert len(judged) == 1 and {"alpha", "D", "C", "theta", "mu", "theta_raw"} <= judged[0]
    if alpha_misses:
        factor = _longer(calls)  # R-hat 1.5 misses by far: the longest run
        assert factor == MAX_EXTEND_FACTOR
        assert f"so the fit was sampled again with {50 * factor}" in model.convergence_.note
    else:
        assert calls == [(50, 50)]
        assert "sampled again" not in model.convergence_.note


@pytest.mark.parametrize("persists", [False, True], ids=["rejoined", "still_separate"])
def test_a_chain_in_a_separate_mode_restarts_every_chain_from_the_best(monkeypatch, persists):
    """A chain far below the others in log density (a minor mode: it stays there over a
    longer run) makes the policy sample again once, every chain starting from the last
    draw of the chain with the highest mean log density (a longer run starts there too);
    still separated, no longer run."""
    import bayes_scaling.models.hierarchical as hierarchical
    from bayes_scaling.models import assemble

    curves = standard_curves().query("property == 'p0'")
    traces: list = []
    starts: list = []
    real = sampling_policy.sample_model

    def recording(model, **kwargs):
        starts.append(kwargs["initial_values"])
        traces.append(real(model, **kwargs))
        traces[-1]["sample_stats"]["diverging"].values[:] = False  # the restart branch only
        return traces[-1]

    monkeypatch.setattr(sampling_policy, "sample_model", recording)
    judged: list = []

    def judge(trace, **kwargs):
        report = assemble.fit_report(trace, **kwargs)
        judged.append(report)
        separated = {0: 35.0} if persists or len(judged) == 1 else {}
        table = report.table.assign(ok=True)
        if len(judged) == 2 and not persists:  # rejoined, but still short of ESS: longer
            table.loc[table.index[0], ["ess_bulk", "ok"]] = [100.0, False]
        return type(report)(table, 0, report.n_draws, separated_chains=separated)

    monkeypatch.setattr(hierarchical, "fit_report", judge)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ScalingLawModel(**{**SMALL, "check_convergence": True, "chains": 2}).fit(curves)
    # the first run, the restart, and (rejoined, short of ESS) the longer run from the
    # restart's start
    assert len(judged) == 2 and len(traces) == (2 if persists else 3)
    first = traces[0]
    logp = first["sample_stats"]["logp"].mean("draw").values
    best = int(np.argmax(logp))
    restart = starts[1]
    free = {rv.name for rv in model.model_.free_RVs}
    assert set(restart) == free
    for name, value in restart.items():
        np.testing.assert_array_equal(
            value, first["posterior"][name].isel(chain=best, draw=-1).values
        )
    note = model.convergence_.note
    assert "chain 0: 35 units of log density below the best chain" in note
    assert "every chain was sampled again from the best chain's last draw" in note
    assert ("no longer run" in note) == persists
    longer = 50
    if not persists:
        found = re.search(r"sampled again with (\d+) and \1", note)
        assert starts[2] is restart and found
        longer = int(found.group(1))
        assert longer % 50 == 0 and EXTEND_FACTOR <= longer // 50 <= MAX_EXTEND_FACTOR
    assert model.convergence_.n_draws == 2 * longer
