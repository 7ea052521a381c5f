"""Fake posteriors with known truth: draws scattered narrowly around given (D, alpha, C).

No MCMC: the decision layer only needs draws, so tests build a
:class:`~bayes_scaling.models.posterior.CurvePosterior` whose draws sit within a few per
cent of a known truth, and check the decisions against the closed forms at that truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayes_scaling.curves import curve_ids
from bayes_scaling.models.posterior import CurvePosterior

#: Default curves (D and C on the normalised scale).
DEFAULT_SPECS: tuple[dict[str, Any], ...] = (
    dict(
        property="density",
        database="radonpy",
        kind="transfer",
        strategy="finetune",
        metric="mae",
        unit="g/cm³",
        target_scale=0.1,
        n_min=16,
        n_max=5000,
        D=2.0,
        alpha=0.4,
        C=0.2,
    ),
    dict(
        property="density",
        database="pubchem",
        kind="transfer",
        strategy="finetune",
        metric="mae",
        unit="g/cm³",
        target_scale=0.1,
        n_min=16,
        n_max=5000,
        D=1.5,
        alpha=0.3,
        C=0.35,
    ),
    dict(
        property="tg",
        database="radonpy",
        kind="transfer",
        strategy="finetune",
        metric="mae",
        unit="K",
        target_scale=60.0,
        n_min=16,
        n_max=2000,
        D=3.0,
        alpha=0.5,
        C=0.3,
    ),
    dict(
        property="density",
        database="none",
        kind="scratch",
        strategy="scratch",
        metric="mae",
        unit="g/cm³",
        target_scale=0.1,
        n_min=8,
        n_max=300,
        D=3.0,
        alpha=0.35,
        C=0.25,
    ),
    dict(
        property="tg",
        database="none",
        kind="scratch",
        strategy="scratch",
        metric="mae",
        unit="K",
        target_scale=60.0,
        n_min=8,
        n_max=300,
        D=2.5,
        alpha=0.45,
        C=0.45,
    ),
)

_META = (
    "pair",
    "property",
    "database",
    "kind",
    "strategy",
    "metric",
    "unit",
    "target_scale",
    "n_min",
    "n_max",
)


def metadata(specs: Sequence[dict[str, Any]] = DEFAULT_SPECS) -> pd.DataFrame:
    """Curve metadata indexed by the ids :func:`bayes_scaling.curves.curve_ids` gives."""
    meta = pd.DataFrame([{k: s[k] for k in _META if k in s} for s in specs])
    meta.index = pd.Index(curve_ids(meta).tolist(), name="curve")
    meta["n_obs"] = 30
    return meta


def fake_posterior(
    specs: Sequence[dict[str, Any]] = DEFAULT_SPECS,
    *,
    n_samples: int = 2000,
    spread: float = 0.03,
    seed: int = 0,
) -> CurvePosterior:
    """Posterior whose draws scatter by ``spread`` (relative) around each spec's truth."""
    rng = np.random.default_rng(seed)
    meta = metadata(specs)
    shape = (n_samples, len(specs))
    truth = {p: np.array([s[p] for s in specs], dtype=float) for p in ("D", "alpha", "C")}
    draws = {p: truth[p] * np.exp(rng.normal(0.0, spread, size=shape)) for p in truth}
    sigma = np.full(shape, 0.05)
    return CurvePosterior.from_arrays(draws["D"], draws["alpha"], draws["C"], meta, sigma=sigma)


def ids(posterior: CurvePosterior) -> dict[tuple[str, str], str]:
    """Map ``(property, database)`` to the curve id."""
    meta = posterior.curves
    return {(r.property, r.database): c for c, r in meta.iterrows()}


def fake_curve_table(
    specs: Sequence[dict[str, Any]] = DEFAULT_SPECS,
    *,
    n_values: Sequence[int] = (16, 64, 256, 1024),
    seeds: int = 3,
    noise: float = 0.02,
    seed: int = 1,
) -> pd.DataFrame:
    """Observed learning-curve rows (curve schema) generated from the specs' truth."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in specs:
        for n in n_values:
            for k in range(seeds):
                err = s["target_scale"] * (s["D"] * n ** -s["alpha"] + s["C"])
                rows.append(
                    {
                        **{
                            c: s[c]
                            for c in (
                                "pair",
                                "property",
                                "database",
                                "kind",
                                "strategy",
                                "metric",
                                "unit",
                            )
                            if c in s
                        },
                        "n": n,
                        "seed": k,
                        "error": err * np.exp(rng.normal(0.0, noise)),
                        "target_scale": s["target_scale"],
                    }
                )
    return pd.DataFrame(rows)
