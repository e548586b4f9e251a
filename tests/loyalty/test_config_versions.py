"""Stale edits of the loyalty configuration (migration 0033): two managers editing one earning
rule, tier, reward or the programme settings in two tabs. The second save used to overwrite the
first silently; now it gets the conflict page (409) in the browser and 409 ``version_conflict``
from the API, with nothing written. A reward's stock moves with every redemption, so a reward
form loaded before a redemption cannot write the old stock back."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from retento.loyalty import service
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyProgramme, LoyaltyReward, LoyaltyRule, LoyaltyTier
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.factories.race import bearer_headers, statuses
from tests.web.conftest import Browser

TIER = {"code": "gold", "name": "Gold", "rank": "2", "threshold": "1000", "multiplier": "1.5"}
RULE = {"name": "Spend", "kind": "spend", "rate": "1", "apply_multiplier": "1", "active": "1"}
REWARD = {"code": "mug", "name": "Tea mug", "kind": "gift", "points_cost": "100", "stock": "10"}
SETTINGS = {
    "name": "Tea club",
    "point_value": "0.01",
    "currency": "CNY",
    "expiry_days": "365",
    "expiring_soon_days": "30",
    "pending_days": "0",
    "refund_policy": "negative",
    "negative_limit": "1000",
    "tier_basis": "points",
    "tier_window_days": "365",
    "hold_minutes": "15",
    "active_days": "90",
    "active": "1",
    "auto_enrol": "1",
}


def _two_tabs(db, client) -> tuple[Browser, Browser]:
    """Two tabs of one signed-in manager (they share the session, as a browser's tabs do)."""
    make_programme(db)
    db.commit()
    tab = Browser(client)
    tab.login("manager")
    return tab, tab


def _version_in(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def test_edit_pages_carry_the_version(db, client, users):
    one, _ = _two_tabs(db, client)
    rule = db.scalars(select(LoyaltyRule)).one()
    assert _version_in(one.get(f"/loyalty/rules/{rule.id}").text) == "1"
    assert _version_in(one.get("/loyalty/programme").text) == str(
        db.scalars(select(LoyaltyProgramme)).one().version
    )


def test_second_tab_saving_a_rule_gets_the_conflict_page(db, client, users):
    a, b = _two_tabs(db, client)
    rule = db.scalars(select(LoyaltyRule)).one()
    url = f"/loyalty/rules/{rule.id}"
    va, vb = _version_in(a.get(url).text), _version_in(b.get(url).text)
    first = a.post(url, {**RULE, "rate": "2", "version": va})
    assert first.status_code == 303, first.text
    second = b.post(url, {**RULE, "rate": "5", "version": vb})
    assert second.status_code == 409, second.text
    assert "Points per currency unit" in second.text  # the field that differs, by its label
    db.expire_all()
    rule = db.get(LoyaltyRule, rule.id)
    assert rule.rate == Decimal("2.0000") and rule.version == 2  # the first save stands


def test_conflict_page_in_chinese(db, client, users):
    users["manager"].locale = "zh_CN"
    a, b = _two_tabs(db, client)
    rule = db.scalars(select(LoyaltyRule)).one()
    url = f"/loyalty/rules/{rule.id}"
    va, vb = _version_in(a.get(url).text), _version_in(b.get(url).text)
    assert a.post(url, {**RULE, "rate": "2", "version": va}).status_code == 303
    stale = b.post(url, {**RULE, "rate": "5", "version": vb})
    assert stale.status_code == 409
    assert "其他人修改了" in stale.text and "每单位货币积分" in stale.text


def test_second_tab_saving_a_tier_or_the_settings_gets_the_conflict_page(db, client, users):
    a, b = _two_tabs(db, client)
    assert a.post("/loyalty/tiers/new", TIER).status_code == 303
    tier = db.scalars(select(LoyaltyTier)).one()
    url = f"/loyalty/tiers/{tier.id}"
    va, vb = _version_in(a.get(url).text), _version_in(b.get(url).text)
    assert a.post(url, {**TIER, "threshold": "2000", "version": va}).status_code == 303
    stale = b.post(url, {**TIER, "threshold": "500", "version": vb})
    assert stale.status_code == 409 and "Threshold" in stale.text
    db.expire_all()
    assert db.get(LoyaltyTier, tier.id).threshold == 2000

    va = _version_in(a.get("/loyalty/programme").text)
    vb = _version_in(b.get("/loyalty/programme").text)
    assert a.post("/loyalty/programme", {**SETTINGS, "version": va}).status_code == 303
    stale = b.post("/loyalty/programme", {**SETTINGS, "expiry_days": "90", "version": vb})
    assert stale.status_code == 409 and "Points expire after (days)" in stale.text
    db.expire_all()
    prog = db.scalars(select(LoyaltyProgramme)).one()
    assert (prog.name, prog.expiry_days) == ("Tea club", 365)


def test_reward_form_loaded_before_a_redemption_cannot_write_the_old_stock_back(db, client, users):
    a, _ = _two_tabs(db, client)
    assert a.post("/loyalty/rewards/new", {**REWARD, "active": "1"}).status_code == 303
    reward = db.scalars(select(LoyaltyReward)).one()
    url = f"/loyalty/rewards/{reward.id}"
    loaded = _version_in(a.get(url).text)
    member = make_customer(db)
    db.commit()
    service.adjust(db, member.id, 500, actor=users["manager"], reason="welcome")
    service.redeem(db, member.id, actor=users["agent"], reward_id=reward.id)
    db.commit()
    stale = a.post(url, {**REWARD, "name": "Big tea mug", "active": "1", "version": loaded})
    assert stale.status_code == 409 and "Stock" in stale.text
    db.expire_all()
    reward = db.get(LoyaltyReward, reward.id)
    assert (reward.stock, reward.name) == (9, "Tea mug")
    # Reloaded, the same change saves and keeps the stock the redemption left.
    fresh = _version_in(a.get(url).text)
    ok = a.post(
        url, {**REWARD, "stock": "9", "name": "Big tea mug", "active": "1", "version": fresh}
    )
    assert ok.status_code == 303
    db.expire_all()
    assert db.get(LoyaltyReward, reward.id).name == "Big tea mug"


def test_a_form_without_version_still_saves_and_the_toggle_needs_none(db, client, users):
    a, _ = _two_tabs(db, client)
    rule = db.scalars(select(LoyaltyRule)).one()
    assert a.post(f"/loyalty/rules/{rule.id}", {**RULE, "rate": "3"}).status_code == 303
    assert a.post(f"/loyalty/rules/{rule.id}/active").status_code == 303
    db.expire_all()
    rule = db.get(LoyaltyRule, rule.id)
    assert (rule.rate, rule.active, rule.version) == (Decimal("3.0000"), False, 3)


def test_api_if_match_and_version_on_rules_tiers_rewards_and_programme(db, client, tokens):
    make_programme(db)
    db.commit()
    mh = tokens["manager"]
    rule = client.get("/api/v1/loyalty/rules", headers=mh).json()[0]
    assert rule["version"] == 1
    body = {k: v for k, v in rule.items() if k not in ("id", "version")}
    ok = client.put(
        f"/api/v1/loyalty/rules/{rule['id']}",
        json={**body, "rate": "2"},
        headers={**mh, "If-Match": '"1"'},
    )
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"' and ok.json()["version"] == 2
    stale = client.put(
        f"/api/v1/loyalty/rules/{rule['id']}",
        json={**body, "rate": "9"},
        headers={**mh, "If-Match": '"1"'},
    )
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    assert stale.json()["current_version"] == 2
    stale_body = client.put(
        f"/api/v1/loyalty/rules/{rule['id']}", json={**body, "rate": "9", "version": 1}, headers=mh
    )
    assert stale_body.status_code == 409
    assert client.get("/api/v1/loyalty/rules", headers=mh).json()[0]["rate"] == "2.0000"

    tier = client.post(
        "/api/v1/loyalty/tiers", json={"code": "gold", "name": "Gold", "rank": 1}, headers=mh
    ).json()
    assert tier["version"] == 1
    t_body = {"code": "gold", "name": "Gold", "rank": 1}
    t_url = f"/api/v1/loyalty/tiers/{tier['id']}"
    first = client.put(t_url, json={**t_body, "name": "Gold 2", "version": 1}, headers=mh)
    assert first.status_code == 200 and first.json()["version"] == 2
    second = client.put(t_url, json={**t_body, "name": "Gold 3", "version": 1}, headers=mh)
    assert second.status_code == 409

    reward = client.post(
        "/api/v1/loyalty/rewards",
        json={"code": "mug", "name": "Mug", "kind": "gift", "points_cost": 80, "stock": 3},
        headers=mh,
    ).json()
    r_body = {"code": "mug", "name": "Mug", "kind": "gift", "points_cost": 80, "stock": 3}
    assert (
        client.put(
            f"/api/v1/loyalty/rewards/{reward['id']}",
            json=r_body,
            headers={**mh, "If-Match": '"2"'},
        )
    ).status_code == 409

    got = client.get("/api/v1/loyalty/programme", headers=mh)
    etag = got.headers["ETag"]
    changed = client.patch(
        "/api/v1/loyalty/programme", json={"expiry_days": 200}, headers={**mh, "If-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    again = client.patch(
        "/api/v1/loyalty/programme", json={"expiry_days": 100}, headers={**mh, "If-Match": etag}
    )
    assert again.status_code == 409
    assert client.get("/api/v1/loyalty/programme", headers=mh).json()["expiry_days"] == 200


def test_parallel_saves_of_one_rule_version_one_wins(live_pg):
    """Eight tabs save the rule they all loaded at version 1, each with a different rate (none the
    stored one, which would be a no-op save): one 303, the rest 409, the winner's rate stored."""
    with live_pg.session() as s:
        make_programme(s)
        manager = make_user(s, role="manager")
        s.commit()
        rule_id, username = s.scalars(select(LoyaltyRule.id)).one(), manager.username
    n = 8
    tabs = []
    for _ in range(n):
        b = Browser(live_pg.client())
        assert b.login(username).status_code == 303
        tabs.append(b)

    def save(i: int) -> int:
        url = f"/loyalty/rules/{rule_id}"
        return tabs[i].post(url, {**RULE, "rate": str(i + 2), "version": "1"}).status_code

    results = run_parallel(n, save)
    codes = statuses(results)
    assert codes == {303: 1, 409: n - 1}, codes
    winner = results.index(303)
    with live_pg.session() as s:
        rule = s.get(LoyaltyRule, rule_id)
        assert rule.version == 2 and rule.rate == Decimal(winner + 2)


def test_parallel_reversals_of_one_reward_give_every_unit_back(live_pg):
    """Reversing redemptions of one reward at once: each reversal puts its unit back in stock
    (the stock was read and written without the reward's lock, so an increment could be lost;
    with the versioned row, one reversal would fail instead)."""
    n = 6
    with live_pg.session() as s:
        make_programme(s)
        manager = make_user(s, role="manager")
        reward = LoyaltyReward(code="mug", name="Mug", kind="gift", points_cost=10, stock=n)
        s.add(reward)
        s.flush()
        journals = []
        for _ in range(n):
            c = make_customer(s)
            service.adjust(s, c.id, 100, actor=manager, reason="welcome")
            journals.append(service.redeem(s, c.id, actor=manager, reward_id=reward.id).journal_id)
        headers = bearer_headers(s, manager, n)
        s.commit()
        reward_id = reward.id
        assert s.get(LoyaltyReward, reward_id).stock == 0

    codes = statuses(run_parallel(n, lambda i: _reverse(live_pg, journals[i], headers[i])))
    assert codes == {201: n}, codes
    with live_pg.session() as s:
        assert s.get(LoyaltyReward, reward_id).stock == n
        assert check_ledger(s).ok


def _reverse(live_pg, journal_id: int, headers: dict[str, str]) -> int:
    with live_pg.client() as client:
        url = f"/api/v1/loyalty/journals/{journal_id}/reversal"
        return client.post(url, json={"reason": "oops"}, headers=headers).status_code


def test_names_with_bidirectional_controls_are_refused(db, client, users, tokens):
    """A rule, tier, reward, club or programme named "\u202egpj.exe" was stored (it shows as
    "exe.jpg"); names are checked like every other name (core.validation.Name)."""
    make_programme(db)
    db.commit()
    mh = tokens["manager"]
    evil = "\u202e" + "gpj.exe"
    for url, body in (
        ("/api/v1/loyalty/rules", {"name": evil, "kind": "spend", "rate": "1"}),
        ("/api/v1/loyalty/tiers", {"code": "x", "name": evil, "rank": 9}),
        ("/api/v1/loyalty/rewards", {"code": "x", "name": evil, "kind": "gift", "points_cost": 5}),
        ("/api/v1/loyalty/clubs", {"name": evil}),
    ):
        r = client.post(url, json=body, headers=mh)
        assert r.status_code == 422 and r.json()["field"] == "name", (url, r.text)
    r = client.patch("/api/v1/loyalty/programme", json={"name": evil}, headers=mh)
    assert r.status_code == 422 and r.json()["field"] == "name"
    web = Browser(client)
    web.login("manager")
    rule = db.scalars(select(LoyaltyRule)).one()
    page = web.post(f"/loyalty/rules/{rule.id}", {**RULE, "name": evil})
    assert page.status_code == 422 and 'id="e-name"' in page.text
    db.expire_all()
    assert db.get(LoyaltyRule, rule.id).name == "Spend"
    # A name stored before the check still reads back.
    rule.name = evil
    db.commit()
    assert client.get("/api/v1/loyalty/rules", headers=mh).json()[0]["name"] == evil
