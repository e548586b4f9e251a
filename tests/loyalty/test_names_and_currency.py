"""QA findings on the loyalty pages:

1. a new programme's currency was CNY whatever the installation's (``RETENTO_CURRENCY``, US$ by
   default), so the liability read "2,138.47 CNY" beside "$300.00" minimum spends; a new
   programme now takes the installation's currency and a stored one keeps its own;
2. the liability printed the currency code after a bare number; it is money like every other
   amount (symbol, grouping, the reader's locale), in the programme's currency;
3. tier and reward names were one text, shown in English on Chinese pages and in Chinese tier
   notices; they have a Chinese name (form, API), shown to Chinese readers.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from retento.core.config import get_settings
from retento.loyalty import ledger, service, tiers
from retento.loyalty.models import LoyaltyReward, LoyaltyTier
from retento.mail.models import OutboxMessage
from retento.retention import playbook_apply
from retento.retention.models import RetentionTask
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.retention.test_offers import _alert, _ordinary
from tests.web.conftest import Browser


@pytest.fixture
def currency(monkeypatch):
    """Set the installation's currency (``RETENTO_CURRENCY``) for one test."""

    def set_currency(code: str) -> None:
        monkeypatch.setattr(get_settings(), "currency", code)

    return set_currency


def _gold_member(db, users, **customer):
    """A member in the tier Gold / 金卡, with a reward Tea mug / 茶杯 they can afford."""
    make_programme(db)
    gold = LoyaltyTier(
        code="gold", name="Gold", name_zh="金卡", rank=1, threshold=0, multiplier=Decimal("1")
    )
    platinum = LoyaltyTier(
        code="platinum", name="Platinum", name_zh="白金卡", rank=2, threshold=5000
    )
    db.add_all([gold, platinum])
    db.flush()
    db.add(
        LoyaltyReward(
            code="MUG", name="Tea mug", name_zh="茶杯", kind="gift", points_cost=200,
            min_tier_id=gold.id,
        )
    )  # fmt: skip
    c = make_customer(db, external_id="M-1", **customer)
    service.adjust(db, c.id, 500, actor=users["manager"], reason="opening")
    tiers.set_tier(db, c.id, gold.id, actor_id=users["manager"].id)
    db.commit()
    return c, gold


# --- 1. the programme's currency ----------------------------------------------------------------


def test_a_new_programme_takes_the_installation_s_currency(db, currency):
    currency("EUR")
    assert ledger.programme(db).currency == "EUR"


def test_a_stored_programme_keeps_its_currency(db, currency):
    currency("USD")
    p = ledger.programme(db)
    p.currency = "CNY"
    db.commit()
    currency("EUR")
    ledger.forget(db)
    db.expire_all()
    assert ledger.programme(db).currency == "CNY"


