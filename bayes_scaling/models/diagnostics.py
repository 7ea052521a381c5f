"""Convergence report: divergences, R-hat and ESS of every curve's D, alpha and C."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

#: Largest acceptable rank-normalised split R-hat.
MAX_RHAT: float = 1.01
#: Smallest acceptable bulk and tail effective sample size.
MIN_ESS: float = 400.0
#: Largest acceptable number of divergent transitions.
MAX_DIVERGENCES: int = 0


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics miss the thresholds: do not trust the posterior yet."""


@dataclass(frozen=True)
class ConvergenceReport:
    """Sampler diagnostics with pass/fail against fixed thresholds.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (parameter, curve): ``r_hat``, ``ess_bulk``, ``ess_tail``, ``ok``.
    divergences : int
        Divergent transitions after warm-up (all chains).
    n_draws : int
        Posterior draws (all chains).
    max_rhat, min_ess, max_divergences : float
        Thresholds used.
    note : str
        What the fit did besides sampling once (e.g. a refit at a higher
        ``target_accept`` after divergences); empty if nothing.

    """

    table: pd.DataFrame
    divergences: int
    n_draws: int
    max_rhat: float = MAX_RHAT
    min_ess: float = MIN_ESS
    max_divergences: int = MAX_DIVERGENCES
    note: str = ""

    @property
    def ok(self) -> bool:
        """Whether every threshold is met."""
        return bool(self.divergences <= self.max_divergences and self.table["ok"].all())

    @property
    def worst_rhat(self) -> float:
        """Largest R-hat in the table."""
        return float(self.table["r_hat"].max())

    @property
    def min_ess_bulk(self) -> float:
        """Smallest bulk ESS in the table."""
        return float(self.table["ess_bulk"].min())

    @property
    def min_ess_tail(self) -> float:
        """Smallest tail ESS in the table."""
        return float(self.table["ess_tail"].min())

    @property
    def message(self) -> str:
        """One paragraph stating what passed and what failed."""
        head = (
            f"{self.divergences} divergences, max R-hat {self.worst_rhat:.3f}, "
            f"min bulk ESS {self.min_ess_bulk:.0f}, min tail ESS {self.min_ess_tail:.0f} "
            f"({self.n_draws} draws)"
        )
        if self.note:
            head = f"{head}; {self.note}"
        if self.ok:
            return f"Sampler converged: {head}."
        problems = []
        if self.divergences > self.max_divergences:
            problems.append(
                f"{self.divergences} divergent transitions (allowed {self.max_divergences})"
            )
        bad_r = self.table[self.table["r_hat"] > self.max_rhat]
        if len(bad_r):
            problems.append(f"R-hat > {self.max_rhat} for {_names(bad_r)}")
        bad_e = self.table[
            (self.table["ess_bulk"] < self.min_ess) | (self.table["ess_tail"] < self.min_ess)
        ]
        if len(bad_e):
            problems.append(f"bulk or tail ESS < {self.min_ess:.0f} for {_names(bad_e)}")
        return (
            f"SAMPLER DID NOT CONVERGE: {'; '.join(problems)}. Overall: {head}. Do not use "
            "these results for decisions: run more draws/tune, raise target_accept, or "
            "simplify the grouping."
        )

    def warn(self, stacklevel: int = 2) -> None:
        """Issue a :class:`ConvergenceWarning` if any threshold fails."""
        if not self.ok:
            warnings.warn(self.message, ConvergenceWarning, stacklevel=stacklevel + 1)

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_idata(
        cls,
        idata: xr.DataTree,
        var_names: Sequence[str] = ("D", "alpha", "C"),
        *,
        max_rhat: float = MAX_RHAT,
        min_ess: float = MIN_ESS,
        max_divergences: int = MAX_DIVERGENCES,
    ) -> ConvergenceReport:
        """Compute the report from a DataTree with ``posterior`` and ``sample_stats``."""
        post = idata["posterior"].to_dataset()
        names = [v for v in var_names if v in post.data_vars]
        ds = post[names]
        # constant draws (e.g. C of a no-gap law) have undefined diagnostics: skip them
        keep = [v for v in names if float(ds[v].std()) > 0]
        ds = ds[keep]
        rows = []
        if keep:
            r = az.rhat(ds)
            eb = az.ess(ds, method="bulk")
            et = az.ess(ds, method="tail")
            for v in keep:
                other = [d for d in ds[v].dims if d not in ("chain", "draw")]
                rv = r[v].to_series() if other else pd.Series([float(r[v])], index=[""])
                ebv = eb[v].to_series() if other else pd.Series([float(eb[v])], index=[""])
                etv = et[v].to_series() if other else pd.Series([float(et[v])], index=[""])
                for key in rv.index:
                    rows.append(
                        {
                            "parameter": v,
                            "curve": key if not isinstance(key, tuple) else "|".join(map(str, key)),
                            "r_hat": float(rv[key]),
                            "ess_bulk": float(ebv[key]),
                            "ess_tail": float(etv[key]),
                        }
                    )
        table = pd.DataFrame(rows, columns=["parameter", "curve", "r_hat", "ess_bulk", "ess_tail"])
        table["ok"] = (
            (table["r_hat"] <= max_rhat)
            & (table["ess_bulk"] >= min_ess)
            & (table["ess_tail"] >= min_ess)
        )
        stats = idata["sample_stats"].to_dataset() if "sample_stats" in idata.children else None
        div = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
        n_draws = int(post.sizes["chain"] * post.sizes["draw"])
        note = str(idata.attrs.get("sampling_note", ""))
        return cls(table, div, n_draws, max_rhat, min_ess, max_divergences, note)


def _names(rows: pd.DataFrame, limit: int = 6) -> str:
    items = [f"{p}[{c}]" if c else p for p, c in zip(rows["parameter"], rows["curve"], strict=True)]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def max_tree_depth_fraction(idata: xr.DataTree, max_depth: int = 10) -> float:
    """Fraction of draws that hit the maximum tree depth (nutpie/PyMC stats)."""
    stats = idata["sample_stats"].to_dataset()
    if "maxdepth_reached" in stats:
        return float(np.mean(stats["maxdepth_reached"].values))
    if "reached_max_treedepth" in stats:
        return float(np.mean(stats["reached_max_treedepth"].values))
    if "tree_depth" in stats:
        return float(np.mean(stats["tree_depth"].values >= max_depth))
    return float("nan")
