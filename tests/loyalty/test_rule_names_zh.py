"""Earning rules named in Chinese too: the Chinese UI showed the demo's rules ("1 point per
unit spent", "Birthday" …) in English. Like tiers and rewards, a rule has an optional Chinese
name (form, API, audit log), shown to Chinese readers; without one, the name is shown."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from retento.demo import generator
from retento.loyalty.models import LoyaltyRule
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

# The whole demo, every step, but small: the rules it names do not depend on how many customers
# it makes (30 still take every step through; tests/demo covers the demo's volume).
DEMO_CUSTOMERS = 30


def _rules(db) -> tuple[LoyaltyRule, LoyaltyRule]:
    make_programme(db)
    birthday = LoyaltyRule(
        name="Birthday", name_zh="生日礼分", kind="event", event="birthday", fixed_points=200
    )
    plain = LoyaltyRule(name="Spend rule", kind="spend")
    db.add_all([birthday, plain])
    db.commit()
    return birthday, plain


def test_name_in_picks_the_reader_s_language():
    rule = LoyaltyRule(name="Birthday", name_zh="生日礼分")
    assert (rule.name_in("zh_CN"), rule.name_in("en")) == ("生日礼分", "Birthday")
    rule.name_zh = None
    assert rule.name_in("zh_CN") == "Birthday"


@pytest.mark.parametrize(
    ("locale", "shown", "other"),
    [("zh_CN", "生日礼分", "Birthday"), ("en", "Birthday", "生日礼分")],
)
def test_pages_show_rule_names_in_the_reader_s_language(db, client, users, locale, shown, other):
    birthday, _ = _rules(db)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    for url in ("/loyalty/rules", "/loyalty/programme"):
        page = web.get(url)
        assert page.status_code == 200, url
        assert f'<a href="/loyalty/rules/{birthday.id}">{shown}</a>' in page.text, url
        assert f">{other}</a>" not in page.text, url
        # A rule without a Chinese name shows its name in both languages.
        assert ">Spend rule</a>" in page.text, url
    form = web.get(f"/loyalty/rules/{birthday.id}").text
    assert f"<title>{shown}" in form


def test_manager_edits_the_chinese_name_of_a_rule(db, client, users):
    make_programme(db)
    db.commit()
    web = Browser(client)
    web.login("manager")
    assert 'name="name_zh"' in web.get("/loyalty/rules/new").text
    r = web.post(
        "/loyalty/rules/new",
        {"name": "Birthday", "name_zh": " 生日礼分 ", "kind": "event", "event": "birthday",
         "fixed_points": "200", "active": "1"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    rule = db.scalar(select(LoyaltyRule).where(LoyaltyRule.name == "Birthday"))
    assert rule.name_zh == "生日礼分"
    assert 'value="生日礼分"' in web.get(f"/loyalty/rules/{rule.id}").text
    # Deactivating keeps it.
    r = web.post(f"/loyalty/rules/{rule.id}/active", {})
    assert r.status_code == 303, r.text
    db.expire_all()
    rule = db.get(LoyaltyRule, rule.id)
    assert (rule.active, rule.name_zh) == (False, "生日礼分")
    # Emptied: the name everywhere.
    r = web.post(
        f"/loyalty/rules/{rule.id}",
        {"name": "Birthday", "name_zh": "", "kind": "event", "event": "birthday",
         "fixed_points": "200", "version": str(rule.version)},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    db.expire_all()
    assert db.get(LoyaltyRule, rule.id).name_zh is None
    # The programme page's quick form takes it too.
    r = web.post(
        "/loyalty/programme/rules",
        {"name": "Big basket bonus", "name_zh": "大单奖励", "kind": "spend", "rate": "1"},
    )
    assert r.status_code in (200, 303), r.text
    assert db.scalar(select(LoyaltyRule.name_zh).where(LoyaltyRule.name == "Big basket bonus")) == (
        "大单奖励"
    )
    bad = web.post(
        "/loyalty/rules/new", {"name": "X", "name_zh": "\u202e生日", "kind": "spend", "rate": "1"}
    )
    assert bad.status_code == 422


def test_api_reads_writes_and_clears_the_chinese_name(db, client, users, tokens):
    make_programme(db)
    db.commit()
    body = {"name": "Birthday", "name_zh": "生日礼分", "kind": "event", "event": "birthday"}
    r = client.post("/api/v1/loyalty/rules", json=body, headers=tokens["manager"])
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name_zh"] == "生日礼分"
    listed = client.get("/api/v1/loyalty/rules", headers=tokens["manager"]).json()
    assert [x["name_zh"] for x in listed if x["id"] == created["id"]] == ["生日礼分"]
    for cleared in ({**body, "name_zh": ""}, {k: v for k, v in body.items() if k != "name_zh"}):
        r = client.put(
            f"/api/v1/loyalty/rules/{created['id']}",
            json={**cleared, "version": created["version"]},
            headers=tokens["manager"],
        )
        assert r.status_code == 200, r.text
        assert r.json()["name_zh"] is None
        created = r.json()
        # put the name back for the next way of clearing it
        r = client.put(
            f"/api/v1/loyalty/rules/{created['id']}",
            json={**body, "version": created["version"]},
            headers=tokens["manager"],
        )
        assert r.status_code == 200 and r.json()["name_zh"] == "生日礼分", r.text
        created = r.json()


@pytest.mark.parametrize(("locale", "label"), [("zh_CN", "中文名称"), ("en", "Chinese name")])
def test_audit_log_names_the_rule_s_chinese_name_field(db, client, users, locale, label):
    birthday, _ = _rules(db)
    manager = Browser(client)
    manager.login("manager")
    r = manager.post(
        f"/loyalty/rules/{birthday.id}",
        {"name": "Birthday", "name_zh": "生日积分", "kind": "event", "event": "birthday",
         "fixed_points": "200", "version": str(birthday.version)},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)  # the same client: logging in replaces the manager's session
    web.login("admin")
    html = web.get(f"/admin/audit?entity=loyalty_rule&entity_id={birthday.id}").text
    assert f'<tr data-field="name_zh"><td><span title="name_zh">{label}</span></td>' in html
    assert "<code>name_zh</code>" not in html


def test_demo_names_its_rules_in_chinese_and_fills_in_kept_ones(db):
    """New demo rules get Chinese names; rules kept from an earlier demo run (``--reset`` keeps
    the configuration) get theirs unless someone renamed them or named them in Chinese."""
    db.add_all(
        [
            LoyaltyRule(name="1 point per unit spent", kind="spend"),
            LoyaltyRule(name="Birthday", name_zh="生日", kind="event", event="birthday"),
            LoyaltyRule(name="Survey thanks", kind="event", event="survey_answered"),
        ]
    )
    db.flush()
    generator.generate(db, customers=DEMO_CUSTOMERS, seed=5, today=date(2026, 6, 30))
    names = dict(db.execute(select(LoyaltyRule.name, LoyaltyRule.name_zh)).tuples().all())
    assert names == {
        "1 point per unit spent": "每消费一个货币单位积1分",
        "Birthday": "生日",
        "Survey thanks": None,
    }


def test_a_fresh_demo_names_every_rule_in_chinese(db):
    generator.generate(db, customers=DEMO_CUSTOMERS, seed=5, today=date(2026, 6, 30))
    names = dict(db.execute(select(LoyaltyRule.name, LoyaltyRule.name_zh)).tuples().all())
    assert names == {
        "1 point per unit spent": "每消费一个货币单位积1分",
        "Big basket bonus": "大单奖励",
        "Birthday": "生日礼分",
        "Survey thank-you": "问卷答谢",
        "Referral bonus": "推荐奖励",
    }
