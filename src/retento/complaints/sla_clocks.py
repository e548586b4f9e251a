"""A complaint's SLA clocks: the policy chosen for it, its due and warning times, and their state.

The clock arithmetic on business calendars is ``sla``; which policy wins is ``policies``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.complaints import sla, workflow
from retento.complaints.models import BusinessCalendarRow, Complaint, SlaPolicy
from retento.complaints.policies import PolicyRule, select_policy
from retento.complaints.sla_classes import provided_class
from retento.core.db import utcnow


def calendar_of(row: BusinessCalendarRow) -> sla.BusinessCalendar:
    return sla.BusinessCalendar.from_spec(row.timezone, row.hours, row.holidays, row.name)


def _rule(p: SlaPolicy) -> PolicyRule:
    return PolicyRule(
        id=p.id,
        name=p.name,
        first_response=timedelta(minutes=p.first_response_minutes),
        resolution=timedelta(minutes=p.resolution_minutes),
        severity=p.severity,
        value_class=p.value_class,
        priority=p.priority,
        is_active=p.is_active,
    )


def sla_class(session: Session, c: Complaint) -> str:
    """The class the SLA policy is chosen for: a registered provider's (a loyalty member's tier
    SLA class, ``sla_classes``) when one answers, else the complaint's value class."""
    return provided_class(session, c.customer_id) or c.value_class


def choose_policy(session: Session, severity: int, value_class: str) -> SlaPolicy | None:
    """The SLA policy for a complaint (precedence in ``policies``)."""
    rows = session.scalars(select(SlaPolicy).where(SlaPolicy.is_active.is_(True))).all()
    rule = select_policy([_rule(p) for p in rows], severity, value_class)
    return None if rule is None else next(p for p in rows if p.id == rule.id)


def _resolution_pauses(c: Complaint) -> list[sla.Pause]:
    return [
        sla.Pause(p.started_at, p.ended_at) for p in c.pauses if p.started_at >= c.clock_started_at
    ]


def refresh_sla(
    session: Session, c: Complaint, *, reselect: bool = True, now: datetime | None = None
) -> None:
    """Recompute due and warning times from the policy, calendar, pauses and current severity,
    then settle the breach and escalation flags on them (:func:`settle_flags`).

    The resolution due time is computed for a resolved or closed complaint too (its last clock,
    stopped at ``resolved_at``), so a complaint resolved while awaiting the customer, or
    re-rated after resolution, stores the due time its SLA box shows."""
    policy = choose_policy(session, c.severity, sla_class(session, c)) if reselect else c.sla_policy
    c.sla_policy = policy
    if policy is None:
        c.first_response_due_at = c.first_response_warn_at = None
        c.resolution_due_at = c.resolution_warn_at = None
    else:
        cal = calendar_of(policy.calendar)
        fr = timedelta(minutes=policy.first_response_minutes)
        c.first_response_due_at = cal.add(c.received_at, fr)
        c.first_response_warn_at = cal.add(c.received_at, fr * policy.warn_fraction)
        res = timedelta(minutes=policy.resolution_minutes)
        pauses = _resolution_pauses(c)
        c.resolution_due_at = sla.due_at(cal, c.clock_started_at, res, pauses)
        c.resolution_warn_at = sla.due_at(
            cal, c.clock_started_at, res * policy.warn_fraction, pauses
        )
    settle_flags(c, now)


RANK = {"ok": 0, "near_breach": 1, "breached": 2}


def level_at(at: datetime, warn: datetime | None, due: datetime | None) -> str:
    """The escalation level a clock with these warning and due times has reached at ``at``."""
    if due is not None and at >= due:
        return "breached"
    if warn is not None and at >= warn:
        return "near_breach"
    return "ok"


def _lower(flag: str, reached: str) -> str:
    return flag if RANK[flag] <= RANK[reached] else reached


