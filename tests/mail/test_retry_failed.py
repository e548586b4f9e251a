"""After an SMTP outage failed every message, the administrator queues them all again at once;
messages whose address was erased stay failed (retrying them could reach no one)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.core.errors import Conflict, Forbidden
from retento.mail import service
from retento.mail.models import OutboxMessage
from retento.mail.service import Email, queue_email, send_queued
from tests.mail.conftest import free_port, mail_settings
from tests.web.conftest import Browser


def _fail(db, n: int) -> list[OutboxMessage]:
    msgs = [
        queue_email(
            db,
            Email(recipient=f"p{i}@example.com", subject="Hi", body_text="Hi\n", kind="test"),
            actor=None,
        )
        for i in range(n)
    ]
    down = mail_settings(free_port(), mail_max_attempts=1)
    assert send_queued(db, settings=down).failed == n
    db.commit()
    return msgs


def test_retry_failed_queues_every_failed_message_and_they_are_sent(db, users, smtp):
    recorder, settings = smtp
    msgs = _fail(db, 3)
    # Erased since: the message keeps no address.
    msgs[2].recipient = "[erased]"
    db.flush()
    with pytest.raises(Forbidden):
        service.retry_failed(db, actor=users["manager"])
    assert service.retry_failed(db, actor=users["admin"]) == 2
    for m in msgs:
        db.refresh(m)
    assert [(m.status, m.attempts) for m in msgs] == [("queued", 0), ("queued", 0), ("failed", 1)]
    entry = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "mail_outbox", AuditEntry.action == "queue")
        .order_by(AuditEntry.id)
    ).all()[-1]
    assert entry.after == {"queued": 2} and entry.actor_name == "admin"
    assert send_queued(db, settings=settings).sent == 2
    assert sorted(m["X-Envelope-To"] for m in recorder.messages) == [
        "p0@example.com",
        "p1@example.com",
    ]
    with pytest.raises(Conflict) as err:
        service.retry(db, msgs[2].id, actor=users["admin"])
    assert err.value.field == "recipient"
    assert service.retry_failed(db, actor=users["admin"]) == 0


@pytest.mark.parametrize(
    ("lang", "button", "done"),
    [
        ("en", "Retry all failed emails (2)", "2 failed emails are queued again."),
        ("zh_CN", "重试全部发送失败的邮件（2）", "2 封发送失败的邮件已重新排队。"),
    ],
)
def test_outbox_page_offers_retry_all_failed(db, client, users, lang, button, done):
    users["admin"].locale = lang
    db.commit()
    _fail(db, 2)
    web = Browser(client)
    web.login("admin")
    page = web.get("/admin/mail")
    assert button in page.text
    r = web.post("/admin/mail/retry-failed", follow_redirects=True)
    assert r.status_code == 200 and done in r.text
    assert 'id="mail-retry-failed"' not in r.text
    assert db.scalars(select(OutboxMessage.status)).all() == ["queued", "queued"]
