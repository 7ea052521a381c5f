"""What a fitted scaling-law model gives back: curves, posteriors, predictions, summaries.

:class:`FittedCurveOutputs` is the read-only half of
:class:`~bayes_scaling.models.hierarchical.ScalingLawModel` (which does the fitting): the
fitted curves' metadata, the :class:`~bayes_scaling.models.posterior.CurvePosterior` the
decisions read (calibrated beyond the data by
:mod:`bayes_scaling.models.extrapolation`), predictions, LOO, the gap probability and the
tidy summary. It needs the estimator's ``law``, ``likelihood``, ``_resolved()`` and the
fitted ``data_``, ``idata_`` and ``_predict_seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from bayes_scaling.constants import CREDIBLE_INTERVAL
from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models._data import CurveData
from bayes_scaling.models._draws import flat_curve
from bayes_scaling.models._fitted import FittedState
from bayes_scaling.models.assemble import flat_params
from bayes_scaling.models.extrapolation import (
    ExtrapolationSpread,
    anchor_law,
    calibrated_posterior,
    estimate_spread,
)
from bayes_scaling.models.laws import get_law
from bayes_scaling.models.posterior import INSIDE_GRID, CurvePosterior, Scale
from bayes_scaling.models.posterior_tables import gap_probability_table, summary_table
from bayes_scaling.models.predict import Kind, predict_error


class FittedCurveOutputs(FittedState):
    """Mixin: the outputs of a fitted ``ScalingLawModel`` (module docstring)."""

    law: Any
    likelihood: str
    data_: CurveData
    _predict_seed: int
    _extrapolation_spread: ExtrapolationSpread | None

    def _resolved(self) -> tuple[Any, Any, str, bool]:  # pragma: no cover - overridden
        raise NotImplementedError

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

        For the asymptotic laws (``broken_power``, ``mmf``) ``D`` is moved so that
        ``D n^-alpha + C`` passes through the fitted curve at its ``n_max``
        (:func:`~bayes_scaling.models.extrapolation.anchor_law`): decisions extrapolate from
        there with the law's large-``n`` exponent and gap; inside the data the posterior
        carries the law's own curve (``log_e_inside`` on
        :data:`~bayes_scaling.models.posterior.INSIDE_GRID`).
        """
        self._check_fitted()
        if extrapolation not in ("calibrated", "law"):
            raise BayesScalingError(
                f"extrapolation must be 'calibrated' or 'law', got {extrapolation!r}."
            )
        D, alpha, C, sigma = (self._flat(v) for v in ("D", "alpha", "C", "sigma"))
        law = get_law(self.law)
        inside = None
        if law.asymptotic:  # (D, alpha, C) through the curve's value at n_max
            n_max = self.data_.meta["n_max"].to_numpy(dtype=float)
            flat = flat_params(self.idata_["posterior"].to_dataset(), law)
            p = {k: v[..., None] for k, v in flat.items()}
            x = (np.log(n_max) - self.data_.log_n_ref)[:, None] + INSIDE_GRID[None, :]
            inside = law.log_mean(x[None], p)  # (sample, curve, grid), n_max last
            D, alpha, C = anchor_law(D, alpha, C, n_max, inside[..., -1])
        if extrapolation == "law":
            return CurvePosterior.from_arrays(D, alpha, C, self.curves_, sigma=sigma, inside=inside)
        return calibrated_posterior(
            self.extrapolation_spread_, D, alpha, C, sigma, self.curves_,
            self._predict_seed + 1, has_gap=law.has_gap, inside=inside,
        )  # fmt: skip

    def _beyond(self, n: Any, extrapolation: str) -> bool:
        """Whether a calibrated prediction at ``n`` reaches beyond some fitted curve's data."""
        if extrapolation != "calibrated":
            return False
        n_arr = np.asarray(n, dtype=float)
        finite = n_arr[np.isfinite(n_arr)]  # bad sizes are refused by predict_error
        return bool(finite.size) and float(finite.max()) > float(self.data_.meta["n_max"].min())

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
            ``"observation"``: the error of one new seed (adds the log-scale noise: the
            seeds' ``sigma`` and, where fitted, the noise its size shares, ``point_sd``).
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
            self._resolved()[1],
            self.likelihood,
            n,
            curves,
            scale=scale,
            kind=kind,
            prob=prob,
            return_draws=return_draws,
            seed=self._predict_seed if random_seed is None else random_seed,
            spread=self.extrapolation_spread_ if self._beyond(n, extrapolation) else None,
            bend_seed=self._predict_seed + 1,
        )
