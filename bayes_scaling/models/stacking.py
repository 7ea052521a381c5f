"""Several law shapes, averaged by Bayesian stacking: decisions that do not bet on one law.

Learning curves do not all follow the power law with a gap: curves of models trained from
scratch at small sizes are flat and then **steepen** on log-log axes, others saturate early
or break. :class:`LawStack` fits one :class:`~bayes_scaling.models.ScalingLawModel` per law
shape (by default :data:`DEFAULT_STACK_LAWS`: ``power_gap``, ``power``, ``broken_power``
and the steepening ``mmf``; :mod:`bayes_scaling.models.laws`) to the same curves and weighs
them by **Bayesian stacking** of their leave-one-point-out predictive densities (Yao et
al. 2018, ``arviz.compare(method="stacking")``): the weights maximise the leave-one-out
log score of the mixture, so shapes that predict held-out points equally well share the
weight and a shape nobody needs gets none.

The weights are computed **per curve kind** (transfer / scratch; the points of that kind's
curves), because the two kinds differ in shape systematically, and for all curves together
(``"all"``, used for curves of a kind not seen). A law whose fit did not converge
(:class:`~bayes_scaling.models.diagnostics.ConvergenceReport` over every sampled
parameter) is left out of the stack, loudly, with the parameter named; decisions are made
from the stack only when at least one law converged.

The stacked posterior (:meth:`LawStack.curve_posterior`) is a mixture of the laws'
(calibrated) curve posteriors: each posterior sample slot takes, per kind, one law drawn
in proportion to the weights (largest-remainder counts, so the mixture holds the weights
exactly up to one draw) and that law's draw at a shared random index, so draws stay joint
across curves of the same law. Every decision reads it unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.exceptions import BayesScalingError, NotFittedError
from bayes_scaling.models._draws import prediction_table
from bayes_scaling.models.comparison import check_same_curves, fit_laws
from bayes_scaling.models.diagnostics import ConvergenceWarning
from bayes_scaling.models.extrapolation import curve_kinds
from bayes_scaling.models.hierarchical import ScalingLawModel
from bayes_scaling.models.laws import get_law
from bayes_scaling.models.posterior import (
    FIT_PARAMS,
    INSIDE,
    INSIDE_GRID,
    PARAMS,
    CurvePosterior,
    Scale,
)
from bayes_scaling.models.predict import Kind

#: Law shapes stacked by default: the paper's law, no gap, a break, and one that steepens.
DEFAULT_STACK_LAWS: tuple[str, ...] = ("power_gap", "power", "broken_power", "mmf")
#: Weights below this are reported as 0 in :meth:`LawStack.sentence`.
NEGLIGIBLE_WEIGHT: float = 0.005


def _loo_of_points(model: ScalingLawModel, points: np.ndarray) -> Any:
    """PSIS-LOO of ``model`` on a subset of its ``(curve, n)`` points."""
    import arviz as az

    ll = model.idata_["log_likelihood"].to_dataset()[["log_error"]].isel(point=points)
    tree = xr.DataTree.from_dict(
        {"posterior": model.idata_["posterior"].to_dataset()[["log_sigma"]], "log_likelihood": ll}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pareto-k: in compare's "warning" column
        return az.loo(tree, var_name="log_error")


def stacking_weights(
    models: Mapping[str, ScalingLawModel], *, by_kind: bool = True
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Stacking weights of fitted laws, for all points and per curve kind.

    Parameters
    ----------
    models : mapping of str to ScalingLawModel
        Fitted models of the same curves (same data hash), keyed by law name.
    by_kind : bool
        Also weigh the laws on each curve kind's points separately.

    Returns
    -------
    weights : pandas.DataFrame
        Index law, one column per kind (``"all"`` first); columns sum to 1.
    comparisons : dict of str to pandas.DataFrame
        ``arviz.compare`` table (method ``"stacking"``) per column of ``weights``.

    """
    import arviz as az

    if not models:
        raise BayesScalingError("stacking_weights needs at least one fitted model.")
    check_same_curves(models)
    first = next(iter(models.values()))
    point_kind = curve_kinds(first.curves_)[first.data_.point_curve]
    groups = {"all": np.arange(point_kind.size)}
    if by_kind:
        for kind in dict.fromkeys(point_kind):
            groups[str(kind)] = np.flatnonzero(point_kind == kind)
    names = list(models)
    weights = pd.DataFrame(index=pd.Index(names, name="law"), dtype=float)
    comparisons: dict[str, pd.DataFrame] = {}
    for key, points in groups.items():
        if len(names) == 1:
            weights[key] = 1.0
            continue
        loos = {name: _loo_of_points(m, points) for name, m in models.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pareto-k notes: in the table
            table = az.compare(loos, method="stacking", round_to="none")
        comparisons[key] = table
        w = table["weight"].reindex(names).fillna(0.0).clip(lower=0.0)
        weights[key] = w / w.sum()
    return weights, comparisons


@dataclass(frozen=True)
class StackConvergence:
    """Convergence of a :class:`LawStack`: every law's fit, and which ones were left out.

    Attributes
    ----------
    ok : bool
        At least one law converged (the stack decides from converged laws only).
    message : str
        One paragraph: each law's verdict, and loudly which laws were left out and why.
    table : pandas.DataFrame
        The diagnostics of the laws in the stack (each :class:`ConvergenceReport` table,
        ``parameter`` prefixed with ``law:``).

    """

    ok: bool
    message: str
    table: pd.DataFrame


def _short_verdict(name: str, model: ScalingLawModel) -> str:
    """``"mmf (max R-hat 1.011, min ESS 206, 0 divergences; worst: alpha[c1])"``."""
    rep = model.convergence_
    worst = rep.worst(1)
    where = ""
    if len(worst):
        row = worst.iloc[0]
        where = f"; worst: {row['parameter']}" + (f"[{row['curve']}]" if row["curve"] else "")
    return (
        f"{name} (max R-hat {rep.worst_rhat:.3f}, min ESS "
        f"{min(rep.min_ess_bulk, rep.min_ess_tail):.0f}, {rep.divergences} divergences{where})"
    )


def _inside_draws(post: CurvePosterior) -> np.ndarray:
    """``(sample, curve, grid)`` log mean error inside the data (the law's own, or D n^-a + C)."""
    if INSIDE in post.draws:
        return post.draws[INSIDE].values
    n = post.curves["n_max"].to_numpy(dtype=float)[:, None] * np.exp(INSIDE_GRID)[None, :]
    names = FIT_PARAMS if post.calibrated else PARAMS
    D, alpha, C = (post.draws[v].values[..., None] for v in names)
    return np.log(D * n[None] ** (-alpha) + C).astype(np.float32)


def _mix(arrays: list[np.ndarray], law_idx: np.ndarray, draw_idx: np.ndarray) -> np.ndarray:
    """Per ``(slot, curve)``, law ``law_idx``'s draw ``draw_idx[slot]`` (trailing axes kept).

    ``arrays``: one ``(sample, curve, ...)`` array per kept law, at least as many samples as
    ``draw_idx`` addresses.
    """
    S = draw_idx.size
    stacked = np.stack([a[:S] for a in arrays])  # law, sample, curve, ...
    return stacked[law_idx, draw_idx[:, None], np.arange(law_idx.shape[1])[None, :]]


def _counts(weights: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder integer counts summing to ``total`` in proportion to ``weights``."""
    raw = np.asarray(weights, dtype=float) * total
    counts = np.floor(raw).astype(int)
    short = total - int(counts.sum())
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


class LawStack:
    """Several law shapes fitted to the same curves, combined by Bayesian stacking.

    Parameters
    ----------
    laws : sequence of str
        Law names (:data:`~bayes_scaling.models.laws.LAWS`); default
        :data:`DEFAULT_STACK_LAWS`.
    by_kind : bool
        Weigh the laws separately for each curve kind (default ``True``).
    require_convergence : bool
        Leave out laws whose fit did not converge (default ``True``; ``False`` only for
        exploring short runs: their weights and mixture are then not for decisions).
    random_seed : int
        Seed of the mixture's draw allocation (and of every law's fit unless
        ``model_kwargs`` sets ``random_seed``).
    **model_kwargs
        Settings shared by every :class:`~bayes_scaling.models.ScalingLawModel` fit
        (``groups``, ``sampler``, ``draws``, ...).

    Attributes
    ----------
    models_ : dict of str to ScalingLawModel
        Every fitted law.
    weights_ : pandas.DataFrame
        Stacking weights (index law, columns ``"all"`` and each kind), over the converged
        laws; a law left out has weight 0.
    comparisons_ : dict of str to pandas.DataFrame
        ``arviz.compare`` tables per column of ``weights_``.
    excluded_ : dict of str to str
        Laws left out of the stack, with the reason (a fit that did not converge).

    Examples
    --------
    >>> stack = LawStack(draws=500).fit(curves)  # doctest: +SKIP
    >>> print(stack.sentence())  # doctest: +SKIP
    >>> plan_all(stack.curve_posterior())  # doctest: +SKIP

    """

    def __init__(
        self,
        laws: Sequence[str] = DEFAULT_STACK_LAWS,
        *,
        by_kind: bool = True,
        require_convergence: bool = True,
        random_seed: int = 0,
        **model_kwargs: Any,
    ) -> None:
        self.laws = tuple(get_law(law).name for law in laws)
        if len(set(self.laws)) != len(self.laws) or not self.laws:
            raise BayesScalingError(f"laws must be distinct law names, got {list(laws)}.")
        self.by_kind = by_kind
        self.require_convergence = require_convergence
        self.random_seed = random_seed
        self.model_kwargs = dict(model_kwargs)

    # ------------------------------------------------------------------ fitting
    def fit(self, curves: pd.DataFrame) -> LawStack:
        """Fit every law to ``curves`` and compute the stacking weights; return ``self``."""
        kwargs = {"random_seed": self.random_seed, **self.model_kwargs}
        return self._stack(fit_laws(curves, self.laws, **kwargs))

    @classmethod
    def from_models(
        cls,
        models: Mapping[str, ScalingLawModel],
        *,
        by_kind: bool = True,
        require_convergence: bool = True,
        random_seed: int = 0,
    ) -> LawStack:
        """Stack already fitted models of the same curves (keyed by any names)."""
        if not models:
            raise BayesScalingError("LawStack.from_models needs at least one fitted model.")
        stack = cls(
            [m.law for m in models.values()],
            by_kind=by_kind,
            require_convergence=require_convergence,
            random_seed=random_seed,
        )
        return stack._stack(dict(models))

    def _stack(self, models: dict[str, ScalingLawModel]) -> LawStack:
        self.models_ = models
        self.excluded_ = {
            name: m.convergence_.message
            for name, m in models.items()
            if self.require_convergence and not m.convergence_.ok
        }
        kept = {name: m for name, m in models.items() if name not in self.excluded_}
        for name, reason in self.excluded_.items():
            warnings.warn(
                f"Law {name!r} left out of the stack: its fit did not converge ({reason}).",
                ConvergenceWarning,
                stacklevel=3,
            )
        if kept:
            w, self.comparisons_ = stacking_weights(kept, by_kind=self.by_kind)
        else:
            w, self.comparisons_ = pd.DataFrame(index=pd.Index([], name="law")), {}
        self.weights_ = w.reindex(list(models)).fillna(0.0)
        self.weights_.index.name = "law"
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError("This LawStack is not fitted yet: call fit() first.")

    @property
    def converged(self) -> bool:
        """Whether at least one law converged (the stack is made of converged laws only)."""
        self._check_fitted()
        return len(self.excluded_) < len(self.models_)

    @property
    def curves_(self) -> pd.DataFrame:
        """One row per fitted curve (shared by every law)."""
        self._check_fitted()
        return next(iter(self.models_.values())).curves_

    @property
    def _kept(self) -> list[str]:
        """The stacked (converged) laws, in order."""
        return [name for name in self.models_ if name not in self.excluded_]

    def _kind_weights(self, kinds: np.ndarray) -> dict[str, np.ndarray]:
        w = self.weights_.loc[self._kept]
        return {
            str(k): w[k if k in w.columns else "all"].to_numpy(dtype=float)
            for k in dict.fromkeys(kinds)
        }

    def _allocation(self, kinds: np.ndarray, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Per slot and kind, the index of a kept law; and a shared random draw per slot."""
        rng = np.random.default_rng(self.random_seed)
        law_of = {}
        for kind, w in self._kind_weights(kinds).items():
            slots = np.repeat(np.arange(w.size), _counts(w, n_samples))
            law_of[kind] = rng.permutation(slots)
        per_curve = np.stack([law_of[str(k)] for k in kinds], axis=1)  # (sample, curve)
        return per_curve, rng.permutation(n_samples)

    # ------------------------------------------------------------------ outputs
    def curve_posterior(
        self, extrapolation: Literal["calibrated", "law"] = "calibrated"
    ) -> CurvePosterior:
        """Return the stacked :class:`CurvePosterior`: the laws' posteriors mixed by weight.

        ``extrapolation`` as in :meth:`ScalingLawModel.curve_posterior` (each law's draws
        are bent beyond ``n_max`` by its own learnt extrapolation spread by default).
        """
        self._check_fitted()
        if not self.converged:
            raise BayesScalingError(
                "No law of the stack converged, so it has no posterior to decide from: "
                + "; ".join(f"{k}: {v}" for k, v in self.excluded_.items())
            )
        posts = [self.models_[n].curve_posterior(extrapolation) for n in self._kept]
        S = min(p.n_samples for p in posts)
        meta = posts[0].curves
        law_idx, draw_idx = self._allocation(curve_kinds(meta), S)
        variables = list(PARAMS) + (list(FIT_PARAMS) if all(p.calibrated for p in posts) else [])
        if all("sigma" in p.draws for p in posts):
            variables.append("sigma")
        out = {
            var: _mix([p.draws[var].values for p in posts], law_idx, draw_idx) for var in variables
        }
        fit = tuple(out[v] for v in FIT_PARAMS) if FIT_PARAMS[0] in out else None
        inside = None
        if any(INSIDE in p.draws for p in posts):  # some law is not D n^-a + C in the data
            inside = _mix([_inside_draws(p) for p in posts], law_idx, draw_idx)
        return CurvePosterior.from_arrays(
            out["D"], out["alpha"], out["C"], meta, sigma=out.get("sigma"), fit=fit,
            inside=inside,
        )  # fmt: skip

    def predict(
        self,
        n: float | Sequence[float] | np.ndarray,
        curves: str | Sequence[str] | None = None,
        *,
        scale: Scale = "normalised",
        kind: Kind = "mean",
        prob: float = CREDIBLE_INTERVAL,
        return_draws: bool = False,
        extrapolation: Literal["calibrated", "law"] = "calibrated",
    ) -> pd.DataFrame | xr.DataArray:
        """Stacked posterior predictive error of fitted curves at sizes ``n``.

        Each law's :meth:`ScalingLawModel.predict` draws, mixed with the same allocation
        as :meth:`curve_posterior`. Arguments as there (fitted curve ids only).
        """
        self._check_fitted()
        if not self.converged:
            raise BayesScalingError("No law of the stack converged: nothing to predict from.")
        names = self._kept
        draws = [
            self.models_[name].predict(
                n, curves, scale=scale, kind=kind, return_draws=True,
                extrapolation=extrapolation,
            )
            for name in names
        ]  # fmt: skip
        S = min(d.sizes["sample"] for d in draws)
        ids = [str(c) for c in draws[0]["curve"].values]
        kinds = curve_kinds(self.curves_.loc[ids])
        law_idx, draw_idx = self._allocation(kinds, S)
        mixed = _mix([d.values for d in draws], law_idx, draw_idx)  # sample, curve, n
        n_arr = draws[0]["n"].values
        if return_draws:
            return xr.DataArray(
                mixed,
                dims=("sample", "curve", "n"),
                coords={"sample": np.arange(S), "curve": ids, "n": n_arr},
                name="error",
                attrs={"scale": scale, "kind": kind},
            )
        return prediction_table(mixed, ids, n_arr, scale=scale, kind=kind, prob=prob)

    @property
    def convergence(self) -> StackConvergence:
        """Convergence of every law's fit over every sampled parameter (and who is left out)."""
        self._check_fitted()
        kept = [name for name in self.models_ if name not in self.excluded_]
        parts = [f"{name}: {self.models_[name].convergence_.message}" for name in kept]
        if self.excluded_:
            left = "; ".join(_short_verdict(name, self.models_[name]) for name in self.excluded_)
            parts.append(
                f"LEFT OUT OF THE STACK because the fit did not converge: {left}."
                + (f" Decisions rest on {', '.join(kept)} only." if kept else "")
            )
        head = f"Law shapes stacked: {', '.join(kept)}" if kept else "No law of the stack converged"
        tables = [
            self.models_[name].convergence_.table.assign(
                parameter=lambda t, n=name: n + ":" + t["parameter"].astype(str)
            )
            for name in kept
        ]
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        return StackConvergence(bool(kept), f"{head}. " + " ".join(parts), table)

    # ------------------------------------------------------------------ reading
    @property
    def table(self) -> pd.DataFrame:
        """Weights per law and kind, with each law's convergence and its LOO ELPD (all)."""
        self._check_fitted()
        out = self.weights_.add_prefix("weight_")
        out["converged"] = [name not in self.excluded_ for name in out.index]
        elpd = self.comparisons_.get("all")
        out["elpd_loo"] = elpd["elpd"].reindex(out.index) if elpd is not None else np.nan
        return out

    def sentence(self) -> str:
        """Which law shapes carry the weight, per kind, in one sentence."""
        self._check_fitted()
        if not self.converged:
            return "No law of the stack converged; the stack makes no decision."

        def part(col: str) -> str:
            w = self.weights_[col].sort_values(ascending=False)
            shown = [f"{law} {v:.2f}" for law, v in w.items() if v >= NEGLIGIBLE_WEIGHT]
            return ", ".join(shown) or "none"

        cols = [c for c in self.weights_.columns if c != "all"] or ["all"]
        parts = [f"{c} curves: {part(c)}" for c in cols]
        text = (
            "Law shapes stacked by leave-one-out predictive density (Bayesian stacking), "
            "weights " + "; ".join(parts) + "."
        )
        if self.excluded_:
            text += " Left out (fit did not converge): " + ", ".join(self.excluded_) + "."
        return text

    def __repr__(self) -> str:
        state = "fitted" if hasattr(self, "models_") else "unfitted"
        return f"LawStack(laws={list(self.laws)}, {state})"
