"""The customer timeline as JSON (``GET /api/v1/customers/{id}/timeline``): the entries the
timeline page shows, in the same order and with the same texts, one cursor page at a time.

The page draws an order, a refund or a touchpoint (``insights.TimelineEvent``) with its
template; here each becomes a :class:`~retento.customers.timeline.TimelineEntry` with the same
words (headline, short facts, note), so both read alike in the reader's language.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.customers import service, timeline
from retento.customers.timeline import TimelineEntry
from retento.web.i18n import N_, Formatter, normalise_locale, translate
from retento.web.labels import label_msgid


class TimelineEntryRead(BaseModel):
    """One entry: when, which kind, the headline and its facts in the reader's language."""

    at: datetime
    kind: str = Field(description="order, refund, touchpoint or a registered kind: complaint, …")
    event: str | None = Field(
        None, description="Which event of the kind (a complaint's 'opened', a journal's 'earn' …)"
    )
    text: str = Field(description="The headline, as the timeline page shows it")
    href: str | None = Field(None, description="The web page of the record, when it has one")
    facts: list[str] = Field(default_factory=list, description="Short values after the headline")
    note: str | None = Field(None, description="A second line: a subject, a note, a reason")


class TimelinePageRead(BaseModel):
    """One page, newest first; ``next_cursor`` asks for the next (``null`` on the last page)."""

    items: list[TimelineEntryRead]
    limit: int
    next_cursor: str | None = None


def _label(locale: str, group: str, code: str | None) -> str:
    msgid = label_msgid(group, code)
    return translate(locale, msgid) if msgid else (code or "")


def core_entry(event: Any, locale: str, fmt: Formatter) -> TimelineEntry:
    """An order, refund or touchpoint worded as ``customers/_timeline_items.html`` words it."""
    if event.kind == "order":
        facts = (
            fmt.money(event.amount),
            _label(locale, "status", event.status),
            _label(locale, "channel", event.channel),
        )
        text = translate(locale, N_("Order #%(id)s"), id=event.id)
        return TimelineEntry(event.at, "order", text, f"/orders/{event.id}", facts, event.note)
    if event.kind == "refund":
        text = translate(locale, N_("Refund on order #%(id)s"), id=event.order_id)
        amount = -event.amount if event.amount is not None else None
        href = f"/orders/{event.order_id}"
        return TimelineEntry(event.at, "refund", text, href, (fmt.money(amount),), event.note)
    facts = tuple(
        _label(locale, group, code)
        for group, code in (
            ("stage", event.stage),
            ("direction", event.direction),
            ("outcome", event.outcome),
        )
    ) + ((event.owner,) if event.owner else ())
    text = _label(locale, "channel", event.channel)
    return TimelineEntry(event.at, "touchpoint", text, None, facts, event.note)


def timeline_page(
    session: Session,
    customer_id: int,
    *,
    actor: User,
    settings: Any,
    kind: str | None,
    cursor: str | None,
    limit: int,
) -> TimelinePageRead:
    """One page of the customer's timeline for ``actor`` in their language (404 for an unknown
    customer, 422 naming ``kind`` or ``cursor`` for one that is not)."""
    service.get_customer(session, customer_id, actor=actor)
    locale = normalise_locale(actor.locale)
    page = timeline.customer_timeline(
        session,
        customer_id,
        actor=actor,
        locale=locale,
        kind=(kind or "").strip() or None,
        limit=limit,
        cursor=timeline.Cursor.decode(cursor) if cursor and cursor.strip() else None,
    )
    fmt = Formatter(locale, settings.timezone, settings.currency)
    items = []
    for e in page.entries:
        entry = e if isinstance(e, TimelineEntry) else core_entry(e, locale, fmt)
        items.append(
            TimelineEntryRead(
                at=entry.at,
                kind=entry.kind,
                event=entry.event or None,
                text=entry.text,
                href=entry.href,
                facts=list(entry.facts),
                note=entry.note,
            )
        )
    nxt = page.next_cursor.encode() if page.next_cursor is not None else None
    return TimelinePageRead(items=items, limit=limit, next_cursor=nxt)
