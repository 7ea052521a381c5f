"""The hierarchical Bayesian scaling-law estimator: :class:`ScalingLawModel`.

This module holds the estimator only: its settings and their checks, the orchestration of
:meth:`ScalingLawModel.fit`, prior predictive and persistence entry points. What a fitted
model gives back (curve posterior, predictions, summaries) is the mixin
:class:`~bayes_scaling.models.fitted_outputs.FittedCurveOutputs`. The model itself is
written out in :mod:`bayes_scaling.models.graph`; data preparation (``_data``), centring
weights (``centring``), the sampling policy (``sampling_policy``), the fit's DataTree
(``assemble``), prediction (``predict``), the calibrated extrapolation
(``extrapolation``), summary tables (``posterior_tables``) and persistence
(``persistence``) each live in their own module (see :mod:`bayes_scaling.models`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._data import CurveData, prepare
from bayes_scaling.models.assemble import assemble_idata, derived, fit_report
from bayes_scaling.models.centring import MIN_RESIDUAL_DOF, centring_weights
from bayes_scaling.models.diagnostics import ConvergenceReport
from bayes_scaling.models.fitted_outputs import FittedCurveOutputs
from bayes_scaling.models.fused_density import fused_density
from bayes_scaling.models.graph import Likelihood, build_pymc_model, latent_to_theta
from bayes_scaling.models.laws import ScalingLaw, get_law
from bayes_scaling.models.persistence import load_model, root_attrs, save_model
from bayes_scaling.models.priors import Priors
from bayes_scaling.models.samplers import check_sampler
from bayes_scaling.models.sampling_policy import (
    AUTO_TARGET_ACCEPT,
    DEFAULT_TARGET_ACCEPT,
    Reparameterised,
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


class ScalingLawModel(FittedCurveOutputs):
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
    law : {"power_gap", "power", "broken_power", "mmf"}
        Scaling law (see :mod:`bayes_scaling.models.laws`).
    likelihood : {"normal", "studentt"}
        Noise distribution of log error.
    aggregate : bool, optional
        Use per-point sufficient statistics instead of every seed (Normal only; the
        posterior is identical). Default: True for ``"normal"``, False for ``"studentt"``.
    point_noise : bool
        Add a noise shared by all seeds of a ``(curve, n)`` point (``tau_point``, one scale
        per curve kind, prior ``Priors.point_sd``), integrated out of the aggregated Normal
        likelihood: a point's seed mean then scatters around the law by
        ``sqrt(sigma^2 / k + tau^2)`` rather than ``sigma / sqrt(k)``
        (:mod:`bayes_scaling.models.graph`). Needs ``aggregate`` (Normal likelihood).
        Default False: on the bundled all-m curves it widens the scarce backtest's
        intervals a little but leaves the property/database effects mixing too slowly for
        the convergence targets (benchmarks/README.md, 2026-12-02).
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
        compiled model, same seed, same centring) at 0.99; if that run still has
        divergences and the fit has several curves and ``centring`` is not
        ``"noncentred"``, sample once more fully non-centred, at 0.95 and (after
        divergences) 0.99 (a weakly identified spread such as ``tau_curve[log_alpha]``
        makes a funnel of the partly centred curves). The convergence report says so
        (``convergence.note``; ``target_accept_`` and ``centring_used_`` hold what was
        kept). A number fixes the rate (one run, no fallback). On well-identified curves
        the first run is kept (about 3 s for 18 curves on 2 cores, benchmarks/README.md);
        flat or partly identified curves often take the fallback (about 3x longer).
    sampler_kwargs : dict, optional
        Other keyword arguments of the sampler (``target_accept`` here overrides the
        argument above).
    random_seed : int, optional
        Seed of sampling and predictions; the same seed gives identical results.
    check_convergence : bool
        Warn (:class:`~bayes_scaling.models.diagnostics.ConvergenceWarning`) after
        :meth:`fit` when diagnostics miss the thresholds. With ``target_accept="auto"`` it
        also allows one longer run: a kept run without divergences in which any variable
        of the fit's report (sampled or derived) misses R-hat or ESS is sampled again with
        2 to 6 times the draws and tuning steps, by how far it missed
        (:func:`~bayes_scaling.models.sampling_policy.extend_factor`; same seed and compiled
        model; the note says so).
        ``False`` (quick fits whose convergence is not needed) runs once.

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
        point_noise: bool = False,
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
        self.point_noise = point_noise
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
        "point_noise",
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
        self, data: CurveData, *, observed_rvs: bool = False, centring: str | None = None
    ) -> tuple[Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Return the PyMC model of ``data``, its centring weights and start values.

        ``centring`` overrides the setting.
        """
        law, priors, likelihood, aggregate = self._resolved()
        centring, start = self._start(data, law, priors, centring)
        model = build_pymc_model(
            data,
            law=law,
            priors=priors,
            likelihood=likelihood,
            aggregate=aggregate,
            centring=centring,
            observed_rvs=observed_rvs,
            point_noise=bool(self.point_noise),
        )
        # the same log density in one numba function, for nutpie (None: not implemented)
        model.fused_density = fused_density(
            model,
            data,
            law=law,
            priors=priors,
            likelihood=likelihood,
            aggregate=aggregate,
            point_noise=bool(self.point_noise),
            observed_rvs=observed_rvs,
        )
        return model, centring, start

    def _noncentred(self, data: CurveData, law: ScalingLaw) -> Reparameterised | None:
        """Return the fully non-centred model of ``data``: the sampling policy's last attempt.

        ``None`` when the fit is non-centred already or has one curve (nothing to centre).
        """
        if self.centring == "noncentred" or data.n_curves < 2:
            return None
        model, weights, start = self._build(data, centring="noncentred")
        return Reparameterised(
            model=model,
            initial_values=start if self.init == "least_squares" else None,
            judge=functools.partial(fit_report, data=data, law=law, centring=weights),
            name="noncentred",
            weights=weights,
        )

    def _cache_key(self, data: CurveData) -> tuple:
        law, priors, likelihood, aggregate = self._resolved()
        return (
            "ScalingLawModel",
            2,
            law.name,
            likelihood,
            aggregate,
            bool(self.point_noise),
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
        return start_values(
            data, law, priors, centring=setting, init=self.init, point_noise=bool(self.point_noise)
        )

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
            extend=self.target_accept == "auto" and self.check_convergence,
            judge=functools.partial(fit_report, data=data, law=law, centring=centring),
            last_resort=functools.partial(self._noncentred, data, law),
        )
        centring_used = self.centring
        if run.reparameterised is not None:  # the last attempt, fully non-centred
            model, centring = run.reparameterised.model, run.reparameterised.weights
            centring_used = run.reparameterised.name
        self.centring_used_ = centring_used
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
        self.idata_.attrs["centring_used"] = centring_used
        self.idata_.attrs["sampling_note"] = "; ".join(run.notes)
        self.convergence_ = ConvergenceReport.from_idata(self.idata_, known=run.report)
        if self.check_convergence:
            self.convergence_.warn(stacklevel=2)
        return self

    # ------------------------------------------------------------------ fitted state
    @property
    def model(self) -> Any:
        """The PyMC model of the fitted data (rebuilt after :meth:`load`).

        In the parameterisation the kept run was sampled in (``centring_used_``).
        """
        self._check_fitted()
        if getattr(self, "model_", None) is None:
            used = getattr(self, "centring_used_", None)
            self.model_ = self._build(self.data_, centring=used)[0]
        return self.model_

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
