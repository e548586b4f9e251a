"""The playbook editor's stale-edit page (409) compares three ways: the version the form was
loaded with, what this user sent and what is stored now. It listed a field nobody changed
(the voucher: "0" against "—"), wrote money without its currency, and "Apply my values" put
back the old value of a field only the other tab had changed (the cost). A form without its
version overwrote unseen changes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from retento.core.config import get_settings
from retento.retention.models import RetentionPlaybook
from retento.web.i18n import Formatter
from tests.web.conflict_forms import form_of, rows_of
from tests.web.conftest import Browser

PLAYBOOK = {
    "action": "task",
    "name_en": "Key complaint: visit",
    "name_zh": "重要客户投诉：上门拜访",
    "script_en": "Visit the customer.",
    "script_zh": "上门拜访客户。",
    "due_days": "2",
    "control_share": "0.2",
    "window_days": "60",
    "cost": "0.10",
    "offer_points": "0",
    "offer_reward_id": "",
    "enabled": "1",
}


@pytest.fixture
def playbook(client, users, db):
    tab = Browser(client)
    tab.login("manager")
    r = tab.post("/retention/playbooks/new", {**PLAYBOOK, "value_class": "key", "reason": "survey"})
    assert r.status_code == 303, r.text
    return db.query(RetentionPlaybook).filter_by(value_class="key", reason="survey").one()


def _manager(client, users, db, locale: str) -> Browser:
    users["manager"].locale = locale
    db.commit()
    tab = Browser(client)
    tab.login("manager")
    return tab


@pytest.mark.parametrize(
    ("locale", "script_label", "voucher_label"),
    [
        ("en", "Script (Chinese)", "Offer (loyalty voucher)"),
        ("zh_CN", "话术（中文）", "优惠（会员礼券）"),
    ],
)
def test_only_the_fields_this_user_changed_are_listed_and_applied(
    client, users, db, playbook, locale, script_label, voucher_label
):
    tab = _manager(client, users, db, locale)
    url = f"/retention/playbooks/{playbook.id}"
    first, second = form_of(tab.get(url).text, url), form_of(tab.get(url).text, url)
    assert second["version"] == "1" and second["base.cost"] == "0.1"
    assert tab.post(url, {**first, "cost": "0.20"}).status_code == 303
    stale = tab.post(url, {**second, "script_zh": "先打电话，再上门。"})
    assert stale.status_code == 409, stale.text
    rows = rows_of(stale.text)
    # Only the script: the cost (the other tab's change) and the voucher (nobody's) are not.
    assert list(rows) == ["script_zh"]
    assert rows["script_zh"] == ("先打电话，再上门。", "上门拜访客户。")
    assert script_label in stale.text and voucher_label not in stale.text
    # "Apply my values": my script on top of the other tab's cost.
    again = form_of(stale.text, url)
    assert again["version"] == "2" and again["cost"] == "0.2" and again["base.cost"] == "0.2"
    assert tab.post(url, again).status_code == 303
    db.expire_all()
    pb = db.get(RetentionPlaybook, playbook.id)
    assert pb.cost == Decimal("0.20") and pb.script_zh == "先打电话，再上门。"
    assert pb.version == 3 and pb.offer_reward_id is None and pb.enabled


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_values_are_shown_as_the_form_shows_them(client, users, db, playbook, locale):
    """Money with its currency, the action by its name, no voucher as the form says it."""
    tab = _manager(client, users, db, locale)
    url = f"/retention/playbooks/{playbook.id}"
    first, second = form_of(tab.get(url).text, url), form_of(tab.get(url).text, url)
    assert tab.post(url, {**first, "cost": "0.20", "action": "call"}).status_code == 303
    stale = tab.post(url, {**second, "cost": "0.30", "action": "offer", "enabled": ""})
    assert stale.status_code == 409
    money = Formatter(locale, currency=get_settings().currency).money
    rows = rows_of(stale.text)
    assert rows["cost"] == (money(Decimal("0.30")), money(Decimal("0.20")))
    if locale == "en":
        assert rows["action"] == ("Offer", "Call")
        assert rows["enabled"] == ("No", "Yes")
    else:
        assert rows["action"][0] != "offer" and rows["action"][1] != "call"
        assert rows["enabled"] == ("否", "是")
    assert set(rows) == {"cost", "action", "enabled"}
    # Applying re-posts all three (mine), and nothing is half-saved before.
    db.expire_all()
    assert db.get(RetentionPlaybook, playbook.id).cost == Decimal("0.20")
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    pb = db.get(RetentionPlaybook, playbook.id)
    assert (pb.cost, pb.action, pb.enabled) == (Decimal("0.30"), "offer", False)


def test_a_change_only_the_other_tab_made_is_kept_when_nothing_of_mine_differs(
    client, users, db, playbook
):
    tab = _manager(client, users, db, "en")
    url = f"/retention/playbooks/{playbook.id}"
    first, second = form_of(tab.get(url).text, url), form_of(tab.get(url).text, url)
    assert tab.post(url, {**first, "enabled": ""}).status_code == 303
    stale = tab.post(url, {**second, "name_en": "Key complaint: visit soon"})
    assert stale.status_code == 409
    assert list(rows_of(stale.text)) == ["name_en"]
    assert "keep the values saved since you opened the form" in stale.text
    # The other tab switched it off; my form still had it on: applying keeps it off.
    assert form_of(stale.text, url)["enabled"] == ""
    assert tab.post(url, form_of(stale.text, url)).status_code == 303
    db.expire_all()
    pb = db.get(RetentionPlaybook, playbook.id)
    assert pb.enabled is False and pb.name_en == "Key complaint: visit soon"


def test_a_form_with_errors_keeps_the_version_and_base_it_was_loaded_with(
    client, users, db, playbook
):
    """Shown again with a field error, the form still edits the version it was loaded with:
    a save by someone else meanwhile is still detected."""
    tab = _manager(client, users, db, "en")
    url = f"/retention/playbooks/{playbook.id}"
    first, second = form_of(tab.get(url).text, url), form_of(tab.get(url).text, url)
    assert tab.post(url, {**first, "cost": "0.20"}).status_code == 303
    bad = tab.post(url, {**second, "due_days": "soon"})
    assert bad.status_code == 422 and "Enter a whole number." in bad.text
    shown = form_of(bad.text, url)
    assert shown["version"] == "1" and shown["base.cost"] == "0.1"
    stale = tab.post(url, {**shown, "due_days": "5"})
    assert stale.status_code == 409 and list(rows_of(stale.text)) == ["due_days"]


@pytest.mark.parametrize(
    ("locale", "message"),
    [("en", "Version (version) is required."), ("zh_CN", "版本（version）为必填项。")],
)
def test_a_playbook_form_without_its_version_is_refused(
    client, users, db, playbook, locale, message
):
    tab = _manager(client, users, db, locale)
    url = f"/retention/playbooks/{playbook.id}"
    form = form_of(tab.get(url).text, url)
    del form["version"]
    r = tab.post(url, {**form, "cost": "0.50"})
    assert r.status_code == 422 and message in r.text
    db.expire_all()
    pb = db.get(RetentionPlaybook, playbook.id)
    assert pb.cost == Decimal("0.10") and pb.version == 1
