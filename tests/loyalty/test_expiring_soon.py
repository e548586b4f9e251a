"""Points expiring soon: one ledger computation (``ledger.expiring``) behind the member card, the
member page, the "expiring soon" list and the API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from retento.core.db import utcnow
from retento.loyalty import ledger, service
from retento.loyalty.models import LoyaltyAccount, LoyaltyLot
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _member_with_lots(db, manager, *, now):
    """Lots: 40 expiring tomorrow, 100 in 5 days, 50 in 20 days, 70 in 60 days (outside a
    30-day window); 30 spent (from the 40, earliest expiry first), whose last 10 are then due
    since yesterday but not posted by the hourly job yet."""
    c = make_customer(db)
    for days, points in ((1, 40), (5, 100), (20, 50), (60, 70)):
        service.adjust(
            db, c.id, points, actor=manager, reason="grant", expires_at=now + timedelta(days=days)
        )
    wallet = db.scalar(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == c.id))
    first = db.scalar(
        select(LoyaltyLot).where(LoyaltyLot.account_id == wallet.id, LoyaltyLot.points == 40)
    )
    service.adjust(db, c.id, -30, actor=manager, reason="spent")
    db.flush()
    db.refresh(first)
    assert first.remaining == 10
    first.expires_at = now - timedelta(days=1)  # a spend would expire it first; no job ran yet
    db.flush()
    return c


def test_expiring_counts_unspent_undue_lots_in_the_window(db, users):
    make_programme(db, expiring_soon_days=30)
    now = utcnow()
    c = _member_with_lots(db, users["manager"], now=now)
    e = ledger.expiring(db, [c.id], now, now + timedelta(days=30))[c.id]
    assert e.points == 150
    assert abs(e.first - (now + timedelta(days=5))) < timedelta(seconds=1)
    assert abs(e.last - (now + timedelta(days=20))) < timedelta(seconds=1)
    assert ledger.expiring(db, [c.id], now, now + timedelta(days=2)) == {}
    # The member view, the "expiring soon" list and the API count the same.
    v = service.member_view(db, c.id, actor=users["agent"])
    assert v.expiring_soon == 150 and v.expiring.first == e.first and v.expiring.last == e.last
    ((cid, _name, points, first),) = [
        r for r in service.expiring_soon(db, actor=users["agent"]) if r[0] == c.id
    ]
    assert (cid, points, first) == (c.id, 150, e.first)


def test_api_member_names_the_first_and_last_expiry(db, client, users, tokens):
    make_programme(db, expiring_soon_days=30)
    now = utcnow()
    c = _member_with_lots(db, users["manager"], now=now)
    db.commit()
    r = client.get(f"/api/v1/loyalty/members/{c.id}", headers=tokens["agent"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["expiring_soon"] == 150
    assert body["expiring_first"][:10] == (now + timedelta(days=5)).date().isoformat()
    assert body["expiring_last"][:10] == (now + timedelta(days=20)).date().isoformat()


def test_member_card_names_the_day_the_points_expire(db, client, users):
    make_programme(db, expiring_soon_days=30)
    now = utcnow()
    c = make_customer(db)
    at = now + timedelta(days=18)
    service.adjust(db, c.id, 288, actor=users["manager"], reason="grant", expires_at=at)
    service.adjust(
        db, c.id, 500, actor=users["manager"], reason="grant", expires_at=now + timedelta(days=90)
    )
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/customers/{c.id}")
    day = f"{at:%b} {at.day}, {at.year}"
    assert f"288 points expire on {day}." in page.text
    # Not the end of the "expiring soon" window, which is no expiry date.
    end = now + timedelta(days=30)
    assert f"expire by {end:%b} {end.day}, {end.year}" not in page.text
    member = web.get(f"/loyalty/members/{c.id}")
    assert f"first on {day}" in member.text
    # A second lot within the window: the card gives the span.
    later = now + timedelta(days=25)
    service.adjust(db, c.id, 12, actor=users["manager"], reason="grant", expires_at=later)
    db.commit()
    page = web.get(f"/customers/{c.id}")
    assert f"300 points expire between {day} and {later:%b} {later.day}, {later.year}." in page.text
