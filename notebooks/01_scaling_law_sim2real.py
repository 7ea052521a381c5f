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
# # 01 · The Sim2Real scaling law on public data
#
# **Question.** A model pretrained on *n* simulated samples and fine-tuned on experimental
# data has a test error that, according to Minami et al. (*npj Comput. Mater.* 11, 146,
# 2025), falls as `error(n) = D · n^(−α) + C`. Does that hold on the public real learning
# curves of this repository (polymer density and Tg, polymer–solvent χ, inorganic band gap),
# and what are **D**, **α** and the transfer gap **C**, with their uncertainty?
#
# The answer is the figure "error vs n with the fitted law" per family and the sentence
# printed under it. The notebook then compares the numbers with the paper.
#
# *Running it.* After the README set-up (`bash scripts/bootstrap.sh`, which creates `.venv`),
# open this notebook with the `.venv` kernel, or run it head-less with
# `.venv/bin/jupytext --to ipynb --execute notebooks/01_scaling_law_sim2real.py`.
# With the environment variable `BAYES_SCALING_FAST=1` (what CI sets) the sampler runs short
# chains: fine for checking that the notebook runs, **not** for conclusions. Unset, it uses
# the package defaults (4 chains × 1000 draws, a few minutes on two cores). The fit is
# cached in a temporary folder so that notebooks 02 and 03 reuse it.

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

import bayes_scaling
from bayes_scaling.constants import DEFAULT_SEED
from bayes_scaling.curves import curve_ids, read_curves
from bayes_scaling.models import fit_least_squares
from bayes_scaling.pipeline import (
    BUNDLED_CURVES,
    fast_mode,
    fit_cached,
    sampler_settings,
    select_curves,
)
from bayes_scaling.planning import next_batch_value
from bayes_scaling.plotting import (
    compute_curve_bands,
    compute_observed_points,
    curve_labels,
    plot_learning_curves,
)

FAST = fast_mode()
SAMPLER = sampler_settings()
pd.set_option("display.width", 160)
pd.set_option("display.max_colwidth", 70)
print(
    f"bayes_scaling {bayes_scaling.__version__}; fast mode: {FAST}; sampler settings: "
    f"{SAMPLER or 'package defaults'}"
)

# %% [markdown]
# ## The curves
#
# `data/curves/curves.csv` was produced by the project's transfer harness
# (see `data/README.md`): 7 transfer curves (error vs source size *n*, fine-tuned on the whole
# experimental training split) and 4 scratch curves (error vs experimental size *m*, no
# pretraining), 5 seeds each. We model the MAE; the model divides it by the target's
# standard deviation (`target_scale`) so that properties in different units share one scale.

# %%
curves = select_curves(read_curves(BUNDLED_CURVES), metric="mae")
curves["curve"] = curve_ids(curves)
per_n = curves.groupby(["curve", "n"])["error"].agg(["mean", "std"]).reset_index()
first = per_n.groupby("curve").first()
last = per_n.groupby("curve").last()
meta = curves.groupby("curve")[["family", "property", "database", "kind", "unit"]].first()
overview = meta.assign(
    n_range=[f"{int(a)}–{int(b)}" for a, b in zip(first["n"], last["n"], strict=True)],
    mae_at_n_min=first["mean"],
    mae_at_n_max=last["mean"],
    change_pct=100 * (last["mean"] / first["mean"] - 1),
    falls_by_1_sd=(first["mean"] - last["mean"]) > last["std"],
)
display(overview.round(4))

# %% [markdown]
# ## Fit the hierarchical model
#
# One `ScalingLawModel` (law `power_gap`, the paper's law) over all 11 curves, with partial
# pooling of the curve parameters across `property`, `database` and `strategy`. The fit is
# written to a cache file keyed by the data and the settings; delete the folder printed
# below to refit.


# %%
model, fit_path = fit_cached(
    curves.drop(columns="curve"), random_seed=DEFAULT_SEED, check_convergence=False, **SAMPLER
)
posterior = model.curve_posterior()
print(f"fit cached at {fit_path}")
print(model.convergence.message)
if FAST:
    print(
        "Fast mode: short chains, so the diagnostics above may miss the thresholds; "
        "rerun without BAYES_SCALING_FAST before drawing conclusions."
    )

# %% [markdown]
# ## D, α and C per curve
#
# Posterior medians with 90 % equal-tailed credible intervals. `D` and `C` are given in the
# property's own unit (`C` is the error that no amount of simulation removes); `α` is
# scale-free. `C share` is the posterior median of `C / error(n_max)`: the fraction of
# today's error that is transfer gap.

# %%
summary = model.summary(level="curve")
ids = posterior.curve_ids
labels = curve_labels(posterior, ids)
pm = posterior.curves


def interval(parameter: str, scale: str, digits: int = 3) -> pd.Series:
    rows = summary[(summary["parameter"] == parameter) & (summary["scale"] == scale)]
    rows = rows.set_index("name").loc[ids]
    return pd.Series(
        [
            f"{m:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"
            for m, lo, hi in zip(rows["median"], rows["lower"], rows["upper"], strict=True)
        ],
        index=ids,
    )


