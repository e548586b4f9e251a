"""E-mails sent to the customer on the customer timeline: subject, kind and status, at the time
they were queued. Only kinds registered as going to the customer (``register_kind(...,
to_customer=permission)``) are shown, each to readers with the sending domain's permission; an
e-mail to staff about the customer (a retention warning to the owner) is not the customer's
history.

This source lives here, not in ``mail``: the outbox is a lower layer that imports no domain
(``tests/core/test_layers.py``), while customers may read it (as ``service`` does). Registered
when the customers package is imported.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session

from retento.auth.permissions import can
from retento.customers.timeline import (
    TimelineEntry,
    TimelineSource,
    TimelineWindow,
    register_timeline_source,
)
from retento.mail.kinds import customer_kinds
from retento.mail.models import OutboxMessage
from retento.web.i18n import N_, translate
from retento.web.labels import label_msgid


@cache
def _statement(bounded: bool) -> Any:
    stmt = select(
        OutboxMessage.id,
        OutboxMessage.created_at,
        OutboxMessage.subject,
        OutboxMessage.kind,
        OutboxMessage.status,
        OutboxMessage.recipient,
    ).where(
        OutboxMessage.customer_id == bindparam("customer_id", type_=OutboxMessage.customer_id.type),
        OutboxMessage.kind.in_(bindparam("kinds", expanding=True)),
    )
    if bounded:
        stmt = stmt.where(
            OutboxMessage.created_at <= bindparam("until", type_=OutboxMessage.created_at.type)
        )
    return stmt.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(
        bindparam("limit", type_=Integer())
    )


def email_entries(
    session: Session, customer_id: int, window: TimelineWindow
) -> list[TimelineEntry]:
    """E-mails of the kinds the reader may see that went (or are going) to the customer."""
    from retento.mail import pages  # noqa: F401  (the status labels)

    kinds = sorted(k for k, perm in customer_kinds().items() if can(window.actor, perm))
    if not kinds:
        return []
    values: dict[str, Any] = {"customer_id": customer_id, "kinds": kinds, "limit": window.limit}
    if window.until is not None:
        values["until"] = window.until
    loc = window.locale
    # The outbox page (administrators) filtered to the address; no one else has a page for it.
    admin = can(window.actor, "mail:manage")
    out = []
    for r in session.execute(_statement(window.until is not None), values):
        text = translate(loc, N_("Email “%(subject)s”"), subject=r.subject)
        facts = (
            translate(loc, label_msgid("mail_kind", r.kind)),
            translate(loc, label_msgid("mail_status", r.status)),
        )
        href = f"/admin/mail?{urlencode({'recipient': r.recipient})}" if admin else None
        out.append(TimelineEntry(r.created_at, "email", text, href, facts, None, r.status))
    return out


register_timeline_source(
    TimelineSource(
        kind="email",
        label=N_("Emails"),
        load=email_entries,
        # Everyone who sees the customer; each kind is filtered by its own permission above.
        permission="customer:read",
        icon="✉",
        order=50,
    )
)
