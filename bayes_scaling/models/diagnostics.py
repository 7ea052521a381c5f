"""Convergence report: divergences, R-hat and ESS of every sampled parameter.

Every variable of the posterior is checked, element by element: the hyper-parameters
(population means, spreads), the group effects, the per-curve latent parameters, the noise
scales and the derived curve parameters (D, alpha, C). A fit whose hyper-parameters mix badly
is not converged even when its curve parameters look fine. The chains' mean log densities
are compared too (:func:`chain_separation`): a chain far below the best one sits in a
separate, minor mode, which the report names.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

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
#: A chain whose mean log density is this many units below the best chain's, and at least
#: :data:`SEPARATION_SE` standard errors of the difference, explores another region than
#: the best chain (:func:`chain_separation`).
SEPARATION_LOGP: float = 10.0
#: See :data:`SEPARATION_LOGP`.
SEPARATION_SE: float = 5.0


def _z_scale_rows(rows: np.ndarray) -> np.ndarray:
    """Rank-normalise each row of ``rows`` (elements x values), as ArviZ's ``_z_scale``.

    Average ranks, Blom's back-transform ``(r - 3/8) / (n + 1/4)`` and the Normal quantile
    function, for every element at once, where ArviZ ranks element by element. Rows
    without ties (continuous draws) are ranked by one ``argsort``; rows with ties or NaN
    by ``scipy.stats.rankdata`` (average ranks), as ArviZ does.
    """
    from scipy import special, stats

    n = rows.shape[1]
    order = np.argsort(rows, axis=1)
    ranks = np.empty(rows.shape)
    np.put_along_axis(ranks, order, np.arange(1.0, n + 1.0)[None, :], axis=1)
    ordered = np.take_along_axis(rows, order, axis=1)
    special_rows = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1)
    if n:  # NaN sorts last
        special_rows |= np.isnan(ordered[:, -1])
    if special_rows.any():
        ranks[special_rows] = stats.rankdata(rows[special_rows], method="average", axis=1)
    return special.ndtri((ranks - 0.375) / (n - 0.75 + 1))


def rank_rhat_and_bulk_ess(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat and bulk ESS of each element of ``draws``.

    ``draws`` is ``(element, chain, draw)``. The same numbers as ``arviz.rhat(method=
    "rank")`` and ``arviz.ess(method="bulk")`` (Vehtari et al. 2021; tested to rounding),
    computed from the split chains rank-normalised for all elements at once; ArviZ's own
    array functions then take R-hat and ESS of those normalised draws. The rank
    normalisation, three times per element in ArviZ, was about half the time of a fit's
    convergence report (issue 15).
    """
    from arviz_stats.base import array_stats

    k, chains, n_draw = draws.shape
    half = n_draw // 2
    split = np.concatenate([draws[:, :, :half], draws[:, :, n_draw - half :]], axis=1)
    flat = split.reshape(k, -1)
    z_bulk = _z_scale_rows(flat).reshape(split.shape)
    folded = np.abs(flat - np.median(flat, axis=1, keepdims=True))
    z_tail = _z_scale_rows(folded).reshape(split.shape)
    # chains without within-chain variance (a stuck chain, a few draws): inf/NaN, quietly,
    # as from ArviZ's own functions on a Dataset
    with np.errstate(divide="ignore", invalid="ignore"):
        rhat = np.maximum(
            array_stats.rhat(z_bulk, method="identity"),
            array_stats.rhat(z_tail, method="identity"),
        )
        return rhat, array_stats.ess(z_bulk, method="identity")


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics miss the thresholds: do not trust the posterior yet."""


@dataclass(frozen=True)
class ConvergenceReport:
    """Sampler diagnostics with pass/fail against fixed thresholds.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per element of every checked posterior variable (``parameter`` is the
        variable, ``curve`` the element's coordinates joined by ``|``, empty for scalars):
        ``r_hat``, ``ess_bulk``, ``ess_tail``, ``ok``.
    divergences : int
        Divergent transitions after warm-up (all chains).
    n_draws : int
        Posterior draws (all chains).
    max_rhat, min_ess, max_divergences : float
        Thresholds used.
    note : str
        What the fit did besides sampling once (e.g. a refit at a higher
        ``target_accept`` after divergences); empty if nothing.
    separated_chains : dict
        Chains whose mean log density lies far below the best chain's (chain index ->
        the gap, in units of log density; :func:`chain_separation`): they sit in another
        region of the posterior, typically a minor mode that holds next to no posterior
        mass. Named in :attr:`message`; empty when none (or no ``logp`` was recorded).

    """

    table: pd.DataFrame
    divergences: int
    n_draws: int
    max_rhat: float = MAX_RHAT
    min_ess: float = MIN_ESS
    max_divergences: int = MAX_DIVERGENCES
    note: str = ""
    separated_chains: dict[int, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every threshold is met."""
        return bool(
            self.divergences <= self.max_divergences
            and self.table["ok"].all()
            and not self.separated_chains
        )

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
    def parameters(self) -> list[str]:
        """Names of the variables that were checked."""
        return list(dict.fromkeys(self.table["parameter"]))

    def worst(self, limit: int = 5) -> pd.DataFrame:
        """Return the ``limit`` elements furthest from the thresholds, worst first.

        Badness is the larger of ``(r_hat - 1) / (max_rhat - 1)`` and
        ``min_ess / min(ess_bulk, ess_tail)``: above 1 means the element fails.
        """
        t = self.table.copy()
        ess = np.minimum(t["ess_bulk"], t["ess_tail"]).clip(lower=1e-12)
        t["badness"] = np.maximum((t["r_hat"] - 1) / (self.max_rhat - 1), self.min_ess / ess)
        return t.sort_values("badness", ascending=False).head(limit).reset_index(drop=True)

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
        bad_r = self.table[self.table["r_hat"] > self.max_rhat].sort_values(
            "r_hat", ascending=False
        )
        if len(bad_r):
            problems.append(f"R-hat > {self.max_rhat} for {_names(bad_r, 'r_hat')}")
        ess = np.minimum(self.table["ess_bulk"], self.table["ess_tail"])
        bad_e = self.table.assign(_ess=ess)[ess < self.min_ess].sort_values("_ess")
        if len(bad_e):
            problems.append(f"bulk or tail ESS < {self.min_ess:.0f} for {_names(bad_e, '_ess')}")
        advice = "run more draws/tune, raise target_accept, or simplify the grouping"
        if self.separated_chains:
            chains = ", ".join(
                f"chain {c} ({gap:.0f} below)" for c, gap in self.separated_chains.items()
            )
            problems.append(
                f"the chains explore different regions: mean log density of {chains} the "
                "best chain's, a separate mode that longer chains do not join"
            )
            advice = "try another random_seed, or simplify the grouping or the law"
        return (
            f"SAMPLER DID NOT CONVERGE: {'; '.join(problems)}. Overall: {head}. Do not use "
            f"these results for decisions: {advice}."
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
        var_names: Sequence[str] | None = None,
        *,
        max_rhat: float = MAX_RHAT,
        min_ess: float = MIN_ESS,
        max_divergences: int = MAX_DIVERGENCES,
        known: ConvergenceReport | None = None,
    ) -> ConvergenceReport:
        """Compute the report from a DataTree with ``posterior`` and ``sample_stats``.

        Parameters
        ----------
        idata : xarray.DataTree
            Fit result with a ``posterior`` group (and ``sample_stats`` for divergences).
        var_names : sequence of str, optional
            Variables to check; default every variable of the posterior (hyper-parameters,
            group effects, latent and derived per-curve parameters, noise). Variables whose
            draws are constant (e.g. C of a no-gap law) have no diagnostics and are skipped.
        max_rhat, min_ess, max_divergences : float
            Thresholds.
        known : ConvergenceReport, optional
            A report on the same draws of some of the variables (the sampler's trace,
            before the derived curve parameters were added): its rows are reused, only the
            other variables are computed. Its thresholds must be the same.

        """
        post = idata["posterior"].to_dataset()
        wanted = list(post.data_vars) if var_names is None else list(var_names)
        names = [v for v in wanted if v in post.data_vars]
        reused = pd.DataFrame()
        if known is not None:
            if (known.max_rhat, known.min_ess) != (max_rhat, min_ess):
                raise ValueError("the known report was computed with other thresholds")
            reused = known.table[known.table["parameter"].isin(names)]
            names = [v for v in names if v not in set(reused["parameter"])]
        ds = post[names]
        # constant draws (C of a no-gap law, the effect of a factor's only level) have
        # undefined diagnostics: skip those elements
        keep = [v for v in names if float(ds[v].std()) > 0]
        ds = ds[keep]
        rows = []
        if keep:
            r, eb = _rank_diagnostics(ds)
            et = az.ess(ds, method="tail")
            spread = ds.std(dim=("chain", "draw"))
            for v in keep:
                other = [d for d in ds[v].dims if d not in ("chain", "draw")]
                rv, ebv, etv, sv = (
                    x[v].to_series() if other else pd.Series([float(x[v])], index=[""])
                    for x in (r, eb, et, spread)
                )
                for key in rv.index:
                    if not float(sv[key]) > 0:
                        continue
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
        if len(reused):  # in the posterior's order of variables
            order = {v: i for i, v in enumerate(wanted)}
            parts = [reused[table.columns]] + ([table] if len(table) else [])
            table = pd.concat(parts, ignore_index=True)
            rank = table["parameter"].map(order)
            table = table.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
        table["ok"] = (
            (table["r_hat"] <= max_rhat)
            & (table["ess_bulk"] >= min_ess)
            & (table["ess_tail"] >= min_ess)
        )
        stats = idata["sample_stats"].to_dataset() if "sample_stats" in idata.children else None
        div = int(stats["diverging"].sum()) if stats is not None and "diverging" in stats else 0
        n_draws = int(post.sizes["chain"] * post.sizes["draw"])
        note = str(idata.attrs.get("sampling_note", ""))
        separated = chain_separation(stats) if stats is not None else {}
        return cls(table, div, n_draws, max_rhat, min_ess, max_divergences, note, separated)


