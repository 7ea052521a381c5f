"""Small helpers shared by the planning decisions: input values, curve kind, output arrays.

Used by :mod:`bayes_scaling.sample_size`, :mod:`bayes_scaling.allocation` and
:mod:`bayes_scaling.equivalent_size`; private to the planning modules.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayes_scaling.decisions import check_positive
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.posterior import CurvePosterior


def _as_values(value: float | Sequence[float], *, name: str) -> tuple[float, ...]:
    values = (value,) if np.ndim(value) == 0 else tuple(value)  # type: ignore[arg-type]
    if not values:
        raise BayesScalingError(f"{name} must hold at least one value.")
    return tuple(check_positive(v, name=name) for v in values)


def _is_scratch(posterior: CurvePosterior, curve: str) -> bool:
    return "kind" in posterior.curves and posterior.curves.loc[curve, "kind"] == "scratch"


def _rows(table: pd.DataFrame) -> list[pd.Series]:
    return [row for _, row in table.iterrows()]


def _frozen(a: np.ndarray) -> np.ndarray:
    out = np.array(a, dtype=float, copy=True)
    out.setflags(write=False)
    return out