def gap_share(curve: str) -> float:
    now = posterior.expected_error(pm.loc[curve, "n_max"], curve)[:, 0]
    return float(np.median(posterior.params(curve)["C"] / now))


params_table = pd.DataFrame(
    {
        "curve": [labels[c] for c in ids],
        "family": pm["family"].to_numpy(),
        "kind": pm["kind"].to_numpy(),
        "n range": [f"{int(a)}–{int(b)}" for a, b in zip(pm["n_min"], pm["n_max"], strict=True)],
        "unit": pm["unit"].to_numpy(),
        "D": interval("D", "original").to_numpy(),
        "alpha": interval("alpha", "none", 2).to_numpy(),
        "C": interval("C", "original").to_numpy(),
        "C share": [round(gap_share(c), 2) for c in ids],
    }
)
display(params_table)

# %% [markdown]
# ## Error vs n with the fitted law, per family
#
# Points: the five seeds at each *n*; line and band: posterior median and 90 % band of
# `D n^-α + C`, extrapolated to 10× the largest *n*; dashed line and light band: the transfer
# gap `C` (the axes are zoomed on the data; the band of `C` reaches much lower, because on a
# nearly flat curve a slow decay and a lower plateau fit equally well). The black lines mark
# the observed error (mean of the seeds) of the scratch model (no pretraining) trained on the
# same full experimental split, the paper's "direct learning" reference.

# %%
FAMILIES = ["polymer", "chi", "inorganic"]
transfer_ids = [c for c in ids if pm.loc[c, "kind"] == "transfer"]
scratch_ids = [c for c in ids if pm.loc[c, "kind"] == "scratch"]
observed = compute_observed_points(curves.drop(columns="curve"), curves=transfer_ids)
fig, axes = plt.subplots(1, 3, figsize=(19, 5.5), layout="constrained")
for ax, family in zip(axes, FAMILIES, strict=True):
    fam = [c for c in transfer_ids if pm.loc[c, "family"] == family]
    bands = compute_curve_bands(posterior, curves=fam)
    plot_learning_curves(bands, observed=observed, ax=ax, title=f"{family}: error vs n")
    handles = list(ax.get_legend().legend_handles)
    for style, sc in zip(
        ["-", "-.", ":"], [s for s in scratch_ids if pm.loc[s, "family"] == family], strict=False
    ):
        level = float(last.loc[sc, "mean"] / pm.loc[sc, "target_scale"])
        ax.axhline(level, color="black", linestyle=style, linewidth=1.2)
        handles.append(
            Line2D(
                [],
                [],
                color="black",
                linestyle=style,
                linewidth=1.2,
                label=f"scratch, full m ({pm.loc[sc, 'property']})",
            )
        )
    ax.legend(handles=handles, loc="lower left", fontsize=9)
    # Zoom on the data: the lower end of C's interval lies far below (see the text above).
    pts = observed[observed["curve"].isin(fam)]["error"]
    ax.set_ylim(0.6 * min(pts.min(), bands["C_median"].min()), 1.15 * pts.max())
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
fig.suptitle("Sim2Real learning curves on public data: MAE / target std vs simulated samples n")
plt.show()

# %% [markdown]
# ## The answer


# %%
def tenfold_gain(curve: str) -> float:
    n_max = float(pm.loc[curve, "n_max"])
    d = next_batch_value(posterior, curve, 9 * n_max, scale="normalised")
    return 100 * float(d.table["relative_reduction_median"].iloc[0])


alpha_med = {c: float(np.median(posterior.params(c)["alpha"])) for c in transfer_ids}
shares = {c: gap_share(c) for c in transfer_ids}
gains = {c: tenfold_gain(c) for c in transfer_ids}
best = max(gains, key=gains.get)
answer = (
    f"In shape yes, in size hardly: all {len(transfer_ids)} transfer curves are described by "
    f"error(n) = D n^-α + C, but with small decay rates (median α "
    f"{min(alpha_med.values()):.2f}–{max(alpha_med.values()):.2f}) and a transfer gap C that "
    f"is already {min(shares.values()):.0%}–{max(shares.values()):.0%} of today's error, so a "
    f"tenfold larger simulation database would lower the experimental MAE by only "
    f"{min(gains.values()):.1f}–{max(gains.values()):.1f} % (most for {labels[best]})."
)
print(answer)

# %% [markdown]
# ## The paper's method on the same curves: least squares per curve
#
# Minami et al. fit the law to each curve separately (the dashed lines of their figures).
# `fit_least_squares` does the same on log error. On nearly flat curves the three parameters
# are not identified by one curve: least squares runs to a boundary (C ≈ 0 with a tiny α, or
# D ≈ 0), and reports a single number where the posterior shows the whole ridge.

