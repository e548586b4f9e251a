"""Referrals recorded by staff: on the member page a manager picks the referred customer (the
customer picker, or a typed name/number without JavaScript); the referral event rules award the
member once per referred customer. Self-referral, an unknown customer and a customer already
referred by another member are refused on the field, nothing posted; agents cannot. Also through
the API (``POST /api/v1/loyalty/members/{id}/referrals``) and in Chinese; PostgreSQL races."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.loyalty import ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyRule
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _setup(db, users, points: int = 50):
    make_programme(db)
    db.add(
        LoyaltyRule(name="Referral", kind="event", event="referral", fixed_points=points, rate=0)
    )
    member = make_customer(db, name="Ava Member", external_id="M-1")
    service.adjust(db, member.id, 10, actor=users["manager"], reason="welcome")
    friend = make_customer(db, name="Zhou Xinyu", external_id="F-1")
    db.commit()
    return member, friend


def _referrals(db, **where) -> int:
    stmt = (
        select(func.count())
        .select_from(LoyaltyJournal)
        .where(LoyaltyJournal.source_type == "referral")
    )
    for k, v in where.items():
        stmt = stmt.where(getattr(LoyaltyJournal, k) == v)
    return db.scalar(stmt)


def _field_error(html: str) -> str:
    m = re.search(r'id="e-referred_id">([^<]*)<', html)
    assert m, "no error under the referred customer field"
    return m.group(1)


def test_the_member_page_records_a_referral_once(db, client, users):
    member, friend = _setup(db, users)
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/loyalty/members/{member.id}").text
    assert 'id="referral-form"' in page and 'data-picker="customer"' in page
    r = web.post(f"/loyalty/members/{member.id}/referral", {"referred_id": str(friend.id)})
    assert r.status_code == 303, r.text
    db.expire_all()
    assert ledger.get_wallet(db, member.id).balance == 60
    j = db.scalar(select(LoyaltyJournal).where(LoyaltyJournal.source_type == "referral"))
    assert (j.customer_id, j.source_id, j.kind) == (member.id, str(friend.id), "event")
    assert j.reason == f"Referral of customer {friend.id}" and j.actor_id == users["manager"].id
    assert db.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.entity == "loyalty_journal", AuditEntry.entity_id == str(j.id))
    )
    page = web.get(f"/loyalty/members/{member.id}").text
    assert "Referral recorded." in page and f"Referral of customer {friend.id}" in page
    # The same again (a resubmitted form): no second award, and it says so.
    r = web.post(f"/loyalty/members/{member.id}/referral", {"referred_id": str(friend.id)})
    assert r.status_code == 303
    assert "recorded before" in web.get(f"/loyalty/members/{member.id}").text
    db.expire_all()
    assert _referrals(db) == 1 and ledger.get_wallet(db, member.id).balance == 60
    assert check_ledger(db).ok


def test_a_typed_name_is_resolved_without_javascript(db, client, users):
    member, friend = _setup(db, users)
    web = Browser(client)
    web.login("manager")
    r = web.post(f"/loyalty/members/{member.id}/referral", {"referred_id": "Zhou Xinyu"})
    assert r.status_code == 303, r.text
    assert _referrals(db, source_id=str(friend.id)) == 1


def test_self_unknown_and_already_referred_are_refused_on_the_field(db, client, users):
    member, friend = _setup(db, users)
    other = make_customer(db, name="Bo Other", external_id="M-2")
    service.adjust(db, other.id, 10, actor=users["manager"], reason="welcome")
    db.commit()
    web = Browser(client)
    web.login("manager")
    url = f"/loyalty/members/{member.id}/referral"
    r = web.post(url, {"referred_id": str(member.id)})
    assert r.status_code == 422 and _field_error(r.text) == "A customer cannot refer themselves."
    assert "Please correct the highlighted fields." not in r.text  # not in the redeem box
    r = web.post(url, {"referred_id": "987654321"})
    assert r.status_code == 422
    assert _field_error(r.text) == "Customer 987654321 does not exist."
    r = web.post(url, {"referred_id": "Nobody Like This"})
    assert r.status_code == 422 and "No customer matches" in _field_error(r.text)
    r = web.post(url, {"referred_id": ""})
    assert r.status_code == 422
    assert _field_error(r.text) == "Choose the customer who was referred."
    # Referred by another member first: this one is refused and nothing is posted.
    r = web.post(f"/loyalty/members/{other.id}/referral", {"referred_id": str(friend.id)})
    assert r.status_code == 303
    r = web.post(url, {"referred_id": str(friend.id)})
    assert r.status_code == 409
    assert _field_error(r.text) == (
        f"The referral of customer {friend.id} was already recorded for customer {other.id}."
    )
    db.expire_all()
    assert _referrals(db) == 1 and _referrals(db, customer_id=other.id) == 1
    assert ledger.get_wallet(db, member.id).balance == 10


def test_no_rule_or_programme_off_says_so_and_posts_nothing(db, client, users):
    member, friend = _setup(db, users)
    rule = db.scalar(select(LoyaltyRule).where(LoyaltyRule.event == "referral"))
    rule.active = False
    db.commit()
    web = Browser(client)
    web.login("manager")
    url = f"/loyalty/members/{member.id}/referral"
    r = web.post(url, {"referred_id": str(friend.id)})
    assert r.status_code == 409 and "No active earning rule" in _field_error(r.text)
    ledger.programme(db).active = False
    db.commit()
    r = web.post(url, {"referred_id": str(friend.id)})
    assert r.status_code == 409 and "not active" in _field_error(r.text)
    assert _referrals(db) == 0


def test_agents_and_analysts_cannot(db, client, users):
    member, friend = _setup(db, users)
    for role in ("agent", "analyst"):
        web = Browser(client)
        web.login(role)
        assert 'id="referral-form"' not in web.get(f"/loyalty/members/{member.id}").text
        r = web.post(f"/loyalty/members/{member.id}/referral", {"referred_id": str(friend.id)})
        assert r.status_code == 403, role
    assert _referrals(db) == 0


def test_in_chinese(db, client, users):
    member, friend = _setup(db, users)
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/loyalty/members/{member.id}").text
    assert "记录推荐" in page and "被推荐客户" in page
    r = web.post(f"/loyalty/members/{member.id}/referral", {"referred_id": str(member.id)})
    assert r.status_code == 422 and _field_error(r.text) == "客户不能推荐自己。"
    web.post(f"/loyalty/members/{member.id}/referral", {"referred_id": str(friend.id)})
    page = web.get(f"/loyalty/members/{member.id}").text
    assert "推荐已记录。" in page and f"推荐客户 {friend.id}" in page


def test_api_records_once_and_refuses_like_the_form(db, client, users, tokens):
    member, friend = _setup(db, users)
    url = f"/api/v1/loyalty/members/{member.id}/referrals"
    r = client.post(url, json={"referred_id": friend.id}, headers=tokens["manager"])
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    r = client.post(url, json={"referred_id": friend.id}, headers=tokens["manager"])
    assert r.status_code == 200 and r.json()["id"] == first
    r = client.post(url, json={"referred_id": member.id}, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["field"] == "referred_id"
    r = client.post(url, json={"referred_id": 987654321}, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["field"] == "referred_id"
    r = client.post(url, json={"referred_id": 0}, headers=tokens["manager"])
    assert r.status_code == 422
    r = client.post(url, json={"referred_id": friend.id}, headers=tokens["agent"])
    assert r.status_code == 403
    assert _referrals(db) == 1


# --- PostgreSQL: two members claim one referred customer at once --------------------------------


def test_parallel_referrals_of_one_customer_award_one_member(live_pg):
    with live_pg.session() as s:
        make_programme(s)
        s.add(LoyaltyRule(name="Ref", kind="event", event="referral", fixed_points=50, rate=0))
        manager = make_user(s, role="manager")
        members = [make_customer(s) for _ in range(4)]
        for m in members:
            service.adjust(s, m.id, 10, actor=manager, reason="welcome")
        friend = make_customer(s)
        s.commit()
        uid, fid, mids = manager.id, friend.id, [m.id for m in members]

    def refer(i: int):
        from retento.auth.models import User
        from retento.loyalty.events import record_referral

        with live_pg.session() as s:
            r = record_referral(s, mids[i % 2], fid, actor=s.get(User, uid))
            s.commit()
            return r.journal.id

    results = run_parallel(4, refer)  # two members, each twice (double clicks)
    ok = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if not isinstance(r, int)]
    assert len(set(ok)) == 1 and len(ok) + len(refused) == 4, results
    assert all(getattr(r, "status", None) == 409 for r in refused), refused
    with live_pg.session() as s:
        assert _referrals(s) == 1
        winner = s.get(LoyaltyJournal, ok[0]).customer_id
        assert ledger.get_wallet(s, winner).balance == 60
        assert check_ledger(s).ok
