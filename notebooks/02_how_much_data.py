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
# # 02 · How much simulation data should we produce?
#
# **Question.** Given the fitted scaling laws of the real curves, how many more simulated
# samples does a target accuracy need, what does the next batch buy, when should production
# stop, how should a compute budget be split across the three band-gap DFT databases, and
# how many experiments is a simulation database worth?
#
# Each answer is a decision object of `bayes_scaling.planning`: a plain `.sentence` (on 90 %
# credible intervals) and a tidy `.table`, plus one figure. All of it propagates the full
# posterior of `(D, α, C)`, draw by draw.
#
# *Running it.* After the README set-up, run it with the `.venv` kernel. With
# `BAYES_SCALING_FAST=1` the fit uses short chains (a smoke test, not for decisions); unset,
# the package defaults. The fit is shared with notebooks 01 and 03 through a cache file, and
# is made here when the cache is empty, so this notebook also runs on its own.

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.ticker import FuncFormatter

from bayes_scaling.constants import DEFAULT_SEED
from bayes_scaling.curves import read_curves
from bayes_scaling.pipeline import (
    BUNDLED_CURVES,
    fast_mode,
    fit_cached,
    sampler_settings,
    select_curves,
)
from bayes_scaling.planning import (
    allocate_budget,
    equivalent_sample_size,
    marginal_gain_draws,
    next_batch_value,
    sample_size_for_target,
    stopping_point,
)
from bayes_scaling.plotting import (
    compute_curve_bands,
    compute_observed_points,
    curve_labels,
    plot_learning_curves,
    plot_n_required,
)

FAST = fast_mode()
SAMPLER = sampler_settings()
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)


curves = select_curves(read_curves(BUNDLED_CURVES), metric="mae")
model, fit_path = fit_cached(
    curves, random_seed=DEFAULT_SEED, check_convergence=False, **SAMPLER
)
posterior = model.curve_posterior()
meta = posterior.curves
labels = curve_labels(posterior, posterior.curve_ids)
print(f"fast mode: {FAST}; fit: {fit_path}")
print(model.convergence.message)


def curve_of(pair: str) -> str:
    """Curve id of a harness pair (e.g. 'chi_cosmo_rs')."""
    return meta.index[meta["pair"] == pair][0]


def error_now(curve: str, scale: str = "original") -> float:
    """Posterior median of the expected error at the curve's largest n."""
    return float(np.median(posterior.expected_error(meta.loc[curve, "n_max"], curve, scale)))


CHI = curve_of("chi_cosmo_rs")  # the paper's χ case study, and our steepest transfer curve
N_CHI = float(meta.loc[CHI, "n_max"])
print(f"χ from COSMO-RS: n_max = {N_CHI:.0f}, MAE now ≈ {error_now(CHI):.3f}")

# %% [markdown]
# ## 1. Sample size to a target
#
# How many COSMO-RS samples does the χ model need to lower its MAE by 2 %, 5 % and 10 %,
# with 90 % probability? Per posterior draw `n = (D / (target − C))^(1/α)`, and a target below
# the transfer gap `C` is unreachable at any *n*.

# %%
targets = [round(f * error_now(CHI), 4) for f in (0.98, 0.95, 0.90)]
size = sample_size_for_target(posterior, CHI, targets, prob=0.9)
print(size.sentence)
display(size.table)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5), layout="constrained")
bands = compute_curve_bands(posterior, np.geomspace(16, 1e7, 120), curves=[CHI], scale="original")
plot_learning_curves(bands, ax=ax1, title="χ (COSMO-RS): law extrapolated to n = 10⁷")
for t in targets:
    ax1.axhline(t, color="0.3", linewidth=0.8, linestyle=":")
ax1.axvline(N_CHI, color="0.2", linestyle=":")
# zoom on the curve; C's interval reaches far lower
ax1.set_ylim(0.8 * min(bands["C_median"].min(), min(targets)), 1.2 * bands["median"].max())
ax1.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
plot_n_required(size, ax=ax2)
ax2.set_xlim(10, 1e8)  # draws with a tiny α need astronomically many samples
plt.show()

# %% [markdown]
# ## 2. Value of the next batch
#
# What does adding half, one, three or nine times the current database buy? The reduction
# per draw is `D (n^-α − (n + Δn)^-α)`.

