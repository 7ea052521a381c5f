"""Shared pytest configuration and fixtures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def shared_data_root():
    """The shared data folder; skips the test when it is absent (``BAYES_SCALING_DATA``)."""
    from bayes_scaling.datasets import data_root
    from bayes_scaling.exceptions import DataNotFoundError

    try:
        return data_root()
    except DataNotFoundError as exc:
        pytest.skip(f"shared data not available: {exc}")
