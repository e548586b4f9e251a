"""Loyalty web pages: dashboard, member page with counter redemption, programme configuration,
the 360 panel, in English and Chinese."""

from __future__ import annotations

from decimal import Decimal

from retento.loyalty import ledger, service
from retento.loyalty.models import LoyaltyReward, LoyaltyTier
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _member(db, users, points=500):
    make_programme(db)
    c = make_customer(db, external_id="M-1")
    service.adjust(db, c.id, points, actor=users["manager"], reason="opening")
    db.add(LoyaltyReward(code="mug", name="Mug", kind="gift", points_cost=200, stock=3))
    db.commit()
    return c


def test_counter_finds_member_and_redeems_reward_once(db, client, users):
    c = _member(db, users)
    web = Browser(client)
    web.login("agent")
    r = web.get("/loyalty/counter", params={"q": "M-1"}, follow_redirects=False)
    assert r.status_code == 303 and f"/loyalty/members/{c.id}" in r.headers["location"]
    page = web.get(f"/loyalty/members/{c.id}")
    assert page.status_code == 200 and "Mug" in page.text
    reward_id = db.query(LoyaltyReward).one().id
    form = {"reward_id": str(reward_id), "idempotency_key": "form-1"}
    assert web.post(f"/loyalty/members/{c.id}/redeem", form).status_code == 303
    assert web.post(f"/loyalty/members/{c.id}/redeem", form).status_code == 303  # resubmitted
    db.expire_all()
    assert ledger.get_wallet(db, c.id).balance == 300
    bad = web.post(f"/loyalty/members/{c.id}/redeem", {"points": "9999"})
    assert bad.status_code == 409 and "Not enough points" in bad.text
    bad = web.post(f"/loyalty/members/{c.id}/redeem", {"points": "abc"})
    assert bad.status_code == 422


def test_counter_reward_that_is_no_id_is_refused_on_its_field(db, client, users):
    """A reward of 0 or past 2^63 reached the database (PostgreSQL: "bigint out of range", a bare
    'A value is outside what the database can store.'); it is refused on the reward field."""
    c = _member(db, users)
    web = Browser(client)
    web.login("agent")
    for typed in ("9223372036854775808", "99999999999999999999", "0"):
        r = web.post(f"/loyalty/members/{c.id}/redeem", {"reward_id": typed, "points": "200"})
        assert r.status_code == 422, typed
        assert (
            "Choose a reward from the list." in r.text and "outside what the database" not in r.text
        )
    db.expire_all()
    assert ledger.get_wallet(db, c.id).balance == 500


def test_dashboard_and_panel(db, client, users):
    c = _member(db, users)
    web = Browser(client)
    web.login("analyst")
    d = web.get("/loyalty")
    assert d.status_code == 200 and 'id="loyalty-kpis"' in d.text
    page = web.get(f"/customers/{c.id}")
    assert 'id="loyalty-panel"' in page.text and "500" in page.text


def test_dashboard_liability_is_in_the_programme_s_currency(db, client, users):
    """The liability KPI read "$5.00 CNY": the installation's currency symbol on an amount in the
    programme's currency. It is money in the programme's currency (its symbol, not its code)."""
    make_programme(db, currency="CNY", point_value=Decimal("0.01"))
    c = make_customer(db, external_id="M-2")
    service.adjust(db, c.id, 500, actor=users["manager"], reason="opening")
    db.commit()
    web = Browser(client)
    web.login("analyst")
    d = web.get("/loyalty")
    assert d.status_code == 200
    assert "CN¥5.00" in d.text and "$5.00" not in d.text and "CNY" not in d.text


def test_tier_sla_class_is_named_not_coded(db, client, users):
    """The tier form offered the raw codes vip … below_zero as SLA classes, in Chinese too."""
    from retento.web.i18n import gettext

    make_programme(db)
    db.add(LoyaltyTier(code="gold", name="Gold", rank=1, threshold=1000, sla_class="below_zero"))
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    form = web.get("/loyalty/tiers/new")
    assert form.status_code == 200
    name = gettext("zh_CN", "Below zero")
    assert name != "Below zero"
    assert f">{name}</option>" in form.text and ">below_zero</option>" not in form.text
    programme = web.get("/loyalty/programme")
    assert f"<td>{name}</td>" in programme.text


