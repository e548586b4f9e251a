"""One way to write a day, an amount and a minus sign on every screen: the app's formatter."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from retento.complaints import remedies
from retento.complaints.schemas import RemedyCreate
from retento.orders.schemas import RefundCreate
from retento.orders.service import add_refund
from retento.web.i18n import Formatter
from tests.factories import make_customer, make_order, make_product
from tests.factories.complaints import make_complaint

MINUS_SIGN = "\u2212"  # "−": typeset by hand before some amounts, unlike every other negative


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_timestamp_writes_its_day_as_a_date_does(locale):
    """A page showed "Jun 30, 2025" beside "6/30/25, 2:05 PM" and "Jun 30, 2025, 2:05:09 PM"."""
    fmt = Formatter(locale, "Asia/Shanghai")
    at = datetime(2025, 6, 30, 6, 5, 9, tzinfo=UTC)  # 14:05:09 in Shanghai
    day = fmt.date(at)
    assert day == {"en": "Jun 30, 2025", "zh_CN": "2025年6月30日"}[locale]
    for length in ("short", "medium"):
        assert fmt.datetime(at, length).startswith(day)
    assert fmt.datetime(at) == fmt.datetime(at, "short")  # one default: to the minute
    assert "05:09" not in fmt.datetime(at) and "05:09" in fmt.datetime(at, "medium")
    assert (
        fmt.datetime(at)
        == {"en": "Jun 30, 2025, 2:05\u202fPM", "zh_CN": "2025年6月30日 14:05"}[locale]
    )


def test_the_complaint_timeline_writes_a_remedy_amount_with_its_currency(web, db, users):
    c = make_complaint(db, users["manager"])
    remedies.add_remedy(
        db,
        c.id,
        RemedyCreate(kind="compensation", compensation_type="voucher", amount="1000", cost="7.5"),
        actor=users["manager"],
    )
    db.commit()
    web.login("manager")
    timeline = web.get(f"/complaints/{c.id}").text.split('id="complaint-timeline"')[1]
    entry = next(li for li in timeline.split("</li>") if "♥" in li)
    assert "$1,000.00" in entry
    assert not re.search(r"· 1000(\.00)?\b", entry)  # the bare stored number
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    timeline = web.get(f"/complaints/{c.id}").text.split('id="complaint-timeline"')[1]
    entry = next(li for li in timeline.split("</li>") if "♥" in li)
    assert "US$1,000.00" in entry


def test_refunds_and_order_discounts_have_the_formatters_minus_sign(web, db, users):
    customer = make_customer(db)
    product = make_product(db, unit_price=Decimal("80.00"), unit_cost=Decimal("30.00"))
    order = make_order(db, customer, lines=[(product, 2)], discount=Decimal("5.00"))
    add_refund(db, order.id, RefundCreate(amount="12.50"), actor=users["manager"])
    db.commit()
    fmt = Formatter("en")
    web.login("manager")
    page = web.get(f"/orders/{order.id}").text
    assert f'<td class="num">{fmt.money(Decimal("-5.00"))}</td>' in page  # -$5.00
    assert MINUS_SIGN + "$" not in page
    page = web.get(f"/customers/{customer.id}").text
    assert f"<strong>{fmt.money(Decimal('-12.50'))}</strong>" in page
    assert MINUS_SIGN + "$" not in page


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_decimal_writes_the_digits_that_carry_information(locale):
    """``fmt.decimal`` for stored numbers padded with zeros (a rate ``Numeric(10, 4)``, a point
    value ``Numeric(12, 6)``, a float threshold), ``decimal_input`` for their form fields."""
    from retento.web.forms import decimal_input

    fmt = Formatter(locale)
    shown = [
        fmt.decimal(v)
        for v in (
            Decimal("1.0000"),
            Decimal("0.0000"),
            Decimal("0.010000"),
            100.0,
            2.0,
            1.25,
            0.1,
            Decimal("1234567.50"),
            Decimal("-0.0000001"),
            None,
        )
    ]
    assert shown == ["1", "0", "0.01", "100", "2", "1.25", "0.1", "1,234,567.5", "0", "—"]
    assert fmt.decimal(Decimal("0.123456789"), 3) == "0.123"
    assert [decimal_input(v) for v in (Decimal("1.0000"), Decimal("0.010000"), 100.0, 0.7)] == [
        "1",
        "0.01",
        "100",
        "0.7",
    ]
    assert decimal_input(None) == "" and decimal_input(Decimal("1E+3")) == "1000"
