"""Law comparison with LOO, transfer-gap evidence, gap probabilities, the broken power law."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _model_fits import fit, standard_curves, standard_fit, standard_params

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models import compare_models, transfer_gap_evidence
from bayes_scaling.simulate import simulate_curves

pytestmark = [
    pytest.mark.integration,
    # a few points per curve: PSIS-LOO flags influential points, expected here
    pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto"),
]
#: normalised error level asked about in P(C > GAP_LEVEL)
GAP_LEVEL = 0.02


@pytest.fixture(scope="module")
def gap_models():
    """The standard curves have a clear gap (C in 0.08-0.65); fit with and without it."""
    return {"power_gap": standard_fit(), "power": fit(standard_curves(), law="power")}


@pytest.fixture(scope="module")
def no_gap_model():
    """Curves with C = 0 and strong decay (alpha 0.8-1.0), same shape as the standard set."""
    p = standard_params().assign(C=0.0, alpha=[0.8, 0.9, 1.0, 0.85, 0.95, 0.8])
    p["D"] = 0.6 * 16.0 ** p["alpha"]  # error 0.6 at n = 16, about 1e-3 at n = 1e5
    curves = simulate_curves(p.assign(sigma=0.05), seeds=5, rng=21)
    return fit(curves, draws=200, tune=200)


def test_elpd_prefers_the_gap_when_there_is_one(gap_models):
    table = compare_models(gap_models)
    assert list(table.index) == ["power_gap", "power"]
    ev = transfer_gap_evidence(gap_models, threshold=GAP_LEVEL)
    assert ev.elpd_diff > 4 * ev.elpd_diff_se > 0
    assert "favour a transfer gap" in ev.sentence
    assert (ev.gap["prob"] > 0.99).all()
    assert len(ev.gap) == 6 and ev.threshold == GAP_LEVEL


def test_power_law_has_no_gap(gap_models):
    power = gap_models["power"]
    assert "gap_fraction" not in power.idata["posterior"]
    assert (power.idata["posterior"]["C"].values == 0).all()
    assert (power.gap_probability(0.0)["prob"] == 0).all()
    assert "C" not in set(power.summary(level="curve")["parameter"])


def test_no_gap_curves_give_small_gap_probability(no_gap_model):
    gp = no_gap_model.gap_probability(GAP_LEVEL)
    assert (gp["prob"] < 0.05).all(), gp
    assert (gp["C_median"] < GAP_LEVEL).all()
    # the standard curves do have a gap above that level
    assert (standard_fit().gap_probability(GAP_LEVEL)["prob"] > 0.99).all()


def test_gap_probability_table(gap_models):
    model = gap_models["power_gap"]
    thresholds = [0.0, 0.05, 0.2, 0.5, 5.0]
    gp = model.gap_probability(thresholds)
    assert list(gp.columns) == ["curve", "threshold", "scale", "prob", "C_median"]
    assert len(gp) == 6 * len(thresholds)
    assert gp["prob"].between(0, 1).all()
    wide = gp.pivot(index="curve", columns="threshold", values="prob")
    assert (wide[0.0] == 1.0).all() and (wide[5.0] == 0.0).all()
    assert (np.diff(wide.to_numpy(), axis=1) <= 0).all()
    # P(C > t) is the posterior mean of the indicator
    C = model._flat("C")
    np.testing.assert_allclose(wide.loc[model.curve_ids_, 0.2].to_numpy(), (C > 0.2).mean(axis=0))
    # original scale: thresholds in the property's units
    ts = model.curves_["target_scale"]
    for cid in model.curve_ids_[:2]:
        orig = model.gap_probability(0.2 * ts[cid], scale="original").set_index("curve")
        assert orig.loc[cid, "prob"] == pytest.approx(wide.loc[cid, 0.2])
        assert orig.loc[cid, "C_median"] == pytest.approx(
            np.median(C[:, model.curve_ids_.index(cid)]) * ts[cid]
        )


def test_gap_posterior_recovers_c(gap_models):
    model = gap_models["power_gap"]
    s = model.summary(level="curve", prob=0.99)
    c = s[(s["parameter"] == "C") & (s["scale"] == "normalised")].set_index("name")
    p = standard_params()
    inside = 0
    for _, row in p.iterrows():
        cid = next(i for i in c.index if i.startswith(f"{row['property']}|{row['database']}|"))
        inside += c.loc[cid, "lower"] < row["C"] < c.loc[cid, "upper"]
    assert inside >= 5


@pytest.fixture(scope="module")
def broken():
    p = standard_params().assign(alpha2=lambda d: d["alpha"] * 1.8, n_break=2000.0)
    return fit(simulate_curves(p, rng=8), law="broken_power", draws=150, tune=150)


def test_broken_power_law_fits(broken, gap_models):
    post = broken.idata["posterior"]
    for name in ("D", "alpha", "C", "alpha_1", "n_break", "log_alpha2", "log_break"):
        assert name in post, name
        assert np.isfinite(post[name].values).all(), name
    # the large-n exponent is alpha2; alpha_1 is the slope before the break
    np.testing.assert_allclose(post["alpha"].values, np.exp(post["log_alpha2"].values))
    nb = post["n_break"].values
    assert ((nb > 0) & np.isfinite(nb)).all()
    s = broken.summary()
    assert {"alpha_1", "n_break"} <= set(s["parameter"])
    pred = broken.predict([16.0, 1e3, 1e7])
    assert np.isfinite(pred[["lower", "median", "upper"]].to_numpy()).all()
    new = pd.DataFrame({"property": ["p0"], "database": ["db1"], "strategy": ["feature"]})
    assert np.isfinite(broken.predict([1e4], new)["median"]).all()


def test_compare_models_checks_its_input(gap_models, broken):
    with pytest.raises(BayesScalingError, match="at least two"):
        compare_models({"power": gap_models["power"]})
    with pytest.raises(BayesScalingError, match="different curve tables"):
        compare_models({"power": gap_models["power"], "broken": broken})
    with pytest.raises(BayesScalingError, match="needs a fitted 'power' model"):
        transfer_gap_evidence(
            {"power_gap": gap_models["power_gap"], "broken": gap_models["power_gap"]}
        )