# --- 2. the liability is money ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "programme_currency", "shown"),
    [
        ("en", None, "$5.00"),
        ("zh_CN", None, "US$5.00"),
        ("en", "CNY", "CN¥5.00"),
        ("zh_CN", "CNY", "¥5.00"),
    ],
)
def test_liability_is_formatted_as_money_in_the_programme_s_currency(
    db, client, users, currency, locale, programme_currency, shown
):
    currency("USD")
    settings = {"currency": programme_currency} if programme_currency else {}
    make_programme(db, point_value=Decimal("0.01"), **settings)
    c = make_customer(db, external_id="M-2")
    service.adjust(db, c.id, 500, actor=users["manager"], reason="opening")
    users["analyst"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("analyst")
    d = web.get("/loyalty")
    assert d.status_code == 200
    assert f'<div class="kpi-value" id="liability-value">{shown}</div>' in d.text
    assert "CNY" not in d.text and "USD" not in d.text


# --- 3. tier and reward names in the reader's language ------------------------------------------


@pytest.mark.parametrize(
    ("locale", "tier", "reward", "other"),
    [("zh_CN", "金卡", "茶杯", ("Gold", "Tea mug")), ("en", "Gold", "Tea mug", ("金卡", "茶杯"))],
)
def test_pages_show_tier_and_reward_names_in_the_reader_s_language(
    db, client, users, locale, tier, reward, other
):
    c, _ = _gold_member(db, users)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    pages = {
        "/loyalty": [f"<td>{tier}</td>"],
        f"/loyalty/members/{c.id}": [f"{tier}</p>", f"{reward} (200)"],
        "/loyalty/members": [f"<td>{tier}</td>", f">{tier}</option>"],
        "/loyalty/programme": [f">{tier}</a>", f">{reward}</a>", f"<td>{tier}</td>"],
        "/loyalty/rewards": [f">{reward}</a>", f"<td>{tier}</td>"],
        "/loyalty/rewards/new": [f">{tier}</option>"],
    }
    for url, wanted in pages.items():
        page = web.get(url)
        assert page.status_code == 200, url
        for text in wanted:
            assert text in page.text, (url, text)
        for text in other:
            assert text not in page.text, (url, text)
    # The 360 page's loyalty box (its timeline keeps the touchpoint note as it was written, in
    # the installation's language).
    assert f" · {tier}</p>" in web.get(f"/customers/{c.id}").text


def test_a_tier_without_a_chinese_name_shows_its_name_in_chinese(db, client, users):
    c, gold = _gold_member(db, users)
    gold.name_zh = None
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("agent")
    assert "等级: Gold" in web.get(f"/loyalty/members/{c.id}").text


def test_manager_edits_both_names_of_a_tier_and_a_reward(db, client, users):
    make_programme(db)
    db.commit()
    web = Browser(client)
    web.login("manager")
    form = web.get("/loyalty/tiers/new")
    assert 'name="name_zh"' in form.text
    r = web.post(
        "/loyalty/tiers/new",
        {"code": "gold", "name": "Gold", "name_zh": " 金卡 ", "rank": "1", "threshold": "0"},
    )
    assert r.status_code == 303, r.text
    t = db.scalar(select(LoyaltyTier).where(LoyaltyTier.code == "gold"))
    assert (t.name, t.name_zh) == ("Gold", "金卡")
    edit = web.get(f"/loyalty/tiers/{t.id}")
    assert 'value="金卡"' in edit.text
    r = web.post(
        f"/loyalty/tiers/{t.id}",
        {"code": "gold", "name": "Gold", "name_zh": "", "rank": "1", "version": str(t.version)},
    )
    assert r.status_code == 303, r.text
    db.expire_all()
    assert db.get(LoyaltyTier, t.id).name_zh is None  # emptied: the name everywhere

    r = web.post(
        "/loyalty/rewards/new",
        {"code": "MUG", "name": "Tea mug", "name_zh": "茶杯", "kind": "gift", "points_cost": "600"},
    )
    assert r.status_code == 303, r.text
    reward = db.scalar(select(LoyaltyReward).where(LoyaltyReward.code == "MUG"))
    assert reward.name_zh == "茶杯"
    assert 'value="茶杯"' in web.get(f"/loyalty/rewards/{reward.id}").text
    bad = web.post(
        "/loyalty/rewards/new",
        {"code": "X", "name": "X", "name_zh": "\u202e茶", "kind": "gift", "points_cost": "1"},
    )
    assert bad.status_code == 422


def test_api_reads_and_writes_the_chinese_names(db, client, users, tokens):
    make_programme(db)
    db.commit()
    body = {"code": "gold", "name": "Gold", "name_zh": "金卡", "rank": 1, "threshold": 100}
    r = client.post("/api/v1/loyalty/tiers", json=body, headers=tokens["manager"])
    assert r.status_code == 201, r.text
    assert r.json()["name_zh"] == "金卡"
    body = {"code": "MUG", "name": "Tea mug", "name_zh": "茶杯", "kind": "gift", "points_cost": 5}
    r = client.post("/api/v1/loyalty/rewards", json=body, headers=tokens["manager"])
    assert r.status_code == 201, r.text
    listed = client.get("/api/v1/loyalty/rewards", headers=tokens["agent"]).json()
    assert [(x["name"], x["name_zh"]) for x in listed] == [("Tea mug", "茶杯")]
    # Without a Chinese name (an older client): none is stored.
    r = client.post(
        "/api/v1/loyalty/tiers",
        json={"code": "silver", "name": "Silver", "rank": 0},
        headers=tokens["manager"],
    )
    assert r.status_code == 201 and r.json()["name_zh"] is None


@pytest.mark.parametrize("blank", ["", "   "])
def test_api_stores_an_empty_chinese_name_as_none_like_earning_rules(
    db, client, users, tokens, blank
):
    """An empty or blank ``name_zh`` is no Chinese name on tiers and rewards, as on earning
    rules: None in the response, the database and the audit log, on create and on replace."""
    from retento.audit.models import AuditEntry
    from retento.loyalty.models import LoyaltyRule

    make_programme(db)
    db.commit()
    cases = (
        ("tiers", LoyaltyTier, {"code": "gold", "name": "Gold", "rank": 1}),
        ("rewards", LoyaltyReward, {"code": "MUG", "name": "Mug", "kind": "gift", "points_cost": 5}),
        ("rules", LoyaltyRule, {"name": "Spend", "kind": "spend", "rate": "1"}),
    )  # fmt: skip
    for path, model, body in cases:
        url = f"/api/v1/loyalty/{path}"
        r = client.post(url, json={**body, "name_zh": blank}, headers=tokens["manager"])
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["name_zh"] is None, path
        # named, then emptied again by a replace
        r = client.put(
            f"{url}/{created['id']}",
            json={**body, "name_zh": "中文名", "version": created["version"]},
            headers=tokens["manager"],
        )
        assert r.status_code == 200 and r.json()["name_zh"] == "中文名", r.text
        r = client.put(
            f"{url}/{created['id']}",
            json={**body, "name_zh": blank, "version": r.json()["version"]},
            headers=tokens["manager"],
        )
        assert r.status_code == 200 and r.json()["name_zh"] is None, r.text
        db.expire_all()
        assert db.get(model, created["id"]).name_zh is None, path
        entity = f"loyalty_{path[:-1]}"
        last = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.entity_id == str(created["id"]))
            .order_by(AuditEntry.id.desc())
        ).first()
        assert (last.before["name_zh"], last.after["name_zh"]) == ("中文名", None), path


