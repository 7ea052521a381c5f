"""Closed forms of the power law ``error(n) = D n^-alpha + C``, evaluated per posterior draw.

Pure NumPy arithmetic on arrays of draws (no posterior object, no sentences): the building
blocks of the planning decisions (:mod:`bayes_scaling.planning`) and of the comparisons and
plots that need the error of each draw at given sizes.

- :func:`n_required_draws` -- smallest n with ``error(n) <= target``;
- :func:`error_draws` -- ``error(n)`` of each draw at sizes ``n``;
- :func:`marginal_gain_draws` -- error reduction per added sample at ``n``;
- :func:`stopping_n_draws` -- the n where that gain equals a threshold;
- :func:`equivalent_m_draws` -- the scratch size ``m`` that matches a transfer error.
"""

from __future__ import annotations

import numpy as np


def n_required_draws(
    D: np.ndarray, alpha: np.ndarray, C: np.ndarray, target: float | np.ndarray
) -> np.ndarray:
    """Smallest integer ``n >= 1`` with ``D n^-alpha + C <= target``, per draw.

    ``n = ceil((D / (target - C))^(1/alpha))`` where ``target > C``, else ``inf``.
    Broadcasts ``target`` against the draws.

    Examples
    --------
    >>> n_required_draws(np.array([1.0, 1.0]), np.array([0.5, 0.5]), np.array([0.0, 0.2]), 0.1)
    array([100.,  inf])

    """
    gap = np.asarray(target, dtype=float) - C
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        n = np.where(gap > 0, (D / gap) ** (1.0 / alpha), np.inf)
    return np.maximum(np.ceil(n), 1.0)


def error_draws(D: np.ndarray, alpha: np.ndarray, C: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``D n^-alpha + C`` for draws (axis 0) against sizes ``n`` (broadcast on axis 1)."""
    n = np.asarray(n, dtype=float)
    return D[:, None] * n[None, :] ** (-alpha[:, None]) + C[:, None]


def marginal_gain_draws(D: np.ndarray, alpha: np.ndarray, n: float) -> np.ndarray:
    """Error reduction per added sample at ``n``: ``alpha D n^(-alpha-1)``, per draw."""
    return alpha * D * float(n) ** (-alpha - 1.0)


def stopping_n_draws(D: np.ndarray, alpha: np.ndarray, threshold: float) -> np.ndarray:
    """Size where the marginal gain equals ``threshold``, per draw.

    ``n = (alpha D / threshold)^(1/(alpha+1))``.
    """
    with np.errstate(over="ignore"):
        return (alpha * D / threshold) ** (1.0 / (alpha + 1.0))


def equivalent_m_draws(
    error_transfer: np.ndarray, D_s: np.ndarray, alpha_s: np.ndarray, C_s: np.ndarray
) -> np.ndarray:
    """Scratch sample size ``m`` with ``D_s m^-alpha_s + C_s = error_transfer``, per draw.

    ``inf`` where the transfer error is at or below the scratch plateau ``C_s`` (transfer
    beats any amount of scratch data). ``m`` is continuous (not rounded).
    """
    gap = error_transfer - C_s
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        return np.where(gap > 0, (D_s / gap) ** (1.0 / alpha_s), np.inf)
