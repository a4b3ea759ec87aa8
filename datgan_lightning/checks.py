"""Argument checks shared by every constructor: one sentence naming the option, the value and the fix.

Plain Python (no torch, no Lightning), so every piece of the package can use it. The checks run in an
order that cannot raise anything but :class:`ValueError`: the type first (a ``bool`` is not a number
here, although Python says it is), then finiteness, then the range.

Example:
    >>> number(0.5, "weight", minimum=0)
    0.5
    >>> number(3, "every", integer=True, minimum=1)
    3
    >>> number(float("nan"), "eps", minimum=0)
    Traceback (most recent call last):
    ...
    ValueError: eps=nan is invalid; use a finite number >= 0.
    >>> number(True, "n_dis", integer=True, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: n_dis=True is invalid; use an integer >= 1.
    >>> pair((0.5,), "betas_g", minimum=0, below=1, fix="use two numbers in [0, 1), e.g. [0.5, 0.999]")
    Traceback (most recent call last):
    ...
    ValueError: betas_g=(0.5,) is invalid; use two numbers in [0, 1), e.g. [0.5, 0.999].
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def require(ok: bool, option: str, value: Any, fix: str) -> None:
    """Raise ``ValueError("<option>=<value> is invalid; <fix>.")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{option}={value!r} is invalid; {fix}.")


def is_number(value: Any) -> bool:
    """A real, finite number that is not a ``bool``."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _range_words(integer: bool, minimum: float | None, above: float | None, below: float | None, maximum: float | None) -> str:
    bounds = [f">= {minimum:g}" if minimum is not None else "", f"> {above:g}" if above is not None else "",
              f"< {below:g}" if below is not None else "", f"<= {maximum:g}" if maximum is not None else ""]
    kind = "an integer" if integer else "a finite number"
    return " ".join([kind, " and ".join(b for b in bounds if b)]).strip()


def number(
    value: Any,
    option: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    maximum: float | None = None,
    fix: str | None = None,
) -> Any:
    """``value`` if it is a finite number (an integer when ``integer``) within the bounds, else ``ValueError``.

    Args:
        value: what the user gave.
        option: the option's name as the user writes it.
        integer: require an integral value (``3`` and ``3.0`` pass, and are returned as ``int``).
        minimum, above, below, maximum: ``value >= minimum``, ``> above``, ``< below``, ``<= maximum``.
        fix: the sentence's second half; by default it states the bounds ("use an integer >= 1").

    Raises:
        ValueError: one sentence naming ``option``, ``value`` and the fix.
    """
    fix = fix or "use " + _range_words(integer, minimum, above, below, maximum)
    ok = is_number(value) and (not integer or int(value) == value)
    ok = ok and (minimum is None or value >= minimum) and (above is None or value > above)
    ok = ok and (below is None or value < below) and (maximum is None or value <= maximum)
    require(ok, option, value, fix)
    return int(value) if integer else value


def optional_number(value: Any, option: str, **bounds: Any) -> Any:
    """``None``, or :func:`number` of ``value``."""
    return None if value is None else number(value, option, **bounds)


def pair(value: Any, option: str, *, fix: str, **bounds: Any) -> tuple[Any, Any]:
    """Two numbers within the bounds of :func:`number`, as a tuple; one sentence for a wrong length too."""
    ok = isinstance(value, (tuple, list)) and len(value) == 2
    require(ok and all(_passes(v, bounds) for v in value), option, tuple(value) if ok or isinstance(value, list) else value, fix)
    return tuple(value)


def _passes(value: Any, bounds: dict[str, Any]) -> bool:
    try:
        number(value, "", **bounds)
    except ValueError:
        return False
    return True


def one_of(value: Any, option: str, choices: tuple[Any, ...]) -> Any:
    """``value`` if it is one of ``choices``."""
    require(value in choices, option, value, f"use one of {choices}")
    return value


def non_finite(name: str, value: Any) -> str:
    """The sentence for a NaN/inf option, shared by the Python API and the ``datgan`` command."""
    return f"{name}={value} is not a finite number; use a finite value."


def check_finite(owner: str, **values: Any) -> None:
    """Raise ``ValueError`` (``"<owner>: <name>=nan is not a finite number; ..."``) for a NaN/inf number."""
    for name, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isfinite(value):
            raise ValueError(f"{owner}: {non_finite(name, value)}" if owner else non_finite(name, value))
