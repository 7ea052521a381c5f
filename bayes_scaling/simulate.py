"""Simulate learning-curve tables from known scaling-law parameters.

:func:`simulate_curves` turns a table of true ``(D, alpha, C)`` per curve into a curve
table that passes :func:`bayes_scaling.curves.validate_curves`; :func:`draw_curve_params`
draws realistic parameters with property and database structure. Used by the model's
recovery and calibration tests, the benchmarks, and other modules' tests.

Noise model (the one the Bayesian model assumes): for each curve, size and seed
``log(error / target_scale) = log(D n^-alpha + C) + eps``, ``eps ~ Normal(0, sigma)``
(or ``sigma * StudentT(df)``). ``D`` and ``C`` are on the normalised scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from bayes_scaling.curves import (
    CURVE_KEYS,
    OPTIONAL_COLUMNS,
    is_normalised_metric,
    validate_curves,
)
from bayes_scaling.exceptions import BayesScalingError

#: Default sizes: 8 geometric steps from 16 to 100 000.
DEFAULT_N_GRID: tuple[int, ...] = tuple(
    int(v) for v in np.unique(np.round(np.geomspace(16, 100_000, 8)))
)
_PARAM_COLUMNS = ("D", "alpha", "C", "sigma", "alpha2", "n_break", "target_scale")
_PASS_THROUGH = tuple(c for c in OPTIONAL_COLUMNS if c not in ("wall_time", "n_train", "n_test"))


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def law_error(
    n: np.ndarray,
    D: float,
    alpha: float,
    C: float,
    *,
    alpha2: float | None = None,
    n_break: float | None = None,
    smoothness: float = 1.0,
) -> np.ndarray:
    """Noise-free error ``D n^-alpha + C`` (or the smoothly broken power law + C).

    With ``alpha2`` and ``n_break`` the law is ``C + D n^-alpha (1 + (n / n_break)^(1/f))
    ^(-(alpha2 - alpha) f)`` (Caballero et al. 2022) with ``f = smoothness``.
    """
    n = np.asarray(n, dtype=float)
    out = D * n ** (-alpha)
    if alpha2 is not None and n_break is not None:
        f = smoothness
        out = out * (1.0 + (n / n_break) ** (1.0 / f)) ** (-(alpha2 - alpha) * f)
    return out + C


def simulate_curves(
    params: pd.DataFrame,
    n_grid: Sequence[int] | np.ndarray = DEFAULT_N_GRID,
    seeds: int | Sequence[int] = 5,
    *,
    noise: float = 0.1,
    noise_dist: Literal["normal", "studentt"] = "normal",
    df: float = 4.0,
    point_noise: float = 0.0,
    target_scale: float | Mapping[str, float] = 1.0,
    kind: str = "transfer",
    metric: str = "mae",
    rng: np.random.Generator | int | None = None,
) -> pd.DataFrame:
    """Simulate a validated curve table from known per-curve parameters.

    Parameters
    ----------
    params : pandas.DataFrame
        One row per curve with ``property``, ``database``, ``D``, ``alpha``, ``C``
        (normalised scale: ``D n^-alpha + C`` is ``error / target_scale``). Optional:
        ``sigma`` (this curve's log-scale noise sd, overrides ``noise``),
        ``target_scale`` (overrides the argument), ``alpha2`` and ``n_break`` (a smoothly
        broken power law) and any curve-table column (``pair``, ``kind``, ``strategy``,
        ``m``, ``metric``, ``unit``, ``family``), copied to the output.
    n_grid : sequence of int
        Sizes ``n`` of every curve (at least three distinct values).
    seeds : int or sequence of int
        Number of seeds (``0..seeds-1``) or the seed labels.
    noise : float
        Default sd of ``log error`` between seeds (``0`` gives noise-free curves).
    noise_dist : {"normal", "studentt"}
        Noise distribution; ``"studentt"`` uses ``noise * StudentT(df)``.
    df : float
        Degrees of freedom of the StudentT noise.
    point_noise : float
        Sd of a ``log error`` offset shared by every seed of a ``(curve, n)`` point (drawn
        independently per point; default 0: none). The model's ``tau_point``.
    target_scale : float or mapping
        Standard deviation of the target property: one value, or per ``property``.
        ``error = target_scale * normalised error``.
    kind, metric : str
        Values of the ``kind`` and ``metric`` columns when ``params`` lacks them.
    rng : numpy.random.Generator, int or None
        Random generator or seed.

    Returns
    -------
    pandas.DataFrame
        A curve table, validated with :func:`~bayes_scaling.curves.validate_curves`.

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"property": ["tg", "density"], "database": "radonpy",
    ...                       "D": [3.0, 2.0], "alpha": [0.5, 0.4], "C": [0.3, 0.2]})
    >>> table = simulate_curves(truth, n_grid=[16, 64, 256, 1024], seeds=3, rng=0)
    >>> table.shape
    (24, 8)

    """
    if not isinstance(params, pd.DataFrame):
        raise BayesScalingError(f"params must be a DataFrame, got {type(params).__name__}.")
    missing = [c for c in ("property", "database", "D", "alpha", "C") if c not in params]
    if missing:
        raise BayesScalingError(f"params lacks column(s) {missing}.")
    unknown = [
        c
        for c in params.columns
        if c not in _PARAM_COLUMNS and c not in CURVE_KEYS and c not in _PASS_THROUGH
    ]
    if unknown:
        raise BayesScalingError(
            f"params has unknown column(s) {unknown}; allowed: property, database, D, alpha, "
            f"C, sigma, target_scale, alpha2, n_break and curve-table columns."
        )
    if len(params) == 0:
        raise BayesScalingError("params is empty.")
    for col in ("D", "alpha", "C"):
        v = pd.to_numeric(params[col], errors="coerce")
        if v.isna().any() or not np.all(np.isfinite(v)):
            raise BayesScalingError(f"params column {col!r} must be finite numbers.")
    if (params["D"] <= 0).any() or (params["alpha"] <= 0).any() or (params["C"] < 0).any():
        raise BayesScalingError("params need D > 0, alpha > 0 and C >= 0.")
    n_arr = np.unique(np.asarray(n_grid, dtype=float))
    if n_arr.size < 3 or np.any(n_arr <= 0) or np.any(n_arr != np.round(n_arr)):
        raise BayesScalingError("n_grid needs at least three distinct positive integers.")
    seed_labels = np.arange(seeds) if np.isscalar(seeds) else np.asarray(list(seeds))
    if seed_labels.size < 1:
        raise BayesScalingError("seeds must be >= 1 (or a non-empty list).")
    if noise < 0 or not np.isfinite(noise):
        raise BayesScalingError("noise must be a finite number >= 0.")
    if point_noise < 0 or not np.isfinite(point_noise):
        raise BayesScalingError("point_noise must be a finite number >= 0.")
    if noise_dist not in ("normal", "studentt"):
        raise BayesScalingError(f"noise_dist must be 'normal' or 'studentt', got {noise_dist!r}.")
    gen = _rng(rng)

    frames = []
    for _, row in params.reset_index(drop=True).iterrows():
        sigma = float(row["sigma"]) if "sigma" in row and pd.notna(row.get("sigma")) else noise
        if "target_scale" in row and pd.notna(row.get("target_scale")):
            scale = float(row["target_scale"])
        elif isinstance(target_scale, Mapping):
            if row["property"] not in target_scale:
                raise BayesScalingError(
                    f"target_scale has no entry for property {row['property']!r}."
                )
            scale = float(target_scale[row["property"]])
        else:
            scale = float(target_scale)
        if not (np.isfinite(scale) and scale > 0):
            raise BayesScalingError("target_scale must be finite and > 0.")
        a2 = row.get("alpha2") if "alpha2" in row else None
        nb = row.get("n_break") if "n_break" in row else None
        mean = law_error(
            n_arr,
            float(row["D"]),
            float(row["alpha"]),
            float(row["C"]),
            alpha2=None if a2 is None or pd.isna(a2) else float(a2),
            n_break=None if nb is None or pd.isna(nb) else float(nb),
        )
        shape = (n_arr.size, seed_labels.size)
        if noise_dist == "normal":
            eps = gen.standard_normal(shape)
        else:
            eps = gen.standard_t(df, size=shape)
        err = mean[:, None] * np.exp(sigma * eps) * scale
        if point_noise > 0:  # drawn only when asked: other tables keep their random stream
            err = err * np.exp(point_noise * gen.standard_normal(n_arr.size))[:, None]
        metric_row = row["metric"] if "metric" in row and pd.notna(row.get("metric")) else metric
        if is_normalised_metric(str(metric_row)):
            err = err / scale
        frame = pd.DataFrame(
            {
                "property": row["property"],
                "database": row["database"],
                "kind": row["kind"] if "kind" in row and pd.notna(row.get("kind")) else kind,
                "n": np.repeat(n_arr.astype("int64"), seed_labels.size),
                "seed": np.tile(seed_labels, n_arr.size),
                "error": err.ravel(),
                "metric": metric_row,
                "target_scale": scale,
            }
        )
        for col in params.columns:
            if col in _PASS_THROUGH and col not in frame:
                frame[col] = row[col]
        frames.append(frame)
    return validate_curves(pd.concat(frames, ignore_index=True))


def draw_curve_params(
    properties: int | Sequence[str] = 6,
    databases: int | Sequence[str] = 3,
    *,
    rng: np.random.Generator | int | None = None,
    noise: tuple[float, float] = (0.05, 0.15),
    n_first: int = 16,
) -> pd.DataFrame:
    """Draw realistic ``(D, alpha, C, sigma)`` for every property x database curve.

    Normalised errors at ``n_first`` fall in about 0.2-1.5 and plateau at ``C`` in about
    0.1-0.6, with property and database effects (so partial pooling has something to
    learn) and a small curve-level deviation.

    Parameters
    ----------
    properties, databases : int or sequence of str
        Labels, or how many to make (``"p0"``, ``"p1"``, ... / ``"db0"``, ...).
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    noise : tuple of float
        Range of the per-curve log-scale noise sd (uniform).
    n_first : int
        Size at which the initial error is drawn.

    Returns
    -------
    pandas.DataFrame
        Columns ``property``, ``database``, ``D``, ``alpha``, ``C``, ``sigma`` (one row per
        combination), ready for :func:`simulate_curves`.

    """
    gen = _rng(rng)
    props = (
        [f"p{i}" for i in range(properties)] if isinstance(properties, int) else list(properties)
    )
    dbs = [f"db{i}" for i in range(databases)] if isinstance(databases, int) else list(databases)
    if not props or not dbs:
        raise BayesScalingError("Need at least one property and one database.")
    p_eff = {p: gen.normal(0, [0.35, 0.25, 0.15]) for p in props}
    d_eff = {d: gen.normal(0, [0.15, 0.15, 0.2]) for d in dbs}
    rows = []
    for p in props:
        for d in dbs:
            e = p_eff[p] + d_eff[d] + gen.normal(0, [0.1, 0.15, 0.08])
            C = float(np.clip(0.28 * np.exp(e[0]), 0.08, 0.65))
            excess = float(np.clip(0.45 * np.exp(e[1]), 0.12, 1.0))
            alpha = float(np.clip(0.5 * np.exp(e[2]), 0.15, 1.2))
            rows.append(
                {
                    "property": p,
                    "database": d,
                    "D": excess * n_first**alpha,
                    "alpha": alpha,
                    "C": C,
                    "sigma": float(gen.uniform(*noise)),
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- (n, m) surface
#: Default true parameters of :func:`simulate_surface` (normalised errors), per target.
SURFACE_TARGETS: dict[str, dict[str, float]] = {
    "density": {"E": 2.0, "beta": 0.5, "S": 0.15, "target_scale": 0.1},
    "chi": {"E": 1.2, "beta": 0.35, "S": 0.2, "target_scale": 0.5},
}
#: Default true task parameters per form: (property, database) -> parameters.
SURFACE_TASKS: dict[str, dict[tuple[str, str], dict[str, float]]] = {
    "additive": {
        ("density", "md"): {"C": 0.05, "alpha": 0.35},
        ("density", "dft"): {"C": 0.09, "alpha": 0.5},
        ("chi", "cosmo"): {"C": 0.08, "alpha": 0.3},
        ("chi", "md"): {"C": 0.14, "alpha": 0.45},
    },
    "effective_data": {
        ("density", "md"): {"k": 2.0, "gamma": 0.45, "delta": 0.45},
        ("density", "dft"): {"k": 0.8, "gamma": 0.4, "delta": 0.45},
        ("chi", "cosmo"): {"k": 1.5, "gamma": 0.5, "delta": 0.45},
        ("chi", "md"): {"k": 0.5, "gamma": 0.35, "delta": 0.45},
    },
}


def surface_truth_error(
    form: str, n: np.ndarray, m: np.ndarray, target: Mapping[str, float], task: Mapping[str, float]
) -> np.ndarray:
    """Return the true normalised error of :func:`simulate_surface` (closed form).

    ``additive``: ``E m^-beta + C + (S - C)(1 + n)^-alpha``;
    ``effective_data``: ``E (m + k n^gamma m^delta)^-beta + S``. ``n = 0``: scratch.
    """
    n = np.asarray(n, float)
    m = np.asarray(m, float)
    E, beta, S = target["E"], target["beta"], target["S"]
    if form == "additive":
        return E * m**-beta + task["C"] + (S - task["C"]) * (1 + n) ** -task["alpha"]
    if form == "effective_data":
        T = task["k"] * n ** task["gamma"] * m ** task["delta"]
        return E * (m + T) ** -beta + S
    raise BayesScalingError(f"Unknown surface form {form!r}.")


def simulate_surface(
    form: str = "additive",
    *,
    targets: Mapping[str, Mapping[str, float]] | None = None,
    tasks: Mapping[tuple[str, str], Mapping[str, float]] | None = None,
    n_grid: Sequence[int] = (16, 64, 256, 1024, 4096, 16384),
    m_levels: Sequence[int] = (40, 100, 250),
    scratch_grid: Sequence[int] = (16, 32, 64, 128, 250, 500, 1000),
    seeds: int = 3,
    sigma: float = 0.03,
    metric: str = "nmae",
    rng: np.random.Generator | int | None = 0,
) -> pd.DataFrame:
    """Simulate an (n, m) surface table: transfer curves at several m plus scratch curves.

    ``log(error / target_scale) = log(surface_truth_error(...)) + Normal(0, sigma)`` for
    every (task, n, m, seed) and every (property, scratch m, seed). The largest m level is
    written as the full split (``m`` missing, ``n_train`` = that m), the others with ``m``,
    as the harness does.

    Returns
    -------
    pandas.DataFrame
        A validated curve table with ``m`` and ``n_train`` columns.

    """
    targets = SURFACE_TARGETS if targets is None else targets
    tasks = SURFACE_TASKS[form] if tasks is None else tasks
    gen = _rng(rng)
    full = max(m_levels)
    rows = []

    def add(prop: str, db: str, kind: str, n: int, m: int, err: float, seed: int) -> None:
        scale = float(targets[prop].get("target_scale", 1.0))
        rows.append(
            {
                "property": prop,
                "database": db,
                "kind": kind,
                "n": int(n),
                "seed": seed,
                "error": err * (1.0 if is_normalised_metric(metric) else scale),
                "metric": metric,
                "target_scale": scale,
                "m": None if (kind == "scratch" or m == full) else int(m),
                "n_train": int(m),
            }
        )

    for (prop, db), par in tasks.items():
        for m in m_levels:
            mu = surface_truth_error(form, np.asarray(n_grid), np.full(len(n_grid), m),
                                     targets[prop], par)  # fmt: skip
            for seed in range(seeds):
                eps = gen.normal(0.0, sigma, len(n_grid))
                for n, e in zip(n_grid, mu * np.exp(eps), strict=True):
                    add(prop, db, "transfer", n, m, float(e), seed)
    for prop, tpar in targets.items():
        m_arr = np.asarray(scratch_grid, float)
        mu = tpar["E"] * m_arr ** -tpar["beta"] + tpar["S"]  # n = 0 of both forms
        for seed in range(seeds):
            eps = gen.normal(0.0, sigma, len(m_arr))
            for m, e in zip(scratch_grid, mu * np.exp(eps), strict=True):
                add(prop, "none", "scratch", m, m, float(e), seed)
    return validate_curves(pd.DataFrame(rows))
