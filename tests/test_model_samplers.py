"""Sampler start values (PyMC's jittered starts stay inside the support) and determinism."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

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


_FIT_AND_HASH = """
import hashlib, warnings
import numpy as np
from bayes_scaling.models import ScalingLawModel
from bayes_scaling.simulate import draw_curve_params, simulate_curves
curves = simulate_curves(draw_curve_params(3, 2, rng=5), seeds=3, rng=6)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model = ScalingLawModel(draws=100, tune=100, random_seed=11, check_convergence=False)
    model.fit(curves)
post = model.idata["posterior"]
from bayes_scaling.models import samplers
(compiled,) = samplers._COMPILED.values()
print(compiled.compiled_logp_func.cache_hits, compiled.compiled_expand_func.cache_hits)
print(hashlib.sha256(b"".join(np.ascontiguousarray(post[v].values).tobytes()
                              for v in sorted(post.data_vars))).hexdigest())
"""


@pytest.mark.slow
def test_same_seed_gives_the_same_draws_with_numbas_disk_cache_empty_or_full(tmp_path):
    """A machine's first fit of a structure (numba compiles PyTensor's graph afresh, inlined
    into nutpie's callback) and a later process (the graph and nutpie's two callbacks loaded
    from the on-disk cache) give the same draws. With PyTensor's fast-math default they did
    not: LLVM contracted and reassociated the freshly inlined graph differently."""
    from bayes_scaling.models import nutpie_glue

    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp_path}"}

    def run() -> tuple[str, str]:
        done = subprocess.run(
            [sys.executable, "-c", _FIT_AND_HASH], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        hits, digest = done.stdout.strip().splitlines()[-2:]
        return hits, digest

    cold_hits, cold = run()
    assert any((tmp_path / "numba").iterdir()), "the first run should fill the numba cache"
    warm_hits, warm = run()
    assert warm == cold
    if nutpie_glue.applies():  # the callbacks are cached too (about 4 s of every compile)
        assert (cold_hits, warm_hits) == ("0 0", "1 1")
        cached = [p.name for p in (tmp_path / "numba").iterdir()]
        assert any(n.startswith("string.logp_glue-") for n in cached)
        assert any(n.startswith("string.expand_glue-") for n in cached)
