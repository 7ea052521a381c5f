"""First look at harness curves: one log-log PNG per task family, plus a falls/flattens table.

Usage::

    .venv/bin/python scripts/first_look.py data/curves/curves.csv --out data/

For each pair (metric = normalised MAE) it prints whether the error falls with n (mean error
at the largest n below that at the smallest, by more than the seed spread) and whether it
flattens (the last decade's log-slope is less than half the first decade's), as a Markdown
table for data/README.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bayes_scaling.curves import read_curves  # noqa: E402


def slope(g: pd.DataFrame) -> float:
    """Least-squares slope of log error against log n."""
    return float(np.polyfit(np.log(g["n"]), np.log(g["error"]), 1)[0])


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per transfer curve: error at smallest/largest n, early/late slopes, verdicts."""
    rows = []
    t = table[(table["metric"] == "nmae") & (table["kind"] == "transfer")]
    scratch = table[(table["metric"] == "nmae") & (table["kind"] == "scratch")]
    for (pair, strat), g in t.groupby(["pair", "strategy"]):
        m = g.groupby("n")["error"].agg(["mean", "std"]).reset_index()
        first, last = m.iloc[0], m.iloc[-1]
        k = max(3, len(m) // 2)
        early, late = (
            slope(m.head(k).rename(columns={"mean": "error"})),
            slope(m.tail(k).rename(columns={"mean": "error"})),
        )
        prop = g["property"].iloc[0]
        sc = scratch[scratch["property"] == prop]
        sc_full = sc[sc["n"] == sc["n"].max()]["error"].mean() if len(sc) else np.nan
        falls = last["mean"] < first["mean"] - max(first["std"], last["std"])
        rows.append(
            {
                "pair": pair,
                "strategy": strat,
                "n range": f"{int(first['n'])}-{int(last['n'])}",
                "nMAE at n_min": round(first["mean"], 3),
                "nMAE at n_max": round(last["mean"], 3),
                "scratch nMAE (full m)": round(sc_full, 3),
                "early slope": round(early, 3),
                "late slope": round(late, 3),
                "falls": "yes" if falls else "no",
                "flattens": "yes" if abs(late) < 0.5 * abs(early) or not falls else "no",
            }
        )
    return pd.DataFrame(rows)


def plot_families(table: pd.DataFrame, out: Path) -> list[Path]:
    """One log-log PNG per family: mean nMAE over seeds with min-max band, scratch dashed."""
    paths = []
    t = table[table["metric"] == "nmae"]
    for family, g in t.groupby("family"):
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for (pair, kind), c in g.groupby(["pair", "kind"]):
            s = c.groupby("n")["error"].agg(["mean", "min", "max"]).reset_index()
            style = "--" if kind == "scratch" else "-"
            label = f"{pair} (scratch, n = m)" if kind == "scratch" else pair
            (line,) = ax.plot(s["n"], s["mean"], style, marker="o", ms=3, label=label)
            ax.fill_between(s["n"], s["min"], s["max"], alpha=0.15, color=line.get_color())
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("source size n (scratch: experimental size m)")
        ax.set_ylabel("test MAE / target std")
        ax.set_title(f"{family}: target error vs source size")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / f"first_look_{family}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def main() -> None:
    """Run the command-line script."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("curves", type=Path)
    ap.add_argument("--out", type=Path, default=Path("data"))
    args = ap.parse_args()
    table = read_curves(args.curves)
    for p in plot_families(table, args.out):
        print(f"wrote {p}")
    print(summarise(table).to_markdown(index=False))


if __name__ == "__main__":
    main()
