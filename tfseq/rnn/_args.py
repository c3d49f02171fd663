"""Argument checks shared by the ``tfseq.rnn`` cells: a bad value raises ``ValueError`` naming the
cell, the argument and the value (where Keras 3 would clamp a dropout rate silently)."""

import numbers
from typing import Any

from tfseq._checks import check_positive_int


def check_real(owner: str, name: str, value: Any, low: float, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False) -> float:
    """A real number (not a bool) between ``low`` and ``high`` (``None``: unbounded); the
    ``*_open`` flags exclude the bound itself."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            high is None or (value < high if high_open else value <= high))
    if not ok:
        if high is None:
            bound = f"{'>' if low_open else '>='} {low}"
        else:
            bound = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: {name} must be a number {bound}, got {value!r}")
    return float(value)


def check_units_and_dropout(owner: str, units: Any, dropout: Any = 0.0, recurrent_dropout: Any = 0.0) -> None:
    """``units`` a positive int; ``dropout`` and ``recurrent_dropout`` in ``[0, 1)``."""
    check_positive_int(owner, "units", units)
    check_real(owner, "dropout", dropout, 0.0, 1.0, high_open=True)
    check_real(owner, "recurrent_dropout", recurrent_dropout, 0.0, 1.0, high_open=True)
