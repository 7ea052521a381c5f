"""The fitted-state accessors every estimator of the package shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bayes_scaling.exceptions import NotFittedError

if TYPE_CHECKING:
    import xarray as xr

    from bayes_scaling.models.diagnostics import ConvergenceReport


class FittedState:
    """Mixin: ``idata`` and ``convergence`` of a fitted estimator, or :class:`NotFittedError`.

    ``fit`` (or ``load``) sets ``idata_`` and ``convergence_``; before that every accessor
    raises ``NotFittedError("This <ClassName> is not fitted yet: call fit() first.")``.
    """

    idata_: xr.DataTree
    convergence_: ConvergenceReport

    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit() first.")

    @property
    def idata(self) -> xr.DataTree:
        """ArviZ DataTree of the fit (posterior, sample_stats, log_likelihood, ...)."""
        self._check_fitted()
        return self.idata_

    @property
    def convergence(self) -> ConvergenceReport:
        """Convergence report of the fit (divergences, R-hat, ESS)."""
        self._check_fitted()
        return self.convergence_
