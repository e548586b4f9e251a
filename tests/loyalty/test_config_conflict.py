"""The loyalty configuration forms' stale-edit page compares three ways (web.conflict): two tabs
on one reward, tier, earning rule or the programme settings, each changing something. The
second save lists only what the second tab changed, and "Apply my values" keeps the first
tab's change (a reward's stock moved by a redemption too)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from retento.loyalty import service
from retento.loyalty.models import LoyaltyProgramme, LoyaltyReward, LoyaltyRule, LoyaltyTier
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser

REWARD = {"code": "mug", "name": "Tea mug", "kind": "gift", "points_cost": "100", "stock": "10"}
TIER = {"code": "gold", "name": "Gold", "rank": "2", "threshold": "1000", "multiplier": "1.5"}


@pytest.fixture
def tab(db, client, users) -> Browser:
    make_programme(db)
    db.commit()
    t = Browser(client)
    t.login("manager")
    return t


def _two(tab: Browser, url: str) -> tuple[dict[str, str], dict[str, str]]:
    return form_of(tab.get(url).text, url), form_of(tab.get(url).text, url)


def _reward(db, tab) -> LoyaltyReward:
    assert tab.post("/loyalty/rewards/new", {**REWARD, "active": "1"}).status_code == 303
    return db.scalars(select(LoyaltyReward)).one()


def test_reward_other_field_listed_alone_and_both_changes_survive(db, tab):
    reward = _reward(db, tab)
    url = f"/loyalty/rewards/{reward.id}"
    first, second = _two(tab, url)
    assert second["base.points_cost"] == "100"
    assert tab.post(url, {**first, "points_cost": "120"}).status_code == 303
    stale = tab.post(url, {**second, "name": "Big tea mug"})
    assert stale.status_code == 409, stale.text
    assert rows_of(stale.text) == {"name": ("Big tea mug", "Tea mug")}
    again = form_of(stale.text, url)
    assert again["points_cost"] == "120" and again["base.points_cost"] == "120"
    assert tab.post(url, again).status_code == 303
    db.expire_all()
    r = db.get(LoyaltyReward, reward.id)
    assert (r.name, r.points_cost, r.version) == ("Big tea mug", 120, 3)


def test_reward_same_field_shows_both_values_and_a_redemption_keeps_its_stock(db, tab, users):
    reward = _reward(db, tab)
    url = f"/loyalty/rewards/{reward.id}"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "name": "Mug"}).status_code == 303
    member = make_customer(db)
    db.commit()
    service.adjust(db, member.id, 500, actor=users["manager"], reason="welcome")
    service.redeem(db, member.id, actor=users["agent"], reward_id=reward.id)  # stock 10 → 9
    db.commit()
    stale = tab.post(url, {**second, "name": "Cup"})
    assert stale.status_code == 409
    # The stock this form still shows (10) is not this user's change: not listed, not applied.
    assert rows_of(stale.text) == {"name": ("Cup", "Mug")}
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    r = db.get(LoyaltyReward, reward.id)
    assert (r.name, r.stock) == ("Cup", 9)


def test_tier_and_rule_merge_field_by_field(db, tab):
    assert tab.post("/loyalty/tiers/new", TIER).status_code == 303
    tier = db.scalars(select(LoyaltyTier)).one()
    url = f"/loyalty/tiers/{tier.id}"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "threshold": "2000"}).status_code == 303
    stale = tab.post(url, {**second, "benefits": "Free delivery", "invite_only": "1"})
    assert stale.status_code == 409
    assert set(rows_of(stale.text)) == {"benefits", "invite_only"}
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    t = db.get(LoyaltyTier, tier.id)
    assert (t.threshold, t.benefits, t.invite_only) == (2000, "Free delivery", True)

    rule = db.scalars(select(LoyaltyRule)).one()
    url = f"/loyalty/rules/{rule.id}"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "rate": "2"}).status_code == 303
    stale = tab.post(url, {**second, "name": "Spend more", "rate": "3"})
    assert stale.status_code == 409
    rows = rows_of(stale.text)
    assert set(rows) == {"name", "rate"} and rows["rate"][0] == "3"
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    r = db.get(LoyaltyRule, rule.id)
    assert (r.name, r.rate) == ("Spend more", Decimal("3"))


@pytest.mark.parametrize(("locale", "label"), [("en", "Name"), ("zh_CN", "名称")])
def test_programme_settings_keep_the_other_tabs_checkbox(db, client, users, locale, label):
    make_programme(db)
    users["manager"].locale = locale
    db.commit()
    tab = Browser(client)
    tab.login("manager")
    url = "/loyalty/programme"
    first, second = _two(tab, url)
    assert second["base.auto_enrol"] in ("1", "")
    prog = db.scalars(select(LoyaltyProgramme)).one()
    was = prog.expiry_days
    one = {**first, "expiry_days": str(was + 5)}
    one.pop("active", None)  # the first tab switches the programme off
    assert tab.post(url, one).status_code == 303
    stale = tab.post(url, {**second, "name": "Tea club"})
    assert stale.status_code == 409
    assert list(rows_of(stale.text)) == ["name"]
    assert f'<th scope="row">{label}</th>' in stale.text
    again = form_of(stale.text, url)
    assert again["active"] == ""
    assert tab.post(url, again).status_code == 303
    db.expire_all()
    prog = db.scalars(select(LoyaltyProgramme)).one()
    assert (prog.name, prog.expiry_days, prog.active) == ("Tea club", was + 5, False)


def test_a_reward_form_with_errors_keeps_the_values_it_was_loaded_with(db, tab):
    reward = _reward(db, tab)
    url = f"/loyalty/rewards/{reward.id}"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "points_cost": "120"}).status_code == 303
    bad = tab.post(url, {**second, "name": "Big tea mug", "points_cost": "lots"})
    assert bad.status_code == 422
    shown = form_of(bad.text, url)
    assert shown["version"] == second["version"] and shown["base.points_cost"] == "100"
    stale = tab.post(url, {**shown, "points_cost": "100"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["name"]
