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
# # 05 · Simulations or experiments?
#
# **Question.** Should we run 1,000 more simulations or measure 50 more samples? How many
# experiments is our simulation database worth, how does that change with the number of
# experiments we already have, and what is the cheapest mix of new simulations and new
# experiments that reaches a target accuracy?
#
# The bundled curve table (`data/curves_scarce/curves.parquet`, the scarce-experiment
# protocol of `data/README.md`) measures every one of the 7 transfer tasks at six
# experimental training sizes *m* on a geometric grid from 25 rows to the full training
# split, and at 10 simulation sizes *n* for each *m*. Every point is the mean of 20 trials
# up to *m* = 128 and of 5 above (a trial resamples the train/test split and the order of the
# experimental rows). The scratch curves (no simulations) are measured at the same *m* and
# are the *n = 0* edge. Together they sample the **error surface** error(n, m) (the
# reference study's Fig. 4b/c), which `SurfaceModel` fits jointly across tasks in two forms
# (`docs/surface.md`):
#
# * `additive`: `E·m^−β + C + (S − C)(1 + n)^−α` — experiments and simulations add;
# * `effective_data`: `E·(m + T(n, m))^−β + S` with `T = k·n^γ·m^δ` — the simulations are
#   worth *T* extra experiments, and that worth interacts with *m*.
#
# Both equal the scratch curve at *n = 0*. PSIS-LOO says which the data prefer; every
# decision below is a `bayes_scaling.tradeoffs` or `bayes_scaling.m_dependence` object (a
# table plus a sentence on 90 % intervals). The single-*m* answers are read at each task's
# *headline* m (the measured *m* nearest 100, as in the main job and notebooks 01–03), where
# experiments are scarce; §5 follows them over every measured *m*.
#
# *Running it.* With `BAYES_SCALING_FAST=1` the fits use short chains (a smoke test, not for
# decisions); unset, the package defaults (a few minutes per form). Fits are cached like the
# other notebooks'.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from bayes_scaling.constants import DEFAULT_SEED
from bayes_scaling.curves import read_curves
from bayes_scaling.m_dependence import answers_by_m
from bayes_scaling.models.surface import SurfaceModel
from bayes_scaling.pipeline import (
    BUNDLED_CURVES,
    fast_mode,
    fit_cached,
    read_headline,
    sampler_settings,
    surface_table,
)
from bayes_scaling.plotting import plot_error_surface
from bayes_scaling.tradeoffs import (
    cheapest_plan,
    exchange_rate,
    scratch_equivalent,
    surface_form_evidence,
    surface_grid,
)

FAST = fast_mode()
SAMPLER = sampler_settings()
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)

table = surface_table(read_curves(BUNDLED_CURVES), metric="mae")
_, chosen = read_headline(BUNDLED_CURVES)
transfer = table[table["kind"] == "transfer"]
transfer = transfer.assign(
    m_level=pd.to_numeric(transfer["m"], errors="coerce").astype(float).fillna(np.inf)
)
scratch_rows = table[table["kind"] == "scratch"]


def task_id(row) -> str:
    """Surface task id (``property|database|strategy``) of a row."""
    return f"{row['property']}|{row['database']}|{row['strategy']}"


# Per task: the measured m levels below the full split, the full split (median size over
# trials; it varies a little with the trial's split) and the headline m.
HEADLINE = {task_id(r): float(r["m"]) for _, r in chosen.iterrows()}
LEVELS = {task_id(r): [*map(float, r["levels"]), float(r["n_train"])] for _, r in chosen.iterrows()}
PAIR = {task_id(r): p for p, r in transfer.groupby("pair").first().iterrows()}

