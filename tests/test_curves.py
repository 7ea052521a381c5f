"""Curve-schema validator: every bad input gets its own test asserting the message."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.curves import (
    REQUIRED_COLUMNS,
    curve_ids,
    curves_hash,
    is_normalised_metric,
    normalised_error,
    read_curves,
    score_conversion,
    to_error_metric,
    validate_curves,
    write_curves,
)
from bayes_scaling.exceptions import CurveSchemaError


def make_curves() -> pd.DataFrame:
    rows = []
    for prop, db, scale in [("density", "radonpy", 0.1), ("tg", "md_tg", 60.0)]:
        for n in (16, 64, 256, 1024):
            for seed in range(3):
                err = scale * (2.0 * n**-0.4 + 0.2) * (1 + 0.01 * seed)
                rows.append(
                    dict(
                        property=prop,
                        database=db,
                        kind="transfer",
                        n=n,
                        seed=seed,
                        error=err,
                        metric="mae",
                        target_scale=scale,
                    )
                )
    return pd.DataFrame(rows)


def test_valid_table_passes_and_is_sorted():
    df = make_curves().sample(frac=1.0, random_state=0)
    out = validate_curves(df)
    assert list(out.columns[: len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert out["n"].dtype == np.int64
    assert out.groupby("property")["n"].apply(lambda s: s.is_monotonic_increasing).all()
    assert len(out) == len(df)


def test_missing_column():
    with pytest.raises(CurveSchemaError, match=r"missing required column.*'target_scale'"):
        validate_curves(make_curves().drop(columns="target_scale"))


def test_extra_column():
    df = make_curves().assign(colour="red")
    with pytest.raises(CurveSchemaError, match=r"unknown column.*'colour'"):
        validate_curves(df)
    assert "colour" in validate_curves(df, allow_extra=["colour"]).columns


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_error(bad):
    df = make_curves()
    df.loc[3, "error"] = bad
    with pytest.raises(CurveSchemaError, match=r"'error' has 1 NaN, infinite"):
        validate_curves(df)


def test_nan_in_n():
    df = make_curves().astype({"n": float})
    df.loc[0, "n"] = np.nan
    with pytest.raises(CurveSchemaError, match=r"'n' has 1 NaN"):
        validate_curves(df)


@pytest.mark.parametrize("bad", [0.0, -0.3])
def test_non_positive_error(bad):
    df = make_curves()
    df.loc[5, "error"] = bad
    with pytest.raises(CurveSchemaError, match=r"'error' must be > 0"):
        validate_curves(df)


@pytest.mark.parametrize("bad", [0, -16])
def test_non_positive_n(bad):
    df = make_curves()
    df.loc[2, "n"] = bad
    with pytest.raises(CurveSchemaError, match=r"'n' must be > 0"):
        validate_curves(df)


def test_non_integer_n():
    df = make_curves().astype({"n": float})
    df.loc[2, "n"] = 16.5
    with pytest.raises(CurveSchemaError, match=r"'n' must hold integers"):
        validate_curves(df)


def test_duplicate_rows():
    df = make_curves()
    df = pd.concat([df, df.iloc[[4]]], ignore_index=True)
    with pytest.raises(CurveSchemaError, match=r"Duplicate \(curve, n, seed\) rows: 2 rows"):
        validate_curves(df)


def test_too_few_distinct_n():
    df = make_curves()
    df = df[~((df["property"] == "tg") & df["n"].isin([256, 1024]))]
    with pytest.raises(CurveSchemaError, match=r"at least 3 distinct n.*tg\|md_tg.*2 distinct n"):
        validate_curves(df)


def test_one_point_per_curve():
    df = make_curves().groupby("property").head(1)
    with pytest.raises(CurveSchemaError, match=r"1 distinct n"):
        validate_curves(df)


def test_bad_kind():
    df = make_curves()
    df.loc[0, "kind"] = "pretrain"
    with pytest.raises(CurveSchemaError, match=r"'kind' must be one of"):
        validate_curves(df)


# ------------------------------------------------------------------ open metric vocabulary
@pytest.mark.parametrize(
    "metric",
    [
        "error_rate",
        "log_loss",
        "mse",
        "1-accuracy",
        "nll",
        "my_team_loss",
        "MAE",
        "acc_error",
        "f1_loss",
        "top1_error_rate",
    ],
)
def test_any_lower_is_better_metric_is_accepted(metric):
    out = validate_curves(make_curves().assign(metric=metric))
    assert set(out["metric"]) == {metric}
    assert all(c.endswith(f"|{metric}") for c in curve_ids(out))


#: Every rejected higher-is-better score with the conversion its message must state.
SCORES = {
    "accuracy": ("1 - accuracy", "1-accuracy"),
    "balanced_accuracy": ("1 - balanced_accuracy", "1-balanced_accuracy"),
    "top_k_accuracy": ("1 - top_k_accuracy", "1-top_k_accuracy"),
    "r2": ("1 - r2", "1-r2"),
    "explained_variance": ("1 - explained_variance", "1-explained_variance"),
    "auc": ("1 - auc", "1-auc"),
    "roc_auc": ("1 - roc_auc", "1-roc_auc"),
    "roc_auc_ovr_weighted": ("1 - roc_auc_ovr_weighted", "1-roc_auc_ovr_weighted"),
    "average_precision": ("1 - average_precision", "1-average_precision"),
    "f1": ("1 - f1", "1-f1"),
    "f1_macro": ("1 - f1_macro", "1-f1_macro"),
    "precision": ("1 - precision", "1-precision"),
    "precision_weighted": ("1 - precision_weighted", "1-precision_weighted"),
    "recall": ("1 - recall", "1-recall"),
    "recall_micro": ("1 - recall_micro", "1-recall_micro"),
    "jaccard": ("1 - jaccard", "1-jaccard"),
    "matthews_corrcoef": ("1 - matthews_corrcoef", "1-matthews_corrcoef"),
    "d2_absolute_error_score": ("1 - d2_absolute_error_score", "1-d2_absolute_error_score"),
    "val_accuracy": ("1 - val_accuracy", "1-val_accuracy"),
    "test_auc": ("1 - test_auc", "1-test_auc"),
    "neg_mean_absolute_error": ("-(neg_mean_absolute_error)", "mean_absolute_error"),
    "neg_root_mean_squared_error": ("-(neg_root_mean_squared_error)", "root_mean_squared_error"),
    "neg_log_loss": ("-(neg_log_loss)", "log_loss"),
    "neg_brier_score": ("-(neg_brier_score)", "brier_score"),
}


@pytest.mark.parametrize("score", sorted(SCORES))
def test_higher_is_better_score_is_rejected_with_its_conversion(score):
    formula, new = SCORES[score]
    values = 0.8 if not score.startswith("neg_") else -0.2
    df = make_curves().assign(metric=score, error=values)
    expected = (
        rf"higher-is-better score\(s\) \['{score}'\].*'{score}' -> error = "
        rf"{re.escape(formula)}, metric '{re.escape(new)}'.*convert_scores=True"
    )
    with pytest.raises(CurveSchemaError, match=expected):
        validate_curves(df)
    assert score_conversion(score)[0] == new
    converted = validate_curves(df, convert_scores=True)
    assert set(converted["metric"]) == {new}
    np.testing.assert_allclose(converted["error"], 0.2)


@pytest.mark.parametrize("score", ["mutual_info_score", "positive_likelihood_ratio"])
def test_unbounded_score_has_no_conversion(score):
    df = make_curves().assign(metric=score)
    for kwargs in ({}, {"convert_scores": True}):
        with pytest.raises(CurveSchemaError, match="no rule turning it into an error"):
            validate_curves(df, **kwargs)


def test_every_sklearn_scorer_is_a_score():
    metrics = pytest.importorskip("sklearn.metrics")
    for name in metrics.get_scorer_names():
        df = make_curves().assign(metric=name)
        with pytest.raises(CurveSchemaError, match="higher-is-better|no rule"):
            validate_curves(df)


def test_to_error_metric_rules_and_idempotence():
    t = pd.DataFrame(
        {
            "metric": ["accuracy", "neg_mean_absolute_error", "error_rate", "R2", "1-accuracy"],
            "error": [0.75, -0.4, 0.1, 0.6, 0.3],
        }
    )
    out = to_error_metric(t)
    assert out["metric"].tolist() == [
        "1-accuracy",
        "mean_absolute_error",
        "error_rate",
        "1-r2",
        "1-accuracy",
    ]
    np.testing.assert_allclose(out["error"], [0.25, 0.4, 0.1, 0.4, 0.3])
    pd.testing.assert_frame_equal(to_error_metric(out), out)
    with pytest.raises(CurveSchemaError, match="missing column"):
        to_error_metric(t[["metric"]])


def test_converted_perfect_score_is_a_zero_error():
    df = make_curves().assign(metric="accuracy", error=0.9)
    df.loc[4, "error"] = 1.0
    with pytest.raises(CurveSchemaError, match=r"'error' must be > 0"):
        validate_curves(df, convert_scores=True)
    df = make_curves().assign(metric="neg_log_loss", error=-0.3)
    df.loc[2, "error"] = 0.1  # a positive "negated loss": the sign was already flipped
    with pytest.raises(CurveSchemaError, match=r"'error' must be > 0"):
        validate_curves(df, convert_scores=True)


def test_metric_with_the_id_separator():
    df = make_curves().assign(metric="mae|rmse")
    with pytest.raises(CurveSchemaError, match=r"must not contain '\|'"):
        validate_curves(df)


def test_read_curves_converts_on_request(tmp_path):
    path = tmp_path / "scores.csv"
    make_curves().assign(metric="accuracy", error=0.9).to_csv(path, index=False)
    with pytest.raises(CurveSchemaError, match="higher-is-better"):
        read_curves(path)
    out = read_curves(path, convert_scores=True)
    assert set(out["metric"]) == {"1-accuracy"}
    np.testing.assert_allclose(out["error"], 0.1)


@pytest.mark.parametrize(
    ("metric", "normalised"),
    [
        ("nmae", True),
        ("nrmse", True),
        ("NMAE", True),
        ("normalised_log_loss", True),
        ("normalized_mse", True),
        ("mae", False),
        ("nll", False),
        ("neg_mean_absolute_error", False),
        ("error_rate", False),
        ("1-accuracy", False),
    ],
)
def test_normalised_metric_rule(metric, normalised):
    assert is_normalised_metric(metric) is normalised


def test_non_positive_target_scale():
    df = make_curves()
    df.loc[0, "target_scale"] = 0.0
    with pytest.raises(CurveSchemaError, match=r"'target_scale' must be > 0"):
        validate_curves(df)


def test_empty_string_property():
    df = make_curves()
    df.loc[0, "property"] = " "
    with pytest.raises(CurveSchemaError, match=r"'property' has 1 missing or empty"):
        validate_curves(df)


def test_not_a_dataframe():
    with pytest.raises(CurveSchemaError, match="Expected a pandas DataFrame"):
        validate_curves([1, 2, 3])  # type: ignore[arg-type]


def test_m_column_optional_and_in_curve_id():
    df = make_curves()
    df["m"] = pd.array([None] * len(df), dtype="Int64")
    df2 = make_curves().assign(m=50)
    both = validate_curves(pd.concat([df, df2], ignore_index=True))
    ids = set(curve_ids(both))
    assert "density|radonpy|transfer|m=full|mae" in ids
    assert "density|radonpy|transfer|m=50|mae" in ids
    bad = make_curves().assign(m=-3)
    with pytest.raises(CurveSchemaError, match="'m' must be a positive integer"):
        validate_curves(bad)


def test_m_larger_than_the_split():
    ok = make_curves().assign(m=50, n_train=50)
    validate_curves(ok)
    bad = make_curves().assign(m=50, n_train=40)
    with pytest.raises(CurveSchemaError, match="'m' is larger than the target training split"):
        validate_curves(bad)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip(tmp_path, suffix):
    df = validate_curves(make_curves().assign(strategy="finetune", m=pd.NA))
    path = write_curves(df, tmp_path / f"curves{suffix}")
    back = read_curves(path)
    pd.testing.assert_frame_equal(back, df, check_dtype=False, rtol=1e-9)
    assert curves_hash(back) == curves_hash(df)
    assert not list(tmp_path.glob("*.tmp"))


def test_hash_is_order_independent_and_sensitive():
    df = make_curves()
    assert curves_hash(df) == curves_hash(df.sample(frac=1, random_state=1))
    changed = df.copy()
    changed.loc[0, "error"] *= 1.01
    assert curves_hash(changed) != curves_hash(df)


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "curves.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(CurveSchemaError, match="Could not read curve file"):
        read_curves(bad)
    with pytest.raises(CurveSchemaError, match="does not exist"):
        read_curves(tmp_path / "nope.csv")
    txt = tmp_path / "curves.txt"
    txt.write_text("a,b\n")
    with pytest.raises(CurveSchemaError, match="unsupported suffix"):
        read_curves(txt)


def test_normalised_error():
    df = validate_curves(make_curves())
    ne = normalised_error(df)
    np.testing.assert_allclose(ne, df["error"] / df["target_scale"])
    df2 = df.assign(metric="nmae")
    np.testing.assert_allclose(normalised_error(df2), df2["error"])
    # "nll" starts with "n" but is not a normalised metric: it is divided by target_scale
    df3 = df.assign(metric="nll")
    np.testing.assert_allclose(normalised_error(df3), df3["error"] / df3["target_scale"])
