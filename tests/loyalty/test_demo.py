"""The demo data runs a loyalty programme: tiers, earnings, redemptions, refunds, expiries."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from retento.demo import generator
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal


def test_demo_runs_a_consistent_programme(db):
    summary = generator.generate(db, customers=300, seed=5, today=date(2026, 6, 30))
    kinds = dict(
        db.execute(select(LoyaltyJournal.kind, func.count()).group_by(LoyaltyJournal.kind)).all()
    )
    assert kinds.get("earn", 0) > 50
    assert kinds.get("redeem", 0) > 0 and kinds.get("clawback", 0) > 0
    assert kinds.get("expire", 0) > 0
    assert summary["loyalty_members"] > 0
    rep = check_ledger(db)
    assert rep.ok, rep.problems
