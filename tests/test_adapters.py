"""Adapters from scikit-learn learning curves and user tables to the curve schema (issue 16).

Every adapter runs on real scikit-learn output (data sets that ship with scikit-learn, small
estimators, a few CV splits), so the tests check shapes, seeds, metric names and the sign
conversion against the arrays scikit-learn itself returned.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bayes_scaling.adapters import (
    from_learning_curve,
    from_learning_curve_display,
    from_table,
)
from bayes_scaling.cli import app
from bayes_scaling.curves import curve_ids, read_curves, validate_curves, write_curves
from bayes_scaling.exceptions import CurveSchemaError

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_diabetes, load_digits  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    LearningCurveDisplay,
    ShuffleSplit,
    learning_curve,
)
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

SIZES = np.array([0.1, 0.25, 0.5, 1.0])
FOLDS = 3


def _cv() -> ShuffleSplit:
    return ShuffleSplit(n_splits=FOLDS, test_size=0.3, random_state=0)


@functools.cache
def _digits_curve(estimator: str, scoring: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    est = GaussianNB() if estimator == "naive_bayes" else DecisionTreeClassifier(random_state=0)
    return learning_curve(est, X, y, cv=_cv(), train_sizes=SIZES, scoring=scoring)


def digits_curve(estimator: str = "naive_bayes", scoring: str = "accuracy"):
    """``learning_curve`` output on the digits (cached; copies returned)."""
    return tuple(a.copy() for a in _digits_curve(estimator, scoring))


# ------------------------------------------------------------------ from_learning_curve
def test_learning_curve_shapes_seeds_and_one_minus_accuracy():
    sizes, train, test = digits_curve()
    t = from_learning_curve(
        sizes,
        train,
        test,
        scoring="accuracy",
        dataset="digits",
        estimator="naive_bayes",
        convert_scores=True,
    )
    assert len(t) == sizes.size * FOLDS
    assert sorted(t["seed"].unique()) == list(range(FOLDS))
    assert sorted(t["n"].unique()) == sorted(sizes.tolist())
    assert set(t["metric"]) == {"1-accuracy"}
    assert set(t["property"]) == {"digits"} and set(t["database"]) == {"naive_bayes"}
    assert set(t["kind"]) == {"transfer"} and (t["target_scale"] == 1.0).all()
    # every (n, split) cell holds 1 - that split's test accuracy
    for i, n in enumerate(sizes):
        for k in range(FOLDS):
            got = t.loc[(t["n"] == n) & (t["seed"] == k), "error"]
            assert got.size == 1
            assert got.iloc[0] == pytest.approx(1.0 - test[i, k])
    assert curve_ids(t).nunique() == 1
    pd.testing.assert_frame_equal(validate_curves(t), t)


def test_learning_curve_train_scores_and_unit():
    sizes, train, test = digits_curve()
    t = from_learning_curve(
        sizes,
        train,
        test,
        scoring="accuracy",
        which="train",
        convert_scores=True,
        target_scale=2.0,
        unit="fraction",
    )
    expected = np.sort((1.0 - train).ravel())
    np.testing.assert_allclose(np.sort(t["error"].to_numpy()), expected)
    assert (t["target_scale"] == 2.0).all() and set(t["unit"]) == {"fraction"}


def test_learning_curve_negated_loss_changes_sign():
    sizes, train, test = digits_curve(scoring="neg_log_loss")
    assert (test < 0).all()
    t = from_learning_curve(sizes, train, test, scoring="neg_log_loss", convert_scores=True)
    assert set(t["metric"]) == {"log_loss"}
    np.testing.assert_allclose(np.sort(t["error"].to_numpy()), np.sort(-test.ravel()))
    assert (t["error"] > 0).all()


def test_learning_curve_rejects_a_score_unless_asked():
    sizes, train, test = digits_curve()
    with pytest.raises(
        CurveSchemaError, match=r"'accuracy' -> error = 1 - accuracy, metric '1-accuracy'"
    ):
        from_learning_curve(sizes, train, test, scoring="accuracy")
    with pytest.raises(CurveSchemaError, match="convert_scores=True"):
        from_learning_curve(sizes, train, test, scoring="neg_log_loss")


def test_learning_curve_own_error_metric_needs_no_conversion():
    sizes, train, test = digits_curve()
    t = from_learning_curve(sizes, train, 1.0 - test, scoring="error_rate")
    assert set(t["metric"]) == {"error_rate"}
    np.testing.assert_allclose(np.sort(t["error"]), np.sort((1.0 - test).ravel()))


def test_learning_curve_bad_inputs():
    sizes, train, test = digits_curve()
    with pytest.raises(CurveSchemaError, match="scoring=None"):
        from_learning_curve(sizes, train, test, scoring=None)
    with pytest.raises(CurveSchemaError, match=r"shape \(n_ticks, n_cv_folds\)"):
        from_learning_curve(sizes[:-1], train, test, scoring="accuracy", convert_scores=True)
    with pytest.raises(CurveSchemaError, match="different shapes"):
        from_learning_curve(sizes, train[:, :2], test, scoring="accuracy", convert_scores=True)
    with pytest.raises(CurveSchemaError, match="which must be"):
        from_learning_curve(sizes, train, test, scoring="accuracy", which="valid")  # type: ignore[arg-type]
    nan = test.copy()
    nan[1, 0] = np.nan
    with pytest.raises(CurveSchemaError, match=rf"NaN at training size\(s\) \[{int(sizes[1])}\]"):
        from_learning_curve(sizes, train, nan, scoring="accuracy", convert_scores=True)


def test_perfect_accuracy_gives_the_zero_error_message():
    sizes, train, test = digits_curve()
    test = test.copy()
    test[2, 1] = 1.0
    with pytest.raises(CurveSchemaError, match=r"'error' must be > 0"):
        from_learning_curve(sizes, train, test, scoring="accuracy", convert_scores=True)


# ------------------------------------------------------------------ LearningCurveDisplay
@functools.cache
def _display(scoring: str | None, negate_score: bool, regression: bool) -> LearningCurveDisplay:
    if regression:
        X, y = load_diabetes(return_X_y=True)
        est = Ridge()
    else:
        X, y = load_digits(return_X_y=True)
        est = GaussianNB()
    disp = LearningCurveDisplay.from_estimator(
        est, X, y, cv=_cv(), train_sizes=SIZES, scoring=scoring, negate_score=negate_score
    )
    import matplotlib.pyplot as plt

    plt.close(disp.figure_)
    return disp


def test_display_accuracy():
    disp = _display("accuracy", False, False)
    t = from_learning_curve_display(disp, dataset="digits", convert_scores=True)
    assert set(t["metric"]) == {"1-accuracy"}
    assert len(t) == disp.test_scores.size
    assert sorted(t["seed"].unique()) == list(range(disp.test_scores.shape[1]))
    np.testing.assert_allclose(np.sort(t["error"]), np.sort(1.0 - disp.test_scores.ravel()))


def test_display_negated_loss_both_ways():
    # negate_score=False: the display holds -MAE and names it "Negative mean absolute error"
    disp = _display("neg_mean_absolute_error", False, True)
    assert (disp.test_scores < 0).all()
    with pytest.raises(CurveSchemaError, match="'neg_mean_absolute_error' -> error = -"):
        from_learning_curve_display(disp)
    t = from_learning_curve_display(disp, dataset="diabetes", convert_scores=True)
    assert set(t["metric"]) == {"mean_absolute_error"}
    np.testing.assert_allclose(np.sort(t["error"]), np.sort(-disp.test_scores.ravel()))
    # negate_score=True: the plot shows the MAE and names it "Mean absolute error", but the
    # display stores the scorer's raw output (-MAE): the same table comes out
    pos = _display("neg_mean_absolute_error", True, True)
    assert pos.score_name == "Mean absolute error" and (pos.test_scores < 0).all()
    t2 = from_learning_curve_display(pos, dataset="diabetes", convert_scores=True)
    pd.testing.assert_frame_equal(t2, t)
    # a score plotted negated ("Negative accuracy") is still stored as accuracy
    acc = _display("accuracy", True, False)
    assert acc.score_name == "Negative accuracy"
    t3 = from_learning_curve_display(acc, convert_scores=True)
    assert set(t3["metric"]) == {"1-accuracy"} and (t3["error"] < 1).all()


def test_display_without_a_score_name():
    disp = _display(None, False, False)
    with pytest.raises(CurveSchemaError, match="Pass scoring='accuracy'"):
        from_learning_curve_display(disp)
    t = from_learning_curve_display(disp, scoring="accuracy", convert_scores=True)
    assert set(t["metric"]) == {"1-accuracy"}
    with pytest.raises(CurveSchemaError, match="Expected a fitted sklearn LearningCurveDisplay"):
        from_learning_curve_display(object())


# ------------------------------------------------------------------------- from_table
def user_table() -> pd.DataFrame:
    """A long table with the user's own names: 2 models x 2 data sets, 4 sizes, 3 folds."""
    rows = []
    for data, floor in (("clinic_a", 0.05), ("clinic_b", 0.1)):
        for model, rate in (("forest", 0.5), ("tree", 0.3)):
            for size in (50, 100, 200, 400):
                for fold in range(3):
                    rows.append(
                        {
                            "dataset": data,
                            "model": model,
                            "train_rows": size,
                            "cv_fold": fold,
                            "val_acc": 1 - (floor + 2.0 * size**-rate) * (1 + 0.02 * fold),
                            "notes": "x",
                        }
                    )
    return pd.DataFrame(rows)


