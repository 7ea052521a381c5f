# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Bring your own learning curves
#
# **Question.** I have my own learning curves, from any domain: from scikit-learn's
# `learning_curve`, from an experiment tracker, from a spreadsheet. Does a scaling law with a
# floor describe them, is the fit trustworthy, and how much more data should I collect, and
# for which model or source?
#
# Two parts:
#
# 1. **Real curves, computed on the spot.** Learning curves of three scikit-learn
#    classifiers on two data sets that ship with scikit-learn (handwritten digits, breast
#    cancer diagnosis), turned into the package's curve table by the adapters of
#    `bayes_scaling.adapters`, fitted hierarchically and turned into decisions. Nobody
#    knows the true curves here.
# 2. **Simulated curves, where the truth is known.** A depth-estimation network pretrained
#    on *n* synthetic images from three renderers; the curves are simulated from known laws,
#    so we can check the posterior against the truth, compare laws with leave-one-out and plan
#    a budget.
#
# The curve table and its metric rule are described in `docs/curve_schema.md`.
#
# *Running it.* After the README set-up, with the `.venv` kernel. `BAYES_SCALING_FAST=1` uses
# short chains (a smoke test); unset, the package defaults.

# %%
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import ShuffleSplit, learning_curve
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bayes_scaling.adapters import from_learning_curve, from_table
from bayes_scaling.compare import compare_groups
from bayes_scaling.curves import read_curves, validate_curves
from bayes_scaling.exceptions import CurveSchemaError
from bayes_scaling.models import LawStack, ScalingLawModel, compare_models, transfer_gap_evidence
from bayes_scaling.pipeline import fast_mode, sampler_settings
from bayes_scaling.planning import next_batch_value, sample_size_for_target
from bayes_scaling.plotting import (
    compute_curve_bands,
    compute_observed_points,
    plot_learning_curves,
    plot_n_required,
)
from bayes_scaling.simulate import simulate_curves

FAST = fast_mode()
SAMPLER = sampler_settings()
SEED = 4
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
print(f"fast mode: {FAST}; sampler settings: {SAMPLER or 'package defaults'}")

# %% [markdown]
# ## Part 1 · Real learning curves from scikit-learn
#
# `sklearn.model_selection.learning_curve` trains an estimator on growing subsets of the
# training folds and scores it on the test folds. We use five random 60/40 splits (each split
# becomes a `seed` of the curve table) and six training sizes from 10 % to 100 % of the
# training part, for three classifiers (a linear ridge classifier, k nearest neighbours,
# Gaussian naive Bayes) on two data sets (1,797 digits images, 569 tumour biopsies).
#
# scikit-learn scores are higher-is-better (accuracy); the model needs a positive,
# lower-is-better error. `convert_scores=True` applies the package's documented rule:
# `error = 1 - accuracy`, metric `1-accuracy` (the error rate). A plain learning curve maps onto
# the schema as `property` = the data set and `database` = the estimator (where the
# `n` training samples go), so the model pools the curves by data set and by estimator, and
# "which database to expand" reads "which estimator to invest in". The decision sentences
# call the floor `C` of the law a "transfer gap": here it is the error rate no amount of
# data removes for that estimator.

# %%
DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer}
ESTIMATORS = {
    "ridge": make_pipeline(StandardScaler(), RidgeClassifier()),
    "knn": make_pipeline(StandardScaler(), KNeighborsClassifier()),
    "naive_bayes": GaussianNB(),
}
CV = ShuffleSplit(n_splits=5, test_size=0.4, random_state=SEED)
TRAIN_SIZES = np.geomspace(0.1, 1.0, 6)

tables = []
for data_name, loader in DATASETS.items():
    X, y = loader(return_X_y=True)
    for est_name, estimator in ESTIMATORS.items():
        train_sizes, train_scores, test_scores = learning_curve(
            estimator, X, y, cv=CV, train_sizes=TRAIN_SIZES, scoring="accuracy"
        )
        tables.append(
            from_learning_curve(
                train_sizes,
                train_scores,
                test_scores,
                scoring="accuracy",
                dataset=data_name,
                estimator=est_name,
                convert_scores=True,
            )
        )
real = validate_curves(pd.concat(tables, ignore_index=True))
print(f"{len(real)} rows, {real.groupby(['property', 'database']).ngroups} curves")
display(real.head())
display(
    real.pivot_table(index=["property", "n"], columns="database", values="error", aggfunc="mean")
    .round(3)
    .rename_axis(columns="mean error rate")
)

