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
# *Which curves.* The bundled table (`data/curves_scarce/curves.parquet`, the
# scarce-experiment protocol of `data/README.md`) measures every transfer task at six
# experimental training sizes *m*. We plan on the main job's *headline* curves
# (`read_headline`): every transfer task at its measured *m* nearest 100 experiments, with
# the transfer strategy the harness chose on validation rows, plus the scratch curves (no
# pretraining; their *n* axis is the experimental size *m*). That is the regime where
# experiments are scarce and pretraining matters; with the whole experimental training split
# (hundreds to thousands of rows, see the table below) the curves in *n* are much flatter
# (`data/README.md`, notebook 01) and the answers below shrink towards "more simulation
# hardly helps". Up to *m* = 128 every point is the mean of 20 trials (5 above). All
# answers hold at the headline *m*: with more experiments the simulations are worth less
# (notebook 05 and the surface model follow the answers in *m*).
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
from bayes_scaling.curves import curve_ids
from bayes_scaling.pipeline import (
    BUNDLED_CURVES,
    fast_mode,
    fit_cached,
    read_headline,
    sampler_settings,
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


curves, chosen = read_headline(BUNDLED_CURVES, metric="mae")
model, fit_path = fit_cached(
    curves, random_seed=DEFAULT_SEED, check_convergence=False, **SAMPLER
)
posterior = model.curve_posterior()
meta = posterior.curves
labels = curve_labels(posterior, posterior.curve_ids)
transfer = [c for c in posterior.curve_ids if meta.loc[c, "kind"] == "transfer"]
scratch = [c for c in posterior.curve_ids if meta.loc[c, "kind"] == "scratch"]
# observed errors per (curve, n, trial); the `seed` column of a row is its trial
observed = curves.assign(curve=curve_ids(curves).to_numpy())
print(f"fast mode: {FAST}; fit: {fit_path}")
print(model.convergence.message)

# %% [markdown]
# ### Which experimental size each task uses
#
# One row per transfer task: the headline *m* (the measured level nearest 100 on a log
# scale), every level measured below the full split, the full split's size (median over
# trials), the *n* grid, and how many trials average each point of the headline curve.

# %%
trials = observed.groupby("curve")["seed"].nunique()
tasks = (
    meta.loc[transfer, ["property", "database", "strategy", "m", "n_min", "n_max"]]
    .rename_axis("curve")
    .reset_index()
    .merge(chosen[["property", "database", "levels", "n_train"]], on=["property", "database"])
)
display(
    pd.DataFrame(
        {
            "curve": [labels[c] for c in tasks["curve"]],
            "strategy": tasks["strategy"],
            "headline m": tasks["m"].astype(int),
            "measured m (below the full split)": tasks["levels"],
            "full split (rows)": tasks["n_train"].astype(int),
            "n range": [
                f"{a:,.0f}–{b:,.0f}" for a, b in zip(tasks["n_min"], tasks["n_max"], strict=True)
            ],
            "trials per point": trials.loc[tasks["curve"]].to_numpy(),
        }
    )
)


def curve_of(pair: str) -> str:
    """Transfer curve id of a harness pair (e.g. 'chi_cosmo_rs'), at its headline m."""
    return meta.index[(meta["pair"] == pair) & (meta["kind"] == "transfer")][0]


def error_now(curve: str, scale: str = "original") -> float:
    """Posterior median of the expected error at the curve's largest n."""
    return float(np.median(posterior.expected_error(meta.loc[curve, "n_max"], curve, scale)))


def observed_at(curve: str, n: float) -> pd.Series:
    """Observed MAE per trial of one curve at one n (of a scratch curve: at m = n)."""
    rows = observed[(observed["curve"] == curve) & (observed["n"] == n)]
    return rows.set_index("seed")["error"]


CHI = curve_of("chi_cosmo_rs")  # the paper's χ case study, and our steepest transfer curve
N_CHI = float(meta.loc[CHI, "n_max"])
M_CHI = int(meta.loc[CHI, "m"])
print(
    f"χ from COSMO-RS at m = {M_CHI} experiments: n_max = {N_CHI:,.0f} COSMO-RS samples; MAE "
    f"at n_max: law {error_now(CHI):.3f} (posterior median), observed "
    f"{observed_at(CHI, N_CHI).mean():.3f} (mean of {trials[CHI]} trials)."
)

# %% [markdown]
# ## 1. Sample size to a target
#
# How many COSMO-RS samples does the χ model (at its headline *m*) need to lower its MAE by
# 5 %, 10 % and 20 %, with 90 % probability? Per posterior draw `n = (D / (target − C))^(1/α)`,
# and a target below the transfer gap `C` is unreachable at any *n*. The reductions are taken
# from the law's error at today's *n* (the posterior median printed above), not from the
# observed mean next to it.

# %%
REDUCTIONS = (0.05, 0.10, 0.20)
targets = [round((1 - r) * error_now(CHI), 4) for r in REDUCTIONS]
size = sample_size_for_target(posterior, CHI, targets, prob=0.9)
print(size.sentence)
display(size.table)
obs_now = observed_at(CHI, N_CHI).mean()
met = [t for t in targets if t >= obs_now]
print(
    f"Caveat: the observed mean at n_max ({obs_now:.3f}) lies "
    f"{100 * (1 - obs_now / error_now(CHI)):.0f} % below the law ({error_now(CHI):.3f}): the "
    "χ curve steepens over its last points, which `D n^-α + C` cannot follow. "
    + (
        f"{len(met)} of the {len(targets)} targets are already met by the observed mean, so "
        "read these n as conservative."
        if met
        else "No target is met by the observed mean yet."
    )
)

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5), layout="constrained")
bands = compute_curve_bands(posterior, np.geomspace(16, 1e7, 120), curves=[CHI], scale="original")
points = compute_observed_points(curves, curves=[CHI], scale="original")
plot_learning_curves(
    bands,
    observed=points,
    ax=ax1,
    title=f"χ (COSMO-RS, m = {M_CHI}): law extrapolated to n = 10⁷",
)
for t in targets:
    ax1.axhline(t, color="0.3", linewidth=0.8, linestyle=":")
