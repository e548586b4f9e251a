"""An order corrected upward after it earned earns the difference (qa report §7).

Correcting an order down clawed points back at once, but correcting it up never earned: a
member whose order was entered with 1 unit instead of 20 kept the points of 1 unit, and a later
refund of the corrected order clawed back nothing until the revenue fell below the first amount.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.loyalty import corrections, ledger, service, tiers
from retento.loyalty.check import check_ledger
from retento.loyalty.models import (
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
    LoyaltyRule,
    LoyaltyRuleUse,
)
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate, OrderUpdate, RefundCreate
from tests.factories import make_customer, make_product, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme, make_tiers
from tests.web.conftest import Browser

PRICE = Decimal("68.00")


def _order(db, user, customer, quantity=1, price=PRICE):
    p = make_product(db, unit_price=price)
    return orders.create_order(
        db,
        OrderCreate(
            customer_id=customer.id,
            ordered_at=utcnow() - timedelta(hours=1),
            lines=[{"product_id": p.id, "quantity": quantity}],
        ),
        actor=user,
    )


def _quantity(db, user, o, quantity):
    """Correct the order's one line to ``quantity`` units (the order form and PATCH do this)."""
    line = {"product_id": o.lines[0].product_id, "quantity": quantity}
    return orders.update_order(db, o.id, OrderUpdate(lines=[line]), actor=user)


def _balance(db, c) -> int:
    """The wallet's balance, asserted equal to the sum of its postings, with the books checked."""
    db.flush()
    db.expire_all()
    w = ledger.get_wallet(db, c.id)
    posted = db.scalar(
        select(func.coalesce(func.sum(LoyaltyPosting.amount), 0)).where(
            LoyaltyPosting.account_id == w.id
        )
    )
    assert w.balance == posted
    report = check_ledger(db)
    assert report.ok, report.problems
    return w.balance


def _order_journals(db, o) -> list[LoyaltyJournal]:
    return list(
        db.scalars(
            select(LoyaltyJournal)
            .where(LoyaltyJournal.source_type == "order", LoyaltyJournal.source_id == str(o.id))
            .order_by(LoyaltyJournal.id)
        )
    )


def test_up_then_down_then_refund(db, users):
    """The QA case: a Gold member (×1.25) earns 85 on 68.00; corrected to 20 units (1,360.00)
    the order earns 1,700 in all; down to 10 units half comes back; a refund of half of what is
    left then claws back against the corrected amount."""
    make_programme(db)
    (gold,) = make_tiers(db, ("gold", 100000, "1.25"))
    admin = users["admin"]
    c = make_customer(db)
    tiers.set_tier(db, c.id, gold.id, actor_id=users["manager"].id)
    o = _order(db, admin, c)
    assert _balance(db, c) == 85
    _quantity(db, admin, o, 20)
    assert _balance(db, c) == 1700
    top_up = _order_journals(db, o)[-1]
    assert top_up.kind == "earn" and top_up.idem_key == f"order:{o.id}:earn:1700"
    assert top_up.reason == f"Order {o.id} corrected"
    lot = db.scalar(select(LoyaltyLot).where(LoyaltyLot.journal_id == top_up.id))
    assert lot.points == 1615 and lot.basis == Decimal("1360.00")
    first = db.scalar(
        select(LoyaltyLot).where(LoyaltyLot.journal_id == _order_journals(db, o)[0].id)
    )
    assert lot.expires_at == first.expires_at and lot.earned_at == first.earned_at
    # Saving the same correction again earns nothing more.
    _quantity(db, admin, o, 20)
    corrections.reverse_for_change(db, o, actor_id=None)
    assert _balance(db, c) == 1700
    # Down to 10 units: half of the order is no longer paid for.
    _quantity(db, admin, o, 10)
    assert _balance(db, c) == 850
    down = _order_journals(db, o)[-1]
    assert down.kind != "earn" and down.reason == f"Order {o.id} corrected"  # not "Lines cancelled"
    # A refund of half of what is left (340.00 of 680.00) takes half of the 850 left.
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("340.00")), actor=admin)
    assert _balance(db, c) == 425
    orders.update_order(db, o.id, OrderUpdate(status="cancelled"), actor=admin)
    assert _balance(db, c) == 0


