"""What a "points expiring" alert says now: the ledger's current count beside the raised one, and
the open alert following the ledger.

A ``points_expiring`` alert keeps the reason it was raised with (points and first expiry day):
it is the record of why someone was asked to act. But the points can change after that: the
member spends some (earliest expiry first, so the first date moves), a reversed redemption
gives points back, the date passes and the lots expire. A retention manager about to phone the
customer needs the truth now, so wherever an open (or acknowledged) alert is listed for someone
to act on (the customer's 360 box, the alert inbox, the alert API's ``now``) a second line says
what the loyalty ledger says now, counted by the same function as the member card
(``ledger.expiring``, the rule's window): "Now: 150 loyalty points expire unused on …", or that
nothing expires within the window any more. When nothing changed there is no second line.
Closed alerts and the timeline stay as raised.

The cause of such an alert is the first expiry day (``rules.points_cause_key``). Each time the
rule is evaluated (the ``retention_evaluate`` job, ``evaluate_now``), :func:`follow_ledger`
closes the open or acknowledged alerts whose cause the ledger no longer bears out, with a note
saying why (as the system closes a lapse alert when the customer orders again): nothing expires
within the window, fewer points than the threshold do, or the first expiry day moved. A moved
day is a new cause: the same evaluation raises its alert (once, insert-or-ignore), so a member
never has two open alerts for expiring points. Points that changed on the same first day are the
same cause: the alert stays, with its "Now" line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.core.config import get_settings
from retento.core.db import utcnow
from retento.core.locking import lock_each
from retento.retention.models import RetentionAlert, RetentionRule
from retento.retention.reasons import (
    POINTS_BELOW_NOTE,
    POINTS_GONE_NOTE,
    POINTS_MOVED_NOTE,
    render_reason,
)
from retento.retention.rules import Candidate, points_cause_key, points_params
from retento.web.i18n import N_, gettext

RULE = "points_expiring"
ACTIVE = ("open", "acknowledged")
NOW_TEXT = N_("Now: %(reason)s")
NOTHING_NOW = N_("Now: no loyalty points expire within %(days)s days")
COMPARED = ("points", "date", "last")
DEFAULT_WINDOW = 30  # a rule without a window looks 30 days ahead (rules.points_expiring)


@dataclass(frozen=True)
class PointsNow:
    """What the ledger says now for an active points alert whose reason it no longer matches:
    the points expiring within the rule's window (0: none), their first and last expiry day in
    the installation's time zone (None when none; equal when one day), and the window."""

    points: int
    first_day: date | None
    last_day: date | None
    window_days: int
    params: dict

    def text(self, locale: str) -> str:
        """The "Now: …" line the pages show, in ``locale``."""
        if not self.points:
            return gettext(locale, NOTHING_NOW) % {"days": self.window_days}
        return gettext(locale, NOW_TEXT) % {"reason": render_reason(RULE, self.params, locale)}


def _window(session: Session) -> int:
    days = session.scalar(select(RetentionRule.window_days).where(RetentionRule.code == RULE))
    return days or DEFAULT_WINDOW


def current_states(session: Session, alerts: Iterable[RetentionAlert]) -> dict[int, PointsNow]:
    """Alert id → what the ledger says now, for each open or acknowledged ``points_expiring``
    alert among ``alerts`` whose reason no longer matches the ledger (one query for all)."""
    from retento.loyalty import ledger

    due = [a for a in alerts if a.rule == RULE and a.status in ACTIVE]
    if not due:
        return {}
    days = _window(session)
    now = utcnow()
    found = ledger.expiring(session, {a.customer_id for a in due}, now, now + timedelta(days=days))
    tz = ZoneInfo(get_settings().timezone)
    out: dict[int, PointsNow] = {}
    for a in due:
        e = found.get(a.customer_id)
        if e is None:
            out[a.id] = PointsNow(0, None, None, days, {})
            continue
        params = points_params(e, tz)
        raised = {k: v for k, v in (a.reason_params or {}).items() if k in COMPARED}
        # An alert raised before reasons stored the last day (``last``) named the first day
        # only: the same points and first day are no change.
        compared = {k: v for k, v in params.items() if k in raised or k != "last"}
        if compared != raised:
            out[a.id] = PointsNow(e.points, e.first_day(tz), e.last_day(tz), days, params)
    return out


def current_notes(
    session: Session, alerts: Iterable[RetentionAlert], locale: str
) -> dict[int, str]:
    """Alert id → the "Now: …" line of each open or acknowledged ``points_expiring`` alert among
    ``alerts`` whose reason no longer matches the ledger."""
    return {k: v.text(locale) for k, v in current_states(session, alerts).items()}


