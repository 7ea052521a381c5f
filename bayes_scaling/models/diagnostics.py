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


def ess_rows(split: np.ndarray) -> np.ndarray:
    """Effective sample size of each element of ``split`` (``(element, chain, draw)``).

    ArviZ's ``_ess`` (Geyer's initial positive and initial monotone sequences on the
    autocorrelations of all chains; Vehtari et al. 2021) for every element at once: one FFT
    of all chains of all elements, then the sequences' truncation, the running minimum of
    the pair sums and the sum in NumPy, where ArviZ loops in Python, element by element and
    lag by lag. The same numbers (tested to rounding), including ArviZ's special cases: a
    constant element has ESS equal to its number of draws, an element with NaN draws has ESS
    NaN. (Like ``_ess``, no check of the number of draws: the callers check it.)
    """
    from scipy.fft import irfft, next_fast_len, rfft

    x = np.asarray(split, dtype=float)
    k, chains, n = x.shape
    out = np.full(k, np.nan)
    if n < 2 or k == 0:
        return out
    flat = x.reshape(k, -1)
    valid = ~np.isnan(flat).any(axis=1)
    const = valid & ((flat.max(axis=1) - flat.min(axis=1)) < np.finfo(float).resolution)
    rows = valid & ~const
    out[const] = chains * n
    if not rows.any():
        return out
    x = x[rows]
    centred = x - x.mean(axis=2, keepdims=True)
    m = next_fast_len(2 * n)
    spectrum = rfft(centred, n=m, axis=2)
    spectrum *= np.conjugate(spectrum)
    acov = irfft(spectrum, n=m, axis=2)[:, :, :n] / n
    mean_var = acov[:, :, 0].mean(axis=1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if chains > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]
        # pair j = (rho[2j], rho[2j + 1]) with rho[0] = 1; ArviZ visits pairs 1 ... J while
        # 2j - 1 < n - 3 and the previous pair's sum is positive
        j_cap = max((n - 3) // 2, 0)  # the last pair visited: 2 j - 1 < n - 3
        pairs = rho[:, 0 : 2 * j_cap + 2].copy()
        pairs[:, 0] = 1.0
        s = pairs[:, 0::2] + pairs[:, 1::2]  # (element, j_cap + 1)
        stop = ~(s > 0.0)
        first = np.where(stop.any(axis=1), stop.argmax(axis=1), j_cap + 1)
        last_pair = np.minimum(first, j_cap)  # J
        monotone = np.minimum.accumulate(s, axis=1)
        summed = np.concatenate([np.zeros((len(s), 1)), np.cumsum(monotone, axis=1)], axis=1)
        idx = np.arange(len(s))
        even = pairs[idx, 2 * last_pair]
        keep = (last_pair == 0) | (even > 0.0) | (s[idx, last_pair] >= 0.0)
        tail_term = np.where(keep, np.where(last_pair == 0, 1.0, even), 0.0)
        tau = -1.0 + 2.0 * summed[idx, last_pair] + tail_term
        total = chains * n
        tau = np.maximum(tau, 1.0 / np.log10(total))
        ess = total / tau
        ess[np.isnan(rho[:, 1])] = np.nan
    out[rows] = ess
    return out


#: Elements per block of :func:`rank_diagnostics`.
RANK_BLOCK: int = 64


def _rhat_rows(split: np.ndarray) -> np.ndarray:
    """ArviZ's ``_rhat`` of each element of ``split`` (``(element, chain, draw)``).

    The potential scale reduction of the given chains, for all elements at once.
    """
    n = split.shape[2]
    within = np.var(split, axis=2, ddof=1).mean(axis=1)
    between = n * np.var(split.mean(axis=2), axis=1, ddof=1)
    # a chain without within-chain variance (a stuck chain): inf/NaN, as ArviZ's
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _split(draws: np.ndarray) -> np.ndarray:
    """ArviZ's split chains, ``(element, 2 chain, draw // 2)``.

    The first and last halves of each chain (the middle draw of an odd number left out).
    """
    half = draws.shape[2] // 2
    return np.concatenate([draws[:, :, :half], draws[:, :, draws.shape[2] - half :]], axis=1)


def rank_diagnostics(
    draws: np.ndarray, tail_prob: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat, bulk ESS and tail ESS of each element of ``draws``.

    ``draws`` is ``(element, chain, draw)``. The same numbers as ``arviz.rhat(method=
    "rank")``, ``arviz.ess(method="bulk")`` and ``arviz.ess(method="tail")`` (Vehtari et
    al. 2021; tested to rounding), for all elements at once: the split chains are
    rank-normalised together, and the ESS of those normalised draws and of the tail
    quantiles' indicators come from :func:`ess_rows`. ArviZ does each element separately
    (the rank normalisation three times), which was most of a fit's convergence report
    (issue 15).

    ``tail_prob``: the tail ESS is the smaller ESS of the indicators of the draws below the
    ``1 - tail_prob`` and ``tail_prob`` quantiles; default ArviZ's, the
    ``stats.ci_prob`` setting (0.89 in ArviZ 1.x), as ``arviz.ess(method="tail")``.
    """
    if tail_prob is None:
        tail_prob = float(az.rcParams["stats.ci_prob"])
    # in blocks of elements: temporaries that stay in the cache are several times faster
    # than one pass over every element's draws at once
    parts = [
        _rank_block(draws[i : i + RANK_BLOCK], tail_prob)
        for i in range(0, draws.shape[0], RANK_BLOCK)
    ]
    if not parts:
        return np.empty(0), np.empty(0), np.empty(0)
    rhat, bulk, tail = (np.concatenate(col) for col in zip(*parts, strict=True))
    return rhat, bulk, tail


def _rank_block(draws: np.ndarray, tail_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`rank_diagnostics` of a block of elements."""
    k, chains, n_draw = draws.shape
    split = _split(draws)
    flat = split.reshape(k, -1)
    z_bulk = _z_scale_rows(flat).reshape(split.shape)
    folded = np.abs(flat - np.median(flat, axis=1, keepdims=True))
    z_tail = _z_scale_rows(folded).reshape(split.shape)
    # tail: indicators of the draws at or below the two quantiles of all (unsplit) draws
    q = np.quantile(draws.reshape(k, -1), sorted((tail_prob, 1.0 - tail_prob)), axis=1)
    below = [_split((draws <= qi[:, None, None]).astype(float)) for qi in q]
    ess = ess_rows(np.concatenate([z_bulk, *below], axis=0)).reshape(3, k)
    r_bulk, r_tail = _rhat_rows(z_bulk), _rhat_rows(z_tail)
    # ArviZ's max(r_bulk, r_tail): r_bulk where r_tail is NaN
    rhat = np.where(np.isnan(r_tail), r_bulk, np.maximum(r_bulk, r_tail))
    tail = np.minimum(ess[1], ess[2])
    # ArviZ's validity checks: NaN draws, fewer than 4 draws (or 2 chains, for R-hat)
    invalid = np.isnan(draws).reshape(k, -1).any(axis=1) | (n_draw < 4)
    rhat[invalid | (chains < 2)] = np.nan
    ess[0][invalid] = np.nan
    tail[invalid] = np.nan
    return rhat, ess[0], tail


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
            r, eb, et = _rank_diagnostics(ds)
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


def _rank_diagnostics(ds: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """:func:`rank_diagnostics` of every element of ``ds``, as three Datasets."""
    stacked = [ds[v].transpose(..., "chain", "draw") for v in ds.data_vars]
    blocks = [da.values.reshape(-1, da.sizes["chain"], da.sizes["draw"]) for da in stacked]
    values = rank_diagnostics(np.concatenate(blocks, axis=0))
    out: tuple[dict, dict, dict] = ({}, {}, {})
    start = 0
    for v, da, block in zip(ds.data_vars, stacked, blocks, strict=True):
        stop = start + block.shape[0]
        template = da.isel(chain=0, draw=0, drop=True)
        for table, column in zip(out, values, strict=True):
            table[v] = template.copy(data=column[start:stop].reshape(template.shape))
        start = stop
    return xr.Dataset(out[0]), xr.Dataset(out[1]), xr.Dataset(out[2])


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
