"""Decision objects: a tidy table plus one plain sentence, on one pinned credible interval.

Every answer of :mod:`bayes_scaling.planning` and :mod:`bayes_scaling.compare` is a frozen
:class:`Decision` (pattern of CausalPy's reporting objects): ``.table`` holds the numbers
(posterior medians, equal-tailed interval bounds ``lower``/``upper`` and tail
probabilities), ``.sentence`` says what they mean in one plain sentence, and ``.interval``
is the credible mass of every interval in the table -- always
:data:`bayes_scaling.constants.CREDIBLE_INTERVAL`.

The module also holds the small shared helpers the decision layer uses: quantiles of draws
that may be infinite (an unreachable target needs ``n = inf``), significant-figure
formatting for sentences, and curve descriptions built from the posterior's metadata.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from bayes_scaling.constants import CREDIBLE_INTERVAL, FAR_BEYOND
from bayes_scaling.exceptions import BayesScalingError

Section = Literal["planning", "comparison", "surface"]


# ---------------------------------------------------------------------- the base object
@dataclass(frozen=True, eq=False)
class Decision:
    """A decision: a tidy table and one plain sentence on the pinned credible interval.

    Parameters
    ----------
    table : pandas.DataFrame
        The numbers behind the decision. Interval columns end in ``_lower``/``_upper`` (or
        are named ``lower``/``upper``) and are equal-tailed with mass ``interval``.
    sentence : str
        One plain-language sentence (or a few, one per row) stating the decision.
    interval : float
        Credible mass of every interval in ``table``; :data:`CREDIBLE_INTERVAL`.

    Examples
    --------
    >>> import pandas as pd
    >>> d = Decision(pd.DataFrame({"x": [1.0]}), "One is one.")
    >>> d.interval
    0.9
    >>> print(d)
    One is one.
    <BLANKLINE>
      x
    1.0

    """

    table: pd.DataFrame
    sentence: str
    interval: float = CREDIBLE_INTERVAL

    #: Heading used by reports and Markdown.
    title: ClassVar[str] = "Decision"
    #: Report section the decision belongs to.
    section: ClassVar[Section] = "planning"

    def __post_init__(self) -> None:
        if not isinstance(self.table, pd.DataFrame):
            raise BayesScalingError(
                f"Decision table must be a pandas DataFrame, got {type(self.table).__name__}."
            )
        if not isinstance(self.sentence, str):
            raise BayesScalingError("Decision sentence must be a string.")
        check_probability(self.interval, name="interval")
        # A private copy, so later edits of the caller's frame do not change the decision.
        object.__setattr__(self, "table", self.table.copy())

    def __str__(self) -> str:
        return f"{self.sentence}\n\n{self.table.to_string(index=False)}"

    def _repr_markdown_(self) -> str:
        return (
            f"**{escape_markdown(self.title)}**\n\n{escape_markdown(self.sentence)}\n\n"
            f"{table_to_markdown(self.table)}\n\n"
            f"*Intervals: {percent(self.interval)} equal-tailed credible intervals.*"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dictionary (kind, title, sentence, interval, table records).

        Infinite values (unreachable targets) stay ``float('inf')``.
        """
        return {
            "kind": type(self).__name__,
            "title": self.title,
            "sentence": self.sentence,
            "interval": float(self.interval),
            "table": self.table.to_dict(orient="records"),
        }


# ---------------------------------------------------------------------- validation
def check_probability(value: float, *, name: str) -> float:
    """Return ``value`` as float if it lies strictly in (0, 1), else raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise BayesScalingError(f"{name} must be a probability in (0, 1), got {value!r}.") from None
    if not 0.0 < v < 1.0:
        raise BayesScalingError(f"{name} must be a probability in (0, 1), got {value!r}.")
    return v


def check_positive(value: float, *, name: str) -> float:
    """Return ``value`` as float if it is finite and > 0, else raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise BayesScalingError(f"{name} must be a number > 0, got {value!r}.") from None
    if not (math.isfinite(v) and v > 0):
        raise BayesScalingError(f"{name} must be a finite number > 0, got {value!r}.")
    return v


