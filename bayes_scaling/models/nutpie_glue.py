"""Leaner C glue for nutpie's numba backend: the same functions, about 2.5 s less to compile.

``nutpie.compile_pymc_model`` wraps PyTensor's compiled log density (and the function that
expands a draw into the model's variables) in two ``numba.cfunc`` callbacks. Those two
callbacks cannot be cached across processes (they close over per-model data), so numba
compiles them in every process, and their whole-array statements (``out[...] = grad``,
``np.all(np.isfinite(out))``) pull numba's generic fancy-indexing and reduction code into
each compilation: about 2.5 s of the ~9 s a fit of 18 curves spends compiling (issue 15,
benchmarks/README.md).

:func:`lean_glue` temporarily replaces nutpie's two private glue builders with versions
that do the same work in explicit loops: the same inputs, the same outputs and the same
return codes (0 ok, 3 non-finite gradient, 4 non-finite log density, 1 / -2 an error, -1 a
wrong size), bit for bit (tested in ``tests/test_nutpie_glue.py``). PyTensor's compiled
graph, which does the arithmetic, is untouched. The replacement is applied only to the
nutpie versions it was written against (:data:`NUTPIE_VERSIONS`) and only while a model is
compiled; with any other version nutpie's own glue is used.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

#: nutpie versions whose private glue builders this module replaces (others: untouched).
NUTPIE_VERSIONS: tuple[str, ...] = ("0.16.",)
_LOGP_ARGS = ["n_dim", "logp_fn", "user_data", "shared_keys", "shared_data"]
_EXPAND_ARGS = ["n_dim", "n_expanded", "expand_fn", "user_data", "shared_var_keys", "shared_data"]
_LOCK = threading.Lock()


def applies() -> bool:
    """Whether the installed nutpie is one whose glue :func:`lean_glue` replaces."""
    try:
        import nutpie
        import nutpie.compile_pymc as cp
    except ImportError:
        return False
    if not str(nutpie.__version__).startswith(NUTPIE_VERSIONS):
        return False
    for name, args in (("_make_c_logp_func", _LOGP_ARGS), ("_make_c_expand_func", _EXPAND_ARGS)):
        fn = getattr(cp, name, None)
        if fn is None or list(inspect.signature(fn).parameters) != args:
            return False
    return callable(getattr(cp, "make_extraction_fn", None))


def _c_signature(sizes: int, arrays: int) -> Any:
    """``int64(uint64 x sizes, double* x arrays, void*)``: nutpie's callback signatures."""
    from numba import types

    return types.int64(
        *[types.uint64] * sizes, *[types.CPointer(types.double)] * arrays, types.voidptr
    )


def _logp_glue(n_dim, logp_fn, user_data, shared_keys, shared_data):  # noqa: D103
    import numba
    import nutpie.compile_pymc as cp

    extract = cp.make_extraction_fn(logp_fn, shared_data, shared_keys, user_data.dtype)
    c_sig = _c_signature(sizes=1, arrays=3)  # (dim, x, grad out, logp out, user data)

    def logp_numba(dim, x_, out_, logp_, user_data_):
        if dim != n_dim:
            return -1
        try:
            x = numba.carray(x_, (n_dim,))
            logp_val, grad = extract(x, user_data_)
            logp_[0] = logp_val
            finite = True
            for i in range(n_dim):
                out_[i] = grad[i]
                if not np.isfinite(grad[i]):
                    finite = False
            if not finite:
                return 3
            if not np.isfinite(logp_val):
                return 4
        except Exception:  # noqa: BLE001  (nutpie's contract: an error is return code 1)
            return 1
        return 0

    return logp_numba, c_sig


def _expand_glue(n_dim, n_expanded, expand_fn, user_data, shared_var_keys, shared_data):  # noqa: D103
    import numba
    import nutpie.compile_pymc as cp

    extract = cp.make_extraction_fn(expand_fn, shared_data, shared_var_keys, user_data.dtype)
    c_sig = _c_signature(sizes=2, arrays=2)  # (dim, expanded, x, values out, user data)

    def expand_numba(dim, expanded, x_, out_, user_data_):
        if dim != n_dim:
            return -1
        if expanded != n_expanded:
            return -1
        try:
            x = numba.carray(x_, (n_dim,))
            (values,) = extract(x, user_data_)
            for i in range(n_expanded):
                out_[i] = values[i]
        except Exception:  # noqa: BLE001  (nutpie's contract: an error is return code -2)
            return -2
        return 0

    return expand_numba, c_sig


@contextlib.contextmanager
def lean_glue(enabled: bool = True) -> Iterator[None]:
    """Compile nutpie models inside this block with the leaner glue (see the module doc).

    Does nothing when ``enabled`` is false or :func:`applies` is false. The replacement
    is module-wide while the block lasts (another thread's nutpie compilation meanwhile gets
    the same, equivalent glue); blocks in several threads run one at a time, so nutpie's
    own builders are always restored.
    """
    if not (enabled and applies()):
        yield
        return
    import nutpie.compile_pymc as cp

    with _LOCK:
        saved: dict[str, Any] = {
            "_make_c_logp_func": cp._make_c_logp_func,
            "_make_c_expand_func": cp._make_c_expand_func,
        }
        cp._make_c_logp_func, cp._make_c_expand_func = _logp_glue, _expand_glue
        try:
            yield
        finally:
            for name, fn in saved.items():
                setattr(cp, name, fn)
