"""Money is ``Decimal`` with two places everywhere in the application."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from retento.core.errors import Msg

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_MONEY = Decimal("999999999999.99")  # Numeric(14, 2)


def to_money(value: Any) -> Decimal:
    """Parse ``value`` into a 2-place Decimal; floats go through ``repr`` to avoid binary noise.

    Refuses (``ValueError``) non-numbers, infinities and NaN, amounts beyond ``Numeric(14, 2)``
    (|x| > 999 999 999 999.99) and amounts with more than two decimal places ("1.005"); trailing
    zeros are fine ("1.500" is 1.50).
    """
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
            raise ValueError(Msg("%(value)s is not a number", value=repr(value))) from exc
    elif isinstance(value, float):
        d = Decimal(repr(value))
    else:
        raise ValueError(Msg("%(value)s is not a money amount", value=repr(value)))
    if not d.is_finite():
        raise ValueError("amount must be finite")
    # Magnitude first: quantizing 1e400 would exceed the decimal context and raise.
    if abs(d) > MAX_MONEY:
        raise ValueError(Msg("amount must be at most %(max)s in absolute value", max=MAX_MONEY))
    q = d.quantize(CENT, rounding=ROUND_HALF_UP)
    if q != d:
        # Refused, not rounded: a silently changed amount is worse than an error.
        raise ValueError("amount must have at most 2 decimal places")
    return q


def _validate(value: Any) -> Decimal:
    return to_money(value)


Money = Annotated[
    Decimal,
    BeforeValidator(_validate),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""Pydantic field type: accepts numbers or strings, stores a 2-place Decimal, serialises as a string."""