def test_member_list_shows_the_tier_name_not_its_code(db, client, users):
    """The members list showed "silver" (the tier's code) where the rest shows "Silver"."""
    from retento.loyalty.members_io import import_members
    from tests.factories.loyalty import make_tiers

    make_programme(db)
    (gold,) = make_tiers(db, ("gold", 1000, "1.5"))
    gold.name = "Gold club"
    make_customer(db, external_id="M-9")
    db.commit()
    csv = "customer_external_id,tier\nM-9,gold\n"
    import_members(db, csv.encode(), "members.csv", actor=users["manager"])
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get("/loyalty/members")
    assert page.status_code == 200
    assert "<td>Gold club</td>" in page.text and "<td>gold</td>" not in page.text


def test_manager_configures_tiers_rules_rewards(db, client, users):
    make_programme(db)
    db.commit()
    web = Browser(client)
    web.login("manager")
    assert web.get("/loyalty/programme").status_code == 200
    r = web.post(
        "/loyalty/programme/tiers",
        {"code": "gold", "name": "Gold", "rank": "2", "threshold": "1000", "multiplier": "1.5"},
    )
    assert r.status_code == 303, r.text
    assert db.query(LoyaltyTier).one().multiplier == Decimal("1.50")
    r = web.post(
        "/loyalty/programme/rules",
        {
            "name": "Birthday",
            "kind": "event",
            "event": "birthday",
            "fixed_points": "100",
            "active": "1",
        },
    )
    assert r.status_code == 303, r.text
    r = web.post(
        "/loyalty/programme/rewards",
        {"code": "v10", "name": "Voucher", "kind": "voucher", "points_cost": "0"},
    )
    assert r.status_code == 422
    r = web.post(
        "/loyalty/programme",
        {"name": "Club", "expiry_days": "400", "active": "1", "refund_policy": "cap"},
    )
    assert r.status_code == 303, r.text
    db.expire_all()
    assert ledger.programme(db).expiry_days == 400
    web2 = Browser(client)
    web2.login("agent")
    assert web2.get("/loyalty/programme").status_code == 403


def test_member_page_in_chinese(db, client, users):
    c = _member(db, users)
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/loyalty/members/{c.id}")
    assert page.status_code == 200 and "积分" in page.text


def test_dashboard_counts_come_from_the_stats_job(db, client, users):
    from retento.loyalty import reports

    _member(db, users)
    live = reports.dashboard(db, actor=users["analyst"])
    assert live.members == 1 and live.as_of is not None
    reports.refresh_stats(db)
    make_customer(db)  # not a member: counts unchanged
    d = reports.dashboard(db, actor=users["analyst"])
    assert d.members == 1 and d.tiers == [("—", 1)]


def test_member_club_and_event_pages_answer_404_for_an_id_past_int8(db, client, users):
    """The loyalty pages took their path ids as plain ``int``: past 2^63 the lookup reached the
    database (PostgreSQL: "bigint out of range", a 422 naming no field). Like every other page
    they take ``DbId``: no such record can exist, 404, and nothing is written."""
    c = _member(db, users)
    web = Browser(client)
    web.login("manager")
    past = "9223372036854775808"
    for path in (
        f"/loyalty/members/{past}",
        f"/loyalty/tiers/{past}",
        f"/loyalty/rules/{past}",
        f"/loyalty/rewards/{past}",
        f"/loyalty/clubs/{past}",
        f"/loyalty/clubs/{past}/events/1",
        f"/loyalty/clubs/1/events/{past}",
    ):
        r = web.get(path)
        assert r.status_code == 404, (path, r.status_code)
    for path, form in (
        (f"/loyalty/members/{past}/redeem", {"points": "1"}),
        (f"/loyalty/members/{past}/adjust", {"adj_points": "5", "reason": "x"}),
        (f"/loyalty/clubs/{past}/members", {"customer": str(c.id)}),
        (f"/loyalty/clubs/{past}/events/1/attendance", {"customer": str(c.id)}),
    ):
        r = web.post(path, form)
        assert r.status_code == 404, (path, r.status_code)
        assert "outside what the database" not in r.text
    db.expire_all()
    assert ledger.get_wallet(db, c.id).balance == 500
