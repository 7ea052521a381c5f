"""Exceptions raised by bayes_scaling.

Every error a user can trigger with bad input derives from :class:`BayesScalingError`
(itself a :class:`ValueError`), so callers can catch one class, and every message names
the offending column, row, file or setting.
"""

from __future__ import annotations


class BayesScalingError(ValueError):
    """Base class for user-facing errors in bayes_scaling."""


class DataNotFoundError(BayesScalingError, FileNotFoundError):
    """The shared data directory or one of its files is missing."""


class CurveSchemaError(BayesScalingError):
    """A learning-curve table does not follow the curve schema."""


class FeaturizationError(BayesScalingError):
    """Inputs (SMILES, formulas) could not be featurized."""


class UnknownNameError(BayesScalingError, KeyError):
    """An unknown dataset, pair, strategy, curve or group name was requested."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ModelFileError(BayesScalingError):
    """A saved model file is corrupt, of the wrong kind or of an unsupported version."""


class NotFittedError(BayesScalingError, AttributeError):
    """A model attribute was requested before ``fit`` was called."""
