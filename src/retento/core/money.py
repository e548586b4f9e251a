"""Money is ``Decimal`` with two places everywhere in the application."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_MONEY = Decimal("999999999999.99")  # Numeric(14, 2)


def to_money(value: Any) -> Decimal:
    """Parse ``value`` into a 2-place Decimal; floats go through ``str`` to avoid binary noise."""
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool):
        raise ValueError("not a money amount")
    elif isinstance(value, int | str):
        text = str(value).strip().replace(",", "")
        if text == "":
            raise ValueError("empty amount")
        try:
            d = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    elif isinstance(value, float):
        d = Decimal(repr(value))
    else:
        raise ValueError(f"{value!r} is not a money amount")
    if not d.is_finite():
        raise ValueError("amount must be finite")
    d = d.quantize(CENT, rounding=ROUND_HALF_UP)
    if abs(d) > MAX_MONEY:
        raise ValueError("amount is too large")
    return d


def _validate(value: Any) -> Decimal:
    return to_money(value)


Money = Annotated[
    Decimal,
    BeforeValidator(_validate),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""Pydantic field type: accepts numbers or strings, stores a 2-place Decimal, serialises as a string."""