def test_from_table_maps_columns_and_converts():
    raw = user_table()
    t = from_table(
        raw,
        n="train_rows",
        error="val_acc",
        seed="cv_fold",
        metric="accuracy",
        columns={"property": "dataset", "database": "model"},
        values={"unit": "fraction"},
        convert_scores=True,
    )
    assert len(t) == len(raw)
    assert set(t["metric"]) == {"1-accuracy"}
    assert curve_ids(t).nunique() == 4
    assert "notes" not in t.columns and set(t["unit"]) == {"fraction"}
    merged = t.merge(
        raw,
        left_on=["property", "database", "n", "seed"],
        right_on=["dataset", "model", "train_rows", "cv_fold"],
    )
    np.testing.assert_allclose(merged["error"], 1.0 - merged["val_acc"])


def test_from_table_joins_columns_and_numbers_seeds():
    raw = user_table().drop(columns="cv_fold")
    raw["err"] = 1.0 - raw["val_acc"]
    t = from_table(
        raw,
        n="train_rows",
        error="err",
        metric="error_rate",
        columns={"database": ["model", "dataset"]},
    )
    assert set(t["database"]) == {
        "forest/clinic_a",
        "forest/clinic_b",
        "tree/clinic_a",
        "tree/clinic_b",
    }
    assert set(t["property"]) == {"data"}
    assert sorted(t["seed"].unique()) == [0, 1, 2]
    assert not t.duplicated(["database", "n", "seed"]).any()