# %%
batch = next_batch_value(posterior, CHI, [0.5 * N_CHI, N_CHI, 3 * N_CHI, 9 * N_CHI])
print(batch.sentence)
display(
    batch.table[
        [
            "delta_n",
            "n_after",
            "error_now_median",
            "reduction_median",
            "reduction_lower",
            "reduction_upper",
            "relative_reduction_median",
        ]
    ]
)

# %%
t = batch.table
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
ax.errorbar(
    t["delta_n"],
    100 * t["reduction_median"] / t["error_now_median"],
    yerr=[
        100 * (t["reduction_median"] - t["reduction_lower"]) / t["error_now_median"],
        100 * (t["reduction_upper"] - t["reduction_median"]) / t["error_now_median"],
    ],
    fmt="o-",
    capsize=4,
)
ax.set_xscale("log")
ax.set_xlabel("added COSMO-RS samples Δn")
ax.set_ylabel("χ MAE reduction [% of today]")
ax.set_title("Value of the next batch: median and 90 % interval")
plt.show()

# %% [markdown]
# ## 3. When to stop producing
#
# Say a sample is worth producing while 1,000 more samples still lower the error by at least
# 0.1 % of its current value, i.e. a marginal gain of `1e-6 × error now` per sample. Where does
# each transfer curve cross that line, and which ones have already converged?

# %%
stop = stopping_point(posterior, CHI, 1e-6 * error_now(CHI))
print(stop.sentence)
display(stop.table)

# %%
transfer = [c for c in posterior.curve_ids if meta.loc[c, "kind"] == "transfer"]
stops = {c: stopping_point(posterior, c, 1e-6 * error_now(c)) for c in transfer}
for c, d in stops.items():
    print(f"- {labels[c]}: {d.sentence}")
display(
    pd.concat([d.table for d in stops.values()], ignore_index=True)[
        ["curve", "n_current", "n_stop_median", "n_stop_at_prob", "p_converged_now", "converged"]
    ]
)

# %%
n_grid = np.geomspace(16, 1e5, 80)
p = posterior.params(CHI, "original")
gain = np.column_stack([marginal_gain_draws(p["D"], p["alpha"], n) for n in n_grid])
lo, med, hi = np.quantile(gain, [0.05, 0.5, 0.95], axis=0)
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
ax.fill_between(n_grid, lo, hi, alpha=0.25)
ax.plot(n_grid, med, label="marginal gain per sample (median, 90 % band)")
ax.axhline(stop.table["gain_threshold"].iloc[0], color="0.3", linestyle="--", label="threshold")
ax.axvline(N_CHI, color="0.2", linestyle=":", label="current n")
ax.axvline(
    stop.table["n_stop_at_prob"].iloc[0], color="C3", linestyle=":", label="stop here (90 %)"
)
ax.set(
    xscale="log",
    yscale="log",
    xlabel="COSMO-RS samples n",
    ylabel="χ MAE reduction per added sample",
    title="When to stop producing",
)
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# ## 4. Splitting a compute budget across the band-gap databases
#
# Three DFT databases feed the same experimental band-gap task. Suppose one more calculation
# costs 12 CPU-hours in a Materials Project-like workflow, 8 in an OQMD-like one and 10 in an
# AFLOW-like one (illustrative costs, not measured ones), and we have 200,000 CPU-hours.
# `allocate_budget` finds the exact best split on a grid of budget increments (dynamic
# programming over the posterior draws) and reports the equal split next to it.

# %%
costs = {"materials_project": 12.0, "oqmd": 8.0, "aflow": 10.0}
allocation = allocate_budget(posterior, 200_000, costs, cost_unit="CPU-hours")
print(allocation.sentence)
print(
    f"objective (mean expected normalised MAE): best split {allocation.value:.5f}, "
    f"equal split {allocation.equal_split_value:.5f}"
)
display(
    allocation.table[
        [
            "unit",
            "cost_per_sample",
            "n_current",
            "n_added",
            "share",
            "error_median",
            "error_lower",
            "error_upper",
            "equal_n_added",
            "equal_error_median",
        ]
    ]
)

# %% [markdown]
# The band-gap curves are nearly flat at 16,384 samples (notebook 01), so every split buys
# little, and the best split beats the equal one by less than 0.001 in mean normalised MAE
# (printed above): the decision that matters here is the stopping point, not the split.

