"""Model comparison with PSIS-LOO: which law fits, and is there really a transfer gap.

All laws store the same pointwise log-likelihood (per ``(curve, n)`` point, the per-seed
log densities summed), so :func:`compare_models` can rank any fitted
:class:`~bayes_scaling.models.hierarchical.ScalingLawModel` objects fitted to the same
curves with ``arviz.compare``. :func:`transfer_gap_evidence` answers "is there a transfer
gap?" with both the ELPD difference between the power law with and without gap and the
posterior probability that ``C`` exceeds a given error for each curve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bayes_scaling.exceptions import BayesScalingError
from bayes_scaling.models.hierarchical import ScalingLawModel
from bayes_scaling.models.posterior import Scale


def compare_models(models: Mapping[str, ScalingLawModel], **kwargs: Any) -> pd.DataFrame:
    """Rank fitted models by expected log predictive density (``arviz.compare``).

    Parameters
    ----------
    models : mapping of str to ScalingLawModel
        Fitted models, all on the same curve table (checked by its data hash).
    **kwargs
        Passed to ``arviz.compare`` (e.g. ``method="stacking"``).

    Returns
    -------
    pandas.DataFrame
        ``arviz.compare``'s table: ``rank``, ``elpd``, ``p``, ``elpd_diff``, ``weight``,
        ``se``, ``dse``, ``warning``, indexed by model name, best first.

    """
    import arviz as az

    if len(models) < 2:
        raise BayesScalingError("compare_models needs at least two fitted models.")
    check_same_curves(models)
    kwargs.setdefault("round_to", "none")  # ArviZ's "auto" rounds ELPDs to their SE
    return az.compare({name: m.idata for name, m in models.items()}, var_name="log_error", **kwargs)


def check_same_curves(models: Mapping[str, ScalingLawModel]) -> None:
    """Refuse models fitted to different curve tables (their data hashes differ)."""
    hashes = {name: m.idata.attrs["data_hash"] for name, m in models.items()}
    if len(set(hashes.values())) != 1:
        raise BayesScalingError(
            f"Models were fitted to different curve tables (data hashes {hashes}); LOO "
            "comparison needs the same data."
        )


def fit_laws(
    curves: pd.DataFrame,
    laws: Sequence[str] = ("power", "power_gap", "broken_power"),
    **model_kwargs: Any,
) -> dict[str, ScalingLawModel]:
    """Fit one :class:`ScalingLawModel` per law with the same settings."""
    return {law: ScalingLawModel(law=law, **model_kwargs).fit(curves) for law in laws}


@dataclass(frozen=True)
class TransferGapEvidence:
    """Evidence for a transfer gap: LOO comparison and posterior gap probabilities.

    Attributes
    ----------
    comparison : pandas.DataFrame
        ``arviz.compare`` table of the laws (``power`` = no gap).
    elpd_diff : float
        ELPD of ``power_gap`` minus ELPD of ``power`` (positive favours a gap).
    elpd_diff_se : float
        Standard error of that difference.
    gap : pandas.DataFrame
        Per curve: ``prob`` = P(C > threshold) under ``power_gap``, ``C_median``, ...
    threshold : float
        The error level asked about.
    scale : str
        Scale of ``threshold``.

    """

    comparison: pd.DataFrame
    elpd_diff: float
    elpd_diff_se: float
    gap: pd.DataFrame
    threshold: float
    scale: str

    @property
    def sentence(self) -> str:
        """A one-paragraph answer with its uncertainty."""
        z = self.elpd_diff / self.elpd_diff_se if self.elpd_diff_se > 0 else float("inf")
        if z > 2:
            verdict = "the data favour a transfer gap"
        elif z < -2:
            verdict = "the data favour no transfer gap"
        else:
            verdict = "LOO cannot tell the laws apart"
        probs = self.gap["prob"]
        return (
            f"Power law with gap vs without: ELPD difference {self.elpd_diff:+.1f} "
            f"(SE {self.elpd_diff_se:.1f}), so {verdict}. P(C > {self.threshold:g}, "
            f"{self.scale}) ranges {probs.min():.2f}-{probs.max():.2f} across "
            f"{len(probs)} curve(s); {int((probs >= 0.95).sum())} curve(s) have P >= 0.95."
        )

    def __str__(self) -> str:
        return self.sentence


def transfer_gap_evidence(
    curves: pd.DataFrame | Mapping[str, ScalingLawModel],
    threshold: float = 0.0,
    *,
    scale: Scale = "normalised",
    **model_kwargs: Any,
) -> TransferGapEvidence:
    """Answer "is there really a transfer gap?" for a curve table.

    Parameters
    ----------
    curves : DataFrame or mapping
        A curve table (both laws are fitted with ``model_kwargs``), or already fitted
        models with keys ``"power"`` and ``"power_gap"`` (other keys join the comparison).
    threshold : float
        Error level for ``P(C > threshold)`` (e.g. the accuracy you need).
    scale : {"normalised", "original"}
        Scale of ``threshold``.
    **model_kwargs
        Settings of both :class:`ScalingLawModel` fits (ignored for fitted models).

    Returns
    -------
    TransferGapEvidence

    """
    if isinstance(curves, pd.DataFrame):
        models = fit_laws(curves, ("power", "power_gap"), **model_kwargs)
    else:
        models = dict(curves)
    for need in ("power", "power_gap"):
        if need not in models:
            raise BayesScalingError(f"transfer_gap_evidence needs a fitted {need!r} model.")
    table = compare_models(models)
    pair = ("power_gap", "power")
    diff = table if len(models) == 2 else compare_models({k: models[k] for k in pair})
    sign = 1.0 if diff.index[0] == "power_gap" else -1.0
    elpd_diff = sign * float(diff["elpd_diff"].abs().max())
    se = float(diff["dse"].max())
    gap = models["power_gap"].gap_probability(threshold, scale=scale)
    return TransferGapEvidence(table, elpd_diff, se, gap, float(threshold), scale)
