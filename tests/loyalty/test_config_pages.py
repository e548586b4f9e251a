"""Loyalty configuration in the browser: tiers, earning rules, rewards catalogue, member clubs
with events and attendance; validation errors name the field; Chinese; permissions."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.loyalty import ledger
from retento.loyalty.models import (
    LoyaltyAttendance,
    LoyaltyClub,
    LoyaltyClubEvent,
    LoyaltyClubMember,
    LoyaltyReward,
    LoyaltyRule,
    LoyaltyTier,
)
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer
from tests.loyalty.programme_world import programme_world, world_programme  # noqa: F401
from tests.shared_world import session_factory_fixture, users_fixture  # noqa: F401
from tests.web.conftest import Browser


def _manager(db, client) -> Browser:
    db.commit()
    web = Browser(client)
    web.login("manager")
    return web


def test_manager_creates_edits_and_removes_a_tier(db, client, users):
    web = _manager(db, client)
    assert "/loyalty/tiers/new" in web.get("/loyalty/programme").text
    form = {
        "code": "gold",
        "name": "Gold",
        "rank": "2",
        "threshold": "1000",
        "multiplier": "1.5",
        "grace_days": "60",
        "benefits": "Free delivery",
        "invite_only": "1",
    }
    r = web.post("/loyalty/tiers/new", form)
    assert r.status_code == 303, r.text
    t = db.scalars(select(LoyaltyTier)).one()
    assert (t.threshold, t.multiplier, t.grace_days, t.invite_only, t.benefits) == (
        1000,
        Decimal("1.50"),
        60,
        True,
        "Free delivery",
    )
    page = web.get(f"/loyalty/tiers/{t.id}")
    assert page.status_code == 200 and 'value="1000"' in page.text and "Free delivery" in page.text
    r = web.post(f"/loyalty/tiers/{t.id}", {**form, "threshold": "2000", "invite_only": ""})
    assert r.status_code == 303, r.text
    db.expire_all()
    assert (t.threshold, t.invite_only) == (2000, False)
    # A member in the tier blocks removal, with a message and nothing removed.
    c = make_customer(db)
    ledger.wallet(db, c.id).tier_id = t.id
    db.commit()
    r = web.post(f"/loyalty/tiers/{t.id}/delete")
    assert r.status_code == 409 and "move them" in r.text
    ledger.get_wallet(db, c.id).tier_id = None
    db.commit()
    assert web.post(f"/loyalty/tiers/{t.id}/delete").status_code == 303
    db.expire_all()
    assert db.scalars(select(LoyaltyTier)).all() == []


def test_bad_tier_shows_the_field_error_and_writes_nothing(db, client, users):
    web = _manager(db, client)
    r = web.post("/loyalty/tiers/new", {"code": "bad code!", "name": "X", "rank": "x"})
    assert r.status_code == 422
    assert 'id="e-code"' in r.text and 'id="e-rank"' in r.text
    assert 'value="bad code!"' in r.text  # the form is shown again with what was typed
    assert db.scalars(select(LoyaltyTier)).all() == []
    assert web.get("/loyalty/tiers/999999").status_code == 404


def test_manager_creates_edits_and_deactivates_a_rule(db, client, users):
    web = _manager(db, client)
    assert web.get("/loyalty/rules/new").status_code == 200
    r = web.post(
        "/loyalty/rules/new",
        {
            "name": "Complaint goodwill",
            "kind": "event",
            "event": "complaint_remedy",
            "fixed_points": "50",
            "valid_from": "2026-01-01T00:00",
            "valid_until": "2026-12-31T23:59",
            "cap_points": "200",
            "cap_period_days": "30",
            "apply_multiplier": "1",
            "active": "1",
        },
    )
    assert r.status_code == 303, r.text
    rule = db.scalars(select(LoyaltyRule).where(LoyaltyRule.kind == "event")).one()
    assert (rule.event, rule.fixed_points, rule.cap_points, rule.cap_period_days) == (
        "complaint_remedy",
        50,
        200,
        30,
    )
    assert rule.valid_from is not None and rule.valid_until > rule.valid_from
    listing = web.get("/loyalty/rules")
    assert "Complaint goodwill" in listing.text and "Complaint remedy" in listing.text
    edit = web.get(f"/loyalty/rules/{rule.id}")
    assert edit.status_code == 200 and 'value="2026-01-01T00:00"' in edit.text
    r = web.post(
        f"/loyalty/rules/{rule.id}",
        {
            "name": "Spend more",
            "kind": "spend",
            "rate": "2",
            "min_spend": "10.00",
            "event": "birthday",  # ignored for a spend rule
            "active": "1",
        },
    )
    assert r.status_code == 303, r.text
    db.expire_all()
    assert (rule.kind, rule.rate, rule.event, rule.min_spend, rule.apply_multiplier) == (
        "spend",
        Decimal("2.0000"),
        None,
        Decimal("10.00"),
        False,
    )
    assert web.post(f"/loyalty/rules/{rule.id}/active").status_code == 303
    db.expire_all()
    assert rule.active is False
    assert db.scalar(
        select(AuditEntry.id).where(
            AuditEntry.entity == "loyalty_rule", AuditEntry.entity_id == str(rule.id)
        )
    )


def test_bad_rule_names_the_field(db, client, users):
    web = _manager(db, client)
    before = db.query(LoyaltyRule).count()
    r = web.post("/loyalty/rules/new", {"name": "P", "kind": "product", "active": "1"})
    assert r.status_code == 422 and 'id="e-product_id"' in r.text
    assert "A product rule needs a product." in r.text
    r = web.post(
        "/loyalty/rules/new",
        {
            "name": "P",
            "kind": "spend",
            "valid_from": "2026-05-01T00:00",
            "valid_until": "2026-04-01T00:00",
        },
    )
    assert r.status_code == 422 and 'id="e-valid_until"' in r.text
    r = web.post(
        "/loyalty/rules/new",
        {"name": "P", "kind": "spend", "rate": "1", "valid_from": "not a date"},
    )
    assert r.status_code == 422 and 'id="e-valid_from"' in r.text
    r = web.post("/loyalty/rules/new", {"name": "P", "kind": "product", "product_id": "424242"})
    assert r.status_code == 422 and 'id="e-product_id"' in r.text
    assert db.query(LoyaltyRule).count() == before


def test_manager_creates_and_edits_a_reward(db, client, users):
    web = _manager(db, client)
    tier = LoyaltyTier(code="silver", name="Silver", rank=1, threshold=100)
    db.add(tier)
    db.commit()
    form = {
        "code": "spa",
        "name": "Spa day",
        "kind": "service",
        "points_cost": "5000",
        "stock": "10",
        "min_tier_id": str(tier.id),
        "active": "1",
    }
    assert web.post("/loyalty/rewards/new", form).status_code == 303
    rw = db.scalars(select(LoyaltyReward)).one()
    assert (rw.kind, rw.points_cost, rw.stock, rw.min_tier_id, rw.active) == (
        "service",
        5000,
        10,
        tier.id,
        True,
    )
    assert "Spa day" in web.get("/loyalty/rewards").text
    page = web.get(f"/loyalty/rewards/{rw.id}")
    assert page.status_code == 200 and 'value="5000"' in page.text
    r = web.post(f"/loyalty/rewards/{rw.id}", {**form, "stock": "", "active": ""})
    assert r.status_code == 303
    db.expire_all()
    assert (rw.stock, rw.active) == (None, False)
    r = web.post("/loyalty/rewards/new", {**form, "points_cost": "-1"})  # duplicate code too
    assert r.status_code == 422 and 'id="e-points_cost"' in r.text
    r = web.post("/loyalty/rewards/new", {**form, "points_cost": "10"})
    assert r.status_code == 409 and 'id="e-code"' in r.text
    assert db.query(LoyaltyReward).count() == 1


def test_club_event_and_attendance_through_the_web(db, client, users):
    web = _manager(db, client)
    c = make_customer(db, external_id="C-77", name="Li Na")
    ledger.wallet(db, c.id)
    db.commit()
    r = web.post("/loyalty/clubs", {"name": "Wine circle", "description": "Tastings"})
    assert r.status_code == 303, r.text
    club = db.scalars(select(LoyaltyClub)).one()
    assert r.headers["location"] == f"/loyalty/clubs/{club.id}"
    assert "Wine circle" in web.get("/loyalty/clubs").text
    r = web.post(f"/loyalty/clubs/{club.id}/members", {"customer": "C-77"})
    assert r.status_code == 303, r.text
    bad = web.post(f"/loyalty/clubs/{club.id}/members", {"customer": "nobody"})
    assert bad.status_code == 422 and 'id="e-customer"' in bad.text
    r = web.post(
        f"/loyalty/clubs/{club.id}/events",
        {"title": "Autumn tasting", "starts_at": "2026-10-01T19:00", "location": "Shop"},
    )
    assert r.status_code == 303, r.text
    event = db.scalars(select(LoyaltyClubEvent)).one()
    bad = web.post(f"/loyalty/clubs/{club.id}/events", {"title": "", "starts_at": "soon"})
    assert bad.status_code == 422 and 'id="e-starts_at"' in bad.text
    assert db.query(LoyaltyClubEvent).count() == 1
    page = web.get(f"/loyalty/clubs/{club.id}/events/{event.id}")
    assert page.status_code == 200 and "Li Na" in page.text
    url = f"/loyalty/clubs/{club.id}/events/{event.id}/attendance"
    assert web.post(url, {"customer_id": str(c.id)}).status_code == 303
    assert web.post(url, {"customer_id": str(c.id)}).status_code == 303  # recorded once
    stranger = make_customer(db)
    db.commit()
    bad = web.post(url, {"customer_id": str(stranger.id)})
    assert bad.status_code == 422 and "not a member of this club" in bad.text
    db.expire_all()
    a = db.scalars(select(LoyaltyAttendance)).one()
    tp = db.get(Touchpoint, a.touchpoint_id)
    assert tp.customer_id == c.id and "Autumn tasting" in tp.note
    assert db.query(LoyaltyClubMember).count() == 1
    club_page = web.get(f"/loyalty/clubs/{club.id}")
    assert "Autumn tasting" in club_page.text and "Li Na" in club_page.text
    dup = web.post("/loyalty/clubs", {"name": "Wine circle"})
    assert dup.status_code == 409 and "This value is already used." in dup.text
    # An event of another club is not reachable under this club.
    other = web.post("/loyalty/clubs", {"name": "Other"})
    other_id = int(other.headers["location"].rsplit("/", 1)[1])
    assert web.get(f"/loyalty/clubs/{other_id}/events/{event.id}").status_code == 404


def test_configuration_pages_in_chinese(db, client, users):
    users["manager"].locale = "zh_CN"
    web = _manager(db, client)
    for url, word in (
        ("/loyalty/rules/new", "积分规则"),
        ("/loyalty/rewards/new", "礼品"),
        ("/loyalty/clubs", "客户组织"),
        ("/loyalty/tiers/new", "等级"),
    ):
        page = web.get(url)
        assert page.status_code == 200 and word in page.text, url
    r = web.post("/loyalty/tiers/new", {"code": "g", "name": "G", "rank": "x"})
    assert r.status_code == 422 and "整数" in r.text
    r = web.post("/loyalty/rules/new", {"name": "P", "kind": "product"})
    assert r.status_code == 422 and "按商品的规则需要指定商品" in r.text


def test_non_manager_cannot_configure(db, client, users):
    tier = LoyaltyTier(code="gold", name="Gold", rank=1)
    db.add(tier)
    db.add(LoyaltyClub(name="Club"))
    db.commit()
    club = db.scalars(select(LoyaltyClub)).one()
    web = Browser(client)
    web.login("agent")
    assert web.get("/loyalty/rules").status_code == 200  # loyalty:read sees the lists
    assert web.get("/loyalty/rewards").status_code == 200
    assert web.get(f"/loyalty/clubs/{club.id}").status_code == 200
    for url in ("/loyalty/rules/new", "/loyalty/rewards/new", f"/loyalty/tiers/{tier.id}"):
        assert web.get(url).status_code == 403, url
    rule_count = db.query(LoyaltyRule).count()
    for url, data in (
        ("/loyalty/tiers/new", {"code": "x", "name": "X", "rank": "5"}),
        ("/loyalty/rules/new", {"name": "X", "kind": "spend", "rate": "9"}),
        ("/loyalty/rewards/new", {"code": "x", "name": "X", "kind": "gift", "points_cost": "1"}),
        ("/loyalty/clubs", {"name": "Mine"}),
        (f"/loyalty/clubs/{club.id}/events", {"title": "T", "starts_at": "2026-01-01T10:00"}),
        (f"/loyalty/tiers/{tier.id}/delete", {}),
    ):
        assert web.post(url, data).status_code == 403, url
    db.expire_all()
    assert db.query(LoyaltyRule).count() == rule_count
    assert db.query(LoyaltyTier).count() == 1 and db.query(LoyaltyClub).count() == 1
    analyst = Browser(client)
    analyst.login("analyst")
    assert analyst.post(f"/loyalty/clubs/{club.id}/members", {"customer": "1"}).status_code == 403


@pytest.mark.parametrize("locale,heading", [("en", "Earning rules"), ("zh_CN", "积分规则")])
def test_rates_and_the_point_value_show_the_digits_that_carry_information(
    db, client, users, locale, heading
):
    """A rate stored as 1.0000 or 0.0000 (Numeric(10, 4)) is shown and edited as "1" and "0",
    a point value stored as 0.010000 as "0.01", and 2.5 stays "2.5"; in English and Chinese."""
    users["manager"].locale = locale
    web = _manager(db, client)  # the "Spend" rule, 1 point per unit
    db.add(LoyaltyRule(name="Birthday", kind="event", event="birthday", rate=Decimal("0")))
    db.add(LoyaltyRule(name="Double", kind="spend", rate=Decimal("2.5"), fixed_points=0))
    db.commit()
    spend = db.scalars(select(LoyaltyRule).where(LoyaltyRule.name == "Spend")).one()

    def rates(html: str, table: str) -> dict[str, str]:
        body = re.search(rf'id="{table}".*?<tbody>(.*?)</tbody>', html, re.S)
        assert body, table
        out = {}
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S):
            cells = [
                re.sub(r"<[^>]+>", "", c).strip()
                for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            ]
            out[cells[0]] = cells[2]
        return out

    listing = web.get("/loyalty/rules").text
    assert heading in listing
    assert rates(listing, "rules-table") == {"Spend": "1", "Birthday": "0", "Double": "2.5"}
    assert ".0000" not in listing
    config = web.get("/loyalty/programme").text
    assert re.search(r'name="point_value"[^>]*value="0.01"', config), config
    assert "0.010000" not in config and ".0000" not in config
    edit = web.get(f"/loyalty/rules/{spend.id}").text
    assert re.search(r'name="rate"[^>]*value="1"', edit), edit
    # saved back as shown, the rule is unchanged
    db.expire_all()
    assert db.get(LoyaltyRule, spend.id).rate == Decimal("1")
