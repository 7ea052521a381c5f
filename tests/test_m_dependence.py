"""How the value of more simulations changes with m, against the closed forms.

A :class:`SurfacePosterior` built with ``from_physical`` holds one "draw" of known
parameters, so :func:`answers_by_m` must equal the closed forms written out here.
"""

from __future__ import annotations

import numpy as np
import pytest
from _known_surface import TASK, known

from bayes_scaling.exceptions import BayesScalingError, CurveSchemaError
from bayes_scaling.m_dependence import NEGLIGIBLE_REDUCTION, answers_by_m
from bayes_scaling.models.surface import SurfacePosterior
from bayes_scaling.models.surface_data import prepare_surface
from bayes_scaling.simulate import (
    SURFACE_TARGETS,
    SURFACE_TASKS,
    simulate_surface,
    surface_truth_error,
)


@pytest.mark.parametrize("form", ["additive", "effective_data"])
def test_answers_by_m_match_the_closed_form(form):
    sp = known(form)
    tg, tk = SURFACE_TARGETS["density"], SURFACE_TASKS[form][("density", "md")]
    n, ms = 2_000.0, np.array([20.0, 80.0, 400.0, 2_000.0])
    d = answers_by_m(sp, TASK, m=ms, n=n, factor=10)
    t = d.table
    assert list(t["m"]) == list(ms)
    now = surface_truth_error(form, n, ms, tg, tk)
    more = surface_truth_error(form, 10 * n, ms, tg, tk)
    np.testing.assert_allclose(t["error_median"], now * tg["target_scale"], rtol=1e-10)
    np.testing.assert_allclose(t["error_more_median"], more * tg["target_scale"], rtol=1e-10)
    np.testing.assert_allclose(t["reduction_median"], 1 - more / now, rtol=1e-10)
    # scratch experiments matching the transfer model: E m_eq^-beta + S = error(n, m);
    # none when the transfer error is below the scratch floor S
    with np.errstate(invalid="ignore"):
        m_eq = np.where(now > tg["S"], ((now - tg["S"]) / tg["E"]) ** (-1 / tg["beta"]), np.inf)
    np.testing.assert_array_equal(t["p_unmatched"], np.isinf(m_eq) * 1.0)
    np.testing.assert_allclose(t["worth_median"], m_eq - ms, rtol=1e-5)
    np.testing.assert_array_equal(t["p_helps"], (1 - more / now > NEGLIGIBLE_REDUCTION) * 1.0)
    assert d.interval == 0.9
    assert f"m = {ms[0]:g}" in d.sentence and TASK.replace("|", " · ") in d.sentence


def test_how_each_form_moves_with_m():
    """Effective data: simulations add experiments, worth less as m grows, so the relative
    reduction shrinks with m (and the sentence says so). Additive: the absolute reduction
    ``S (1 - C/S) ((1 + n)^-a - (1 + 10 n)^-a)`` does not depend on m at all."""
    d = answers_by_m(known("effective_data"), TASK, m=[10, 100, 1_000, 10_000], n=1_000)
    red = d.table["reduction_median"].to_numpy()
    assert np.all(np.diff(red) < 0), red
    assert "the fewer the experiments, the more simulations help" in d.sentence
    d = answers_by_m(known("additive"), TASK, m=[10, 100, 1_000, 10_000], n=1_000)
    absolute = (d.table["error_median"] - d.table["error_more_median"]).to_numpy()
    np.testing.assert_allclose(absolute, absolute[0], rtol=1e-9)
    assert "more simulations help about as much (or more) with more experiments" in d.sentence


def test_default_levels_are_the_measured_m():
    sp = known("additive")
    d = answers_by_m(sp, TASK)
    rows = sp.data.task_rows(TASK)
    assert sorted(d.table["m"]) == sorted(np.unique(rows["m_used"]))
    assert (d.table["n"] == sp.current(TASK)[0]).all()


def test_the_full_split_is_one_level_even_when_trials_differ_in_size():
    """Full-split rows (no m) whose trials have training splits of different sizes."""
    table = simulate_surface("additive", m_levels=(25, 100, 600), rng=0)
    full = table["m"].isna() & (table["kind"] == "transfer")
    table.loc[full, "n_train"] = 600 + (table.loc[full, "seed"] % 3)  # 600, 601, 602
    data = prepare_surface(table)
    tasks = {f"{p}|{d}": v for (p, d), v in SURFACE_TASKS["additive"].items()}
    sp = SurfacePosterior.from_physical(data, "additive", SURFACE_TARGETS, tasks)
    assert len(np.unique(sp.data.task_rows(TASK)["m_used"])) == 5
    d = answers_by_m(sp, TASK)
    assert list(d.table["m"]) == [25.0, 100.0, 601.0]


def test_a_source_that_never_helps_is_called_so():
    tasks = {f"{p}|{d}": dict(v) for (p, d), v in SURFACE_TASKS["effective_data"].items()}
    tasks[TASK]["k"] = 1e-6  # the simulations are worth (almost) nothing
    data = prepare_surface(simulate_surface("effective_data", rng=0))
    sp = SurfacePosterior.from_physical(data, "effective_data", SURFACE_TARGETS, tasks)
    d = answers_by_m(sp, TASK, m=[10, 100, 1_000])
    assert (d.table["p_helps"] == 0).all()
    assert "hardly any help at any m" in d.sentence


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"factor": 1.0}, "factor must be > 1"),
        ({"factor": -2.0}, "factor"),
        ({"m": [0.0, 10.0]}, "m levels must be finite and > 0"),
        ({"m": [np.nan]}, "m levels must be finite and > 0"),
        ({"n": 0.0}, "n must be finite and > 0"),
    ],
)
def test_bad_input_is_named(kwargs, match):
    with pytest.raises(BayesScalingError, match=match):
        answers_by_m(known("additive"), TASK, **kwargs)


def test_unknown_task_is_named():
    with pytest.raises(CurveSchemaError, match="Unknown task"):
        answers_by_m(known("additive"), "density|nowhere")
