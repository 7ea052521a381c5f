"""Issue 14 probe: would a discrepancy learnt from *other* tasks' full curves calibrate a
truncated curve's extrapolation?

No MCMC: every real scarce curve (``data/curves_scarce``, metric ``mae``, strategies
finetune, gentle and scratch, every m) is cut at ``n <= n_max / F``; per-curve least squares
(``power_gap``, :func:`bayes_scaling.models.baseline.fit_least_squares`) on the kept rows
predicts the held-out seed means; ``r`` is the log residual at distance ``d = log(n /
n_kept_max)`` beyond the data. For each property in turn, a Normal discrepancy ``r ~
Normal(mu d, s0^2 + (s d)^2)`` is fitted by maximum likelihood to the residuals of the
**other** properties' curves (the same kind: transfer or scratch; all kinds when a kind
has fewer than 10 residuals), and the held-out property's residuals are scored: coverage
of the central 50 / 80 / 95 % intervals.

This asks whether the tails of complete learning curves of other tasks, which a user of the
package has (the bundled curves), carry the extrapolation uncertainty the truncated curve's
own data cannot show (benchmarks/README.md, "Issue 14 protocol on the scarce curves").

``--slopes`` prints instead, per cut, how many transfer curves *rise* over their kept sizes
(least-squares slope of log error on log n > 0: negative transfer at small source sizes)
and, per property, the median kept slope, the fall from the last kept size to the final
size and the final size's residual ``r`` (benchmarks/README.md, stop 24).

Usage::

    .venv/bin/python benchmarks/extrapolation_probe.py            # cuts n_max/8 and n_max/4
    .venv/bin/python benchmarks/extrapolation_probe.py --cuts 8
    .venv/bin/python benchmarks/extrapolation_probe.py --slopes
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from bayes_scaling.curves import curve_ids, normalised_error, read_curves
from bayes_scaling.models.baseline import fit_least_squares

CURVES = Path(__file__).resolve().parents[1] / "data" / "curves_scarce" / "curves.parquet"
PROBS = (0.5, 0.8, 0.95)
MIN_KIND_RESIDUALS = 10


def tail_residuals(table: pd.DataFrame, cut: float) -> pd.DataFrame:
    """Least-squares log residuals of every curve's held-out seed means beyond the cut."""
    table = table.assign(curve=curve_ids(table).values, y=np.log(normalised_error(table).values))
    rows = []
    for cid, g in table.groupby("curve"):
        n_max = g["n"].max()
        kept = g[g["n"] <= n_max / cut]
        if kept["n"].nunique() < 3 or len(kept) == len(g):
            continue
        fit = fit_least_squares(kept.drop(columns=["curve", "y"]))
        means = g[g["n"] > n_max / cut].groupby("n")["y"].mean()
        pred = fit.predict(means.index.to_numpy(float)).set_index("n")["error"]
        rows.append(pd.DataFrame({
            "curve": cid, "property": g["property"].iloc[0], "kind": g["kind"].iloc[0],
            "d": np.log(means.index.to_numpy(float) / kept["n"].max()),
            "r": means.to_numpy() - np.log(pred.reindex(means.index).to_numpy()),
        }))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def kept_slopes(table: pd.DataFrame, cut: float, residuals: pd.DataFrame) -> pd.DataFrame:
    """Per transfer curve: the kept sizes' log-log slope, the fall after them, ``r`` at the end.

    ``slope``: least-squares slope of the seed means' log error on log n over the kept sizes
    (``n <= n_max / cut``); ``fall_after``: log error at the final size minus at the last
    kept size; ``r_final``: the final size's residual in ``residuals``
    (:func:`tail_residuals` of the same cut).
    """
    table = table[table["kind"] == "transfer"]
    table = table.assign(curve=curve_ids(table).values, y=np.log(normalised_error(table).values))
    r_final = residuals.sort_values("d").groupby("curve")["r"].last()
    rows = []
    for cid, g in table.groupby("curve"):
        means = g.groupby("n")["y"].mean()
        kept = means[means.index <= g["n"].max() / cut]
        if len(kept) < 3 or cid not in r_final.index:
            continue
        slope = np.polyfit(np.log(kept.index.to_numpy(float)), kept.to_numpy(), 1)[0]
        rows.append({"curve": cid, "property": g["property"].iloc[0], "slope": slope,
                     "fall_after": means.iloc[-1] - kept.iloc[-1], "r_final": r_final[cid]})
    return pd.DataFrame(rows)


