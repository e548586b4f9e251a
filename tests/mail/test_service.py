"""The outbox and the sending job against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.core.db import utcnow
from retento.core.errors import Conflict, Forbidden, InvalidInput
from retento.jobs import load_jobs
from retento.mail import service
from retento.mail.models import OutboxMessage
from retento.mail.service import Email, queue_email, send_queued
from tests.mail.conftest import free_port, mail_settings


def _email(to: str = "ann@example.com", **over) -> Email:
    values = {"recipient": to, "subject": "Hello", "body_text": "Body text\n", "kind": "test"}
    values.update(over)
    return Email(**values)


def test_queue_email_only_inserts(db):
    msg = queue_email(db, _email(), actor=None)
    assert msg.id and msg.status == "queued" and msg.attempts == 0 and msg.sent_at is None
    assert db.scalar(
        select(AuditEntry).where(
            AuditEntry.entity == "mail_message", AuditEntry.entity_id == str(msg.id)
        )
    )


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"recipient": "not an address"}, "recipient"),
        ({"recipient": "a@b.com\nBcc: x@y.com"}, "recipient"),
        ({"subject": " "}, "subject"),
        ({"body_text": ""}, "body_text"),
        ({"kind": "spam"}, "kind"),
        ({"body_text": "Go: [[link]]"}, "related_type"),
    ],
)
def test_bad_messages_are_refused_naming_the_field(db, over, field):
    with pytest.raises(InvalidInput) as err:
        queue_email(db, _email(**over), actor=None)
    assert err.value.field == field


def test_job_sends_queued_messages_over_smtp(db, smtp):
    recorder, settings = smtp
    a = queue_email(db, _email("ann@example.com", subject="Für Ann 你好"), actor=None)
    b = queue_email(db, _email("bob@example.com", body_html="<p>Hi</p>"), actor=None)
    report = send_queued(db, settings=settings)
    assert (report.sent, report.failed, report.retrying, report.waiting) == (2, 0, 0, 0)
    assert [m["X-Envelope-To"] for m in recorder.messages] == ["ann@example.com", "bob@example.com"]
    first = recorder.messages[0]
    assert first["Subject"] == "Für Ann 你好"
    assert first["From"] == "Retento <noreply@retento.test>"
    assert first.get_body(("plain",)).get_content().strip() == "Body text"
    assert recorder.messages[1].get_body(("html",)).get_content().strip() == "<p>Hi</p>"
    db.refresh(a)
    db.refresh(b)
    assert a.status == b.status == "sent" and a.sent_at is not None and a.attempts == 1
    assert db.scalar(select(AuditEntry).where(AuditEntry.entity == "mail_outbox"))


def test_running_twice_sends_nothing_twice(db, smtp):
    recorder, settings = smtp
    queue_email(db, _email(), actor=None)
    assert send_queued(db, settings=settings).sent == 1
    second = send_queued(db, settings=settings)
    assert (second.claimed, second.sent) == (0, 0)
    assert len(recorder.messages) == 1


def test_claimed_messages_are_invisible_to_another_run(db):
    msg = queue_email(db, _email(), actor=None)
    now = utcnow()
    assert service.claim_batch(db, 10, now) == [msg.id]
    assert service.claim_batch(db, 10, now) == []
    db.refresh(msg)
    assert msg.status == "sending" and msg.attempts == 1


def test_concurrent_runs_send_each_message_once(session_factory, smtp):
    recorder, settings = smtp
    setup = session_factory()
    for i in range(6):
        queue_email(setup, _email(f"p{i}@example.com"), actor=None)
    setup.commit()
    setup.close()
    sessions = [session_factory(), session_factory()]
    # Both runs use sessions on the one test connection, so take turns on it (as SQLite's single
    # writer would make them); the claim still decides who sends what.
    lock = threading.Lock()
    reports = []

    def run(s):
        with lock:
            reports.append(send_queued(s, settings=settings))

    threads = [threading.Thread(target=run, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in reports) == 6
    assert sorted(m["X-Envelope-To"] for m in recorder.messages) == sorted(
        f"p{i}@example.com" for i in range(6)
    )
    for s in sessions:
        s.close()


def test_disabled_smtp_leaves_messages_queued(db):
    msg = queue_email(db, _email(), actor=None)
    report = send_queued(db, settings=mail_settings(25, smtp_host=""))
    assert report.disabled and report.waiting == 1 and report.sent == 0
    db.refresh(msg)
    assert msg.status == "queued" and msg.attempts == 0


def test_temporary_failure_is_retried_then_marked_failed(db, smtp):
    recorder, settings = smtp  # mail_max_attempts = 3
    msg = queue_email(db, _email("temp@example.com"), actor=None)
    now = utcnow()
    report = send_queued(db, settings=settings, now=now)
    assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
    db.refresh(msg)
    assert msg.status == "queued" and msg.attempts == 1
    assert "451" in msg.last_error and msg.next_attempt_at > now
    # Not due yet: nothing is tried before the back-off has passed.
    assert send_queued(db, settings=settings, now=now + timedelta(seconds=30)).claimed == 0
    send_queued(db, settings=settings, now=now + timedelta(minutes=2))
    db.refresh(msg)
    assert msg.status == "queued" and msg.attempts == 2
    send_queued(db, settings=settings, now=now + timedelta(minutes=10))
    db.refresh(msg)
    assert msg.status == "failed" and msg.attempts == 3 and "451" in msg.last_error
    assert send_queued(db, settings=settings, now=now + timedelta(hours=5)).claimed == 0
    assert recorder.messages == []


def test_permanent_refusal_fails_at_once(db, smtp):
    _, settings = smtp
    msg = queue_email(db, _email("bounce@example.com"), actor=None)
    report = send_queued(db, settings=settings)
    assert report.failed == 1
    db.refresh(msg)
    assert msg.status == "failed" and msg.attempts == 1 and "550" in msg.last_error


def test_unreachable_server_is_an_attempt_that_is_retried(db):
    settings = mail_settings(free_port(), mail_max_attempts=1)
    msg = queue_email(db, _email(), actor=None)
    report = send_queued(db, settings=settings)
    assert report.failed == 1
    db.refresh(msg)
    assert msg.status == "failed" and "Connection" in msg.last_error


def test_retry_requeues_a_failed_message_and_it_is_sent(db, users, smtp):
    recorder, settings = smtp
    msg = queue_email(db, _email(), actor=None)
    send_queued(db, settings=mail_settings(free_port(), mail_max_attempts=1))
    db.refresh(msg)
    assert msg.status == "failed"
    service.retry(db, msg.id, actor=users["admin"])
    assert msg.status == "queued" and msg.attempts == 0 and msg.claim_token is None
    assert send_queued(db, settings=settings).sent == 1
    assert len(recorder.messages) == 1
    with pytest.raises(Conflict):
        service.retry(db, msg.id, actor=users["admin"])
    with pytest.raises(Forbidden):
        service.retry(db, msg.id, actor=users["manager"])


def test_a_run_that_died_while_sending_is_recovered(db, smtp):
    recorder, settings = smtp
    msg = queue_email(db, _email(), actor=None)
    now = utcnow()
    assert service.claim_batch(db, 10, now) == [msg.id]  # ... and that run never finished
    assert send_queued(db, settings=settings, now=now + timedelta(minutes=5)).claimed == 0
    report = send_queued(db, settings=settings, now=now + timedelta(hours=1))
    assert report.requeued_stale == 1 and report.sent == 1
    db.refresh(msg)
    assert msg.status == "sent" and msg.attempts == 2
    assert len(recorder.messages) == 1


def test_send_test_email(db, users, smtp):
    recorder, settings = smtp
    msg = service.send_test(db, "admin@example.com", actor=users["admin"], settings=settings)
    assert msg.status == "sent" and msg.kind == "test"
    assert recorder.messages[0]["Subject"] == "Retento test email"
    assert "127.0.0.1" in recorder.messages[0].get_body(("plain",)).get_content()
    failed = service.send_test(
        db, "admin@example.com", actor=users["admin"], settings=mail_settings(free_port())
    )
    assert failed.status == "failed" and failed.last_error
    off = service.send_test(
        db, "admin@example.com", actor=users["admin"], settings=mail_settings(25, smtp_host="")
    )
    assert off.status == "queued"
    with pytest.raises(Forbidden):
        service.send_test(db, "x@example.com", actor=users["manager"], settings=settings)


def test_listing_filters_and_paginates(db, users):
    for i in range(5):
        queue_email(db, _email(f"list{i}@example.com"), actor=None)
    rows, total = service.list_messages(db, actor=users["admin"], recipient="list", limit=2)
    assert total == 5 and [r.recipient for r in rows] == ["list4@example.com", "list3@example.com"]
    rows, _ = service.list_messages(db, actor=users["admin"], status="sent")
    assert rows == []
    with pytest.raises(InvalidInput) as err:
        service.list_messages(db, actor=users["admin"], status="lost")
    assert err.value.field == "status"
    counts = service.status_counts(db, OutboxMessage.recipient.like("list%"))
    assert counts["queued"] == 5 and counts["sent"] == 0


def test_the_job_is_registered():
    assert "mail_outbox" in load_jobs()