# %%
t = allocation.table
x = np.arange(len(t))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
ax1.bar(x - 0.2, t["n_added"], width=0.4, label="best split")
ax1.bar(x + 0.2, t["equal_n_added"], width=0.4, label="equal split")
ax1.set_xticks(x, t["unit"])
ax1.set(ylabel="samples added", title="Where the 200,000 CPU-hours go")
ax1.legend()
now = [error_now(c) for c in t["curve"]]
ax2.errorbar(
    x,
    t["error_median"],
    yerr=[t["error_median"] - t["error_lower"], t["error_upper"] - t["error_median"]],
    fmt="o",
    capsize=4,
    label="after the best split (90 %)",
)
ax2.scatter(x, now, marker="_", s=400, color="0.2", label="now (median)")
ax2.set_xticks(x, t["unit"])
ax2.set(ylabel="band-gap MAE [eV]", title="Expected MAE after spending")
ax2.legend()
plt.show()

# %% [markdown]
# ## 5. Equivalent experimental sample size
#
# How many experimental samples would a model trained from scratch need to match the
# transfer model? Per draw, `D_s m^-α_s + C_s = error_transfer(n)` is solved for `m`. Our
# transfer models already use the full experimental split *and* the simulation data, so
# `m_eq` above the split size measures what pretraining adds.
#
# Two caveats. Any `m_eq` above the largest observed *m* is an extrapolation of the scratch
# law. And the scratch curves bend *down* on the log-log scale at large *m* (they get steeper),
# which `D m^-α + C` cannot follow: the fitted scratch law sits several per cent above the
# last observed points, so these `m_eq` lean high. The last column of the table below shows
# it: where transfer and scratch tie on the observed errors at the full split (MAFA density,
# MD Tg), `m_eq` should be close to the split size, and the law puts it well above. A law with
# a break (`law="broken_power"`, whose slope may steepen) is the remedy to try for the
# scratch curves. The limit `n → ∞` is set by the transfer gap and is the least certain
# number here.

# %%
scratch = [c for c in posterior.curve_ids if meta.loc[c, "kind"] == "scratch"]
fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
plot_learning_curves(
    compute_curve_bands(posterior, curves=scratch, extrapolate=3),
    observed=compute_observed_points(curves, curves=scratch),
    ax=ax,
    show_plateau=False,
    title="Scratch curves: observed errors bend below the fitted law at large m",
)
plt.show()

# %%
equivalents = {
    c: equivalent_sample_size(posterior, c, n=[meta.loc[c, "n_max"], 10 * meta.loc[c, "n_max"]])
    for c in transfer
}
print(equivalents[CHI].sentence)
display(equivalents[CHI].table)


# %%
def observed_at_max(curve: str) -> float:
    """Observed mean MAE over the seeds at the curve's largest n (or m)."""
    rows = curves[
        (curves["pair"] == meta.loc[curve, "pair"]) & (curves["n"] == meta.loc[curve, "n_max"])
    ]
    return float(rows["error"].mean())


rows = []
for c, d in equivalents.items():
    r = d.table.iloc[0]
    sc = r["scratch_curve"]
    n_train = int(curves.loc[curves["pair"] == meta.loc[c, "pair"], "n_train"].median())
    rows.append(
        {
            "curve": labels[c],
            "m_eq_median": round(r["m_eq_median"]),
            "m_eq_lower": round(r["m_eq_lower"]),
            "m_eq_upper": round(r["m_eq_upper"]),
            "experimental rows used": n_train,
            "scratch m_max": int(r["scratch_m_max"]),
            "observed transfer vs scratch at full m [%]": round(
                100 * (observed_at_max(c) / observed_at_max(sc) - 1), 1
            ),
        }
    )
eq = pd.DataFrame(rows)
display(eq)
fig, ax = plt.subplots(figsize=(11, 4.5), layout="constrained")
y = np.arange(len(eq))[::-1]
ax.hlines(y, eq["m_eq_lower"], eq["m_eq_upper"].clip(upper=1e7), linewidth=2.5)
ax.scatter(eq["m_eq_median"], y, zorder=3, label="m_eq (median, 90 % interval)")
ax.scatter(
    eq["experimental rows used"],
    y,
    marker="|",
    s=300,
    color="C3",
    label="experimental rows the transfer model used",
)
ax.set_yticks(y, eq["curve"])
ax.set(
    xscale="log",
    xlabel="experimental samples m",
    title="Experiments a scratch model needs to match transfer at today's n",
)
ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
plt.show()

# %% [markdown]
# ## The answer in one paragraph

# %%
doubling = next_batch_value(posterior, CHI, N_CHI)
print(" ".join([size.sentence, doubling.sentence, stop.sentence, allocation.sentence]))
