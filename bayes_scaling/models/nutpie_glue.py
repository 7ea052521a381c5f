"""Leaner, disk-cached C glue for nutpie's numba backend: the same functions, compiled once.

``nutpie.compile_pymc_model`` wraps PyTensor's compiled log density (and the function that
expands a draw into the model's variables) in two ``numba.cfunc`` callbacks. nutpie's own
callbacks cannot be cached across processes: they close over per-process random keys of the
model's data. So numba compiled them in every process, about 4.5 s of the ~6 s a fit of 18
curves spent compiling, even with PyTensor's graph in its disk cache (issue 15,
benchmarks/README.md); their whole-array statements (``out[...] = grad``,
``np.all(np.isfinite(out))``) alone cost 2.5 s of that.

:func:`lean_glue` temporarily replaces nutpie's two private glue builders with versions
that

- do the same work in explicit loops: the same inputs, the same outputs and the same
  return codes (0 ok, 3 non-finite gradient, 4 non-finite log density, 1 / -2 an error,
  -1 a wrong size), bit for bit (tested in ``tests/test_nutpie_glue.py``);
- read the model's data from nutpie's record of pointers, sizes and shapes by fixed word
  offsets, written into generated source, instead of through per-process keys; and
- are registered with PyTensor's numba cache under a key made of the generated source
  (every size, offset and dtype), PyTensor's own key of the graph they call, and
  :data:`GLUE_VERSION`, so numba keeps the compiled callbacks in PyTensor's cache
  directory and a later process loads them (about 1.5 s instead of 6 s per model
  structure; ``tests/test_model_samplers.py`` checks the reload and the same draws).

PyTensor's compiled graph does the arithmetic, unless a hand-written fused log density
is given (``lean_glue(fused=...)``, :mod:`bayes_scaling.models.fused_density`): the log
density callback then calls that instead, with the same data tables, and its key is made of
the generated source, the fused kernel's source and its layout arrays. ``nutpie.with_data``
still swaps the data without recompiling. The replacement is applied only to the nutpie
versions it was written against (:data:`NUTPIE_VERSIONS`) and only while a model is
compiled; with any other version nutpie's own glue is used, uncached.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from bayes_scaling.models.fused_density import TABLES

#: nutpie versions whose private glue builders this module replaces (others: untouched).
NUTPIE_VERSIONS: tuple[str, ...] = ("0.16.",)
_LOGP_ARGS = ["n_dim", "logp_fn", "user_data", "shared_keys", "shared_data"]
_EXPAND_ARGS = ["n_dim", "n_expanded", "expand_fn", "user_data", "shared_var_keys", "shared_data"]
_LOCK = threading.Lock()
#: Part of every cached callback's key: change it when the generated source's meaning changes.
GLUE_VERSION: str = "bayes_scaling-nutpie-glue-3"


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
    if not callable(getattr(cp, "address_as_void_pointer", None)):
        return False
    if not callable(getattr(cp, "_make_functions", None)):
        return False
    try:
        from pytensor.link.numba.cache import (
            CACHED_SRC_FUNCTIONS,  # noqa: F401
            compile_numba_function_src,  # noqa: F401
        )
    except ImportError:
        return False
    return True


def _c_signature(sizes: int, arrays: int) -> Any:
    """``int64(uint64 x sizes, double* x arrays, void*)``: nutpie's callback signatures."""
    from numba import types

    return types.int64(
        *[types.uint64] * sizes, *[types.CPointer(types.double)] * arrays, types.voidptr
    )


