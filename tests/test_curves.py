"""Curve-schema validator: every bad input gets its own test asserting the message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayes_scaling.curves import (
    REQUIRED_COLUMNS,
    curve_ids,
    curves_hash,
    normalised_error,
    read_curves,
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


def test_bad_kind_and_metric():
    df = make_curves()
    df.loc[0, "kind"] = "pretrain"
    with pytest.raises(CurveSchemaError, match=r"'kind' must be one of"):
        validate_curves(df)
    df = make_curves()
    df["metric"] = "r2"
    with pytest.raises(CurveSchemaError, match=r"'metric' must be one of"):
        validate_curves(df)


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
