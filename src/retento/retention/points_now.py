"""What a "points expiring" alert says now: the ledger's current count beside the raised one.

A ``points_expiring`` alert keeps the reason it was raised with (points and first expiry day):
it is the record of why someone was asked to act. But the points can change after that: the
member spends some (earliest expiry first, so the first date moves), a reversed redemption
gives points back, the date passes and the lots expire. A retention manager about to phone the
customer needs the truth now, so wherever an open (or acknowledged) alert is listed for someone
to act on (the customer's 360 box, the alert inbox) a second line says what the loyalty ledger
says now, counted by the same function as the member card (``ledger.expiring``, the rule's
window): "Now: 150 loyalty points expire unused on …", or that nothing expires within the
window any more. When nothing changed there is no second line. Closed alerts and the timeline
stay as raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.core.config import get_settings
from retento.core.db import utcnow
from retento.retention.models import RetentionAlert, RetentionRule
from retento.retention.reasons import render_reason
from retento.retention.rules import points_params
from retento.web.i18n import N_, gettext

RULE = "points_expiring"
ACTIVE = ("open", "acknowledged")
NOW_TEXT = N_("Now: %(reason)s")
NOTHING_NOW = N_("Now: no loyalty points expire within %(days)s days")
COMPARED = ("points", "date", "last")


def current_notes(
    session: Session, alerts: Iterable[RetentionAlert], locale: str
) -> dict[int, str]:
    """Alert id → the "Now: …" line of each open or acknowledged ``points_expiring`` alert among
    ``alerts`` whose reason no longer matches the ledger (one query for all of them)."""
    from retento.loyalty import ledger

    due = [a for a in alerts if a.rule == RULE and a.status in ACTIVE]
    if not due:
        return {}
    days = session.scalar(select(RetentionRule.window_days).where(RetentionRule.code == RULE))
    days = days or 30
    now = utcnow()
    found = ledger.expiring(session, {a.customer_id for a in due}, now, now + timedelta(days=days))
    tz = ZoneInfo(get_settings().timezone)
    out: dict[int, str] = {}
    for a in due:
        e = found.get(a.customer_id)
        if e is None:
            out[a.id] = gettext(locale, NOTHING_NOW) % {"days": days}
            continue
        params = points_params(e, tz)
        raised = {k: v for k, v in (a.reason_params or {}).items() if k in COMPARED}
        # An alert raised before reasons stored the last day (``last``) named the first day
        # only: the same points and first day are no change.
        compared = {k: v for k, v in params.items() if k in raised or k != "last"}
        if compared != raised:
            reason = render_reason(RULE, params, locale)
            out[a.id] = gettext(locale, NOW_TEXT) % {"reason": reason}
    return out