# %% [markdown]
# Without `convert_scores=True` the adapter refuses the accuracy and says how it would convert
# it; an error of exactly zero (a split scored perfectly) is refused too, since the model
# works on the log of the error.

# %%
try:
    from_learning_curve(train_sizes, train_scores, test_scores, scoring="accuracy")
except CurveSchemaError as exc:
    print(str(exc).splitlines()[0])

# %% [markdown]
# ### Fit: pooled by data set and by estimator
#
# `groups=["property", "database"]` gives every curve additive, partially pooled effects of
# its data set and of its estimator on the error at the reference size, the floor fraction
# and the decay rate.

# %%
real_model = ScalingLawModel(groups=["property", "database"], random_seed=SEED, **SAMPLER).fit(real)
print(real_model.convergence)
real_post = real_model.curve_posterior()
real_ids = real_post.curve_ids


def real_name(curve: str) -> str:
    """``"digits · knn"`` for a curve id of the real example."""
    meta = real_post.curves.loc[curve]
    return f"{meta['property']} · {meta['database']}"


# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), layout="constrained")
real_bands = compute_curve_bands(real_post, scale="original", extrapolate=10)
real_points = compute_observed_points(real, scale="original")
for ax, data_name in zip(axes, DATASETS, strict=True):
    keep = [c for c in real_ids if real_post.curves.loc[c, "property"] == data_name]
    plot_learning_curves(
        real_bands[real_bands["curve"].isin(keep)],
        observed=real_points[real_points["curve"].isin(keep)],
        ax=ax,
        title=f"{data_name}: error rate vs training size, fit and 90 % band",
    )
plt.show()

# %% [markdown]
# ### Decisions
#
# How many training samples reach an error rate of 3 % with 90 % probability, and how likely is
# 3 % out of reach (the floor `C` above it)? The data sets are finite, so a large `n` answers
# "if we collected more data of this kind".

# %%
TARGET = 0.03
real_sizes = {c: sample_size_for_target(real_post, c, TARGET, prob=0.9) for c in real_ids}
for c, d in real_sizes.items():
    print(f"- {real_name(c)}: {d.sentence}")
reach = pd.concat([d.table for d in real_sizes.values()], ignore_index=True)
reach.insert(0, "curve", [real_name(c) for c in reach.pop("curve")])
display(reach[["curve", "target", "n_median", "n_at_prob", "p_unreachable"]])

# %% [markdown]
# What would 1,000 more training samples buy, and which estimator should get them? The
# ranking by the floor `C` says which estimator keeps improving longest.

# %%
BATCH = 1_000
real_next = {c: next_batch_value(real_post, c, BATCH) for c in real_ids}
for d in real_next.values():
    print(f"- {d.sentence}")
after_real = pd.concat([d.table for d in real_next.values()], ignore_index=True)
after_real["data set"] = [real_post.curves.loc[c, "property"] for c in after_real["curve"]]
after_real["estimator"] = [real_post.curves.loc[c, "database"] for c in after_real["curve"]]
floor = compare_groups(real_post, by="database", within="property", rank_by="gap")
print(floor.sentence)
display(floor.table[["context", "group", "C_median", "C_lower", "C_upper", "p_best"]])

# %% [markdown]
# ### The answer (real curves)

# %%
for data_name, rows in after_real.groupby("data set"):
    best_row = rows.sort_values("error_after_median").iloc[0]
    print(
        f"On {data_name}, invest the next {BATCH:,} samples in {best_row['estimator']}: its "
        f"median error rate goes from {best_row['error_now_median']:.3f} to "
        f"{best_row['error_after_median']:.3f} (90 % interval "
        f"{best_row['error_after_lower']:.3f}-{best_row['error_after_upper']:.3f}). "
        + real_sizes[best_row["curve"]].sentence
    )

# %% [markdown]
# ### Your own table
#
# Curves from a tracker or a spreadsheet come with their own column names. `from_table` maps
# them onto the schema (CSV, Parquet or a DataFrame) and validates the result; the same is
# `bayes-scaling import-curves runs.csv -o curves.csv --n train_size --error val_accuracy
# --seed fold --metric accuracy --column property=dataset --column database=model
# --convert-scores` on the command line. Here the real curves, written back as such a file:

# %%
workdir = Path(tempfile.mkdtemp(prefix="my_curves_"))
runs_csv = workdir / "runs.csv"
real.assign(val_accuracy=1.0 - real["error"]).rename(
    columns={"property": "dataset", "database": "model", "n": "train_size", "seed": "fold"}
)[["dataset", "model", "train_size", "fold", "val_accuracy"]].to_csv(runs_csv, index=False)
print(runs_csv.read_text().splitlines()[:3])
mine = from_table(
    runs_csv,
    n="train_size",
    error="val_accuracy",
    seed="fold",
    metric="accuracy",
    columns={"property": "dataset", "database": "model"},
    convert_scores=True,
)
pd.testing.assert_frame_equal(mine, real)
print(f"{len(mine)} rows, the same table as above")

