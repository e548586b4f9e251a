"""Money with a comma, refund times and amounts in messages, through the API and the order page
(SQLite and PostgreSQL).

An exploratory test found "10,5" recorded as a refund of 105.00, an order line priced "10,5"
saved at 105.00, refunds dated years before their order or in 2099, and "the refund exceeds what
remains paid on the order (172.00)" without the currency.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from retento.core.config import get_settings
from retento.orders.models import Order, Refund
from retento.web.i18n import Formatter
from tests.factories import make_customer, make_order, make_product
from tests.web.conftest import Browser

ORDERED = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)


def _order(db, users, owner="manager") -> Order:
    c = make_customer(db, name="Comma Buyer", owner_id=users[owner].id)
    kettle = make_product(db, name="Kettle", unit_price=Decimal("86.00"))
    o = make_order(db, c, lines=[(kettle, 2)], ordered_at=ORDERED)  # 172.00
    db.commit()
    return o


def _refunds(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Refund))


def _when(locale: str, value: datetime) -> str:
    return Formatter(locale, get_settings().timezone).datetime(value, "short")


def _error(page, field: str) -> str:
    return re.search(rf'id="e-{field}">([^<]*)<', page.text).group(1)


# --- API ---------------------------------------------------------------------------------------


def test_api_order_line_with_a_decimal_comma_is_refused_naming_the_field(client, tokens, db):
    c = make_customer(db)
    p = make_product(db)
    db.commit()
    body = {
        "customer_id": c.id,
        "ordered_at": "2026-04-12T10:00:00Z",
        "lines": [{"product_id": p.id, "quantity": 1, "unit_price": "10,5"}],
    }
    r = client.post("/api/v1/orders", json=body, headers=tokens["manager"])
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "lines.0.unit_price"
    assert problem["detail"] == (
        "lines.0.unit_price: '10,5' is not a number: a comma may only group thousands "
        "(1,250.00); use a point for decimals: 10.5"
    )
    assert db.scalar(select(func.count()).select_from(Order)) == 0
    # A comma that groups thousands still reads as before.
    body["lines"][0]["unit_price"] = "1,250.00"
    r = client.post("/api/v1/orders", json=body, headers=tokens["manager"])
    assert r.status_code == 201 and r.json()["revenue"] == "1250.00"


def test_api_refund_with_a_decimal_comma_is_refused(client, tokens, db, users):
    o = _order(db, users)
    for amount in ("1,5", "1,,000", ",5"):
        r = client.post(
            f"/api/v1/orders/{o.id}/refunds", json={"amount": amount}, headers=tokens["manager"]
        )
        assert r.status_code == 422 and r.json()["field"] == "amount", amount
        assert "a comma may only group thousands" in r.json()["detail"]
    assert _refunds(db) == 0


def test_api_refund_dated_before_the_order_or_in_the_future_is_refused(client, tokens, db, users):
    o = _order(db, users)
    url = f"/api/v1/orders/{o.id}/refunds"
    r = client.post(
        url, json={"amount": "5", "refunded_at": "2000-01-01T00:00:00Z"}, headers=tokens["manager"]
    )
    assert r.status_code == 422 and r.json()["field"] == "refunded_at"
    assert r.json()["detail"] == (
        f"A refund cannot be dated before its order was placed ({_when('en', ORDERED)})."
    )
    r = client.post(
        url, json={"amount": "5", "refunded_at": "2099-01-01T00:00:00Z"}, headers=tokens["manager"]
    )
    assert r.status_code == 422 and r.json()["field"] == "refunded_at"
    assert r.json()["detail"] == "lies in the future"
    assert _refunds(db) == 0
    # The order's own minute (the form gives minutes) and a clock a minute fast are fine.
    for at in ("2025-03-01T12:00:00Z", (datetime.now(UTC) + timedelta(minutes=1)).isoformat()):
        r = client.post(url, json={"amount": "1", "refunded_at": at}, headers=tokens["manager"])
        assert r.status_code == 201, (at, r.text)
    assert _refunds(db) == 2


def test_api_refund_over_what_remains_names_the_amount_with_its_currency(client, tokens, db, users):
    o = _order(db, users)
    r = client.post(
        f"/api/v1/orders/{o.id}/refunds", json={"amount": "1000"}, headers=tokens["manager"]
    )
    assert r.status_code == 422 and r.json()["field"] == "amount"
    assert r.json()["detail"] == "The refund exceeds what remains paid on the order ($172.00)."


def test_api_order_cannot_be_moved_after_its_first_refund(client, tokens, db, users):
    o = _order(db, users)
    url = f"/api/v1/orders/{o.id}"
    r = client.post(
        f"{url}/refunds",
        json={"amount": "5", "refunded_at": "2025-03-05T09:00:00Z"},
        headers=tokens["manager"],
    )
    assert r.status_code == 201
    r = client.patch(url, json={"ordered_at": "2025-03-06T00:00:00Z"}, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["field"] == "ordered_at"
    first = datetime(2025, 3, 5, 9, tzinfo=UTC)
    assert r.json()["detail"] == (
        f"An order cannot be dated after its first refund ({_when('en', first)})."
    )
    r = client.patch(url, json={"ordered_at": "2025-03-05T08:00:00Z"}, headers=tokens["manager"])
    assert r.status_code == 200, r.text
    db.expire_all()
    assert db.get(Order, o.id).ordered_at == datetime(2025, 3, 5, 8, tzinfo=UTC)


# --- The order page ----------------------------------------------------------------------------


def test_refund_form_refuses_a_decimal_comma_in_both_languages(client, db, users):
    o = _order(db, users)
    web = Browser(client)
    web.login("manager")
    bad = web.post(f"/orders/{o.id}/refunds", {"amount": "10,5"})
    assert bad.status_code == 422
    assert _error(bad, "amount") == (
        "&#39;10,5&#39; is not a number: a comma may only group thousands (1,250.00); "
        "use a point for decimals: 10.5"
    )
    users["manager"].locale = "zh_CN"
    db.commit()
    bad = web.post(f"/orders/{o.id}/refunds", {"amount": "10,5"})
    assert bad.status_code == 422
    assert _error(bad, "amount") == (
        "&#39;10,5&#39; 不是数字：逗号只能用作千位分隔符（如 1,250.00）；小数请用小数点：10.5"
    )
    assert 'value="10,5"' in bad.text  # what was typed stays in the field
    assert _refunds(db) == 0
    r = web.post(f"/orders/{o.id}/refunds", {"amount": "10.5"})
    assert r.status_code == 303
    assert "已登记退款 US$10.50。" in web.get(f"/orders/{o.id}").text
    db.expire_all()
    assert db.get(Order, o.id).refunded == Decimal("10.50")


def test_refund_form_refuses_times_before_the_order_or_in_the_future(client, db, users):
    o = _order(db, users)
    web = Browser(client)
    web.login("manager")
    tz = get_settings().timezone
    assert tz  # the form's times are read in the installation's zone
    for locale, before, future in (
        ("en", "A refund cannot be dated before its order was placed ({}).", "lies in the future"),
        ("zh_CN", "退款时间不能早于下单时间（{}）。", "不能晚于现在"),
    ):
        users["manager"].locale = locale
        db.commit()
        bad = web.post(
            f"/orders/{o.id}/refunds", {"amount": "5", "refunded_at": "2020-01-01T00:00"}
        )
        assert bad.status_code == 422
        assert _error(bad, "refunded_at") == before.format(_when(locale, ORDERED))
        bad = web.post(
            f"/orders/{o.id}/refunds", {"amount": "5", "refunded_at": "2099-01-01T00:00"}
        )
        assert bad.status_code == 422 and _error(bad, "refunded_at") == future
    assert _refunds(db) == 0


def test_refund_over_what_remains_is_shown_as_money_in_both_languages(client, db, users):
    o = _order(db, users)
    web = Browser(client)
    web.login("manager")
    bad = web.post(f"/orders/{o.id}/refunds", {"amount": "1000"})
    assert _error(bad, "amount") == "The refund exceeds what remains paid on the order ($172.00)."
    users["manager"].locale = "zh_CN"
    db.commit()
    bad = web.post(f"/orders/{o.id}/refunds", {"amount": "1,000"})  # a thousand, grouped
    assert _error(bad, "amount") == "退款超过了订单剩余的实付金额（US$172.00）。"
    assert _refunds(db) == 0


def test_order_form_price_with_a_decimal_comma_is_a_field_error(client, db, users):
    o = _order(db, users)
    line = o.lines[0]
    web = Browser(client)
    web.login("manager")
    r = web.post(
        f"/orders/{o.id}/edit",
        {
            "ordered_at": "2025-03-01T12:00",
            "status": "completed",
            "channel": "store",
            "discount": "0",
            "lines.0.product_id": str(line.product_id),
            "lines.0.quantity": "2",
            "lines.0.unit_price": "10,5",
            "lines.0.discount": "0",
            "lines.1.product_id": "",
        },
    )
    assert r.status_code == 422
    assert "use a point for decimals: 10.5" in r.text
    db.expire_all()
    assert db.get(Order, o.id).revenue == Decimal("172.00")
