"""Extrapolation backtest (issue 14): hide each curve's large sizes, fit the small ones, predict.

Usage::

    .venv/bin/python benchmarks/backtest.py                        # every set, cuts 8 and 4
    .venv/bin/python benchmarks/backtest.py --quick --sets sim old # smoke run
    .venv/bin/python benchmarks/backtest.py --sets scarce --cuts 8 --strategies finetune scratch

**Curve sets** (``--sets``; each set is fitted jointly by one ``ScalingLawModel``):

``scarce``
    ``data/curves_scarce/curves.parquet``, metric ``--metric`` (default ``mae``): every
    task at every experimental size m (the full split included), every strategy
    (finetune, frozen, gentle) and the 4 scratch curves (130 curves).
``old``
    ``data/curves/curves.csv`` as ``bayes_scaling.pipeline.select_curves`` picks it (the
    full-split learning curves in n: 7 finetune + 4 scratch curves, 5 seeds).
``sim``
    Simulated curves with known truth, most of them off the law on purpose
    (:func:`simulated_set`): ``steepen`` (the log-log slope keeps growing), ``broken``
    (a broken power law, smoothness 0.2: slope alpha / 2, then 1.5-2.5 alpha past a
    break at n_max / 16 to n_max / 4),
    ``plateau`` (flat and noisy), ``saturate`` (a clean power law that saturates abruptly
    beyond the cut) and ``law`` (``D n^-alpha + C`` exactly); 5 of each, 10 sizes on a
    geometric grid from 16 to 300-33 000, 5 or 20 seeds (trials) whose errors share a
    per-seed offset (trials are correlated across n, like the real ones), random
    ``property`` / ``database`` levels so the model can pool.

``--strategies`` keeps only those values of the ``strategy`` column (scratch curves have
strategy ``scratch``).

**Cut-offs** (``--cuts``, default 8 and 4): per curve keep the sizes ``n <= n_max / F``
(``n_max``: the curve's largest size), hold the rest out. A curve with fewer than 3 kept
sizes (or nothing held out) is left out of both the fit and the scores, and listed.

**Methods**, each giving predictive draws of the target below at every held-out size:

``bayes``
    :func:`make_model` (``ScalingLawModel`` with the package defaults, apart from the
    override flags), fitted to all kept rows of the set; the draws are
    ``log model.predict(n, curves=[id], kind="mean", return_draws=True)`` plus the
    seed-averaging noise ``sigma_c / sqrt(k) * z`` (``sigma_c``: the curve's posterior
    log-scale noise sd, draw by draw; ``k``: seeds at that size; ``z ~ Normal(0, 1)``);
    with ``--point-noise`` (``ScalingLawModel(point_noise=True)``) the noise of the mean is
    ``sqrt(sigma_c^2 / k + tau_c^2) * z``, ``tau_c`` the noise the seeds of a size share.
    Point prediction: the median of ``log`` of the law's draws.
``stack`` (with ``--stack LAW ...``)
    ``LawStack.from_models`` of the ``bayes`` fit and one fit per other listed law (same
    settings, same kept rows): the laws' calibrated predictive draws mixed by their
    stacking weights per curve kind, plus the seed-averaging noise as for ``bayes``
    (``sigma_c`` from the stacked posterior's draws). Laws whose fit did not converge are
    left out of the stack; when none converged, all are stacked (said in the output), as
    the ``bayes`` row also scores a fit whether or not it converged.
``ls``
    ``bootstrap_least_squares`` (per-curve least squares, the paper's method, with
    ``--n-boot`` refits on seeds resampled with replacement): each replicate's law plus
    ``sigma_b / sqrt(k) * z`` with the replicate's residual sd ``sigma_b`` (so the draws
    hold both the fitted law's sampling spread and the seed average's own noise). Point
    prediction: the least-squares fit on all kept rows.
``flat``
    The last kept value carried forward: the mean log error at the largest kept size.
    Interval: ``Normal(that, s^2 / k_last + s^2 / k)`` with ``s`` the seeds' sd of log
    error at that size (no interval with a single seed).

**Target**: at each held-out size, the mean over its seeds of the log normalised error
(the log of the seed geometric mean).

**Scores** per held-out point: inside the central 50 / 80 / 95 % interval of the draws
(equal-tailed quantiles), the interval score of the 80 % interval (Gneiting & Raftery
2007, log scale: ``(u - l) + 2/a (l - y)[y < l] + 2/a (y - u)[y > u]``, ``a = 0.2``), the
CRPS of the draws (``E|X - y| - E|X - X'| / 2``) and the absolute log error of the point
prediction. Tables: coverage pooled over points; interval score and CRPS averaged over
points; MALE = median over curves of each curve's median absolute log error; per-curve
wins of ``bayes`` against ``ls``. Every figure is also given at each curve's final size
only. Verdict lines check issue 14's "done when".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bayes_scaling.curves import curve_ids, normalised_error, read_curves  # noqa: E402
from bayes_scaling.models import ScalingLawModel, bootstrap_least_squares  # noqa: E402
from bayes_scaling.models._draws import flat_curve  # noqa: E402
from bayes_scaling.models.stacking import LawStack  # noqa: E402
from bayes_scaling.pipeline import select_curves  # noqa: E402
from bayes_scaling.simulate import law_error, simulate_curves  # noqa: E402

SETS = ("scarce", "old", "sim")
SET_FILES = {
    "scarce": ROOT / "data" / "curves_scarce" / "curves.parquet",
    "old": ROOT / "data" / "curves" / "curves.csv",
}
#: Masses of the central intervals whose coverage is reported.
PROBS = (0.5, 0.8, 0.95)
#: Mass of the interval scored by the interval score.
IS_PROB = 0.8
METHODS = ("bayes", "stack", "ls", "flat")
#: Methods whose per-curve wins and verdicts are reported (when present).
BAYES_METHODS = ("bayes", "stack")
MIN_KEPT = 3
#: Issue 14's "done when" targets.
COVERAGE_TARGETS = {0.8: (0.75, 0.85), 0.5: (0.45, 0.55)}
MALE_WIN_SHARE = 0.6
SIM_SHAPES = ("law", "steepen", "broken", "plateau", "saturate")


# =============================================================================== data
def simulated_set(per_shape: int = 5, seed: int = 14) -> pd.DataFrame:
    """Simulated curves that break the law on purpose (and a few that follow it).

    ``per_shape`` curves of each of :data:`SIM_SHAPES`; the shape is in the ``pair``
    column (``sim_<shape>_<i>``). Every curve: 10 sizes from 16 to ``n_max`` (log-uniform
    in 300-33 000, like the real source sizes), 5 or 20 seeds, log-scale noise sd
    0.03-0.12 (``plateau``: 0.25-0.35) plus a per-seed offset of half that sd shared by
    all sizes of a seed, ``property`` in p0-p3 and ``database`` in db0-db2 at random.
    Built with :func:`bayes_scaling.simulate.simulate_curves`; the shapes outside its
    laws (``steepen``, ``broken`` with a sharp break, ``saturate``) rescale a simulated
    power law to their mean (the noise is multiplicative, so the noise model is unchanged).
    """
    rng = np.random.default_rng(seed)
    frames = []
    for shape in SIM_SHAPES:
        for i in range(per_shape):
            n_max = float(np.exp(rng.uniform(np.log(300), np.log(33_000))))
            grid = np.unique(np.geomspace(16, n_max, 10).round().astype(int))
            seeds = int(rng.choice([5, 20]))
            sigma = rng.uniform(0.25, 0.35) if shape == "plateau" else rng.uniform(0.03, 0.12)
            alpha = float(rng.uniform(0.3, 0.7))
            e16 = float(rng.uniform(0.4, 1.2))  # normalised error at n = 16
            row = {"property": f"p{rng.integers(4)}", "database": f"db{rng.integers(3)}",
                   "pair": f"sim_{shape}_{i}", "sigma": sigma}
            if shape == "law":
                C = e16 * rng.uniform(0.2, 0.6)
                row.update(D=(e16 - C) * 16**alpha, alpha=alpha, C=C)
            elif shape == "plateau":
                C = e16 * rng.uniform(0.9, 0.97)
                row.update(D=(e16 - C) * 16**alpha, alpha=alpha, C=C)
            else:  # steepen / broken / saturate: a power law rescaled below
                row.update(D=e16 * 16**alpha, alpha=alpha, C=0.0)
            table = simulate_curves(pd.DataFrame([row]), n_grid=grid, seeds=seeds, rng=rng)
            n = table["n"].to_numpy(float)
            base = law_error(n, row["D"], row["alpha"], 0.0)  # the simulated mean (C = 0)
            if shape == "steepen":  # log e = log e16 - a0 u - b u^2, u = log(n / 16)
                u = np.log(n / 16)
                a0, a_end = 0.1 * alpha, alpha * rng.uniform(1.5, 2.5)
                b = (a_end - a0) / (2 * np.log(n_max / 16))
                table["error"] *= np.exp(np.log(e16) - a0 * u - b * u**2) / base
            elif shape == "broken":  # slope alpha / 2, then 1.5-2.5 alpha past a sharp break
                a1, n_break = 0.5 * alpha, n_max / rng.uniform(4, 16)
                mean = law_error(n, e16 * 16**a1, a1, 0.0, alpha2=alpha * rng.uniform(1.5, 2.5),
                                 n_break=n_break, smoothness=0.2)
                table["error"] *= mean / base
            elif shape == "saturate":  # soft maximum of the power law and a floor
                n_sat = n_max / rng.uniform(3, 16)
                floor = law_error(n_sat, row["D"], row["alpha"], 0.0)
                table["error"] *= (base**6 + floor**6) ** (1 / 6) / base
            offset = rng.normal(0.0, 0.5 * sigma, seeds)  # trial effect shared across n
            table["error"] *= np.exp(offset[table["seed"].to_numpy()])
            frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    out["strategy"] = "finetune"
    return out


def load_set(name: str, args: argparse.Namespace) -> tuple[pd.DataFrame, pd.Series]:
    """Curve table of one set and each curve's report group (kind, or simulated shape)."""
    if name == "sim":
        table = simulated_set(args.sim_per_shape, args.sim_seed)
        group_of = table["pair"].str.split("_").str[1]
    else:
        raw = read_curves(SET_FILES[name])
        if name == "scarce":
            table = select_curves(raw, metric=args.metric, strategies=None, full_split=False)
        else:
            table = select_curves(raw, metric=args.metric)
        group_of = table["kind"].astype(str)
    if args.strategies:
        keep = table["strategy"].isin(args.strategies).to_numpy()
        table, group_of = table[keep], group_of[keep]
    table = table.reset_index(drop=True)
    ids = curve_ids(table).to_numpy()
    groups = pd.Series(group_of.to_numpy(), index=ids).groupby(level=0).first()
    return table, groups


