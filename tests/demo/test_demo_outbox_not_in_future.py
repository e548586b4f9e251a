"""Demo data generated early in the (UTC) day: the retention and survey steps work "at 09:00"
and "at noon" of the demo's day, never later than the real time, or their e-mails would wait in
the outbox, created in the future, until that hour."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.demo import generator
from retento.mail.models import OutboxMessage


def test_demo_mail_is_not_queued_in_the_future(db):
    # A demo "day" whose 09:00 and noon have not come yet, whatever time the test runs at.
    generator.generate(db, customers=30, seed=7, today=date.today() + timedelta(days=1))
    now = utcnow()
    rows = db.execute(select(OutboxMessage.kind, func.count()).group_by(OutboxMessage.kind))
    kinds = {kind: n for kind, n in rows}
    assert kinds.get("survey_invitation") and kinds.get("retention_alert")
    late = db.scalars(
        select(OutboxMessage.kind).where(
            (OutboxMessage.created_at > now) | (OutboxMessage.next_attempt_at > now)
        )
    ).all()
    assert late == []
