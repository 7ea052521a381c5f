"""The default transfer strategy, chosen on validation rows only (never the test split).

:func:`select_strategy` ranks the strategies of ``OUT/validation.csv`` (written by the scarce
protocol, :mod:`bayes_scaling.harness.scarce`) per (pair, m) cell and returns a
:class:`StrategyChoice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from bayes_scaling.exceptions import BayesScalingError

#: Transfer strategies measured side by side by default under the scarce protocol.
SCARCE_STRATEGIES: Final[tuple[str, ...]] = ("finetune", "gentle", "frozen", "scratch")


@dataclass(frozen=True)
class StrategyChoice:
    """The default transfer strategy chosen on validation rows (never the test split).

    Attributes
    ----------
    table : pandas.DataFrame
        Per (pair, m, strategy): mean validation nMAE over the n grid and the validation
        trials, and the strategy's rank within its (pair, m) cell (1 = best).
    default : str
        Strategy with the lowest mean rank over every (pair, m) cell (ties: lowest mean
        validation nMAE).
    summary : pandas.DataFrame
        Per strategy: mean rank, cells won, mean validation nMAE.

    """

    table: pd.DataFrame
    default: str
    summary: pd.DataFrame

    @property
    def sentence(self) -> str:
        """One plain sentence stating the choice."""
        s = self.summary.loc[self.default]
        return (
            f"Default transfer strategy: {self.default!r} (mean rank {s['mean_rank']:.2f} over "
            f"{int(s['cells'])} (pair, m) cells, best in {int(s['wins'])}; chosen on "
            "validation rows of the training subsets only)."
        )


def select_strategy(validation: pd.DataFrame | str | Path) -> StrategyChoice:
    """Choose the default transfer strategy from validation rows only.

    The protocol: in the trials of the first ``selection_seeds`` pretraining seeds, every
    transfer strategy is also fitted on the first ``1 - validation_fraction`` of the trial's
    training subset and scored (nMAE) on the rest of it; the test split is never read. Per
    (pair, m level) the strategies are ranked by their mean validation nMAE over the n grid
    and those trials; the default is the strategy with the lowest mean rank over all
    (pair, m) cells, ties broken by the lower mean validation nMAE.

    Parameters
    ----------
    validation : pandas.DataFrame or path-like
        ``OUT/validation.csv`` of a scarce-protocol run (or its frame).

    Returns
    -------
    StrategyChoice

    """
    if not isinstance(validation, pd.DataFrame):
        path = Path(validation)
        if not path.exists():
            raise BayesScalingError(
                f"No validation rows at {path}: run the scarce protocol with "
                "selection_seeds >= 1 first."
            )
        validation = pd.read_csv(path)
    need = {"pair", "strategy", "m", "val_nmae"}
    missing = need - set(validation.columns)
    if missing or validation.empty:
        raise BayesScalingError(
            f"Validation table is empty or lacks columns {sorted(missing)}; expected "
            f"{sorted(need)}."
        )
    v = validation.assign(m=validation["m"].fillna(0).astype(int))
    table = v.groupby(["pair", "m", "strategy"], as_index=False)["val_nmae"].mean()
    table["rank"] = table.groupby(["pair", "m"])["val_nmae"].rank(method="average")
    summary = table.groupby("strategy").agg(
        mean_rank=("rank", "mean"),
        wins=("rank", lambda r: int((r == 1).sum())),
        cells=("rank", "size"),
        mean_val_nmae=("val_nmae", "mean"),
    )
    default = str(summary.sort_values(["mean_rank", "mean_val_nmae"]).index[0])
    return StrategyChoice(table=table, default=default, summary=summary)
