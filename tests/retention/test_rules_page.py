"""The warning rules page (managers): the six rules and the retention settings, an edit form per
rule with field errors (422) and the conflict page for a stale form (409), in English and Chinese;
403 for roles without ``retention:manage``."""

from __future__ import annotations

import re

import pytest

from retento.retention.models import RULE_CODES, RetentionConfig, RetentionRule
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _rule(db, code: str) -> RetentionRule:
    db.expire_all()
    return db.query(RetentionRule).filter_by(code=code).one()


RULE = {
    "threshold": "0.6",
    "window_days": "180",
    "severity": "high",
    "classes": ["key", "ordinary"],
    "enabled": "1",
}


@pytest.mark.parametrize("role,status", [("admin", 200), ("manager", 200)])
def test_managers_see_the_six_rules_and_the_settings(web, role, status):
    web.login(role)
    page = web.get("/retention/rules")
    assert page.status_code == status
    for code in RULE_CODES:
        assert f'id="rule-{code}"' in page.text
    assert "Churn risk above a threshold" in page.text
    assert 'id="settings-form"' in page.text and "Default owner" in page.text
    assert 'data-tab="rules"' in page.text and 'aria-current="page"' in page.text
    assert web.get("/retention/rules/rhythm").status_code == 200


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_other_roles_get_403(web, db, role):
    web.login(role)
    assert web.get("/retention/rules").status_code == 403
    assert web.get("/retention/rules/churn_risk").status_code == 403
    assert web.post("/retention/rules/churn_risk", RULE).status_code == 403
    assert web.post("/retention/settings", {"auto_apply": "1"}).status_code == 403
    assert 'data-tab="rules"' not in web.get("/retention/alerts").text


def test_edit_a_rule(web, db):
    web.login("manager")
    assert web.get("/retention/rules/nope").status_code == 404
    before = web.get("/retention/rules")  # creates the defaults
    assert before.status_code == 200
    rule = _rule(db, "churn_risk")
    r = web.post("/retention/rules/churn_risk", {**RULE, "version": str(rule.version)})
    assert r.status_code == 303, r.text
    rule = _rule(db, "churn_risk")
    assert (rule.threshold, rule.window_days, rule.severity) == (0.6, 180, "high")
    assert rule.classes == ["key", "ordinary"] and rule.enabled is True
    assert rule.version == 2
    off = {**RULE, "version": "2", "classes": ["small"]}
    off.pop("enabled")
    assert web.post("/retention/rules/churn_risk", off).status_code == 303
    rule = _rule(db, "churn_risk")
    assert rule.enabled is False and rule.classes == ["small"] and rule.version == 3
    listing = web.get("/retention/rules").text
    assert "Small customers" in listing and "0.60" in listing


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("threshold", "1.5", "The risk threshold must be between 0 and 1."),
        ("threshold", "soon", "Enter a number."),
        ("threshold", "nan", "Enter a number."),
        ("window_days", "-3", "Enter a whole number from 0 to 3650."),
        ("severity", "extreme", "Choose a severity."),
        ("classes", ["gold"], "Choose customer classes from the list."),
    ],
)
def test_bad_input_is_422_naming_the_field(web, db, field, value, message):
    web.login("manager")
    web.get("/retention/rules")
    r = web.post("/retention/rules/churn_risk", {**RULE, field: value, "version": "1"})
    assert r.status_code == 422
    assert message in r.text
    assert f'id="f-{field}"' in r.text and "field-error" in r.text
    rule = _rule(db, "churn_risk")
    assert rule.version == 1 and rule.threshold == 0.7  # nothing saved


def test_negative_threshold_of_another_rule(web, db):
    web.login("manager")
    web.get("/retention/rules")
    r = web.post("/retention/rules/points_expiring", {**RULE, "threshold": "-1", "version": "1"})
    assert r.status_code == 422 and "The threshold must not be negative." in r.text
    ok = web.post("/retention/rules/points_expiring", {**RULE, "threshold": "250", "version": "1"})
    assert ok.status_code == 303
    assert _rule(db, "points_expiring").threshold == 250.0