# ============================================================================== split
@dataclass(frozen=True)
class Split:
    """One cut of a curve set.

    Attributes
    ----------
    train : pandas.DataFrame
        Kept rows of the curves that are scored (what every method fits).
    points : pandas.DataFrame
        One row per held-out (curve, n): ``curve, n, y`` (mean log normalised error over
        its seeds), ``k`` (seeds), ``final`` (the curve's largest size).
    skipped : pandas.DataFrame
        Curves left out: ``curve, kept, sizes, reason``.

    """

    train: pd.DataFrame
    points: pd.DataFrame
    skipped: pd.DataFrame


def split(curves: pd.DataFrame, factor: float, min_kept: int = MIN_KEPT) -> Split:
    """Keep ``n <= n_max / factor`` of every curve; the larger sizes are the held-out points."""
    ids = curve_ids(curves).to_numpy()
    n = curves["n"].to_numpy()
    y = np.log(normalised_error(curves).to_numpy(dtype=float))
    n_max = pd.Series(n).groupby(ids).transform("max").to_numpy()
    kept = n <= n_max / factor
    frame = pd.DataFrame({"curve": ids, "n": n, "y": y, "kept": kept})
    per = frame.groupby("curve")["n"].nunique().rename("sizes").to_frame()
    per.insert(0, "kept", frame[kept].groupby("curve")["n"].nunique()
               .reindex(per.index, fill_value=0))
    reason = np.where(per["kept"] < min_kept, f"< {min_kept} kept sizes",
                      np.where(per["kept"] == per["sizes"], "nothing held out", ""))
    per["reason"] = reason
    bad = per.index[per["reason"] != ""]
    scored = ~np.isin(ids, bad)
    train = curves[kept & scored].reset_index(drop=True)
    held = frame[~kept & scored]
    points = held.groupby(["curve", "n"], sort=True)["y"].agg(y="mean", k="size").reset_index()
    points["final"] = points["n"] == points.groupby("curve")["n"].transform("max")
    skipped = per.loc[bad].reset_index()
    return Split(train, points, skipped)


