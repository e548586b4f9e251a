"""Notes are refused when too long, never cut short: a close note of 3000 characters was stored
as its first 2000 without a word, a task's note past 5000 and a case's past 4700 likewise.
Now a 422 naming ``note`` and the maximum (the page says it in the reader's language), and
nothing is saved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from retento.core.db import utcnow
from retento.core.errors import InvalidInput
from retento.retention import outcomes
from retento.retention.defaults import ensure_defaults
from retento.retention.models import (
    RetentionAlert,
    RetentionCase,
    RetentionPlaybook,
    RetentionTask,
)
from tests.factories import make_customer
from tests.retention.helpers import make_alert
from tests.web.conftest import Browser

TOO_LONG = {
    "en": "The note is longer than %s characters.",
    "zh_CN": "备注超过 %s 个字符。",
}


def _agent(client, users, db, locale: str) -> Browser:
    users["agent"].locale = locale
    db.commit()
    tab = Browser(client)
    tab.login("agent")
    return tab


def _alert(db, users) -> RetentionAlert:
    c = make_customer(db, name="Nora Note", owner_id=users["agent"].id)
    alert = make_alert(db, c.id, owner_id=users["agent"].id)
    db.commit()
    return alert


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_an_over_long_close_note_is_refused_on_the_page(client, users, db, locale):
    alert = _alert(db, users)
    tab = _agent(client, users, db, locale)
    url = f"/retention/alerts/{alert.id}/status"
    r = tab.post(
        url, {"status": "closed", "version": "1", "note": "x" * 3000}, follow_redirects=True
    )
    assert TOO_LONG[locale] % "2000" in r.text
    db.expire_all()
    kept = db.get(RetentionAlert, alert.id)
    assert kept.status == "open" and kept.close_note is None and kept.version == 1
    # 2000 characters (after trimming) are stored whole.
    note = "y" * 2000
    assert tab.post(url, {"status": "closed", "version": "1", "note": f" {note} "}).status_code
    db.expire_all()
    closed = db.get(RetentionAlert, alert.id)
    assert closed.status == "closed" and closed.close_note == note


def test_an_over_long_close_note_is_refused_by_the_api(client, users, tokens, db):
    alert = _alert(db, users)
    url = f"/api/v1/retention/alerts/{alert.id}/status"
    r = client.post(url, json={"status": "closed", "note": "x" * 3000}, headers=tokens["agent"])
    assert r.status_code == 422 and r.json()["field"] == "note"
    db.expire_all()
    assert db.get(RetentionAlert, alert.id).status == "open"


def test_the_service_refuses_an_over_long_close_note(db, users):
    from retento.retention import service

    alert = _alert(db, users)
    with pytest.raises(InvalidInput) as exc:
        service.set_alert_status(db, alert.id, "closed", actor=users["agent"], note="x" * 2001)
    assert exc.value.field == "note" and "2000" in str(exc.value)
    db.expire_all()
    assert db.get(RetentionAlert, alert.id).status == "open"


def _task(db, users) -> RetentionTask:
    c = make_customer(db, name="Tom Task", owner_id=users["agent"].id)
    t = RetentionTask(
        customer_id=c.id,
        owner_id=users["agent"].id,
        kind="task",
        title="Win back Tom Task",
        script="Call.",
        due_on=utcnow().date(),
        status="open",
    )
    db.add(t)
    db.commit()
    return t


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_an_over_long_task_note_is_refused_on_the_page(client, users, db, locale):
    task = _task(db, users)
    tab = _agent(client, users, db, locale)
    form = {"status": "done", "result": "reached", "version": "1", "note": "x" * 5001}
    r = tab.post(f"/retention/tasks/{task.id}/status", form, follow_redirects=True)
    assert TOO_LONG[locale] % "5000" in r.text
    db.expire_all()
    kept = db.get(RetentionTask, task.id)
    assert kept.status == "open" and kept.note is None


def test_task_notes_are_refused_by_the_api_not_cut(client, users, tokens, db):
    task = _task(db, users)
    h = tokens["agent"]
    url = f"/api/v1/retention/tasks/{task.id}"
    r = client.patch(url, json={"note": "x" * 5001}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "note"
    r = client.post(
        f"{url}/status", json={"status": "done", "result": "reached", "note": "x" * 5001}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "note"
    db.expire_all()
    assert db.get(RetentionTask, task.id).status == "open"


def test_task_note_checks_in_the_service(db, users):
    from retento.retention import tasks

    task = _task(db, users)
    with pytest.raises(InvalidInput) as exc:
        tasks.set_task_status(
            db, task.id, "done", actor=users["agent"], result="reached", note="x" * 5001
        )
    assert exc.value.field == "note"
    with pytest.raises(InvalidInput):
        tasks.update_task(db, task.id, {"note": "x" * 5001}, actor=users["agent"])
    tasks.set_task_status(
        db, task.id, "done", actor=users["agent"], result="reached", note="z" * 5000
    )
    assert db.get(RetentionTask, task.id).note == "z" * 5000


def test_a_case_note_up_to_5000_characters_is_kept_whole(db, users):
    """The case's note was cut to 4700 characters (room for the system's lines) although the
    API takes 5000: now kept whole, and a longer one refused."""
    ensure_defaults(db)
    c = make_customer(db, name="Cara Case")
    alert = make_alert(db, c.id)
    pb = db.scalars(select(RetentionPlaybook).limit(1)).one()
    case = RetentionCase(
        alert_id=alert.id,
        playbook_id=pb.id,
        customer_id=c.id,
        value_class="key",
        seq=1,
        arm="treated",
        action="task",
        window_ends_at=utcnow() + timedelta(days=60),
    )
    db.add(case)
    db.flush()
    with pytest.raises(InvalidInput) as exc:
        outcomes.record_outcome(db, case.id, actor=users["manager"], reached=True, note="x" * 5001)
    assert exc.value.field == "note"
    db.refresh(case)
    assert case.reached is None and case.note is None
    note = "n" * 4900
    outcomes.record_outcome(db, case.id, actor=users["manager"], reached=True, note=note)
    db.refresh(case)
    assert case.note == note and case.reached is True
