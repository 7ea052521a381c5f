"""The hierarchical Bayesian scaling-law estimator: :class:`ScalingLawModel`.

This module holds the estimator only: its settings and their checks, the orchestration of
:meth:`ScalingLawModel.fit` and the fitted-state accessors. The model itself is written out
in :mod:`bayes_scaling.models.graph`; data preparation (``_data``), centring weights
(``centring``), the sampling policy (``sampling_policy``), the fit's DataTree
(``assemble``), prediction (``predict``), summary tables (``posterior_tables``) and
persistence (``persistence``) each live in their own module (see
:mod:`bayes_scaling.models`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._data import CurveData, prepare
from bayes_scaling.models._draws import flat_curve
from bayes_scaling.models._fitted import FittedState
from bayes_scaling.models.assemble import assemble_idata, derived
from bayes_scaling.models.centring import MIN_RESIDUAL_DOF, centring_weights
from bayes_scaling.models.diagnostics import ConvergenceReport
from bayes_scaling.models.extrapolation import (
    ExtrapolationSpread,
    calibrated_posterior,
    estimate_spread,
)
from bayes_scaling.models.graph import Likelihood, build_pymc_model, latent_to_theta
from bayes_scaling.models.laws import ScalingLaw, get_law
from bayes_scaling.models.persistence import load_model, root_attrs, save_model
from bayes_scaling.models.posterior import CurvePosterior, Scale
from bayes_scaling.models.posterior_tables import gap_probability_table, summary_table
from bayes_scaling.models.predict import Kind, predict_error
from bayes_scaling.models.priors import Priors
from bayes_scaling.models.samplers import check_sampler
from bayes_scaling.models.sampling_policy import (
    AUTO_TARGET_ACCEPT,
    DEFAULT_TARGET_ACCEPT,
    sample_with_fallback,
    start_values,
)

__all__ = [
    "ScalingLawModel",
    # re-exported from the modules they moved to (issue 15 split), for existing imports
    "AUTO_TARGET_ACCEPT",
    "DEFAULT_TARGET_ACCEPT",
    "MIN_RESIDUAL_DOF",
    "build_pymc_model",
    "centring_weights",
    "latent_to_theta",
]


def _as_priors(priors: Priors | Mapping[str, Any] | None) -> Priors:
    if priors is None:
        return Priors()
    if isinstance(priors, Priors):
        return priors
    if isinstance(priors, Mapping):
        return Priors.from_dict(dict(priors))
    raise BayesScalingError(
        f"priors must be a Priors, a dict or None, got {type(priors).__name__}."
    )


def _plain(value: Any) -> Any:
    """NumPy scalars as Python numbers (so settings stay JSON-serialisable)."""
    return value.item() if isinstance(value, np.generic) else value


class ScalingLawModel(FittedState):
    """Hierarchical Bayesian fit of ``error(n) = D n^-alpha + C`` to many learning curves.

    ``__init__`` only stores the settings (scikit-learn style); :meth:`fit` validates the
    curve table, builds the PyMC model, samples, and stores the results.

    Parameters
    ----------
    groups : sequence of str, optional
        Curve-level columns whose levels get partially pooled effects (crossed, additive).
        Default: ``property``, ``database`` and ``strategy`` where present. ``[]`` pools
        all curves around one population mean. Columns with a single level, with one
        curve per level, or with fewer than two levels that hold several curves are dropped
        (see ``dropped_groups_``).
    priors : Priors or dict, optional
        Prior hyper-parameters (:class:`~bayes_scaling.models.priors.Priors`).
    law : {"power_gap", "power", "broken_power"}
        Scaling law (see :mod:`bayes_scaling.models.laws`).
    likelihood : {"normal", "studentt"}
        Noise distribution of log error.
    aggregate : bool, optional
        Use per-point sufficient statistics instead of every seed (Normal only; the
        posterior is identical). Default: True for ``"normal"``, False for ``"studentt"``.
    sampler : {"nutpie", "pymc", "numpyro"}
        NUTS backend (:mod:`bayes_scaling.models.samplers`).
    draws, tune, chains : int
        Posterior draws per chain (1000), warm-up steps per chain (500: nutpie's mass-matrix
        adaptation needs far fewer than PyMC's 1000; its own default is 300), chains (4).
    cores : int, optional
        Parallel chains (default: ``min(chains, cpu count)``).
    init : {"least_squares", "default"}
        Start every chain's curve parameters at the per-curve least-squares fit, or use the
        sampler's default initialisation.
    centring : {"auto", "noncentred", "centred"}
        Parameterisation of the curve-level deviations and group effects (the posterior is
        the same, only the sampler's geometry changes). ``"auto"`` (default) partially
        centres each curve parameter with weight ``w = t^2 / (t^2 + se^2)``
        (Papaspiliopoulos et al. 2007) from the per-curve least-squares standard error
        ``se`` and ``t`` = 0.3 x a Paule-Mandel estimate of the between-curve spread
        (:func:`centring_weights`; 0.3 because the posterior of a spread reaches well below
        its estimate, and a centred parameter with a small spread is a funnel), and each
        group effect likewise: centred where the data pin a parameter down (the error at
        ``n_ref``), non-centred where they do not (a flat curve's gap fraction, which least
        squares leaves at a bound: ``se = inf``). When the group effects leave fewer than
        :data:`MIN_RESIDUAL_DOF` residual degrees of freedom, the prior's mean spread takes
        the estimate's place. ``"noncentred"`` fixes every weight at 0, ``"centred"`` at 1.
    target_accept : float or "auto"
        NUTS target acceptance rate. ``"auto"`` (default, :data:`AUTO_TARGET_ACCEPT`):
        sample at 0.95; if that run has any divergent transition, sample again (same
        compiled model, same seed, same centring) at 0.99; the convergence report says so
        (``convergence.note``; ``target_accept_`` and ``centring_used_`` hold what was
        kept). A number fixes the rate (one run, no fallback). On well-identified curves
        the first run is kept (about 13 s for 18 curves on 2 cores, benchmarks/README.md);
        flat or partly identified curves often take the fallback (about 3x longer).
    sampler_kwargs : dict, optional
        Other keyword arguments of the sampler (``target_accept`` here overrides the
        argument above).
    random_seed : int, optional
        Seed of sampling and predictions; the same seed gives identical results.
    check_convergence : bool
        Warn (:class:`~bayes_scaling.models.diagnostics.ConvergenceWarning`) after
        :meth:`fit` when diagnostics miss the thresholds.

    Examples
    --------
    >>> from bayes_scaling.simulate import draw_curve_params, simulate_curves
    >>> curves = simulate_curves(draw_curve_params(3, 2, rng=1), rng=1)
    >>> model = ScalingLawModel(draws=200, tune=200, chains=2, random_seed=1)
    >>> model = model.fit(curves)  # doctest: +SKIP
    >>> model.predict([1e5], scale="original")  # doctest: +SKIP

    """

    def __init__(
        self,
        groups: Sequence[str] | None = None,
        priors: Priors | Mapping[str, Any] | None = None,
        *,
        law: str = "power_gap",
        likelihood: Likelihood = "normal",
        aggregate: bool | None = None,
        sampler: str = "nutpie",
        draws: int = 1000,
        tune: int = 500,
        chains: int = 4,
        cores: int | None = None,
        init: Literal["least_squares", "default"] = "least_squares",
        centring: Literal["auto", "centred", "noncentred"] = "auto",
        target_accept: float | Literal["auto"] = DEFAULT_TARGET_ACCEPT,
        sampler_kwargs: Mapping[str, Any] | None = None,
        random_seed: int | None = None,
        check_convergence: bool = True,
    ) -> None:
        self.groups = groups
        self.priors = priors
        self.law = law
        self.likelihood = likelihood
        self.aggregate = aggregate
        self.sampler = sampler
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.cores = cores
        self.init = init
        self.centring = centring
        self.target_accept = target_accept
        self.sampler_kwargs = sampler_kwargs
        self.random_seed = random_seed
        self.check_convergence = check_convergence

    # ------------------------------------------------------------------ configuration
    _PARAM_NAMES = (
        "groups",
        "priors",
        "law",
        "likelihood",
        "aggregate",
        "sampler",
        "draws",
        "tune",
        "chains",
        "cores",
        "init",
        "centring",
        "target_accept",
        "sampler_kwargs",
        "random_seed",
        "check_convergence",
    )

    def get_params(self) -> dict[str, Any]:
        """Return the constructor settings (JSON-serialisable; priors as a dict)."""
        out = {name: _plain(getattr(self, name)) for name in self._PARAM_NAMES}
        out["priors"] = _as_priors(self.priors).to_dict()
        out["groups"] = (
            None
            if self.groups is None
            else [str(g) for g in ([self.groups] if isinstance(self.groups, str) else self.groups)]
        )
        out["sampler_kwargs"] = {
            str(k): _plain(v) for k, v in dict(self.sampler_kwargs or {}).items()
        }
        return out

    def __repr__(self) -> str:
        defaults = ScalingLawModel()
        changed = [
            f"{k}={getattr(self, k)!r}"
            for k in self._PARAM_NAMES
            if getattr(self, k) != getattr(defaults, k)
        ]
        return f"ScalingLawModel({', '.join(changed)})"

    def _resolved(self) -> tuple[ScalingLaw, Priors, str, bool]:
        law = get_law(self.law)
        priors = _as_priors(self.priors)
        try:  # checked before sampling: the settings are stored as JSON with the fit
            json.dumps(self.get_params())
        except TypeError as exc:
            raise BayesScalingError(
                f"Model settings must be JSON-serialisable to be saved with the fit ({exc}); "
                "check sampler_kwargs."
            ) from None
        if self.likelihood not in ("normal", "studentt"):
            raise BayesScalingError(
                f"likelihood must be 'normal' or 'studentt', got {self.likelihood!r}."
            )
        aggregate = (
            (self.likelihood == "normal") if self.aggregate is None else bool(self.aggregate)
        )
        if aggregate and self.likelihood != "normal":
            raise BayesScalingError(
                "aggregate=True needs likelihood='normal' (seed means and sums of squares are "
                "sufficient statistics only for the Normal); use aggregate=False."
            )
        if self.init not in ("least_squares", "default"):
            raise BayesScalingError(
                f"init must be 'least_squares' or 'default', got {self.init!r}."
            )
        if self.target_accept != "auto":
            try:
                ok = 0.5 <= float(self.target_accept) < 1.0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise BayesScalingError(
                    f"target_accept must be 'auto' or in [0.5, 1), got {self.target_accept!r}."
                )
        if self.centring not in ("auto", "centred", "noncentred"):
            raise BayesScalingError(
                f"centring must be 'auto', 'centred' or 'noncentred', got {self.centring!r}."
            )
        return law, priors, self.likelihood, aggregate

    # ------------------------------------------------------------------ building
    def prepare_data(self, curves: pd.DataFrame) -> CurveData:
        """Validate a curve table and return the model-ready arrays."""
        return prepare(curves, self.groups)

    def build_model(self, curves: pd.DataFrame | CurveData) -> Any:
        """Validate ``curves`` and return the PyMC model (no sampling)."""
        data = curves if isinstance(curves, CurveData) else self.prepare_data(curves)
        return self._build(data)[0]

    def _build(
        self, data: CurveData, *, observed_rvs: bool = False
    ) -> tuple[Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Return the PyMC model of ``data``, its centring weights and start values."""
        law, priors, likelihood, aggregate = self._resolved()
        centring, start = self._start(data, law, priors)
        model = build_pymc_model(
            data,
            law=law,
            priors=priors,
            likelihood=likelihood,
            aggregate=aggregate,
            centring=centring,
            observed_rvs=observed_rvs,
        )
        return model, centring, start

    def _cache_key(self, data: CurveData) -> tuple:
        law, priors, likelihood, aggregate = self._resolved()
        return (
            "ScalingLawModel",
            2,
            law.name,
            likelihood,
            aggregate,
            json.dumps(priors.to_dict(), sort_keys=True),
            data.structure_key(aggregate),
        )

    def _start(
        self, data: CurveData, law: ScalingLaw, priors: Priors, centring: str | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Centring weights and least-squares start values (:func:`start_values`).

        ``centring`` overrides the setting.
        """
        setting = self.centring if centring is None else centring
        return start_values(data, law, priors, centring=setting, init=self.init)

    # ------------------------------------------------------------------ fitting
    def fit(self, curves: pd.DataFrame) -> ScalingLawModel:
        """Fit the model to a curve table; returns ``self``.

        Raises
        ------
        CurveSchemaError
            The table breaks the curve schema.
        BayesScalingError
            Invalid settings (law, likelihood, sampler, groups, ...).

        """
        law, priors, likelihood, _ = self._resolved()
        check_sampler(self.sampler)
        data = self.prepare_data(curves)
        model, centring, start = self._build(data)
        seed = self.random_seed
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        ss = np.random.SeedSequence(seed)
        sample_seed, predict_seed = ss.spawn(2)
        run = sample_with_fallback(
            model,
            centring=self.centring,
            target_accept=self.target_accept,
            initial_values=start if self.init == "least_squares" else None,
            sampler=self.sampler,
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            cores=self.cores,
            random_seed=sample_seed,
            cache_key=self._cache_key(data),
            sampler_kwargs=self.sampler_kwargs,
        )
        self.centring_used_ = self.centring
        self.target_accept_ = run.target_accept
        self.data_ = data
        self.model_ = model
        self.random_seed_ = int(seed)
        self._predict_seed = int(predict_seed.generate_state(1)[0])
        self._extrapolation_spread = None
        self.idata_ = assemble_idata(
            run.trace, data, law, likelihood, centring, root_attrs(self, data)
        )
        self.idata_.attrs["target_accept_used"] = float(run.target_accept)
        self.idata_.attrs["centring_used"] = self.centring
        self.idata_.attrs["sampling_note"] = "; ".join(run.notes)
        self.convergence_ = ConvergenceReport.from_idata(self.idata_)
        if self.check_convergence:
            self.convergence_.warn(stacklevel=2)
        return self

    # ------------------------------------------------------------------ fitted state
    @property
    def model(self) -> Any:
        """The PyMC model of the fitted data (rebuilt after :meth:`load`)."""
        self._check_fitted()
        if getattr(self, "model_", None) is None:
            self.model_ = self.build_model(self.data_)
        return self.model_

    @property
    def curves_(self) -> pd.DataFrame:
        """Curve metadata: one row per curve id with key columns, target scale, n range."""
        self._check_fitted()
        return self.data_.meta.copy()

    @property
    def groups_(self) -> list[str]:
        """Grouping columns that have effects in the fitted model."""
        self._check_fitted()
        return [g.column for g in self.data_.groups]

    @property
    def dropped_groups_(self) -> dict[str, str]:
        """Requested grouping columns that were dropped, with the reason."""
        self._check_fitted()
        return dict(self.data_.dropped_groups)

    @property
    def log_n_ref_(self) -> float:
        """Reference ``log n`` of the parameterisation."""
        self._check_fitted()
        return float(self.data_.log_n_ref)

    @property
    def n_ref_(self) -> float:
        """Reference sample size ``n_ref`` (where ``e_ref`` is the expected error)."""
        return float(np.exp(self.log_n_ref_))

    @property
    def curve_ids_(self) -> list[str]:
        """Fitted curve ids in model order."""
        self._check_fitted()
        return list(self.data_.curve_ids)

    def _flat(self, name: str) -> np.ndarray:
        """Posterior draws of a curve variable as ``(sample, curve)``."""
        return flat_curve(self.idata_["posterior"], name)

    # ------------------------------------------------------------------ outputs
    def curve_posterior(
        self, extrapolation: Literal["calibrated", "law"] = "calibrated"
    ) -> CurvePosterior:
        """Return the :class:`CurvePosterior` (normalised D and C) for the decisions layer.

        ``"calibrated"`` (default): beyond each curve's largest observed size the laws
        carry the extrapolation discrepancy learnt from the curves' held-out tails
        (:attr:`extrapolation_spread_`, :mod:`bayes_scaling.models.extrapolation`), so
        decisions integrate over how far real curves bend away from the law; the fitted
        law is kept for ``n <= n_max`` and parameter tables. ``"law"``: the fitted law's
        draws only (narrower beyond the data).
        """
        self._check_fitted()
        if extrapolation not in ("calibrated", "law"):
            raise BayesScalingError(
                f"extrapolation must be 'calibrated' or 'law', got {extrapolation!r}."
            )
        D, alpha, C, sigma = (self._flat(v) for v in ("D", "alpha", "C", "sigma"))
        if extrapolation == "law":
            return CurvePosterior.from_arrays(D, alpha, C, self.curves_, sigma=sigma)
        return calibrated_posterior(
            self.extrapolation_spread_, D, alpha, C, sigma, self.curves_,
            self._predict_seed + 1, has_gap=get_law(self.law).has_gap,
        )  # fmt: skip

    @property
    def extrapolation_spread_(self) -> ExtrapolationSpread:
        """Pooled extrapolation spreads learnt from the fitted curves' held-out tails.

        Computed on first use (a few seconds: one small refit per curve and cut) and kept;
        deterministic given the fit, so a loaded model gets the same spreads.
        """
        self._check_fitted()
        if getattr(self, "_extrapolation_spread", None) is None:
            law, priors, _, _ = self._resolved()
            self._extrapolation_spread = estimate_spread(
                self.idata_["posterior"].to_dataset(), self.data_, law, priors
            )
        return self._extrapolation_spread

    def loo(self, **kwargs: Any) -> Any:
        """PSIS-LOO of the fit (leave one ``(curve, n)`` point out), via ``arviz.loo``."""
        import arviz as az

        self._check_fitted()
        return az.loo(self.idata_, var_name="log_error", **kwargs)

    def gap_probability(
        self, threshold: float | Sequence[float] = 0.0, *, scale: Scale = "normalised"
    ) -> pd.DataFrame:
        """Posterior probability that the transfer gap ``C`` exceeds ``threshold``.

        Parameters
        ----------
        threshold : float or sequence of float
            Error level(s), on ``scale``.
        scale : {"normalised", "original"}
            Scale of ``threshold`` (original: the property's own units).

        Returns
        -------
        pandas.DataFrame
            Columns ``curve``, ``threshold``, ``scale``, ``prob`` (one row per curve and
            threshold), plus the posterior median of ``C`` on that scale.

        """
        self._check_fitted()
        return gap_probability_table(self.idata_["posterior"], self.data_, threshold, scale)

    def summary(
        self,
        *,
        level: Literal["all", "curve", "group"] = "all",
        prob: float = CREDIBLE_INTERVAL,
    ) -> pd.DataFrame:
        """Tidy posterior summary per curve and per group.

        Parameters
        ----------
        level : {"all", "curve", "group"}
            Curve rows, group rows (a typical curve of each group level and the population
            mean), or both.
        prob : float
            Mass of the equal-tailed credible interval (default
            :data:`~bayes_scaling.constants.CREDIBLE_INTERVAL`).

        Returns
        -------
        pandas.DataFrame
            Columns ``level`` (curve, group, population), ``name`` (curve id or
            ``column=level``), ``group``, ``parameter``, ``scale`` (normalised, original, or
            none for scale-free parameters), ``mean``, ``sd``, ``median``, ``lower``,
            ``upper``, ``ci_prob``, ``ess_bulk``, ``ess_tail``, ``r_hat``.

        """
        self._check_fitted()
        return summary_table(
            self.idata_["posterior"], self.data_, get_law(self.law), level=level, prob=prob
        )

    # ------------------------------------------------------------------ prediction
    def predict(
        self,
        n: float | Sequence[float] | np.ndarray,
        curves: str | Sequence[str] | pd.DataFrame | None = None,
        *,
        scale: Scale = "normalised",
        kind: Kind = "mean",
        prob: float = CREDIBLE_INTERVAL,
        return_draws: bool = False,
        random_seed: int | None = None,
        extrapolation: Literal["calibrated", "law"] = "calibrated",
    ) -> pd.DataFrame | xr.DataArray:
        """Posterior predictive error at sizes ``n``.

        Parameters
        ----------
        n : float or array-like
            Sample sizes (> 0), inside or beyond the observed range (extrapolation).
        curves : str, sequence of str, DataFrame or None
            Fitted curve ids (default: all fitted curves), or a table of **new** curves with
            grouping columns (and optionally ``target_scale``, key columns or ``curve``):
            population predictive for a new curve of known groups; an unseen or missing
            group level draws a new group effect.
        scale : {"normalised", "original"}
            ``error / target_scale`` or the property's own units (``target_scale`` of a new
            curve defaults to the median over fitted curves of the same property).
        kind : {"mean", "observation"}
            ``"mean"``: the law's value ``D n^-alpha + C`` (the median error over seeds);
            ``"observation"``: the error of one new seed (adds the log-scale noise).
        prob : float
            Credible-interval mass (default :data:`CREDIBLE_INTERVAL`).
        return_draws : bool
            Return the draws as an ``xarray.DataArray`` with dims ``(sample, curve, n)``
            instead of the summary table.
        random_seed : int, optional
            Seed of the noise / population draws (default: derived from the fit's seed).
        extrapolation : {"calibrated", "law"}
            Beyond a fitted curve's largest observed size, ``"calibrated"`` (default) adds
            the extrapolation discrepancy learnt from the curves' held-out tails (see
            :meth:`curve_posterior`); ``"law"`` extrapolates the fitted law as it is. At
            and below ``n_max`` both are the fitted law; new curves get the population
            predictive either way.

        Returns
        -------
        pandas.DataFrame
            Columns ``curve``, ``n``, ``scale``, ``kind``, ``mean``, ``median``, ``lower``,
            ``upper``, ``ci_prob``; or the draws (see ``return_draws``).

        """
        self._check_fitted()
        if extrapolation not in ("calibrated", "law"):
            raise BayesScalingError(
                f"extrapolation must be 'calibrated' or 'law', got {extrapolation!r}."
            )
        return predict_error(
            self.idata_["posterior"],
            self.data_,
            get_law(self.law),
            _as_priors(self.priors),
            self.likelihood,
            n,
            curves,
            scale=scale,
            kind=kind,
            prob=prob,
            return_draws=return_draws,
            seed=self._predict_seed if random_seed is None else random_seed,
            spread=self.extrapolation_spread_ if extrapolation == "calibrated" else None,
            bend_seed=self._predict_seed + 1,
        )

    # ------------------------------------------------------------------ prior predictive
    def sample_prior_predictive(
        self, curves: pd.DataFrame, *, draws: int = 500, random_seed: int | None = None
    ) -> xr.DataTree:
        """Draw from the prior and prior predictive on the sizes of ``curves``.

        Returns
        -------
        xarray.DataTree
            Groups ``prior`` (including ``D``, ``alpha``, ``C``, ``e_ref``, ``sigma`` per
            curve) and ``prior_predictive`` (the observed variables, log normalised error),
            plus ``observed_data``.

        """
        import pymc as pm

        law = self._resolved()[0]
        data = self.prepare_data(curves)
        model, centring, _ = self._build(data, observed_rvs=True)
        seed = self.random_seed if random_seed is None else random_seed
        with model:
            dt = pm.sample_prior_predictive(draws=draws, random_seed=seed)
        prior = dt["prior"].to_dataset()
        prior = xr.merge([prior, latent_to_theta(prior, data, law.pooled, centring)])
        prior = xr.merge([prior, derived(prior, data, law)], compat="override")
        out = {"prior": prior, "prior_predictive": dt["prior_predictive"].to_dataset()}
        if "observed_data" in dt.children:
            out["observed_data"] = dt["observed_data"].to_dataset()
        return xr.DataTree.from_dict(out)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Any) -> Any:
        """Save the fit as one netCDF file (see :mod:`bayes_scaling.models.persistence`)."""
        self._check_fitted()
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | Any) -> ScalingLawModel:
        """Load a model saved with :meth:`save`.

        Raises
        ------
        ModelFileError
            Missing, corrupt or foreign file, unsupported schema version, or a training-data
            hash mismatch.

        """
        return load_model(path, cls)
