"""First look at harness curves: log-log PNGs per task family, plus a Markdown summary table.

Usage::

    .venv/bin/python scripts/first_look.py data/curves/curves.csv --out data/
    .venv/bin/python scripts/first_look.py data/curves_scarce/curves.csv --out data/
    .venv/bin/python scripts/first_look.py data/curves_scarce --out /tmp/look  # partial run

``CURVES`` is a curve table (.csv or .parquet, validated) or a harness output folder: its
``curves.parquet`` or ``curves.csv`` when there is one, else the concatenation of its
``shards/*.csv`` (a run in progress: read only, not validated). The protocol is
``--protocol``, else the folder's ``settings.json``, else detected
(:func:`bayes_scaling.first_look.detect_protocol`).

**Scarce protocol** (issue 13): per family, ``first_look_scarce_<family>_n.png`` (error vs
source size n, one line per experimental size m, scratch at the same m dotted; the analogue
of the reference study's Fig. 4b) and ``first_look_scarce_<family>_m.png`` (error vs m for
several n, with the scratch curve as n = 0; Fig. 4c), trial bands 10th-90th percentile. It
prints two Markdown tables: the smallest m per task, then every m: the drop of the mean
error from the smallest to the largest n, and transfer at the largest n against scratch at
the same m (means, bands, paired trials won).

**Legacy protocol**: for each pair (metric = normalised MAE) whether the error falls with n
(mean error at the largest n below that at the smallest, by more than the seed spread) and
whether it flattens (the last decade's log-slope is less than half the first decade's), as a
Markdown table, and ``first_look_<family>.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bayes_scaling.curves import read_curves  # noqa: E402
from bayes_scaling.first_look import (  # noqa: E402
    band_label,
    compute_scarce_summary,
    detect_protocol,
    format_scarce_summary,
)
from bayes_scaling.first_look_plots import plot_first_look_grid  # noqa: E402


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


# ---------------------------------------------------------------------------- scarce protocol
def load_table(path: Path) -> tuple[pd.DataFrame, str | None, bool]:
    """Read a curve table or a harness output folder.

    Returns
    -------
    (table, protocol, partial)
        ``protocol`` from a ``settings.json`` next to the table (None if absent);
        ``partial`` True when the rows come from the shards of a run in progress.

    """
    folder = path if path.is_dir() else path.parent
    settings = folder / "settings.json"
    protocol = None
    if settings.is_file():
        protocol = json.loads(settings.read_text()).get("protocol")
    if not path.is_dir():
        return read_curves(path), protocol, False
    for name in ("curves.parquet", "curves.csv"):
        if (path / name).is_file():
            return read_curves(path / name), protocol, False
    shards = sorted((path / "shards").glob("*.csv"))
    if not shards:
        raise SystemExit(f"{path} holds neither curves.csv nor shards/*.csv.")
    frames = [f for f in (pd.read_csv(p) for p in shards) if len(f)]
    return pd.concat(frames, ignore_index=True), protocol, True


def scarce_first_look(
    table: pd.DataFrame, out: Path, *, strategy: str, metric: str, dpi: int = 110
) -> list[Path]:
    """Write ``first_look_scarce_<family>_{n,m}.png`` for every family; return the paths."""
    paths = []
    transfer = table[(table["kind"] == "transfer") & (table["strategy"] == strategy)]
    if transfer.empty:
        raise SystemExit(f"No transfer rows of strategy {strategy!r}.")
    families = sorted(transfer["family"].dropna().astype(str).unique()) if "family" in table else []
    for family in families or [None]:
        for view in ("n", "m"):
            fig, _ = plot_first_look_grid(
                table, view=view, family=family, strategy=strategy, metric=metric
            )
            path = out / f"first_look_scarce_{family or 'all'}_{view}.png"
            fig.savefig(path, dpi=dpi)
            plt.close(fig)
            paths.append(path)
    return paths


def scarce_tables(table: pd.DataFrame, *, strategy: str | None, metric: str) -> str:
    """Markdown: the smallest m of every task, then every m."""
    summary = compute_scarce_summary(table, strategy=strategy, metric=metric)
    smallest = summary[summary["m"] == summary.groupby("pair")["m"].transform("min")]
    band = band_label("quantile")
    return (
        f"Smallest experimental size m per task (mean over trials; bands: {band}):\n\n"
        f"{format_scarce_summary(smallest)}\n\nEvery m:\n\n{format_scarce_summary(summary)}"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the command-line script."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("curves", type=Path, help="curve table, or a harness output folder")
    ap.add_argument("--out", type=Path, default=Path("data"), help="folder for the PNGs")
    ap.add_argument("--protocol", choices=["auto", "legacy", "scarce"], default="auto")
    ap.add_argument("--strategy", default="finetune", help="scarce: strategy of the figures")
    ap.add_argument("--metric", default="mae", help="scarce: metric (default mae, in units)")
    ap.add_argument(
        "--all-strategies",
        action="store_true",
        help="scarce: summary table for every transfer strategy (default: --strategy only)",
    )
    ap.add_argument("--dpi", type=int, default=110, help="scarce: resolution of the PNGs")
    args = ap.parse_args(argv)
    table, stored, partial = load_table(args.curves)
    protocol = args.protocol
    if protocol == "auto":
        protocol = stored if stored in ("legacy", "scarce") else detect_protocol(table)
    args.out.mkdir(parents=True, exist_ok=True)
    if partial:
        print(
            f"note: {args.curves} has no curves.csv; using {len(table):,} rows of its shards "
            "(a run in progress, not validated).",
            file=sys.stderr,
        )
    if protocol == "legacy":
        for p in plot_families(table, args.out):
            print(f"wrote {p}")
        print(summarise(table).to_markdown(index=False))
        return
    paths = scarce_first_look(
        table, args.out, strategy=args.strategy, metric=args.metric, dpi=args.dpi
    )
    for p in paths:
        print(f"wrote {p}")
    strategy = None if args.all_strategies else args.strategy
    print(scarce_tables(table, strategy=strategy, metric=args.metric))


if __name__ == "__main__":
    main()
