"""The ledger's core flows: earn on orders, redeem, refunds, expiry, holds, check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from retento.core.db import utcnow
from retento.core.errors import Conflict
from retento.loyalty import ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.expiry import run_expiry
from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal, LoyaltyLot
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate, RefundCreate
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme


def _order(db, user, customer, amount="100.00", qty=1, at=None):
    p = make_product(db, unit_price=Decimal(amount))
    return orders.create_order(
        db,
        OrderCreate(
            customer_id=customer.id,
            ordered_at=at or utcnow(),
            lines=[{"product_id": p.id, "quantity": qty}],
        ),
        actor=user,
    )


def _balance(db, customer) -> int:
    return ledger.get_wallet(db, customer.id).balance


def test_order_earns_and_check_passes(db, users):
    make_programme(db)
    c = make_customer(db)
    _order(db, users["admin"], c, "123.45")
    assert _balance(db, c) == 123
    assert check_ledger(db).ok


def test_inactive_programme_earns_nothing(db, users):
    c = make_customer(db)
    _order(db, users["admin"], c)
    assert ledger.get_wallet(db, c.id) is None


def test_redeem_allocates_oldest_expiry_first_and_never_below_zero(db, users):
    make_programme(db)
    c = make_customer(db)
    now = utcnow()
    _order(db, users["admin"], c, "50", at=now - timedelta(days=300))
    _order(db, users["admin"], c, "70", at=now - timedelta(days=10))
    red = service.redeem(db, c.id, points=60, actor=users["agent"])
    lots = sorted(db.query(LoyaltyLot).all(), key=lambda x: x.expires_at)
    assert [x.remaining for x in lots] == [0, 60]
    assert red.points == 60 and _balance(db, c) == 60
    with pytest.raises(Conflict):
        service.redeem(db, c.id, points=61, actor=users["agent"])
    assert check_ledger(db).ok


def test_full_refund_claws_back_and_returns_spent_points(db, users):
    make_programme(db)
    c = make_customer(db)
    o1 = _order(db, users["admin"], c, "100")
    o2 = _order(db, users["admin"], c, "200")
    service.redeem(db, c.id, points=50, order_id=o2.id, actor=users["agent"])
    assert _balance(db, c) == 250
    orders.add_refund(db, o2.id, RefundCreate(amount=Decimal("100")), actor=users["admin"])
    # half of 200 earned back, half of the 50 spent on it returned
    assert _balance(db, c) == 250 - 100 + 25
    orders.add_refund(db, o2.id, RefundCreate(amount=Decimal("100")), actor=users["admin"])
    assert _balance(db, c) == 100
    assert o1.id
    assert check_ledger(db).ok


def test_refund_after_points_spent_uses_policy(db, users):
    make_programme(db, refund_policy="negative", negative_limit=30)
    c = make_customer(db)
    o = _order(db, users["admin"], c, "100")
    service.redeem(db, c.id, points=100, actor=users["agent"])
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("100")), actor=users["admin"])
    w = ledger.get_wallet(db, c.id)
    assert w.balance == -30 and w.debt == 30  # 70 written off beyond the limit
    _order(db, users["admin"], c, "50")
    w = ledger.get_wallet(db, c.id)
    assert w.balance == 20 and w.debt == 0
    assert check_ledger(db).ok


def test_cap_policy_never_goes_negative(db, users):
    make_programme(db, refund_policy="cap")
    c = make_customer(db)
    o = _order(db, users["admin"], c, "100")
    service.redeem(db, c.id, points=80, actor=users["agent"])
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("100")), actor=users["admin"])
    assert _balance(db, c) == 0
    assert check_ledger(db).ok


def test_default_policy_never_goes_negative(db, users):
    """SPEC §4: "never a negative balance". A programme whose refund policy was never chosen
    takes back only what is left; a negative balance or debt is an explicit choice."""
    make_programme(db)
    prog = ledger.programme(db)
    assert prog.refund_policy == "cap"
    c = make_customer(db)
    o = _order(db, users["admin"], c, "100")
    service.redeem(db, c.id, points=90, actor=users["agent"])
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("100")), actor=users["admin"])
    w = ledger.get_wallet(db, c.id)
    assert (w.balance, w.debt) == (0, 0)
    assert check_ledger(db).ok


def test_expiry_job_is_idempotent(db, users):
    make_programme(db, expiry_days=30)
    c = make_customer(db)
    _order(db, users["admin"], c, "40", at=utcnow() - timedelta(days=40))
    _order(db, users["admin"], c, "10")
    assert run_expiry(db) == 40
    assert run_expiry(db) == 0
    db.expire_all()
    assert _balance(db, c) == 10
    assert check_ledger(db).ok


def test_holds_reserve_confirm_void_and_time_out(db, users):
    make_programme(db)
    c = make_customer(db)
    _order(db, users["admin"], c, "100")
    h1 = service.reserve(db, c.id, 30, actor=users["agent"])
    h2 = service.reserve(db, c.id, 30, actor=users["agent"])
    h3 = service.reserve(db, c.id, 30, actor=users["agent"], minutes=1)
    with pytest.raises(Conflict):
        service.reserve(db, c.id, 30, actor=users["agent"])
    service.confirm_hold(db, h1.id, actor=users["agent"])
    service.void_hold(db, h2.id, actor=users["agent"])
    assert service.expire_holds(db, utcnow() + timedelta(minutes=2)) == 1
    assert h3.status == "expired"
    assert _balance(db, c) == 70
    assert check_ledger(db).ok


def test_idempotency_key_returns_original(db, users):
    make_programme(db)
    c = make_customer(db)
    _order(db, users["admin"], c, "100")
    a = service.redeem(db, c.id, points=10, actor=users["agent"], idempotency_key="k1")
    b = service.redeem(db, c.id, points=10, actor=users["agent"], idempotency_key="k1")
    assert a.id == b.id and _balance(db, c) == 90
    with pytest.raises(Conflict):
        service.redeem(db, c.id, points=11, actor=users["agent"], idempotency_key="k1")


def test_reversal_of_earn_and_redeem(db, users):
    make_programme(db)
    c = make_customer(db)
    _order(db, users["admin"], c, "100")
    red = service.redeem(db, c.id, points=40, actor=users["agent"])
    service.reverse(db, red.journal_id, actor=users["manager"], reason="wrong customer")
    assert _balance(db, c) == 100
    earn = db.query(LoyaltyJournal).filter_by(kind="earn").one()
    service.reverse(db, earn.id, actor=users["manager"], reason="test order")
    assert _balance(db, c) == 0
    with pytest.raises(Conflict):
        service.reverse(db, earn.id, actor=users["manager"], reason="again")
    assert check_ledger(db).ok


def test_adjust(db, users):
    make_programme(db)
    c = make_customer(db)
    service.adjust(db, c.id, 25, actor=users["manager"], reason="goodwill")
    service.adjust(db, c.id, -5, actor=users["manager"], reason="fix")
    assert _balance(db, c) == 20
    with pytest.raises(Conflict):
        service.adjust(db, c.id, -21, actor=users["manager"], reason="too much")
    assert check_ledger(db).ok
    assert datetime.now(UTC)


def test_expiry_in_batches_moves_each_wallet_by_its_due_remainder(db, users):
    """Several wallets, batch size 2: partly spent, several and no due lots; all balances,
    allocations and the breakage account agree, and a second run finds nothing."""
    make_programme(db)
    old = utcnow() - timedelta(days=400)
    members = [make_customer(db) for _ in range(5)]
    for i, c in enumerate(members):
        service.adjust(db, c.id, 10 * (i + 1), actor=users["admin"], reason="due", expires_at=old)
        service.adjust(db, c.id, 7, actor=users["admin"], reason="fresh")
    service.adjust(db, members[1].id, 5, actor=users["admin"], reason="due too", expires_at=old)
    service.redeem(db, members[2].id, points=25, actor=users["agent"], now=old - timedelta(days=1))
    breakage = ledger.system_account_id(db, "breakage", 0)
    before = db.get(LoyaltyAccount, breakage).balance
    # due: 10, 20 + 5, 30 - 25, 40, 50
    assert run_expiry(db, batch=2) == 10 + 25 + 5 + 40 + 50
    assert run_expiry(db, batch=2) == 0
    db.expire_all()
    assert [_balance(db, c) for c in members] == [7, 7, 7, 7, 7]
    assert db.get(LoyaltyAccount, breakage).balance == before + 130
    assert check_ledger(db).ok


def test_first_posting_creates_the_missing_system_shard(db, users):
    """No system accounts yet: the first journal creates its shard and still posts both sides."""
    ledger.programme(db).active = True
    db.flush()
    c = make_customer(db)
    j = service.adjust(db, c.id, 25, actor=users["admin"], reason="first ever")
    service.redeem(db, c.id, points=5, actor=users["agent"])
    db.expire_all()
    amounts = sorted(p.amount for p in db.get(LoyaltyJournal, j.id).postings)
    assert amounts == [-25, 25]
    assert _balance(db, c) == 20
    assert db.get(LoyaltyAccount, ledger.system_account_id(db, "expense", c.id % 16)).balance == -25
    assert check_ledger(db).ok
