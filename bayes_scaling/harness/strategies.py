"""Transfer strategies: how a source (simulation) model helps the target (experiment) model.

Every strategy implements :meth:`Strategy.fit_predict`, taking standardised arrays:
source features/labels (``Xs``, ``ys``; empty for ``scratch``), the target training split and
the target test features, and returning test predictions on the standardised target scale.

Hyper-parameters are fixed (no tuning on the test split) and documented in
:data:`MLP_PARAMS`:

``finetune``
    An :class:`~sklearn.neural_network.MLPRegressor` is trained on the source property, then
    trained further on the target with ``warm_start=True`` (the paper's pretrain/fine-tune
    approach in scikit-learn form). The output layer is shared: the source label is
    standardised with its own mean/std, the target with train-split statistics.
``feature``
    The source model's prediction is appended as an extra input feature for a target model
    (XenonPy-style shotgun transfer).
``residual``
    The target model learns the residual between the target and the (rescaled) source
    model's prediction.
``scratch``
    No source data: the target model alone (the no-pretraining baseline).

``feature``, ``residual`` and ``scratch`` accept any scikit-learn regressor as the target
model (``target_estimator``); the default is the same MLP architecture as ``finetune``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from sklearn.base import RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from bayes_scaling.exceptions import UnknownNameError

#: Fixed MLP hyper-parameters shared by every strategy (documented, never tuned on test data).
MLP_PARAMS: Final[dict[str, Any]] = {
    "hidden_layer_sizes": (128, 64),
    "activation": "relu",
    "alpha": 1e-3,
    "learning_rate_init": 1e-3,
    "batch_size": 64,
}
#: Epochs on the source for pretraining (early stopping on a 10 % source validation split
#: once the source has at least ``EARLY_STOP_MIN`` rows).
PRETRAIN_EPOCHS: Final[int] = 120
#: Epochs on the target (fine-tuning and from-scratch training); fixed, no early stopping.
TARGET_EPOCHS: Final[int] = 80
EARLY_STOP_MIN: Final[int] = 200


def make_mlp(random_state: int, *, max_iter: int, early_stopping: bool = False) -> MLPRegressor:
    """Return the package's fixed MLP with the given seed and epoch budget."""
    return MLPRegressor(
        **MLP_PARAMS,
        max_iter=max_iter,
        early_stopping=early_stopping,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=random_state,
        shuffle=True,
    )


def _fit_quiet(model: Any, X: np.ndarray, y: np.ndarray) -> Any:
    if isinstance(model, MLPRegressor):
        model.set_params(batch_size=max(1, min(MLP_PARAMS["batch_size"], len(y))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def pretrain_source(Xs: np.ndarray, ys: np.ndarray, random_state: int) -> MLPRegressor:
    """Train the MLP on the source property (standardised labels)."""
    model = make_mlp(
        random_state, max_iter=PRETRAIN_EPOCHS, early_stopping=len(ys) >= EARLY_STOP_MIN
    )
    return _fit_quiet(model, Xs, ys)


@dataclass
class Strategy:
    """Base class: a named way to use source data for the target task."""

    name: str = "base"
    uses_source: bool = True

    def fit_predict(
        self,
        Xs: np.ndarray,
        ys: np.ndarray,
        Xt: np.ndarray,
        yt: np.ndarray,
        Xtest: np.ndarray,
        random_state: int,
    ) -> np.ndarray:
        """Fit on source + target training data and predict the target test rows."""
        raise NotImplementedError


@dataclass
class FineTune(Strategy):
    """Pretrain an MLP on the source, then continue training it on the target."""

    name: str = "finetune"

    def fit_predict(self, Xs, ys, Xt, yt, Xtest, random_state):  # noqa: D102
        model = pretrain_source(Xs, ys, random_state)
        # Continue from the pretrained weights: warm start, fixed epochs, no early stopping
        # (early stopping would restore the best *source* weights).
        model.set_params(warm_start=True, early_stopping=False, max_iter=TARGET_EPOCHS)
        # Restart the convergence bookkeeping for the new task (the weights are kept).
        model.best_loss_ = np.inf
        model._no_improvement_count = 0
        _fit_quiet(model, Xt, yt)
        return model.predict(Xtest)


def _default_target() -> RegressorMixin:
    return make_mlp(0, max_iter=TARGET_EPOCHS)


def _with_seed(est: RegressorMixin, random_state: int) -> RegressorMixin:
    est = clone(est)
    if "random_state" in est.get_params():
        est.set_params(random_state=random_state)
    return est


@dataclass
class FeatureTransfer(Strategy):
    """Append the source model's prediction as a feature of the target model."""

    name: str = "feature"
    target_estimator: RegressorMixin = field(default_factory=_default_target)

    def fit_predict(self, Xs, ys, Xt, yt, Xtest, random_state):  # noqa: D102
        src = pretrain_source(Xs, ys, random_state)
        tgt = _with_seed(self.target_estimator, random_state + 1)
        aug_train = np.column_stack([Xt, src.predict(Xt)])
        aug_test = np.column_stack([Xtest, src.predict(Xtest)])
        _fit_quiet(tgt, aug_train, yt)
        return tgt.predict(aug_test)


@dataclass
class ResidualTransfer(Strategy):
    """Learn the target as a linear rescaling of the source prediction plus a residual model."""

    name: str = "residual"
    target_estimator: RegressorMixin = field(default_factory=_default_target)

    def fit_predict(self, Xs, ys, Xt, yt, Xtest, random_state):  # noqa: D102
        src = pretrain_source(Xs, ys, random_state)
        p_train, p_test = src.predict(Xt), src.predict(Xtest)
        # Calibrate the source prediction to the target scale (least squares), then model the
        # residual: systematic simulation bias is absorbed by the linear map.
        A = np.column_stack([p_train, np.ones_like(p_train)])
        coef, *_ = np.linalg.lstsq(A, yt, rcond=None)
        base_train = A @ coef
        base_test = np.column_stack([p_test, np.ones_like(p_test)]) @ coef
        tgt = _with_seed(self.target_estimator, random_state + 1)
        _fit_quiet(tgt, Xt, yt - base_train)
        return base_test + tgt.predict(Xtest)


@dataclass
class Scratch(Strategy):
    """Train the target model on target data only (no source)."""

    name: str = "scratch"
    uses_source: bool = False
    target_estimator: RegressorMixin = field(default_factory=_default_target)

    def fit_predict(self, Xs, ys, Xt, yt, Xtest, random_state):  # noqa: D102
        tgt = _with_seed(self.target_estimator, random_state)
        _fit_quiet(tgt, Xt, yt)
        return tgt.predict(Xtest)


STRATEGIES: Final[dict[str, type[Strategy]]] = {
    "finetune": FineTune,
    "feature": FeatureTransfer,
    "residual": ResidualTransfer,
    "scratch": Scratch,
}


def get_strategy(name: str | Strategy) -> Strategy:
    """Return a strategy instance by name (or pass an instance through)."""
    if isinstance(name, Strategy):
        return name
    if name not in STRATEGIES:
        raise UnknownNameError(f"Unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}.")
    return STRATEGIES[name]()
