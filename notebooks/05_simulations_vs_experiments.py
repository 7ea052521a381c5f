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
# experiments is our simulation database worth, and what is the cheapest mix of new
# simulations and new experiments that reaches a target accuracy?
#
# The learning curves of notebooks 01–03 vary the simulation size *n* at one experimental
# training size *m* (the full split). The harness also measures every transfer task at 25 %
# and 50 % of the experimental training split (the `m` column of `data/curves/curves.csv`),
# and the scratch curve is the *n = 0* edge. Together they sample the **error surface**
# error(n, m) (the reference study's Fig. 4b/c), which `SurfaceModel` fits jointly across
# tasks in two forms (`docs/surface.md`):
#
# * `additive`: `E·m^−β + C + (S − C)(1 + n)^−α` — experiments and simulations add;
# * `effective_data`: `E·(m + T(n, m))^−β + S` with `T = k·n^γ·m^δ` — the simulations are
#   worth *T* extra experiments, and that worth interacts with *m*.
#
# Both equal the scratch curve at *n = 0*. PSIS-LOO says which the data prefer; every
# decision below is a `bayes_scaling.tradeoffs` object (a table plus a sentence on 90 %
# intervals).
#
# *Running it.* With `BAYES_SCALING_FAST=1` the fits use short chains (a smoke test, not for
# decisions); unset, the package defaults. Fits are cached like the other notebooks'.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

from bayes_scaling.constants import DEFAULT_SEED
from bayes_scaling.curves import read_curves
from bayes_scaling.models.surface import SurfaceModel
from bayes_scaling.models.surface_data import resolved_m
from bayes_scaling.pipeline import (
    BUNDLED_CURVES,
    fast_mode,
    fit_cached,
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
print(f"fast mode: {FAST}; {len(table)} rows")
levels = (
    table.assign(m_used=resolved_m(table))
    .groupby(["pair", "kind"])["m_used"]
    .agg(lambda v: sorted({int(x) for x in v})[:3])
)
display(levels.to_frame("experimental sizes m (first three)"))

# %% [markdown]
# ## 1. The measured surface
#
# The χ task (COSMO-RS → experimental χ) at its three experimental sizes, with the scratch
# curve (no simulations) as the reference. Mean MAE over the 5 seeds.

# %%
CHI = "chi|cosmo_rs|finetune"
chi = table[table["property"] == "chi"].assign(m_used=resolved_m(table[table["property"] == "chi"]))
fig, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
for m_level, rows in chi[chi["kind"] == "transfer"].groupby("m_used"):
    mean = rows.groupby("n")["error"].mean()
    ax.plot(mean.index, mean.values, marker="o", label=f"transfer, m = {m_level:.0f}")
    scratch = chi[(chi["kind"] == "scratch")].groupby("n")["error"].mean()
    at = np.interp(np.log(m_level), np.log(scratch.index), scratch.values)
    ax.axhline(at, linestyle=":", color=ax.lines[-1].get_color(), linewidth=1)
ax.set_xscale("log")
ax.set_xlabel("simulations n (COSMO-RS rows)")
ax.set_ylabel("χ MAE")
ax.set_title("χ: transfer at three experimental sizes; dotted: scratch at the same m")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. Fit both forms and let LOO choose
#
# One hierarchical fit per form, pooling across the 7 tasks and 4 properties. The
# convergence report must be clean before any decision is read.

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

# %% [markdown]
# ## 3. The posterior surface
#
# Filled contours: posterior-median MAE over (n, m); white lines are iso-error contours —
# along a line, simulations and experiments trade one for the other, so the line's slope is
# the exchange rate. The dashed line is a target 10 % below today's error (dotted: where the
# 90 % upper bound reaches it).

# %%
n_now, m_now = sp.current(CHI)
now = float(np.median(sp.error(CHI, n_now, m_now, scale="original")))
grid = surface_grid(sp, CHI, points=30)
fig, axes = plt.subplots(1, 2, figsize=(15, 5.2), layout="constrained")
plot_error_surface(grid, targets=[0.9 * now], ax=axes[0])
DENSITY = "density|radonpy|finetune"
plot_error_surface(surface_grid(sp, DENSITY, points=30), ax=axes[1])
plt.show()

# %% [markdown]
# ## 4. Simulations versus experiments at today's (n, m)
#
# How many experiments are 1× and 10× today's simulations worth, and what is the whole
# simulation database worth to a model trained from scratch?

# %%
rate = exchange_rate(sp, CHI, dn=(n_now, 10 * n_now))
print(rate.sentence)
display(rate.table)
worth = scratch_equivalent(sp, CHI, n=[100, n_now, 10 * n_now])
print(worth.sentence)
display(worth.table)

# %% [markdown]
# The same question for every task, at its own largest (n, m): the marginal exchange rate
# (simulations one experiment is worth) and what today's database is worth in experiments.

# %%
rows = []
for task in sp.tasks:
    n, m = sp.current(task)
    r = exchange_rate(sp, task, dn=n).table.iloc[0]
    w = scratch_equivalent(sp, task).table.iloc[0]
    rows.append({"task": task, "n": n, "m": m,
                 "sims per experiment (marginal)": r["marginal_rate_median"],
                 "database worth (experiments)": w["worth_median"],
                 "worth lower": w["worth_lower"], "worth upper": w["worth_upper"]})  # fmt: skip
display(pd.DataFrame(rows).round(1))

# %% [markdown]
# ## 5. The cheapest way to a target
#
# A target 10 % below today's χ MAE, reached with probability 0.8, under two price lists:
# simulations cheap (1 per simulation, 500 per experiment) and simulations dear
# (100 per simulation, 50 per experiment: e.g. expensive MD runs against a fast
# measurement). The frontier shows, for every number of extra
# simulations, the fewest experiments that still reach the target and the total cost.

# %%
plans = {
    "simulations cheap": cheapest_plan(sp, CHI, 0.9 * now, cost_simulation=1, cost_experiment=500),
    "simulations dear": cheapest_plan(sp, CHI, 0.9 * now, cost_simulation=100, cost_experiment=50),
}
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
# * The exchange rate is not a constant: it depends on where you stand on the surface (the
#   slope of the iso-error lines changes), and a batch of simulations is worth fewer
#   experiments per simulation the larger it is (diminishing returns in n).
# * The cheapest plan depends on the price ratio against the exchange rate: when an
#   experiment costs more than the simulations it is worth, the plan buys simulations (until
#   their marginal value drops), otherwise experiments — the point of designing a database
#   around the surface rather than around one learning curve.
# * Limits: every transfer row of the surface was fine-tuned with a fixed MLP recipe; the
#   smallest measured m is 25 % of the training split, so answers at much smaller m are
#   extrapolations of the fitted form.