def test_stale_rule_form_gets_the_conflict_page(web, db):
    web.login("manager")
    web.get("/retention/rules")
    assert (
        web.post("/retention/rules/rhythm", {**RULE, "threshold": "3", "version": "1"}).status_code
        == 303
    )
    stale = web.post("/retention/rules/rhythm", {**RULE, "threshold": "4", "version": "1"})
    assert stale.status_code == 409
    assert "Threshold" in stale.text and "/retention/rules/rhythm" in stale.text
    rule = _rule(db, "rhythm")
    assert rule.threshold == 3.0 and rule.version == 2  # the stale form changed nothing


def test_settings_save_validate_and_conflict(web, db, users):
    web.login("manager")
    web.get("/retention/rules")
    config = db.get(RetentionConfig, 1)
    owner = users["agent"].id
    data = {"default_owner_id": str(owner), "notify_owner": "1", "version": str(config.version)}
    r = web.post("/retention/settings", data)
    assert r.status_code == 303, r.text
    db.expire_all()
    config = db.get(RetentionConfig, 1)
    assert config.default_owner_id == owner
    assert config.auto_apply is False and config.notify_owner is True
    bad = web.post("/retention/settings", {**data, "default_owner_id": str(users["analyst"].id)})
    assert bad.status_code == 422 and "Choose an owner from the list." in bad.text
    assert 'id="f-default_owner_id"' in bad.text
    stale = web.post("/retention/settings", {"default_owner_id": "", "version": "1"})
    assert stale.status_code == 409 and "Default owner" in stale.text
    db.expire_all()
    assert db.get(RetentionConfig, 1).default_owner_id == owner
    cleared = web.post(
        "/retention/settings", {"default_owner_id": "", "version": str(config.version)}
    )
    assert cleared.status_code == 303
    db.expire_all()
    assert db.get(RetentionConfig, 1).default_owner_id is None


def test_rules_page_in_chinese(web, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web.login("manager")
    page = web.get("/retention/rules")
    assert page.status_code == 200
    assert "预警规则" in page.text and "客户挽留设置" in page.text
    form = web.get("/retention/rules/churn_risk").text
    assert "门槛" in form
    bad = web.post("/retention/rules/churn_risk", {**RULE, "threshold": "2", "version": "1"})
    assert bad.status_code == 422 and "风险阈值必须在 0 到 1 之间。" in bad.text


def _row(html: str, code: str) -> list[str]:
    """The cells of a rule's row on the rules list, their text without tags."""
    row = re.search(rf'<tr id="rule-{code}">(.*?)</tr>', html, re.S)
    assert row, code
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)
    ]


@pytest.mark.parametrize(
    "locale,every_class,none",
    [("en", "All classes", "None"), ("zh_CN", "全部类别", "无")],
)
def test_thresholds_by_kind_and_no_classes_means_every_class(
    web, db, users, locale, every_class, none
):
    """The default rules: points (100) and a severity level (2) are whole numbers, the churn
    risk a probability with two decimals, a multiple its own decimals; a rule that watches no
    class watches every class (``rules.candidates``) and says so, in English and Chinese."""
    users["manager"].locale = locale
    db.commit()
    web.login("manager")
    web.get("/retention/rules")  # creates the defaults
    rhythm = _rule(db, "rhythm")
    rhythm.threshold = 1.5
    db.commit()
    page = web.get("/retention/rules").text
    cells = {code: _row(page, code) for code in RULE_CODES}
    threshold = {code: c[2] for code, c in cells.items()}
    assert threshold == {
        "churn_risk": "0.70",
        "rhythm": "1.5",
        "complaint": "2",
        "survey": "6",
        "tier_downgrade": "0",
        "points_expiring": "100",
    }
    classes = {code: c[5] for code, c in cells.items()}
    for code in ("churn_risk", "survey", "tier_downgrade", "points_expiring"):  # no class chosen
        assert classes[code] == every_class, (code, classes[code])
    assert every_class not in classes["complaint"] and none not in classes.values()
    form = web.get("/retention/rules/points_expiring").text
    assert re.search(r'name="threshold"[^>]*value="100"', form), form
    assert "every class" in form if locale == "en" else "所有类别的客户" in form
