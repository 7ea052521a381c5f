"""The fused log density (``bayes_scaling.models.fused_density``) is the PyMC model's, to rounding.

For every structure it implements (pooled and fixed grouping columns, excluded levels, the
``m`` slope, both laws, both spread-prior families, any centring), its log density and
gradient at random points equal PyTensor's compiled ``model.logp()`` and ``model.dlogp()``
(every prior, Jacobian and constant); through nutpie's callback they equal PyTensor's
callback, also after ``with_data`` swaps in another data set of the same structure; and the
structures it does not implement get ``None`` (PyTensor's graph is sampled).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _model_fits import single_curve, standard_curves, standard_params
from test_model_m_slope import m_curves
from test_nutpie_glue import _logp

from bayes_scaling.models import ScalingLawModel, nutpie_glue
from bayes_scaling.models.fused_density import TABLES
from bayes_scaling.models.samplers import FUSED_ENV, fused_density_of
from bayes_scaling.simulate import draw_curve_params, simulate_curves


def _aliased_curves() -> pd.DataFrame:
    """Transfer and scratch curves: database 'none' and strategy 'scratch' alias each other."""
    p = pd.concat([standard_params()] * 2, ignore_index=True)
    p["database"] = p["database"].where(p.index < 6, "none")
    p["strategy"] = np.where(p.index < 6, np.where(p.index < 3, "finetune", "gentle"), "scratch")
    p["kind"] = np.where(p.index < 6, "transfer", "scratch")
    p["pair"] = [f"c{i}" for i in range(len(p))]
    return simulate_curves(p, rng=5)


def _eighteen(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return simulate_curves(draw_curve_params(6, 3, rng=rng), seeds=5, rng=rng)


CASES = {
    "standard": (standard_curves, {}),
    "eighteen curves": (_eighteen, {}),
    "aliased levels, three columns": (
        _aliased_curves, {"groups": ["property", "database", "strategy"]},
    ),
    "m slope": (lambda: m_curves()[0], {}),
    "power law": (standard_curves, {"law": "power"}),
    "mmf law": (_eighteen, {"law": "mmf"}),
    "mmf law, m slope": (lambda: m_curves()[0], {"law": "mmf"}),
    "halfnormal spreads": (standard_curves, {"priors": {"sd_family": "halfnormal"}}),
    "point noise, two kinds": (
        _aliased_curves, {"groups": ["property", "database"], "point_noise": True},
    ),
    "point noise, mmf": (_eighteen, {"law": "mmf", "point_noise": True}),
    "non-centred": (_eighteen, {"centring": "noncentred"}),
    "centred": (_eighteen, {"centring": "centred"}),
}  # fmt: skip


def _model(case: str):
    make, kwargs = CASES[case]
    model = ScalingLawModel(**kwargs).build_model(make())
    assert model.fused_density is not None, case
    return model


def _flat(model, point: dict) -> np.ndarray:
    return np.concatenate([np.ravel(point[v.name]) for v in model.value_vars])


def _points(model, rng: np.random.Generator) -> list[dict]:
    start = model.initial_point()
    return [start] + [
        {k: v + rng.normal(0.0, s, np.shape(v)) for k, v in start.items()} for s in (0.3, 1.0)
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_log_density_and_gradient_equal_pytensors(case):
    model = _model(case)
    fused = model.fused_density
    tables = {t: model[t].get_value() for t in TABLES if t in model.named_vars}
    logp = model.compile_logp(mode="FAST_COMPILE")  # no C compilation: 3 points only
    dlogp = model.compile_dlogp(mode="FAST_COMPILE")
    checked = 0
    for point in _points(model, np.random.default_rng(0)):
        x = _flat(model, point)
        assert x.size == fused.n_dim
        lp, grad = fused(x, tables)
        np.testing.assert_allclose(lp, logp(point), rtol=1e-11)
        ref = dlogp(point)
        np.testing.assert_allclose(grad, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
        checked += 1
    assert checked == 3


def test_a_wrong_gradient_would_be_caught():
    """The comparison can fail: a changed prior constant moves the density and gradient."""
    model = _model("standard")
    fused = model.fused_density
    tables = {t: model[t].get_value() for t in TABLES if t in model.named_vars}
    point = model.initial_point()
    x = _flat(model, point)
    lp, grad = fused(x, tables)
    bent = type(fused)(fused.layout, fused.constants * 1.01, fused.n_dim)
    lp2, grad2 = bent(x, tables)
    assert abs(lp2 - lp) > 1e-6 and np.max(np.abs(grad2 - grad)) > 1e-6


def test_nutpies_callback_calls_it_and_reads_new_data():
    if not nutpie_glue.applies():
        pytest.skip("nutpie's glue is not replaced for this nutpie version")
    import nutpie

    model = _model("eighteen curves")
    theirs = nutpie.compile_pymc_model(model)
    with nutpie_glue.lean_glue(fused=model.fused_density):
        ours = nutpie.compile_pymc_model(model)
    rng = np.random.default_rng(1)
    start = np.asarray(theirs.initial_point_func(0), dtype=float)
    for x in [start] + [start + rng.normal(0.0, s, start.size) for s in (0.1, 1.0)]:
        rc, lp, grad = _logp(ours, x)
        rc0, lp0, grad0 = _logp(theirs, x)
        assert rc == rc0 == 0
        np.testing.assert_allclose(lp, lp0, rtol=1e-11)
        np.testing.assert_allclose(grad, grad0, rtol=1e-9, atol=1e-9 * np.abs(grad0).max())
    bad = np.full(start.size, 1e6)  # overflows: the callback reports it, like PyTensor's
    assert _logp(ours, bad)[0] in (3, 4)
    assert _logp(ours, start, dim=start.size + 1)[0] == -1
    # another data set of the same structure, swapped in without recompiling
    other = ScalingLawModel().build_model(_eighteen(seed=2))
    swapped = ours.with_data(**{t: other[t].get_value() for t in TABLES if t in other.named_vars})
    point = other.initial_point()
    x = _flat(other, point)
    rc, lp, grad = _logp(swapped, x)
    assert rc == 0
    np.testing.assert_allclose(lp, other.compile_logp(mode="FAST_COMPILE")(point), rtol=1e-11)
    assert not np.isclose(lp, _logp(ours, x)[1])  # the data did change


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        (standard_curves, {"law": "broken_power"}),
        (standard_curves, {"likelihood": "studentt"}),
        (standard_curves, {"aggregate": False}),
        (single_curve, {}),
    ],
    ids=["broken_power", "studentt", "per seed", "one curve"],
)
def test_structures_it_does_not_implement_use_pytensors_graph(make, kwargs):
    model = ScalingLawModel(**kwargs).build_model(make())
    assert model.fused_density is None


def test_the_environment_switch(monkeypatch):
    model = _model("standard")
    assert fused_density_of(model) is model.fused_density
    monkeypatch.setenv(FUSED_ENV, "0")
    assert fused_density_of(model) is None