protocol = pd.DataFrame(
    [
        {
            "task": task,
            "m levels (below full)": ", ".join(f"{v:.0f}" for v in LEVELS[task][:-1]),
            "full split": LEVELS[task][-1],
            "headline m": HEADLINE[task],
            "n levels per m": int(rows.groupby("m_level")["n"].nunique().min()),
            "largest n": int(rows["n"].max()),
            "trials per point": "–".join(
                map(str, sorted({int(c) for c in rows.groupby(["n", "m_level"])["error"].size()}))
            ),
        }
        for task, rows in ((t, transfer[transfer["pair"] == PAIR[t]]) for t in HEADLINE)
    ]
).set_index("task")
print(
    f"fast mode: {FAST}; {len(table)} rows: {len(transfer)} transfer, {len(scratch_rows)} scratch"
)
display(protocol)

# %% [markdown]
# ## 1. The measured surface
#
# Error against the number of simulations *n* at every measured experimental size *m*, for
# the band gap from Materials Project and for χ from COSMO-RS; the dotted line of the same
# colour is the scratch model (no simulations) at the same *m* (at the full split: the
# scratch model on the smallest split over trials). Mean MAE over the trials of each point.
# The table below gives, for every task and every *m* level (1 = 25 rows, …, 6 = full
# split; the sizes are in the table above), how much lower the mean error is at the largest
# *n* than at the smallest.

# %%
CHI = "chi|cosmo_rs|finetune"
BANDGAP = "bandgap|materials_project|finetune"


def measured_means(task: str) -> pd.DataFrame:
    """Mean error per (m level, n) of a task's transfer rows; m level inf = full split."""
    rows = transfer[transfer["pair"] == PAIR[task]]
    return rows.groupby(["m_level", "n"])["error"].mean().reset_index()


def scratch_at(task: str, level: float) -> float:
    """Mean scratch error at experimental size ``level`` (inf: the full split)."""
    rows = scratch_rows[scratch_rows["property"] == task.split("|")[0]]
    at = rows["n"].max() if np.isinf(level) else level
    return float(rows.loc[rows["n"] == at, "error"].mean())


fig, axes = plt.subplots(1, 2, figsize=(14, 4.8), layout="constrained")
for ax, task in zip(axes, (BANDGAP, CHI), strict=True):
    means = measured_means(task)
    levels = sorted(means["m_level"].unique())
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(levels)))
    for color, level in zip(colors, levels, strict=True):
        rows = means[means["m_level"] == level]
        label = f"m = {LEVELS[task][-1]:.0f} (full)" if np.isinf(level) else f"m = {level:.0f}"
        ax.plot(rows["n"], rows["error"], marker="o", color=color, label=label)
        ax.axhline(scratch_at(task, level), linestyle=":", color=color, linewidth=1.2)
    unit = transfer.loc[transfer["pair"] == PAIR[task], "unit"].iloc[0]
    ax.set_xscale("log")
    ax.set_xlabel(f"simulations n ({task.split('|')[1]} rows)")
    ax.set_ylabel(f"{task.split('|')[0]} MAE ({unit})")
    ax.set_title(f"{task}: transfer per m; dotted: scratch at the same m")
    ax.legend(fontsize=9)
plt.show()

drops = []
for task in HEADLINE:
    means = measured_means(task)
    for i, (_, rows) in enumerate(means.groupby("m_level", sort=True)):
        error = rows.sort_values("n")["error"]
        drops.append(
            {"task": task, "m level": i + 1, "drop": 100 * (1 - error.iloc[-1] / error.iloc[0])}
        )
drops = pd.DataFrame(drops).pivot(index="task", columns="m level", values="drop")
print("Mean error at the largest n relative to the smallest n, % lower (negative: higher):")
display(drops.round(1))
for task in (BANDGAP, CHI):
    means = measured_means(task)
    first = means[means["m_level"] == LEVELS[task][0]]
    full = means[np.isinf(means["m_level"])]
    print(
        f"{task}: at m = {LEVELS[task][0]:.0f} the mean MAE falls from "
        f"{first['error'].iloc[0]:.3g} (n = {first['n'].iloc[0]:.0f}) to "
        f"{first['error'].iloc[-1]:.3g} (n = {first['n'].iloc[-1]:,.0f}), scratch "
        f"{scratch_at(task, LEVELS[task][0]):.3g}; at the full split (m ≈ {LEVELS[task][-1]:.0f}) "
        f"from {full['error'].iloc[0]:.3g} to {full['error'].iloc[-1]:.3g}, scratch "
        f"{scratch_at(task, np.inf):.3g}."
    )