# %% [markdown]
# ## Part 2 · Simulated curves, where the truth is known
#
# The example is not materials science: a monocular **depth-estimation** network is
# pretrained on *n* synthetic images from one of three renderers and fine-tuned on a fixed
# set of real photos; the error is the depth MAE in metres on real test photos. The curves are
# simulated with `bayes_scaling.simulate.simulate_curves` from known laws (so we can check
# the answers), written to a CSV in a temporary folder, and from there on treated exactly like
# a user's file. To use your own data, point `CSV` at your file.

# %% [markdown]
# ### A CSV of learning-curve errors
#
# One row per (curve, n, seed). Required columns: `property, database, kind, n, seed, error,
# metric, target_scale`; `unit` (and a few others) are optional. `target_scale` is the
# standard deviation of the target (here, of the true depth: 1.2 m); the model divides the
# errors by it.

# %%
TRUTH = pd.DataFrame(
    {
        "property": "depth",
        "database": ["indoor_renders", "game_engine", "procedural_scenes"],
        "D": [1.6, 1.2, 2.0],
        "alpha": [0.45, 0.35, 0.50],
        "C": [0.10, 0.18, 0.28],
        "unit": "m",
    }
)
N_GRID = np.unique(np.round(np.geomspace(100, 20_000, 8)).astype(int))
CSV = workdir / "depth_learning_curves.csv"
simulate_curves(TRUTH, N_GRID, seeds=4, noise=0.05, target_scale=1.2, rng=SEED).to_csv(
    CSV, index=False
)
print(CSV)
print(CSV.read_text().splitlines()[:4])

# %%
curves = read_curves(CSV)  # validates: a malformed table raises a CurveSchemaError
print(f"{len(curves)} rows, {curves.groupby(['property', 'database']).ngroups} curves")
display(curves.head())

# %% [markdown]
# ### Fit the scaling law with a transfer gap
#
# `ScalingLawModel` defaults to the paper's law `power_gap`, `error = D n^-α + C`. Grouping
# columns with a single level, one curve per level, or fewer than two levels with several
# curves are dropped automatically
# (`dropped_groups_` says why); here all three curves are pooled around one population mean.

# %%
model = ScalingLawModel(random_seed=SEED, **SAMPLER).fit(curves)
print(model.dropped_groups_)
posterior = model.curve_posterior()
ids = posterior.curve_ids

# %% [markdown]
# ### Is the fit trustworthy? Convergence
#
# `model.convergence` checks divergences, R-hat (≤ 1.01) and bulk and tail ESS (≥ 400) for
# every curve's `D`, `α` and `C`; `fit()` already warns when a threshold is missed. In fast
# mode the short chains may miss the ESS threshold: rerun with the defaults (or more
# `draws`/`tune`) before trusting any decision.

# %%
print(model.convergence)
print("all thresholds met:", model.convergence.ok)
display(model.convergence.table.sort_values("ess_bulk").head())

# %%
# The posterior against the truth the curves were simulated from (`D` and `C` normalised,
# i.e. in units of the 1.2 m target standard deviation): medians and 90 % intervals.
summary = model.summary(level="curve").set_index(["name", "parameter", "scale"])
rows = []
for _, true in TRUTH.iterrows():
    cid = next(c for c in ids if f"|{true['database']}|" in c)
    row = {"curve": true["database"]}
    for p, scale in (("D", "normalised"), ("alpha", "none"), ("C", "normalised")):
        s = summary.loc[(cid, p, scale)]
        row[p] = f"{s['median']:.3g} [{s['lower']:.3g}, {s['upper']:.3g}]"
        row[f"true {p}"] = true[p]
    rows.append(row)
display(pd.DataFrame(rows))

# %% [markdown]
# ### Which law? Leave-one-out comparison
#
# Is there really a transfer gap, and is one power law enough? We fit the same curves with
# the pure power law (`power`, no gap), a smoothly broken power law with a gap
# (`broken_power`) and the Morgan-Mercer-Flodin law (`mmf`: flat at small n, then
# steepening on log-log axes, as curves trained from scratch often are) and compare the
# expected log predictive density with PSIS-LOO (one `(curve, n)` point, all its seeds, left
# out at a time). With only eight points per curve,
# single points are influential: the `diag_elpd` column counts the points whose Pareto k̂
# exceeds ArviZ's threshold (about 0.7), where the PSIS approximation is rough. ArviZ warns
# about them once per model; we silence that repeated warning and read the column instead.
# (`round_to="none"` is passed on to `arviz.compare`, whose default rounds ELPDs to their
# standard error.)