def fit_discrepancy(res: pd.DataFrame) -> tuple[float, float, float]:
    """Maximum-likelihood ``(mu, s0, s)`` of ``r ~ Normal(mu d, s0^2 + (s d)^2)``."""

    def nll(v: np.ndarray) -> float:
        sd = np.sqrt(np.exp(2 * v[1]) + (np.exp(v[2]) * res["d"]) ** 2)
        return -float(stats.norm.logpdf(res["r"], v[0] * res["d"], sd).sum())

    v = optimize.minimize(nll, [0.0, np.log(0.03), np.log(0.05)], method="Nelder-Mead").x
    return float(v[0]), float(np.exp(v[1])), float(np.exp(v[2]))


def leave_one_property_out(res: pd.DataFrame) -> pd.DataFrame:
    """Score each property's residuals under the discrepancy of the other properties."""
    out = []
    for prop in sorted(res["property"].unique()):
        train, test = res[res["property"] != prop], res[res["property"] == prop]
        for kind, te in test.groupby("kind"):
            tr = train[train["kind"] == kind]
            tr = tr if len(tr) >= MIN_KIND_RESIDUALS else train
            mu, s0, s = fit_discrepancy(tr)
            z = (te["r"] - mu * te["d"]) / np.sqrt(s0**2 + (s * te["d"]) ** 2)
            cov = {f"cov{round(100 * p)}": np.abs(z) <= stats.norm.ppf(0.5 + p / 2) for p in PROBS}
            out.append(te.assign(**cov, mu=mu, s0=s0, s=s))
    return pd.concat(out, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cuts", type=float, nargs="+", default=[8.0, 4.0])
    ap.add_argument("--curves", type=Path, default=CURVES)
    ap.add_argument("--slopes", action="store_true",
                    help="print the transfer curves' kept slopes instead (negative transfer)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    full = read_curves(args.curves)
    strategies = ["finetune", "gentle", "scratch"]
    table = full[(full["metric"] == "mae") & full["strategy"].isin(strategies)]
    cols = [f"cov{round(100 * p)}" for p in PROBS]
    for cut in args.cuts:
        if args.slopes:
            d = kept_slopes(table, cut, tail_residuals(table, cut))
            rising = int((d["slope"] > 0).sum())
            print(f"\n### cut n <= n_max/{cut:g}: {rising} of {len(d)} transfer curves rise "
                  f"over their kept sizes; correlation of slope and r_final "
                  f"{d[['slope', 'r_final']].corr().iloc[0, 1]:+.2f}\n")  # fmt: skip
            medians = d.groupby("property")[["slope", "fall_after", "r_final"]].median()
            print(medians.round(3).to_markdown())
            continue
        scored = leave_one_property_out(tail_residuals(table, cut))
        print(f"\n### cut n <= n_max/{cut:g}: {scored['curve'].nunique()} curves, "
              f"{len(scored)} held-out sizes\n")  # fmt: skip
        scored = scored.assign(group=scored["property"] + " " + scored["kind"],
                               abs_r=scored["r"].abs())  # fmt: skip
        overall = scored.groupby("kind").agg(**{c: (c, "mean") for c in cols},
                                             **{"median |r|": ("abs_r", "median")})  # fmt: skip
        per = scored.groupby("group").agg(**{c: (c, "mean") for c in cols},
                                          mu=("mu", "first"), s0=("s0", "first"),
                                          s=("s", "first"),
                                          **{"median |r|": ("abs_r", "median")})  # fmt: skip
        by = pd.concat([overall.rename(index=lambda k: f"all {k}"), per])
        by = by[[*cols, "mu", "s0", "s", "median |r|"]]
        print(by.round(3).to_markdown())


if __name__ == "__main__":
    main()