# %% [markdown]
# ## 2. Fit both forms and let LOO choose
#
# One hierarchical fit per form, pooling across the 7 tasks and 4 properties (the trials of
# each (n, m) point enter through their sufficient statistics). The convergence report must
# be clean before any decision is read.

# %%
models = {}
for form in ("additive", "effective_data"):
    models[form], path = fit_cached(
        table, model_cls=SurfaceModel, form=form, random_seed=DEFAULT_SEED,
        check_convergence=False, **SAMPLER,
    )  # fmt: skip
    print(f"{form}: {models[form].convergence.message}")
evidence = surface_form_evidence(models)
print(evidence.sentence)
display(evidence.table)
FORM = evidence.table["form"].iloc[0]
sp = models[FORM].surface_posterior()
print(f"The answers below use the {FORM} form.")

# %% [markdown]
# ## 3. The posterior surface
#
# Filled contours: posterior-median MAE over (n, m); white lines are iso-error contours —
# along a line, simulations and experiments trade one for the other, so the line's slope is
# the exchange rate. The dashed line is a target 10 % below today's error at the headline *m*
# (dotted: where the 90 % upper bound reaches it); the grey line marks the headline *m*.

# %%
n_now, _ = sp.current(CHI)
m_head = HEADLINE[CHI]
now = float(np.median(sp.error(CHI, n_now, m_head, scale="original")))
DENSITY = "density|radonpy|finetune"
fig, axes = plt.subplots(1, 2, figsize=(15, 5.2), layout="constrained")
plot_error_surface(surface_grid(sp, CHI, points=30), targets=[0.9 * now], ax=axes[0])
plot_error_surface(surface_grid(sp, DENSITY, points=30), ax=axes[1])
for ax, task in zip(axes, (CHI, DENSITY), strict=True):
    ax.axhline(HEADLINE[task], color="0.6", linewidth=1.5)
plt.show()
print(f"{CHI}: today n = {n_now:,.0f} simulations; at the headline m = {m_head:.0f} the "
      f"posterior-median MAE is {now:.3g}, so the target is {0.9 * now:.3g}.")  # fmt: skip

# %% [markdown]
# ## 4. Simulations versus experiments at today's (n, m)
#
# "Today" is the largest measured *n* and the task's headline *m* (the measured *m* nearest
# 100; see the table at the top). That is where experiments are scarce and the question is
# live; at the full split the measured curves in *n* are nearly flat (§1): there the
# simulations barely change the error (§5 shows how the answers move with *m*). How many
# experiments are 1× and 10× today's simulations worth, and what is the simulation database
# worth to a model trained from scratch?

# %%
rate = exchange_rate(sp, CHI, dn=(n_now, 10 * n_now), n=n_now, m=m_head)
print(rate.sentence)
display(rate.table)
worth = scratch_equivalent(sp, CHI, n=[100, n_now, 10 * n_now], m=m_head)
print(worth.sentence)
display(worth.table)

# %% [markdown]
# The same question for every task, at its largest *n* and its headline *m*: today's error,
# the marginal exchange rate (simulations one experiment is worth) and what today's database
# is worth in experiments.

# %%
rows = []
for task in sp.tasks:
    n, _ = sp.current(task)
    m = HEADLINE[task]
    r = exchange_rate(sp, task, dn=n, n=n, m=m).table.iloc[0]
    w = scratch_equivalent(sp, task, m=m).table.iloc[0]
    rows.append({"task": task, "n": n, "headline m": m,
                 "error today": float(np.median(sp.error(task, n, m, scale="original"))),
                 "sims per experiment (marginal)": r["marginal_rate_median"],
                 "database worth (experiments)": w["worth_median"],
                 "worth lower": w["worth_lower"], "worth upper": w["worth_upper"]})  # fmt: skip
