"""Readable names of tasks and curves, and the curve each summary row is about.

Names are built from the curve metadata: :func:`task_name` gives
``"Band gap · Materials Project → experiment"``, :func:`readable_names` a unique name per
curve (with the metric and the experimental size m where needed), :func:`m_words` the m
part in words; :func:`experimental_sizes` finds m of every curve and
:func:`decision_curves` picks, per task, the transfer curve at the largest m (today's
experiments). Used by :mod:`bayes_scaling.summary` and the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd

from bayes_scaling.decisions import format_number
from bayes_scaling.models.posterior import CurvePosterior

#: Readable property names (others: underscores to spaces, first letter capitalised).
PROPERTY_NAMES: Final[dict[str, str]] = {
    "bandgap": "Band gap",
    "band_gap": "Band gap",
    "density": "Density",
    "tg": "Glass transition temperature",
    "chi": "Flory–Huggins χ",
}
#: Readable database names (others: underscores to spaces).
DATABASE_NAMES: Final[dict[str, str]] = {
    "materials_project": "Materials Project",
    "mp": "Materials Project",
    "aflow": "AFLOW",
    "oqmd": "OQMD",
    "radonpy": "RadonPy",
    "mafa_md": "MAFA MD",
    "md_tg": "MD (MAFA, HT, LT)",
    "cosmo_rs": "COSMO-RS",
    "pubchem": "PubChem",
}


def _text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def readable_property(name: object) -> str:
    """``"bandgap" -> "Band gap"``; unknown names: underscores to spaces, capitalised."""
    text = _text(name) or "error"
    if text.lower() in PROPERTY_NAMES:
        return PROPERTY_NAMES[text.lower()]
    text = text.replace("_", " ")
    return text[:1].upper() + text[1:]


def readable_database(name: object) -> str:
    """``"materials_project" -> "Materials Project"``; unknown names: underscores to spaces."""
    text = _text(name) or "source"
    return DATABASE_NAMES.get(text.lower(), text.replace("_", " "))


def task_name(row: Mapping[str, object] | pd.Series) -> str:
    """Readable name of a curve's task from its metadata row.

    Transfer: ``"Band gap · Materials Project → experiment"`` (a strategy other than
    ``finetune`` is appended in brackets); scratch: ``"Band gap · experiments only"``.
    """
    prop = readable_property(row.get("property"))
    if _text(row.get("kind")) == "scratch":
        return f"{prop} · experiments only (no simulations)"
    db = _text(row.get("database"))
    name = f"{prop} · {readable_database(db)} → experiment" if db and db != "none" else prop
    strategy = _text(row.get("strategy"))
    if strategy and strategy not in ("finetune", "scratch"):
        name += f" ({strategy.replace('_', ' ')})"
    return name


def experimental_sizes(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None = None
) -> dict[str, float | None]:
    """Experimental training size m of every curve (None where unknown).

    The curve metadata's ``m`` where set; for a full-split curve (no ``m``) the median
    ``n_train`` of its rows in ``curves_table``; scratch curves: None (their n *is* m).
    """
    from bayes_scaling.curves import curve_ids

    meta = posterior.curves
    n_train: dict[str, float] = {}
    if curves_table is not None and "n_train" in curves_table and len(curves_table):
        try:
            ids = curve_ids(curves_table)
        except (KeyError, ValueError):  # pragma: no cover - a table without key columns
            ids = None
        if ids is not None:
            values = pd.to_numeric(curves_table["n_train"], errors="coerce")
            n_train = values.groupby(ids.values).median().dropna().to_dict()
    out: dict[str, float | None] = {}
    for c in posterior.curve_ids:
        if "kind" in meta and meta.loc[c, "kind"] == "scratch":
            out[c] = None
            continue
        m = (
            pd.to_numeric(pd.Series([meta.loc[c, "m"]]), errors="coerce").iloc[0]
            if ("m" in meta)
            else np.nan
        )
        if pd.notna(m):
            out[c] = float(m)
        elif c in n_train:
            out[c] = float(n_train[c])
        else:
            out[c] = None
    return out


def _task_key(meta: pd.DataFrame, curve: str) -> tuple[str, ...]:
    """Key of a curve's task: its metadata key columns other than ``m``."""
    cols = [c for c in ("pair", "property", "database", "kind", "strategy", "metric") if c in meta]
    return tuple(str(meta.loc[curve, c]) for c in cols)


def readable_names(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None = None
) -> dict[str, str]:
    """Readable, unique name of every curve.

    :func:`task_name`, plus the metric where the posterior holds several, plus
    ``"at m = …"`` where a task was measured at several experimental sizes, plus the curve
    id as a last resort where names still collide.
    """
    meta = posterior.curves
    names = {c: task_name(meta.loc[c]) for c in posterior.curve_ids}
    if "metric" in meta and meta["metric"].nunique() > 1:
        names = {c: f"{n} ({str(meta.loc[c, 'metric']).upper()})" for c, n in names.items()}
    sizes = experimental_sizes(posterior, curves_table)
    by_task: dict[tuple[str, ...], list[str]] = {}
    for c in posterior.curve_ids:
        by_task.setdefault(_task_key(meta, c), []).append(c)
    for members in by_task.values():
        if len(members) > 1:
            for c in members:
                names[c] += f", {m_words(sizes[c])}"
    counts = pd.Series(list(names.values())).value_counts()
    return {c: (f"{n} [{c}]" if counts[n] > 1 else n) for c, n in names.items()}


def m_words(m: float | None) -> str:
    """``"at m = 3,680 experiments"`` (or ``"at the full experimental split"``)."""
    if m is None or not math.isfinite(m):
        return "at the full experimental split"
    return f"at m = {format_number(m, sig=4)} experiments"


def decision_curves(
    posterior: CurvePosterior, curves_table: pd.DataFrame | None = None
) -> list[str]:
    """Return the transfer curve each summary row is about: per task, the one at the largest m.

    A task is a transfer curve's metadata without ``m``; its decision is about today's
    experimental size, the largest m measured (a full-split curve counts as the largest).
    Order: as in the posterior.
    """
    meta = posterior.curves
    transfer = [
        c for c in posterior.curve_ids if "kind" not in meta or meta.loc[c, "kind"] != "scratch"
    ]
    sizes = experimental_sizes(posterior, curves_table)
    full = "m" in meta
    best: dict[tuple[str, ...], str] = {}
    for c in transfer:
        key = _task_key(meta, c)

        def rank(curve: str) -> float:
            is_full = full and pd.isna(meta.loc[curve, "m"])
            return math.inf if is_full or sizes[curve] is None else float(sizes[curve])

        if key not in best or rank(c) > rank(best[key]):
            best[key] = c
    chosen = set(best.values())
    return [c for c in transfer if c in chosen]