def test_the_difference_earns_at_the_tier_the_member_had_when_the_order_earned(db, users):
    """The member reached Silver (×1.25) with the corrected order: correcting it again still
    earns at the multiplier of its first earning (no tier then), not the new one."""
    make_programme(db)
    make_tiers(db, ("silver", 500, "1.25"))
    admin = users["admin"]
    c = make_customer(db)
    o = _order(db, admin, c)
    assert _balance(db, c) == 68
    _quantity(db, admin, o, 20)
    assert _balance(db, c) == 1360
    assert ledger.get_wallet(db, c.id).tier.code == "silver"
    _quantity(db, admin, o, 30)  # 2,040.00
    assert _balance(db, c) == 2040


def test_caps_and_minimum_spend_count_as_for_the_first_earning(db, users):
    make_programme(db)
    spend = db.scalar(select(LoyaltyRule).where(LoyaltyRule.kind == "spend"))
    spend.cap_points = 1000
    bonus = LoyaltyRule(
        name="Big order", kind="spend", rate=Decimal(0), fixed_points=200, min_spend=1000
    )
    db.add(bonus)
    db.flush()
    admin = users["admin"]
    c = make_customer(db)
    o = _order(db, admin, c)
    assert _balance(db, c) == 68
    # 1,360.00: the spend rule gives up to its cap (932 more), the big-order bonus its 200.
    _quantity(db, admin, o, 20)
    assert _balance(db, c) == 1000 + 200
    uses = dict(
        db.execute(
            select(LoyaltyRuleUse.rule_id, func.sum(LoyaltyRuleUse.points)).group_by(
                LoyaltyRuleUse.rule_id
            )
        ).all()
    )
    assert uses == {spend.id: 1000, bonus.id: 200}
    # The cap is reached: another order earns only its bonus, and a correction further up
    # earns nothing, yet the order's points now stand for the corrected amount.
    other = _order(db, admin, c, quantity=20)
    assert _balance(db, c) == 1400
    _quantity(db, admin, o, 40)  # 2,720.00
    assert _balance(db, c) == 1400
    assert len(_order_journals(db, o)) == 2
    # Half of it refunded: half of the order's 1,200 points come back.
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("1360.00")), actor=admin)
    assert _balance(db, c) == 800
    assert other.id


def test_down_then_up_gives_back_what_the_reduction_took(db, users):
    make_programme(db)
    admin = users["admin"]
    c = make_customer(db)
    o = _order(db, admin, c, quantity=50)  # 3,400.00
    assert _balance(db, c) == 3400
    _quantity(db, admin, o, 1)
    assert _balance(db, c) == 68
    _quantity(db, admin, o, 20)
    assert _balance(db, c) == 1360
    assert _order_journals(db, o)[-1].idem_key == f"order:{o.id}:restore:1292"
    _quantity(db, admin, o, 50)
    assert _balance(db, c) == 3400
    # Down again: a clawback of its own (its key counts every point ever taken back).
    _quantity(db, admin, o, 1)
    assert _balance(db, c) == 68
    _quantity(db, admin, o, 60)  # past the first amount: the rules earn the rest
    assert _balance(db, c) == 4080
    keys = [j.idem_key for j in _order_journals(db, o)]
    assert len(keys) == len(set(keys)) == 7, keys


def test_points_written_off_by_a_reduction_are_not_given_back_twice(db, users):
    """Policy ``cap``: 3,000 of the 3,400 points were spent, so the reduction could take only
    400 and wrote off the rest; correcting back gives back the 400 it took."""
    make_programme(db, refund_policy="cap")
    admin = users["admin"]
    c = make_customer(db)
    o = _order(db, admin, c, quantity=50)
    service.redeem(db, c.id, points=3000, actor=users["agent"])
    assert _balance(db, c) == 400
    _quantity(db, admin, o, 1)
    assert _balance(db, c) == 0
    _quantity(db, admin, o, 50)
    assert _balance(db, c) == 400


def test_an_order_whose_earning_was_reversed_by_hand_earns_nothing_more(db, users):
    make_programme(db)
    admin = users["admin"]
    c = make_customer(db)
    o = _order(db, admin, c)
    service.reverse(db, _order_journals(db, o)[0].id, actor=users["manager"], reason="mistake")
    assert _balance(db, c) == 0
    _quantity(db, admin, o, 20)
    assert _balance(db, c) == 0


