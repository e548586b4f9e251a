"""The PDCA improvement log: actions planned against a complaint root cause, advanced through
plan → do → check → act, with the complaint counts before and since as the check's evidence."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints.models import Complaint, ImprovementAction
from retento.complaints.schemas import ImprovementCreate, ImprovementUpdate
from retento.complaints.service import _check_user, _resolve_category
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound, Term
from retento.core.locking import lock_row


def list_improvements(session: Session, *, actor: User, root_cause: str | None = None):
    require(actor, "complaint:read")
    stmt = select(ImprovementAction).order_by(ImprovementAction.id.desc())
    if root_cause:
        stmt = stmt.where(ImprovementAction.root_cause == root_cause.strip().lower())
    return list(session.scalars(stmt))


def create_improvement(
    session: Session, data: ImprovementCreate, *, actor: User
) -> ImprovementAction:
    """Plan an improvement against a root cause (PDCA: plan)."""
    require(actor, "complaint:improve")
    _check_user(session, data.owner_id, "owner_id")
    if data.category_id is not None:
        _resolve_category(session, data.category_id, None)
    values = data.model_dump()
    values["root_cause"] = values["root_cause"].strip().lower()
    dup = session.scalar(
        select(ImprovementAction.id).where(
            ImprovementAction.title == values["title"],
            ImprovementAction.root_cause == values["root_cause"],
        )
    )
    if dup is not None:
        raise Conflict("This improvement is already logged for the root cause.", field="title")
    a = ImprovementAction(**values)
    session.add(a)
    session.flush()
    record(session, actor, "create", "complaint_improvement", a.id, None, snapshot(a))
    return a


PDCA_NEEDS = {"do": "do_note", "check": "check_result", "act": "act_note"}


def update_improvement(
    session: Session, improvement_id: int, data: ImprovementUpdate, *, actor: User
) -> ImprovementAction:
    """Advance a PDCA item; reaching do/check/act needs that step's note."""
    require(actor, "complaint:improve")
    # Locked: the stage rules (done needs a check result) hold for the combined result of
    # parallel edits, not only for each edit against the state it read.
    a = lock_row(session, ImprovementAction, improvement_id)
    if a is None:
        raise NotFound("Improvement", improvement_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("title", "plan", "stage"):
        if key in changes and changes[key] is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    if "owner_id" in changes:
        _check_user(session, changes["owner_id"], "owner_id")
    before = snapshot(a)
    for key, value in changes.items():
        setattr(a, key, value)
    need = PDCA_NEEDS.get(a.stage)
    if need and not getattr(a, need):
        from retento.web.labels import label_msgid

        raise InvalidInput(
            Msg(
                "Stage '%(stage)s' needs %(need)s.",
                stage=Term(a.stage, label_msgid("pdca", a.stage)),
                need=need,
            ),
            field=need,
        )
    if a.stage == "done" and not a.check_result:
        raise InvalidInput("An improvement is done only with a check result.", field="check_result")
    session.flush()
    record(session, actor, "update", "complaint_improvement", a.id, before, snapshot(a))
    return a


def get_improvement(session: Session, improvement_id: int, *, actor: User) -> ImprovementAction:
    require(actor, "complaint:read")
    a = session.get(ImprovementAction, improvement_id)
    if a is None:
        raise NotFound("Improvement", improvement_id)
    return a


def improvement_evidence(
    session: Session, a: ImprovementAction, *, actor: User, days: int = 90
) -> dict:
    """Complaints with the improvement's root cause in ``days`` before it was logged and since.

    The figures the check step compares (a falling count is the improvement working).
    """
    require(actor, "complaint:read")
    start = a.created_at
    now = utcnow()
    window = timedelta(days=days)

    def count(lo: datetime, hi: datetime) -> int:
        return session.scalar(
            select(func.count()).where(
                Complaint.root_cause == a.root_cause,
                Complaint.received_at >= lo,
                Complaint.received_at < hi,
            )
        )

    since_days = max((now - start).total_seconds() / 86400, 0.0)
    return {
        "days": days,
        "before": count(start - window, start),
        "since": count(start, now + timedelta(seconds=1)),
        "since_days": round(since_days, 1),
    }
