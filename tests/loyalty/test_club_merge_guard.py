"""Member clubs refuse a customer merged into another (customers/guard.py): joining a club and
recording attendance answer 409 naming ``customer_id`` and the survivor, in English and
Chinese, through the API and the web pages, and write nothing (no membership, attendance,
touchpoint or points on the duplicate) — also when the duplicate's membership stayed behind
because the survivor was a member of the same club."""

from __future__ import annotations

import html
import time

import pytest
from sqlalchemy import func, select

from retento.customers import merge
from retento.loyalty import clubs, ledger
from retento.loyalty.models import (
    LoyaltyAttendance,
    LoyaltyClubMember,
    LoyaltyJournal,
    LoyaltyRule,
)
from retento.loyalty.schemas import ClubEventIn, ClubIn
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

SAID = {
    "en": "Customer {dup} was merged into customer {keep}.",
    "zh_CN": "客户 {dup} 已合并到客户 {keep}。",
}
LANG = {"en": "en", "zh_CN": "zh-CN"}
STAGGER = 0.05  # seconds between the racing writers' starts


def _clubs_and_merged_pair(db, users):
    """Club A (both customers members: the duplicate's membership stays behind on the merge)
    with an event, club B (no members), an attendance rule; the pair merged and committed."""
    mgr = users["manager"]
    make_programme(db)
    db.add(LoyaltyRule(name="Attend", kind="event", event="club_attendance", fixed_points=50))
    keep = make_customer(db, name="Keep")
    dup = make_customer(db, name="Dup", external_id="DUP-1")
    for c in (keep, dup):
        ledger.wallet(db, c.id)
    a = clubs.create_club(db, ClubIn(name="Tea club"), actor=mgr)
    b = clubs.create_club(db, ClubIn(name="Wine club"), actor=mgr)
    for c in (keep, dup):
        clubs.join(db, a.id, c.id, actor=mgr)
    ev = clubs.create_event(
        db, a.id, ClubEventIn(title="Tasting", starts_at="2026-11-01T10:00:00+00:00"), actor=mgr
    )
    merge.merge_customers(db, keep.id, dup.id, actor=mgr)
    db.commit()
    assert db.scalar(
        select(LoyaltyClubMember.id).where(
            LoyaltyClubMember.club_id == a.id, LoyaltyClubMember.customer_id == dup.id
        )
    ), "the duplicate's membership of club A stays behind"
    return keep, dup, a, b, ev


