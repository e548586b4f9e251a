"""Pending points (return window) and order cancellation reversing points like a refund."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput
from retento.loyalty import earning, ledger, programme, service
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyLot
from retento.loyalty.schemas import ProgrammeUpdate
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate, OrderUpdate, RefundCreate
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme


def _order(db, user, customer, amounts=("100.00",), at=None):
    lines = []
    for a in amounts:
        p = make_product(db, unit_price=Decimal(a))
        lines.append({"product_id": p.id, "quantity": 1})
    return orders.create_order(
        db,
        OrderCreate(customer_id=customer.id, ordered_at=at or utcnow(), lines=lines),
        actor=user,
    )


def _wallet(db, c):
    db.expire_all()
    return ledger.get_wallet(db, c.id)


def test_pending_points_cannot_be_redeemed_or_held_until_the_window_ends(db, users):
    make_programme(db, pending_days=14)
    c = make_customer(db)
    now = utcnow()
    _order(db, users["admin"], c, ("100",), at=now - timedelta(days=20))  # window over
    _order(db, users["admin"], c, ("70",), at=now - timedelta(days=2))  # pending 12 more days
    w = _wallet(db, c)
    assert w.balance == 170
    assert ledger.spendable(db, w, now) == 100
    pend = earning.pending(db, c.id, now)
    assert [n for n, _at in pend] == [70]
    assert abs((pend[0][1] - (now + timedelta(days=12))).total_seconds()) < 5
    view = service.member_view(db, c.id, actor=users["agent"])
    assert view.available == 100 and view.wallet.balance == 170
    with pytest.raises(Conflict):
        service.redeem(db, c.id, points=101, actor=users["agent"])
    with pytest.raises(Conflict):
        service.reserve(db, c.id, 101, actor=users["agent"])
    red = service.redeem(db, c.id, points=100, actor=users["agent"])
    pending_lot = db.query(LoyaltyLot).filter(LoyaltyLot.points == 70).one()
    assert pending_lot.remaining == 70  # never touched by the redemption
    assert red.points == 100
    # After the window the points are spendable.
    later = now + timedelta(days=13)
    assert ledger.spendable(db, _wallet(db, c), later) == 70
    assert service.redeem(db, c.id, points=70, actor=users["agent"], now=later).points == 70
    assert check_ledger(db).ok


def test_refund_inside_the_window_claws_back_the_pending_points(db, users):
    make_programme(db, pending_days=30)
    c = make_customer(db)
    o = _order(db, users["admin"], c, ("200",))
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("50")), actor=users["admin"])
    w = _wallet(db, c)
    assert w.balance == 150 and w.debt == 0
    assert earning.pending(db, c.id) and earning.pending(db, c.id)[0][0] == 150
    assert check_ledger(db).ok


def test_pending_window_is_a_programme_setting_shorter_than_expiry(db, users):
    make_programme(db)
    p = programme.update_programme(db, ProgrammeUpdate(pending_days=7), actor=users["manager"])
    assert p.pending_days == 7
    with pytest.raises(InvalidInput) as e:
        programme.update_programme(
            db, ProgrammeUpdate(pending_days=40, expiry_days=30), actor=users["manager"]
        )
    assert e.value.field == "pending_days"
    assert p.pending_days == 7 and p.expiry_days == 365  # nothing changed


def test_cancelling_an_order_reverses_its_points_and_returns_spent_points(db, users):
    make_programme(db)
    c = make_customer(db)
    first = _order(db, users["admin"], c, ("100",))
    o = _order(db, users["admin"], c, ("80",))
    service.redeem(db, c.id, points=30, actor=users["agent"], order_id=o.id)
    assert _wallet(db, c).balance == 150
    orders.update_order(db, o.id, OrderUpdate(status="cancelled"), actor=users["admin"])
    w = _wallet(db, c)
    # 80 earned points taken back, the 30 spent on the order given back.
    assert w.balance == 100
    assert check_ledger(db).ok
    # Saving the cancelled order again posts nothing more.
    n = db.query(LoyaltyJournal).count()
    orders.update_order(db, o.id, OrderUpdate(note="again"), actor=users["admin"])
    assert db.query(LoyaltyJournal).count() == n
    assert first.status == "completed"


def test_cancelling_lines_claws_back_like_a_partial_refund_then_refunds_stay_exact(db, users):
    make_programme(db)
    c = make_customer(db)
    o = _order(db, users["admin"], c, ("60", "40"))
    assert _wallet(db, c).balance == 100
    keep = [
        {"product_id": ln.product_id, "quantity": ln.quantity}
        for ln in o.lines
        if ln.unit_price == Decimal("60")
    ]
    orders.update_order(db, o.id, OrderUpdate(lines=keep), actor=users["admin"])
    assert _wallet(db, c).balance == 60
    # A refund of half of what is left claws back half of the remaining 60.
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("30")), actor=users["admin"])
    assert _wallet(db, c).balance == 30
    orders.update_order(db, o.id, OrderUpdate(status="cancelled"), actor=users["admin"])
    assert _wallet(db, c).balance == 0
    assert check_ledger(db).ok


def test_imported_cancellation_reverses_points(db, users):
    from retento.dataio.service import import_file

    make_programme(db)
    c = make_customer(db, external_id="C-IMP")
    p = make_product(db, external_id="P-IMP", unit_price=Decimal("50"))
    db.commit()
    head = (
        "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
        "unit_price,status\n"
    )
    day = (utcnow() - timedelta(days=1)).date().isoformat()
    row = f"O-1,C-IMP,{day},P-IMP,2,50.00,{{}}\n"
    import_file(db, "orders", (head + row.format("completed")).encode(), actor=users["admin"])
    assert _wallet(db, c).balance == 100
    import_file(db, "orders", (head + row.format("cancelled")).encode(), actor=users["admin"])
    assert _wallet(db, c).balance == 0
    assert check_ledger(db).ok
    assert p.id


def test_pages_show_pending_points_and_save_the_window(db, client, users):
    from tests.web.conftest import Browser

    make_programme(db, pending_days=10)
    c = make_customer(db)
    _order(db, users["admin"], c, ("40",))
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/loyalty/members/{c.id}")
    assert page.status_code == 200 and 'id="pending"' in page.text and "40" in page.text
    assert web.get("/loyalty/programme").text.count('name="pending_days"') == 1
    form = {"name": "Club", "currency": "CNY", "point_value": "0.01", "expiry_days": "365"}
    form.update({"expiring_soon_days": "30", "refund_policy": "negative", "negative_limit": "0"})
    form.update({"tier_basis": "points", "tier_window_days": "365", "hold_minutes": "15"})
    form.update({"active_days": "90", "active": "1", "auto_enrol": "1"})
    assert web.post("/loyalty/programme", {**form, "pending_days": "21"}).status_code == 303
    db.expire_all()
    assert ledger.programme(db).pending_days == 21
    bad = web.post("/loyalty/programme", {**form, "pending_days": "400"})
    assert bad.status_code == 422 and 'id="f-pending_days"' in bad.text
    users["analyst"].locale = "zh_CN"
    db.commit()
    web.login("analyst")
    zh = web.get(f"/loyalty/members/{c.id}")
    assert "待生效积分" in zh.text


def test_member_view_sums_agree_with_the_ledger_and_tier_rules(db, users):
    """member_view reads its sums in one statement; each must equal the rule it shows: spendable
    points (ledger.spendable), qualifying points (tiers.qualifying), points expiring within the
    notice window and open holds."""
    from retento.loyalty.tiers import qualifying

    make_programme(db, pending_days=14, expiring_soon_days=30)
    c = make_customer(db)
    now = utcnow()
    _order(db, users["admin"], c, ("100",), at=now - timedelta(days=20))  # spendable
    _order(db, users["admin"], c, ("70",), at=now - timedelta(days=2))  # pending
    _order(db, users["admin"], c, ("40",), at=now - timedelta(days=400))  # out of the tier window
    soon_lot = db.query(LoyaltyLot).filter(LoyaltyLot.points == 100).one()
    soon_lot.expires_at = now + timedelta(days=10)  # expires within the 30-day notice window
    db.flush()
    service.reserve(db, c.id, 30, actor=users["agent"])  # an open hold
    w = _wallet(db, c)
    view = service.member_view(db, c.id, actor=users["agent"])
    assert view.available == max(0, ledger.spendable(db, w, utcnow()))
    assert view.qualifying == qualifying(db, w, utcnow())
    open_lots = db.query(LoyaltyLot).filter(LoyaltyLot.account_id == w.id).all()
    assert view.expiring_soon == sum(
        lot.remaining
        for lot in open_lots
        if lot.remaining > 0 and lot.expires_at <= view.expiring_by
    )
    assert view.expiring_soon > 0 and view.held == 30
    assert view.qualifying > 0 and view.available > 0
