"""Simulations versus experiments: decisions from the (n, m) error surface.

Every function takes a :class:`~bayes_scaling.models.surface.SurfacePosterior`
(``SurfaceModel.surface_posterior()``) and returns a :class:`~bayes_scaling.decisions.Decision`
(a table plus one sentence on the pinned 90 % credible interval):

:func:`exchange_rate`
    How many extra experiments Δm give the same error as Δn extra simulations, and the
    exchange rate Δn / Δm (simulations per experiment), plus the marginal rate.
:func:`scratch_equivalent`
    m_eq: experiments a model trained from scratch needs to match the transfer model at
    (n, m) — what the simulation database is "worth" in experiments.
:func:`cheapest_plan`
    Given a cost per simulation and per experiment, the cheapest (Δn, Δm) that reaches a
    target error with probability q, next to the all-simulation and all-experiment plans.
:func:`surface_form_evidence`
    Which functional form the data prefer (ArviZ LOO), with the ELPD difference and its SE.

:func:`surface_grid` computes the posterior surface on a grid for
:func:`bayes_scaling.plotting.plot_error_surface` (compute, then plot).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.curves import NORMALISED_METRICS
from bayes_scaling.decisions import (
    Decision,
    check_positive,
    check_probability,
    format_interval,
    format_number,
    format_probability,
    interval_probs,
    quantiles,
    sig_to_show_difference,
    smallest_with_probability,
    summarise,
)
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.surface import (
    SurfaceModel,
    SurfacePosterior,
    compare_surface_forms,
    surface_loos,
)

#: Default probability of reaching a target in :func:`cheapest_plan`.
DEFAULT_PLAN_PROBABILITY = 0.8
#: Points of the Δn search grid of :func:`cheapest_plan` (geometric, plus Δn = 0).
PLAN_GRID_POINTS = 400


def _start(
    sp: SurfacePosterior, task: str, n: float | None, m: float | None
) -> tuple[float, float]:
    n0, m0 = sp.current(task)
    n = n0 if n is None else float(n)
    m = m0 if m is None else float(m)
    if n < 0 or not math.isfinite(n):
        raise BayesScalingError(f"n must be a finite number >= 0, got {n}.")
    check_positive(m, name="m")
    return n, m


def _label(sp: SurfacePosterior, task: str) -> str:
    prop, db, *rest = task.split("|")
    return f"{prop} ({db})"


def _err_words(sp: SurfacePosterior, task: str, value: float, scale: str) -> str:
    """Describe an error: ``"an MAE of 0.17 g/cm³"`` (normalised: in target sds)."""
    metric = sp.data.metric.upper()
    if scale == "original":
        metric = metric[1:] if sp.data.metric.lower() in NORMALISED_METRICS else metric
        unit = sp.unit(task)
        if unit.lower() in ("dimensionless", "-", "1", "none"):
            unit = ""
    else:
        unit = "target standard deviations"
    article = "an" if metric[:1] in "AEFHILMNORSX" else "a"
    return f"{article} {metric} of {format_number(value, sig=2)} {unit}".strip()


# --------------------------------------------------------------------------- exchange rate
class ExchangeDecision(Decision):
    """Experiments equivalent to extra simulations, and the exchange rate.

    Table, one row per Δn: ``task, n, m, dn, dm_median, dm_lower, dm_upper`` (Δm with
    ``error(n, m + Δm) = error(n + Δn, m)``; ``inf``: no number of experiments at n matches),
    ``rate_median, rate_lower, rate_upper`` (Δn / Δm, simulations per experiment),
    ``marginal_rate_median`` (at the current point: (∂e/∂m) / (∂e/∂n)), ``p_never``.
    """

    title = "Simulations versus experiments: exchange rate"
    section = "surface"


def exchange_rate(
    sp: SurfacePosterior,
    task: str,
    *,
    dn: float | Sequence[float] = (1_000, 10_000, 100_000),
    n: float | None = None,
    m: float | None = None,
) -> ExchangeDecision:
    """Posterior of Δm equivalent to Δn extra simulations at (n, m), and of Δn / Δm.

    Parameters
    ----------
    sp : SurfacePosterior
        Fitted surface.
    task : str
        Task id (``property|database[|strategy]``).
    dn : float or sequence of float
        Extra simulations (> 0).
    n, m : float, optional
        Current simulation and experiment sizes (default: the task's largest observed).

    """
    n, m = _start(sp, task, n, m)
    dns = np.atleast_1d(np.asarray(dn, float))
    for v in dns:
        check_positive(v, name="dn")
    dm = np.stack([sp.extra_experiments(task, n, m, float(v)) for v in dns], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(dm > 0, dns[None, :] / dm, np.inf)
    marginal = sp.marginal_rate(task, n, m)
    table = pd.DataFrame(
        {
            "task": task,
            "n": n,
            "m": m,
            "dn": dns,
            **summarise(dm, "dm"),
            **summarise(rate, "rate"),
            "marginal_rate_median": float(quantiles(marginal, 0.5)),
            "p_never": np.isinf(dm).mean(axis=0),
        }
    )
    parts = []
    for _, row in table.iterrows():
        if row["p_never"] >= 0.5:
            parts.append(
                f"{format_number(row['dn'], sig=3)} more simulations lower the error below "
                f"anything more experiments reach at n = {format_number(n, sig=3)} "
                f"(P {format_probability(row['p_never'])})"
            )
        else:
            parts.append(
                f"{format_number(row['dn'], sig=3)} more simulations are worth "
                f"{format_number(row['dm_median'])} more experiments "
                f"({format_interval(row['dm_lower'], row['dm_upper'])}), about "
                f"{format_number(row['rate_median'])} simulations per experiment"
            )
    sentence = (
        f"For {_label(sp, task)} at n = {format_number(n, sig=3)} simulations and "
        f"m = {format_number(m, sig=3)} experiments: " + "; ".join(parts) + "."
        f" At the margin one experiment is worth about "
        f"{format_number(table['marginal_rate_median'].iloc[0])} simulations."
    )
    return ExchangeDecision(table, sentence)


# --------------------------------------------------------------------------- m_eq
class SurfaceEquivalentDecision(Decision):
    """Experiments a from-scratch model needs to match the transfer model at (n, m).

    Table, one row per n: ``task, n, m, m_eq_median, m_eq_lower, m_eq_upper`` (``inf``:
    scratch never matches), ``worth_median, worth_lower, worth_upper`` (``m_eq − m``: what the
    n simulations are worth in experiments) and ``p_beats_scratch`` (``P(m_eq = inf)``).
    """

    title = "What the simulations are worth in experiments"
    section = "surface"


def scratch_equivalent(
    sp: SurfacePosterior,
    task: str,
    *,
    n: float | Sequence[float] | None = None,
    m: float | None = None,
) -> SurfaceEquivalentDecision:
    """Posterior of m_eq(n, m): scratch experiments matching transfer with n sims and m exps."""
    n0, m = _start(sp, task, None, m)
    ns = np.atleast_1d(np.asarray(n0 if n is None else n, float))
    for v in ns:
        if v < 0 or not math.isfinite(v):
            raise BayesScalingError(f"n must be finite and >= 0, got {v}.")
    meq = np.stack([sp.equivalent_scratch_experiments(task, float(v), m) for v in ns], axis=1)
    worth = meq - m
    worth = np.where(np.abs(worth) < 1e-6 * m, 0.0, worth)  # bisection round-off at n = 0
    table = pd.DataFrame(
        {
            "task": task,
            "n": ns,
            "m": m,
            **summarise(meq, "m_eq"),
            **summarise(worth, "worth"),
            "p_beats_scratch": np.isinf(meq).mean(axis=0),
        }
    )
    parts = []
    for _, row in table.iterrows():
        if row["p_beats_scratch"] >= 0.5:
            parts.append(
                f"with {format_number(row['n'], sig=3)} simulations it beats a scratch model "
                "trained on any number of experiments "
                f"(P {format_probability(row['p_beats_scratch'])})"
            )
        else:  # m_eq precise enough that m_eq - m (m shown at 3 figures) reads as the worth
            s = sig_to_show_difference(row["m_eq_median"], row["worth_median"])
            parts.append(
                f"with {format_number(row['n'], sig=3)} simulations it matches a scratch model "
                f"trained on {format_number(row['m_eq_median'], sig=s)} experiments "
                f"({format_interval(row['m_eq_lower'], row['m_eq_upper'], sig=s)}), so the "
                f"simulations are worth {format_number(row['worth_median'])} experiments"
            )
    sentence = (
        f"The transfer model for {_label(sp, task)} trained on m = {format_number(m, sig=3)} "
        "experiments: " + "; ".join(parts) + "."
    )
    return SurfaceEquivalentDecision(table, sentence)


# --------------------------------------------------------------------------- cheapest plan
@dataclass(frozen=True, eq=False, kw_only=True)
class CheapestPlanDecision(Decision):
    """The cheapest (Δn, Δm) reaching a target error with probability q.

    Table: three rows, ``plan`` in ``cheapest``, ``simulations only``,
    ``experiments only``: ``dn, dm, cost, prob`` (achieved ``P(error <= target)``),
    ``error_median, error_lower, error_upper`` at the planned point, ``feasible`` (False:
    no plan of that kind within the limits reaches the target with probability q; its
    ``dn``/``dm``/``cost`` are then ``inf``).
    Attribute ``frontier``: the cost-minimising Δm for every Δn of the search grid.
    """

    frontier: pd.DataFrame
    title = "Cheapest plan: simulations and experiments"
    section = "surface"


def _required_dm(
    sp: SurfacePosterior, task: str, n: float, m: float, target: float, prob: float, dm_max: float
) -> float:
    need = sp.solve_m(task, n, np.full(sp.n_draws, target), m_max=m + dm_max + 1) - m
    q = float(smallest_with_probability(np.maximum(need, 0.0), prob))
    if not math.isfinite(q) or q > dm_max:
        return math.inf
    return float(math.ceil(q - 1e-9))


def cheapest_plan(
    sp: SurfacePosterior,
    task: str,
    target: float,
    *,
    cost_simulation: float,
    cost_experiment: float,
    prob: float = DEFAULT_PLAN_PROBABILITY,
    n: float | None = None,
    m: float | None = None,
    max_simulations: float = 1e8,
    max_experiments: float = 1e6,
    scale: str = "original",
) -> CheapestPlanDecision:
    """Find the cheapest (Δn, Δm) with ``P(error(n + Δn, m + Δm) <= target) >= prob``.

    For every Δn of a grid (0 and :data:`PLAN_GRID_POINTS` geometric values up to
    ``max_simulations``) the smallest Δm meeting the probability is the ``prob``-quantile of
    the per-draw Δm that reaches the target (the error falls with m in every draw); the plan
    minimises ``cost_simulation · Δn + cost_experiment · Δm``. The all-simulation plan solves
    for Δn at Δm = 0 the same way.

    Parameters
    ----------
    sp : SurfacePosterior
        Fitted surface.
    task : str
        Task id.
    target : float
        Target error (> 0) on ``scale``.
    cost_simulation, cost_experiment : float
        Cost of one more simulation / experiment (> 0, any currency or hours).
    prob : float
        Required probability q of reaching the target.
    n, m : float, optional
        Starting point (default: the task's largest observed n and m).
    max_simulations, max_experiments : float
        Largest Δn / Δm considered (e.g. the experiments that can be made at all).
    scale : {"original", "normalised"}
        Scale of ``target``.

    """
    n, m = _start(sp, task, n, m)
    check_positive(target, name="target")
    cs = check_positive(cost_simulation, name="cost_simulation")
    ce = check_positive(cost_experiment, name="cost_experiment")
    prob = check_probability(prob, name="prob")
    check_positive(max_simulations, name="max_simulations")
    check_positive(max_experiments, name="max_experiments")
    if scale not in ("original", "normalised"):
        raise BayesScalingError(f"scale must be 'original' or 'normalised', got {scale!r}.")
    goal = target / sp.scale_factor(task) if scale == "original" else float(target)

    dn_grid = np.concatenate(
        [[0.0], np.unique(np.ceil(np.geomspace(1, max_simulations, PLAN_GRID_POINTS)))]
    )
    dm_grid = np.array(
        [_required_dm(sp, task, n + v, m, goal, prob, max_experiments) for v in dn_grid]
    )
    cost = cs * dn_grid + ce * dm_grid
    frontier = pd.DataFrame({"dn": dn_grid, "dm": dm_grid, "cost": cost})

    # all simulations: smallest Δn with P >= prob at Δm = 0
    need_n = sp.solve_n(task, m, np.full(sp.n_draws, goal), n_max=n + max_simulations + 1) - n
    dn_sim = float(smallest_with_probability(np.maximum(need_n, 0.0), prob))
    dn_sim = (
        math.ceil(dn_sim - 1e-9)
        if math.isfinite(dn_sim) and dn_sim <= max_simulations
        else math.inf
    )

    best = int(np.argmin(cost)) if np.isfinite(cost).any() else None
    plans = {
        "cheapest": (dn_grid[best], dm_grid[best]) if best is not None else (math.inf, math.inf),
        "simulations only": (float(dn_sim), 0.0 if math.isfinite(dn_sim) else math.inf),
        "experiments only": (0.0, dm_grid[0]),
    }
    # the all-simulation plan can undercut the grid's cheapest point (exact Δn)
    if math.isfinite(dn_sim) and cs * dn_sim < (cost[best] if best is not None else math.inf):
        plans["cheapest"] = plans["simulations only"]
    lo, hi = interval_probs(CREDIBLE_INTERVAL)
    rows = []
    factor = sp.scale_factor(task) if scale == "original" else 1.0
    for name, (a, b) in plans.items():
        feasible = math.isfinite(a) and math.isfinite(b)
        if feasible:
            e = sp.error_per_draw(task, np.full(sp.n_draws, n + a), np.full(sp.n_draws, m + b))
            q = quantiles(e * factor, np.array([0.5, lo, hi]))
            p_hit = float((e <= goal).mean())
        else:
            q, p_hit = np.full(3, np.nan), float("nan")
        rows.append(
            {
                "task": task,
                "plan": name,
                "dn": a,
                "dm": b,
                "cost": cs * a + ce * b if feasible else math.inf,
                "prob": p_hit,
                "error_median": q[0],
                "error_lower": q[1],
                "error_upper": q[2],
                "feasible": feasible,
            }
        )
    table = pd.DataFrame(rows)
    decision = CheapestPlanDecision(
        table, _plan_sentence(sp, task, table, target, prob, n, m, scale), frontier=frontier
    )
    return decision


def _plan_sentence(
    sp: SurfacePosterior,
    task: str,
    table: pd.DataFrame,
    target: float,
    prob: float,
    n: float,
    m: float,
    scale: str,
) -> str:
    best, sim, exp = (table.iloc[i] for i in range(3))
    head = (
        f"To reach {_err_words(sp, task, target, scale)} for {_label(sp, task)} with "
        f"probability {format_number(prob)} from n = {format_number(n, sig=3)} simulations and "
        f"m = {format_number(m, sig=3)} experiments"
    )
    if not best["feasible"]:
        return (
            head + ": no plan within the limits reaches it (the target is below the floor "
            "the surface allows, or needs more than max_simulations / max_experiments)."
        )
    body = (
        f", the cheapest plan is {format_number(best['dn'], sig=3)} more simulations and "
        f"{format_number(best['dm'], sig=3)} more experiments (cost "
        f"{format_number(best['cost'], sig=3)}; error then "
        f"{format_interval(best['error_lower'], best['error_upper'])})"
    )
    alts = []
    for row, what in ((sim, "simulations alone"), (exp, "experiments alone")):
        if row["feasible"]:
            alts.append(f"{what} would cost {format_number(row['cost'], sig=3)}")
        else:
            alts.append(f"{what} cannot reach it within the limits")
    return head + body + "; " + " and ".join(alts) + "."


# --------------------------------------------------------------------------- form evidence
class SurfaceFormDecision(Decision):
    """LOO comparison of surface forms: ``form, rank, elpd, se, elpd_diff, dse, weight``."""

    title = "Which surface form do the data prefer?"
    section = "surface"


def surface_form_evidence(models: Mapping[str, SurfaceModel]) -> SurfaceFormDecision:
    """Compare fitted surfaces (same table) with PSIS-LOO; say which form wins and by how much.

    The table adds ``high_pareto_k``: observations whose Pareto k exceeds ArviZ's
    ``good_k`` threshold (their LOO estimate is unreliable); the sentence says so when any.
    """
    loos = surface_loos(models)  # once: the comparison and the Pareto-k counts share it
    cmp = compare_surface_forms(models, loos=loos)
    cols = [c for c in ("rank", "elpd", "se", "elpd_diff", "dse", "weight") if c in cmp.columns]
    table = cmp[cols].reset_index()
    table = table.rename(columns={table.columns[0]: "form"})
    high = {
        form: int((np.asarray(loo.pareto_k) > float(loo.good_k)).sum())
        for form, loo in loos.items()
    }
    table["high_pareto_k"] = table["form"].map(high)
    best, second = table.iloc[0], table.iloc[1]
    diff, dse = float(-second["elpd_diff"]), float(second["dse"])
    strength = "clearly" if diff > 2 * dse else "only weakly (within two standard errors)"
    sentence = (
        f"The data {strength} prefer the {best['form']} form: its expected log predictive "
        f"density (PSIS-LOO) is higher than the {second['form']} form's by "
        f"{format_number(diff, sig=2)} (standard error of the difference "
        f"{format_number(dse, sig=2)})."
    )
    flagged = [f"{f} {k}" for f, k in high.items() if k]
    if flagged:
        n_obs = models[str(best["form"])].data_.n_obs
        sentence += (
            f" LOO is unreliable for a few of the {n_obs} observations (Pareto k above the "
            f"threshold: {', '.join(flagged)})."
        )
    return SurfaceFormDecision(table, sentence)


# --------------------------------------------------------------------------- grid for plots
@dataclass(frozen=True)
class SurfaceGrid:
    """The posterior surface of one task on a grid (input of ``plot_error_surface``).

    ``median``, ``lower``, ``upper`` have shape ``(len(m), len(n))``; ``observed`` holds the
    task's fitted (n, m) design points; errors are on ``scale``.
    """

    task: str
    n: np.ndarray
    m: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    observed: pd.DataFrame
    scale: str
    unit: str
    interval: float = CREDIBLE_INTERVAL


def surface_grid(
    sp: SurfacePosterior,
    task: str,
    *,
    n: Sequence[float] | None = None,
    m: Sequence[float] | None = None,
    points: int = 40,
    scale: str = "original",
    max_draws: int = 1000,
) -> SurfaceGrid:
    """Posterior median and interval of error(n, m) on a log grid spanning the data ×/÷ 4.

    Uses at most ``max_draws`` evenly thinned posterior draws (quantiles of a smooth surface
    need no more; the full set costs seconds per grid).
    """
    rows = sp.data.task_rows(task)
    if n is None:
        n = np.geomspace(max(rows["n"].min() / 4, 1.0), rows["n"].max() * 4, points)
    if m is None:
        m = np.geomspace(max(rows["m_used"].min() / 4, 1.0), rows["m_used"].max() * 4, points)
    n_arr, m_arr = np.asarray(n, float), np.asarray(m, float)
    draws = sp.thin(max_draws).error(task, n_arr[None, :], m_arr[:, None], scale=scale)
    lo, hi = interval_probs(CREDIBLE_INTERVAL)
    q = quantiles(draws, np.array([0.5, lo, hi]))
    observed = (
        rows.groupby(["n", "m_used"])["error"].size().rename("seeds").reset_index()
        .rename(columns={"m_used": "m"})
    )  # fmt: skip
    return SurfaceGrid(
        task=task,
        n=n_arr,
        m=m_arr,
        median=q[0],
        lower=q[1],
        upper=q[2],
        observed=observed,
        scale=scale,
        unit=sp.unit(task) if scale == "original" else "",
    )