# ============================================================================ methods
def make_model(args: argparse.Namespace) -> ScalingLawModel:
    """The Bayesian model of the backtest: package defaults, apart from the override flags."""
    overrides = {
        k: v
        for k, v in (
            ("draws", args.draws),
            ("tune", args.tune),
            ("chains", args.chains),
            ("centring", args.centring),
            ("target_accept", args.target_accept),
            ("priors", {"sd_family": args.sd_family} if args.sd_family else None),
            ("point_noise", True if getattr(args, "point_noise", False) else None),
        )
        if v is not None
    }
    return ScalingLawModel(random_seed=args.seed, **overrides)


def seed_noise(
    log_law: np.ndarray,
    sigma: np.ndarray,
    k: np.ndarray,
    rng: np.random.Generator,
    point_sd: np.ndarray | None = None,
) -> np.ndarray:
    """``log_law`` ``(draw, point)`` plus the noise of a mean over ``k`` seeds.

    ``sigma`` is one log-scale noise sd per draw (``(draw,)`` or ``(draw, point)``);
    ``point_sd`` (same shape) the noise all seeds of a point share, where the model has it:
    the mean's sd is then ``sqrt(sigma^2 / k + point_sd^2)``.
    """
    sigma = sigma if sigma.ndim == 2 else sigma[:, None]
    var = sigma**2 / np.asarray(k, float)[None, :]
    if point_sd is not None:
        var = var + (point_sd if point_sd.ndim == 2 else point_sd[:, None]) ** 2
    return log_law + np.sqrt(var) * rng.standard_normal(log_law.shape)