ax1.axvline(N_CHI, color="0.2", linestyle=":")
# zoom on the curve and the trials; C (dashed) and its interval lie far lower
ax1.set_ylim(0.8 * min(bands["median"].min(), min(targets)), 1.1 * points["error"].max())
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
ax.set_title(f"Value of the next batch (m = {M_CHI}): median and 90 % interval")
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
stops = {c: stopping_point(posterior, c, 1e-6 * error_now(c)) for c in transfer}
for c, d in stops.items():
    print(f"- {labels[c]} (m = {int(meta.loc[c, 'm'])}): {d.sentence}")
change = {
    c: 100
    * (
        observed_at(c, meta.loc[c, "n_max"]).mean() / observed_at(c, meta.loc[c, "n_min"]).mean()
        - 1
    )
    for c in transfer
}
display(
    pd.concat([d.table for d in stops.values()], ignore_index=True)[
        ["curve", "n_current", "n_stop_median", "n_stop_at_prob", "p_converged_now", "converged"]
    ].assign(**{"observed change n_min → n_max [%]": [round(change[c], 1) for c in stops]})
)
rising = [c for c in transfer if change[c] >= 0]
if rising:
    print(
        "The observed mean error does not fall from n_min to n_max for "
        + ", ".join(f"{labels[c]} ({change[c]:+.1f} %)" for c in rising)
        + ": the law can only fall, so their stopping points rest on a tiny, poorly identified "
        "D and α; read them as 'no measurable gain from more of this database'."
    )