# ---------------------------------------------------------------------- draws
def quantiles(draws: np.ndarray, probs: float | np.ndarray) -> np.ndarray:
    """Quantiles along axis 0 with linear interpolation that tolerates ``+inf`` draws.

    ``numpy.quantile`` returns NaN when it interpolates next to an infinite draw; here a
    quantile that interpolates towards ``inf`` is ``inf``.

    Examples
    --------
    >>> quantiles(np.array([1.0, 2.0, np.inf, np.inf]), [0.0, 0.5, 1.0]).tolist()
    [1.0, inf, inf]

    """
    x = np.sort(np.asarray(draws, dtype=float), axis=0)
    p = np.atleast_1d(np.asarray(probs, dtype=float))
    pos = p * (x.shape[0] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.ceil(pos).astype(int)
    t = (pos - lo).reshape((-1,) + (1,) * (x.ndim - 1))
    a, b = x[lo], x[hi]
    with np.errstate(invalid="ignore"):
        out = a + t * (b - a)
    out = np.where(t == 0, a, out)
    out = np.where(np.isinf(b) & (t > 0), np.inf, out)
    return out[0] if np.ndim(probs) == 0 else out


def interval_probs(interval: float = CREDIBLE_INTERVAL) -> tuple[float, float]:
    """Lower and upper tail probabilities of the equal-tailed interval."""
    return (1.0 - interval) / 2.0, (1.0 + interval) / 2.0


def summarise(draws: np.ndarray, prefix: str) -> dict[str, np.ndarray | float]:
    """Median and equal-tailed :data:`CREDIBLE_INTERVAL` bounds along axis 0.

    Returns ``{f"{prefix}_median", f"{prefix}_lower", f"{prefix}_upper"}``.
    """
    lo, hi = interval_probs()
    q = quantiles(draws, np.array([0.5, lo, hi]))
    return {f"{prefix}_median": q[0], f"{prefix}_lower": q[1], f"{prefix}_upper": q[2]}


def smallest_with_probability(draws: np.ndarray, prob: float) -> np.ndarray:
    """Smallest draw value ``x`` with ``P(draw <= x) >= prob`` (along axis 0).

    This is the exact empirical quantile (no interpolation), so it is ``inf`` whenever more
    than ``1 - prob`` of the draws are infinite.
    """
    x = np.sort(np.asarray(draws, dtype=float), axis=0)
    k = max(math.ceil(prob * x.shape[0] - 1e-9) - 1, 0)
    return x[k]


# ---------------------------------------------------------------------- formatting
def format_number(value: float, *, sig: int = 2) -> str:
    """Round to ``sig`` significant figures for a sentence.

    Thousands separators, no trailing zeros, ``"∞"`` for infinity.

    Examples
    --------
    >>> format_number(12345.0), format_number(0.05123), format_number(0.05, sig=3)
    ('12,000', '0.051', '0.05')

    """
    v = float(value)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    r = float(f"{v:.{sig}g}")
    if abs(r) >= 1e9 or abs(r) < 1e-4:
        mantissa, exponent = f"{r:.{max(sig - 1, 0)}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    decimals = max(sig - 1 - math.floor(math.log10(abs(r))), 0)
    text = f"{r:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def sig_to_show_difference(total: float, difference: float, *, sig: int = 2, least: int = 3) -> int:
    """Significant figures for ``total`` so that a ``difference`` in it reads in it too.

    For a sentence that gives a total and the part of it that is new: "(m = 123 today) ...
    matches a scratch model trained on 126.1 experiments, so the simulations are worth
    3.1", where ``format_number(126.1)`` alone would say "130". The figures are enough to
    show ``difference`` at ``sig`` figures, stopping at one decimal, and at least ``least``
    (the figures the number beside it, here m, is shown with).

    Examples
    --------
    >>> sig_to_show_difference(126.1, 3.1), sig_to_show_difference(344.0, 238.0)
    (4, 3)

    """
    t, d = abs(float(total)), abs(float(difference))
    if not (math.isfinite(t) and t > 0):
        return least
    top = math.floor(math.log10(t))
    if not (math.isfinite(d) and d > 0):
        return max(least, sig)
    return max(least, sig, min(top - math.floor(math.log10(d)) + sig, top + 2))


def times_today_if_far(n_needed: float, n_now: float) -> str | None:
    """``n_needed / n_now`` at two figures when far beyond today's n, else None.

    Far beyond: more than :data:`~bayes_scaling.constants.FAR_BEYOND` times ``n_now``, an
    extrapolation far beyond the measured curve.

    Examples
    --------
    >>> times_today_if_far(5.6e5, 1_000.0), times_today_if_far(5e4, 1_000.0)
    ('560', None)

    """
    if not (math.isfinite(n_now) and n_now > 0 and math.isfinite(n_needed)):
        return None
    return format_number(n_needed / n_now, sig=2) if n_needed > FAR_BEYOND * n_now else None


def format_probability(p: float) -> str:
    """``"= 0.97"``, ``"> 0.99"`` or ``"< 0.01"``, ready for ``f"P {…}"``."""
    if p > 0.995:
        return "> 0.99"
    if p < 0.005:
        return "< 0.01"
    return f"= {p:.2f}"


def percent(mass: float) -> str:
    """``0.9 -> "90 %"``."""
    return f"{format_number(100 * mass, sig=3)} %"


def format_interval(lower: float, upper: float, *, sig: int = 2, unit: str = "") -> str:
    """``"90 % interval 250–410 g"``, with ``"unbounded"`` for an infinite upper bound."""
    hi = "unbounded" if math.isinf(upper) else format_number(upper, sig=sig)
    u = f" {unit}" if unit and not math.isinf(upper) else ""
    return f"{percent(CREDIBLE_INTERVAL)} interval {format_number(lower, sig=sig)}–{hi}{u}"


def escape_markdown(text: str) -> str:
    """Escape text for Markdown: HTML-escape and backslash Markdown's special characters."""
    out = html.escape(str(text), quote=False)
    for ch in ("\\", "`", "*", "_", "[", "]", "|", "#"):
        out = out.replace(ch, "\\" + ch)
    return out.replace("\n", " ")


def format_cell(value: Any) -> str:
    """Display text of one table cell (3 significant figures for floats)."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return format_number(float(value), sig=3)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value)


def formatted_rows(table: pd.DataFrame) -> list[list[str]]:
    """Display text of every cell of ``table`` (see :func:`format_cell`), row by row."""
    return [[format_cell(v) for v in row] for row in table.itertuples(index=False)]


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Render display text as an escaped GitHub-flavoured Markdown table."""
    lines = [
        "| " + " | ".join(escape_markdown(c) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(escape_markdown(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_to_markdown(table: pd.DataFrame) -> str:
    """Render a DataFrame as an escaped GitHub-flavoured Markdown table (no index)."""
    return markdown_table([str(c) for c in table.columns], formatted_rows(table))


# ---------------------------------------------------------------------- curve descriptions
_METRIC_LABELS = {"mae": "MAE", "rmse": "RMSE"}


def _meta(row: Mapping[str, Any] | pd.Series, key: str) -> str | None:
    value = row.get(key) if hasattr(row, "get") else None
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class CurveLabel:
    """Words describing one curve in sentences, taken from the posterior's metadata.

    Attributes
    ----------
    subject : str
        E.g. ``"density MAE"`` (original scale) or ``"density normalised MAE"``.
    unit : str
        Unit of the error on the chosen scale (``""`` when normalised or unknown).
    samples : str
        What ``n`` counts, e.g. ``"radonpy samples"`` or ``"experimental samples"``.
    name : str
        Short name: property (and database), or the curve id.

    """

    subject: str
    unit: str
    samples: str
    name: str


def describe_curve(curves: pd.DataFrame, curve: str, scale: str) -> CurveLabel:
    """Build the :class:`CurveLabel` of ``curve`` from the metadata table ``curves``."""
    row = curves.loc[curve]
    prop = _meta(row, "property")
    db = _meta(row, "database")
    kind = _meta(row, "kind")
    metric = (_meta(row, "metric") or "error").lower()
    base = metric[1:] if metric in ("nmae", "nrmse") else metric
    metric_label = _METRIC_LABELS.get(base, base)
    if scale == "normalised":
        metric_label = f"normalised {metric_label}"
        unit = ""
    else:
        unit = _meta(row, "unit") or ""
    name = prop if prop else repr(curve)
    subject = f"{name} {metric_label}"
    if kind == "scratch":
        samples = "experimental samples"
    elif db and db.lower() != "none":
        samples = f"{db} samples"
    else:
        samples = "samples"
    short = f"{prop} ({db})" if prop and db and kind != "scratch" else name
    return CurveLabel(subject=subject, unit=unit, samples=samples, name=short)


def with_unit(value: float, unit: str, *, sig: int = 2) -> str:
    """``"0.05 g/cm³"`` (or just the number when there is no unit)."""
    text = format_number(value, sig=sig)
    return f"{text} {unit}" if unit else text


def ceil_significant(value: float, *, sig: int = 2) -> float:
    """Round ``value`` (> 0) *up* to ``sig`` significant figures (for sample sizes needed).

    Examples
    --------
    >>> ceil_significant(12345.0)
    13000.0

    """
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        return v
    mag = 10.0 ** (math.floor(math.log10(v)) - sig + 1)
    return math.ceil(round(v / mag, 9)) * mag


def join_sentences(parts: list[str], *, sep: str = "; ") -> str:
    """Join clauses, capitalise the first letter and end with a full stop."""
    text = sep.join(p for p in parts if p)
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith(".") else text + "."