def test_from_table_metric_column_and_errors():
    raw = user_table()
    raw["what"] = "accuracy"
    t = from_table(
        raw,
        n="train_rows",
        error="val_acc",
        seed="cv_fold",
        metric_column="what",
        columns={"property": "dataset", "database": "model"},
        convert_scores=True,
    )
    assert set(t["metric"]) == {"1-accuracy"}
    with pytest.raises(CurveSchemaError, match=r"Column 'size' \(given as n=\) is not in the"):
        from_table(raw, n="size", error="val_acc", metric="accuracy")
    with pytest.raises(CurveSchemaError, match="exactly one of metric="):
        from_table(raw, n="train_rows", error="val_acc")
    with pytest.raises(CurveSchemaError, match="exactly one of metric="):
        from_table(raw, n="train_rows", error="val_acc", metric="a", metric_column="what")
    with pytest.raises(CurveSchemaError, match=r"unknown schema column\(s\) \['colour'\]"):
        from_table(raw, n="train_rows", error="val_acc", metric="mae", columns={"colour": "model"})
    with pytest.raises(CurveSchemaError, match="given both"):
        from_table(
            raw,
            n="train_rows",
            error="val_acc",
            metric="mae",
            columns={"database": "model"},
            values={"database": "x"},
        )
    # the validator's own messages come through: duplicate rows without seed/grouping
    with pytest.raises(CurveSchemaError, match="Duplicate"):
        from_table(
            raw,
            n="train_rows",
            error="val_acc",
            seed="cv_fold",
            metric="accuracy",
            convert_scores=True,
        )
    with pytest.raises(CurveSchemaError, match="higher-is-better"):
        from_table(
            raw,
            n="train_rows",
            error="val_acc",
            seed="cv_fold",
            metric="accuracy",
            columns={"property": "dataset", "database": "model"},
        )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_from_table_files_and_round_trip(tmp_path, suffix):
    raw = user_table()
    src = tmp_path / f"runs{suffix}"
    if suffix == ".csv":
        raw.to_csv(src, index=False)
    else:
        raw.to_parquet(src, index=False)
    kwargs = dict(
        n="train_rows",
        error="val_acc",
        seed="cv_fold",
        metric="accuracy",
        columns={"property": "dataset", "database": "model"},
        convert_scores=True,
    )
    from_file = from_table(src, **kwargs)
    pd.testing.assert_frame_equal(from_file, from_table(raw, **kwargs))
    out = write_curves(from_file, tmp_path / f"curves{suffix}")
    back = read_curves(out)
    pd.testing.assert_frame_equal(back, from_file, check_dtype=False, rtol=1e-12)
    assert set(back["metric"]) == {"1-accuracy"}


def test_from_table_bad_files(tmp_path):
    with pytest.raises(CurveSchemaError, match="does not exist"):
        from_table(tmp_path / "nope.csv", n="n", error="e", metric="mae")
    (tmp_path / "runs.xlsx").write_text("x")
    with pytest.raises(CurveSchemaError, match="unsupported suffix"):
        from_table(tmp_path / "runs.xlsx", n="n", error="e", metric="mae")
    (tmp_path / "runs.parquet").write_bytes(b"not parquet")
    with pytest.raises(CurveSchemaError, match="Could not read table file"):
        from_table(tmp_path / "runs.parquet", n="n", error="e", metric="mae")