# %%
n_stop = float(stop.table["n_stop_at_prob"].iloc[0])
n_grid = np.geomspace(16, max(1e5, 3 * n_stop if np.isfinite(n_stop) else 1e5), 80)
p = posterior.params(CHI, "original")
gain = np.column_stack([marginal_gain_draws(p["D"], p["alpha"], n) for n in n_grid])
lo, med, hi = np.quantile(gain, [0.05, 0.5, 0.95], axis=0)
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
ax.fill_between(n_grid, lo, hi, alpha=0.25)
ax.plot(n_grid, med, label="marginal gain per sample (median, 90 % band)")
ax.axhline(stop.table["gain_threshold"].iloc[0], color="0.3", linestyle="--", label="threshold")
ax.axvline(N_CHI, color="0.2", linestyle=":", label="current n")
ax.axvline(n_stop, color="C3", linestyle=":", label="stop here (90 %)")
ax.set(
    xscale="log",
    yscale="log",
    xlabel="COSMO-RS samples n",
    ylabel="χ MAE reduction per added sample",
    title=f"When to stop producing (χ, m = {M_CHI})",
)
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# ## 4. Splitting a compute budget across the band-gap databases
#
# Three DFT databases feed the same experimental band-gap task (all three at the same
# headline *m*, so their curves are comparable). Suppose one more calculation costs
# 12 CPU-hours in a Materials Project-like workflow, 8 in an OQMD-like one and 10 in an
# AFLOW-like one (illustrative costs, not measured ones), and we have 200,000 CPU-hours.
# `allocate_budget` finds the exact best split on a grid of budget increments (dynamic
# programming over the posterior draws) and reports the equal split next to it. (The curves
# stop at the protocol's source cap of 32,768 rows; Materials Project and OQMD hold more
# rows than that, AFLOW's public extract is used whole, so "adding samples" here means new
# calculations for AFLOW and, up to the databases' sizes, rows that already exist for the
# other two.)

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
# How much does the budget buy, and how much does the split matter? Both numbers come from
# the table above: today's error per database (law, posterior median) against the error after
# the best split, and the best split's objective against the equal split's.

# %%
t = allocation.table
now = np.array([error_now(c) for c in t["curve"]])
drop = 100 * (1 - t["error_median"].to_numpy() / now)
today = float(
    np.mean(
        [
            posterior.expected_error(meta.loc[c, "n_max"], c, "normalised").mean()
            for c in t["curve"]
        ]
    )
)
bought = today - allocation.value
advantage = allocation.equal_split_value - allocation.value
verdict = (
    "how much is spent matters far more than where"
    if advantage < 0.1 * bought
    else "where it is spent matters as well"
)
print(
    f"At m = {int(meta.loc[t['curve'].iloc[0], 'm'])} experiments the budget lowers the "
    "band-gap MAE by "
    + ", ".join(f"{u} {d:.1f} %" for u, d in zip(t["unit"], drop, strict=True))
    + f" (posterior medians). In the objective (mean normalised MAE, {today:.4f} today) the "
    f"best split buys {bought:.4f} and beats the equal split by {advantage:.5f}: {verdict}."
)

# %%
x = np.arange(len(t))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained")
ax1.bar(x - 0.2, t["n_added"], width=0.4, label="best split")
ax1.bar(x + 0.2, t["equal_n_added"], width=0.4, label="equal split")
ax1.set_xticks(x, t["unit"])
ax1.set(ylabel="samples added", title="Where the 200,000 CPU-hours go")
ax1.legend()
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
# transfer model? Per draw, `D_s m^-α_s + C_s = error_transfer(n)` is solved for `m`. The
# transfer model was fine-tuned on its task's headline *m* experimental rows (plus *n*
# simulated ones), and the scratch curve was measured at the same *m* levels, on the same
# rows in each trial; so an `m_eq` above the headline *m* says how many experiments the
# pretrained model is worth at that *m* (`m_eq − m` experiments saved). How much of that
# grows with the database, and how much comes with the first simulated samples already, the
# table's two observed columns tell: transfer against scratch at the same *m*, at the
# smallest and at the largest *n*.
#
# Three caveats. Any `m_eq` above the largest observed *m* (the full split) is an
# extrapolation of the scratch law. The law `D m^-α + C` can only flatten on the log-log
# scale, while the observed curves tend to steepen (the scratch curves in *m*, and the χ and
# several other transfer curves in *n* toward their largest *n*): the residuals printed below
# show where the scratch law sits above or below the observed means, and section 1 shows
# the same for χ. So the table also gives a model-free `m_eq`: the observed mean transfer
# error at the largest *n*, located on the observed scratch means by log-log interpolation
# between the measured *m* levels. And the limit `n → ∞` is set by the transfer gap and is
# the least certain number here.

