"""Coded values by their labels: the stale-edit page (409) showed a reward's kind as ``voucher``
and a complaint's severity as ``3``, in Chinese too. Each domain says which label group names
the values of its enumerated fields (``web.labels.register_value_labels``); the conflict page
and the audit log show the label in the reader's language."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from retento.complaints.models import Complaint
from retento.loyalty.models import LoyaltyReward
from retento.web import labels
from retento.web.labels import register_labels, register_value_labels, value_msgid
from tests.factories.complaints import make_complaint
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

REWARD = {"code": "mug", "name": "Tea mug", "kind": "gift", "points_cost": "100", "active": "1"}


def _version_in(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def _cells(html: str, field: str) -> tuple[str, str]:
    """(your value, value now) of the conflict table's row for ``field``."""
    m = re.search(
        rf'<tr data-field="{field}">.*?<td class="yours">(.*?)</td>\s*'
        rf'<td class="current">(.*?)</td>',
        html,
        re.S,
    )
    assert m is not None, html
    return m.group(1).strip(), m.group(2).strip()


@pytest.fixture
def scratch_labels(monkeypatch):
    """The registries as they are, restored after the test."""
    monkeypatch.setattr(labels, "LABELS", {k: dict(v) for k, v in labels.LABELS.items()})
    monkeypatch.setattr(
        labels, "VALUE_GROUPS", {k: dict(v) for k, v in labels.VALUE_GROUPS.items()}
    )


def test_value_msgid_follows_the_groups_domains_register(scratch_labels):
    register_labels("test_colour", {"red": "Red", "1": "One"})
    register_value_labels("test_thing", {"colour": "test_colour"})
    register_value_labels("*", {"shade": "test_colour"})
    assert value_msgid("test_thing", "colour", "red") == "Red"
    assert value_msgid("test_thing", "colour", 1) == "One"  # integer codes (a severity)
    assert value_msgid("other_thing", "shade", "red") == "Red"  # every record type
    # unknown codes, fields nobody enumerated, booleans and empty values: shown as stored
    assert value_msgid("test_thing", "colour", "blue") is None
    assert value_msgid("test_thing", "size", "red") is None
    assert value_msgid("other_thing", "colour", "red") is None
    assert value_msgid("test_thing", "colour", True) is None
    assert value_msgid("test_thing", "colour", None) is None


def test_registered_value_groups_exist(client):
    """Every group a domain named for a field's values is a label group somebody registered
    (a typo would silently show codes); the app (``client``) has loaded every domain's pages."""
    missing = {
        (entity, field, group)
        for entity, fields in labels.VALUE_GROUPS.items()
        for field, group in fields.items()
        if group not in labels.LABELS
    }
    assert not missing, missing
    for entity, field in (
        ("loyalty_reward", "kind"),
        ("complaint", "status"),
        ("complaint", "severity"),
        ("order", "status"),
        ("customer", "kind"),
        ("user", "locale"),
        ("retention_alert", "severity"),
    ):
        assert entity in labels.VALUE_GROUPS and field in labels.VALUE_GROUPS[entity]


@pytest.mark.parametrize(
    ("locale", "yours", "now"), [("en", "Service", "Voucher"), ("zh_CN", "服务", "代金券")]
)
def test_conflict_page_shows_a_reward_s_kind_by_its_label(db, client, users, locale, yours, now):
    users["manager"].locale = locale
    make_programme(db)
    db.commit()
    tab = Browser(client)
    tab.login("manager")
    assert tab.post("/loyalty/rewards/new", REWARD).status_code == 303
    reward = db.scalars(select(LoyaltyReward).where(LoyaltyReward.code == "mug")).one()
    url = f"/loyalty/rewards/{reward.id}"
    va, vb = _version_in(tab.get(url).text), _version_in(tab.get(url).text)
    assert tab.post(url, {**REWARD, "kind": "voucher", "version": va}).status_code == 303
    stale = tab.post(url, {**REWARD, "kind": "service", "version": vb})
    assert stale.status_code == 409, stale.text
    assert _cells(stale.text, "kind") == (yours, now)
    db.expire_all()
    assert db.get(LoyaltyReward, reward.id).kind == "voucher"


@pytest.mark.parametrize(
    ("locale", "severity", "emotion"),
    [
        ("en", ("4 · Serious loss", "3 · Major"), ("Intense anger", "Cold anger")),
        ("zh_CN", ("4 · 重大损失", "3 · 严重"), ("强烈的愤怒", "冷静的愤怒")),
    ],
)
def test_conflict_page_shows_a_complaint_s_severity_and_emotion_by_their_labels(
    db, client, users, locale, severity, emotion
):
    from tests.complaints.test_pages import edit_form

    users["agent"].locale = locale
    c = make_complaint(db, users["agent"], severity=1)
    db.commit()
    tab = Browser(client)
    tab.login("agent")
    url = f"/complaints/{c.id}/edit"
    va, vb = _version_in(tab.get(url).text), _version_in(tab.get(url).text)
    first = tab.post(url, edit_form(c, severity="3", emotion="cold", version=va))
    assert first.status_code == 303, first.text
    stale = tab.post(url, edit_form(c, severity="4", emotion="intense", version=vb))
    assert stale.status_code == 409, stale.text
    assert _cells(stale.text, "severity") == severity
    assert _cells(stale.text, "emotion") == emotion
    db.expire_all()
    assert db.get(Complaint, c.id).severity == 3


def test_retention_and_root_cause_values_are_labelled(app):
    """Win-back tasks, alerts and cases, and complaints' root causes, in the audit log too."""
    assert value_msgid("retention_task", "status", "cancelled") == "Cancelled"
    assert value_msgid("retention_task", "result", "offer_accepted") == "Offer accepted"
    assert value_msgid("retention_alert", "status", "acknowledged") == "Acknowledged"
    assert value_msgid("retention_case", "outcome", "came_back")
    assert value_msgid("complaint", "root_cause", "courier delay") == "Courier delay"
    assert value_msgid("complaint", "root_cause", "something typed") is None


def test_user_locale_alert_severity_and_touchpoint_fields_are_labelled(app):
    """A user's language, a retention alert's (and rule's) severity and a touchpoint's own
    fields read by their labels in the audit log, not as stored."""
    from retento.web.labels import field_msgid

    assert value_msgid("user", "locale", "en") == "English"
    assert value_msgid("user", "locale", "zh_CN") == "简体中文"
    assert value_msgid("retention_alert", "severity", "high") == "High"
    assert value_msgid("retention_rule", "severity", "low") == "Low"
    assert value_msgid("retention_alert", "severity", "extreme") is None
    assert field_msgid("touchpoint", "stage") == "Journey stage"
    assert field_msgid("touchpoint", "owner_id") == "Owner"
    assert field_msgid("touchpoint", "occurred_at") == "When"
    assert field_msgid("touchpoint", "customer_id") == "Customer"  # shared by every type