display(pd.DataFrame(rows).round(3))

# %% [markdown]
# ## 5. How the answers change with m
#
# `answers_by_m` reads the surface at every measured *m* of a task (the full split as its
# median size over trials), with today's *n* fixed: the error today, the error with 10× more
# simulations, the relative reduction, P(reduction > 2 %) and what today's simulations are
# worth in experiments. First the table and sentence for four tasks, then the relative
# reduction for every task in one figure.

# %%
by_m = {task: answers_by_m(sp, task, m=LEVELS[task], factor=10) for task in sp.tasks}
columns = ["m", "n", "error_median", "error_more_median", "reduction_median",
           "reduction_lower", "reduction_upper", "p_helps", "worth_median"]  # fmt: skip
for task in (BANDGAP, CHI, DENSITY, "tg|md_tg|finetune"):
    print(by_m[task].sentence)
    display(by_m[task].table[columns].round(3))

# %%
reduction = pd.concat([d.table for d in by_m.values()], ignore_index=True)
fig, ax = plt.subplots(figsize=(8.5, 5), layout="constrained")
for i, (task, rows) in enumerate(reduction.groupby("task", sort=False)):
    color = plt.cm.tab10(i)
    ax.plot(rows["m"], 100 * rows["reduction_median"], marker="o", color=color, label=task)
    ax.fill_between(rows["m"], 100 * rows["reduction_lower"], 100 * rows["reduction_upper"],
                    color=color, alpha=0.15, linewidth=0)  # fmt: skip
    head = rows[rows["m"] == HEADLINE[task]]
    ax.plot(head["m"], 100 * head["reduction_median"], marker="*", markersize=14, color=color,
            linestyle="")  # fmt: skip
ax.axhline(2, color="0.5", linestyle=":", linewidth=1)
ax.set_xscale("log")
ax.set_xlabel("experiments m")
ax.set_ylabel("error reduction from 10× more simulations (%)")
ax.set_title("Value of 10× more simulations vs m (band: 90 % interval; ★: headline m)")
ax.legend(fontsize=8)
plt.show()

ends = reduction.groupby("task", sort=False).agg(
    first=("reduction_median", "first"), last=("reduction_median", "last")
)
falling = ends[ends["first"] > ends["last"]]
negligible = ends[(ends["first"] < 0.02) & (ends["last"] < 0.02)]
print(
    f"10× more simulations lower the error more at m = 25 than at the full split for "
    f"{len(falling)} of {len(ends)} tasks; the reduction stays below 2 % at every m for "
    f"{len(negligible)} ({', '.join(negligible.index) or 'none'}). Largest reduction at "
    f"m = 25: {ends['first'].idxmax()} ({100 * ends['first'].max():.1f} %); at the full "
    f"split: {ends['last'].idxmax()} ({100 * ends['last'].max():.1f} %)."
)

# %% [markdown]
# How far the fit reaches beyond the data: for every task, at the smallest *m* and at the
# full split, the relative drop of the error over the measured *n* range (smallest to
# largest *n*) in the data and in the fit, next to the fitted drop from 10× more
# simulations (beyond the measured range, so read from the fitted form alone).

# %%
check = []
for task in sp.tasks:
    means = measured_means(task)
    n_lo, n_hi = float(means["n"].min()), float(means["n"].max())
    for level, m in ((LEVELS[task][0], LEVELS[task][0]), (np.inf, LEVELS[task][-1])):
        measured = means[means["m_level"] == level].sort_values("n")["error"]
        fit = [float(np.median(sp.error(task, v, m, scale="original"))) for v in (n_lo, n_hi)]
        more = reduction[(reduction["task"] == task) & (reduction["m"] == m)].iloc[0]
        check.append(
            {
                "task": task,
                "m": m,
                "n range": f"{n_lo:.0f}–{n_hi:,.0f}",
                "measured drop (%)": 100 * (1 - measured.iloc[-1] / measured.iloc[0]),
                "fitted drop (%)": 100 * (1 - fit[1] / fit[0]),
                "fitted drop, 10× n (%)": 100 * more["reduction_median"],
            }
        )
