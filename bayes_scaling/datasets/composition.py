"""Chemical-formula parsing and normalisation (fast, cached, no pymatgen needed).

The band-gap files write the same composition in different styles: ``Co12Mn5Nd2`` (explicit
counts, element-sorted), ``Ag(AuS)2`` (groups), ``Ag0.5Ge1Pb1.75S4`` (fractional amounts).
Before deduplicating, every formula is turned into one canonical *key* by
:func:`normalise_formula`:

1. parse into ``{element: amount}`` (nested ``()``/``[]`` groups, decimal amounts, repeated
   elements summed; same result as :class:`pymatgen.core.Composition`, which the tests check);
2. find the smallest integer multiplier ``m`` in ``1..100`` that makes every amount an
   integer (tolerance ``1e-6``), multiply, and divide by the greatest common divisor, so
   ``Li0.5Fe0.5O1``, ``Li2Fe2O4`` and ``FeLiO2`` all become ``FeLiO2``;
3. if no such multiplier exists (``Lu3.94S4.0582``), keep the amounts as written, rounded
   to 6 significant digits;
4. write the elements in alphabetical order, omitting amounts equal to 1.

Alphabetical order is used (rather than pymatgen's electronegativity order) because it is
simple to reproduce and independent of pymatgen's version. The key identifies a
*composition*; polymorphs of one composition share a key (``mp_gap`` has many).

Batch functions memoise per distinct formula within a call (single-formula calls use a small
LRU cache), so normalising hundreds of thousands of formulas costs a few seconds without a
large process-wide cache.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache, reduce

from bayes_scaling.exceptions import FeaturizationError

#: Element symbols ordered by atomic number (index + 1 = Z), hydrogen to oganesson.
ELEMENTS: tuple[str, ...] = (
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S",
    "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga",
    "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd",
    "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm",
    "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os",
    "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa",
    "U", "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg",
    "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
)  # fmt: skip

#: Atomic number of each element symbol.
ATOMIC_NUMBER: dict[str, int] = {sym: z for z, sym in enumerate(ELEMENTS, start=1)}

_SIMPLE = re.compile(r"(?:[A-Z][a-z]?(?:\d+(?:\.\d*)?|\.\d+)?)+")
_SIMPLE_TOKEN = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d*)?|\.\d+)?")
_TOKEN = re.compile(r"([A-Z][a-z]?)|(\d+(?:\.\d*)?|\.\d+)|([(\[])|([)\]])|(\s+)")
_MAX_MULTIPLIER = 100
_INT_TOL = 1e-6


def parse_formula(formula: str) -> dict[str, float]:
    """Parse a chemical formula into element amounts.

    Parameters
    ----------
    formula : str
        Formula such as ``"Fe2O3"``, ``"Ag(AuS)2"``, ``"Ca[OH]2"`` or ``"Ag0.5Ge1Pb1.75S4"``.

    Returns
    -------
    dict of str to float
        Amount of each element (positive), in order of first appearance.

    Raises
    ------
    FeaturizationError
        If the string is empty, contains unknown element symbols or characters, has
        unbalanced brackets or zero amounts.

    Examples
    --------
    >>> parse_formula("Ag(AuS)2")
    {'Ag': 1.0, 'Au': 2.0, 'S': 2.0}

    """
    return dict(_parse_cached(formula))


def _parse(formula: str) -> tuple[tuple[str, float], ...]:
    """Parse without caching (see :func:`parse_formula`)."""
    if not isinstance(formula, str) or not formula.strip():
        raise FeaturizationError(f"Empty or non-string formula {formula!r}.")
    if _SIMPLE.fullmatch(formula):  # fast path: no brackets, e.g. "Co12Mn5Nd2", "Ag0.5S"
        simple: dict[str, float] = {}
        for elem, num in _SIMPLE_TOKEN.findall(formula):
            if elem not in ATOMIC_NUMBER:
                raise FeaturizationError(f"Formula {formula!r}: unknown element {elem!r}.")
            value = float(num) if num else 1.0
            if value <= 0:
                raise FeaturizationError(f"Formula {formula!r}: amount {num!r} is not positive.")
            simple[elem] = simple.get(elem, 0.0) + value
        return tuple(simple.items())
    stack: list[dict[str, float]] = [{}]
    last: dict[str, float] | None = None  # what a following number multiplies
    last_elem: str | None = None
    pos = 0
    while pos < len(formula):
        m = _TOKEN.match(formula, pos)
        if m is None:
            raise FeaturizationError(
                f"Formula {formula!r}: unexpected character {formula[pos]!r} at position {pos}."
            )
        elem, num, opening, closing, _space = m.groups()
        if elem is not None:
            if elem not in ATOMIC_NUMBER:
                raise FeaturizationError(f"Formula {formula!r}: unknown element {elem!r}.")
            stack[-1][elem] = stack[-1].get(elem, 0.0) + 1.0
            last, last_elem = None, elem
        elif num is not None:
            value = float(num)
            if value <= 0:
                raise FeaturizationError(f"Formula {formula!r}: amount {num!r} is not positive.")
            if last_elem is not None:
                stack[-1][last_elem] += value - 1.0
            elif last is not None:
                for key in last:
                    stack[-1][key] = stack[-1].get(key, 0.0) + last[key] * (value - 1.0)
            else:
                raise FeaturizationError(
                    f"Formula {formula!r}: number {num!r} at position {pos} follows no element "
                    "or group."
                )
            last, last_elem = None, None
        elif opening is not None:
            stack.append({})
            last, last_elem = None, None
        elif closing is not None:
            if len(stack) == 1:
                raise FeaturizationError(f"Formula {formula!r}: unbalanced {closing!r}.")
            group = stack.pop()
            if not group:
                raise FeaturizationError(f"Formula {formula!r}: empty group.")
            for key, amount in group.items():
                stack[-1][key] = stack[-1].get(key, 0.0) + amount
            last, last_elem = group, None
        pos = m.end()
    if len(stack) != 1:
        raise FeaturizationError(f"Formula {formula!r}: unbalanced brackets.")
    if not stack[0]:
        raise FeaturizationError(f"Formula {formula!r} contains no element.")
    return tuple(stack[0].items())


_parse_cached = lru_cache(maxsize=65_536)(_parse)


def _format_amount(value: float) -> str:
    if abs(value - 1.0) < _INT_TOL:
        return ""
    if abs(value - round(value)) < _INT_TOL:
        return str(int(round(value)))
    return f"{value:.6g}"


def _normalise(formula: str) -> str:
    amounts = _parse(formula)
    elems = sorted(el for el, _ in amounts)
    values = dict(amounts)
    vec = [values[el] for el in elems]
    for mult in range(1, _MAX_MULTIPLIER + 1):
        scaled = [v * mult for v in vec]
        if all(abs(s - round(s)) < _INT_TOL * mult for s in scaled):
            ints = [int(round(s)) for s in scaled]
            if min(ints) > 0:
                g = reduce(math.gcd, ints)
                return "".join(
                    el + _format_amount(n // g) for el, n in zip(elems, ints, strict=True)
                )
    return "".join(el + _format_amount(float(f"{v:.6g}")) for el, v in zip(elems, vec, strict=True))


_normalise_cached = lru_cache(maxsize=65_536)(_normalise)


def normalise_formula(formula: str) -> str:
    """Return the canonical composition key of a formula (reduced, element-sorted).

    Parameters
    ----------
    formula : str
        Any formula accepted by :func:`parse_formula`.

    Returns
    -------
    str
        Reduced formula with elements in alphabetical order and amounts of 1 omitted.

    Raises
    ------
    FeaturizationError
        If the formula cannot be parsed.

    Examples
    --------
    >>> normalise_formula("Co12Mn5Nd2"), normalise_formula("Ag(AuS)2")
    ('Co12Mn5Nd2', 'AgAu2S2')
    >>> normalise_formula("Li0.5Fe0.5O1") == normalise_formula("O2Li1Fe1")
    True

    """
    return _normalise_cached(formula)


def normalise_formulas(formulas: Iterable[object]) -> tuple[list[str | None], list[int]]:
    """Normalise many formulas, collecting the positions of unparseable ones.

    Parameters
    ----------
    formulas : iterable
        Formula strings (anything else counts as invalid).

    Returns
    -------
    keys : list of str or None
        Canonical key per input (``None`` where invalid).
    invalid : list of int
        Positions of the invalid inputs.

    """
    keys: list[str | None] = []
    invalid: list[int] = []
    seen: dict[object, str | None] = {}  # per-call memo: no process-wide cache of 300k keys
    for i, formula in enumerate(formulas):
        try:
            key = seen[formula]
        except KeyError:
            try:
                key = _normalise(formula)  # type: ignore[arg-type]
            except (FeaturizationError, TypeError):
                key = None
            seen[formula] = key
        except TypeError:  # unhashable
            key = None
        keys.append(key)
        if key is None:
            invalid.append(i)
    return keys, invalid


def fractional_composition(formula: str) -> dict[str, float]:
    """Return atomic fractions (summing to one) of a formula.

    Examples
    --------
    >>> fractional_composition("Fe2O3")
    {'Fe': 0.4, 'O': 0.6}

    """
    amounts = _parse_cached(formula)
    total = sum(a for _, a in amounts)
    return {el: a / total for el, a in amounts}
