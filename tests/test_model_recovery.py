"""Parameter recovery on simulated curves: coverage, shrinkage with data, default-settings fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _model_fits import fit, standard_curves, standard_params

from bayes_scaling.curves import curve_ids
from bayes_scaling.models import ScalingLawModel
from bayes_scaling.simulate import draw_curve_params, simulate_curves

pytestmark = [pytest.mark.slow, pytest.mark.integration]
PARAMS = ("D", "alpha", "C")


def _truth(curves: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """True D, alpha, C indexed by curve id."""
    keys = curves.drop_duplicates(["property", "database"])
    t = params.set_index(["property", "database"])
    rows = t.loc[list(zip(keys["property"], keys["database"], strict=True))]
    return rows.set_index(pd.Index(curve_ids(keys).to_numpy(), name="curve"))


def _intervals(model: ScalingLawModel, prob: float = 0.9) -> pd.DataFrame:
    s = model.summary(level="curve", prob=prob)
    return s[s["parameter"].isin(PARAMS) & (s["scale"] != "original")]


@pytest.fixture(scope="module")
def eighteen():
    """18 curves (6 properties x 3 databases) fitted with the default settings."""
    params = draw_curve_params(6, 3, rng=2024)
    curves = simulate_curves(params, rng=2025)
    model = ScalingLawModel(random_seed=7).fit(curves)
    return model, _truth(curves, params)


def test_default_fit_of_18_curves_converges(eighteen):
    model, _ = eighteen
    rep = model.convergence
    assert model.chains == 4 and model.draws == 1000 and model.centring == "auto"
    assert model.target_accept == "auto" and model.priors is None  # package defaults
    assert rep.divergences == 0, rep.message
    assert rep.worst_rhat <= 1.01, rep.message
    assert rep.min_ess_bulk >= 400 and rep.min_ess_tail >= 400, rep.message
    # every sampled parameter is checked, hyper-parameters included
    sampled = {rv.name for rv in model.model_.free_RVs}
    assert sampled <= set(rep.parameters), sampled - set(rep.parameters)
    assert rep.ok and {"D", "alpha", "C"} <= set(rep.parameters)


def test_90_percent_intervals_cover_the_truth(eighteen):
    model, truth = eighteen
    iv = _intervals(model)
    hits = []
    for _, row in iv.iterrows():
        t = truth.loc[row["name"], row["parameter"]]
        hits.append(row["lower"] <= t <= row["upper"])
    assert len(hits) == 54
    coverage = float(np.mean(hits))
    # nominal 0.9; with 54 correlated checks, 0.8 is the agreed floor
    assert coverage >= 0.8, coverage


def test_posterior_tightens_with_more_seeds():
    params = standard_params()
    errors, widths = {}, {}
    for seeds in (2, 10):
        curves = standard_curves(seeds=seeds, rng=30 + seeds)
        model = fit(curves, random_seed=seeds, draws=200, tune=250)
        iv = _intervals(model)
        truth = _truth(curves, params)
        log_err, log_width = [], []
        for _, row in iv.iterrows():
            t = truth.loc[row["name"], row["parameter"]]
            log_err.append(abs(np.log(row["median"]) - np.log(t)))
            log_width.append(np.log(row["upper"]) - np.log(row["lower"]))
        errors[seeds], widths[seeds] = np.mean(log_err), np.mean(log_width)
    # 5x the seeds: about sqrt(5) = 2.2x narrower; demand at least 1.5x
    assert widths[10] < widths[2] / 1.5, widths
    assert errors[10] < errors[2], errors
