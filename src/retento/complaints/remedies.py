"""Service recovery (服务补救): the remedies recorded on a complaint (apology, repair, refund,
compensation in money, a voucher or loyalty points), once per request, and their totals and
cost for the dashboard and the complaint page.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints.models import Complaint, Remedy
from retento.complaints.refund_limits import check_refund_within_order
from retento.complaints.schemas import RemedyCreate
from retento.complaints.service import _event, lock_complaint, require_work
from retento.core.db import utcnow
from retento.core.errors import Conflict
from retento.core.hooks import emit
from retento.core.idempotency import KEY_REUSED
from retento.core.money import ZERO
from retento.core.validation import clean_idempotency_key


def _remedy_details(r: Remedy | RemedyCreate) -> tuple:
    return (r.kind, r.compensation_type, r.amount, r.cost, r.points)


def add_remedy(
    session: Session,
    complaint_id: int,
    data: RemedyCreate,
    *,
    actor: User,
    idempotency_key: str | None = None,
) -> Remedy:
    """Record an apology, explanation, compensation (with amount and cost) or thanks.

    With ``idempotency_key`` (the form's key, the API's ``Idempotency-Key``) a repeated request
    (a double click, a retry) returns the remedy the first one recorded: nothing is recorded,
    costed or awarded twice; the same key with another remedy is a 409 naming
    ``Idempotency-Key``. The complaint's row lock makes the check and the insert one step.
    """
    require(actor, "complaint:read")
    c = lock_complaint(session, complaint_id)
    require_work(actor, c)
    idempotency_key = clean_idempotency_key(idempotency_key)
    if idempotency_key:
        done = session.scalar(
            select(Remedy).where(
                Remedy.complaint_id == c.id, Remedy.idempotency_key == idempotency_key
            )
        )
        if done is not None:
            # The same key with another remedy (kind, compensation, amount, cost, points) is
            # not a retry: answering with the first one would hide that nothing was recorded.
            if _remedy_details(done) != _remedy_details(data):
                raise Conflict(KEY_REUSED, field="Idempotency-Key")
            return done
    if data.compensation_type == "refund" and c.order_id is not None:
        check_refund_within_order(session, c.order_id, data.amount)
    r = Remedy(
        complaint_id=c.id,
        kind=data.kind,
        compensation_type=data.compensation_type,
        amount=data.amount,
        cost=data.cost,
        points=data.points,
        note=data.note,
        given_at=data.given_at or utcnow(),
        created_by_id=actor.id,
        idempotency_key=idempotency_key or None,
    )
    session.add(r)
    session.flush()
    _event(
        session,
        c,
        "remedy",
        actor,
        data.note,
        internal=False,
        data={
            "kind": r.kind,
            "compensation_type": r.compensation_type,
            "amount": format(r.amount, "f"),
            "points": r.points,
        },
    )
    # Subscribers first: loyalty posts (or refuses) a points remedy and costs it, and the
    # audit entry records the remedy as kept.
    emit("complaint.remedy", session, remedy=r, complaint=c, actor=actor)
    session.flush()
    record(session, actor, "create", "complaint_remedy", r.id, None, snapshot(r))
    return r


def remedy_totals(
    session: Session, *, actor: User, since: datetime | None = None, until: datetime | None = None
) -> list[dict]:
    """Remedy counts, amounts and costs per kind and compensation type in a period."""
    require(actor, "complaint:read")
    stmt = select(
        Remedy.kind,
        Remedy.compensation_type,
        func.count(),
        func.coalesce(func.sum(Remedy.amount), 0),
        func.coalesce(func.sum(Remedy.cost), 0),
        func.coalesce(func.sum(Remedy.points), 0),
    ).group_by(Remedy.kind, Remedy.compensation_type)
    if since:
        stmt = stmt.where(Remedy.given_at >= since)
    if until:
        stmt = stmt.where(Remedy.given_at < until)
    return [
        {
            "kind": k,
            "compensation_type": t,
            "count": n,
            "amount": Decimal(a).quantize(Decimal("0.01")),
            "cost": Decimal(cst).quantize(Decimal("0.01")),
            "points": int(p),
        }
        for k, t, n, a, cst, p in session.execute(stmt.order_by(Remedy.kind)).all()
    ]


def remedy_cost_of(c: Complaint) -> Decimal:
    return sum((r.cost for r in c.remedies), ZERO)


# Subscribes the complaint notifications (assigned, new in the team, customer replied) to the
# events above wherever this service is used (web, API, CLI, worker).
from retento.complaints import notifications as _notifications  # noqa: E402, F401
