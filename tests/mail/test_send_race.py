"""Two sending runs at the same time on PostgreSQL (real connections, real commits): a run slow
enough that another takes part of its batch again as stale never sends those messages too."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from retento.core.db import utcnow
from retento.mail.models import OutboxMessage
from retento.mail.service import Email, queue_email, send_queued
from tests.mail.conftest import mail_settings


class Recording:
    """A transport that records what it sent and can run something in the middle of a send."""

    def __init__(self, during=None):
        self.sent: list[str] = []
        self.during = during

    def send(self, message) -> None:
        if self.during is not None:
            self.during(message)
        self.sent.append(message["To"])

    def close(self) -> None:
        pass


def test_a_message_taken_over_as_stale_is_not_sent_by_the_slow_run(live_pg):
    # PostgreSQL only (``live_pg``): a race needs separate connections.
    settings = mail_settings(25, mail_batch_size=10)
    with live_pg.session() as s:
        for who in ("ann", "bob"):
            queue_email(
                s,
                Email(recipient=f"{who}@example.com", subject="Hi", body_text="Hi\n", kind="test"),
                actor=None,
                now=utcnow() - timedelta(hours=1),
            )
        s.commit()

    b_sending = threading.Event()
    release_b = threading.Event()
    b_transport = Recording(during=lambda m: (b_sending.set(), release_b.wait(20)))
    b_report = []

    def run_b():
        with live_pg.session() as s:
            b_report.append(send_queued(s, settings=settings, transport=b_transport))

    b = threading.Thread(target=run_b)

    def a_first_send(message):
        # Run A claimed its batch 20 minutes ago and is only now sending the first message;
        # run B starts, finds the second message stale, claims it and is sending it.
        if message["To"] == "ann@example.com" and not b.is_alive():
            b.start()
            assert b_sending.wait(20)

    a_transport = Recording(during=a_first_send)
    with live_pg.session() as s:
        a = send_queued(
            s, settings=settings, now=utcnow() - timedelta(minutes=20), transport=a_transport
        )
    release_b.set()
    b.join(20)
    assert a_transport.sent == ["ann@example.com"]
    assert b_transport.sent == ["bob@example.com"]
    assert (a.sent, a.skipped) == (1, 1)
    assert (b_report[0].requeued_stale, b_report[0].sent) == (1, 1)
    with live_pg.session() as s:
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.status, m.attempts) for m in rows] == [("sent", 1), ("sent", 2)]
