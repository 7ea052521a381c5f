"""The learning-curve table: the data contract every stage of the pipeline exchanges.

One row per (curve, n, seed). A *curve* is identified by the :data:`CURVE_KEYS` columns
present in the table; ``n`` is the source (simulation) sample size for ``kind="transfer"``
rows and the target (experimental) training size for ``kind="scratch"`` rows.

Required columns
----------------
property : str
    Target property, e.g. ``"density"``, ``"tg"``, ``"chi"``, ``"bandgap"``.
database : str
    Source database the model was pretrained on (``"none"`` for scratch curves).
kind : {"transfer", "scratch"}
    Transfer curve over source size, or scratch curve over target size.
n : int
    Sample size (> 0).
seed : int
    Repetition seed (train/test split and subsampling).
error : float
    Test error (finite, > 0, lower is better), in the property's units unless the metric is
    a normalised one (:func:`is_normalised_metric`).
metric : str
    Name of the error metric: any lower-is-better error (``"mae"``, ``"rmse"``,
    ``"error_rate"``, ``"log_loss"``, ``"mse"``, ``"1-accuracy"``, a name of your own).
    ``"nmae"`` and ``"nrmse"`` (and names starting with ``normalised_``/``normalized_``) are
    already divided by ``target_scale``. Well-known higher-is-better scores (``accuracy``,
    ``r2``, ``roc_auc``, ``f1``, scikit-learn's ``neg_*`` scorers, ...) are rejected unless
    converted by the documented rule of :func:`score_conversion` (``convert_scores=True``
    or :func:`to_error_metric`).
target_scale : float
    Standard deviation of the target property (finite, > 0); ``error / target_scale`` is
    comparable across properties.

Optional columns
----------------
pair, strategy, m, unit, wall_time, n_train, n_test, family (see :data:`OPTIONAL_COLUMNS`).
``m`` is the experimental training size of a transfer curve; missing means the full
training split.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from bayes_scaling.curve_metrics import (  # noqa: F401  (re-exported: the schema's vocabulary)
    ERROR_WORDS,
    METRICS,
    NEGATED_PREFIX,
    NORMALISED_METRICS,
    NORMALISED_PREFIXES,
    ONE_MINUS_FAMILIES,
    ONE_MINUS_SCORES,
    SCORE_WORDS,
    UNCONVERTIBLE_SCORES,
    _conversion_hint,
    _is_score,
    is_normalised_metric,
    score_conversion,
    to_error_metric,
)
from bayes_scaling.exceptions import CurveSchemaError

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "property",
    "database",
    "kind",
    "n",
    "seed",
    "error",
    "metric",
    "target_scale",
)
#: Optional columns and their meaning.
OPTIONAL_COLUMNS: Final[dict[str, str]] = {
    "pair": "transfer task name from the pairs registry",
    "strategy": "transfer strategy (finetune, feature, residual, scratch)",
    "m": "experimental training size of a transfer curve (missing: the full split)",
    "unit": "unit of the property (for un-normalised metrics)",
    "wall_time": "seconds spent fitting this row's model",
    "n_train": "target training rows used",
    "n_test": "target test rows scored",
    "family": "task family (polymer, chi, inorganic)",
}
#: Columns that, when present, identify a curve (in this order).
CURVE_KEYS: Final[tuple[str, ...]] = (
    "pair",
    "property",
    "database",
    "kind",
    "strategy",
    "m",
    "metric",
)
KINDS: Final[tuple[str, ...]] = ("transfer", "scratch")
MIN_DISTINCT_N: Final[int] = 3

_STRING_COLUMNS = ("property", "database", "kind", "metric", "pair", "strategy", "unit", "family")


def curve_key_columns(df: pd.DataFrame) -> list[str]:
    """Return the curve-identifying columns present in ``df``."""
    return [c for c in CURVE_KEYS if c in df.columns]


def curve_ids(df: pd.DataFrame) -> pd.Series:
    """Return a readable identifier per row, e.g. ``"density|radonpy|transfer|finetune|mae"``.

    Missing ``m`` is written as ``"m=full"``; a present ``m`` as ``"m=<value>"``.
    """
    keys = curve_key_columns(df)
    parts = []
    for c in keys:
        if c == "m":
            col = df[c].astype("Int64")
            parts.append(col.map(lambda v: "m=full" if pd.isna(v) else f"m={int(v)}"))
        else:
            parts.append(df[c].astype(str))
    if not parts:
        return pd.Series([""] * len(df), index=df.index, dtype=str)
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out.rename("curve")


def _fail(problem: str, rows: pd.DataFrame | None = None, limit: int = 5) -> None:
    msg = problem
    if rows is not None and len(rows):
        shown = rows.head(limit).to_string()
        more = f" (and {len(rows) - limit} more)" if len(rows) > limit else ""
        msg += f"\nOffending rows{more}:\n{shown}"
    raise CurveSchemaError(msg)


def validate_curves(
    df: pd.DataFrame, *, allow_extra: Sequence[str] = (), convert_scores: bool = False
) -> pd.DataFrame:
    """Validate a learning-curve table and return a normalised copy.

    Parameters
    ----------
    df : pandas.DataFrame
        Candidate table.
    allow_extra : sequence of str, optional
        Extra column names to accept besides the schema's optional columns.
    convert_scores : bool, default False
        Convert higher-is-better scores (``accuracy``, ``r2``, ``neg_*``, ...) into errors
        by the rule of :func:`score_conversion` (:func:`to_error_metric`) before checking;
        without it such a table is rejected with a message saying how to convert.

    Returns
    -------
    pandas.DataFrame
        Copy with canonical dtypes (``n``, ``seed`` as int64, ``m`` as nullable Int64,
        strings as ``str``), required columns first, sorted by curve, ``n`` and ``seed``.

    Raises
    ------
    CurveSchemaError
        Missing or unknown columns, NaN/inf, non-positive error or target scale, n <= 0,
        non-integer n, ``m`` not a positive integer or larger than ``n_train``, unknown
        ``kind``, a higher-is-better score as ``metric`` (without ``convert_scores``), a
        ``metric`` containing ``|``, duplicate (curve, n, seed) rows, or a curve with fewer
        than three distinct n.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"property": "density", "database": "radonpy", "kind": "transfer",
    ...                    "n": [16, 32, 64], "seed": 0, "error": [0.1, 0.08, 0.07],
    ...                    "metric": "mae", "target_scale": 0.2})
    >>> validate_curves(df).shape
    (3, 8)

    """
    if not isinstance(df, pd.DataFrame):
        raise CurveSchemaError(f"Expected a pandas DataFrame of curves, got {type(df).__name__}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        _fail(
            f"Curve table is missing required column(s) {missing}; "
            f"required: {list(REQUIRED_COLUMNS)}."
        )
    allowed = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(allow_extra)
    extra = [c for c in df.columns if c not in allowed]
    if extra:
        _fail(
            f"Curve table has unknown column(s) {extra}; allowed optional columns: "
            f"{sorted(OPTIONAL_COLUMNS)}."
        )
    if len(df) == 0:
        _fail("Curve table is empty.")
    out = df.copy()
    if out["metric"].notna().all():
        names = pd.unique(out["metric"].astype(str))
        scores = [m for m in names if _is_score(m)]
        if scores and convert_scores:
            out = to_error_metric(out)
        elif scores:
            bad = out["metric"].astype(str).isin(scores)
            _fail(
                "Column 'metric' holds higher-is-better score(s) "
                f"{scores}, but the model needs a positive, lower-is-better error. "
                + "; ".join(_conversion_hint(m) for m in scores)
                + ". Pass convert_scores=True (validate_curves, read_curves, the adapters in "
                "bayes_scaling.adapters; --convert-scores for `bayes-scaling import-curves`) or "
                "call bayes_scaling.curves.to_error_metric to apply this rule.",
                df.loc[bad.to_numpy()],
            )

    for col in ("n", "seed", "error", "target_scale") + (
        ("wall_time",) if "wall_time" in df else ()
    ):
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype(float))
        if bad.any():
            _fail(
                f"Column '{col}' has {int(bad.sum())} NaN, infinite or non-numeric value(s).",
                df.loc[bad],
            )
        out[col] = values
    for col in _STRING_COLUMNS:
        if col in out and col != "unit":
            bad = out[col].isna() | (out[col].astype(str).str.strip() == "")
            if bad.any():
                _fail(
                    f"Column '{col}' has {int(bad.sum())} missing or empty value(s).", df.loc[bad]
                )

    n = out["n"].astype(float)
    if (n <= 0).any():
        _fail("Column 'n' must be > 0 (sample sizes).", df.loc[n <= 0])
    nonint = n != np.round(n)
    if nonint.any():
        _fail("Column 'n' must hold integers (sample sizes).", df.loc[nonint])
    seed = out["seed"].astype(float)
    if (seed != np.round(seed)).any():
        _fail("Column 'seed' must hold integers.", df.loc[seed != np.round(seed)])
    if (out["error"] <= 0).any():
        bad = out["error"] <= 0
        _fail(
            "Column 'error' must be > 0 (negative or zero errors cannot be fitted on the log "
            "scale).",
            df.loc[bad],
        )
    if (out["target_scale"] <= 0).any():
        _fail("Column 'target_scale' must be > 0.", df.loc[out["target_scale"] <= 0])
    if "wall_time" in out and (out["wall_time"] < 0).any():
        _fail("Column 'wall_time' must be >= 0.", df.loc[out["wall_time"] < 0])

    out["n"] = n.astype("int64")
    out["seed"] = seed.astype("int64")
    out["error"] = out["error"].astype(float)
    out["target_scale"] = out["target_scale"].astype(float)
    for col in _STRING_COLUMNS:
        if col in out:
            out[col] = out[col].astype(str)
    if "m" in out:
        m = pd.to_numeric(out["m"], errors="coerce")
        bad = m.notna() & ((m <= 0) | (m != np.round(m)))
        bad |= out["m"].notna() & m.isna()
        if bad.any():
            _fail("Column 'm' must be a positive integer or missing (full split).", df.loc[bad])
        out["m"] = m.astype("Int64")
    for col in ("n_train", "n_test"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    if "m" in out and "n_train" in out:
        over = (out["m"].notna() & out["n_train"].notna() & (out["m"] > out["n_train"])).fillna(
            False
        )
        if over.any():
            _fail(
                "Column 'm' is larger than the target training split 'n_train' (an experimental "
                "training size cannot exceed the split it is drawn from).",
                df.loc[over.to_numpy()],
            )

    bad_kind = ~out["kind"].isin(KINDS)
    if bad_kind.any():
        _fail(f"Column 'kind' must be one of {list(KINDS)}.", df.loc[bad_kind])
    bad_metric = out["metric"].str.contains("|", regex=False)
    if bad_metric.any():
        _fail(
            "Column 'metric' must not contain '|' (it separates the parts of a curve id).",
            df.loc[bad_metric.to_numpy()],
        )

    keys = curve_key_columns(out)
    cid = curve_ids(out)
    dup = pd.DataFrame({"curve": cid, "n": out["n"], "seed": out["seed"]}).duplicated(keep=False)
    if dup.any():
        _fail(
            f"Duplicate (curve, n, seed) rows: {int(dup.sum())} rows share a key "
            f"(curve columns {keys}).",
            df.loc[dup],
        )
    distinct = out.groupby(cid)["n"].nunique()
    short = distinct[distinct < MIN_DISTINCT_N]
    if len(short):
        _fail(
            f"Every curve needs at least {MIN_DISTINCT_N} distinct n to fit a power law with a "
            f"plateau; too few in: "
            + ", ".join(f"{c!r} ({k} distinct n)" for c, k in short.items())
        )

    order = list(REQUIRED_COLUMNS) + [c for c in out.columns if c not in REQUIRED_COLUMNS]
    out = out[order]
    sort_cols = keys + ["n", "seed"]
    out = out.sort_values(sort_cols, kind="mergesort", na_position="first").reset_index(drop=True)
    return out


def normalised_error(df: pd.DataFrame) -> pd.Series:
    """Return ``error / target_scale`` unless the metric is already normalised.

    A metric is already normalised by the rule of :func:`is_normalised_metric` (``nmae``,
    ``nrmse``, ``normalised_*``); ``nll`` or ``error_rate`` are divided by ``target_scale``.
    """
    already = df["metric"].astype(str).map(is_normalised_metric).astype(bool)
    return df["error"].where(already, df["error"] / df["target_scale"])


def curves_hash(df: pd.DataFrame) -> str:
    """Return a short, order-independent SHA-256 hash of a validated curve table."""
    canon = validate_curves(df)
    payload = canon.to_csv(index=False, float_format="%.10g").encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def read_curves(
    path: str | os.PathLike[str], *, validate: bool = True, convert_scores: bool = False
) -> pd.DataFrame:
    """Read a curve table from CSV or Parquet (chosen by suffix) and validate it.

    ``convert_scores=True`` turns higher-is-better scores into errors first (see
    :func:`validate_curves`); a user table with its own column names is read by
    :func:`bayes_scaling.adapters.from_table`.

    Raises
    ------
    CurveSchemaError
        If the file is missing, unreadable/corrupt, has an unsupported suffix or fails
        validation.

    """
    path = Path(path)
    if not path.is_file():
        raise CurveSchemaError(f"Curve file {path} does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            raise CurveSchemaError(
                f"Curve file {path} has unsupported suffix {suffix!r}; use .csv or .parquet."
            )
    except CurveSchemaError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means a corrupt file
        raise CurveSchemaError(f"Could not read curve file {path}: {exc}") from exc
    return validate_curves(df, convert_scores=convert_scores) if validate else df


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_curves(df: pd.DataFrame, path: str | os.PathLike[str], *, validate: bool = True) -> Path:
    """Validate and write a curve table atomically as CSV or Parquet (by suffix)."""
    path = Path(path)
    out = validate_curves(df) if validate else df
    suffix = path.suffix.lower()
    if suffix == ".csv":
        data = out.to_csv(index=False).encode()
    elif suffix in (".parquet", ".pq"):
        import io

        buf = io.BytesIO()
        out.to_parquet(buf, index=False)
        data = buf.getvalue()
    else:
        raise CurveSchemaError(f"Unsupported curve file suffix {suffix!r}; use .csv or .parquet.")
    atomic_write_bytes(path, data)
    return path