# --------------------------------------------------------------------------------- CLI
def test_cli_import_curves(tmp_path):
    runner = CliRunner()
    src = tmp_path / "runs.csv"
    user_table().to_csv(src, index=False)
    out = tmp_path / "curves.parquet"
    args = [
        "import-curves",
        str(src),
        "-o",
        str(out),
        "--n",
        "train_rows",
        "--error",
        "val_acc",
        "--seed",
        "cv_fold",
        "--metric",
        "accuracy",
        "--column",
        "property=dataset",
        "--column",
        "database=model",
        "--value",
        "target_scale=0.5",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "--convert-scores" in res.output and not out.exists()
    res = runner.invoke(app, [*args, "--convert-scores"])
    assert res.exit_code == 0, res.output
    assert "4 curves" in res.output and "1-accuracy" in res.output
    back = read_curves(out)
    assert len(back) == len(user_table()) and (back["target_scale"] == 0.5).all()
    bad = runner.invoke(app, [*args[:-2], "--value", "target_scale=big", "--convert-scores"])
    assert bad.exit_code == 2 and "must be a number" in bad.output
    bad = runner.invoke(app, [*args, "--convert-scores", "--column", "database"])
    assert bad.exit_code == 2 and "SCHEMA_COLUMN=VALUE" in bad.output


# ----------------------------------------------------------------------- fit + decision
@pytest.mark.integration
def test_fit_and_decisions_on_adapter_output():
    from _model_fits import fit

    from bayes_scaling.compare import compare_groups
    from bayes_scaling.planning import next_batch_value, sample_size_for_target

    tables = []
    for est in ("naive_bayes", "tree"):
        sizes, train, test = digits_curve(est)
        tables.append(
            from_learning_curve(
                sizes,
                train,
                test,
                scoring="accuracy",
                dataset="digits",
                estimator=est,
                convert_scores=True,
            )
        )
    curves = pd.concat(tables, ignore_index=True)
    model = fit(curves, groups=["property", "database"], target_accept=0.95)
    post = model.curve_posterior()
    assert set(post.curves["metric"]) == {"1-accuracy"}
    cid = next(c for c in post.curve_ids if "|tree|" in c)
    observed = curves.loc[curves["database"] == "tree"].groupby("n")["error"].mean()
    target = float(observed.iloc[-1]) * 0.9
    d = sample_size_for_target(post, cid, target, prob=0.9)
    assert "1-accuracy" in d.sentence
    row = d.table.iloc[0]
    assert row["target"] == pytest.approx(target)
    assert 0.0 <= row["p_unreachable"] <= 1.0
    nb = next_batch_value(post, cid, 1000)
    assert "1-accuracy" in nb.sentence
    assert nb.table["error_after_median"].iloc[0] <= nb.table["error_now_median"].iloc[0]
    ranking = compare_groups(post, by="database", within="property", rank_by="error")
    assert set(ranking.table["group"]) == {"naive_bayes", "tree"}
    assert ranking.sentence


def test_decisions_print_an_open_metric_name_and_unit():
    """Sentences name the user's metric and unit (no MCMC: a fake posterior at a known truth)."""
    from _fake_posterior import fake_posterior

    from bayes_scaling.planning import next_batch_value, sample_size_for_target
    from bayes_scaling.plotting import compute_curve_bands

    spec = dict(
        property="speech",
        database="whisper_small",
        kind="transfer",
        metric="word_error_rate",
        unit="errors/word",
        target_scale=1.0,
        n_min=100,
        n_max=10_000,
        D=2.0,
        alpha=0.4,
        C=0.05,
    )
    other = {**spec, "database": "whisper_base", "metric": "nll", "unit": "nats", "C": 0.1}
    post = fake_posterior([spec, other])
    wer, nll = post.curve_ids
    d = sample_size_for_target(post, wer, 0.08, prob=0.9)
    assert "speech word_error_rate" in d.sentence and "0.08 errors/word" in d.sentence
    assert "whisper_small samples" in d.sentence
    nb = next_batch_value(post, nll, 5_000)
    assert "speech nll" in nb.sentence and "nats" in nb.sentence
    bands = compute_curve_bands(post, scale="original")
    assert set(bands["metric"]) == {"word_error_rate", "nll"}


def test_main_job_metric_selection_names_the_metrics_present():
    from bayes_scaling.pipeline import select_curves

    sizes, train, test = digits_curve()
    t = from_learning_curve(sizes, train, test, scoring="accuracy", convert_scores=True)
    with pytest.raises(CurveSchemaError, match=r"no rows of metric 'mae'.*\['1-accuracy'\]"):
        select_curves(t)
    assert len(select_curves(t, metric="1-accuracy", strategies=None)) == len(t)
