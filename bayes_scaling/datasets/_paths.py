"""Locate the shared public datasets (never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

from bayes_scaling.constants import DATA_ENV_VAR
from bayes_scaling.exceptions import DataNotFoundError

_REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_ROOT = _REPO_ROOT.parent / "shared" / "data"


def data_root() -> Path:
    """Return the folder holding the shared datasets.

    The folder is ``$BAYES_SCALING_DATA`` when that variable is set, else ``../shared/data``
    next to the repository.

    Returns
    -------
    pathlib.Path
        Existing directory.

    Raises
    ------
    DataNotFoundError
        If the directory does not exist; the message names the environment variable.

    """
    env = os.environ.get(DATA_ENV_VAR)
    root = Path(env).expanduser() if env else DEFAULT_DATA_ROOT
    if not root.is_dir():
        how = f"{DATA_ENV_VAR}={env!r}" if env else f"{DATA_ENV_VAR} is unset, default {root}"
        raise DataNotFoundError(
            f"Shared data folder not found ({how}). Set the environment variable "
            f"{DATA_ENV_VAR} to the folder that holds radonpy_pi1070/, chi_aoki2023/, "
            "bandgap_matbench/ ... (the project's ../shared/data)."
        )
    return root


def data_file(*parts: str) -> Path:
    """Return an existing file below :func:`data_root`, with a clear error if missing."""
    path = data_root().joinpath(*parts)
    if not path.is_file():
        raise DataNotFoundError(
            f"Dataset file {path} is missing (data folder from {DATA_ENV_VAR} or its default)."
        )
    return path
