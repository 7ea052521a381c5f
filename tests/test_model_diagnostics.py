"""Convergence report: thresholds, warnings on bad fits, the table of a good fit."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr
from _model_fits import single_long_fit, standard_curves, standard_fit

from bayes_scaling.models import ConvergenceReport, ConvergenceWarning, ScalingLawModel
from bayes_scaling.models.diagnostics import (
    MAX_RHAT,
    MIN_ESS,
    ess_rows,
    max_tree_depth_fraction,
    rank_diagnostics,
)

pytestmark = pytest.mark.integration


def _tree(values: np.ndarray, diverging: np.ndarray | None = None) -> xr.DataTree:
    """A fake fit: D, alpha, C with dims (chain, draw, curve) and sample stats."""
    chains, draws, curves = values.shape
    coords = {
        "chain": np.arange(chains),
        "draw": np.arange(draws),
        "curve": [f"c{i}" for i in range(curves)],
    }
    dims = ("chain", "draw", "curve")
    post = xr.Dataset(
        {"D": (dims, np.exp(values)), "alpha": (dims, values + 5.0), "C": (dims, values**2 + 1.0)},
        coords=coords,
    )
    div = np.zeros((chains, draws), bool) if diverging is None else diverging
    stats = xr.Dataset(
        {"diverging": (("chain", "draw"), div)},
        coords={"chain": coords["chain"], "draw": coords["draw"]},
    )
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def test_report_of_well_mixed_draws_is_ok():
    rng = np.random.default_rng(0)
    rep = ConvergenceReport.from_idata(_tree(rng.standard_normal((4, 1000, 3))))
    assert rep.ok and rep.divergences == 0 and rep.n_draws == 4000
    assert list(rep.table.columns) == ["parameter", "curve", "r_hat", "ess_bulk", "ess_tail", "ok"]
    assert len(rep.table) == 9 and set(rep.table["curve"]) == {"c0", "c1", "c2"}
    assert rep.worst_rhat <= MAX_RHAT and rep.min_ess_bulk >= MIN_ESS
    assert rep.message.startswith("Sampler converged")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep.warn()


def test_report_flags_each_failure():
    rng = np.random.default_rng(1)
    v = rng.standard_normal((4, 1000, 3))
    v[0, :, 1] += 3.0  # one chain of curve c1 elsewhere: R-hat fails
    div = np.zeros((4, 1000), bool)
    div[2, 10:13] = True
    rep = ConvergenceReport.from_idata(_tree(v, div))
    assert not rep.ok and rep.divergences == 3
    bad = rep.table[~rep.table["ok"]]
    assert set(bad["curve"]) == {"c1"}
    assert "3 divergent transitions" in rep.message
    assert "R-hat > 1.01 for D[c1]" in rep.message
    assert "SAMPLER DID NOT CONVERGE" in str(rep)
    with pytest.warns(ConvergenceWarning, match="DID NOT CONVERGE"):
        rep.warn()
    # few draws: ESS fails
    short = ConvergenceReport.from_idata(_tree(rng.standard_normal((2, 50, 1))))
    assert not short.ok and "ESS < 400" in short.message
    # the thresholds are settings
    lax = ConvergenceReport.from_idata(
        _tree(rng.standard_normal((2, 50, 1))), min_ess=10, max_rhat=1.2
    )
    assert lax.ok


def test_a_known_report_is_reused_and_gives_the_same_table():
    """The fit reuses the sampler's report of the sampled variables for its final report."""
    import pandas as pd

    rng = np.random.default_rng(4)
    v = rng.standard_normal((4, 300, 3))
    v[1, :, 2] += 2.0  # one bad element, so the order of failures matters too
    full = _tree(v)
    part = full.copy()
    part["posterior"] = full["posterior"].to_dataset()[["alpha"]]
    known = ConvergenceReport.from_idata(part)
    assert known.parameters == ["alpha"]
    fresh = ConvergenceReport.from_idata(full)
    reused = ConvergenceReport.from_idata(full, known=known)
    pd.testing.assert_frame_equal(reused.table, fresh.table)
    assert reused.message == fresh.message and not reused.ok
    # a report on other variables than the posterior's is not invented into it
    only_c = ConvergenceReport.from_idata(full, var_names=["C"], known=known)
    assert only_c.parameters == ["C"]
    with pytest.raises(ValueError, match="other thresholds"):
        ConvergenceReport.from_idata(full, known=known, min_ess=100)
    # the fitted model's report is the report computed from scratch
    model = standard_fit()
    pd.testing.assert_frame_equal(
        model.convergence.table, ConvergenceReport.from_idata(model.idata).table
    )