def _rank_diagnostics(ds: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """:func:`rank_rhat_and_bulk_ess` of every element of ``ds``, as two Datasets."""
    stacked = [ds[v].transpose(..., "chain", "draw") for v in ds.data_vars]
    blocks = [da.values.reshape(-1, da.sizes["chain"], da.sizes["draw"]) for da in stacked]
    rhat, ess = rank_rhat_and_bulk_ess(np.concatenate(blocks, axis=0))
    out_r, out_e, start = {}, {}, 0
    for v, da, block in zip(ds.data_vars, stacked, blocks, strict=True):
        stop = start + block.shape[0]
        template = da.isel(chain=0, draw=0, drop=True)
        out_r[v] = template.copy(data=rhat[start:stop].reshape(template.shape))
        out_e[v] = template.copy(data=ess[start:stop].reshape(template.shape))
        start = stop
    return xr.Dataset(out_r), xr.Dataset(out_e)


def chain_logp(stats: xr.Dataset) -> np.ndarray | None:
    """Return the sampler's log density per draw, ``(chain, draw)``; ``None`` if absent.

    nutpie records it as ``logp``, PyMC's NUTS as ``lp``; ``None`` also when a value is not
    finite.
    """
    name = next((v for v in ("logp", "lp") if v in stats), None)
    if name is None:
        return None
    lp = np.asarray(stats[name].transpose("chain", "draw").values, dtype=float)
    return lp if np.isfinite(lp).all() else None


def chain_separation(stats: xr.Dataset) -> dict[int, float]:
    """Chains whose log density lies far below the best chain's: chain -> gap.

    From the sampler's per-draw log density (``logp``, nutpie; ``lp``, PyMC's NUTS): a
    chain is separated when its mean is more than :data:`SEPARATION_LOGP` units below the
    highest chain mean and more than :data:`SEPARATION_SE` standard errors of the
    difference (each chain's standard error from its own ESS). Chains that mix are within
    a unit or two of each other. On the 130 bundled scarce curves one of four chains sat
    35 units below the others (its draws: a minor mode, issue 15). Empty without a log
    density or with one chain.
    """
    lp = chain_logp(stats)
    if lp is None or lp.shape[0] < 2:
        return {}
    from arviz_stats.base import array_stats

    means = lp.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # each chain's own bulk ESS
        ess = np.asarray(array_stats.ess(lp[:, None, :], method="bulk"), dtype=float)
    se2 = lp.var(axis=1, ddof=1) / np.clip(ess, 1.0, None)
    best = int(np.argmax(means))
    out = {}
    for c in range(lp.shape[0]):
        gap = float(means[best] - means[c])
        if gap > SEPARATION_LOGP and gap > SEPARATION_SE * np.sqrt(se2[best] + se2[c]):
            out[c] = gap
    return out


def _name(parameter: str, element: str) -> str:
    return f"{parameter}[{element}]" if element else parameter


def _names(rows: pd.DataFrame, value: str, limit: int = 6) -> str:
    """``limit`` offenders (rows already sorted worst first) with their value."""
    fmt = "{:.3f}" if value == "r_hat" else "{:.0f}"
    items = [
        f"{_name(p, c)} ({fmt.format(v)})"
        for p, c, v in zip(rows["parameter"], rows["curve"], rows[value], strict=True)
    ]
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