# %%
headline_ms = meta.loc[transfer, "m"].astype(int)
fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
plot_learning_curves(
    compute_curve_bands(posterior, curves=scratch, extrapolate=3),
    observed=compute_observed_points(curves, curves=scratch),
    ax=ax,
    show_plateau=False,
    title="Scratch curves (error vs experimental size m) and the headline m",
)
ax.axvspan(headline_ms.min(), headline_ms.max(), color="0.5", alpha=0.15, linewidth=0)
ax.text(headline_ms.max() * 1.05, ax.get_ylim()[1], "headline m", va="top", fontsize=9)
ax.set_xlabel("experimental samples m")
plt.show()


def law_median(curve: str, n: float) -> float:
    """Posterior median of the law's expected error (original units) at n."""
    return float(np.median(posterior.expected_error(n, curve, "original")))


def residual(curve: str, m: float) -> str:
    """Scratch law (median) against the observed mean at m, in per cent."""
    return f"{m:,.0f}: {100 * (law_median(curve, m) / observed_at(curve, m).mean() - 1):+.1f} %"


residuals = pd.DataFrame(
    [
        {
            "curve": labels[c],
            **{
                f"m level {i + 1}": residual(c, m)
                for i, m in enumerate(sorted(observed.loc[observed["curve"] == c, "n"].unique()))
            },
        }
        for c in scratch
    ]
)
print("Scratch law (posterior median) against the observed mean at each measured m:")
display(residuals)

# %%
equivalents = {
    c: equivalent_sample_size(posterior, c, n=[meta.loc[c, "n_max"], 10 * meta.loc[c, "n_max"]])
    for c in transfer
}
print(equivalents[CHI].sentence)
display(equivalents[CHI].table)


# %%
def interpolated_m_eq(error: float, scratch_curve: str) -> float:
    """m where the observed scratch means first reach ``error`` (log-log interpolation).

    NaN when ``error`` lies outside the range of the observed means.
    """
    means = observed[observed["curve"] == scratch_curve].groupby("n")["error"].mean()
    m, e = np.log(means.index.to_numpy(float)), np.log(means.to_numpy())
    target = np.log(error)
    for i in range(len(e) - 1):
        if min(e[i], e[i + 1]) <= target <= max(e[i], e[i + 1]) and e[i] != e[i + 1]:
            return float(np.exp(m[i] + (target - e[i]) * (m[i + 1] - m[i]) / (e[i + 1] - e[i])))
    return float("nan")


rows = []
for c, d in equivalents.items():
    r = d.table.iloc[0]
    sc = r["scratch_curve"]
    m_used = int(meta.loc[c, "m"])
    at_m = observed_at(sc, m_used)  # scratch at the transfer curve's m, per trial
    first = observed_at(c, meta.loc[c, "n_min"])
    last = observed_at(c, meta.loc[c, "n_max"])
    rows.append(
        {
            "curve": labels[c],
            "headline m": m_used,
            "n": int(r["n"]),
            "m_eq_median": round(r["m_eq_median"]),
            "m_eq_lower": round(r["m_eq_lower"]),
            "m_eq_upper": round(r["m_eq_upper"]),
            "m_eq observed (interpolated)": round(interpolated_m_eq(last.mean(), sc)),
            "transfer vs scratch at m, n_min [%]": round(100 * (first.mean() / at_m.mean() - 1), 1),
            "transfer vs scratch at m, n_max [%]": round(100 * (last.mean() / at_m.mean() - 1), 1),
            "trials won at n_max": f"{int((last < at_m.reindex(last.index)).sum())}/{len(last)}",
            "scratch m_max": int(r["scratch_m_max"]),
        }
    )