def _read_inputs(
    n_dim: int, user_data: np.ndarray, keys: list[str], shared_data: dict
) -> tuple[list[str], str]:
    """Source lines that read the callback's inputs, and the arguments to call ``inner`` with.

    ``user_data`` is nutpie's record of pointers, sizes and shapes (every field a
    ``uintp``), read in the callback as ``words``; shared array ``j`` becomes ``s<j>``, a
    C-contiguous view of the data nutpie holds (``with_data`` swaps the pointers, no
    recompilation), and the draw becomes ``x``. The word offsets, ranks and dtypes are
    written into the source, so they are part of the cache key.
    """
    shared = user_data.dtype.fields["shared"]
    lines = [
        f"        words = numba.carray(user_data_, ({user_data.dtype.itemsize // 8},), np.uint64)",
        f"        x = numba.carray(x_, ({n_dim},))",
    ]
    for j, key in enumerate(keys):
        words = []
        for part in ("data", "size", "shape"):
            sub, offset = shared[0].fields[part]
            byte = shared[1] + offset + sub.fields[key][1]
            if byte % 8:
                raise ValueError("unexpected layout of nutpie's user data")
            words.append(byte // 8)
        arr = shared_data[key]
        dims = "".join(f"words[{words[2] + i}], " for i in range(arr.ndim))
        lines.append(
            f"        s{j} = numba.carray(address_as_void_pointer(words[{words[0]}]), "
            f"({dims}), np.{np.dtype(arr.dtype).name})"
        )
    return lines, "x" + "".join(f", s{j}" for j in range(len(keys)))


def _compile_source(
    name: str,
    src: str,
    inner: Any = None,
    *,
    salt: str | None = None,
    env: dict[str, Any] | None = None,
) -> Any:
    """Python function ``name`` from ``src``, registered for PyTensor's numba disk cache.

    ``inner`` is the PyTensor-compiled function the glue calls; its own cache key, the
    glue's source (every constant: sizes, offsets, dtypes) and :data:`GLUE_VERSION` make the
    key, so a cached callback is only ever loaded for the same graph and layout. Without a
    key for ``inner`` (a graph PyTensor does not cache) the key is unique to this compile:
    numba then still saves the callbacks, under a key no later process asks for. ``salt``
    replaces ``inner``'s key (the fused log density's: its kernel source and arrays) and
    ``env`` adds names the source uses.
    """
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    if salt is None:
        py_func = getattr(inner, "py_func", None)
        inner_key = CACHED_SRC_FUNCTIONS.get(py_func) if py_func is not None else None
        salt = str(inner_key) if inner_key is not None else uuid.uuid4().hex
    key = hashlib.sha256(f"{GLUE_VERSION}\n{src}\n{salt}".encode()).hexdigest()
    full_env = {
        # the module numba re-imports when it loads the cached callback's environment
        "__name__": __name__,
        "numba": numba,
        "np": np,
        "address_as_void_pointer": address_as_void_pointer,
        "inner": inner,
        **(env or {}),
    }
    return compile_numba_function_src(src, name, full_env, cache_key=key)


def _logp_glue(n_dim, logp_fn, user_data, shared_keys, shared_data, fused=None):  # noqa: D103
    read, args = _read_inputs(n_dim, user_data, list(shared_keys), shared_data)
    call = f"logp_val, grad = inner({args})"
    if fused is not None:  # (FusedDensity, names of the graph's shared inputs in key order)
        density, names = fused
        slots = [f"s{names.index(t)}" if t in names else "EMPTY" for t in TABLES]
        call = f"logp_val, grad = fused(x, {', '.join(slots)}, LAYOUT, CONSTS)"
    lines = [
        "def logp_glue(dim, x_, out_, logp_, user_data_):",
        f"    if dim != {n_dim}:",
        "        return -1",
        "    try:",
        *read,
        f"        {call}",
        "        logp_[0] = logp_val",
        "        finite = True",
        f"        for i in range({n_dim}):",
        "            out_[i] = grad[i]",
        "            if not np.isfinite(grad[i]):",
        "                finite = False",
        "        if not finite:",
        "            return 3",
        "        if not np.isfinite(logp_val):",
        "            return 4",
        "    except Exception:",  # nutpie's contract: an error is return code 1
        "        return 1",
        "    return 0",
    ]
    src = "\n".join(lines) + "\n"
    if fused is None:
        fn = _compile_source("logp_glue", src, logp_fn)
    else:
        fn = _compile_fused_source(src, fused[0])
    return fn, _c_signature(sizes=1, arrays=3)  # (dim, x, grad out, logp out, user data)


def _compile_fused_source(src: str, density: Any) -> Any:
    """Compile the log density callback ``src``, which calls the fused function ``fused``."""
    from bayes_scaling.models.fused_kernel import log_density_and_gradient

    env = {
        "fused": log_density_and_gradient,
        "LAYOUT": density.layout,  # frozen into the compiled callback; part of the key
        "CONSTS": density.constants,
        "EMPTY": np.zeros((0, 0)),
    }
    return _compile_source("logp_glue", src, salt=density.source_key(), env=env)


def _expand_glue(n_dim, n_expanded, expand_fn, user_data, shared_var_keys, shared_data):  # noqa: D103
    read, args = _read_inputs(n_dim, user_data, list(shared_var_keys), shared_data)
    lines = [
        "def expand_glue(dim, expanded, x_, out_, user_data_):",
        f"    if dim != {n_dim}:",
        "        return -1",
        f"    if expanded != {n_expanded}:",
        "        return -1",
        "    try:",
        *read,
        f"        (values,) = inner({args})",
        f"        for i in range({n_expanded}):",
        "            out_[i] = values[i]",
        "    except Exception:",  # nutpie's contract: an error is return code -2
        "        return -2",
        "    return 0",
    ]
    fn = _compile_source("expand_glue", "\n".join(lines) + "\n", expand_fn)
    return fn, _c_signature(sizes=2, arrays=2)  # (dim, expanded, x, values out, user data)


@contextlib.contextmanager
def _stand_in_logp(model: Any) -> Iterator[None]:
    """Make ``model.logp()`` a sum of the data tables and the values while the block lasts.

    nutpie takes the shared inputs of the compiled log density as the data it hands the
    callback; the fused callback computes the density itself, so the graph nutpie compiles
    need only read those tables (a few nodes instead of the model's log density).
    """
    import pytensor.tensor as pt

    tables = [v for v in model.data_vars if v.name in TABLES]
    had = "logp" in vars(model)
    saved = vars(model).get("logp")
    values = list(model.value_vars)  # the flat draw must be an input too
    model.logp = lambda *args, **kwargs: pt.add(*[pt.sum(v) for v in [*tables, *values]])
    try:
        yield
    finally:
        if had:
            model.logp = saved
        else:
            del model.logp


def _fused_applies(fused: Any, names: list[str], n_dim: int) -> bool:
    """Whether the fused function can stand in for this graph's log density."""
    return fused.n_dim == n_dim and {"point_data", "curve_data"} <= set(names)


@contextlib.contextmanager
def lean_glue(enabled: bool = True, fused: Any = None) -> Iterator[dict[str, Any]]:
    """Compile nutpie models inside this block with the leaner glue (see the module doc).

    Yields the options to pass to ``nutpie.compile_pymc_model`` in the block:
    ``{"cache": True}`` (numba keeps the two callbacks in PyTensor's numba disk cache)
    when the glue is replaced and PyTensor's numba cache is on, else ``{}`` (nutpie's own
    glue must never be cached: it closes over per-process random keys).

    ``fused``: a :class:`~bayes_scaling.models.fused_density.FusedDensity` of the model
    compiled in the block; its log density callback then calls the fused function instead
    of PyTensor's graph, and nutpie compiles a stand-in log density without gradient that
    only reads the data tables (:func:`_stand_in_logp`: its shared inputs are what the
    callback is handed). It is used only where those inputs include the tables the kernel
    reads and the sizes match; otherwise the model's own log density is compiled as usual.

    Does nothing when ``enabled`` is false or :func:`applies` is false. The replacement
    is module-wide while the block lasts (another thread's nutpie compilation meanwhile gets
    the same, equivalent glue); blocks in several threads run one at a time, so nutpie's
    own builders are always restored.
    """
    if not (enabled and applies()):
        yield {}
        return
    import nutpie.compile_pymc as cp
    import pytensor

    with _LOCK:
        saved: dict[str, Any] = {
            "_make_c_logp_func": cp._make_c_logp_func,
            "_make_c_expand_func": cp._make_c_expand_func,
            "_make_functions": cp._make_functions,
        }
        logp_inputs: list[str] = []  # names of the log density's shared inputs, in key order

        def make_functions(model: Any, *args: Any, **kwargs: Any) -> Any:
            if fused is not None and kwargs.get("mode") == "NUMBA":
                # the fused function is the log density and its gradient: nutpie compiles a
                # stand-in that only reads the data tables (its shared inputs, which the
                # callback reads), without a gradient
                with _stand_in_logp(model):
                    out = saved["_make_functions"](
                        model, *args, **{**kwargs, "compute_grad": False}
                    )
                names = [v.name for v in out[2].get_shared()]
                if _fused_applies(fused, names, out[0]):
                    logp_inputs[:] = names
                    return out
            out = saved["_make_functions"](model, *args, **kwargs)
            logp_inputs[:] = []
            return out

        def logp_glue(n_dim, logp_fn, user_data, shared_keys, shared_data):  # noqa: ANN001
            info = (fused, list(logp_inputs)) if logp_inputs else None
            return _logp_glue(n_dim, logp_fn, user_data, shared_keys, shared_data, info)

        cp._make_c_expand_func = _expand_glue
        if fused is None:
            cp._make_c_logp_func = _logp_glue
        else:
            cp._make_c_logp_func, cp._make_functions = logp_glue, make_functions
        try:
            yield {"cache": True} if pytensor.config.numba__cache else {}
        finally:
            for name, fn in saved.items():
                setattr(cp, name, fn)