def bayes_draws(
    model: ScalingLawModel | LawStack, points: pd.DataFrame, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Predictive draws ``(draw, point)`` of the held-out targets and point predictions.

    ``model``: a fitted ``ScalingLawModel`` or a ``LawStack`` (its mixture of laws; the
    noise sd from the stacked posterior's draws).
    """
    if isinstance(model, LawStack):
        sigma = model.curve_posterior("law").draws["sigma"].values
        ids = list(model.curves_.index)
        first = next(iter(model.models_.values()))  # the shared noise is the data's, not a law's
    else:
        sigma = flat_curve(model.idata_["posterior"], "sigma")
        ids = model.curve_ids_
        first = model
    post = first.idata_["posterior"]
    point_sd = flat_curve(post, "point_sd")[: sigma.shape[0]] if "tau_point" in post else None
    draws = np.empty((sigma.shape[0], len(points)))
    point = np.empty(len(points))
    for cid, idx in points.groupby("curve", sort=False).indices.items():
        n = points["n"].to_numpy(float)[idx]
        law = model.predict(n, curves=[cid], kind="mean", return_draws=True)
        log_law = np.log(law.transpose("sample", "curve", "n").values[:, 0, :])
        log_law = log_law[: sigma.shape[0]]
        point[idx] = np.median(log_law, axis=0)
        s = sigma[:, ids.index(cid)]
        tp = None if point_sd is None else point_sd[:, ids.index(cid)]
        draws[:, idx] = seed_noise(log_law, s, points["k"].to_numpy(float)[idx], rng, tp)
    return draws, point


def ls_draws(boot, points: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Least squares + bootstrap: draws ``(replicate, point)`` and the point fit's values."""
    draws = np.empty((boot.n_boot, len(points)))
    point = np.empty(len(points))
    for cid, idx in points.groupby("curve", sort=False).indices.items():
        n = points["n"].to_numpy(float)[idx]
        log_law = np.log(boot.predict_draws(n, cid).values[:, 0, :])
        s = boot.parameter_draws("sigma", cid).values[:, 0]
        draws[:, idx] = seed_noise(log_law, s, points["k"].to_numpy(float)[idx], rng)
        point[idx] = np.log(boot.fit.predict(n, cid)["error"].to_numpy())
    return draws, point


def flat_draws(
    train: pd.DataFrame, points: pd.DataFrame, rng: np.random.Generator, n_draws: int = 4000
) -> tuple[np.ndarray, np.ndarray]:
    """The last kept value carried forward, with a Normal interval from its seed spread."""
    t = pd.DataFrame({"curve": curve_ids(train).to_numpy(), "n": train["n"].to_numpy(),
                      "y": np.log(normalised_error(train).to_numpy(dtype=float))})
    last = t[t["n"] == t.groupby("curve")["n"].transform("max")]
    stats = last.groupby("curve")["y"].agg(["mean", "std", "size"])
    s = stats.loc[points["curve"]]
    centre = s["mean"].to_numpy()
    sd = s["std"].to_numpy() * np.sqrt(1.0 / s["size"].to_numpy() + 1.0 / points["k"].to_numpy())
    draws = centre[None, :] + sd[None, :] * rng.standard_normal((n_draws, len(points)))
    return draws, centre


# ============================================================================= scores
def interval(draws: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed central interval of mass ``prob`` of every column of ``draws``."""
    lo, hi = np.quantile(draws, [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0], axis=0)
    return lo, hi


def coverage(draws: np.ndarray, y: np.ndarray, prob: float) -> np.ndarray:
    """Whether each ``y`` lies in the central ``prob`` interval of its column (NaN: none)."""
    lo, hi = interval(draws, prob)
    out = ((lo <= y) & (y <= hi)).astype(float)
    return np.where(np.isfinite(lo) & np.isfinite(hi), out, np.nan)


def interval_score(lo: np.ndarray, hi: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Interval score of the central ``1 - alpha`` interval (Gneiting & Raftery 2007, eq. 43).

    ``(hi - lo) + 2/alpha (lo - y) 1[y < lo] + 2/alpha (y - hi) 1[y > hi]``; lower is better.
    """
    return (hi - lo) + 2.0 / alpha * (lo - y) * (y < lo) + 2.0 / alpha * (y - hi) * (y > hi)


def crps(draws: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of the empirical distribution of each column of ``draws`` at ``y``.

    ``mean|X - y| - mean|X - X'| / 2`` over all pairs of draws, with the pair term from the
    sorted draws: ``sum_ij |x_i - x_j| = 2 sum_i (2i - S - 1) x_(i)`` (``i = 1..S``).
    """
    x = np.sort(draws, axis=0)
    S = x.shape[0]
    weights = (2.0 * np.arange(1, S + 1) - S - 1.0)[:, None]
    pair = 2.0 * np.sum(weights * x, axis=0) / S**2
    return np.mean(np.abs(x - y[None, :]), axis=0) - 0.5 * pair


def point_scores(draws: np.ndarray, point: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Per held-out point: ``inside_50/80/95``, ``is_80``, ``crps``, ``abs_err``."""
    out = {f"inside_{round(100 * p)}": coverage(draws, y, p) for p in PROBS}
    lo, hi = interval(draws, IS_PROB)
    out[f"is_{round(100 * IS_PROB)}"] = interval_score(lo, hi, y, 1.0 - IS_PROB)
    out["crps"] = crps(draws, y)
    out["abs_err"] = np.abs(point - y)
    return pd.DataFrame(out)


def score_methods(
    draws: dict[str, tuple[np.ndarray, np.ndarray]], points: pd.DataFrame
) -> pd.DataFrame:
    """Long table: one row per (method, held-out point) with the points' columns and scores."""
    y = points["y"].to_numpy()
    frames = []
    for method, (d, p) in draws.items():
        s = point_scores(d, p, y)
        frames.append(pd.concat([points.reset_index(drop=True), s], axis=1).assign(method=method))
    return pd.concat(frames, ignore_index=True)


def curve_scores(scores: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per curve (and ``keys``): median absolute log error, mean interval score and CRPS."""
    return (
        scores.groupby([*keys, "curve", "method"], sort=False)
        .agg(male=("abs_err", "median"), is_80=("is_80", "mean"), crps=("crps", "mean"))
        .reset_index()
    )


def summary(scores: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Coverage, interval score, CRPS and MALE per ``keys`` and method."""
    pooled = scores.groupby([*keys, "method"], sort=False).agg(
        curves=("curve", "nunique"),
        points=("y", "size"),
        **{f"cov{round(100 * p)}": (f"inside_{round(100 * p)}", "mean") for p in PROBS},
        IS80=("is_80", "mean"),
        CRPS=("crps", "mean"),
    )
    per_curve = curve_scores(scores, keys)
    male = per_curve.groupby([*keys, "method"], sort=False)["male"].median().rename("MALE")
    return pooled.join(male).reset_index()


def wins(scores: pd.DataFrame, keys: Sequence[str], method: str = "bayes") -> pd.DataFrame:
    """Per ``keys``: curves where ``method`` beats ``ls`` (MALE <=, interval score <)."""
    per = curve_scores(scores, keys)
    wide = per.pivot_table(index=[*keys, "curve"], columns="method", values=["male", "is_80"])
    rows = []
    for key, part in wide.groupby(level=list(range(len(keys))), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        n = len(part)
        male = int((part[("male", method)] <= part[("male", "ls")]).sum())
        is_ = int((part[("is_80", method)] < part[("is_80", "ls")]).sum())
        flat = int((part[("male", method)] <= part[("male", "flat")]).sum())
        rows.append({**dict(zip(keys, key, strict=True)), "curves": n,
                     f"MALE {method} <= LS": f"{male}/{n} = {male / n:.2f}",
                     f"IS80 {method} < LS": f"{is_}/{n} = {is_ / n:.2f}",
                     f"MALE {method} <= flat": f"{flat}/{n} = {flat / n:.2f}",
                     "_male": male / n, "_is": is_ / n})
    return pd.DataFrame(rows)


def verdicts(scores: pd.DataFrame, method: str = "bayes") -> list[str]:
    """PASS/MISS lines of ``method`` against issue 14's "done when", per set and cut."""
    lines = []
    summ = summary(scores, ["set", "cut", "group"])
    summ = summ[summ["method"] == method]
    for (set_, cut), part in summ.groupby(["set", "cut"], sort=False):
        groups = [g for g in ("transfer", "scratch") if g in set(part["group"])]
        if not groups:  # simulated: all shapes pooled
            sub = scores[(scores["set"] == set_) & (scores["cut"] == cut)]
            row = summary(sub.assign(group="all"), ["group"])
            part = row[row["method"] == method]
            groups = ["all"]
        for g in groups:
            r = part[part["group"] == g].iloc[0]
            for prob, (lo, hi) in COVERAGE_TARGETS.items():
                v = r[f"cov{round(100 * prob)}"]
                ok = "PASS" if lo <= v <= hi else "MISS"
                lines.append(f"{ok}  {method} {set_} {cut} {g} ({r['curves']} curves, "
                             f"{r['points']} points): {prob:.0%} coverage {v:.3f} in "
                             f"[{lo}, {hi}]")
    w = wins(scores, ["set", "cut"], method)
    for _, r in w.iterrows():
        ok = "PASS" if r["_male"] >= MALE_WIN_SHARE else "MISS"
        lines.append(f"{ok}  {method} {r['set']} {r['cut']}: MALE {method} <= LS on "
                     f"{r[f'MALE {method} <= LS']} curves (target >= {MALE_WIN_SHARE:.0%})")
        ok = "PASS" if r["_is"] > 0.5 else "MISS"
        lines.append(f"{ok}  {method} {r['set']} {r['cut']}: interval score {method} < "
                     f"LS+bootstrap on {r[f'IS80 {method} < LS']} curves (target: most)")
    return lines


# ============================================================================= output
def cut_label(factor: float) -> str:
    """``"n_max/8"`` for the cut-off ``n <= n_max / 8``."""
    return f"n_max/{factor:g}"


def md(table: pd.DataFrame, digits: int = 3) -> str:
    """Markdown of a table, hidden (``_``-prefixed) columns dropped."""
    shown = table[[c for c in table.columns if not str(c).startswith("_")]]
    return shown.to_markdown(index=False, floatfmt=f".{digits}f")


def convergence_line(model: ScalingLawModel, wall: float) -> str:
    """Wall time and the convergence report over every sampled parameter."""
    rep = model.convergence
    where = ", ".join(
        (f"{w['parameter']}[{w['curve']}]" if w["curve"] else str(w["parameter"]))
        + f" (R-hat {w['r_hat']:.3f}, ESS {min(w['ess_bulk'], w['ess_tail']):.0f})"
        for _, w in rep.worst(3).iterrows()
    )
    return (
        f"bayes fit: {wall:.1f} s wall; {'converged' if rep.ok else 'NOT converged'}: "
        f"{rep.divergences} divergences, max R-hat {rep.worst_rhat:.3f}, min bulk ESS "
        f"{rep.min_ess_bulk:.0f}, min tail ESS {rep.min_ess_tail:.0f} over {len(rep.table)} "
        f"elements of {len(rep.parameters)} variables (every sampled parameter); worst: "
        f"{where}; target_accept {model.target_accept_:g}, centring {model.centring_used_!r}"
        + (f"; {rep.note}" if rep.note else "")
    )


def run_cut(
    name: str, curves: pd.DataFrame, groups: pd.Series, factor: float, args: argparse.Namespace
) -> pd.DataFrame:
    """Fit every method on one cut of one set; return the scored held-out points."""
    sp = split(curves, factor)
    n_curves = curves.assign(c=curve_ids(curves).to_numpy())["c"].nunique()
    print(f"\n### set {name}, keep n <= {cut_label(factor)}\n")
    print(f"{n_curves} curves; {n_curves - len(sp.skipped)} scored, {len(sp.skipped)} "
          f"skipped; {len(sp.train)} rows kept, {len(sp.points)} held-out points "
          f"({int(sp.points['final'].sum())} final sizes)")
    if len(sp.skipped):
        print("skipped: " + "; ".join(f"{r.curve} ({r.kept} of {r.sizes} sizes kept: "
                                      f"{r.reason})" for r in sp.skipped.itertuples()))
    if sp.points.empty:
        return pd.DataFrame()
    model = make_model(args)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(sp.train)
    print(convergence_line(model, time.perf_counter() - t0), flush=True)
    stack = None
    if args.stack:
        others = {}
        for law in [law for law in args.stack if law != model.law]:
            other = make_model(args)
            other.law = law
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                other.fit(sp.train)
            print(f"[{law}] " + convergence_line(other, time.perf_counter() - t0), flush=True)
            others[law] = other
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = {model.law: model, **others}
            stack = LawStack.from_models(fits, random_seed=args.seed)
            if not stack.converged:  # measured anyway, like an unconverged ``bayes`` fit
                stack = LawStack.from_models(
                    fits, random_seed=args.seed, require_convergence=False
                )
                print("stack: no law converged; stacked without the convergence filter "
                      "(a measurement, not a decision)", flush=True)
        print(stack.sentence(), flush=True)
    t0 = time.perf_counter()
    boot = bootstrap_least_squares(sp.train, n_boot=args.n_boot, random_seed=args.seed,
                                   n_jobs=args.jobs)
    print(f"ls fit + {args.n_boot} bootstrap refits: {time.perf_counter() - t0:.1f} s wall; "
          f"schemes {boot.scheme.value_counts().to_dict()}; {int(boot.resolved.sum())} refits "
          "re-solved by scipy", flush=True)
    rng = np.random.default_rng(args.seed)
    draws = {
        "bayes": bayes_draws(model, sp.points, rng),
        **({"stack": bayes_draws(stack, sp.points, rng)} if stack is not None else {}),
        "ls": ls_draws(boot, sp.points, rng),
        "flat": flat_draws(sp.train, sp.points, rng),
    }
    scores = score_methods(draws, sp.points).assign(
        set=name, cut=cut_label(factor), group=lambda d: groups.loc[d["curve"]].to_numpy()
    )
    if "strategy" in curves:
        strat = curves.assign(c=curve_ids(curves).to_numpy()).groupby("c")["strategy"].first()
        scores["strategy"] = strat.loc[scores["curve"]].to_numpy()
    s = summary(scores, [])
    present = [m for m in METHODS if m in set(s["method"])]
    print(md(s.set_index("method").loc[present].reset_index()), flush=True)
    if args.per_curve:
        per = curve_scores(scores, ["group"]).pivot_table(
            index=["group", "curve"], columns="method", values=["male", "is_80"])
        per.columns = [f"{a} {b}" for a, b in per.columns]
        print("\n" + per.reset_index().to_markdown(index=False, floatfmt=".3f"))
    return scores


def report(scores: pd.DataFrame) -> None:
    """The final tables (all held-out sizes, final size only), wins and verdicts."""
    keys = ["set", "cut", "group"]
    order = {m: i for i, m in enumerate(METHODS)}

    def ordered(t: pd.DataFrame) -> pd.DataFrame:
        return t.sort_values(["set", "cut", "group", "method"], key=lambda c: (
            c.map(order) if c.name == "method" else c), kind="stable")

    print("\n## All held-out sizes\n")
    print(md(ordered(summary(scores, keys))))
    print("\n## Final size only (one point per curve)\n")
    print(md(ordered(summary(scores[scores["final"]], keys))))
    if "strategy" in scores and scores["strategy"].nunique() > 1:
        print("\n## By strategy (all held-out sizes)\n")
        t = summary(scores, ["set", "cut", "strategy"])
        print(md(t.sort_values(["set", "cut", "strategy", "method"], key=lambda c: (
            c.map(order) if c.name == "method" else c), kind="stable")))
    for method in [m for m in BAYES_METHODS if m in set(scores["method"])]:
        print(f"\n## Per-curve wins of {method} (all held-out sizes)\n")
        print(md(wins(scores, keys, method)))
        print(f"\n## Per-curve wins of {method} (final size only)\n")
        print(md(wins(scores[scores["final"]], keys, method)))
        print(f"\n## Verdicts of {method} (issue 14, done when)\n")
        print("\n".join(verdicts(scores, method)))


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    ap.add_argument("--cuts", nargs="+", type=float, default=[8.0, 4.0],
                    help="keep n <= n_max / F, for each F (default 8 4)")
    ap.add_argument("--strategies", nargs="+", default=None,
                    help="keep only these strategies (scratch curves: 'scratch')")
    ap.add_argument("--metric", default="mae")
    ap.add_argument("--n-boot", type=int, default=None, help="bootstrap refits (default 200)")
    ap.add_argument("--jobs", type=int, default=1, help="bootstrap workers (joblib)")
    ap.add_argument("--sim-per-shape", type=int, default=5)
    ap.add_argument("--sim-seed", type=int, default=14)
    ap.add_argument("--per-curve", action="store_true", help="print per-curve scores")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: draws = tune = 300, 50 bootstrap refits")
    ap.add_argument("--draws", type=int, default=None, help="draws per chain (package default)")
    ap.add_argument("--tune", type=int, default=None, help="tuning steps (package default)")
    ap.add_argument("--chains", type=int, default=None, help="chains (package default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sd-family", choices=("halfnormal", "gamma"), default=None,
                    help="prior family of the group/curve spreads (Priors.sd_family)")
    ap.add_argument("--centring", choices=("noncentred", "auto", "centred"), default=None)
    ap.add_argument("--target-accept", type=float, default=None)
    ap.add_argument("--point-noise", action="store_true",
                    help="fit with the noise shared by the seeds of a point "
                         "(ScalingLawModel(point_noise=True))")
    ap.add_argument("--stack", nargs="+", default=None, metavar="LAW",
                    help="also fit these laws and score their Bayesian stack (method "
                         "'stack', bayes_scaling.models.stacking.LawStack) with the "
                         "default law's fit, e.g. --stack power_gap mmf")
    args = ap.parse_args(argv)
    if args.quick:
        args.draws = args.draws or 300
        args.tune = args.tune or 300
    args.n_boot = args.n_boot or (50 if args.quick else 200)

    model = make_model(args)
    settings = model.get_params()
    overridden = [k for k in ("draws", "tune", "chains", "centring", "target_accept")
                  if getattr(args, k) is not None] + (["priors"] if args.sd_family else []) + (
        ["point_noise"] if args.point_noise else [])
    print(f"# backtest (issue 14) {dt.datetime.now().isoformat(timespec='seconds')}\n")
    print(f"sets={' '.join(args.sets)} cuts={' '.join(f'{c:g}' for c in args.cuts)} "
          f"metric={args.metric} strategies={args.strategies or 'all'} n_boot={args.n_boot} "
          f"seed={args.seed} cpus={os.cpu_count()} python={platform.python_version()} "
          f"load={os.getloadavg()[0]:.1f}")
    print("model: ScalingLawModel(" + ", ".join(
        f"{k}={settings[k]}" for k in ("sampler", "draws", "tune", "chains", "centring",
                                       "target_accept", "init", "likelihood", "point_noise",
                                       "law"))
          + ") " + (f"[overridden: {', '.join(overridden)}]" if overridden
                    else "[package defaults]"), flush=True)
    t_all = time.perf_counter()
    frames = []
    for name in args.sets:
        curves, groups = load_set(name, args)
        for factor in args.cuts:
            frames.append(run_cut(name, curves, groups, factor, args))
    scores = pd.concat([f for f in frames if len(f)], ignore_index=True)
    report(scores)
    print(f"\ntotal wall time {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
