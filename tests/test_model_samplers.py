"""Sampler start values: PyMC's jittered starts stay inside the support."""

from __future__ import annotations

import numpy as np

from bayes_scaling.models.samplers import _jitter


def test_jitter_keeps_small_positive_scales_positive():
    rng = np.random.default_rng(0)
    tau = np.full(10_000, 0.05)  # the clipped least-squares start of tau_curve
    out = _jitter(tau, rng)
    assert np.all(out > 0)
    assert 0.01 < np.std(np.log(out)) < 0.1  # still a real perturbation


def test_jitter_is_additive_for_unconstrained_values():
    rng = np.random.default_rng(1)
    theta = np.array([-1.0, 0.0, 2.0])
    out = _jitter(theta, rng)
    assert not np.allclose(out, theta)
    assert np.all(np.abs(out - theta) < 0.5)


def test_same_seed_gives_the_same_draws_with_a_cold_or_a_cached_compile():
    """Determinism given a seed must not depend on whether the graph was compiled before."""
    import numpy as np
    from _model_fits import fit, single_curve

    from bayes_scaling.models.samplers import clear_compile_cache

    curves = single_curve(rng=3)
    settings = dict(law="broken_power", draws=50, tune=50, random_seed=9)
    clear_compile_cache()
    cold = fit(curves, **settings)
    warm = fit(curves, **settings)
    for name in ("theta", "log_sigma", "log_break"):
        np.testing.assert_array_equal(
            cold.idata["posterior"][name].values, warm.idata["posterior"][name].values, name
        )
