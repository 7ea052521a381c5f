"""The hierarchical model's log density and gradient in one hand-written numba function.

PyTensor compiles the graph of :func:`~bayes_scaling.models.graph.build_pymc_model` and
its gradient into about 140 numba nodes, each allocating its output: a gradient costs about
13 µs on 18 curves, most of it per-node overhead rather than arithmetic (issue 15,
benchmarks/README.md). :func:`~bayes_scaling.models.fused_kernel.log_density_and_gradient`
computes the same log density (every prior, Jacobian and normalising constant, so nutpie's
stored ``logp`` is unchanged) and its gradient in loops over the curves and points, with the
reverse-mode derivatives written out: about 5 µs. nutpie then calls it instead of PyTensor's
compiled function (:func:`~bayes_scaling.models.nutpie_glue.lean_glue`), and compiles only a
stand-in log density that reads the data tables (its inputs are what the callback is handed).
The PyMC model stays the model's specification (priors, start values, prior predictive, the
other samplers), and
``tests/test_fused_density.py`` checks the two agree to rounding at random points of every
supported structure.

Supported (:func:`fused_density` returns ``None`` otherwise, and PyTensor's graph is used):
several curves, the laws ``power_gap``, ``power`` and ``mmf``, the seed-aggregated Normal
likelihood written as a ``pm.Potential`` (the default), any grouping columns (pooled or
fixed effects, excluded levels), the ``m`` slope, the shared point noise, Gamma or
HalfNormal spread priors. Not: a single curve, ``broken_power``, the Student-t or per-seed
likelihoods, observed-variable graphs.

The function reads the model's three packed data tables (``point_data``, ``curve_data``,
``group_data``: :func:`~bayes_scaling.models.graph.packed_data`) as nutpie holds them, so a
compiled model is still reused for new data of the same structure (``nutpie.with_data``).
Everything that is not data (the positions of the parameters in nutpie's flat vector, the
columns of the tables, the prior constants) is in two small arrays, :attr:`FusedDensity.layout`
and :attr:`FusedDensity.constants`, which the caller bakes into the compiled callback.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayes_scaling.models.graph import contrast_dim, is_pooled
from bayes_scaling.models.priors import sd_prior

#: The laws the fused function implements (their ids in the layout).
LAW_IDS: dict[str, int] = {"power": 0, "power_gap": 1, "mmf": 2}
#: The packed data tables the function reads, in its argument order.
TABLES: tuple[str, ...] = ("point_data", "curve_data", "group_data")

# Layout header: positions in FusedDensity.layout (read by the kernel module).
_LAW, _P, _NG, _MU, _MSLOPE, _TAUC, _RAW, _MLS, _TLS, _LS = range(10)
_PX, _PK, _PYBAR, _PSS, _PCURVE, _CWEIGHT, _CLOGM, _SDFAM = range(10, 18)
_BREAK, _CBLOC, _CBSCALE = range(18, 21)  # mmf: log_break offset, its prior's columns
# shared point noise: tau_point offset, point_data's noise-group column, number of groups
_TAUPT, _PNG, _NTP = range(21, 24)
#: Length of the layout's header; then :data:`GROUP_FIELDS` integers per grouping column.
HEADER = 24
#: Per grouping column: pooled, levels, tau offset, z offset, curve_data index column,
#: group_data weight column.
GROUP_FIELDS = 6


@dataclass(frozen=True)
class FusedDensity:
    """What the fused kernel needs besides the data and the draw.

    Attributes
    ----------
    layout : numpy.ndarray
        ``int64``: law, sizes, offsets of each parameter in nutpie's flat vector, data
        columns (:data:`HEADER` fields, then :data:`GROUP_FIELDS` per grouping column).
    constants : numpy.ndarray
        ``float64``: the priors' constants (locations, scales, Gamma shapes and rates).
    n_dim : int
        Length of the flat vector of unconstrained parameters.

    """

    layout: np.ndarray
    constants: np.ndarray
    n_dim: int

    def source_key(self) -> str:
        """Return a hash of what is compiled into a callback: the kernel's source, the arrays."""
        from bayes_scaling.models.fused_kernel import SOURCE_HASH

        h = hashlib.sha256(SOURCE_HASH.encode())
        h.update(self.layout.tobytes())
        h.update(self.constants.tobytes())
        return h.hexdigest()

    def __call__(self, x: np.ndarray, tables: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
        """Log density and gradient at ``x`` for the data ``tables`` (name -> array)."""
        from bayes_scaling.models.fused_kernel import log_density_and_gradient

        args = [np.ascontiguousarray(tables.get(t, np.zeros((0, 0))), dtype=float) for t in TABLES]
        return log_density_and_gradient(
            np.ascontiguousarray(x, dtype=float), *args, self.layout, self.constants
        )


def fused_density(
    model: Any,
    data: Any,
    *,
    law: Any,
    priors: Any,
    likelihood: str,
    aggregate: bool,
    point_noise: bool,
    observed_rvs: bool = False,
) -> FusedDensity | None:
    """Describe ``model`` (``build_pymc_model`` with these settings) for the fused kernel.

    Returns ``None`` when the structure is not one the fused function implements (see the
    module docstring); the caller then samples PyTensor's graph.
    """
    if (
        data.n_curves < 2
        or law.name not in LAW_IDS
        or likelihood != "normal"
        or not aggregate
        or observed_rvs
        or priors.sd_family not in ("gamma", "halfnormal")
    ):
        return None
    P = list(law.pooled)
    offsets: dict[str, int] = {}
    pos = 0
    for rv in model.free_RVs:
        dims = model.named_vars_to_dims.get(rv.name) or ()
        size = int(np.prod([len(model.coords[d]) for d in dims])) if dims else 1
        offsets[rv.name] = pos
        pos += size
    expected = {"mu", "tau_curve", "theta_raw", "mu_log_sigma", "tau_log_sigma", "log_sigma"}
    expected |= {f"z_{g.column}" for g in data.groups}
    expected |= {f"tau_{g.column}" for g in data.groups if is_pooled(g)}
    if data.has_m_slope:
        expected.add("m_slope")
    expected |= set(law.extra)  # mmf: log_break
    if point_noise:
        expected.add("tau_point")
    if set(offsets) != expected:
        return None  # a graph this module does not know
    columns = {t: [str(c) for c in model.coords.get(f"{t}_column", ())] for t in TABLES}

    def col(table: str, name: str) -> int:
        return columns[table].index(name)

    def first_col(table: str, name: str) -> int:
        return columns[table].index(f"{name}[0]")

    head = np.full(HEADER, -1, dtype=np.int64)
    head[_LAW], head[_P], head[_NG] = LAW_IDS[law.name], len(P), len(data.groups)
    head[_MU], head[_TAUC], head[_RAW] = offsets["mu"], offsets["tau_curve"], offsets["theta_raw"]
    head[_MLS], head[_TLS], head[_LS] = (
        offsets["mu_log_sigma"], offsets["tau_log_sigma"], offsets["log_sigma"],
    )  # fmt: skip
    head[_PX], head[_PK] = col("point_data", "log_n_centred"), col("point_data", "point_k")
    head[_PYBAR] = col("point_data", "log_error_mean_data")
    head[_PSS] = col("point_data", "log_error_ss_data")
    head[_PCURVE] = col("point_data", "point_curve")
    head[_CWEIGHT] = first_col("curve_data", "centring_weight")
    if data.has_m_slope:
        head[_MSLOPE], head[_CLOGM] = offsets["m_slope"], col("curve_data", "curve_log_m")
    head[_SDFAM] = 0 if priors.sd_family == "gamma" else 1
    if point_noise:
        head[_TAUPT], head[_PNG] = offsets["tau_point"], col("point_data", "point_noise_group")
        head[_NTP] = len(model.coords["noise_group"])
    if "log_break" in law.extra:
        head[_BREAK] = offsets["log_break"]
        head[_CBLOC], head[_CBSCALE] = (
            col("curve_data", "break_loc"),
            col("curve_data", "break_scale"),
        )
    groups = []
    for g in data.groups:
        pooled = is_pooled(g)
        if len(model.coords[contrast_dim(g)]) != len(g.levels) - 1:
            return None
        groups += [
            int(pooled),
            len(g.levels),
            offsets[f"tau_{g.column}"] if pooled else -1,
            offsets[f"z_{g.column}"],
            col("curve_data", f"{g.column}_index"),
            col("group_data", f"centring_weight_{g.column}") if pooled else -1,
        ]
    layout = np.concatenate([head, np.asarray(groups, dtype=np.int64)])

    def sd_constants(scale: np.ndarray) -> list[float]:
        if priors.sd_family == "gamma":
            shape, rate = sd_prior(scale)
            return [float(shape)] * len(P) + [float(r) for r in np.atleast_1d(rate)]
        return [float(s) for s in scale] + [0.0] * len(P)

    # 1 / sqrt((k + 1)(k + 2)): the normalised Helmert basis's column scales
    max_k = max([len(g.levels) - 1 for g in data.groups], default=0)
    helmert = [1.0 / math.sqrt((k + 1.0) * (k + 2.0)) for k in range(max_k)]
    loc = [priors.location(p)[0] for p in P]
    scale = [priors.location(p)[1] for p in P]
    constants = np.asarray(
        [
            *loc,
            *scale,
            *sd_constants(priors.spread(priors.curve_sd, P)),
            *priors.spread(priors.m_slope_sd, P),
            *priors.log_sigma,
            *priors.log_sigma_sd,
            priors.group_sd,
            *sd_constants(priors.spread(priors.group_sd, P)),
            priors.point_sd,
            *helmert,
        ],
        dtype=np.float64,
    )
    return FusedDensity(layout=layout, constants=constants, n_dim=pos)
