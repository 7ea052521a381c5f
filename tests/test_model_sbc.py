"""Simulation-based calibration (Talts et al. 2018) of the single-curve fit.

Draw parameters from the prior, simulate a curve, fit it with :class:`ScalingLawModel` exactly
as users do (least-squares start, nutpie, seed aggregation), and rank the true value among the
posterior draws. If simulation, model and sampler agree, the ranks are uniform. The same check
must fail when the parameters come from a different prior than the model's.

Why not ``simuk.SBC``: it refits through ``pm.sample`` on ``pm.observe(model)``, which compiles a
new sampler for every simulation (about 10 s each here, against 0.3 s for a refit that reuses
the cached nutpie model), and it would check PyMC's sampler rather than this package's fitting
path. Its rank convention is the same (count of posterior draws below the reference draw).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from _model_fits import SINGLE_GRID, SINGLE_SEEDS
from scipy import stats

from bayes_scaling.models import Priors, ScalingLawModel
from bayes_scaling.models.diagnostics import ConvergenceWarning
from bayes_scaling.models.laws import get_law
from bayes_scaling.simulate import simulate_curves

pytestmark = [pytest.mark.slow, pytest.mark.integration]
QUANTITIES = ("log_e_ref", "logit_gap", "log_alpha", "log_sigma")
FIT = {"draws": 200, "tune": 300, "chains": 2, "check_convergence": False}
THIN = 4  # 400 draws -> 100 roughly independent ones


def _prior_draw(
    priors: Priors, rng: np.random.Generator, point_noise: bool = False
) -> dict[str, float]:
    """One draw from the single-curve model's prior (theta ~ Normal(loc, scale)).

    With ``point_noise`` also the shared point noise, ``tau_point ~ HalfNormal(point_sd)``
    (drawn after the others, so the other draws are those of the model without it).
    """
    out = {p: rng.normal(*priors.location(p)) for p in QUANTITIES[:3]}
    out["log_sigma"] = rng.normal(*priors.log_sigma)
    out["tau_point"] = abs(rng.normal(0.0, priors.point_sd)) if point_noise else 0.0
    return out


def _simulate(truth: dict[str, float], rng: np.random.Generator) -> pd.DataFrame:
    log_n_ref = float(np.mean(np.log(SINGLE_GRID)))
    D, alpha, C = get_law("power_gap").dac({k: np.asarray(v) for k, v in truth.items()}, log_n_ref)
    params = pd.DataFrame(
        {
            "property": ["tg"],
            "database": ["radonpy"],
            "D": [float(D)],
            "alpha": [float(alpha)],
            "C": [float(C)],
            "sigma": [math.exp(truth["log_sigma"])],
        }
    )
    return simulate_curves(
        params, n_grid=SINGLE_GRID, seeds=SINGLE_SEEDS, point_noise=truth["tau_point"], rng=rng
    )


def run_sbc(
    generating: Priors, n_sims: int, seed: int, *, point_noise: bool = False
) -> tuple[pd.DataFrame, int]:
    """Ranks of the true parameters (one row per simulation) and the number of draws L.

    ``point_noise``: the model with the noise shared by a point's seeds (``tau_point``,
    ranked too), simulated with a ``tau_point`` drawn from its prior.
    """
    rng = np.random.default_rng(seed)
    rows = []
    quantities = QUANTITIES + (("tau_point",) if point_noise else ())
    for i in range(n_sims):
        truth = _prior_draw(generating, rng, point_noise)
        curves = _simulate(truth, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = ScalingLawModel(
                random_seed=seed * 1000 + i, point_noise=point_noise, **FIT
            ).fit(curves)
        post = model.idata["posterior"]
        theta = post["theta"].values[:, ::THIN, 0, :].reshape(-1, 3)
        draws = {
            "log_e_ref": theta[:, 0],
            "logit_gap": theta[:, 1],
            "log_alpha": theta[:, 2],
            "log_sigma": post["log_sigma"].values[:, ::THIN, 0].ravel(),
        }
        if point_noise:
            draws["tau_point"] = post["tau_point"].values[:, ::THIN, 0].ravel()
        rows.append({q: int((draws[q] < truth[q]).sum()) for q in quantities})
    return pd.DataFrame(rows), len(draws["log_sigma"])


def uniformity_pvalues(ranks: pd.DataFrame, n_draws: int) -> dict[str, float]:
    """KS test of the (jittered-to-continuous) normalised ranks against Uniform(0, 1)."""
    out = {}
    for q in ranks.columns:
        u = (ranks[q].to_numpy() + 0.5) / (n_draws + 1)
        out[q] = float(stats.kstest(u, "uniform").pvalue)
    return out


def test_ranks_are_uniform_under_the_models_prior():
    ranks, L = run_sbc(Priors(), n_sims=60, seed=5)
    assert ranks.to_numpy().min() >= 0 and ranks.to_numpy().max() <= L
    p = uniformity_pvalues(ranks, L)
    # four quantities: a per-quantity level of 0.001 keeps false alarms below 0.5 %
    assert min(p.values()) > 0.001, p
    for q in QUANTITIES:
        frac_low = float((ranks[q] < L / 2).mean())
        assert 0.25 < frac_low < 0.75, (q, frac_low)


def test_ranks_are_uniform_with_the_shared_point_noise():
    """The model with ``tau_point`` (integrated out of the aggregated likelihood) is calibrated."""
    ranks, L = run_sbc(Priors(), n_sims=60, seed=7, point_noise=True)
    p = uniformity_pvalues(ranks, L)
    # five quantities: a per-quantity level of 0.001 keeps false alarms below 0.5 %
    assert min(p.values()) > 0.001, p
    for q in ranks.columns:
        frac_low = float((ranks[q] < L / 2).mean())
        assert 0.25 < frac_low < 0.75, (q, frac_low)


def test_point_noise_check_fails_when_tau_comes_from_a_wider_prior():
    # shared point noise four times the model's prior scale: the posterior of tau_point,
    # pulled towards the prior, sits below the truth
    ranks, L = run_sbc(Priors(point_sd=0.4), n_sims=30, seed=7, point_noise=True)
    p = uniformity_pvalues(ranks, L)
    assert p["tau_point"] < 1e-4, p
    assert float(ranks["tau_point"].mean()) / L > 0.65


def test_check_fails_when_the_data_come_from_another_prior():
    # true curves nearly flat (alpha about 0.05) with a large gap (g about 0.98): the data
    # barely inform alpha and the gap, so the model's prior pulls alpha up and the gap down
    wrong = Priors(log_alpha=(math.log(0.05), 0.2), logit_gap=(4.0, 0.3))
    ranks, L = run_sbc(wrong, n_sims=20, seed=2)
    p = uniformity_pvalues(ranks, L)
    assert p["log_alpha"] < 1e-6, p
    assert float(ranks["log_alpha"].mean()) / L < 0.2  # truth below the posterior
    assert float(ranks["logit_gap"].mean()) / L > 0.7  # truth above it
