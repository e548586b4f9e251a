"""Phone consent in win-back (retention/consent.py): an owner task of a customer who has not
agreed to phone calls is still created (the case stays treated), the case records
``NO_PHONE_NOTE`` (kept through outcome notes, counted by the uplift report), and the task list
and the 360 box say not to call, naming the channels the customer agreed to, in the reader's
language; with consent nothing of this appears."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from retento.core.db import utcnow
from retento.retention import outcomes, playbook_apply, playbooks, report, service
from retento.retention.models import RetentionCase, RetentionTask
from retento.retention.offers import offer_state
from retento.retention.reasons import NO_PHONE_NOTE, system_note
from tests.factories import make_customer
from tests.retention.helpers import make_alert
from tests.web.conftest import Browser

NO_PHONE_ZH = "客户未同意接听电话：已提醒负责人不要致电"
NOT_TO_CALL_EN = "The customer has not agreed to phone calls: do not call them."
NOT_TO_CALL_ZH = "该客户未同意接听电话：请勿致电。"


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _book(db, manager, value_class, reason="*", **over):
    service.get_config(db)
    pb = next(
        p
        for p in playbooks.list_playbooks(db, actor=manager)
        if p.value_class == value_class and p.reason == reason
    )
    return playbooks.update_playbook(db, pb.id, {"control_share": 0.0, **over}, actor=manager)


def _case(db, users, customer, *, value_class="key", rule="rhythm", defer=False):
    alert = make_alert(
        db, customer.id, value_class=value_class, rule=rule, owner_id=users["agent"].id
    )
    case = playbook_apply.apply_to_alert(db, alert.id, actor=users["manager"], defer_action=defer)
    if defer:
        assert case.action_status == "queued"
        assert playbook_apply.carry_out_action(db, case.id, actor=users["manager"])
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    db.commit()
    return case, task


def _customer(db, users, phone_ok: bool, **over):
    values = {
        "owner_id": users["agent"].id,
        "consent_phone": phone_ok,
        "consent_sms": False,
        "phone": "+86 10 1234",
    }
    return make_customer(db, **{**values, **over})


# --- the service -------------------------------------------------------------------------------


@pytest.mark.parametrize("defer", [False, True])
def test_a_task_without_phone_consent_is_created_and_the_case_records_why(db, users, defer):
    pb = _book(db, users["manager"], "key")
    yes = _customer(db, users, True, name="Calls Welcome Ltd")
    no = _customer(db, users, False, name="No Calls Ltd")
    case_yes, task_yes = _case(db, users, yes, defer=defer)
    case_no, task_no = _case(db, users, no, defer=defer)
    assert case_yes.note is None and task_yes.status == "open"
    # Still treated, still the owner's task, at the playbook's cost (intention to treat).
    assert (case_no.arm, case_no.note, case_no.cost) == ("treated", NO_PHONE_NOTE, pb.cost)
    assert case_no.reached is None
    assert task_no.kind == "task" and task_no.status == "open"
    assert task_no.owner_id == users["agent"].id
    assert system_note(case_no.note, "zh_CN") == NO_PHONE_ZH


def test_a_service_recovery_call_without_consent_says_so(db, users):
    _book(db, users["manager"], "key", "complaint")
    no = _customer(db, users, False)
    case, task = _case(db, users, no, rule="complaint")
    assert case.action == "call" and task.kind == "call"
    assert case.note == NO_PHONE_NOTE


def test_an_offer_keeps_its_own_note_line_next_to_the_phone_line(db, users):
    _book(db, users["manager"], "ordinary")
    no = _customer(db, users, False)
    case, task = _case(db, users, no, value_class="ordinary")
    lines = case.note.split("\n")
    assert NO_PHONE_NOTE in lines and len(lines) >= 2
    assert offer_state(case.note) is not None  # the offer's line still reads back


def test_an_outcome_note_keeps_the_consent_line_and_the_report_counts_it(db, users):
    manager = users["manager"]
    pb = _book(db, manager, "key")
    no = _customer(db, users, False)
    yes = _customer(db, users, True)
    case_no, _ = _case(db, users, no)
    case_yes, _ = _case(db, users, yes)
    outcomes.record_outcome(db, case_no.id, actor=manager, note="wrote a letter", lost=True)
    outcomes.record_outcome(db, case_yes.id, actor=manager, note="called", lost=True)
    db.commit()
    assert case_no.note == f"{NO_PHONE_NOTE}\nwrote a letter"
    assert case_yes.note == "called"
    rep = report.playbook_report(db, pb, now=utcnow() + timedelta(seconds=1))
    assert (rep["n_treated"], rep["no_phone_consent"]) == (2, 1)


# --- pages: the task list and the 360 box, both languages --------------------------------------


def _card(page: str, task_id: int) -> str:
    m = re.search(rf'<section class="card task" id="task-{task_id}">(.*?)</section>', page, re.S)
    assert m, page[:500]
    return m.group(1)


def test_the_task_list_says_not_to_call_in_the_reader_s_language(web, db, users):
    _book(db, users["manager"], "key")
    emailable = _customer(
        db, users, False, name="Mail Only Ltd", email="m@example.com", consent_email=True
    )
    silent = _customer(db, users, False, name="Silent Ltd", consent_email=False)
    welcome = _customer(db, users, True, name="Welcome Ltd")
    _, t_mail = _case(db, users, emailable)
    _, t_silent = _case(db, users, silent)
    _, t_ok = _case(db, users, welcome)
    web.login("agent")
    page = web.get("/retention/tasks").text
    card = _card(page, t_mail.id)
    assert "No phone calls" in card and NOT_TO_CALL_EN in card
    assert "Reach them another way they agreed to: Email." in card
    card = _card(page, t_silent.id)
    assert NOT_TO_CALL_EN in card and "They have not agreed to e-mail or SMS either" in card
    assert "No phone calls" not in _card(page, t_ok.id)
    users["agent"].locale = "zh_CN"
    db.commit()
    page = web.get("/retention/tasks").text
    card = _card(page, t_mail.id)
    assert "请勿致电" in card and NOT_TO_CALL_ZH in card
    assert "请通过客户同意的其他方式联系：电子邮件。" in card and NOT_TO_CALL_EN not in card
    assert "客户也未同意接收电子邮件或短信" in _card(page, t_silent.id)
    assert "请勿致电" not in _card(page, t_ok.id)
    # The notice follows the consent as it is now: given later, the notice goes.
    emailable.consent_phone = True
    db.commit()
    assert "请勿致电" not in _card(web.get("/retention/tasks").text, t_mail.id)


def test_the_360_box_shows_the_notice_and_the_case_note_in_both_languages(web, db, users):
    _book(db, users["manager"], "key")
    no = _customer(db, users, False, consent_sms=True)
    yes = _customer(db, users, True)
    _case(db, users, no)
    _case(db, users, yes)
    web.login("agent")
    page = web.get(f"/customers/{no.id}").text
    tasks = re.search(r'<ul id="retention-panel-tasks"(.*?)</ul>', page, re.S).group(1)
    assert "No phone calls" in tasks and NOT_TO_CALL_EN in tasks
    assert "Reach them another way they agreed to: SMS." in tasks
    cases = re.search(r'<ul id="retention-panel-cases"(.*?)</ul>', page, re.S).group(1)
    assert NO_PHONE_NOTE in cases
    page = web.get(f"/customers/{yes.id}").text
    assert "No phone calls" not in page and NO_PHONE_NOTE not in page
    users["agent"].locale = "zh_CN"
    db.commit()
    page = web.get(f"/customers/{no.id}").text
    tasks = re.search(r'<ul id="retention-panel-tasks"(.*?)</ul>', page, re.S).group(1)
    assert "请勿致电" in tasks and "请通过客户同意的其他方式联系：短信。" in tasks
    cases = re.search(r'<ul id="retention-panel-cases"(.*?)</ul>', page, re.S).group(1)
    assert NO_PHONE_ZH in cases and NO_PHONE_NOTE not in cases


def test_the_dashboard_counts_treated_cases_without_phone_consent(web, db, users):
    manager = users["manager"]
    pb = _book(db, manager, "key")
    case, _ = _case(db, users, _customer(db, users, False))
    outcomes.record_outcome(db, case.id, actor=manager, lost=True)
    db.commit()
    web.login("manager")
    row = re.search(
        rf'<tr id="winback-{pb.id}">(.*?)</tr>', web.get("/retention").text, re.S
    ).group(1)
    assert "1 without phone consent" in row
    manager.locale = "zh_CN"
    db.commit()
    row = re.search(
        rf'<tr id="winback-{pb.id}">(.*?)</tr>', web.get("/retention").text, re.S
    ).group(1)
    assert "其中 1 个无电话许可" in row


def test_the_api_case_carries_the_note(client, db, users, tokens):
    _book(db, users["manager"], "key")
    case, _ = _case(db, users, _customer(db, users, False))
    r = client.get(f"/api/v1/retention/cases/{case.id}", headers=tokens["manager"])
    assert r.status_code == 200 and r.json()["note"] == NO_PHONE_NOTE
    rep = client.get("/api/v1/retention/report", headers=tokens["manager"]).json()
    assert all("no_phone_consent" in r for r in rep)
    assert db.get(RetentionCase, case.id).arm == "treated"


def test_the_notice_joins_its_sentences_as_each_language_does():
    """English puts a space between the two sentences; Chinese none after "。"."""
    from types import SimpleNamespace

    from retento.retention.consent import phone_notice

    who = SimpleNamespace(
        consent_phone=False, consent_email=True, consent_sms=False, email="a@example.com", phone=""
    )
    assert (
        phone_notice(who, "en") == f"{NOT_TO_CALL_EN} Reach them another way they agreed to: Email."
    )
    assert phone_notice(who, "zh_CN") == f"{NOT_TO_CALL_ZH}请通过客户同意的其他方式联系：电子邮件。"
