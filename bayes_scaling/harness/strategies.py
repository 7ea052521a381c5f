"""Transfer strategies: how a source (simulation) model helps the target (experiment) model.

Every strategy implements :meth:`Strategy.fit_predict`, taking standardised arrays:
source features/labels (``Xs``, ``ys``; empty for ``scratch``), the target training split and
the target test features, and returning test predictions on the standardised target scale.
Strategies that use a pretrained network split this into :func:`pretrain_source` and
:meth:`Strategy.adapt` (``fit_predict = adapt(pretrain_source(...))``), so that the harness
can pretrain once and adapt the same network to many experimental subsets; ``adapt`` never
modifies the network it is given.

Hyper-parameters are fixed (no tuning on the test split) and documented in
:data:`MLP_PARAMS`:

``finetune``
    An :class:`~sklearn.neural_network.MLPRegressor` is trained on the source property, then
    trained further on the target with ``warm_start=True`` (the paper's pretrain/fine-tune
    approach in scikit-learn form). The output layer is shared: the source label is
    standardised with its own mean/std, the target with train-split statistics.
``gentle``
    A gentler fine-tune that keeps more of what pretraining learned: a fresh Adam at a ten
    times lower learning rate (:data:`GENTLE_LEARNING_RATE`), at most
    :data:`TARGET_EPOCHS` epochs, early stopping on the last
    :data:`GENTLE_VALIDATION_FRACTION` of the target *training* rows (patience
    :data:`GENTLE_PATIENCE` epochs) and the weights of the best validation epoch restored.
    Never looks at the test rows.
``frozen``
    Frozen-feature transfer: the pretrained network is not trained further; its last hidden
    layer (64 ReLU units) is the input of a ridge regression on the target training rows,
    with the ridge penalty chosen by efficient leave-one-out on those rows
    (:class:`~sklearn.linear_model.RidgeCV`, :data:`FROZEN_ALPHAS`). The activations enter
    as they are, not standardised per unit: with only m rows, a unit active in one or two
    of them gets a tiny standard deviation, and a test row where it fires strongly would be
    multiplied by its inverse (errors of hundreds of target standard deviations before
    :data:`FROZEN_FORMAT` 2).
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

import copy
import warnings
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from sklearn.base import RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
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
#: ``gentle`` fine-tune: learning rate (a tenth of the pretraining one), share of the target
#: training rows held out for early stopping, and patience in epochs.
GENTLE_LEARNING_RATE: Final[float] = 1e-4
GENTLE_VALIDATION_FRACTION: Final[float] = 0.2
GENTLE_PATIENCE: Final[int] = 10
#: ``frozen``: ridge penalties searched by leave-one-out on the target training rows.
FROZEN_ALPHAS: Final[tuple[float, ...]] = tuple(float(a) for a in np.logspace(-3, 3, 13))
#: ``frozen``: version of its feature handling (part of the resume fingerprint). 1: hidden
#: activations standardised on the m training rows (unstable at small m); 2: raw activations.
FROZEN_FORMAT: Final[int] = 2


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
        return self.adapt(pretrain_source(Xs, ys, random_state), Xt, yt, Xtest, random_state)

    def adapt(
        self,
        source_model: MLPRegressor,
        Xt: np.ndarray,
        yt: np.ndarray,
        Xtest: np.ndarray,
        random_state: int,
    ) -> np.ndarray:
        """Adapt a pretrained network to the target and predict the test rows.

        ``source_model`` is left unchanged (strategies that train it work on a copy), so one
        pretrained network can serve any number of calls with identical results.
        """
        raise NotImplementedError


@dataclass
class FineTune(Strategy):
    """Pretrain an MLP on the source, then continue training it on the target."""

    name: str = "finetune"

    def adapt(self, source_model, Xt, yt, Xtest, random_state):  # noqa: D102
        model = copy.deepcopy(source_model)
        model.set_params(random_state=random_state)
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

    def adapt(self, source_model, Xt, yt, Xtest, random_state):  # noqa: D102
        src = source_model
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

    def adapt(self, source_model, Xt, yt, Xtest, random_state):  # noqa: D102
        src = source_model
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


def _validation_split(n_rows: int, fraction: float) -> int:
    """Rows kept for fitting when the last ``fraction`` of ``n_rows`` validates (>= 2 each)."""
    n_val = max(2, round(fraction * n_rows))
    return n_rows - n_val if n_rows - n_val >= 2 else n_rows


@dataclass
class GentleFineTune(Strategy):
    """Fine-tune at a lower learning rate with early stopping on part of the training rows.

    The last :attr:`validation_fraction` of the target training rows (the caller passes them
    in a random order; the harness uses the trial's permutation) validate each epoch; the
    weights of the best epoch are kept. With fewer than 4 training rows it trains for
    :attr:`max_epochs` without validation.
    """

    name: str = "gentle"
    learning_rate: float = GENTLE_LEARNING_RATE
    max_epochs: int = TARGET_EPOCHS
    patience: int = GENTLE_PATIENCE
    validation_fraction: float = GENTLE_VALIDATION_FRACTION

    def adapt(self, source_model, Xt, yt, Xtest, random_state):  # noqa: D102
        model = copy.deepcopy(source_model)
        k = _validation_split(len(yt), self.validation_fraction)
        X_fit, y_fit, X_val, y_val = Xt[:k], yt[:k], Xt[k:], yt[k:]
        best = np.inf
        best_params = None
        stale = 0
        for epoch in range(self.max_epochs):
            # A new shuffle each epoch (sklearn re-seeds from random_state at every call).
            model.set_params(random_state=(random_state + epoch) % 2**32)
            if epoch == 0:  # fit() with warm_start: keeps the weights, makes a fresh Adam
                model.set_params(
                    warm_start=True,
                    early_stopping=False,
                    max_iter=1,
                    learning_rate_init=self.learning_rate,
                )
                model.best_loss_ = np.inf
                model._no_improvement_count = 0
                _fit_quiet(model, X_fit, y_fit)
            else:  # partial_fit: one more epoch with the same optimizer
                model.partial_fit(X_fit, y_fit)
            if not len(y_val):
                continue
            loss = float(np.mean(np.abs(model.predict(X_val) - y_val)))
            if loss < best - 1e-6:
                best, stale = loss, 0
                best_params = (
                    [c.copy() for c in model.coefs_],
                    [b.copy() for b in model.intercepts_],
                )
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_params is not None:
            model.coefs_, model.intercepts_ = best_params
        return model.predict(Xtest)


def hidden_features(model: MLPRegressor, X: np.ndarray) -> np.ndarray:
    """Activations of the last hidden layer of a fitted MLP (ReLU) for inputs ``X``."""
    h = np.asarray(X)
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1], strict=True):
        h = np.maximum(h @ W + b, 0.0)
    return h


@dataclass
class FrozenFeatures(Strategy):
    """Ridge regression on the pretrained network's last hidden layer (network frozen)."""

    name: str = "frozen"
    alphas: tuple[float, ...] = FROZEN_ALPHAS

    def adapt(self, source_model, Xt, yt, Xtest, random_state):  # noqa: D102
        head = RidgeCV(alphas=self.alphas).fit(hidden_features(source_model, Xt), yt)
        return head.predict(hidden_features(source_model, Xtest))


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
    "gentle": GentleFineTune,
    "frozen": FrozenFeatures,
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
