"""Rewards granted by a source document: a voucher free of points, once per source, stock under
its row lock (never below zero), the ledger's invariants intact, and migration 0023."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, inspect, select

from retento.core.migrate import downgrade, upgrade
from retento.loyalty import ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.grants import grant_key, grant_reward
from retento.loyalty.models import (
    LoyaltyJournal,
    LoyaltyPosting,
    LoyaltyRedemption,
    LoyaltyReward,
)
from tests.factories import make_customer
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme, make_tiers


def _reward(session, *, stock: int | None = 5, active: bool = True, code: str = "V10", **kw):
    r = LoyaltyReward(
        code=code, name=f"Voucher {code}", kind="voucher", points_cost=1000, stock=stock,
        active=active, **kw,
    )  # fmt: skip
    session.add(r)
    session.flush()
    return r


def _grant(session, customer_id, reward_id, source_id=1):
    return grant_reward(
        session,
        customer_id,
        reward_id,
        source_type="retention_case",
        source_id=source_id,
        reason="Win-back offer",
    )


def test_voucher_is_issued_free_of_points_once_per_source(db, users):
    make_programme(db)
    reward = _reward(db, stock=2)
    member = make_customer(db)
    ledger.wallet(db, member.id)
    first = _grant(db, member.id, reward.id)
    assert first.issued and not first.replayed and first.points_cost == 1000
    red = first.redemption
    assert red.points == 0 and red.reward_id == reward.id and red.agent_id is None
    journal = db.get(LoyaltyJournal, red.journal_id)
    assert journal.kind == "redeem" and journal.actor_id is None
    assert journal.idem_key == grant_key("retention_case", 1) == "retention_case:1:reward"
    assert journal.source_type == "retention_case" and journal.source_id == "1"
    # No postings: the member's points do not move.
    assert db.scalar(select(func.count()).where(LoyaltyPosting.journal_id == journal.id)) == 0
    assert ledger.get_wallet(db, member.id).balance == 0
    assert reward.stock == 1

    again = _grant(db, member.id, reward.id)
    assert again.issued and again.replayed and again.redemption.id == red.id
    db.expire_all()
    assert db.get(LoyaltyReward, reward.id).stock == 1
    assert db.scalar(select(func.count()).select_from(LoyaltyRedemption)) == 1

    # The member page's history lists it like any redemption, with the voucher named.
    hist = service.history(db, member.id, actor=users["manager"])
    assert [(j.kind, n) for j, n in hist] == [("redeem", 0)]
    assert check_ledger(db).ok


def test_nothing_is_issued_to_a_non_member_or_out_of_stock_or_unavailable(db):
    make_programme(db)
    empty = _reward(db, stock=0, code="EMPTY")
    gone = _reward(db, active=False, code="GONE")
    ok = _reward(db, stock=None, code="ANY")
    guest, member = make_customer(db), make_customer(db)
    ledger.wallet(db, member.id)
    assert _grant(db, guest.id, ok.id).state == "not_member"
    assert ledger.get_wallet(db, guest.id) is None  # a grant never enrols anyone
    assert _grant(db, member.id, empty.id, 2).state == "out_of_stock"
    assert _grant(db, member.id, gone.id, 3).state == "unavailable"
    assert _grant(db, member.id, 999_999, 4).state == "unavailable"
    assert empty.stock == 0
    assert db.scalar(select(func.count()).select_from(LoyaltyRedemption)) == 0
    assert db.scalar(select(func.count()).select_from(LoyaltyJournal)) == 0
    # Unlimited stock stays unlimited.
    assert _grant(db, member.id, ok.id, 5).issued and ok.stock is None


def test_tier_and_inactive_programme_issue_nothing(db):
    make_programme(db)
    [_base, gold] = make_tiers(db, ("base", 0, "1"), ("gold", 5000, "1"))
    reward = _reward(db, min_tier_id=gold.id)
    member = make_customer(db)
    ledger.wallet(db, member.id)
    assert _grant(db, member.id, reward.id).state == "tier"
    ledger.programme(db).active = False
    assert _grant(db, member.id, reward.id, 2).state == "inactive"
    assert reward.stock == 5
    assert db.scalar(select(func.count()).select_from(LoyaltyRedemption)) == 0


def test_bad_source_is_refused_naming_the_field(db):
    make_programme(db)
    member = make_customer(db)
    ledger.wallet(db, member.id)
    with pytest.raises(Exception) as exc:
        grant_reward(db, member.id, 1, source_type="", source_id=1, reason="x")
    assert getattr(exc.value, "field", None) == "source_type"


def _setup_pg(live_pg, *, members: int, stock: int) -> tuple[list[int], int]:
    with live_pg.session() as s:
        make_programme(s)
        reward = _reward(s, stock=stock)
        ids = []
        for _ in range(members):
            c = make_customer(s)
            ledger.wallet(s, c.id)
            ids.append(c.id)
        s.commit()
        return ids, reward.id


def test_parallel_grants_for_one_source_issue_one_voucher(live_pg):
    [cid], rid = _setup_pg(live_pg, members=1, stock=10)

    def run(i: int) -> int:
        with live_pg.session() as s:
            g = _grant(s, cid, rid, source_id=42)
            s.commit()
            return g.redemption.id

    results = run_parallel(8, run)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    with live_pg.session() as s:
        assert s.get(LoyaltyReward, rid).stock == 9
        assert s.scalar(select(func.count()).select_from(LoyaltyRedemption)) == 1
        assert check_ledger(s).ok


def test_parallel_grants_never_take_stock_below_zero(live_pg):
    ids, rid = _setup_pg(live_pg, members=8, stock=3)

    def run(i: int) -> str:
        with live_pg.session() as s:
            g = _grant(s, ids[i], rid, source_id=100 + i)
            s.commit()
            return g.state

    results = run_parallel(8, run)
    assert sorted(results) == ["issued"] * 3 + ["out_of_stock"] * 5, results
    with live_pg.session() as s:
        assert s.get(LoyaltyReward, rid).stock == 0
        assert s.scalar(select(func.count()).select_from(LoyaltyRedemption)) == 3
        rep = check_ledger(s)
        assert rep.ok, rep.problems


def test_migration_0023_adds_the_playbook_voucher_and_goes_back(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0023")
    eng = create_engine(url)
    cols = {c["name"]: c for c in inspect(eng).get_columns("retention_playbooks")}
    assert cols["offer_reward_id"]["nullable"]
    [fk] = [
        f
        for f in inspect(eng).get_foreign_keys("retention_playbooks")
        if f["constrained_columns"] == ["offer_reward_id"]
    ]
    assert fk["referred_table"] == "loyalty_rewards"
    assert (fk.get("options") or {}).get("ondelete", "").upper() == "SET NULL"
    eng.dispose()
    downgrade(url, "0022")
    eng = create_engine(url)
    cols = {c["name"] for c in inspect(eng).get_columns("retention_playbooks")}
    assert "offer_reward_id" not in cols
    eng.dispose()
    upgrade(url, "0023")


def test_member_page_shows_the_granted_voucher(client, db, users):
    from tests.web.conftest import Browser

    make_programme(db)
    reward = _reward(db)
    member = make_customer(db)
    ledger.wallet(db, member.id)
    assert _grant(db, member.id, reward.id).issued
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/loyalty/members/{member.id}").text
    assert "Reward Voucher V10: Win-back offer" in page
