"""The other edit forms' stale-edit page compares three ways too (web.conflict): a touchpoint,
an experience record, a warning rule and the retention settings, the value settings, a
customer field definition and a segment's name. Two tabs, each changing something: the second
save lists only what it changed, and "Apply my values" keeps the first tab's change."""

from __future__ import annotations

from sqlalchemy import select

from retento.customers.field_models import CustomFieldDefinition
from retento.insights.models import InsightSegment
from retento.journey import service as journey
from retento.journey.models import ExperienceRecord
from retento.journey.schemas import ExperienceCreate
from retento.retention.models import RetentionConfig, RetentionRule
from retento.scoring.models import ValueSettings
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_touchpoint
from tests.factories.custom_fields import define_fields
from tests.web.conflict_forms import form_of, form_post, rows_of
from tests.web.conftest import Browser


def _tab(client, role: str) -> Browser:
    web = Browser(client)
    web.login(role)
    return web


def _two(tab: Browser, page: str, action: str | None = None, post=form_of):
    action = action or page
    return post(tab.get(page).text, action), post(tab.get(page).text, action)


def test_touchpoint_and_experience(client, db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    t = make_touchpoint(db, c, note="called")
    e = journey.create_experience(
        db, ExperienceCreate(customer_id=c.id, mode="feel", rating=3, touchpoint_id=t.id),
        actor=users["agent"],
    )  # fmt: skip
    db.commit()
    tab = _tab(client, "agent")
    url = f"/touchpoints/{t.id}/edit"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "note": "called twice"}).status_code == 303
    stale = tab.post(url, {**second, "outcome": "negative"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["outcome"]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    tp = db.get(Touchpoint, t.id)
    assert (tp.note, tp.outcome) == ("called twice", "negative")

    url = f"/experiences/{e.id}/edit"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "rating": "5"}).status_code == 303
    stale = tab.post(url, {**second, "note": "liked the call"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["note"]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    ex = db.get(ExperienceRecord, e.id)
    assert (ex.rating, ex.note) == (5, "liked the call")


def test_warning_rule_classes_and_retention_settings(client, db, users):
    tab = _tab(client, "manager")
    url = "/retention/rules/churn_risk"
    first, second = _two(tab, url, post=form_post)
    assert tab.post(url, {**first, "classes": ["key", "small"]}).status_code == 303
    stale = tab.post(url, {**second, "window_days": "45"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["window_days"]
    again = form_post(stale.text, url)
    assert again["classes"] == ["key", "small"]
    assert tab.post(url, again).status_code == 303
    db.expire_all()
    rule = db.scalar(select(RetentionRule).where(RetentionRule.code == "churn_risk"))
    assert (sorted(rule.classes), rule.window_days) == (["key", "small"], 45)

    page, action = "/retention/rules", "/retention/settings"
    first, second = _two(tab, page, action)
    assert first["auto_apply"] == "1" == second["notify_owner"]
    one = {k: v for k, v in first.items() if k != "auto_apply"}  # box unticked
    assert tab.post(action, one).status_code == 303
    two = {k: v for k, v in second.items() if k != "notify_owner"}
    stale = tab.post(action, two)
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["notify_owner"]
    again = form_of(stale.text, action)
    assert again["auto_apply"] == ""  # the other tab's unticked box stays unticked
    assert tab.post(action, again).status_code == 303
    db.expire_all()
    config = db.scalars(select(RetentionConfig)).one()
    assert (config.auto_apply, config.notify_owner) == (False, False)


def test_a_warning_rule_form_with_errors_keeps_its_version_and_base(client, db, users):
    tab = _tab(client, "manager")
    url = "/retention/rules/churn_risk"
    first, second = _two(tab, url, post=form_post)
    assert tab.post(url, {**first, "window_days": "45"}).status_code == 303
    bad = tab.post(url, {**second, "threshold": "2", "severity": "high"})
    assert bad.status_code == 422
    shown = form_post(bad.text, url)
    assert shown["version"] == second["version"]
    assert shown["base.window_days"] == second["window_days"]
    stale = tab.post(url, {**shown, "threshold": second["threshold"]})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["severity"]


def test_value_settings(client, db, users):
    tab = _tab(client, "manager")
    url = "/value/settings"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "lapsed_days": "200"}).status_code == 303
    stale = tab.post(url, {**second, "new_days": "60"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["new_days"]
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    row = db.scalars(select(ValueSettings)).one()
    assert (row.lapsed_days, row.new_days) == (200, 60)


def test_customer_field_definition(client, db, users):
    define_fields(db, "size")
    db.commit()
    d = db.scalar(select(CustomFieldDefinition).where(CustomFieldDefinition.key == "size"))
    tab = _tab(client, "admin")
    url = f"/admin/customer-fields/{d.id}"
    first, second = _two(tab, url)
    assert tab.post(url, {**first, "label_zh": "尺码"}).status_code == 303
    stale = tab.post(url, {**second, "label": "Size", "required": "1"})
    assert stale.status_code == 409 and set(rows_of(stale.text)) == {"label", "required"}
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    d = db.get(CustomFieldDefinition, d.id)
    assert (d.label, d.label_zh, d.required) == ("Size", "尺码", True)


def test_segment_rename(client, db, users):
    seg = InsightSegment(name="Spring", method="kmeans", k=2, features=["recency"], profile={})
    db.add(seg)
    db.commit()
    tab = _tab(client, "manager")
    page, action = f"/insights/segments/{seg.id}", f"/insights/segments/{seg.id}/rename"
    first, second = _two(tab, page, action)
    assert second["base.name"] == "Spring"
    assert tab.post(action, {**first, "name": "Spring A"}).status_code == 303
    stale = tab.post(action, {**second, "name": "Spring B"})
    assert stale.status_code == 409
    assert rows_of(stale.text) == {"name": ("Spring B", "Spring A")}
    assert tab.post(action, form_of(stale.text, action)).status_code == 303
    db.expire_all()
    assert db.get(InsightSegment, seg.id).name == "Spring B"
