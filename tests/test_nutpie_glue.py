"""The leaner nutpie glue (``bayes_scaling.models.nutpie_glue``): same functions, bit for bit."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from _model_fits import standard_curves

from bayes_scaling.models import ScalingLawModel, nutpie_glue

nutpie = pytest.importorskip("nutpie")
import nutpie.compile_pymc as cp  # noqa: E402

_DOUBLE_P = ctypes.POINTER(ctypes.c_double)


def _logp(compiled, x: np.ndarray, dim: int | None = None) -> tuple[int, float, np.ndarray]:
    n = compiled.n_dim
    x = np.ascontiguousarray(x, dtype=float)
    out, logp = np.zeros(n), np.zeros(1)
    rc = compiled.compiled_logp_func.ctypes(
        ctypes.c_uint64(n if dim is None else dim),
        x.ctypes.data_as(_DOUBLE_P),
        out.ctypes.data_as(_DOUBLE_P),
        logp.ctypes.data_as(_DOUBLE_P),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return int(rc), float(logp[0]), out


def _expand(compiled, x: np.ndarray) -> tuple[int, np.ndarray]:
    n, m = compiled.n_dim, compiled.n_expanded
    x = np.ascontiguousarray(x, dtype=float)
    out = np.zeros(m)
    rc = compiled.compiled_expand_func.ctypes(
        ctypes.c_uint64(n),
        ctypes.c_uint64(m),
        x.ctypes.data_as(_DOUBLE_P),
        out.ctypes.data_as(_DOUBLE_P),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return int(rc), out


@pytest.fixture(scope="module")
def compiled_pair():
    if not nutpie_glue.applies():
        pytest.skip(
            f"nutpie {nutpie.__version__} is not one of {nutpie_glue.NUTPIE_VERSIONS}: the "
            "lean glue is not applied to it (nutpie's own glue is used)"
        )
    model = ScalingLawModel().build_model(standard_curves())
    theirs = nutpie.compile_pymc_model(model)
    with nutpie_glue.lean_glue():
        ours = nutpie.compile_pymc_model(model)
    return ours, theirs


def test_lean_glue_gives_nutpies_log_density_gradient_and_draws(compiled_pair):
    ours, theirs = compiled_pair
    assert ours.compiled_logp_func is not theirs.compiled_logp_func
    rng = np.random.default_rng(0)
    start = np.asarray(theirs.initial_point_func(0), dtype=float)
    points = [start] + [start + rng.normal(0.0, s, start.size) for s in (0.1, 1.0, 3.0)]
    for x in points:
        rc, logp, grad = _logp(ours, x)
        rc0, logp0, grad0 = _logp(theirs, x)
        assert rc == rc0 == 0
        assert logp == logp0 and np.array_equal(grad, grad0)  # bit for bit
        assert np.isfinite(logp) and np.any(grad != 0)
        erc, values = _expand(ours, x)
        erc0, values0 = _expand(theirs, x)
        assert erc == erc0 == 0 and np.array_equal(values, values0)
    # the error codes: a non-finite density or gradient, and a wrong size
    bad = start.copy()
    bad[:] = 1e6  # overflows the law's exponentials
    rc, rc0 = _logp(ours, bad)[0], _logp(theirs, bad)[0]
    assert rc == rc0 and rc in (3, 4)
    assert _logp(ours, start, dim=start.size + 1)[0] == _logp(theirs, start, dim=start.size + 1)[0]
    assert _logp(ours, start, dim=start.size + 1)[0] == -1


def test_lean_glue_is_scoped_and_restores_nutpies_builders():
    import pytensor

    own = (cp._make_c_logp_func, cp._make_c_expand_func)
    assert own != (nutpie_glue._logp_glue, nutpie_glue._expand_glue)
    if nutpie_glue.applies():
        with nutpie_glue.lean_glue() as options:
            assert cp._make_c_logp_func is nutpie_glue._logp_glue
            assert cp._make_c_expand_func is nutpie_glue._expand_glue
            assert options == ({"cache": True} if pytensor.config.numba__cache else {})
        # without PyTensor's numba cache there is no locator for the callbacks: no caching
        with pytensor.config.change_flags(numba__cache=False), nutpie_glue.lean_glue() as off:
            assert off == {} and cp._make_c_logp_func is nutpie_glue._logp_glue
    with pytest.raises(RuntimeError, match="inside"):
        with nutpie_glue.lean_glue():
            raise RuntimeError("inside")
    assert (cp._make_c_logp_func, cp._make_c_expand_func) == own
    with nutpie_glue.lean_glue(enabled=False) as options:
        assert cp._make_c_logp_func is own[0] and options == {}
    # with a fused log density the builders are wrapped, and restored all the same
    make_functions = cp._make_functions
    if nutpie_glue.applies():
        with nutpie_glue.lean_glue(fused=object()):
            assert cp._make_c_logp_func is not own[0] and cp._make_functions is not make_functions
    assert (cp._make_c_logp_func, cp._make_functions) == (own[0], make_functions)


def test_lean_glue_is_not_applied_to_other_nutpie_versions(monkeypatch):
    monkeypatch.setattr(nutpie, "__version__", "0.99.0")
    assert not nutpie_glue.applies()
    own = cp._make_c_logp_func
    with nutpie_glue.lean_glue() as options:
        assert cp._make_c_logp_func is own
        assert options == {}  # nutpie's own glue is never cached (per-process keys)
    monkeypatch.undo()
    # a changed signature of the private builder is refused too
    monkeypatch.setattr(cp, "_make_c_logp_func", lambda n_dim, logp_fn: None)
    assert not nutpie_glue.applies()


def _toy_model():
    """Shared data of every rank and dtype the glue rebuilds: 0-d, 1-d float, 1-d int, 2-d."""
    import pymc as pm

    with pm.Model() as model:
        loc = pm.Data("loc", 0.5)  # 0-d
        y = pm.Data("y", np.array([0.1, -0.3, 0.8, 1.2]))
        idx = pm.Data("idx", np.array([0, 1, 1, 0]))  # integer
        w = pm.Data("w", np.arange(8.0).reshape(4, 2) / 10)
        mu = pm.Normal("mu", loc, 1.0, shape=2)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("obs", mu[idx] + w.sum(axis=1), sigma, observed=y)
    return model


def test_lean_glue_reads_every_kind_of_shared_data_like_nutpie():
    """The glue rebuilds each shared array from nutpie's pointer record itself: ranks 0-2,
    float and integer data, several containers.

    Both compiled with IEEE arithmetic: with fast-math, LLVM may contract the same graph
    differently when it is inlined into different glue (``samplers.nutpie_compile_settings``).
    """
    import pytensor

    if not nutpie_glue.applies():
        pytest.skip("the lean glue does not apply to this nutpie version")
    model = _toy_model()
    with pytensor.config.change_flags(numba__fastmath=False):
        theirs = nutpie.compile_pymc_model(model)
        with nutpie_glue.lean_glue():
            ours = nutpie.compile_pymc_model(model)
    start = np.asarray(theirs.initial_point_func(0), dtype=float)
    for x in (start, start + 0.3):
        rc, logp, grad = _logp(ours, x)
        assert (rc, logp) == _logp(theirs, x)[:2] and rc == 0
        assert np.array_equal(grad, _logp(theirs, x)[2])
    # new data through nutpie's with_data: the glue follows the new pointers and shapes
    new = {"y": np.array([1.0, 2.0, 3.0, 4.0, 5.0]), "idx": np.array([1, 1, 0, 0, 1]),
           "w": np.ones((5, 2)), "loc": np.array(-1.0)}  # fmt: skip
    ours2, theirs2 = ours.with_data(**new), theirs.with_data(**new)
    rc, logp, grad = _logp(ours2, start)
    assert rc == 0 and logp == _logp(theirs2, start)[1] and logp != _logp(ours, start)[1]
    assert np.array_equal(grad, _logp(theirs2, start)[2])