def _on_duplicate(db, dup_id: int) -> dict[str, int]:
    db.expire_all()

    def n(col):
        return db.scalar(select(func.count()).where(col == dup_id))

    return {
        "members": n(LoyaltyClubMember.customer_id),
        "attendance": n(LoyaltyAttendance.customer_id),
        "touchpoints": n(Touchpoint.customer_id),
        "journals": n(LoyaltyJournal.customer_id),
    }


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_api_refuses_a_merged_customer(client, tokens, db, users, locale):
    keep, dup, a, b, ev = _clubs_and_merged_pair(db, users)
    before = _on_duplicate(db, dup.id)
    h = {**tokens["manager"], "Accept-Language": LANG[locale]}
    said = SAID[locale].format(dup=dup.id, keep=keep.id)
    for url in (
        f"/api/v1/loyalty/clubs/{b.id}/members",
        f"/api/v1/loyalty/clubs/{a.id}/members",  # a member already: still refused
        f"/api/v1/loyalty/club-events/{ev.id}/attendance",
    ):
        r = client.post(url, json={"customer_id": dup.id}, headers=h)
        assert r.status_code == 409, (url, r.text)
        assert (r.json()["field"], r.json()["detail"]) == ("customer_id", said), r.json()
    assert _on_duplicate(db, dup.id) == before
    # The survivor takes them.
    r = client.post(
        f"/api/v1/loyalty/club-events/{ev.id}/attendance",
        json={"customer_id": keep.id},
        headers=h,
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_club_pages_say_the_customer_was_merged(client, db, users, locale):
    keep, dup, a, b, ev = _clubs_and_merged_pair(db, users)
    before = _on_duplicate(db, dup.id)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    said = SAID[locale].format(dup=dup.id, keep=keep.id)
    r = web.post(f"/loyalty/clubs/{b.id}/members", {"customer": "DUP-1"})
    assert r.status_code == 409, r.text[-800:]
    assert 'id="e-customer"' in r.text and said in html.unescape(r.text)
    url = f"/loyalty/clubs/{a.id}/events/{ev.id}/attendance"
    r = web.post(url, {"customer_id": str(dup.id)})
    assert r.status_code == 409, r.text[-800:]
    assert said in html.unescape(r.text)
    assert _on_duplicate(db, dup.id) == before


def test_the_service_refuses_too(db, users):
    from retento.core.errors import Conflict

    keep, dup, a, b, ev = _clubs_and_merged_pair(db, users)
    with pytest.raises(Conflict) as e:
        clubs.join(db, b.id, dup.id, actor=users["manager"])
    assert e.value.field == "customer_id"
    assert e.value.message.params == {"id": dup.id, "survivor": keep.id}
    with pytest.raises(Conflict):
        clubs.attend(db, ev.id, dup.id, actor=users["manager"])


def test_joins_and_attendance_racing_a_merge_end_on_the_survivor_or_are_refused(live_pg):
    """PostgreSQL, real commits: a merge and four writers on the duplicate at once (two joins
    of a club, two attendance clicks); each writer commits before the merge (which moves what
    it wrote) or waits for it and is refused; nothing is left on the archived duplicate."""
    from retento.auth.models import User
    from retento.loyalty.check import check_ledger
    from tests.factories.concurrency import run_parallel
    from tests.factories.race import bearer_headers

    n = 5
    with live_pg.session() as s:
        admin = User(username="boss", role="admin", password_hash="x", is_active=True)
        s.add(admin)
        s.flush()
        # No attendance points: the wallet's own guard (``ledger.get_wallet``) would refuse an
        # award, and so hide a missing customer lock.
        make_programme(s)
        keep = make_customer(s, name="Keep")
        dup = make_customer(s, name="Dup")
        ledger.wallet(s, dup.id)
        a = clubs.create_club(s, ClubIn(name="Tea club"), actor=admin)
        b = clubs.create_club(s, ClubIn(name="Wine club"), actor=admin)
        clubs.join(s, a.id, dup.id, actor=admin)  # the survivor is in neither club
        ev = clubs.create_event(
            s,
            a.id,
            ClubEventIn(title="Tasting", starts_at="2026-11-01T10:00:00+00:00"),
            actor=admin,
        )
        headers = bearer_headers(s, admin, n)
        s.commit()
        keep_id, dup_id, b_id, ev_id = keep.id, dup.id, b.id, ev.id

    def call(i: int):
        with live_pg.client() as c:
            if i == 0:
                url = f"/api/v1/customers/{keep_id}/merge"
                r = c.post(url, json={"merge_id": dup_id}, headers=headers[i])
                return i, r.status_code, r.json()
            # Staggered a little: a join is quicker than the merge, and one that always came
            # first would show nothing of what happens after it.
            time.sleep(STAGGER * i)
            if i in (1, 2):
                url = f"/api/v1/loyalty/clubs/{b_id}/members"
                r = c.post(url, json={"customer_id": dup_id}, headers=headers[i])
            else:
                url = f"/api/v1/loyalty/club-events/{ev_id}/attendance"
                r = c.post(url, json={"customer_id": dup_id}, headers=headers[i])
            return i, r.status_code, r.json()

    results = run_parallel(n, call)
    assert not [r for r in results if isinstance(r, BaseException)], results
    by_i = {i: (code, body) for i, code, body in results}
    assert by_i[0][0] == 200, by_i[0]
    for i in range(1, n):
        code, body = by_i[i]
        if code == 409:
            assert body["field"] == "customer_id", body
            assert body["detail"] == f"Customer {dup_id} was merged into customer {keep_id}."
        else:
            assert code == 201, (i, code, body)
    with live_pg.session() as s:
        assert _on_duplicate(s, dup_id) | {"journals": 0} == {
            "members": 0, "attendance": 0, "touchpoints": 0, "journals": 0,
        }  # fmt: skip
        joined = any(by_i[i][0] == 201 for i in (1, 2))
        attended = any(by_i[i][0] == 201 for i in (3, 4))
        assert s.scalar(
            select(func.count()).where(
                LoyaltyClubMember.club_id == b_id, LoyaltyClubMember.customer_id == keep_id
            )
        ) == int(joined)
        assert s.scalar(
            select(func.count()).where(
                LoyaltyAttendance.event_id == ev_id, LoyaltyAttendance.customer_id == keep_id
            )
        ) == int(attended)
        # No points stranded: nothing was posted to the duplicate after the merge's transfer.
        transfer = s.scalar(
            select(LoyaltyJournal.id).where(
                LoyaltyJournal.kind == "transfer", LoyaltyJournal.source_id == f"merge:{dup_id}"
            )
        )
        later = s.scalars(
            select(LoyaltyJournal.id).where(
                LoyaltyJournal.customer_id == dup_id, LoyaltyJournal.id > transfer
            )
        ).all()
        assert later == [], later
        assert ledger.get_wallet(s, dup_id).balance == 0
        assert check_ledger(s).ok
