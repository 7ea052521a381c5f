"""Database/strategy/property comparisons on fake posteriors with known truth."""

from __future__ import annotations

import numpy as np
import pytest
from _fake_posterior import DEFAULT_SPECS, fake_posterior

from bayes_scaling.compare import (
    ComparisonDecision,
    ExpansionDecision,
    compare_groups,
    expansion_gain,
    rank_draws,
)
from bayes_scaling.exceptions import BayesScalingError, UnknownNameError
from bayes_scaling.planning import AmbiguousCurveError

DENSITY_RADONPY, DENSITY_PUBCHEM, TG_RADONPY = DEFAULT_SPECS[:3]


def spec(prop: str, db: str, *, D: float, alpha: float, C: float, **extra) -> dict:
    return dict(
        property=prop,
        database=db,
        kind="transfer",
        strategy="finetune",
        metric="mae",
        unit="u",
        target_scale=1.0,
        n_min=10,
        n_max=1000,
        D=D,
        alpha=alpha,
        C=C,
        **extra,
    )


@pytest.fixture(scope="module")
def post():
    return fake_posterior()


def test_rank_draws():
    v = np.array([[0.3, 0.1, 0.2], [0.1, 0.2, 0.3]])
    np.testing.assert_array_equal(rank_draws(v, higher_is_better=False), [[3, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(rank_draws(v, higher_is_better=True), [[1, 3, 2], [3, 2, 1]])


def test_two_databases_for_one_property(post):
    d = compare_groups(post, by="database", within="property")
    assert isinstance(d, ComparisonDecision)
    assert d.contexts == ["property=density, metric=mae"]  # tg has a single database
    table = d.table.set_index("group")
    assert list(d.table["group"]) == ["radonpy", "pubchem"]  # sorted by rank
    assert table.loc["radonpy", "p_best"] > 0.99 and table.loc["radonpy", "rank"] == 1
    # truth inside the intervals
    for db, truth in (("radonpy", DENSITY_RADONPY), ("pubchem", DENSITY_PUBCHEM)):
        row = table.loc[db]
        assert row["C_lower"] <= truth["C"] <= row["C_upper"]
        assert row["alpha_lower"] <= truth["alpha"] <= row["alpha_upper"]
        err = truth["D"] * row["n"] ** -truth["alpha"] + truth["C"]
        assert row["error_lower"] <= err <= row["error_upper"]
    assert (d.table["n"] == 5000).all()  # default: largest n_max in the context
    m = d.matrix("C")
    assert m.loc["radonpy", "pubchem"] > 0.99 and m.loc["pubchem", "radonpy"] < 0.01
    assert np.isnan(m.loc["radonpy", "radonpy"])
    assert d.matrix("alpha").loc["radonpy", "pubchem"] > 0.99  # alpha 0.4 > 0.3
    assert d.sentence.startswith("For density (MAE), radonpy ranks first")
    assert "P(C_radonpy < C_pubchem) > 0.99" in d.sentence


def test_pairwise_probabilities_are_complementary_and_propagate_uncertainty():
    same = [spec("chi", "a", D=1.0, alpha=0.5, C=0.2), spec("chi", "b", D=1.0, alpha=0.5, C=0.2)]
    d = compare_groups(fake_posterior(same, n_samples=4000, spread=0.1), within="property")
    p = d.pairwise.set_index(["group_a", "group_b"])
    assert 0.4 < p.loc[("a", "b"), "p_C_lower"] < 0.6  # identical truth: a coin flip
    for col in ("p_C_lower", "p_alpha_higher", "p_error_lower"):
        assert p.loc[("a", "b"), col] + p.loc[("b", "a"), col] == pytest.approx(1.0)
    assert d.table["p_best"].sum() == pytest.approx(1.0)
    assert 0.4 < d.table["p_best"].iloc[0] < 0.6


@pytest.mark.parametrize(
    "rank_by, expected",
    [("alpha", ["b", "c", "a"]), ("gap", ["c", "a", "b"]), ("error", ["b", "a", "c"])],
)
def test_ranking_criteria(rank_by, expected):
    specs = [
        spec("tg", "a", D=1.0, alpha=0.3, C=0.2),
        spec("tg", "b", D=1.0, alpha=0.8, C=0.3),
        spec("tg", "c", D=1.0, alpha=0.5, C=0.1),
    ]
    # error at n = 1000: a 0.326, b 0.304, c 0.132 -> at n = 10: a 0.70, b 0.46, c 0.42
    d = compare_groups(
        fake_posterior(specs, n_samples=1000),
        within="property",
        rank_by=rank_by,
        n=10 if rank_by == "error" else None,
    )
    if rank_by == "error":
        expected = ["c", "b", "a"]
    assert list(d.table["group"]) == expected
    assert d.table["expected_rank"].sum() == pytest.approx(6.0)
    assert list(d.table["rank"]) == [1, 2, 3]
    assert d.table["p_best"].sum() == pytest.approx(1.0)


def test_several_contexts_and_matrix_context():
    specs = [
        spec("tg", "a", D=1.0, alpha=0.5, C=0.2),
        spec("tg", "b", D=1.0, alpha=0.5, C=0.4),
        spec("chi", "a", D=1.0, alpha=0.5, C=0.3),
        spec("chi", "b", D=1.0, alpha=0.5, C=0.1),
    ]
    d = compare_groups(fake_posterior(specs, n_samples=500), within="property")
    assert len(d.contexts) == 2
    assert d.matrix("C", context="property=chi, metric=mae").loc["b", "a"] > 0.99
    with pytest.raises(BayesScalingError, match="pass context="):
        d.matrix("C")
    with pytest.raises(UnknownNameError, match="Unknown context"):
        d.matrix("C", context="property=density")
    with pytest.raises(BayesScalingError, match="quantity"):
        d.matrix("D", context=d.contexts[0])  # type: ignore[arg-type]
    assert d.sentence.count("ranks first") == 2


def test_compare_strategies_within_property_and_database():
    specs = [
        spec("tg", "a", D=1.0, alpha=0.5, C=0.2),
        dict(spec("tg", "a", D=1.0, alpha=0.5, C=0.4), strategy="feature"),
    ]
    post = fake_posterior(specs + [spec("tg", "b", D=1.0, alpha=0.5, C=0.3)], n_samples=500)
    with pytest.raises(AmbiguousCurveError, match="narrow them"):
        compare_groups(post, by="database", within="property")
    d = compare_groups(post, by="strategy", within=["property", "database"], rank_by="gap")
    assert d.contexts == ["property=tg, database=a, metric=mae"]
    assert list(d.table["group"]) == ["finetune", "feature"]
    d2 = compare_groups(post, within="property", where={"strategy": "finetune"})
    assert list(d2.table["group"]) == ["a", "b"]


def test_compare_validation(post):
    with pytest.raises(BayesScalingError, match="no column 'family'"):
        compare_groups(post, within="family")
    with pytest.raises(BayesScalingError, match="Nothing to compare"):
        compare_groups(post, where={"property": "tg"})
    with pytest.raises(BayesScalingError, match="rank_by"):
        compare_groups(post, rank_by="speed")  # type: ignore[arg-type]
    with pytest.raises(BayesScalingError, match="n must be"):
        compare_groups(post, n=-1)
    with pytest.raises(BayesScalingError, match="unknown metadata column"):
        compare_groups(post, where={"colour": "red"})


# ====================================================================== expansion gain
def test_expansion_gain_ranks_properties(post):
    d = expansion_gain(post, "radonpy", delta_n=5000)
    assert isinstance(d, ExpansionDecision)
    assert list(d.table["property"]) == ["tg", "density"]
    for row in d.table.itertuples():
        truth = TG_RADONPY if row.property == "tg" else DENSITY_RADONPY
        n0 = truth["n_max"]
        red = truth["D"] * (n0 ** -truth["alpha"] - (n0 + 5000) ** -truth["alpha"])
        assert row.reduction_lower <= red <= row.reduction_upper
        assert row.reduction_original_median == pytest.approx(
            row.reduction_median * truth["target_scale"], rel=1e-9
        )
    assert d.table["p_best"].iloc[0] > 0.99
    assert d.sentence.startswith("Adding 5,000 radonpy samples helps tg most")


def test_expansion_gain_relative_and_default_delta():
    specs = [spec("tg", "a", D=1.0, alpha=0.5, C=2.0), spec("chi", "a", D=0.5, alpha=0.5, C=0.01)]
    post = fake_posterior(specs, n_samples=500)
    absolute = expansion_gain(post, "a")
    relative = expansion_gain(post, "a", gain_by="relative")
    assert (absolute.table["delta_n"] == 1000).all()
    assert list(absolute.table["property"]) == ["tg", "chi"]  # larger D
    assert list(relative.table["property"]) == ["chi", "tg"]  # tiny C: large relative gain


def test_expansion_gain_validation(post):
    with pytest.raises(UnknownNameError, match="No selected curve uses database 'qm9'"):
        expansion_gain(post, "qm9")
    with pytest.raises(BayesScalingError, match="delta_n"):
        expansion_gain(post, "radonpy", delta_n=0)
    with pytest.raises(BayesScalingError, match="gain_by"):
        expansion_gain(post, "radonpy", gain_by="total")  # type: ignore[arg-type]
