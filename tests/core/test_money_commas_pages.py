"""The forms outside orders read a comma the one way too (core.money.number_text): a playbook's
cost, a warning rule's threshold and a complaint remedy's amount refuse "10,5" on their field,
in English and Chinese, and save nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser

EN = (
    "&#39;{v}&#39; is not a number: a comma may only group thousands (1,250.00); "
    "use a point for decimals: {f}"
)
ZH = "&#39;{v}&#39; 不是数字：逗号只能用作千位分隔符（如 1,250.00）；小数请用小数点：{f}"

PLAYBOOK = {
    "action": "task",
    "name_en": "Key complaint: visit",
    "name_zh": "重要客户投诉：上门拜访",
    "script_en": "Visit the customer.",
    "script_zh": "上门拜访客户。",
    "due_days": "2",
    "control_share": "0.2",
    "window_days": "60",
    "cost": "80.00",
    "offer_points": "0",
    "enabled": "1",
    "value_class": "key",
    "reason": "survey",
}
RULE = {"threshold": "0.6", "window_days": "180", "severity": "high", "classes": ["key"],
        "enabled": "1", "version": "1"}  # fmt: skip


def _errors(page) -> dict[str, str]:
    return dict(re.findall(r'id="e-([^"]+)">([^<]*)<', page.text))


def test_playbook_cost_and_rule_threshold(client, db, users):
    from retento.retention.models import RetentionPlaybook, RetentionRule

    web = Browser(client)
    web.login("manager")
    for locale, text in (("en", EN), ("zh_CN", ZH)):
        users["manager"].locale = locale
        db.commit()
        r = web.post("/retention/playbooks/new", {**PLAYBOOK, "cost": "10,5"})
        assert r.status_code == 422
        assert _errors(r)["cost"] == text.format(v="10,5", f="10.5")
        r = web.post("/retention/rules/churn_risk", {**RULE, "threshold": "0,6"})
        assert r.status_code == 422
        assert _errors(r)["threshold"] == text.format(v="0,6", f="0.6")
    db.expire_all()
    assert db.query(RetentionPlaybook).filter_by(value_class="key", reason="survey").count() == 0
    assert db.query(RetentionRule).filter_by(code="churn_risk").one().version == 1
    r = web.post("/retention/playbooks/new", {**PLAYBOOK, "cost": "1,080.00"})
    assert r.status_code == 303, r.text
    db.expire_all()
    pb = db.query(RetentionPlaybook).filter_by(value_class="key", reason="survey").one()
    assert str(pb.cost) == "1080.00"


def test_complaint_remedy_amount(client, db, users):
    from retento.complaints.models import Remedy

    c = make_complaint(db, users["agent"], assignee_id=users["agent"].id)
    db.commit()
    web = Browser(client)
    web.login("agent")
    url = f"/complaints/{c.id}/remedies"
    comp = {"remedy_kind": "compensation", "compensation_type": "voucher"}
    for locale, text in (("en", EN), ("zh_CN", ZH)):
        users["agent"].locale = locale
        db.commit()
        r = web.post(url, {**comp, "amount": "10,5"})
        assert r.status_code == 422 and _errors(r) == {"amount": text.format(v="10,5", f="10.5")}
    db.expire_all()
    assert db.query(Remedy).count() == 0
    r = web.post(url, {**comp, "amount": "1,000"})
    assert r.status_code in (200, 303), r.text
    db.expire_all()
    assert [str(x.amount) for x in db.query(Remedy)] == ["1000.00"]
