"""A comma in a typed number only ever groups thousands (core.money.number_text).

"10,5" was read as 105: the parsers dropped every comma. Now "1,250.00" is still 1250, and a
comma anywhere else is refused with the reason, in English and in Chinese. No database.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from retento.core.money import Money, money_text, number_text, to_money
from retento.customers.field_values import convert
from retento.web.i18n import message_text


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1,250", "1250.00"),
        ("1,250.00", "1250.00"),
        ("12,345,678.9", "12345678.90"),
        ("-1,250.5", "-1250.50"),
        ("+999,999", "999999.00"),
        (" 1,000 ", "1000.00"),
        ("10.5", "10.50"),
        ("１２", "12.00"),  # full-width digits, as before
        ("１，２５０．５０", "1250.50"),  # full-width comma and point too
        ("－３", "-3.00"),
    ],
)
def test_grouped_and_plain_amounts_are_read(typed, amount):
    assert to_money(typed) == Decimal(amount)


@pytest.mark.parametrize(
    ("typed", "fixed"),
    [("10,5", "10.5"), ("1,2345", "1.2345"), ("12,50", "12.50"), (",5", "0.5"), ("0,500", "0.500")],
)
def test_a_decimal_comma_is_refused_with_the_point_written_out(typed, fixed):
    with pytest.raises(ValueError) as exc:
        to_money(typed)
    assert str(exc.value) == (
        f"'{typed}' is not a number: a comma may only group thousands (1,250.00); "
        f"use a point for decimals: {fixed}"
    )
    assert message_text("zh_CN", exc.value.args[0]) == (
        f"'{typed}' 不是数字：逗号只能用作千位分隔符（如 1,250.00）；小数请用小数点：{fixed}"
    )


@pytest.mark.parametrize("typed", ["1,,000", "1,250,", "1,25,000", "1,000,5.5", "abc,5", "1.5,3"])
def test_other_misplaced_commas_are_refused(typed):
    with pytest.raises(ValueError) as exc:
        number_text(typed)
    assert (
        str(exc.value) == f"'{typed}' is not a number: a comma may only group thousands (1,250.00)"
    )
    assert message_text("zh_CN", exc.value.args[0]).endswith(
        "逗号只能用作千位分隔符（如 1,250.00）"
    )


def test_number_text_leaves_numbers_to_their_reader():
    assert number_text(" 12,345.678 ") == "12345.678"  # decimals are the caller's rule
    assert number_text("１．５") == "1.5"
    assert number_text("10²") == "10²"  # not NFKC: a superscript is not a digit
    assert number_text("") == ""


def test_the_pydantic_money_type_refuses_a_decimal_comma():
    class Line(BaseModel):
        unit_price: Money

    assert Line(unit_price="1,250.00").unit_price == Decimal("1250.00")
    with pytest.raises(ValidationError) as exc:
        Line(unit_price="10,5")
    assert "use a point for decimals: 10.5" in str(exc.value)


class _NumberField:
    field_type = "number"
    options = None


def test_custom_number_fields_read_commas_the_same_way():
    assert convert(_NumberField(), "1,200.50") == "1200.50"
    with pytest.raises(ValueError) as exc:
        convert(_NumberField(), "12,5")
    assert "use a point for decimals: 12.5" in str(exc.value)


def test_money_in_a_message_carries_the_currency_and_grouping():
    shown = money_text(Decimal("1172.00"))
    assert shown == "$1,172.00"
    assert shown.names["zh_CN"] == "US$1,172.00"


def test_the_other_number_fields_use_the_same_rule():
    """Value settings, recorded wallet spend and the score filters read commas like money."""
    from retento.core.errors import InvalidInput
    from retento.scoring import value_settings
    from retento.scoring.pages_scores import _float
    from retento.scoring.relationship import parse_spend
    from retento.scoring.value_rules import DEFAULTS

    values = {k: str(v) for k, v in DEFAULTS.items()}
    ok = value_settings.validate({**values, "small_profit_threshold": "1,250.50"})
    assert ok["small_profit_threshold"] == Decimal("1250.50")
    with pytest.raises(InvalidInput) as exc:
        value_settings.validate({**values, "small_profit_threshold": "10,5"})
    assert exc.value.field == "small_profit_threshold"
    assert "use a point for decimals: 10.5" in exc.value.message
    assert parse_spend("1,250") == Decimal("1250") and parse_spend("12,50") is None
    problems: list = []
    assert _float("1,000", "clv_gte", problems) == 1000.0 and problems == []
    assert _float("0,5", "clv_gte", problems) is None and problems[0].field == "clv_gte"


@pytest.mark.parametrize("text", ["1_000", "1_000.50", "_5"])
def test_underscores_are_not_digit_separators(text):
    """Python's Decimal reads "1_000" as 1000 (an API probe found it stored); no form, file or
    person writes money that way, so it is refused like any other non-number."""
    from retento.core.money import to_money

    with pytest.raises(ValueError, match="is not a number"):
        to_money(text)
