"""Resumable, crash-safe storage of harness results.

Results are kept in one CSV *shard* per curve family label (a transfer pair, or the scratch
curve of a target) under ``<out>/shards/``. Only the parent process writes: each finished
job's rows are added by rewriting the shard to a temporary file and renaming it over the old
one (:func:`bayes_scaling.curves.atomic_write_bytes`), so a ``kill -9`` at any moment leaves
either the old or the new shard, never a torn one, and a job is either fully recorded or not
at all. A rerun reads the shards and skips every job already recorded.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from bayes_scaling.curves import atomic_write_bytes
from bayes_scaling.exceptions import CurveSchemaError

#: Columns that identify one harness job (one fitted model). ``m`` missing (shards written
#: before the (n, m) surface existed, scratch rows, full-split transfer rows) counts as 0.
JOB_KEY: tuple[str, ...] = ("pair", "strategy", "kind", "n", "seed", "m")


def _m_key(value: object) -> int:
    return 0 if value is None or pd.isna(value) else int(value)  # type: ignore[arg-type]


def job_key(row: Mapping[str, object]) -> tuple:
    """Return the job key of a result row (``m`` missing or NaN counts as 0: full split)."""
    return tuple(
        _m_key(row.get("m"))
        if c == "m"
        else int(row[c])  # type: ignore[arg-type]
        if c in ("n", "seed")
        else str(row[c])
        for c in JOB_KEY
    )


class ShardStore:
    """Per-label CSV shards below ``root/shards``.

    Parameters
    ----------
    root : path-like
        Output folder of a harness run.

    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.dir = self.root / "shards"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._frames: dict[str, pd.DataFrame] = {}

    def _path(self, label: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
        return self.dir / f"{safe}.csv"

    def read(self, label: str) -> pd.DataFrame:
        """Return the rows stored for ``label`` (empty frame if none)."""
        if label not in self._frames:
            path = self._path(label)
            if path.exists():
                try:
                    self._frames[label] = pd.read_csv(path)
                except Exception as exc:  # noqa: BLE001
                    raise CurveSchemaError(
                        f"Harness shard {path} is unreadable ({exc}); delete it to recompute "
                        "its jobs."
                    ) from exc
            else:
                self._frames[label] = pd.DataFrame()
        return self._frames[label]

    def done(self, labels: Iterable[str]) -> set[tuple]:
        """Job keys already recorded in the shards of ``labels``."""
        keys: set[tuple] = set()
        for label in labels:
            df = self.read(label)
            if len(df):
                cols = [c for c in JOB_KEY if c in df.columns]
                keys.update(job_key(r) for r in df[cols].to_dict("records"))
        return keys

    def append(self, label: str, rows: list[dict]) -> None:
        """Atomically add one job's rows to the shard of ``label``."""
        old = self.read(label)
        new = pd.DataFrame(rows)
        merged = new if old.empty else pd.concat([old, new], ignore_index=True)
        buf = io.StringIO()
        merged.to_csv(buf, index=False)
        atomic_write_bytes(self._path(label), buf.getvalue().encode())
        self._frames[label] = merged

    def collect(self) -> pd.DataFrame:
        """Concatenate every shard on disk (sorted by file name)."""
        frames = []
        for path in sorted(self.dir.glob("*.csv")):
            try:
                frames.append(pd.read_csv(path))
            except Exception as exc:  # noqa: BLE001
                raise CurveSchemaError(f"Harness shard {path} is unreadable ({exc}).") from exc
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
