"""What the retention domain writes by itself reads in the reader's language (SQLite and
PostgreSQL through the ``db`` fixtures):

1. a tier-downgrade alert stores its tiers by id and by name in both languages and is worded
   when shown: Chinese tier names on Chinese pages, English ones on English pages; an alert
   stored before (English names only) reads as it did;
2. the note of a task closed because its case settled, and the case note "no email consent or
   address", are stored as message ids and translated when shown (as the system's close notes
   of alerts are); an owner's own note is shown as typed;
3. the owner's retention-warning e-mail is written in the owner's language.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from retento.core.db import utcnow
from retento.customers.models import Customer
from retento.loyalty import tiers
from retento.loyalty.models import LoyaltyTier
from retento.mail.models import OutboxMessage
from retento.retention import playbook_apply, playbooks, service
from retento.retention.models import RetentionAlert, RetentionCase, RetentionTask
from retento.retention.notify import notify_owner
from retento.retention.reasons import (
    NO_EMAIL_NOTE,
    SETTLED_NOTES,
    render_reason,
    system_note,
)
from tests.factories import make_customer, make_user
from tests.factories.loyalty import make_programme, make_tiers
from tests.retention.test_task_language_and_settling import _order, _treated_task
from tests.web.conftest import Browser

GOLD_ZH, BASIC_ZH = "金卡会员", "普通会员"
REASON_ZH = f"会员等级由 {GOLD_ZH} 降至 {BASIC_ZH}"
REASON_EN = "Loyalty tier dropped from Gold to Basic"
CAME_BACK_ZH = "已自动关闭：客户已回购（重新下单）。"
NO_EMAIL_ZH = "未发送邮件：客户未同意接收邮件或没有电子邮件地址"


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _reader(db, user, locale: str) -> None:
    user.locale = locale
    db.commit()


def _downgrade(db, owner, name="Tier Drop Ltd") -> RetentionAlert:
    """A customer of ``owner`` dropped from Gold (金卡会员) to Basic (普通会员); no playbook is
    applied (the alert stays open) and the owner is notified, as the settings say."""
    config = service.get_config(db)
    config.auto_apply, config.notify_owner = False, True
    make_programme(db)
    basic, gold = make_tiers(db, ("basic", 0, "1"), ("gold", 1000, "1.5"))
    basic.name_zh, gold.name_zh = BASIC_ZH, GOLD_ZH
    db.flush()
    customer = make_customer(db, name=name, owner_id=owner.id)
    tiers.set_tier(db, customer.id, gold.id, actor_id=owner.id)
    tiers.set_tier(db, customer.id, basic.id, actor_id=owner.id)
    alert = db.scalar(
        select(RetentionAlert).where(
            RetentionAlert.customer_id == customer.id, RetentionAlert.rule == "tier_downgrade"
        )
    )
    assert alert is not None
    db.commit()
    return alert


def _alert_row(html: str, alert_id: int) -> str:
    row = re.search(rf'<tr id="alert-{alert_id}">(.*?)</tr>', html, re.S)
    assert row, f"alert {alert_id} is not listed"
    return row.group(1)


# --------------------------------------------------------------------------- 1. tier downgrade


def test_a_tier_downgrade_is_stored_as_tiers_and_worded_in_the_reader_s_language(web, db, users):
    manager = users["manager"]
    alert = _downgrade(db, manager)
    ids = {t.code: t.id for t in db.scalars(select(LoyaltyTier))}
    assert alert.reason_code == "tier_downgrade"
    assert alert.reason_params == {
        "from_tier": "Gold",
        "to_tier": "Basic",
        "from_tier_zh": GOLD_ZH,
        "to_tier_zh": BASIC_ZH,
        "from_tier_id": ids["gold"],
        "to_tier_id": ids["basic"],
    }
    assert render_reason(alert.reason_code, alert.reason_params, "en") == REASON_EN
    assert render_reason(alert.reason_code, alert.reason_params, "zh_CN") == REASON_ZH
    _reader(db, manager, "zh_CN")
    web.login("manager")
    page = web.get("/retention/alerts")
    assert page.status_code == 200
    row = _alert_row(page.text, alert.id)
    assert REASON_ZH in row and "Gold" not in row and "Loyalty tier" not in row
    panel = web.get(f"/customers/{alert.customer_id}").text
    assert REASON_ZH in panel and REASON_EN not in panel
    _reader(db, manager, "en")
    row = _alert_row(web.get("/retention/alerts").text, alert.id)
    assert REASON_EN in row and GOLD_ZH not in row


def test_a_downgrade_out_of_every_tier_and_a_tier_without_a_chinese_name(db, users):
    params = {
        "from_tier": "Silver",
        "to_tier": None,
        "from_tier_zh": None,
        "to_tier_zh": None,
        "from_tier_id": 7,
        "to_tier_id": None,
    }
    assert render_reason("tier_downgrade", params, "zh_CN") == "会员等级由 Silver 降至 无等级"
    assert render_reason("tier_downgrade", params) == "Loyalty tier dropped from Silver to no tier"


def test_an_alert_stored_before_reads_as_it_did(web, db, users):
    manager = users["manager"]
    customer = make_customer(db, name="Old Alert Ltd", owner_id=manager.id)
    old = RetentionAlert(
        customer_id=customer.id,
        rule="tier_downgrade",
        cause_key="tier:1",
        severity="medium",
        reason_code="tier_downgrade",
        reason_params={"from_tier": "Gold", "to_tier": "Basic"},
        value_class="key",
        owner_id=manager.id,
        status="open",
        created_at=utcnow(),
    )
    db.add(old)
    db.commit()
    assert render_reason(old.reason_code, old.reason_params) == REASON_EN
    assert (
        render_reason(old.reason_code, old.reason_params, "zh_CN") == "会员等级由 Gold 降至 Basic"
    )
    _reader(db, manager, "zh_CN")
    web.login("manager")
    row = _alert_row(web.get("/retention/alerts").text, old.id)
    assert "会员等级由 Gold 降至 Basic" in row


# --------------------------------------------------------------------------- 2. system notes


def test_a_settled_task_s_note_is_stored_as_a_message_id_and_read_in_the_reader_s_language(
    web, db, users, tokens
):
    customer, case, task = _treated_task(db, users)
    other, _, plain = _treated_task(db, users, name="Plain Ltd")
    from retento.retention import tasks

    tasks.update_task(db, task.id, {"note": "left a voicemail"}, actor=users["agent"])
    db.commit()
    _order(db, customer, users["manager"])
    _order(db, other, users["manager"])
    task, plain = db.get(RetentionTask, task.id), db.get(RetentionTask, plain.id)
    assert task.note == f"left a voicemail\n{SETTLED_NOTES['came_back']}"
    assert plain.note == SETTLED_NOTES["came_back"]
    assert system_note(task.note, "zh_CN") == f"left a voicemail\n{CAME_BACK_ZH}"
    _reader(db, users["agent"], "zh_CN")
    web.login("agent")
    page = web.get("/retention/tasks", params={"status": "cancelled"}).text
    for t in (task, plain):
        card = re.search(
            rf'<section class="card task" id="task-{t.id}">(.*?)</section>', page, re.S
        )
        assert card and CAME_BACK_ZH in card.group(1)
        assert "Closed automatically" not in card.group(1)
    assert "left a voicemail" in page  # the owner's own note as typed
    _reader(db, users["agent"], "en")
    page = web.get("/retention/tasks", params={"status": "cancelled"}).text
    assert SETTLED_NOTES["came_back"] in page and CAME_BACK_ZH not in page
    # The API keeps what is stored.
    api = web.client.get(f"/api/v1/retention/tasks/{plain.id}", headers=tokens["agent"])
    assert api.status_code == 200 and api.json()["note"] == SETTLED_NOTES["came_back"]


def test_a_note_written_in_the_installation_s_language_before_reads_as_stored(db):
    stored = "已自动关闭：案例已按流失结案。"
    assert system_note(stored, "en") == stored
    assert system_note("typed by the owner", "zh_CN") == "typed by the owner"
    assert system_note(None, "zh_CN") == ""


def _no_email_case(db, users) -> RetentionCase:
    manager = users["manager"]
    service.get_config(db)
    pb = next(
        p
        for p in playbooks.list_playbooks(db, actor=manager)
        if p.value_class == "small" and p.reason == "*"
    )
    playbooks.update_playbook(db, pb.id, {"control_share": 0.0}, actor=manager)
    assert pb.action == "email"
    customer = make_customer(db, name="No Consent Ltd", email="nc@example.com", consent_email=False)
    alert = RetentionAlert(
        customer_id=customer.id,
        rule="rhythm",
        cause_key="c1",
        severity="medium",
        reason_code="rhythm",
        reason_params={"days": 90, "gap": 30},
        value_class="small",
        status="open",
        created_at=utcnow(),
    )
    db.add(alert)
    db.flush()
    case = playbook_apply.apply_to_alert(db, alert.id, actor=manager)
    db.commit()
    return case


def test_a_case_without_email_consent_says_so_in_the_reader_s_language(web, db, users, tokens):
    case = _no_email_case(db, users)
    assert (case.email_sent, case.note) == (False, NO_EMAIL_NOTE)
    assert system_note(case.note, "zh_CN") == NO_EMAIL_ZH
    _reader(db, users["manager"], "zh_CN")
    web.login("manager")
    panel = web.get(f"/customers/{case.customer_id}").text
    cases = re.search(r'<ul id="retention-panel-cases"(.*?)</ul>', panel, re.S)
    assert cases and NO_EMAIL_ZH in cases.group(1) and NO_EMAIL_NOTE not in panel
    _reader(db, users["manager"], "en")
    panel = web.get(f"/customers/{case.customer_id}").text
    assert NO_EMAIL_NOTE in panel and NO_EMAIL_ZH not in panel
    api = web.client.get(f"/api/v1/retention/cases/{case.id}", headers=tokens["manager"])
    assert api.status_code == 200 and api.json()["note"] == NO_EMAIL_NOTE


# --------------------------------------------------------------------------- 3. e-mail


@pytest.mark.parametrize(
    ("locale", "subject", "words"),
    [
        ("zh_CN", "流失预警：Tier Drop Ltd", [REASON_ZH, "您好", "严重程度"]),
        ("en", "Retention warning: Tier Drop Ltd", [REASON_EN, "Hello", "Severity"]),
    ],
)
def test_the_owner_s_warning_email_is_in_the_owner_s_language(db, users, locale, subject, words):
    owner = make_user(db, role="agent", email="owner@example.com", locale=locale)
    alert = _downgrade(db, owner)
    # Sent when the alert was raised (the tier event), in the owner's language.
    (mail,) = db.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "retention_alert", OutboxMessage.related_id == alert.id
        )
    ).all()
    assert mail.recipient == "owner@example.com"
    assert (mail.locale, mail.subject) == (locale, subject)
    for w in words:
        assert w in mail.body_text and w in (mail.body_html or "")
    other = "Loyalty tier" if locale == "zh_CN" else GOLD_ZH
    assert other not in mail.body_text and other not in (mail.body_html or "")
    # The same notice written again (``notify_owner``) reads the same.
    customer = db.get(Customer, alert.customer_id)
    assert notify_owner(db, alert, customer, utcnow()) is True
    again = db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "retention_alert", OutboxMessage.related_id == alert.id)
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert (again.subject, again.body_text) == (mail.subject, mail.body_text)
