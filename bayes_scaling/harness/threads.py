"""One BLAS thread per model fit, safely, whichever joblib/Dask backend runs the fits.

Why this exists
---------------
OpenBLAS (the BLAS behind numpy and scikit-learn's MLP) splits a matrix product differently
with 1 and with 2+ threads, so the *same* fit gives results that differ in the last bits
(measured here: ``float32`` and ``float64`` ``gemm`` of MLP-sized matrices differ between 1
and 2 threads; a fine-tuned network's predictions move by ~1e-5, and after 80 epochs of
training the test MAE moves in the 3rd-4th digit).

:func:`threadpoolctl.threadpool_limits` changes the BLAS thread count **for the whole
process** and, on exit, restores the value it saw on entry. With several jobs running in
threads of one process (joblib's ``threading`` backend, a Dask ``LocalCluster`` with
``processes=False``, or any Dask worker with ``--nthreads`` > 1) the plain context manager
races: job A enters (saves 2, sets 1), job B enters (saves 1), A exits and restores 2 while B
is still fitting with 2 BLAS threads. That is why
``tests/test_harness.py::test_dask_backend_matches_loky`` failed now and then (8 % of rows
differed from the sequential run) and why the ``threading`` backend reproduced it in 2 of 3
runs. threadpoolctl >= 3.6 makes it worse by design for OpenBLAS with its pthreads layer (the
one numpy and scipy wheels ship): only one "controlling thread" may change the pool size and
calls from every other thread *silently do nothing*, so a job in a second thread never gets
its limit at all, and when the controlling job leaves it restores the default thread count
under the feet of the others.

:func:`single_threaded_blas` is a reference-counted, lock-protected version: the first job to
enter sets every BLAS library to one thread, later entries only count, and only the last job
to leave restores the original setting. Both changes are made under the lock after releasing
threadpoolctl's controlling thread (``OpenBLASController.clear_controlling_thread``), so they
take effect whichever thread makes them. Every fit of the harness runs inside it (in the
worker function itself, so it holds on every backend). OpenMP thread counts are per-thread
settings, so they are limited per call with the ordinary context manager.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from threadpoolctl import OpenBLASController, threadpool_limits

_LOCK = threading.Lock()
_DEPTH = 0
_LIMITS: Any = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the body with every BLAS library limited to one thread (thread-safe, re-entrant).

    Examples
    --------
    >>> with single_threaded_blas():
    ...     pass

    """
    global _DEPTH, _LIMITS
    with _LOCK:
        if _DEPTH == 0:
            _LIMITS = _as_any_thread(lambda: threadpool_limits(limits=1, user_api="blas"))
        _DEPTH += 1
    try:
        with threadpool_limits(limits=1, user_api="openmp"):
            yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                _as_any_thread(_LIMITS.restore_original_limits)
                _LIMITS = None


def _as_any_thread(change: Callable[[], Any]) -> Any:
    """Make a process-wide thread-count change from this thread, and give control back.

    threadpoolctl lets only one thread change a shared OpenBLAS pool (others are ignored);
    the change is made under :data:`_LOCK`, so releasing that control around it is safe.
    """
    OpenBLASController.clear_controlling_thread(force=True)
    try:
        return change()
    finally:
        OpenBLASController.clear_controlling_thread(force=True)