# %%
models = {"power_gap": model}
for law in ("power", "broken_power", "mmf"):
    models[law] = ScalingLawModel(law=law, random_seed=SEED, **SAMPLER).fit(curves)
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
    comparison = compare_models(models, round_to="none")
display(comparison)

# %% [markdown]
# Rather than betting on the winner, `LawStack` averages the laws by **Bayesian stacking**:
# weights that maximise the leave-one-out log score of the mixture, here per curve kind. Its
# `curve_posterior()` is the mixture of the laws' posteriors, which every decision below
# could read instead of one law's. (A law whose fit did not converge is left out; the fast
# runs of the notebook tests do not converge, so there we keep them to let the cell run.)

# %%
stack = LawStack.from_models(models, require_convergence=not fast_mode(), random_seed=SEED)
print(stack.sentence())
display(stack.table)

# %% [markdown]
# `transfer_gap_evidence` turns the comparison into the answer to "is there a gap?", and adds
# per curve the probability that the gap exceeds the accuracy we need (0.13 m, see below):
# where `P(C > 0.13 m)` is high, no amount of synthetic data from that renderer reaches it.

# %%
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
    evidence = transfer_gap_evidence(models, threshold=0.13, scale="original")
print(evidence.sentence)
display(evidence.gap)

# %%
fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
order = comparison.sort_values("elpd")
ax.errorbar(order["elpd"], np.arange(len(order)), xerr=order["se"], fmt="o", capsize=4)
ax.set_yticks(np.arange(len(order)), order.index)
ax.set(xlabel="ELPD (PSIS-LOO), higher is better", title="Which law predicts left-out points?")
plt.show()

# %% [markdown]
# ### Plan: how much more synthetic data, and from which renderer?
#
# We need a depth MAE of 0.13 m with 90 % probability. First: how many images does each
# renderer need? Then: with 2,000 GPU-hours and (illustrative) costs of 0.02, 0.004 and 0.001
# GPU-hours per image, which renderer should get the whole budget?

# %%
targets = [0.13, 0.11]
sizes = {c: sample_size_for_target(posterior, c, targets, prob=0.9) for c in ids}
for c, d in sizes.items():
    print(f"- {posterior.curves.loc[c, 'database']}: {d.sentence}")
display(
    pd.concat([d.table for d in sizes.values()], ignore_index=True)[
        ["curve", "target", "n_median", "n_lower", "n_upper", "n_at_prob", "p_unreachable"]
    ]
)

# %%
BUDGET = 2_000  # GPU-hours
COST = {"indoor_renders": 0.02, "game_engine": 0.004, "procedural_scenes": 0.001}
spend = {
    c: next_batch_value(posterior, c, BUDGET / COST[posterior.curves.loc[c, "database"]])
    for c in ids
}
for d in spend.values():
    print(f"- {d.sentence}")
after = pd.concat([d.table for d in spend.values()], ignore_index=True)
after["database"] = [posterior.curves.loc[c, "database"] for c in after["curve"]]
display(
    after[
        [
            "database",
            "n_current",
            "delta_n",
            "error_now_median",
            "error_after_median",
            "error_after_lower",
            "error_after_upper",
        ]
    ]
)

# %%
ranking = compare_groups(posterior, by="database", within="property", rank_by="gap")
print(ranking.sentence)
display(ranking.table[["group", "error_median", "C_median", "C_lower", "C_upper", "p_best"]])

# %%
best = after.sort_values("error_after_median")["curve"].iloc[0]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5), layout="constrained")
bands = compute_curve_bands(posterior, scale="original", extrapolate=100)
plot_learning_curves(
    bands,
    observed=compute_observed_points(curves, scale="original"),
    ax=ax1,
    title="Depth MAE vs synthetic images: fit, 90 % band, data",
)
for target in targets:
    ax1.axhline(target, color="0.3", linestyle=":", linewidth=1)
plot_n_required(sizes[best], ax=ax2)
ax2.set_title(f"Images needed: {posterior.curves.loc[best, 'database']}")
plt.show()

# %% [markdown]
# ### The answer (simulated curves)

# %%
print(evidence.sentence)
print(sizes[best].sentence)
print(
    f"With {BUDGET:,} GPU-hours, put them into {posterior.curves.loc[best, 'database']}: "
    + spend[best].sentence
)
