"""Earning rules, tiers (window boundaries, grace, invite-only), events, imports, remedies."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.loyalty import ledger, service, tiers
from retento.loyalty.check import check_ledger
from retento.loyalty.earning import award_event
from retento.loyalty.models import (
    LoyaltyJournal,
    LoyaltyRule,
    LoyaltyTierChange,
)
from retento.loyalty.transfer import import_adjustments
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme, make_tiers

DATA = Path(__file__).resolve().parents[1] / "data" / "import"


def _buy(db, user, c, product, qty=1, at=None):
    return orders.create_order(
        db,
        OrderCreate(
            customer_id=c.id,
            ordered_at=at or utcnow(),
            lines=[{"product_id": product.id, "quantity": qty}],
        ),
        actor=user,
    )


def test_product_category_min_spend_cap_and_validity(db, users):
    make_programme(db)
    a = make_product(db, unit_price=Decimal("10"), category="tea")
    b = make_product(db, unit_price=Decimal("10"), category="cups")
    now = utcnow()
    db.add_all(
        [
            LoyaltyRule(
                name="Tea bonus", kind="category", category="tea", rate=Decimal("0"), fixed_points=5
            ),
            LoyaltyRule(name="Cup x2", kind="product", product_id=b.id, rate=Decimal("2")),
            LoyaltyRule(
                name="Big basket",
                kind="spend",
                fixed_points=100,
                min_spend=Decimal("50"),
                cap_points=150,
                cap_period_days=30,
            ),
            LoyaltyRule(
                name="Expired promo",
                kind="spend",
                fixed_points=999,
                valid_until=now - timedelta(days=1),
            ),
        ]
    )
    db.flush()
    c = make_customer(db)
    _buy(db, users["admin"], c, a, qty=2)  # 20 spend + 2*5 tea = 30
    assert ledger.get_wallet(db, c.id).balance == 30
    _buy(db, users["admin"], c, b, qty=6)  # 60 spend + 120 cups + 100 basket = 280
    assert ledger.get_wallet(db, c.id).balance == 310
    _buy(db, users["admin"], c, b, qty=6)  # basket capped at 50 more
    assert ledger.get_wallet(db, c.id).balance == 310 + 60 + 120 + 50
    assert check_ledger(db).ok


def test_cancelled_orders_never_earn(db, users):
    make_programme(db)
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("10"))
    orders.create_order(
        db,
        OrderCreate(
            customer_id=c.id,
            ordered_at=utcnow(),
            status="cancelled",
            lines=[{"product_id": p.id, "quantity": 3}],
        ),
        actor=users["admin"],
    )
    assert ledger.get_wallet(db, c.id) is None


def test_tier_upgrade_multiplier_and_window_boundary(db, users):
    make_programme(db, tier_window_days=365)
    make_tiers(db, ("silver", 0, "1"), ("gold", 100, "2"))
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("1"))
    now = utcnow()
    # 100 points exactly 365 days ago fall out of the window (start is exclusive) ...
    _buy(db, users["admin"], c, p, qty=100, at=now - timedelta(days=365, seconds=1))
    w = ledger.get_wallet(db, c.id)
    assert w.tier.code == "silver"
    # ... one second inside the window they count: gold (balance is not what qualifies)
    _buy(db, users["admin"], c, p, qty=100, at=now - timedelta(days=364, hours=23))
    assert w.tier.code == "gold"
    _buy(db, users["admin"], c, p, qty=10)
    assert w.balance == 100 + 100 + 20  # gold multiplier 2 on the third order
    assert (
        db.scalar(
            select(func.count()).select_from(Touchpoint).where(Touchpoint.customer_id == c.id)
        )
        >= 1
    )


def test_spending_points_does_not_lose_the_tier(db, users):
    make_programme(db)
    make_tiers(db, ("silver", 0, "1"), ("gold", 100, "1"))
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("1"))
    _buy(db, users["admin"], c, p, qty=150)
    service.redeem(db, c.id, points=150, actor=users["agent"])
    w = ledger.get_wallet(db, c.id)
    tiers.evaluate(db, w, utcnow(), actor_id=None)
    assert w.tier.code == "gold" and w.balance == 0


def test_downgrade_after_grace(db, users):
    make_programme(db, tier_window_days=30)
    t = make_tiers(db, ("silver", 0, "1"), ("gold", 100, "1"))
    t[1].grace_days = 10
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("1"))
    start = utcnow()
    _buy(db, users["admin"], c, p, qty=120, at=start)
    w = ledger.get_wallet(db, c.id)
    assert w.tier.code == "gold"
    later = start + timedelta(days=31)  # the points left the window
    assert tiers.review_all(db, later) == 0
    assert w.grace_until == later + timedelta(days=10) and w.tier.code == "gold"
    assert tiers.review_all(db, later + timedelta(days=9)) == 0 and w.tier.code == "gold"
    assert tiers.review_all(db, later + timedelta(days=10)) == 1
    assert w.tier.code == "silver" and w.grace_until is None
    reasons = [
        ch.reason for ch in db.scalars(select(LoyaltyTierChange).order_by(LoyaltyTierChange.id))
    ]
    assert reasons == ["upgrade", "downgrade"]


def test_requalifying_during_grace_keeps_the_tier(db, users):
    make_programme(db, tier_window_days=30)
    make_tiers(db, ("silver", 0, "1"), ("gold", 100, "1"))
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("1"))
    _buy(db, users["admin"], c, p, qty=120, at=utcnow() - timedelta(days=20))
    w = ledger.get_wallet(db, c.id)
    assert w.tier.code == "gold"
    tiers.review_all(db, utcnow() + timedelta(days=15))
    assert w.grace_until is not None
    _buy(db, users["admin"], c, p, qty=120)
    assert w.tier.code == "gold" and w.grace_until is None


def test_invite_only_tier_is_never_automatic(db, users):
    make_programme(db)
    ts = make_tiers(db, ("silver", 0, "1"), ("black", 10, "3"))
    ts[1].invite_only = True
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("1"))
    _buy(db, users["admin"], c, p, qty=500)
    w = ledger.get_wallet(db, c.id)
    assert w.tier.code == "silver"
    tiers.set_tier(db, c.id, ts[1].id, actor_id=users["manager"].id)
    assert w.tier.code == "black"
    assert tiers.review_all(db, utcnow() + timedelta(days=800)) == 0
    assert w.tier.code == "black"


def test_placing_a_member_in_their_own_tier_changes_nothing(db, users):
    """A second "set tier" (a double click, a retry) recorded a change from the tier to itself,
    restarted its time and told the customer again."""
    from retento.loyalty.models import LoyaltyTierChange

    make_programme(db)
    ts = make_tiers(db, ("silver", 10**9, "1"), ("black", 10**9, "3"))
    c = make_customer(db)
    ledger.wallet(db, c.id)
    first = tiers.set_tier(db, c.id, ts[1].id, actor_id=users["manager"].id)
    w = ledger.get_wallet(db, c.id)
    since = w.tier_since
    assert first is not None and w.tier_id == ts[1].id
    assert tiers.set_tier(db, c.id, ts[1].id, actor_id=users["manager"].id) is None
    assert w.tier_since == since
    n = db.query(LoyaltyTierChange).filter_by(customer_id=c.id).count()
    assert n == 1
    assert tiers.set_tier(db, c.id, None, actor_id=users["manager"].id) is not None
    assert tiers.set_tier(db, c.id, None, actor_id=users["manager"].id) is None
    assert db.query(LoyaltyTierChange).filter_by(customer_id=c.id).count() == 2


def test_event_rules_award_once(db, users):
    make_programme(db)
    db.add(LoyaltyRule(name="Birthday", kind="event", event="birthday", fixed_points=88))
    db.flush()
    c = make_customer(db)
    a = award_event(db, c.id, "birthday", source_type="birthday", source_id="2026", actor_id=None)
    b = award_event(db, c.id, "birthday", source_type="birthday", source_id="2026", actor_id=None)
    assert a.id == b.id and ledger.get_wallet(db, c.id).balance == 88


def test_complaint_remedy_posts_real_points(db, users):
    from retento.complaints import remedies
    from retento.complaints.schemas import RemedyCreate
    from tests.factories.complaints import make_complaint

    make_programme(db)
    comp = make_complaint(db, actor=users["manager"])
    ledger.wallet(db, comp.customer_id)  # a member: a remedy enrols nobody
    remedies.add_remedy(
        db,
        comp.id,
        RemedyCreate(kind="compensation", compensation_type="loyalty_points", points=300),
        actor=users["manager"],
    )
    w = ledger.get_wallet(db, comp.customer_id)
    assert w.balance == 300
    j = db.scalar(select(LoyaltyJournal).where(LoyaltyJournal.source_type == "complaint_remedy"))
    assert j.kind == "event" and j.actor_id == users["manager"].id


def test_reimported_orders_earn_once(db, users):
    from retento.dataio import service as dataio

    make_programme(db)
    admin = users["admin"]
    dataio.import_file(db, "customers", DATA / "customers.csv", actor=admin)
    dataio.import_file(db, "products", DATA / "products.csv", actor=admin)
    dataio.import_file(db, "orders", DATA / "orders.csv", actor=admin)
    n1 = db.scalar(
        select(func.count()).select_from(LoyaltyJournal).where(LoyaltyJournal.kind == "earn")
    )
    assert n1 > 0
    dataio.import_file(db, "orders", DATA / "orders.csv", actor=admin)
    n2 = db.scalar(
        select(func.count()).select_from(LoyaltyJournal).where(LoyaltyJournal.kind == "earn")
    )
    assert n1 == n2
    assert check_ledger(db).ok


def test_reimported_adjustment_file_posts_nothing_twice(db, users):
    make_programme(db)
    make_customer(db, external_id="X1")
    make_customer(db, external_id="X2")
    text = "customer_external_id,points,reason,key\nX1,50,welcome,r1\nX2,70,welcome,r2\n"
    assert import_adjustments(db, io.StringIO(text), actor=users["manager"]) == {
        "posted": 2,
        "replayed": 0,
    }
    assert import_adjustments(db, io.StringIO(text), actor=users["manager"]) == {
        "posted": 0,
        "replayed": 2,
    }
    assert check_ledger(db).ok
    assert datetime.now(UTC)
