"""SLA escalation: flag near-breach (80 %) and breached complaints and notify; idempotent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from retento.audit.service import record
from retento.auth.models import User
from retento.complaints import workflow
from retento.complaints.models import Complaint, ComplaintEvent, ComplaintNotification
from retento.complaints.public import prune_hits
from retento.complaints.schemas import AssignIn
from retento.core.db import utcnow
from retento.core.hooks import emit
from retento.core.locking import lock_each
from retento.jobs import job
from retento.web.i18n import N_, system_text

RANK = {"ok": 0, "near_breach": 1, "breached": 2}
BATCH = 1000


@dataclass
class EscalationReport:
    """What one run did (all zero on a second run at the same instant)."""

    checked: int = 0
    flagged: int = 0
    notifications: int = 0
    reassigned: int = 0
    complaint_ids: list[int] = field(default_factory=list)


def _level(now: datetime, warn: datetime | None, due: datetime | None) -> str | None:
    if due is not None and now >= due:
        return "breached"
    if warn is not None and now >= warn:
        return "near_breach"
    return None


def _recipients(session: Session, c: Complaint) -> list[int]:
    """The assignee and their manager; the team's manager if nobody is assigned."""
    ids: list[int] = []
    if c.assignee_id is not None:
        ids.append(c.assignee_id)
        assignee = session.get(User, c.assignee_id)
        if assignee is not None and assignee.manager_id is not None:
            ids.append(assignee.manager_id)
    if c.team_manager_id is not None:
        ids.append(c.team_manager_id)
    return list(dict.fromkeys(ids))


def _candidates(now: datetime):
    """Open complaints with a clock past its warning time and not yet escalated at that level."""
    resolution = or_(
        and_(Complaint.resolution_warn_at <= now, Complaint.sla_flag == "ok"),
        and_(Complaint.resolution_due_at <= now, Complaint.sla_flag != "breached"),
    )
    first_response = and_(
        Complaint.first_responded_at.is_(None),
        or_(
            and_(Complaint.first_response_warn_at <= now, Complaint.first_response_flag == "ok"),
            and_(
                Complaint.first_response_due_at <= now,
                Complaint.first_response_flag != "breached",
            ),
        ),
    )
    # Locked, skipping rows another transaction holds: two workers' passes at the same moment
    # never escalate one complaint twice, and a complaint being resolved right now is left for
    # the next tick instead of being flagged on the state read before the resolve committed.
    return lock_each(
        select(Complaint)
        .where(Complaint.status.in_(workflow.OPEN_STATES), or_(resolution, first_response))
        .order_by(Complaint.id)
        .options(selectinload(Complaint.sla_policy)),
        skip_locked=True,
    )


def escalate(session: Session, now: datetime | None = None) -> EscalationReport:
    """One escalation pass; running it again at the same time changes nothing."""
    now = now or utcnow()
    report = EscalationReport()
    complaints = session.scalars(_candidates(now)).all()
    for c in complaints:
        report.checked += 1
        actions: list[tuple[str, str, datetime]] = []
        if c.first_responded_at is None:
            lvl = _level(now, c.first_response_warn_at, c.first_response_due_at)
            if lvl and RANK[lvl] > RANK[c.first_response_flag]:
                actions.append(("first_response", lvl, c.received_at))
        lvl = _level(now, c.resolution_warn_at, c.resolution_due_at)
        if lvl and RANK[lvl] > RANK[c.sla_flag]:
            actions.append(("resolution", lvl, c.clock_started_at))
        if not actions:
            continue
        if _escalate_one(session, c, actions, now, report):
            report.complaint_ids.append(c.id)
    session.flush()
    return report