def test_the_api_and_an_import_earn_the_difference_and_history_says_corrected(
    db, client, users, tokens
):
    from retento.dataio.service import import_file

    make_programme(db)
    c = make_customer(db, external_id="C-UP")
    p = make_product(db, external_id="P-UP", unit_price=Decimal("50"))
    db.commit()
    head = (
        "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
        "unit_price,status\n"
    )
    day = (utcnow() - timedelta(days=1)).date().isoformat()
    row = f"O-UP,C-UP,{day},P-UP,{{}},50.00,completed\n"
    import_file(db, "orders", (head + row.format(1)).encode(), actor=users["admin"])
    assert _balance(db, c) == 50
    import_file(db, "orders", (head + row.format(4)).encode(), actor=users["admin"])
    assert _balance(db, c) == 200
    import_file(db, "orders", (head + row.format(4)).encode(), actor=users["admin"])
    assert _balance(db, c) == 200
    db.commit()
    from retento.orders.models import Order

    order_id = db.scalar(select(Order.id).where(Order.external_id == "O-UP"))
    r = client.patch(
        f"/api/v1/orders/{order_id}",
        json={"lines": [{"product_id": p.id, "quantity": 6}]},
        headers=tokens["admin"],
    )
    assert r.status_code == 200, r.text
    assert _balance(db, c) == 300
    for locale, said in (("en", "Order O-UP corrected"), ("zh_CN", "订单 O-UP 已更正")):
        users["manager"].locale = locale
        db.commit()
        web = Browser(client)
        web.login("manager")
        page = web.get(f"/loyalty/members/{c.id}").text
        history = page[page.index('id="history"') :]
        assert history.count(said) == 2, locale


# --- PostgreSQL: two corrections at once ------------------------------------------------------


def _setup_live(live_pg):
    with live_pg.session() as s:
        make_programme(s)
        admin = make_user(s, role="admin")
        c = make_customer(s)
        o = _order(s, admin, c)
        s.commit()
        return c.id, o.id, o.lines[0].product_id, admin.id


def _live_balance(live_pg, cid) -> int:
    with live_pg.session() as s:
        report = check_ledger(s)
        assert report.ok, report.problems
        w = ledger.get_wallet(s, cid)
        posted = s.scalar(
            select(func.coalesce(func.sum(LoyaltyPosting.amount), 0)).where(
                LoyaltyPosting.account_id == w.id
            )
        )
        assert w.balance == posted
        return w.balance


def test_parallel_upward_edits_of_one_order_earn_the_difference_once(live_pg):
    cid, oid, pid, uid = _setup_live(live_pg)

    def edit(i: int):
        from retento.auth.models import User

        with live_pg.session() as s:
            orders.update_order(
                s,
                oid,
                OrderUpdate(lines=[{"product_id": pid, "quantity": 20}]),
                actor=s.get(User, uid),
            )
            s.commit()
            return "ok"

    assert run_parallel(4, edit) == ["ok"] * 4
    assert _live_balance(live_pg, cid) == 1360
    with live_pg.session() as s:
        n = s.scalar(
            select(func.count())
            .select_from(LoyaltyJournal)
            .where(LoyaltyJournal.source_type == "order", LoyaltyJournal.source_id == str(oid))
        )
        assert n == 2  # the first earning and one correction


def test_parallel_settlements_of_one_corrected_order_earn_once(live_pg, monkeypatch):
    """The order is corrected while loyalty does not hear of it; then two settlements of it run
    at once (an import's and a retried request's): the wallet lock and the correction's key let
    one of them earn."""
    cid, oid, pid, uid = _setup_live(live_pg)
    from retento.auth.models import User
    from retento.orders.models import Order

    with monkeypatch.context() as m:
        m.setattr(corrections, "reverse_for_change", lambda *a, **k: [])
        with live_pg.session() as s:
            orders.update_order(
                s,
                oid,
                OrderUpdate(lines=[{"product_id": pid, "quantity": 20}]),
                actor=s.get(User, uid),
            )
            s.commit()
    assert _live_balance(live_pg, cid) == 68

    def settle(i: int):
        with live_pg.session() as s:
            posted = corrections.reverse_for_change(s, s.get(Order, oid), actor_id=None)
            s.commit()
            return len(posted)

    results = run_parallel(6, settle)
    assert sorted(results) == [0] * 5 + [1], results
    assert _live_balance(live_pg, cid) == 1360
