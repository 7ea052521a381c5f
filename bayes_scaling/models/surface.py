"""Joint hierarchical model of the error surface error(n, m): :class:`SurfaceModel`.

The estimator (:class:`SurfaceModel`: fit, summary, LOO, convergence, save/load) and the
LOO comparison of forms (:func:`compare_surface_forms`) live here; this module is also the
entry point that re-exports the surface model's other parts:

- :mod:`bayes_scaling.models.surface_data` -- the surface table and its index arrays;
- :mod:`bayes_scaling.models.surface_forms` -- the functional forms and their priors;
- :mod:`bayes_scaling.models.surface_graph` -- the PyMC graph (:func:`build_surface_model`,
  the model's equations, centring and pooling settings);
- :mod:`bayes_scaling.models.surface_posterior` -- :class:`SurfacePosterior` (draws,
  physical parameters, error predictions, solvers, exchange rates);
- :mod:`bayes_scaling.models.surface_persistence` -- the netCDF file (root attributes,
  save, load).

Every seed row is one observation, so LOO (``az.loo``) leaves out one fitted model's error.
The sampling backend is the package's (``sample_model``: nutpie by default, PyMC or
NumPyro on request), run through the n-law's sampling policy
(:func:`~bayes_scaling.models.sampling_policy.sample_with_fallback` at the form's one
``target_accept``): with the convergence check on, a run without divergences that misses
R-hat or ESS is sampled once more with 2 to 6 times the draws and tuning steps, and a chain that
warmed up into a minor mode makes every chain start again from the best chain's last draw
(the report's note says which).

Use :func:`compare_surface_forms` to let LOO choose between the forms, and
:meth:`SurfaceModel.surface_posterior` for everything downstream (decisions in
:mod:`bayes_scaling.tradeoffs`, plots in :mod:`bayes_scaling.plotting`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.constants import CREDIBLE_INTERVAL, DEFAULT_SEED
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._fitted import FittedState
from bayes_scaling.models.diagnostics import ConvergenceReport
from bayes_scaling.models.samplers import check_sampler
from bayes_scaling.models.sampling_policy import sample_with_fallback
from bayes_scaling.models.surface_data import SurfaceData, prepare_surface
from bayes_scaling.models.surface_forms import (
    SHARED_PARAMS,
    TARGET_PARAMS,
    TASK_PARAMS,
    SurfacePriors,
    check_form,
    constrained,
    surface_error,
)
from bayes_scaling.models.surface_graph import (
    DEFAULT_CENTRED,
    DEFAULT_TASK_CENTRED,
    MIN_POOLED_LEVELS,
    SPREAD_LOG_SD,
    build_surface_model,
    surface_points,
)
from bayes_scaling.models.surface_persistence import (
    SURFACE_KIND,
    SURFACE_SCHEMA_VERSION,
    load_surface,
    save_surface,
    surface_root_attrs,
)
from bayes_scaling.models.surface_posterior import (
    _TARGET_VARS,
    _TASK_VARS,
    Scale,
    SurfacePosterior,
)

__all__ = [
    "DEFAULT_CENTRED",
    "DEFAULT_SURFACE_TARGET_ACCEPT",
    "DEFAULT_TASK_CENTRED",
    "LOW_RANK_FORMS",
    "MIN_POOLED_LEVELS",
    "SPREAD_LOG_SD",
    "SURFACE_KIND",
    "SURFACE_SCHEMA_VERSION",
    "Scale",
    "SurfaceData",
    "SurfaceModel",
    "SurfacePosterior",
    "SurfacePriors",
    "build_surface_model",
    "compare_surface_forms",
    "prepare_surface",
    "surface_loos",
]

#: Default NUTS target acceptance per form (measured: the additive form left 2 divergences
#: on the real surface at 0.95 and none at 0.99; the effective-data form 2-4 divergences on
#: simulated surfaces at 0.95 when every sampled parameter is checked).
DEFAULT_SURFACE_TARGET_ACCEPT: dict[str, float] = {"additive": 0.99, "effective_data": 0.99}
#: Forms sampled with nutpie's low-rank modified mass matrix (measured on simulated surfaces:
#: the effective-data form's (log k, log gamma, floor, beta) correlations left R-hat up to
#: 1.04 on task spreads with the diagonal one; low-rank: R-hat <= 1.005, ESS > 680).
LOW_RANK_FORMS: frozenset[str] = frozenset({"effective_data"})
_LOG_2PI = math.log(2.0 * math.pi)


class SurfaceModel(FittedState):
    """Hierarchical Bayesian model of error(n, m) across tasks (scikit-learn style).

    Parameters
    ----------
    form : {"additive", "effective_data"}
        Functional form (:mod:`bayes_scaling.models.surface_forms`).
    metric : str, optional
        Metric to fit when the table holds several (e.g. ``"mae"``).
    priors : SurfacePriors or mapping, optional
        Priors (``{"mu": {...}, "tau": {...}}`` overrides the defaults).
    sampler : {"nutpie", "pymc", "numpyro"}
        Sampling backend.
    draws, tune, chains : int
        NUTS settings (default 4 chains x 1000 draws after 1000 tuning steps: bulk and tail
        ESS >= 400 for every sampled parameter, hyper-parameters included, on the real and
        simulated surfaces).
    target_accept : float, optional
        NUTS target acceptance rate (default :data:`DEFAULT_SURFACE_TARGET_ACCEPT` of the
        form).
    centred : tuple of str, optional
        Target-level parameters sampled centred (default :data:`DEFAULT_CENTRED` of the
        form); changes the sampler's geometry only, not the model.
    random_seed : int, optional
        Seed (default :data:`~bayes_scaling.constants.DEFAULT_SEED`); same seed, same draws.
    check_convergence : bool
        Warn loudly (:class:`~bayes_scaling.models.ConvergenceWarning`) when the fit fails
        the divergence / R-hat / ESS thresholds, and allow the longer run and the restart
        of the sampling policy (module docstring). ``False`` runs once.

    Attributes
    ----------
    idata : xarray.DataTree
        Posterior (raw and constrained parameters), sample_stats, log_likelihood,
        observed_data and the training table (group ``curves``).
    convergence : ConvergenceReport
        Divergences, R-hat and ESS of every sampled parameter (hyper-parameters included).

    Examples
    --------
    >>> from bayes_scaling.simulate import simulate_surface
    >>> table, truth = simulate_surface(seed=0)  # doctest: +SKIP
    >>> sm = SurfaceModel(form="additive").fit(table)  # doctest: +SKIP
    >>> sm.surface_posterior().error(sm.tasks_[0], 1000, 200).shape  # doctest: +SKIP
    (4000,)

    """

    def __init__(
        self,
        form: str = "additive",
        *,
        metric: str | None = None,
        priors: SurfacePriors | Mapping[str, Any] | None = None,
        sampler: str = "nutpie",
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        target_accept: float | None = None,
        centred: tuple[str, ...] | None = None,
        random_seed: int | None = DEFAULT_SEED,
        check_convergence: bool = True,
    ) -> None:
        self.centred = None if centred is None else tuple(centred)
        self.form = form
        self.metric = metric
        self.priors = priors
        self.sampler = sampler
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.target_accept = target_accept
        self.random_seed = random_seed
        self.check_convergence = check_convergence

    def get_params(self) -> dict[str, Any]:
        """Return the constructor settings (JSON-serialisable; priors as a dictionary)."""
        pri = self.priors
        if isinstance(pri, SurfacePriors):
            pri = pri.to_dict()
        return {
            "form": self.form,
            "metric": self.metric,
            "priors": pri,
            "sampler": self.sampler,
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "target_accept": self.target_accept,
            "centred": None if self.centred is None else list(self.centred),
            "random_seed": self.random_seed,
            "check_convergence": self.check_convergence,
        }

    def __repr__(self) -> str:
        return f"SurfaceModel(form={self.form!r}, sampler={self.sampler!r})"

    def _priors(self) -> SurfacePriors:
        if isinstance(self.priors, SurfacePriors):
            return self.priors
        return SurfacePriors.from_dict(self.priors)

    # ------------------------------------------------------------------ fit
    def fit(self, table: pd.DataFrame) -> SurfaceModel:
        """Fit the surface to a table (see :mod:`bayes_scaling.models.surface_data`).

        Returns
        -------
        SurfaceModel
            ``self``.

        Raises
        ------
        CurveSchemaError
            The table is not a valid surface table (missing m, no scratch curve, one m level,
            m above the split, several metrics, ...).

        """
        check_form(self.form)
        check_sampler(self.sampler)
        accept = (
            DEFAULT_SURFACE_TARGET_ACCEPT[self.form]
            if self.target_accept is None
            else float(self.target_accept)
        )
        if not 0.5 <= accept < 1.0:
            raise BayesScalingError(f"target_accept must be in [0.5, 1), got {accept}.")
        priors = self._priors()
        data = prepare_surface(table, metric=self.metric)
        model = build_surface_model(data, self.form, priors, self.centred)
        seed = DEFAULT_SEED if self.random_seed is None else int(self.random_seed)
        run = sample_with_fallback(
            model,
            centring="",
            target_accept=accept,
            initial_values=None,
            sampler=self.sampler,
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            cores=None,
            random_seed=seed,
            cache_key=None,
            sampler_kwargs=self._sampler_kwargs(accept),
            extend=self.check_convergence,
        )
        self.data_ = data
        self.model_ = model
        self.idata_ = self._assemble(run.trace, data)
        self.idata_.attrs.update(surface_root_attrs(self, data, seed))
        self.idata_.attrs["sampling_note"] = "; ".join(run.notes)
        self.convergence_ = ConvergenceReport.from_idata(self.idata_, known=run.report)
        if self.check_convergence:
            self.convergence_.warn(stacklevel=2)
        return self

    def _sampler_kwargs(self, accept: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"target_accept": accept}
        if self.sampler == "nutpie" and self.form in LOW_RANK_FORMS:
            kwargs["adaptation"] = "low_rank"
        return kwargs

    def _report(self) -> ConvergenceReport:
        return ConvergenceReport.from_idata(self.idata_)

    def _constrained(self, post: xr.Dataset) -> tuple[dict, dict]:
        tp, kp = TARGET_PARAMS, TASK_PARAMS[self.form]
        theta = post["theta_target"]
        phi = (
            post["phi_task"]
            if "phi_task" in post
            else post["mu_task"] + post["tau_task"] * post["z_task"]
        )
        theta = theta.transpose("chain", "draw", "target", "target_param").values
        phi = phi.transpose("chain", "draw", "task", "task_param").values
        tgt = constrained(self.form, {k: theta[..., j] for j, k in enumerate(tp)})
        tsk = constrained(self.form, {k: phi[..., j] for j, k in enumerate(kp)})
        shared = {k: post[k].transpose("chain", "draw").values for k in SHARED_PARAMS[self.form]}
        for k, v in constrained(self.form, shared).items():  # one value per draw, per task
            tsk[k] = np.broadcast_to(v[..., None], phi.shape[:-1]).copy()
        return tgt, tsk

    def _assemble(self, trace: xr.DataTree, data: SurfaceData) -> xr.DataTree:
        from bayes_scaling.models.persistence import table_to_dataset

        post = trace["posterior"].to_dataset()
        tgt, tsk = self._constrained(post)
        dims_t, dims_p = ("chain", "draw", "target"), ("chain", "draw", "task")
        derived: dict[str, Any] = {k: (dims_t, v) for k, v in tgt.items()}
        derived.update({k: (dims_p, v) for k, v in tsk.items()})
        derived["S"] = (dims_t, tgt["e_ref"] * tgt["floor"])
        tidx = data.task_target
        if self.form == "additive":
            derived["C"] = (
                dims_p,
                tgt["e_ref"][..., tidx] * tgt["floor"][..., tidx] * tsk["gap_ratio"],
            )
        log_sigma = (
            post["log_sigma"]
            if "log_sigma" in post
            else post["mu_log_sigma"] + post["tau_log_sigma"] * post["z_sigma"]
        )
        sigma = np.exp(log_sigma.transpose("chain", "draw", "curve").values)
        derived["sigma"] = (("chain", "draw", "curve"), sigma)
        post = post.assign(
            xr.Dataset(derived, coords={"target": data.targets, "task": data.tasks}).data_vars
        )
        # the expected error is the same for every row of a (curve, n, m) point: computed
        # once per point (the power laws are most of the cost), then read for each row
        points = surface_points(data)
        at = points.rows
        is_transfer = data.obs_task[at] >= 0
        pidx = np.where(is_transfer, data.obs_task[at], 0)
        mean = surface_error(
            np,
            self.form,
            np.where(is_transfer, data.obs_n[at], 0.0),
            data.obs_m[at],
            {k: v[..., data.obs_target[at]] for k, v in tgt.items()},
            {k: v[..., pidx] for k, v in tsk.items()},
            data.m_ref[data.obs_target[at]],
            data.n_ref[pidx],
        )[..., points.point_of_row]
        sd = sigma[..., data.obs_curve]
        ll = -np.log(sd) - 0.5 * _LOG_2PI - (data.obs_y - np.log(mean)) ** 2 / (2 * sd**2)
        obs_coords = {"obs": np.arange(data.n_obs)}
        cd = {"chain": post["chain"].values, "draw": post["draw"].values, **obs_coords}
        return xr.DataTree.from_dict(
            {
                "posterior": post,
                "sample_stats": trace["sample_stats"].to_dataset(),
                "log_likelihood": xr.Dataset(
                    {"log_error": (("chain", "draw", "obs"), ll)}, coords=cd
                ),
                "observed_data": xr.Dataset({"log_error": ("obs", data.obs_y)}, coords=obs_coords),
                "constant_data": xr.Dataset(
                    {"n": ("obs", data.obs_n), "m": ("obs", data.obs_m)}, coords=obs_coords
                ),
                "curves": table_to_dataset(data.table),
            }
        )

    # ------------------------------------------------------------------ fitted state
    @property
    def tasks_(self) -> list[str]:
        """Fitted task ids."""
        self._check_fitted()
        return list(self.data_.tasks)

    def surface_posterior(self) -> SurfacePosterior:
        """Return the posterior as a :class:`SurfacePosterior` (all chains stacked)."""
        self._check_fitted()
        post = self.idata_["posterior"].to_dataset()

        def flat(name: str, dim: str) -> np.ndarray:
            return post[name].transpose("chain", "draw", dim).values.reshape(-1, post.sizes[dim])

        tgt = {k: flat(k, "target") for k in _TARGET_VARS}
        tsk = {k: flat(k, "task") for k in _TASK_VARS[self.form]}
        return SurfacePosterior(self.data_, self.form, tgt, tsk)

    def loo(self, **kwargs: Any) -> Any:
        """PSIS-LOO of the fit (``arviz.loo``; pointwise = one seed row)."""
        import arviz as az

        return az.loo(self.idata, **kwargs)

    def summary(self, prob: float = CREDIBLE_INTERVAL) -> pd.DataFrame:
        """Tidy table: one row per (level, name, parameter) with median and interval."""
        import arviz as az

        self._check_fitted()
        post = self.idata_["posterior"].to_dataset()
        lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
        rows = []
        names = [("target", v) for v in (*_TARGET_VARS, "S")] + [
            ("task", v) for v in _TASK_VARS[self.form]
        ]
        if self.form == "additive":
            names.append(("task", "C"))
        for level, var in names:
            da = post[var]
            rhat = az.rhat(da.to_dataset(name=var))[var]
            ess = az.ess(da.to_dataset(name=var), method="bulk")[var]
            for name in da[level].values:
                x = da.sel({level: name}).values.ravel()
                rows.append(
                    {
                        "level": level,
                        "name": str(name),
                        "parameter": var,
                        "median": float(np.median(x)),
                        "lower": float(np.quantile(x, lo)),
                        "upper": float(np.quantile(x, hi)),
                        "r_hat": float(rhat.sel({level: name})),
                        "ess_bulk": float(ess.sel({level: name})),
                    }
                )
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fit as one netCDF file (atomic; never pickle)."""
        return save_surface(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SurfaceModel:
        """Read a file written by :meth:`save`; :class:`ModelFileError` if it is not one."""
        return load_surface(path, cls)


def surface_loos(models: Mapping[str, SurfaceModel]) -> dict[str, Any]:
    """PSIS-LOO (``arviz.loo``, pointwise) of each of several surfaces fitted to one table.

    Raises
    ------
    BayesScalingError
        Fewer than two surfaces, or surfaces fitted to different tables.

    """
    if len(models) < 2:
        raise BayesScalingError("compare_surface_forms needs at least two fitted surfaces.")
    hashes = {m.idata.attrs.get("data_hash") for m in models.values()}
    if len(hashes) != 1:
        raise BayesScalingError("The surfaces were fitted to different tables; LOO cannot compare.")
    return {k: m.loo() for k, m in models.items()}


def compare_surface_forms(
    models: Mapping[str, SurfaceModel], *, loos: Mapping[str, Any] | None = None, **kwargs: Any
) -> pd.DataFrame:
    """LOO comparison (``arviz.compare``) of fitted surfaces; best first.

    ``loos`` reuses results of :func:`surface_loos` (default: computed here). Returns the
    ArviZ table (``elpd``, ``elpd_diff``, ``dse``: standard error of the difference,
    ``weight``, ...) indexed by the given names.
    """
    import arviz as az

    return az.compare(dict(surface_loos(models) if loos is None else loos), **kwargs)