def _escalate_one(
    session: Session,
    c: Complaint,
    actions: list[tuple[str, str, datetime]],
    now: datetime,
    report: EscalationReport,
) -> bool:
    before = _state(c)
    changed = False
    for clock, level, clock_start in actions:
        if clock == "first_response":
            c.first_response_flag = level
            if level == "breached":
                c.first_response_breached = c.first_response_ever_breached = True
        else:
            c.sla_flag = level
            if level == "breached":
                c.resolution_breached = c.resolution_ever_breached = True
        if not c.flagged:
            c.flagged = True
            report.flagged += 1
        if clock == "resolution" and level == "breached":
            target = c.sla_policy.auto_reassign_to_id if c.sla_policy else None
            if target is not None and target != c.assignee_id:
                report.reassigned += _reassign(session, c, target, now)
        report.notifications += _notify(session, c, clock, level, clock_start, now)
        session.add(
            ComplaintEvent(
                complaint_id=c.id,
                customer_id=c.customer_id,
                at=now,
                kind="escalation",
                internal=True,
                actor_name="system",
                body=f"{clock.replace('_', ' ')} {level.replace('_', ' ')}",
                data={"clock": clock, "level": level},
            )
        )
        changed = True
    record(session, None, "update", "complaint", c.id, before, _state(c))
    if any(level == "breached" for _clock, level, _start in actions):
        emit("complaint.sla_breached", session, complaint=c)
    return changed


def _state(c: Complaint) -> dict:
    return {
        "first_response_flag": c.first_response_flag,
        "sla_flag": c.sla_flag,
        "flagged": c.flagged,
        "assignee_id": c.assignee_id,
    }


def _reassign(session: Session, c: Complaint, target: int, now: datetime) -> int:
    """1 if the complaint went to the policy's target; 0 if the target cannot take it (gone,
    inactive, or their role no longer works complaints): the pass goes on and the complaint
    stays with its assignee, who is notified as usual."""
    from retento.complaints.service import assign, works_complaints

    user = session.get(User, target)
    if user is None or not user.is_active or not works_complaints(user):
        return 0
    assign(
        session,
        c.id,
        AssignIn(
            assignee_id=target,
            note=system_text(N_("Reassigned automatically after an SLA breach.")),
        ),
        actor=None,
    )
    return 1


def _notify(
    session: Session, c: Complaint, clock: str, level: str, clock_start: datetime, now: datetime
) -> int:
    due = c.first_response_due_at if clock == "first_response" else c.resolution_due_at
    # One notice per clock start, level and deadline: a deadline moved (a new severity, policy
    # or calendar) and missed again is a new notice; a second run at the same instant is not.
    stamp = clock_start.strftime("%Y%m%dT%H%M%S")
    if due is not None:
        stamp += ":" + due.strftime("%Y%m%dT%H%M%S")
    wanted = {
        f"complaint:{c.id}:{clock}:{stamp}:{level}:user:{uid}": uid
        for uid in _recipients(session, c)
    }
    if not wanted:
        return 0
    existing = set(
        session.scalars(
            select(ComplaintNotification.dedupe_key).where(
                ComplaintNotification.dedupe_key.in_(list(wanted))
            )
        )
    )
    text = (
        f"Complaint {c.tracking_code} ({c.subject[:80]}): {clock.replace('_', ' ')} "
        f"{'breached' if level == 'breached' else 'at 80 % of its target'}"
        + (f", due {due.isoformat(timespec='minutes')}" if due else "")
    )
    n = 0
    for key, uid in wanted.items():
        if key in existing:
            continue
        session.add(
            ComplaintNotification(
                user_id=uid,
                complaint_id=c.id,
                level=level,
                clock=clock,
                message=text[:500],
                dedupe_key=key,
                created_at=now,
            )
        )
        n += 1
    return n


@job(
    "complaint_escalation",
    every_seconds=300,
    label=N_("Escalate complaints past their deadlines"),
)
def complaint_escalation(session: Session) -> dict:
    """Scheduled every five minutes."""
    r = escalate(session)
    return {
        "checked": r.checked,
        "flagged": r.flagged,
        "notifications": r.notifications,
        "reassigned": r.reassigned,
    }


@job(
    "complaint_rate_hits_prune",
    every_seconds=600,
    label=N_("Prune old rate-limit records of the public complaint form"),
)
def complaint_rate_hits_prune(session: Session) -> dict:
    """Delete public-form rate-limit hits older than the window (idle addresses)."""
    return {"deleted": prune_hits(session)}