@pytest.mark.parametrize("n_draw", [1000, 301])
def test_batched_rank_diagnostics_equal_arviz(n_draw):
    """The batched rank normalisation gives ArviZ's R-hat, bulk ESS and tail ESS, element by
    element: ties, a stuck chain, a slowly drifting chain, an odd number of draws."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4, n_draw, 3, 2))
    x[..., 0, 0] = np.round(x[..., 0, 0])  # many ties
    x[1, :, 1, 0] += 3.0  # a chain elsewhere: R-hat far above 1
    x[..., 2, 1] = np.cumsum(x[..., 2, 1], axis=1) * 0.1  # strong autocorrelation
    post = xr.Dataset(
        {"a": (("chain", "draw", "i", "j"), x), "b": (("chain", "draw"), x[..., 0, 1] ** 2)}
    )
    r_az, e_az = az.rhat(post), az.ess(post, method="bulk")
    t_az = az.ess(post, method="tail")
    for name in post.data_vars:
        da = post[name]
        flat = da.values.reshape(4, n_draw, -1).transpose(2, 0, 1)
        r, e, t = rank_diagnostics(flat)
        np.testing.assert_allclose(r, r_az[name].values.ravel(), rtol=1e-12)
        np.testing.assert_allclose(e, e_az[name].values.ravel(), rtol=1e-12)
        np.testing.assert_allclose(t, t_az[name].values.ravel(), rtol=1e-12)
    assert r_az["a"].values[1, 0] > 1.2  # the stuck chain is in the comparison
    assert t_az["a"].values[2, 1] < 0.1 * n_draw  # so is a low tail ESS
    tree = xr.DataTree.from_dict({"posterior": post})
    table = ConvergenceReport.from_idata(tree).table
    for column, ref in (("r_hat", r_az), ("ess_tail", t_az)):
        np.testing.assert_allclose(
            table.loc[table["parameter"] == "a", column], ref["a"].values.ravel(), rtol=1e-12
        )


@pytest.mark.parametrize("n_draw", [2, 3, 4, 5, 6, 11, 50, 301])
@pytest.mark.parametrize("chains", [1, 2, 4])
def test_vectorised_ess_and_rank_diagnostics_equal_arviz_in_edge_cases(n_draw, chains):
    """ArviZ's ESS (Geyer's sequences) and rank diagnostics, element by element, across
    autocorrelations from strongly negative to near a random walk, with ties, a constant
    element, an element with a NaN draw, a binary element, a stuck chain, few draws (under
    ArviZ's minimum of 4: NaN) and one chain (R-hat NaN)."""
    from arviz_stats.base import array_stats

    rng = np.random.default_rng(n_draw * 10 + chains)
    for phi in (-0.7, 0.0, 0.5, 0.9, 0.99):
        e = rng.normal(size=(7, chains, n_draw))
        x = np.zeros_like(e)
        for t in range(n_draw):
            x[..., t] = (phi * x[..., t - 1] if t else 0.0) + e[..., t]
        x[1] = np.round(x[1])
        x[2, 0] += 5.0
        x[3] = 1.0
        if n_draw > 3:
            x[4, 0, 2] = np.nan
        x[5] = (x[5] > 0.3).astype(float)
        x[6, -1] = 2.0
        if n_draw >= 4:
            want = [float(array_stats.ess(row, method="identity")) for row in x]
            np.testing.assert_allclose(ess_rows(x), want, rtol=1e-12, equal_nan=True)
        got = rank_diagnostics(x)
        for i, method in enumerate(("rank", "bulk", "tail")):
            want = [
                float(array_stats.rhat(row, method="rank"))
                if method == "rank"
                else float(array_stats.ess(row, method=method, prob=0.89 if i == 2 else None))
                for row in x
            ]
            np.testing.assert_allclose(got[i], want, rtol=1e-10, equal_nan=True)


def test_report_matches_arviz_on_a_fit():
    model = standard_fit()
    rep = model.convergence
    # every sampled parameter (hyper-parameters, spreads, group effects, noise) is checked,
    # and the derived curve parameters with them
    sampled = {rv.name for rv in model.model_.free_RVs}
    assert sampled and sampled <= set(rep.parameters), sampled - set(rep.parameters)
    assert {"D", "alpha", "C", "mu", "tau_curve", "log_sigma"} <= set(rep.parameters)
    per_curve = rep.table[rep.table["parameter"].isin(["D", "alpha", "C"])]
    assert len(per_curve) == 3 * 6 and set(per_curve["curve"]) == set(model.curve_ids_)
    post = model.idata["posterior"].to_dataset()
    rhat = az.rhat(post[["C"]])["C"].to_series()
    got = rep.table[rep.table["parameter"] == "C"].set_index("curve")["r_hat"]
    np.testing.assert_allclose(got.loc[rhat.index].to_numpy(), rhat.to_numpy())
    # the summary's diagnostics (computed by the same batched routine) are ArviZ's too
    summ = model.summary(level="curve").query("parameter == 'alpha'").set_index("name")
    alpha = post[["alpha"]]
    for column, ref in (
        ("r_hat", az.rhat(alpha)),
        ("ess_bulk", az.ess(alpha, method="bulk")),
        ("ess_tail", az.ess(alpha, method="tail")),
    ):
        want = ref["alpha"].to_series()
        np.testing.assert_allclose(summ.loc[want.index, column], want.to_numpy(), rtol=1e-10)
    assert rep.divergences == int(model.idata["sample_stats"]["diverging"].sum())
    assert rep.n_draws == 600
    assert f"{rep.divergences} divergences" in rep.message
    assert 0.0 <= max_tree_depth_fraction(model.idata) <= 1.0


def test_a_stuck_hyper_parameter_alone_fails_the_fit_and_is_named():
    """Curve parameters that mix well do not hide a hyper-parameter that does not."""
    rng = np.random.default_rng(3)
    tree = _tree(rng.standard_normal((4, 1000, 3)))
    post = tree["posterior"].to_dataset()
    tau = rng.standard_normal((4, 1000, 2)) * 0.1 + 1.0
    tau[1] += 0.5  # one chain stuck elsewhere
    post["tau_property"] = (("chain", "draw", "param"), tau)
    post = post.assign_coords(param=["log_e_ref", "log_alpha"])
    tree = xr.DataTree.from_dict(
        {"posterior": post, "sample_stats": tree["sample_stats"].to_dataset()}
    )
    rep = ConvergenceReport.from_idata(tree)
    assert not rep.ok
    curves_ok = rep.table[rep.table["parameter"].isin(["D", "alpha", "C"])]["ok"]
    assert curves_ok.all()
    assert "R-hat > 1.01 for tau_property[" in rep.message
    assert "tau_property[log_e_ref]" in rep.message and "tau_property[log_alpha]" in rep.message
    assert rep.worst(1)["parameter"].item() == "tau_property"
    with pytest.warns(ConvergenceWarning, match=r"tau_property\[log_alpha\]"):
        rep.warn()
    # constant elements (a factor's only level, C of a no-gap law) are skipped, not failed
    post["fixed"] = (("chain", "draw"), np.ones((4, 1000)))
    tree = xr.DataTree.from_dict({"posterior": post})
    assert "fixed" not in ConvergenceReport.from_idata(tree).parameters


def test_bad_fit_warns():
    model = ScalingLawModel(draws=20, tune=5, chains=2, random_seed=0)
    with pytest.warns(ConvergenceWarning, match="SAMPLER DID NOT CONVERGE") as record:
        model.fit(standard_curves())
    assert not model.convergence.ok
    assert "ESS < 400" in model.convergence.message
    worst = model.convergence.worst(3)
    assert (worst["badness"] > 1).all()  # the named offenders really fail
    assert worst["parameter"].iloc[0] in model.convergence.message
    assert record[0].filename == __file__  # points at the caller's fit() line
    # no warning when the check is off, but the report still says so
    quiet = ScalingLawModel(draws=20, tune=5, chains=2, random_seed=0, check_convergence=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        quiet.fit(standard_curves())
    assert not quiet.convergence.ok


def test_healthy_single_curve_fit():
    """2 x 1000 draws of one curve: no divergences, R-hat fine, ESS at least 10 % of draws.

    The full thresholds (ESS >= 400 for every curve) on a default-settings fit are checked
    by the slow 18-curve test in ``test_model_recovery.py``.
    """
    rep = single_long_fit().convergence
    assert rep.divergences == 0
    assert rep.worst_rhat <= 1.01
    assert rep.min_ess_bulk >= 200 and rep.min_ess_tail >= 200
    assert rep.table[["r_hat", "ess_bulk", "ess_tail"]].notna().all().all()


def _with_logp(tree: xr.DataTree, logp: np.ndarray) -> xr.DataTree:
    stats = tree["sample_stats"].to_dataset().assign(logp=(("chain", "draw"), logp))
    return xr.DataTree.from_dict(
        {"posterior": tree["posterior"].to_dataset(), "sample_stats": stats}
    )


def test_a_chain_in_a_minor_mode_is_named_with_its_log_density_gap():
    """One chain 35 units of log density below the others (as on the 130 bundled scarce
    curves): named in the report, which fails and advises another seed; chains that mix
    (means a unit apart, autocorrelated draws) are not flagged."""
    from bayes_scaling.models.diagnostics import chain_separation

    rng = np.random.default_rng(5)
    tree = _tree(rng.standard_normal((4, 1000, 3)))
    noise = rng.normal(0.0, 15.0, size=(4, 1000))
    mixing = 26764.0 + noise + np.array([0.0, 1.0, -1.0, 0.5])[:, None]
    report = ConvergenceReport.from_idata(_with_logp(tree, mixing))
    assert report.separated_chains == {} and report.ok
    stuck = mixing.copy()
    stuck[2] -= 35.0
    report = ConvergenceReport.from_idata(_with_logp(tree, stuck))
    assert set(report.separated_chains) == {2}
    gap = stuck.mean(axis=1).max() - stuck[2].mean()  # below the best chain's mean
    assert report.separated_chains[2] == pytest.approx(gap) and gap > 35.0
    assert not report.ok  # the draws' R-hat alone (well mixed here) would have passed
    assert "chain 2 (" in report.message and "another random_seed" in report.message
    # a small gap that the chains' own noise explains is not a separation
    near = mixing.copy()
    near[2] -= 3.0
    assert chain_separation(_with_logp(tree, near)["sample_stats"].to_dataset()) == {}
    # no log density recorded (PyMC's name "lp" is read too): nothing to say
    assert ConvergenceReport.from_idata(tree).separated_chains == {}
    lp = _with_logp(tree, stuck)["sample_stats"].to_dataset().rename({"logp": "lp"})
    assert set(chain_separation(lp)) == {2}
