"""Journal reasons the system writes read in the reader's language (a QA pass in Chinese saw
"Order DO00000388", "Refund on order …" and "Points expired" in the member's history)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from retento.core.db import utcnow
from retento.customers.privacy import erase_customer
from retento.loyalty import service
from retento.loyalty.models import LoyaltyJournal
from retento.loyalty.reason_labels import journal_reason
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate, RefundCreate
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


@pytest.mark.parametrize(
    ("stored", "chinese"),
    [
        ("Order DO00000388", "订单 DO00000388"),
        ("Order DO1 cancelled", "订单 DO1 已取消"),
        ("Refund on order 17", "订单 17 退款"),
        ("Points spent on order A-9 returned", "退回订单 A-9 所用积分"),
        ("Lines cancelled on order 5", "订单 5 的明细行已取消"),
        ("Points expired", "积分过期"),
        ("Hold 12 confirmed", "冻结 12 已确认"),
        ("Hold 12 expired", "冻结 12 已过期"),
        ("Hold POS-7", "冻结 POS-7"),
        ("Complaint RC-ABC: remedy", "投诉 RC-ABC：补救措施"),
        ("Points of customer 4 merged into customer 2", "客户 4 的积分已并入客户 2"),
        ("Reward Tea set", "兑换礼品 Tea set"),
        ("Survey answered", "完成调查"),
        ("Club attendance", "客户组织活动出席"),
    ],
)
def test_system_reasons_are_translated_and_english_kept(stored, chinese):
    assert journal_reason("zh_CN", stored) == chinese
    assert journal_reason("en", stored) == stored


def test_typed_reasons_are_shown_as_typed():
    assert journal_reason("zh_CN", "Goodwill after the call") == "Goodwill after the call"
    assert journal_reason("zh_CN", "补偿") == "补偿"
    assert journal_reason("zh_CN", None) == ""


def test_member_history_reads_in_chinese(client, db, users):
    make_programme(db)
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("40.00"))
    o = orders.create_order(
        db,
        OrderCreate(
            customer_id=c.id,
            external_id="DO-ZH-1",
            ordered_at=utcnow() - timedelta(days=2),
            lines=[{"product_id": p.id, "quantity": 1}],
        ),
        actor=users["admin"],
    )
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("10")), actor=users["admin"])
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/loyalty/members/{c.id}")
    assert page.status_code == 200
    assert "订单 DO-ZH-1" in page.text and "订单 DO-ZH-1 退款" in page.text
    assert "Order DO-ZH-1" not in page.text and "Refund on order" not in page.text
    # The lots list names each lot's source as the history does: the order's number, in
    # Chinese ("order 12", then "订单 12" with the row id, before).
    assert "<td>订单 DO-ZH-1</td>" in page.text and f"<td>订单 {o.id}</td>" not in page.text


def test_a_kind_code_or_empty_reason_reads_as_the_kinds_label():
    # An erasure used to store the journal's kind code in place of an empty reason.
    assert journal_reason("en", "redeem", None, "redeem") == "Redemption"
    assert journal_reason("zh_CN", "redeem", None, "redeem") == "兑换"
    assert journal_reason("zh_CN", "", None, "adjust") == "手工调整"
    # Only the journal's own kind: a typed reason that happens to be another code stays.
    assert journal_reason("en", "redeem", None, "adjust") == "redeem"


def test_erased_members_history_shows_kind_labels_not_codes(client, db, users):
    """A QA pass saw ``redeem`` in an erased member's history: the erasure stored the kind code
    as the reason when nothing was left of it."""
    make_programme(db)
    c = make_customer(db, name="Li Lei")
    service.adjust(db, c.id, 50, actor=users["admin"], reason="Welcome")
    service.redeem(db, c.id, points=20, actor=users["agent"], note="Gift")
    journals = {j.kind: j for j in db.query(LoyaltyJournal).filter_by(customer_id=c.id)}
    journals["redeem"].reason = ""  # nothing left to keep
    journals["adjust"].reason = "adjust"  # as an earlier erasure left it
    db.flush()
    erase_customer(db, c.id, actor=users["admin"], reason="request")
    db.expire_all()
    stored = {j.kind: j.reason for j in db.query(LoyaltyJournal).filter_by(customer_id=c.id)}
    assert stored["redeem"] == ""
    web = Browser(client)
    web.login("manager")
    for locale, redeemed, adjusted in (
        ("en", "Redemption", "Adjustment"),
        ("zh_CN", "兑换", "手工调整"),
    ):
        users["manager"].locale = locale
        db.commit()
        page = web.get(f"/loyalty/members/{c.id}")
        assert page.status_code == 200
        reasons = re.findall(r"</td><td>([^<]*)</td><td>[^<]*</td><td class=\"num", page.text)
        assert f"{redeemed}" in reasons and adjusted in reasons, reasons
        assert "redeem" not in reasons and "adjust" not in reasons
