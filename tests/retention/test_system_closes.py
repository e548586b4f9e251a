"""What the system closes by itself, QA pass on the Chinese UI (SQLite and PostgreSQL):

1. an alert the system closed (the customer ordered again, held out in the control group) showed
   its English close note on Chinese pages: the note is stored as a message id and shown in the
   reader's language; a note an owner typed is shown as typed, and the API keeps the stored text;
2. a task closed because its case settled could be reopened by its owner, leaving an open task
   on a case that needs no more work: reopening a task of a settled case is refused (409 naming
   ``status``, in the reader's language on the page, which no longer offers the button).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from retento.core.errors import Conflict
from retento.retention import outcomes, playbook_apply, service, tasks
from retento.retention.models import RetentionAlert, RetentionCase, RetentionTask
from retento.retention.reasons import CAME_BACK_NOTE, HELD_OUT_NOTE
from tests.factories import make_customer
from tests.retention.helpers import make_alert
from tests.retention.test_task_language_and_settling import _key_book, _order, _treated_task
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _reader(db, user, locale: str) -> None:
    user.locale = locale
    db.commit()


def _close_note_cell(html: str, alert_id: int) -> str:
    row = re.search(rf'<tr id="alert-{alert_id}">(.*?)</tr>', html, re.S)
    assert row, f"alert {alert_id} is not listed"
    note = re.search(r'<small class="muted">([^<]*)</small>', row.group(1))
    return note.group(1) if note else ""


# --------------------------------------------------------------------------- 1. close notes


def test_an_alert_closed_by_an_order_reads_in_the_reader_s_language(web, db, users, tokens):
    customer, case, _ = _treated_task(db, users)
    _order(db, customer, users["manager"])
    alert = db.get(RetentionAlert, case.alert_id)
    assert (alert.status, alert.close_note) == ("closed", CAME_BACK_NOTE)
    _reader(db, users["manager"], "zh_CN")
    web.login("manager")
    page = web.get("/retention/alerts", params={"status": "closed"})
    assert page.status_code == 200
    assert _close_note_cell(page.text, alert.id) == "客户已再次下单"
    assert "customer ordered again" not in page.text
    # The English reader gets the English words; the API keeps what is stored.
    _reader(db, users["manager"], "en")
    page = web.get("/retention/alerts", params={"status": "closed"})
    assert _close_note_cell(page.text, alert.id) == "customer ordered again"
    api = web.client.get(f"/api/v1/retention/alerts/{alert.id}", headers=tokens["manager"])
    assert api.status_code == 200 and api.json()["close_note"] == CAME_BACK_NOTE


def test_a_held_out_alert_reads_in_chinese_and_a_typed_note_as_typed(web, db, users):
    manager = users["manager"]
    _key_book(db, manager, control_share=0.95)  # 19 of each block of 20 held out
    for n in range(5):
        held = make_alert(db, make_customer(db, name=f"Held Out {n}").id)
        if playbook_apply.apply_to_alert(db, held.id, actor=manager).arm == "control":
            break
    assert held.status == "closed" and held.close_note == HELD_OUT_NOTE
    typed = make_alert(db, make_customer(db, name="Typed Note Ltd").id, cause="c2")
    service.set_alert_status(db, typed.id, "closed", actor=manager, note="customer ordered again!")
    _reader(db, manager, "zh_CN")
    web.login("manager")
    page = web.get("/retention/alerts", params={"status": "closed"}).text
    assert _close_note_cell(page, held.id) == "留作对照组，不采取行动"
    assert _close_note_cell(page, typed.id) == "customer ordered again!"


# --------------------------------------------------------------------------- 2. reopening


def test_a_task_closed_because_its_case_settled_cannot_be_reopened(db, users):
    customer, case, task = _treated_task(db, users)
    _order(db, customer, users["manager"])
    task = db.get(RetentionTask, task.id)
    assert task.status == "cancelled"
    with pytest.raises(Conflict) as refused:
        tasks.set_task_status(db, task.id, "open", actor=users["agent"])
    assert refused.value.field == "status" and "is settled (came_back)" in refused.value.message
    db.rollback()
    assert db.get(RetentionTask, task.id).status == "cancelled"


def test_a_finished_task_of_a_settled_case_stays_finished(db, users):
    _, case, task = _treated_task(db, users)
    tasks.set_task_status(db, task.id, "done", actor=users["agent"], result="not_reached")
    outcomes.record_outcome(db, case.id, actor=users["agent"], lost=True)
    db.commit()
    with pytest.raises(Conflict):
        tasks.set_task_status(db, task.id, "open", actor=users["agent"])
    db.rollback()
    # What the owner learnt later still goes on the case.
    outcomes.record_outcome(db, case.id, actor=users["agent"], reached=True)
    assert db.get(RetentionCase, case.id).reached is True


def test_a_task_cancelled_by_hand_on_a_pending_case_can_still_be_reopened(db, users):
    _, case, task = _treated_task(db, users)
    tasks.set_task_status(db, task.id, "cancelled", actor=users["agent"])
    reopened = tasks.set_task_status(db, task.id, "open", actor=users["agent"])
    assert reopened.status == "open" and db.get(RetentionCase, case.id).outcome == "pending"


def test_reopening_an_auto_closed_task_is_a_409_in_the_api(client, db, users, tokens):
    customer, _, task = _treated_task(db, users)
    _order(db, customer, users["manager"])
    r = client.post(
        f"/api/v1/retention/tasks/{task.id}/status",
        json={"status": "open"},
        headers=tokens["agent"],
    )
    assert r.status_code == 409, r.text
    assert r.json()["field"] == "status" and "cannot be reopened" in r.json()["detail"]
    db.expire_all()
    assert db.get(RetentionTask, task.id).status == "cancelled"


def test_the_task_page_offers_no_reopen_for_a_settled_case_and_refuses_it_in_chinese(
    web, db, users
):
    customer, _, task = _treated_task(db, users)
    _order(db, customer, users["manager"])
    _reader(db, users["agent"], "zh_CN")
    web.login("agent")
    page = web.get("/retention/tasks", params={"status": "cancelled"}).text
    card = re.search(rf'<section class="card task" id="task-{task.id}">(.*?)</section>', page, re.S)
    assert card and 'value="open"' not in card.group(1)
    assert "该挽回案例已结案（已回购），此任务保持关闭。" in card.group(1)
    # A stale page (or a hand-made request) that still sends "Reopen" is refused.
    task = db.get(RetentionTask, task.id)
    r = web.post(
        f"/retention/tasks/{task.id}/status",
        {"status": "open", "version": str(task.version)},
        follow_redirects=True,
    )
    assert r.status_code == 200
    assert f"挽回案例 {task.case_id} 已结案（已回购），其任务不能重新打开。" in r.text
    db.expire_all()
    still = db.scalar(select(RetentionTask.status).where(RetentionTask.id == task.id))
    assert still == "cancelled"
