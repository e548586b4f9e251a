"""Loyalty seen from other domains: the tier's SLA class picks the complaint SLA policy, and the
customer privacy export and erasure cover the loyalty records (the books stay balanced)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retento.core.db import utcnow
from retento.core.errors import InvalidInput
from retento.customers.models import Customer
from retento.customers.privacy import collect, erase_customer
from retento.loyalty import clubs, ledger, programme, service, tiers
from retento.loyalty.check import check_ledger
from retento.loyalty.measure_models import LoyaltyMeasurement, LoyaltyMeasurementRun
from retento.loyalty.models import LoyaltyClubMember, LoyaltyJournal, LoyaltyTier
from retento.loyalty.schemas import ClubEventIn, ClubIn, TierIn
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate
from tests.factories import make_customer, make_product
from tests.factories.complaints import make_complaint, only_policies
from tests.factories.loyalty import make_programme


def test_a_gold_members_complaint_gets_golds_sla(db, users):
    make_programme(db)
    gold_policy, default = only_policies(
        db,
        {"name": "Gold SLA", "value_class": "vip", "first_response_minutes": 15},
        {"name": "Standard SLA", "first_response_minutes": 240, "resolution_minutes": 2400},
    )
    gold = programme.save_tier(
        db,
        TierIn(
            code="gold", name="Gold", rank=1, threshold=10**9, sla_class="vip", invite_only=True
        ),
        actor=users["manager"],
    )
    member = make_customer(db)
    tiers.set_tier(db, member.id, gold.id, actor_id=users["manager"].id)
    plain = make_customer(db)
    c1 = make_complaint(db, users["agent"], customer_id=member.id)
    c2 = make_complaint(db, users["agent"], customer_id=plain.id)
    assert c1.sla_policy.id == gold_policy.id and c1.value_class == "ordinary"
    assert c2.sla_policy.id == default.id
    # A tier without an SLA class leaves the customer's own value class in charge.
    silver = programme.save_tier(
        db, TierIn(code="silver", name="Silver", rank=0, threshold=10**9), actor=users["manager"]
    )
    tiers.set_tier(db, plain.id, silver.id, actor_id=None)
    assert make_complaint(db, users["agent"], customer_id=plain.id).sla_policy.id == default.id


def test_tier_sla_class_must_be_a_value_class(db, users):
    make_programme(db)
    with pytest.raises(InvalidInput) as e:
        programme.save_tier(
            db, TierIn(code="g", name="G", rank=1, sla_class="golden"), actor=users["manager"]
        )
    assert e.value.field == "sla_class"


def _loyal_customer(db, users):
    make_programme(db)
    db.add(LoyaltyTier(code="gold", name="Gold", rank=1, threshold=50))
    c = make_customer(db, name="Wang Fang", email="wf@example.com", consent_email=True)
    p = make_product(db, unit_price=Decimal("100"))
    orders.create_order(
        db,
        OrderCreate(
            customer_id=c.id, ordered_at=utcnow(), lines=[{"product_id": p.id, "quantity": 1}]
        ),
        actor=users["admin"],
    )
    service.redeem(db, c.id, points=30, actor=users["agent"], note="Gift for Wang Fang")
    club = clubs.create_club(db, ClubIn(name="Tea club"), actor=users["manager"])
    clubs.join(db, club.id, c.id, actor=users["agent"])
    ev = clubs.create_event(
        db, club.id, ClubEventIn(title="Tasting", starts_at=utcnow()), actor=users["manager"]
    )
    clubs.attend(db, ev.id, c.id, actor=users["agent"])
    run = LoyaltyMeasurementRun(as_of=utcnow(), status="succeeded")
    db.add(run)
    db.flush()
    db.add(
        LoyaltyMeasurement(
            customer_id=c.id, run_id=run.id, computed_at=utcnow(), loyalty_type="trust", rule="T1"
        )
    )
    db.flush()
    return c


def test_privacy_export_has_the_loyalty_records(db, users):
    c = _loyal_customer(db, users)
    sections = collect(db, c)
    for name in (
        "loyalty_accounts",
        "loyalty_journals",
        "loyalty_postings",
        "loyalty_lots",
        "loyalty_allocations",
        "loyalty_redemptions",
        "loyalty_tier_changes",
        "loyalty_club_members",
        "loyalty_attendance",
        "loyalty_measurements",
    ):
        assert sections.get(name), name
    journals = {j["id"] for j in sections["loyalty_journals"]}
    by_journal: dict[int, int] = {}
    for p in sections["loyalty_postings"]:
        by_journal[p["journal_id"]] = by_journal.get(p["journal_id"], 0) + p["amount"]
    assert set(by_journal) == journals and set(by_journal.values()) == {0}
    assert sections["loyalty_lots"][0]["points"] == 100
    assert sections["loyalty_tier_changes"][0]["reason"] == "upgrade"


def test_erasure_keeps_the_books_and_anonymises(db, users):
    c = _loyal_customer(db, users)
    balance = ledger.get_wallet(db, c.id).balance
    rep = erase_customer(db, c.id, actor=users["admin"], reason="request")
    assert rep.counts["loyalty_measurements"] == 1 and rep.counts["loyalty_club_memberships"] == 1
    db.expire_all()
    assert db.get(Customer, c.id).erased_at is not None
    assert ledger.get_wallet(db, c.id).balance == balance
    reasons = [j.reason for j in db.query(LoyaltyJournal).filter_by(customer_id=c.id)]
    assert reasons and not any("Wang Fang" in r for r in reasons)
    assert db.query(LoyaltyClubMember).filter_by(customer_id=c.id).count() == 0
    assert db.get(LoyaltyMeasurement, c.id) is None
    assert check_ledger(db).ok
