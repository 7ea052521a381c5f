"""Which rows each model sees: headline m of scarce tables, strategies, surface rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.exceptions import BayesScalingError, CurveSchemaError
from bayes_scaling.selection import (
    FALLBACK_STRATEGY,
    HEADLINE_M,
    default_strategy,
    headline_m,
    headline_sentence,
    headline_table,
    is_scarce,
    select_curves,
    surface_table,
)
from bayes_scaling.simulate import simulate_surface

#: A scarce-protocol grid: four levels below the full split (600).
SCARCE_LEVELS = (25, 50, 100, 250, 600)


def _with_strategies(table: pd.DataFrame) -> pd.DataFrame:
    """Every transfer row twice (finetune and gentle, gentle 10 % worse); scratch rows once."""
    transfer = table[table["kind"] == "transfer"]
    scratch = table[table["kind"] == "scratch"].assign(strategy="scratch")
    gentle = transfer.assign(strategy="gentle", error=transfer["error"] * 1.1)
    return pd.concat([transfer.assign(strategy="finetune"), gentle, scratch], ignore_index=True)


@pytest.fixture(scope="module")
def scarce() -> pd.DataFrame:
    return _with_strategies(
        simulate_surface("additive", m_levels=SCARCE_LEVELS, rng=3, metric="mae")
    )


@pytest.fixture(scope="module")
def legacy() -> pd.DataFrame:
    return _with_strategies(simulate_surface("additive", rng=3, metric="mae"))


def test_scarce_tables_are_told_from_legacy_ones(scarce, legacy):
    assert is_scarce(scarce) and not is_scarce(legacy)
    assert not is_scarce(legacy[legacy["m"].isna()])  # no m levels at all
    assert not is_scarce(scarce.drop(columns="m"))


def test_headline_m_is_the_level_nearest_on_a_log_scale(scarce):
    chosen = headline_m(scarce[scarce["strategy"] == "finetune"])
    assert len(chosen) == 4  # 2 properties x 2 databases
    assert (chosen["m"] == HEADLINE_M).all()
    assert all(levels == (25.0, 50.0, 100.0, 250.0) for levels in chosen["levels"])
    assert (chosen["n_train"] == 600).all()
    # 70 is nearer 50 than 100 in log (|log 70/50| = 0.34 < |log 70/100| = 0.36)
    assert (headline_m(scarce, 70)["m"] == 50).all()
    assert (headline_m(scarce, 180)["m"] == 250).all()
    # the geometric midpoint is a tie: the smaller level wins
    assert (headline_m(scarce, math.sqrt(50 * 100))["m"] == 50).all()
    assert (headline_m(scarce, 10_000)["m"] == 250).all()  # never the full split
    for bad in (0, -5, float("nan")):
        with pytest.raises(BayesScalingError, match="headline m must be"):
            headline_m(scarce, bad)


def test_headline_table_keeps_one_m_per_task_and_every_scratch_row(scarce):
    curves, chosen = headline_table(scarce, strategy="gentle")
    transfer = curves[curves["kind"] == "transfer"]
    assert set(transfer["strategy"]) == {"gentle"} and (transfer["m"] == HEADLINE_M).all()
    # every (task, n, seed) of the chosen level is there, nothing else
    expected = scarce[
        (scarce["kind"] == "transfer") & (scarce["strategy"] == "gentle") & (scarce["m"] == 100)
    ]
    assert len(transfer) == len(expected)
    scratch = curves[curves["kind"] == "scratch"]
    assert len(scratch) == (scarce["kind"] == "scratch").sum()
    assert chosen is not None and set(chosen["m"]) == {100.0}
    # another headline size moves every task
    curves50, _ = headline_table(scarce, target_m=50)
    assert set(curves50.loc[curves50["kind"] == "transfer", "m"]) == {50}


def test_headline_table_of_a_legacy_table_is_its_full_split(legacy):
    curves, chosen = headline_table(legacy)
    assert chosen is None
    transfer = curves[curves["kind"] == "transfer"]
    assert transfer["m"].isna().all() and set(transfer["strategy"]) == {"finetune"}
    pd.testing.assert_frame_equal(curves, select_curves(legacy))


def test_bad_selections_name_the_problem(scarce):
    with pytest.raises(CurveSchemaError, match="no rows of metric 'rmse'"):
        headline_table(scarce, metric="rmse")
    with pytest.raises(CurveSchemaError, match="no transfer rows of strategy 'frozen'"):
        headline_table(scarce, strategy="frozen")


def test_surface_table_has_every_level_of_one_strategy(scarce, legacy):
    surf = surface_table(scarce, strategies=("gentle", "scratch"))
    transfer = surf[surf["kind"] == "transfer"]
    assert set(transfer["strategy"]) == {"gentle"}
    assert set(transfer["m"].dropna()) == {25, 50, 100, 250} and transfer["m"].isna().any()
    assert surface_table(legacy[legacy["m"].isna()]) is None


def test_default_strategy_reads_the_validation_rows(tmp_path, scarce):
    assert default_strategy(scarce) == FALLBACK_STRATEGY
    assert default_strategy(None) == FALLBACK_STRATEGY
    curves = tmp_path / "curves.csv"
    assert default_strategy(curves) == FALLBACK_STRATEGY  # no validation.csv beside it
    rng = np.random.default_rng(0)
    rows = [
        {
            "pair": p,
            "strategy": s,
            "n": n,
            "seed": 0,
            "m": m,
            "val_nmae": base + rng.uniform(0, 0.01),
        }
        for p in ("a", "b")
        for m in (25, 100)
        for n in (16, 256)
        for s, base in (("finetune", 0.5), ("gentle", 0.3), ("frozen", 0.6))
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "validation.csv", index=False)
    assert default_strategy(curves) == "gentle"


def test_headline_sentence_says_which_m_and_why(scarce):
    _, chosen = headline_table(scarce)
    text = headline_sentence(chosen)
    assert "m = 100 experiments" in text and "scarce" in text and "surface" in text
    assert "full experimental training split" in headline_sentence(None)