def test_chinese_tier_notice_names_the_tier_in_chinese(db, users):
    c, _ = _gold_member(db, users, email="wang@example.cn", consent_email=True, country="CN")
    (mail,) = db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.customer_id == c.id, OutboxMessage.kind == "loyalty_tier"
        )
    )
    assert mail.locale == "zh_CN"
    assert mail.subject == "您的会员等级：金卡" and "您的会员等级现为 金卡。" in mail.body_text


def test_win_back_voucher_is_named_in_the_reader_s_language(db, client, users):
    """The playbook list, the playbook's voucher choice and the owner's task name the reward
    in Chinese for a Chinese reader."""
    make_programme(db)
    reward = LoyaltyReward(
        code="V50", name="Tea voucher", name_zh="茶叶代金券", kind="voucher", points_cost=2500
    )
    db.add(reward)
    db.flush()
    pb = _ordinary(db, users, control_share=0.0, offer_points=0, offer_reward_id=reward.id)
    users["agent"].locale = "zh_CN"
    users["manager"].locale = "zh_CN"
    member = make_customer(db, owner_id=users["agent"].id)
    ledger.wallet(db, member.id)
    case = playbook_apply.apply_to_alert(
        db, _alert(db, member, owner=users["agent"]).id, actor=users["manager"]
    )
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    assert "礼券“茶叶代金券”" in task.script and "Tea voucher" not in task.script
    db.commit()
    web = Browser(client)
    web.login("manager")
    listed = web.get("/retention/playbooks")
    assert "茶叶代金券" in listed.text and "Tea voucher" not in listed.text
    form = web.get(f"/retention/playbooks/{pb.id}")
    assert "茶叶代金券 (V50;" in form.text
    web = Browser(client)
    web.login("agent")
    page = web.get("/retention/tasks")
    assert "茶叶代金券" in page.text and "Tea voucher" not in page.text
