"""Builders for retention tests: a succeeded scoring run with chosen value classes and risks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.retention.models import RetentionAlert
from retento.scoring.models import CustomerScore, ScoreRun


def make_run(
    session: Session, scores: dict[int, dict], *, as_of: datetime | None = None
) -> ScoreRun:
    """A succeeded run scoring ``{customer_id: {"value_class": ..., "churn_risk": ...}}``."""
    now = as_of or datetime.now(UTC)
    run = ScoreRun(model="bgnbd", status="succeeded", as_of=now, started_at=now, finished_at=now)
    session.add(run)
    session.flush()
    for cid, over in scores.items():
        values = {
            "run_id": run.id,
            "customer_id": cid,
            "revenue": Decimal("100.00"),
            "profit": Decimal("30.00"),
            "monetary": Decimal("50.00"),
            "value_class": "ordinary",
            "label": "other",
            "loyalty_stage": "regular",
            "last_order_on": (now - timedelta(days=100)).date(),
        }
        values.update(over)
        session.add(CustomerScore(**values))
    session.flush()
    return run


def make_alert(
    session: Session,
    customer_id: int,
    *,
    value_class: str = "key",
    rule: str = "rhythm",
    cause: str = "c1",
    owner_id: int | None = None,
) -> RetentionAlert:
    """An open rhythm-style alert (90 days silent, usually every 30) for ``customer_id``."""
    alert = RetentionAlert(
        customer_id=customer_id,
        rule=rule,
        cause_key=cause,
        severity="medium",
        reason_code="rhythm",
        reason_params={"days": 90, "gap": 30},
        value_class=value_class,
        risk=0.7,
        owner_id=owner_id,
        status="open",
        created_at=utcnow(),
    )
    session.add(alert)
    session.flush()
    return alert


def run_queued_work(session: Session, session_factory) -> int:
    """Commit the test's session, then carry out the queued work as a worker does (``retento
    worker --once``): an evaluation queues its win-back actions instead of acting. Returns how
    many work items ran; the session sees their writes afterwards."""
    from retento.work.queue import WorkRunner

    session.commit()
    ran = WorkRunner(session_factory).run_once()
    session.expire_all()
    return ran
