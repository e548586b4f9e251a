"""Complaint notifications: assigned to me, new in my team's queue, the customer replied.

Subscribes to the complaint service's events (``core/hooks``):

* ``complaint.created`` (complaint, actor; sources agent, API and public form, not imports) — the assignee is told it is theirs; the team (the
  team manager and their reports), or every manager when the complaint has no team, is told a
  new complaint arrived.
* ``complaint.assigned`` (complaint, actor) — the new assignee; a complaint handed to a team
  without an assignee goes to that team as new.
* ``complaint.customer_replied`` (complaint, reply, actor) — the assignee, else the team manager, else
  the managers (the reply came on the status page or by e-mail, ``mail/inbound.py``).

Every notification is keyed by the complaint's event, so a hook run twice notifies once and a
second assignment to the same agent notifies again. SLA escalations stay in
``complaint_notifications`` (written by ``jobs.escalate``) and are listed beside these; a user
reads and marks their own escalation notices with ``list_notifications`` and
``mark_notification_read`` below.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.auth.roles import users_working_like
from retento.complaints.models import Complaint, ComplaintEvent, ComplaintNotification
from retento.core.db import utcnow
from retento.core.errors import NotFound
from retento.core.hooks import subscribe
from retento.core.pagination import paginate
from retento.notifications.kinds import register_kind
from retento.notifications.service import notify
from retento.web.i18n import N_

GROUP = N_("Complaints")

register_kind(
    "complaint_assigned",
    label=N_("A complaint is assigned to me"),
    description=N_("When someone assigns a complaint to you, or one comes in for your customer."),
    text=N_("Complaint %(code)s was assigned to you."),
    defaults={"agent": "email", "*": "in_app"},
    group=GROUP,
    roles=("admin", "manager", "agent"),
)
register_kind(
    "complaint_new",
    label=N_("A new complaint in my team or queue"),
    description=N_(
        "A new complaint for your team; managers also hear of complaints that have no team yet."
    ),
    text=N_("New complaint %(code)s in your queue."),
    defaults={"manager": "in_app", "agent": "in_app", "*": "off"},
    group=GROUP,
    roles=("admin", "manager", "agent"),
)
register_kind(
    "complaint_reply",
    label=N_("The customer replied"),
    description=N_(
        "A customer answered on a complaint you work on (by e-mail or on the status page)."
    ),
    text=N_("The customer replied on %(code)s."),
    defaults={"agent": "email", "*": "in_app"},
    group=GROUP,
    roles=("admin", "manager", "agent"),
)


def _params(c: Complaint) -> dict:
    # No subject or customer name: a notification must not keep what a customer's erasure
    # removes (the inbox shows the complaint's subject live, from the complaint).
    return {"code": c.tracking_code}


def _last_assignment(session: Session, c: Complaint) -> int:
    return int(
        session.scalar(
            select(func.max(ComplaintEvent.id)).where(
                ComplaintEvent.complaint_id == c.id, ComplaintEvent.kind == "assignment"
            )
        )
        or 0
    )


def team_members(session: Session, team_manager_id: int | None) -> list[User]:
    """The team (its manager and their reports), or for the unassigned queue every manager
    (and every custom role working like one that may read complaints)."""
    if team_manager_id is None:
        return users_working_like(session, "manager", verb="complaint:read")
    stmt = select(User).where(
        User.is_active.is_(True),
        or_(User.id == team_manager_id, User.manager_id == team_manager_id),
    )
    return list(session.scalars(stmt.order_by(User.id)))


def _tell_assignee(session: Session, c: Complaint, actor: User | None, key: str) -> None:
    if c.assignee_id is None:
        return
    notify(
        session,
        "complaint_assigned",
        [session.get(User, c.assignee_id)],
        key=key,
        params=_params(c),
        link=f"/complaints/{c.id}",
        subject_type="complaint",
        subject_id=c.id,
        actor=actor,
    )


def _tell_team(session: Session, c: Complaint, actor: User | None, key: str) -> None:
    members = [u for u in team_members(session, c.team_manager_id) if u.id != c.assignee_id]
    notify(
        session,
        "complaint_new",
        members,
        key=key,
        params=_params(c),
        link=f"/complaints/{c.id}",
        subject_type="complaint",
        subject_id=c.id,
        actor=actor,
    )


def on_created(session: Session, complaint: Complaint, actor: User | None = None, **_) -> None:
    _tell_assignee(
        session, complaint, actor, f"{complaint.id}:{_last_assignment(session, complaint)}"
    )
    _tell_team(session, complaint, actor, str(complaint.id))


def on_assigned(session: Session, complaint: Complaint, actor: User | None = None, **_) -> None:
    key = f"{complaint.id}:{_last_assignment(session, complaint)}"
    if complaint.assignee_id is not None:
        _tell_assignee(session, complaint, actor, key)
    elif complaint.team_manager_id is not None:
        _tell_team(session, complaint, actor, f"{complaint.id}:team:{key}")


def on_customer_replied(
    session: Session,
    complaint: Complaint,
    reply: ComplaintEvent,
    actor: User | None = None,
    **_,
) -> None:
    c = complaint
    if c.assignee_id is not None:
        users = [session.get(User, c.assignee_id)]
    elif c.team_manager_id is not None:
        users = [session.get(User, c.team_manager_id)]
    else:
        users = team_members(session, None)
    notify(
        session,
        "complaint_reply",
        users,
        key=str(reply.id),
        params=_params(c),
        link=f"/complaints/{c.id}",
        subject_type="complaint",
        subject_id=c.id,
        actor=actor,  # an agent logging a phone reply is not told of it
    )


subscribe("complaint.created", on_created)
subscribe("complaint.assigned", on_assigned)
subscribe("complaint.customer_replied", on_customer_replied)


# --- SLA escalation notices (complaint_notifications) ------------------------------------------


def list_notifications(
    session: Session, *, actor: User, unread_only: bool = False, limit: int = 50, offset: int = 0
):
    """The actor's own escalation notices, newest first."""
    require(actor, "complaint:read")
    stmt = select(ComplaintNotification).where(ComplaintNotification.user_id == actor.id)
    if unread_only:
        stmt = stmt.where(ComplaintNotification.read_at.is_(None))
    stmt = stmt.order_by(ComplaintNotification.id.desc())
    return paginate(session, stmt, limit=limit, offset=offset)


def mark_notification_read(session: Session, notification_id: int, *, actor: User) -> None:
    n = session.get(ComplaintNotification, notification_id)
    if n is None or n.user_id != actor.id:
        raise NotFound("Notification", notification_id)
    n.read_at = n.read_at or utcnow()
    session.flush()
