"""Experimental size m in the pooling (issue 14 item 3): the m slope of the curve parameters.

A task measured at several experimental sizes ``m`` has curves that differ systematically
(steep with few experiments, flat with many). The covariate is derived from the table
(``m``, the full split's ``n_train``; none for scratch curves) and used only where some task
has two or more ``m``; a simulated set with a known slope is recovered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _model_fits import fit

from bayes_scaling.curves import curve_ids
from bayes_scaling.models._data import curve_m, m_covariate, prepare
from bayes_scaling.models.predict import new_log_m
from bayes_scaling.simulate import DEFAULT_N_GRID, simulate_curves

#: True change per unit of centred log m: log e_ref, logit gap share, log alpha.
SLOPE = {"log_e_ref": -0.15, "logit_gap": 0.8, "log_alpha": -0.25}
M_LEVELS = (25, 100, 400, 1600)


def m_curves(seed: int = 3) -> tuple[pd.DataFrame, float]:
    """2 properties x 2 databases, each at 4 experimental sizes m, with a known m slope."""
    rng = np.random.default_rng(seed)
    log_n_ref = float(np.mean(np.log(DEFAULT_N_GRID)))
    log_m = np.log(M_LEVELS)
    centre = float(log_m.mean())
    rows = []
    for prop in ("p0", "p1"):
        for db in ("db0", "db1"):
            base = {
                "log_e_ref": np.log(0.4) + 0.2 * rng.standard_normal(),
                "logit_gap": -0.5 + 0.3 * rng.standard_normal(),
                "log_alpha": np.log(0.4) + 0.1 * rng.standard_normal(),
            }
            for m, lm in zip(M_LEVELS, log_m, strict=True):
                t = {k: v + SLOPE[k] * (lm - centre) for k, v in base.items()}
                e_ref, g, alpha = (
                    np.exp(t["log_e_ref"]),
                    1 / (1 + np.exp(-t["logit_gap"])),
                    np.exp(t["log_alpha"]),
                )
                rows.append({
                    "property": prop, "database": db, "m": m, "pair": f"{prop}_{db}",
                    "D": (1 - g) * e_ref * np.exp(alpha * log_n_ref), "alpha": alpha,
                    "C": g * e_ref, "sigma": 0.03,
                })  # fmt: skip
    return simulate_curves(pd.DataFrame(rows), seeds=3, rng=seed), centre


def test_covariate_from_m_and_the_full_split():
    curves, centre = m_curves()
    cid = curve_ids(curves)
    ids = list(dict.fromkeys(cid))
    log_m, c, why = m_covariate(curves, cid, ids)
    assert why == "" and c == pytest.approx(centre)
    np.testing.assert_allclose(np.sort(np.unique(log_m)), np.log(M_LEVELS) - centre)
    # the full split (m missing) takes its n_train when (nearly) constant; scratch gets none
    t = curves.copy()
    t["m"] = t["m"].astype("Int64")
    full = t["m"] == 1600
    t.loc[full, "m"] = pd.NA
    t["n_train"] = t["m"].astype("Float64").fillna(1600).astype(int)
    t.loc[full, "n_train"] = np.where(t.loc[full, "seed"] % 2 == 0, 1580, 1620)
    cid = curve_ids(t)
    m = curve_m(t, cid, list(dict.fromkeys(cid)))
    np.testing.assert_allclose(np.sort(m.unique()), M_LEVELS, rtol=0.02)  # median n_train
    scratch = t.assign(kind="scratch", strategy="scratch")
    assert (
        curve_m(scratch, curve_ids(scratch), list(dict.fromkeys(curve_ids(scratch)))).isna().all()
    )


def test_no_slope_when_every_task_has_one_m():
    curves, _ = m_curves()
    one = curves[curves["m"] == 100].copy()
    one.loc[one["pair"] == "p0_db0", "m"] = 25  # m differs only between tasks
    data = prepare(one, None)
    assert not data.has_m_slope and "no task" in data.m_slope_note
    assert prepare(curves, None).has_m_slope


def test_new_curves_are_placed_on_the_fit_s_log_m():
    curves, centre = m_curves()
    data = prepare(curves, None)
    new = pd.DataFrame({"m": [100, None], "kind": ["transfer", "transfer"]})
    np.testing.assert_allclose(new_log_m(new, data), [np.log(100) - centre, 0.0])
    assert new_log_m(pd.DataFrame({"kind": ["scratch"], "m": [100]}), data)[0] == 0.0


@pytest.mark.slow
def test_m_slope_is_recovered():
    curves, _ = m_curves()
    model = fit(curves, groups=["property", "database"], draws=500, tune=500)
    slope = model.idata["posterior"]["m_slope"]
    lo = slope.quantile(0.05, ("chain", "draw"))
    hi = slope.quantile(0.95, ("chain", "draw"))
    for j, p in enumerate(slope["param"].values):
        assert float(lo[j]) <= SLOPE[str(p)] <= float(hi[j]), (p, float(lo[j]), float(hi[j]))
    # the decay rate's change with m is told apart from zero
    k = list(slope["param"].values).index("log_alpha")
    assert float(hi[k]) < 0
    # and the sampled slope is part of the all-parameter convergence check
    assert "m_slope" in model.convergence_.parameters
