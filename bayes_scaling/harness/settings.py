"""The resume guard: ``OUT/settings.json`` and the check before a run resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from bayes_scaling.curves import atomic_write_bytes
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.harness.config import HarnessConfig

SETTINGS_FILE: Final[str] = "settings.json"


def _check_settings(out: Path, config: HarnessConfig) -> None:
    """Refuse to resume into a folder whose results were made with other settings.

    ``OUT/settings.json`` records :meth:`HarnessConfig.fingerprint`. With results present
    (``OUT/shards/*.csv`` or ``OUT/curves.csv``) a different fingerprint, or no settings
    file under a non-legacy protocol (the legacy harness wrote none), is an error; without
    results the file is (re)written.
    """
    path = out / SETTINGS_FILE
    current = json.loads(json.dumps(config.fingerprint()))  # tuples -> lists, as on disk
    # Shards, or a collected table (a committed curves.csv comes without its shards).
    has_results = any((out / "shards").glob("*.csv")) or (out / "curves.csv").exists()
    if has_results and path.exists():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BayesScalingError(f"{path} is unreadable ({exc}); delete it.") from exc
        if stored != current:
            diff = ", ".join(
                f"{k}: {stored.get(k)!r} -> {current.get(k)!r}"
                for k in sorted(set(stored) | set(current))
                if stored.get(k) != current.get(k)
            )
            raise BayesScalingError(
                f"{out} holds harness results made with other settings ({diff}); resuming "
                f"would mix them. Use a new --out, or delete {out} to recompute."
            )
        return
    if has_results and config.protocol != "legacy":
        raise BayesScalingError(
            f"{out} holds harness results (shards or curves.csv) without {SETTINGS_FILE}: "
            "results of the legacy protocol (written before settings were recorded). "
            f"Running the {config.protocol!r} protocol there would mix protocols and "
            "overwrite its curves.csv; use a new --out, or pass --protocol legacy to extend "
            "them."
        )
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(current, indent=1, sort_keys=True) + "\n").encode())