# %%
ls = fit_least_squares(curves.drop(columns="curve")).params
bayes = pd.DataFrame(
    {p: [float(np.median(posterior.params(c)[p])) for c in ids] for p in ("D", "alpha", "C")},
    index=ids,
)
display(
    pd.DataFrame(
        {
            "curve": [labels[c] for c in ids],
            "alpha (LS)": ls.loc[ids, "alpha"].to_numpy(),
            "alpha (Bayes median)": bayes["alpha"].to_numpy(),
            "C normalised (LS)": ls.loc[ids, "C"].to_numpy(),
            "C normalised (Bayes median)": bayes["C"].to_numpy(),
        }
    ).round(4)
)

# %% [markdown]
# ## Comparison with the paper
#
# `../shared/PAPER.md` (our summary of the paper) states the law, the three case studies and
# the uses, but **gives no numeric values of α or C**, so no number-to-number comparison is
# possible; the table checks the paper's qualitative claims on our curves instead.
# "Transfer beats scratch" is read at the only experimental size our transfer curves have,
# the full training split, and on the observed errors: transfer at the largest *n* against
# scratch at the full *m*, seed by seed (both use the same train/test split of a seed).
# We do not use the fitted scratch law here: the scratch curves *steepen* with *m* on the
# log-log scale (notebook 02, section 5), which `D m^-α + C` cannot follow, so the law
# over-predicts the scratch error at the full *m* by several per cent.


# %%
def transfer_vs_scratch(curve: str) -> str:
    sc = next(s for s in scratch_ids if pm.loc[s, "property"] == pm.loc[curve, "property"])
    at = curves.set_index(["curve", "n", "seed"])["error"]
    t = at.loc[(curve, int(pm.loc[curve, "n_max"]))]
    s = at.loc[(sc, int(pm.loc[sc, "n_max"]))]
    wins = int((t < s.reindex(t.index)).sum())
    return f"{pm.loc[curve, 'database']} {100 * (t.mean() / s.mean() - 1):+.1f} % ({wins}/{len(t)})"


n_fall = int(overview.loc[transfer_ids, "falls_by_1_sd"].sum())
claims = pd.DataFrame(
    [
        (
            "error falls as a power law in n",
            "yes: every case study, dashed power-law fits",
            f"{n_fall} of {len(transfer_ids)} curves fall by more than one seed sd from n_min to "
            f"n_max; median α {min(alpha_med.values()):.2f}–{max(alpha_med.values()):.2f}",
            "consistent, but the decay is weak",
        ),
        (
            "a positive transfer gap C",
            "yes: the error plateaus above zero",
            f"C is {min(shares.values()):.0%}–{max(shares.values()):.0%} of the error at n_max "
            "(posterior medians)",
            "consistent: the curves sit on their plateau",
        ),
        (
            "transfer beats direct learning (scratch)",
            "yes, at small experimental m (Fig. 4b, c)",
            "at the full m, transfer MAE vs scratch MAE (seeds won): "
            + ", ".join(transfer_vs_scratch(c) for c in transfer_ids),
            "not testable at small m here; at the full m a few per cent better or tied",
        ),
        (
            "numeric α and C",
            "not given in PAPER.md",
            "see the D, α, C table above",
            "no numeric comparison possible",
        ),
    ],
    columns=["claim", "Minami et al. 2025", "this reproduction", "verdict"],
)
display(claims)

# %% [markdown]
# ### Why our numbers differ from the paper's
#
# | | Minami et al. 2025 | this repository |
# |---|---|---|
# | polymer targets | PoLyInfo extract (not public) | public PoLyInfo-derived density, Tg |
# | χ source | the full COSMO-RS database | the public subset (≈1.2k rows) |
# | inorganic source | first-principles data | MP, OQMD, AFLOW (≤ 16,384 rows) |
# | model | the authors' neural networks | scikit-learn MLP (128-64) |
# | experimental size m | several m, including small ones | the **full** training split |
# | repetitions | 100 trials, 90 % bootstrap CIs (χ) | 5 seeds, 90 % credible intervals |
#
# The decisive difference is the last-but-one row. Our MLP is pretrained on *n* simulated
# samples and then fine-tuned (`warm_start`) on the *whole* experimental training split,
# which has 1,300–5,900 rows. With that much target data the fine-tuning dominates and the
# pretraining only moves the starting point, so the transfer curves are nearly flat: the
# posterior puts α near zero, `C` close to the error at the largest *n*, and a small `D`.
# That is the honest reading of these curves ("more simulation will hardly help here"), not
# a failure of the law. The paper's steep curves come from the regime of small *m*, where
# pretraining carries the model; reproducing them needs transfer curves at small *m* (the
# error surface error(n, m) of the paper's Fig. 4b, c), which the harness can produce with
# the `m` column but which are not in the bundled table. The wide intervals on `α` and `C`
# (and the boundary solutions of least squares) are the other consequence: one flat curve
# cannot separate a slow decay from a plateau.