check = pd.DataFrame(check)
display(check.round(1))
full = check.groupby("task").last()
MARGIN = 2.0  # percentage points
beyond = full[full["fitted drop, 10× n (%)"] > full["measured drop (%)"].clip(lower=0) + MARGIN]
print(
    f"At the full split the fit expects 10× more simulations to lower the error by more than "
    f"{MARGIN:.0f} points beyond what the whole measured n range did (a rise counted as 0) for "
    f"{len(beyond)} of {len(full)} tasks: "
    + (
        "; ".join(
            f"{t} ({r['fitted drop, 10× n (%)']:.1f} % against {r['measured drop (%)']:.1f} %)"
            for t, r in beyond.iterrows()
        )
        or "none"
    )
    + "."
)

# %% [markdown]
# ## 6. The cheapest way to a target
#
# A target 10 % below today's χ MAE at the headline *m*, reached with probability 0.8,
# under two price lists: simulations cheap (1 per simulation, 500 per experiment) and
# simulations dear (100 per simulation, 50 per experiment: e.g. expensive MD runs against a
# fast measurement). The frontier shows, for every number of extra simulations, the fewest
# experiments that still reach the target and the total cost.

# %%
plans = {
    "simulations cheap": cheapest_plan(sp, CHI, 0.9 * now, cost_simulation=1, cost_experiment=500,
                                       n=n_now, m=m_head),
    "simulations dear": cheapest_plan(sp, CHI, 0.9 * now, cost_simulation=100, cost_experiment=50,
                                      n=n_now, m=m_head),
}  # fmt: skip
fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
for name, plan in plans.items():
    print(f"{name}: {plan.sentence}")
    display(plan.table)
    fr = plan.frontier[np.isfinite(plan.frontier["cost"]) & (plan.frontier["dn"] > 0)]
    ax.plot(fr["dn"], fr["cost"], label=name)
    best = plan.table.iloc[0]
    if best["feasible"] and best["dn"] > 0:
        ax.plot(best["dn"], best["cost"], "k*", markersize=12)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("extra simulations Δn")
ax.set_ylabel("total cost of the plan")
ax.set_title("Cost of reaching the target, by number of extra simulations (★: cheapest)")
ax.legend()
plt.show()

# %% [markdown]
# ## What to take away
#
# * The form comparison says how experiments and simulations combine on these data; the
#   answers above use the preferred form, and its convergence report is printed in §2.
# * Where an answer about simulations is read matters: the measured curves fall with *n*
#   at small *m* and are nearly flat at the full split (§1), so the single-*m* answers are
#   read at the headline *m*, and §5 prints, from the fit, for how many tasks the value of
#   10× more simulations shrinks as experiments are added and for which ones it is
#   negligible at every *m*.
# * The exchange rate is not a constant: it depends on where you stand on the surface (the
#   slope of the iso-error lines changes with n and m) and on the size of the batch of
#   simulations (§4 prints it for 1× and 10× today's database), so a single "one experiment
#   = k simulations" figure holds only near one (n, m).
# * The cheapest plan depends on the price ratio against the exchange rate: when an
#   experiment costs more than the simulations it is worth, the plan buys simulations (until
#   their marginal value drops), otherwise experiments — the point of designing a database
#   around the surface rather than around one learning curve.
# * Limits: every transfer row of the surface was fine-tuned with one MLP recipe (the
#   strategy the harness chose on validation rows); the surface is measured from m = 25 to
#   the full split and up to the largest source size, so answers at fewer experiments or
#   at 10× today's simulations (§5) are extrapolations of the fitted form; the last table of
#   §5 compares the fitted drop in *n* with the measured one.
