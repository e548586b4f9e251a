"""Money is ``Decimal`` with two places everywhere in the application."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from retento.core.errors import Msg, Named

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_MONEY = Decimal("999999999999.99")  # Numeric(14, 2)

# Full-width digits, comma, point and signs (a Chinese input method's "１２，５００．５０") as
# their ASCII forms; nothing else is normalised (NFKC would also read "10²" as 102).
_FULL_WIDTH = str.maketrans("０１２３４５６７８９，．＋－", "0123456789,.+-")
# Commas that group thousands: "1,250", "-12,345,678.90". The first group has no leading zero:
# "0,500" is a decimal comma (0.5), not five hundred.
_GROUPED = re.compile(r"[+-]?[1-9][0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]*)?")

COMMA_DECIMAL = (
    "'%(value)s' is not a number: a comma may only group thousands (1,250.00); "
    "use a point for decimals: %(fixed)s"
)
COMMA_MISPLACED = "'%(value)s' is not a number: a comma may only group thousands (1,250.00)"


def number_text(text: str) -> str:
    """Typed number text made ready for ``Decimal`` or ``float``: stripped, full-width digits and
    punctuation read as ASCII, and commas that group thousands ("1,250", "12,345,678.9") removed.

    Every form, API field and import column reads numbers through here. A comma anywhere else
    is refused (``ValueError`` with the reason): "10,5" is ten and a half written the European
    way, and dropping the comma made it 105.
    """
    plain = text.strip().translate(_FULL_WIDTH)
    if "," not in plain:
        return plain
    if _GROUPED.fullmatch(plain):
        return plain.replace(",", "")
    shown = text.strip()[:40]
    if plain.count(",") == 1 and "." not in plain:
        try:
            fixed = Decimal(plain.replace(",", "."))
        except InvalidOperation:
            fixed = None
        if fixed is not None and fixed.is_finite():
            raise ValueError(Msg(COMMA_DECIMAL, value=shown, fixed=format(fixed, "f")))
    raise ValueError(Msg(COMMA_MISPLACED, value=shown))


def to_money(value: Any) -> Decimal:
    """Parse ``value`` into a 2-place Decimal; floats go through ``repr`` to avoid binary noise.

    Refuses (``ValueError``) non-numbers, infinities and NaN, amounts beyond ``Numeric(14, 2)``
    (|x| > 999 999 999 999.99), amounts with more than two decimal places ("1.005") and a comma
    that does not group thousands ("10,5": :func:`number_text`); trailing zeros are fine
    ("1.500" is 1.50).
    """
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool):
        raise ValueError("not a money amount")
    elif isinstance(value, int | str):
        text = number_text(str(value))
        if text == "":
            raise ValueError("empty amount")
        try:
            if "_" in text:  # Decimal reads "1_000" as 1000: no form or file writes money so
                raise InvalidOperation
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


def money_text(value: Decimal) -> Named:
    """An amount inside a service's message as the pages write it: the installation's currency,
    grouped, in each language ("$1,234.50" / "US$1,234.50"), not a bare "1234.50"."""
    from retento.core.config import get_settings
    from retento.web.i18n import Formatter

    currency = get_settings().currency
    return Named(
        Formatter("en", currency=currency).money(value),
        zh_CN=Formatter("zh_CN", currency=currency).money(value),
    )


def _validate(value: Any) -> Decimal:
    return to_money(value)


Money = Annotated[
    Decimal,
    BeforeValidator(_validate),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""Pydantic field type: accepts numbers or strings, stores a 2-place Decimal, serialises as a string."""
