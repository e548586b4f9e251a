"""PostgreSQL races: parallel redemptions of one balance, retried keys, concurrent earns."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from retento.loyalty import ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme


def _member_with(live_pg, points: int):
    with live_pg.session() as s:
        make_programme(s)
        agent = make_user(s, role="manager")
        c = make_customer(s)
        service.adjust(s, c.id, points, actor=agent, reason="opening balance")
        s.commit()
        return c.id, agent.id


def test_parallel_redemptions_spend_exactly_what_is_there(live_pg):
    cid, uid = _member_with(live_pg, 100)

    def spend(i: int):
        with live_pg.session() as s:
            from retento.auth.models import User

            user = s.get(User, uid)
            r = service.redeem(s, cid, points=30, actor=user)
            s.commit()
            return r.id

    results = run_parallel(8, spend)
    ok = [r for r in results if isinstance(r, int)]
    assert len(ok) == 3  # 3 x 30 <= 100 < 4 x 30
    assert all(getattr(r, "status", None) == 409 for r in results if not isinstance(r, int))
    with live_pg.session() as s:
        assert ledger.get_wallet(s, cid).balance == 10
        assert check_ledger(s).ok


def test_parallel_retries_with_one_key_post_once(live_pg):
    cid, uid = _member_with(live_pg, 100)

    def spend(i: int):
        with live_pg.session() as s:
            from retento.auth.models import User

            r = service.redeem(s, cid, points=10, actor=s.get(User, uid), idempotency_key="same")
            s.commit()
            return r.id

    results = run_parallel(6, spend)
    assert len(set(results)) == 1 and isinstance(results[0], int), results
    with live_pg.session() as s:
        assert ledger.get_wallet(s, cid).balance == 90
        n = s.scalar(
            select(func.count()).select_from(LoyaltyJournal).where(LoyaltyJournal.kind == "redeem")
        )
        assert n == 1
        assert check_ledger(s).ok


def test_parallel_api_redemptions(live_pg):
    cid, uid = _member_with(live_pg, 50)
    from retento.auth.service import issue_token

    with live_pg.session() as s:
        from retento.auth.models import User

        _, tok = issue_token(s, s.get(User, uid), name="t", actor=None)
        s.commit()

    def call(i: int):
        with live_pg.client() as c:
            r = c.post(
                f"/api/v1/loyalty/members/{cid}/redemptions",
                json={"points": 20},
                headers={"Authorization": f"Bearer {tok}"},
            )
            return r.status_code

    codes = run_parallel(6, call)
    assert sorted(codes) == [201, 201, 409, 409, 409, 409]
    with live_pg.session() as s:
        assert ledger.get_wallet(s, cid).balance == 10
        assert check_ledger(s).ok
    assert Decimal(1)


def test_expiry_racing_redemptions_keeps_the_ledger_whole(live_pg):
    """The expiry job (batches of 3 wallets) runs while members redeem: every redemption either
    spends unexpired points or is refused, and the ledger still balances afterwards."""
    from datetime import timedelta

    from retento.auth.models import User
    from retento.core.db import utcnow
    from retento.loyalty.expiry import run_expiry

    with live_pg.session() as s:
        make_programme(s)
        agent = make_user(s, role="manager")
        old = utcnow() - timedelta(days=400)
        cids = []
        for _ in range(8):
            c = make_customer(s)
            service.adjust(s, c.id, 50, actor=agent, reason="due", expires_at=old)
            service.adjust(s, c.id, 20, actor=agent, reason="fresh")
            cids.append(c.id)
        uid = agent.id
        s.commit()

    def work(i: int):
        with live_pg.session() as s:
            if i == 0:
                n = run_expiry(s, batch=3)
            else:
                n = service.redeem(s, cids[i], points=15, actor=s.get(User, uid)).points
            s.commit()
            return n

    results = run_parallel(8, work)
    assert all(isinstance(r, int) for r in results), results
    with live_pg.session() as s:
        # Redeemers expire their own due lots first, so each wallet ends at 20 - 15.
        assert [ledger.get_wallet(s, c).balance for c in cids[1:]] == [5] * 7
        assert ledger.get_wallet(s, cids[0]).balance == 20
        assert run_expiry(s) == 0
        assert check_ledger(s).ok


def test_parallel_attendance_clicks_record_once_and_answer_alike(live_pg):
    """Eight clicks on "Record attendance" at once: one attendance, one touchpoint, one award,
    and every click answers 201 with it (all but one got a 409 'conflicts with existing data'
    from the unique index)."""
    from retento.loyalty import clubs
    from retento.loyalty.models import LoyaltyAttendance, LoyaltyRule
    from retento.loyalty.schemas import ClubEventIn, ClubIn
    from retento.touchpoints.models import Touchpoint
    from tests.factories.concurrency import run_parallel as parallel
    from tests.factories.race import bearer_headers, post_each, statuses

    cid, uid = _member_with(live_pg, 10)
    with live_pg.session() as s:
        from retento.auth.models import User

        mgr = s.get(User, uid)
        s.add(LoyaltyRule(name="Attend", kind="event", event="club_attendance", fixed_points=50))
        club = clubs.create_club(s, ClubIn(name="Tea club"), actor=mgr)
        clubs.join(s, club.id, cid, actor=mgr)
        ev = clubs.create_event(
            s,
            club.id,
            ClubEventIn(title="Tasting", starts_at="2026-11-01T10:00:00+00:00"),
            actor=mgr,
        )
        headers = bearer_headers(s, mgr, 8)
        s.commit()
        event_id = ev.id
    url = f"/api/v1/loyalty/club-events/{event_id}/attendance"
    codes = statuses(
        parallel(
            8,
            post_each(
                live_pg, url, lambda i: {"json": {"customer_id": cid}, "headers": headers[i]}
            ),
        )
    )
    assert codes == {201: 8}, codes
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).where(LoyaltyAttendance.event_id == event_id)) == 1
        notes = s.scalars(select(Touchpoint.note).where(Touchpoint.customer_id == cid)).all()
        assert notes.count("Club event: Tasting") == 1
        assert ledger.get_wallet(s, cid).balance == 60
        assert check_ledger(s).ok


def test_parallel_tier_placements_record_one_change(live_pg):
    """Eight managers (or clicks) place a member in the same tier at once: one change in the
    history, not one per request (each used to record a change from the tier to itself)."""
    from retento.auth.models import User
    from retento.loyalty.models import LoyaltyTierChange
    from tests.factories.concurrency import run_parallel as parallel
    from tests.factories.loyalty import make_tiers
    from tests.factories.race import bearer_headers, statuses

    cid, uid = _member_with(live_pg, 10)
    with live_pg.session() as s:
        (gold,) = make_tiers(s, ("gold", 10**9, "1.5"))
        headers = bearer_headers(s, s.get(User, uid), 8)
        s.commit()
        gold_id = gold.id
    url = f"/api/v1/loyalty/members/{cid}/tier"

    def place(i: int) -> int:
        with live_pg.client() as client:
            return client.put(url, json={"tier_id": gold_id}, headers=headers[i]).status_code

    assert statuses(parallel(8, place)) == {204: 8}
    with live_pg.session() as s:
        changes = s.scalars(
            select(LoyaltyTierChange).where(LoyaltyTierChange.customer_id == cid)
        ).all()
        assert [(c.from_tier_id, c.to_tier_id) for c in changes] == [(None, gold_id)]