SYSTEM_CLOSED = (POINTS_GONE_NOTE, POINTS_BELOW_NOTE, POINTS_MOVED_NOTE)


def follow_ledger(
    session: Session,
    rule: RetentionRule,
    candidates: Iterable[Candidate],
    *,
    customer_ids: list[int] | None,
    now: datetime,
) -> tuple[int, int]:
    """Make the ``points_expiring`` alerts (of ``customer_ids``, or all) follow the ledger at
    ``now``: close each open or acknowledged one whose cause the ledger no longer bears out,
    with a note saying why, and reopen one this closed whose cause the rule raises again
    (``candidates``, e.g. a reversed redemption gave the points back); an audit entry each.
    Returns (closed, reopened). Run by ``service.evaluate`` before it raises the rule's alerts,
    so a moved first expiry day leaves one open alert: the new day's."""
    closed = _close_gone(session, rule, customer_ids, now)
    return closed, _reopen_raised_again(session, candidates, now)


def _close_gone(
    session: Session, rule: RetentionRule, customer_ids: list[int] | None, now: datetime
) -> int:
    from retento.loyalty import ledger

    stmt = select(RetentionAlert.id, RetentionAlert.customer_id, RetentionAlert.cause_key).where(
        RetentionAlert.rule == RULE, RetentionAlert.status.in_(ACTIVE)
    )
    if customer_ids is not None:
        stmt = stmt.where(RetentionAlert.customer_id.in_(customer_ids))
    active = session.execute(stmt).all()
    if not active:
        return 0
    days = rule.window_days or DEFAULT_WINDOW
    found = ledger.expiring(
        session, {a.customer_id for a in active}, now, now + timedelta(days=days)
    )
    notes: dict[int, str] = {}
    for alert_id, customer_id, cause_key in active:
        e = found.get(customer_id)
        if e is None:
            notes[alert_id] = POINTS_GONE_NOTE
        elif e.points < rule.threshold:
            notes[alert_id] = POINTS_BELOW_NOTE
        elif points_cause_key(e) != cause_key:
            notes[alert_id] = POINTS_MOVED_NOTE

    def close(a: RetentionAlert) -> None:
        a.status, a.closed_at, a.close_note = "closed", now, notes[a.id]

    # Re-read under the lock: one an owner closed meanwhile is left as its closer left it.
    return _change(session, sorted(notes), RetentionAlert.status.in_(ACTIVE), close)


def _reopen_raised_again(session: Session, candidates: Iterable[Candidate], now: datetime) -> int:
    wanted = {(c.customer_id, c.cause_key) for c in candidates if c.rule == RULE}
    if not wanted:
        return 0
    # Only causes still ahead can be raised again: the few alerts about days not past yet.
    closed_by_us = (
        RetentionAlert.rule == RULE,
        RetentionAlert.status == "closed",
        RetentionAlert.closed_by_id.is_(None),
        RetentionAlert.close_note.in_(SYSTEM_CLOSED),
    )
    rows = session.execute(
        select(RetentionAlert.id, RetentionAlert.customer_id, RetentionAlert.cause_key).where(
            *closed_by_us, RetentionAlert.cause_key >= f"points:{now.date().isoformat()}"
        )
    ).all()
    ids = sorted(i for i, cid, key in rows if (cid, key) in wanted)

    def reopen(a: RetentionAlert) -> None:
        a.status, a.closed_at, a.close_note = "open", None, None

    return _change(session, ids, and_(*closed_by_us), reopen)


def _change(
    session: Session,
    ids: list[int],
    still: ColumnElement[bool],
    change: Callable[[RetentionAlert], None],
) -> int:
    """Apply ``change`` to the alerts ``ids`` that still match ``still``, locked in id order
    (an owner changing one meanwhile is waited for, not overwritten); an audit entry each."""
    n = 0
    for i in range(0, len(ids), 1000):
        alerts = session.scalars(
            lock_each(
                select(RetentionAlert)
                .where(RetentionAlert.id.in_(ids[i : i + 1000]), still)
                .order_by(RetentionAlert.id)
            )
        ).all()
        before = {a.id: snapshot(a) for a in alerts}
        for a in alerts:
            change(a)
        session.flush()
        for a in alerts:
            record(session, None, "update", "retention_alert", a.id, before[a.id], snapshot(a))
        n += len(alerts)
    return n