eq = pd.DataFrame(rows)
display(eq)
fig, ax = plt.subplots(figsize=(11, 4.5), layout="constrained")
y = np.arange(len(eq))[::-1]
ax.hlines(y, eq["m_eq_lower"], eq["m_eq_upper"].clip(upper=1e7), linewidth=2.5)
ax.scatter(eq["m_eq_median"], y, zorder=3, label="m_eq from the laws (median, 90 % interval)")
ax.scatter(
    eq["m_eq observed (interpolated)"],
    y,
    marker="x",
    zorder=3,
    color="C2",
    label="m_eq from the observed means",
)
ax.scatter(
    eq["headline m"],
    y,
    marker="|",
    s=300,
    color="C3",
    label="experimental rows the transfer model used (headline m)",
)
ax.set_yticks(y, eq["curve"])
ax.set(
    xscale="log",
    xlabel="experimental samples m",
    title="Experiments a scratch model needs to match transfer at today's n",
)
ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
plt.show()

# %%
ratio = eq["m_eq_median"] / eq["m_eq observed (interpolated)"]
early = eq[eq["transfer vs scratch at m, n_min [%]"] <= -10]
print(
    f"The law-based m_eq lies below the one interpolated from the observed means for "
    f"{int((ratio < 1).sum())} of {len(eq)} tasks (median ratio {ratio.median():.2f}, range "
    f"{ratio.min():.2f}–{ratio.max():.2f}), so "
    + (
        "read the law's m_eq as a lower estimate."
        if (ratio < 1).all()
        else "the law's m_eq can be off in either direction."
    )
    + " At today's n the transfer model is worth "
    + ", ".join(
        f"{r['curve']} ≈ {r['m_eq observed (interpolated)']:,} (m = {r['headline m']})"
        for _, r in eq.iterrows()
    )
    + " experiments (observed means)."
)
at_min, at_max = (
    eq["transfer vs scratch at m, n_min [%]"],
    eq["transfer vs scratch at m, n_max [%]"],
)
mostly_early = eq.loc[(at_min <= -10) & (at_min <= 0.5 * at_max), "curve"]
print(
    f"Already at the smallest n ({int(meta.loc[transfer, 'n_min'].min())} simulated samples) "
    f"transfer beats scratch at the same m by 10 % or more for {len(early)} of {len(eq)} "
    "tasks"
    + (
        " ("
        + "; ".join(
            f"{r['curve']}: {r['transfer vs scratch at m, n_min [%]']:+.1f} % at n_min, "
            f"{r['transfer vs scratch at m, n_max [%]']:+.1f} % at n_max"
            for _, r in early.iterrows()
        )
        + ")"
        if len(early)
        else ""
    )
    + (
        f"; for {', '.join(mostly_early)} more than half of the advantage at n_max is already "
        "there, so it does not come from the size of the simulation database."
        if len(mostly_early)
        else "."
    )
)

# %% [markdown]
# ## The answer in one paragraph

# %%
doubling = next_batch_value(posterior, CHI, N_CHI)
bandgap_m = int(meta.loc[allocation.table["curve"].iloc[0], "m"])
print(
    " ".join(
        [
            f"For χ at m = {M_CHI} experiments:",
            size.sentence,
            doubling.sentence,
            stop.sentence,
            f"For the band gap at m = {bandgap_m} experiments:",
            allocation.sentence,
            f"At today's n the χ transfer model is worth about "
            f"{eq.loc[eq['curve'] == labels[CHI], 'm_eq observed (interpolated)'].iloc[0]:,} "
            f"experiments to a scratch model (observed means; it used {M_CHI}).",
        ]
    )
)
