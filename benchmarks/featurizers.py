"""Featurizer throughput on the real source/target data (was three timed tests).

Prints a Markdown table: the polymer featurizer on the ~8k SMILES of the MD Tg pair, cold
(empty per-SMILES cache) and warm (second pass, served from the cache), the χ pair's
polymer-solvent featurizer, and the composition featurizer on all of OQMD (342k formulas).
The old test thresholds are printed beside the times as targets (cold < 30 s, warm < 3 s,
χ < 20 s, OQMD < 60 s on 2 idle cores).

Usage::

    .venv/bin/python benchmarks/featurizers.py
"""

from __future__ import annotations

import time

from bayes_scaling.datasets import get_pair
from bayes_scaling.datasets.featurizers import CompositionFeaturizer, PolymerFeaturizer
from bayes_scaling.datasets.featurizers.polymer import clear_feature_cache


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    """Run each featurizer once and print the table."""
    rows = []
    pair = get_pair("polymer_tg_md")
    smiles = pair.load_target()["smiles"].tolist() + pair.load_source()["smiles"].tolist()
    clear_feature_cache()
    cold, X = _timed(lambda: PolymerFeaturizer().fit_transform(smiles))
    warm, _ = _timed(lambda: PolymerFeaturizer().fit_transform(smiles))
    rows += [("polymer, MD Tg pair, cold", X.shape, cold, 30), ("same, warm", X.shape, warm, 3)]
    chi = get_pair("chi_cosmo_rs")
    t, X = _timed(
        lambda: (
            chi.make_featurizer().fit_transform(chi.load_source()),
            chi.make_featurizer().fit_transform(chi.load_target()),
        )[0]
    )
    rows.append(("polymer-solvent, χ pair (source + target)", X.shape, t, 20))
    oqmd = get_pair("bandgap_oqmd").load_source()
    t, X = _timed(lambda: CompositionFeaturizer().fit_transform(oqmd))
    rows.append(("composition, all of OQMD", X.shape, t, 60))
    print("| featurizer | shape | wall (s) | target (s) |")
    print("|---|---|---|---|")
    for name, shape, wall, target in rows:
        print(f"| {name} | {shape[0]} x {shape[1]} | {wall:.1f} | < {target} |")


if __name__ == "__main__":
    main()
