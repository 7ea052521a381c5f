"""Tidy tables of a fitted hierarchical model: posterior summary and gap probabilities.

:func:`summary_table` and :func:`gap_probability_table` are the work behind
:meth:`~bayes_scaling.models.hierarchical.ScalingLawModel.summary` and
:meth:`~bayes_scaling.models.hierarchical.ScalingLawModel.gap_probability`: per-curve rows
(``D``, ``alpha``, ``C``, ``gap_fraction``, ``e_ref``, ``sigma``, on the normalised and
original scales), per-group rows (a typical curve of each group level and the population),
with equal-tailed credible intervals, ESS and R-hat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._data import CurveData
from bayes_scaling.models._draws import check_prob, check_scale, flat_curve, quantile_table
from bayes_scaling.models.diagnostics import rank_diagnostics
from bayes_scaling.models.laws import ScalingLaw, core_law
from bayes_scaling.models.posterior import Scale


def summary_table(
    post: xr.DataTree,
    data: CurveData,
    law: ScalingLaw,
    *,
    level: Literal["all", "curve", "group"],
    prob: float,
) -> pd.DataFrame:
    """Tidy posterior summary per curve and per group (see ``ScalingLawModel.summary``)."""
    prob = check_prob(prob)
    if level not in ("all", "curve", "group"):
        raise BayesScalingError(f"level must be 'all', 'curve' or 'group', got {level!r}.")
    parts = []
    if level in ("all", "curve"):
        parts.append(curve_summary(post, data, law, prob))
    if level in ("all", "group"):
        parts.append(group_summary(post, data, law, prob))
    return pd.concat(parts, ignore_index=True)


def stats_rows(
    arrays: dict[tuple[str, str], np.ndarray],
    names: list[str],
    level: str,
    group: list[str],
    prob: float,
) -> list[dict[str, Any]]:
    """One summary row per ``(parameter, scale)`` of ``arrays`` and entity of ``names``.

    ``arrays`` maps ``(parameter, scale)`` to ``(chain, draw, entity)`` draws; ESS and
    R-hat are NaN for a constant parameter.
    """
    rows = []
    for (p, s), v in arrays.items():
        ok = float(np.nanstd(v)) > 0
        if ok:  # ArviZ's rank R-hat, bulk and tail ESS, all entities at once
            rh, eb, et = rank_diagnostics(np.moveaxis(np.asarray(v, dtype=float), -1, 0))
        flat = v.reshape(-1, v.shape[-1])
        q = quantile_table(flat, prob)
        sd = flat.std(axis=0, ddof=1)
        for i, name in enumerate(names):
            rows.append(
                {
                    "level": level,
                    "name": name,
                    "group": group[i],
                    "parameter": p,
                    "scale": s,
                    "mean": q["mean"][i],
                    "sd": sd[i],
                    "median": q["median"][i],
                    "lower": q["lower"][i],
                    "upper": q["upper"][i],
                    "ci_prob": prob,
                    "ess_bulk": float(eb[i]) if ok else np.nan,
                    "ess_tail": float(et[i]) if ok else np.nan,
                    "r_hat": float(rh[i]) if ok else np.nan,
                }
            )
    return rows


def curve_summary(post: xr.DataTree, data: CurveData, law: ScalingLaw, prob: float) -> pd.DataFrame:
    """Summary rows of every fitted curve."""
    ts = data.meta["target_scale"].to_numpy()[None, None, :]

    def get(name: str) -> np.ndarray:
        return post[name].transpose("chain", "draw", "curve").values

    arrays: dict[tuple[str, str], np.ndarray] = {
        ("D", "normalised"): get("D"),
        ("alpha", "none"): get("alpha"),
    }
    if law.has_gap:
        arrays[("C", "normalised")] = get("C")
        arrays[("gap_fraction", "none")] = get("gap_fraction")
    arrays[("e_ref", "normalised")] = get("e_ref")
    arrays[("sigma", "none")] = get("sigma")
    if "log_alpha2" in law.extra:
        arrays[("alpha_1", "none")] = get("alpha_1")
    if "log_break" in law.extra:
        arrays[("n_break", "none")] = get("n_break")
    arrays[("D", "original")] = get("D") * ts
    if law.has_gap:
        arrays[("C", "original")] = get("C") * ts
    arrays[("e_ref", "original")] = get("e_ref") * ts
    ids = list(data.curve_ids)
    return pd.DataFrame(stats_rows(arrays, ids, "curve", [""] * len(ids), prob))


def group_summary(post: xr.DataTree, data: CurveData, law: ScalingLaw, prob: float) -> pd.DataFrame:
    """Summary rows of the population and of a typical curve of every group level."""
    P = list(law.pooled)
    if "mu" in post:
        mu = post["mu"].transpose("chain", "draw", "param").values
    else:  # single curve: the curve is the population
        mu = post["theta"].transpose("chain", "draw", "curve", "param").values[:, :, 0, :]
    blocks = [mu[:, :, None, :]]
    names, group = ["population"], ["population"]
    for g in data.groups:
        eff = post[f"effect_{g.column}"].transpose("chain", "draw", g.column, "param").values
        blocks.append(mu[:, :, None, :] + eff)
        names += [f"{g.column}={lvl}" for lvl in g.levels]
        group += [g.column] * len(g.levels)
    theta = np.concatenate(blocks, axis=2)  # chain, draw, entity, param
    p = {name: theta[..., j] for j, name in enumerate(P)}
    arrays: dict[tuple[str, str], np.ndarray] = {}
    base = core_law(law)
    D, alpha, C = base.dac(p, data.log_n_ref)
    alpha_name = "alpha_1" if "log_alpha2" in law.extra else "alpha"
    if not law.asymptotic:  # D of the core law is not the asymptotic law's D
        arrays[("D", "normalised")] = D
    arrays[(alpha_name, "none")] = alpha
    if law.has_gap:
        arrays[("C", "normalised")] = C
        arrays[("gap_fraction", "none")] = special.expit(p["logit_gap"])
    arrays[("e_ref", "normalised")] = np.exp(p["log_e_ref"])
    rows = stats_rows(arrays, names, "group", group, prob)
    for r in rows:
        if r["name"] == "population":
            r["level"] = "population"
            r["group"] = ""
    return pd.DataFrame(rows)


def gap_probability_table(
    post: xr.DataTree,
    data: CurveData,
    threshold: float | Sequence[float],
    scale: Scale,
) -> pd.DataFrame:
    """``P(C > threshold)`` per curve and threshold (see ``ScalingLawModel.gap_probability``)."""
    check_scale(scale)
    C = flat_curve(post, "C")
    ts = data.meta["target_scale"].to_numpy()
    if scale == "original":
        C = C * ts[None, :]
    rows = []
    for t in np.atleast_1d(np.asarray(threshold, dtype=float)):
        probs = (C > t).mean(axis=0)
        for cid, pr, med in zip(data.curve_ids, probs, np.median(C, axis=0), strict=True):
            rows.append(
                {
                    "curve": cid,
                    "threshold": float(t),
                    "scale": scale,
                    "prob": float(pr),
                    "C_median": float(med),
                }
            )
    return pd.DataFrame(rows)