def settle_flags(c: Complaint, now: datetime | None = None) -> None:
    """Make the stored breach and escalation flags follow the current clocks (called whenever
    the due times are recomputed: severity change, pause, resume, reopen, resolve, policy or
    calendar edit).

    * ``first_response_flag`` / ``sla_flag`` (the level the escalation job reached) are *lowered*
      to the level the clock has reached now, never raised: raising is the job's, which notifies.
      A deadline moved into the future therefore makes the complaint a candidate again.
    * ``first_response_breached`` / ``resolution_breached`` (the badge's "late") hold only while
      the current clock is past its due time (a stopped clock: stopped after it); a first response
      or resolution given after the (recomputed) due time sets them.
    * ``*_ever_breached`` keep every breach that happened (reports count those), never cleared.
    """
    now = now or utcnow()
    open_ = workflow.is_open(c.status)
    fr_at = c.first_responded_at
    fr_reached = level_at(fr_at or now, c.first_response_warn_at, c.first_response_due_at)
    c.first_response_flag = _lower(c.first_response_flag or "ok", fr_reached)
    if fr_at is not None:
        c.first_response_breached = (
            c.first_response_due_at is not None and fr_at > c.first_response_due_at
        )
    else:
        c.first_response_breached = bool(c.first_response_breached) and fr_reached == "breached"
    if open_:
        res_reached = level_at(now, c.resolution_warn_at, c.resolution_due_at)
        c.sla_flag = _lower(c.sla_flag or "ok", res_reached)
        c.resolution_breached = bool(c.resolution_breached) and res_reached == "breached"
        if c.sla_flag == "ok" and c.first_response_flag == "ok":
            c.flagged = False
    elif c.resolved_at is not None:
        c.resolution_breached = (
            c.resolution_due_at is not None and c.resolved_at > c.resolution_due_at
        )
    c.first_response_ever_breached = bool(c.first_response_ever_breached) or bool(
        c.first_response_breached
    )
    c.resolution_ever_breached = bool(c.resolution_ever_breached) or bool(c.resolution_breached)


def sla_status(session: Session, c: Complaint, now: datetime | None = None) -> dict:
    """Both clocks' state, elapsed fraction and due time, for pages and the API."""
    now = now or utcnow()
    policy = c.sla_policy
    if policy is None:
        return {"policy": None}
    cal = calendar_of(policy.calendar)
    fr = sla.SlaClock(
        c.received_at,
        timedelta(minutes=policy.first_response_minutes),
        warn_fraction=policy.warn_fraction,
    )
    if c.first_responded_at:
        fr = fr.stop(c.first_responded_at)
    res = sla.SlaClock(
        c.clock_started_at,
        timedelta(minutes=policy.resolution_minutes),
        tuple(_resolution_pauses(c)),
        warn_fraction=policy.warn_fraction,
    )
    if c.resolved_at and not workflow.is_open(c.status):
        res = res.stop(c.resolved_at)
    return {
        "policy": policy.name,
        "calendar": policy.calendar.name,
        "first_response": _clock(fr, cal, now),
        "resolution": _clock(res, cal, now),
    }


def _clock(clock: sla.SlaClock, cal: sla.Calendars, now: datetime) -> dict:
    """A clock's due time, state, elapsed fraction of its target, and the business minutes past
    the target (0 before it): "7339 %" said less than "6 days past the target"."""
    past = clock.elapsed(cal, now) - clock.target
    return {
        "due_at": clock.due(cal),
        "state": clock.state(cal, now),
        "fraction": round(clock.fraction(cal, now), 3),
        "overdue_minutes": max(0, int(past.total_seconds() // 60)),
    }


def sla_badge(c: Complaint, now: datetime | None = None) -> str:
    """The one SLA state the queue, the complaint's page, the 360 box and the home dashboards
    show for ``c`` (a ``sla_state`` label), naming the target that was missed:

    ``resolution_late`` (not resolved by the resolution due time), ``first_response_late`` (no
    first response by its due time, or one given late), else ``near_breach``, ``paused``,
    ``ok`` while open and ``done`` once resolved in time; ``none`` without a policy. A
    complaint answered late but resolved in time reads "First response late", not "Breached".
    A first response still outstanding and overdue wins over a resolution clock only near its
    due time; a late first response already given ranks below it (the queue's colour is about
    what can still be saved)."""
    now = now or utcnow()
    fr_late = bool(c.first_response_breached) or (
        c.first_responded_at is not None
        and c.first_response_due_at is not None
        and c.first_responded_at > c.first_response_due_at
    )
    if not workflow.is_open(c.status):
        if c.resolution_breached:
            return "resolution_late"
        return "first_response_late" if fr_late else "done"
    if c.first_response_due_at is None and c.resolution_due_at is None:
        return "none"
    if c.resolution_breached or (c.resolution_due_at is not None and now >= c.resolution_due_at):
        return "resolution_late"
    waiting = c.first_responded_at is None
    if waiting and c.first_response_due_at is not None and now >= c.first_response_due_at:
        return "first_response_late"
    clocks = [c.resolution_warn_at] + ([c.first_response_warn_at] if waiting else [])
    if any(w is not None and now >= w for w in clocks):
        return "near_breach"
    if fr_late:
        return "first_response_late"
    return "paused" if c.paused_since is not None else "ok"
