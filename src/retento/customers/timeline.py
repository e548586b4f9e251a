"""The customer timeline: orders, refunds and touchpoints (``insights.timeline``) merged with
what the other domains register (complaints, survey responses, loyalty activity, retention
alerts and win-back work, e-mails sent), newest first, one page at a time.

The customers domain never imports those domains: each registers a source when its package is
imported (at start-up, with the models), as loyalty registers its privacy export::

    from retento.customers.timeline import TimelineSource, register_timeline_source

    register_timeline_source(TimelineSource(kind="complaint", label=N_("Complaints"),
                                            load=complaint_entries, permission="complaint:read"))

``load(session, customer_id, window)`` returns at most ``window.limit`` entries of that
customer, newest first, only those with ``at <= window.until`` when ``until`` is given (the
bound is inclusive: see ``Cursor``), each with its text already in ``window.locale``. Entries
the source returns must be in one deterministic order (``at`` descending, then something unique),
so a page boundary inside a run of equal times is found again on the next request. A source
reads with one or two bounded queries (``LIMIT window.limit``), never one query per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.errors import InvalidInput, Msg
from retento.web.i18n import N_
from retento.web.system_texts import localize_system_text

# The kinds the 360 statement itself reads (customers.insights), with what a reader needs.
CORE_KINDS: dict[str, tuple[str, str]] = {
    "order": (N_("Orders"), "order:read"),
    "refund": (N_("Refunds"), "order:read"),
    "touchpoint": (N_("Touchpoints"), "touchpoint:read"),
}
MAX_LIMIT = 200


@dataclass(frozen=True)
class TimelineEntry:
    """One line a registered source gives: when, what (in the reader's language), where to go.

    ``text`` is the headline (linked to ``href`` when there is one), ``facts`` short coded
    values shown after it (" · " between them), ``note`` a muted second line (a subject, a
    reason typed by someone, shown as stored)."""

    at: datetime
    kind: str
    text: str
    href: str | None = None
    facts: tuple[str, ...] = ()
    note: str | None = None
    # Tells apart entries of one source (kinds of event) for styling: "opened", "closed" ...
    event: str = ""


@dataclass(frozen=True)
class TimelineWindow:
    """What a source is asked for: ``limit`` entries at or before ``until``, for ``actor``."""

    actor: User
    locale: str
    limit: int
    until: datetime | None = None


SourceLoader = Callable[[Session, int, TimelineWindow], Sequence[TimelineEntry]]


def newest_first(
    keyed: list[tuple[datetime, int, int, TimelineEntry]], limit: int
) -> list[TimelineEntry]:
    """A source's entries from several of its tables, newest first and at most ``limit``.

    Each item is ``(at, rank, id, entry)``: at one instant a lower ``rank`` (the table's
    place) comes first, then the higher id, so ties are ordered the same on every page."""
    keyed.sort(key=lambda k: (k[0], -k[1], k[2]), reverse=True)
    return [k[3] for k in keyed[:limit]]


@dataclass(frozen=True)
class TimelineSource:
    """A domain's contribution; users without ``permission`` never see (or query) it."""

    kind: str
    label: str  # message id: the kind filter's option and the entry's dot title
    load: SourceLoader
    permission: str
    icon: str = "·"
    order: int = 100


_SOURCES: dict[str, TimelineSource] = {}


def register_timeline_source(source: TimelineSource) -> None:
    """Add (or replace, by kind) a timeline source."""
    if source.kind in CORE_KINDS:
        raise ValueError(Msg("The timeline kind %(kind)s is built in.", kind=repr(source.kind)))
    _SOURCES[source.kind] = source


def timeline_sources() -> list[TimelineSource]:
    """Registered sources in display order (the kind filter's order)."""
    return sorted(_SOURCES.values(), key=lambda s: (s.order, s.kind))


def visible_kinds(actor: User) -> list[tuple[str, str]]:
    """``(kind, label msgid)`` of every kind ``actor`` may see on a timeline."""
    out = [(k, label) for k, (label, perm) in CORE_KINDS.items() if can(actor, perm)]
    out += [(s.kind, s.label) for s in timeline_sources() if can(actor, s.permission)]
    return out


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the time of its last entry and how many entries at exactly that
    time were shown so far (times can repeat, e.g. orders imported with a date only).

    The next page asks every source for entries at or before ``at`` and drops the first
    ``seen`` of the merged list, which are the ones already shown: the merge order is fixed."""

    at: datetime
    seen: int

    def encode(self) -> str:
        return f"{self.at.astimezone(UTC).isoformat()}~{self.seen}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse ``encode``'s output; anything else is a 422 naming ``cursor``."""
        try:
            at_text, _, seen_text = text.strip().rpartition("~")
            at = datetime.fromisoformat(at_text)
            seen = int(seen_text)
            if at.tzinfo is not None:
                at = at.astimezone(UTC)  # year 1 or 9999 with an offset leaves the calendar
        except (ValueError, OverflowError):
            raise InvalidInput(
                Msg("'%(value)s' is not a timeline position.", value=text[:40]), field="cursor"
            ) from None
        if at.tzinfo is None or not 0 <= seen <= 10_000:
            raise InvalidInput(
                Msg("'%(value)s' is not a timeline position.", value=text[:40]), field="cursor"
            )
        return cls(at.astimezone(UTC), seen)


@dataclass
class TimelinePage:
    """One page of the merged timeline and the cursor of the next (``None`` on the last)."""

    entries: list[Any] = field(default_factory=list)
    next_cursor: Cursor | None = None


def check_kind(actor: User, kind: str | None) -> str | None:
    """``kind`` when it is one ``actor`` may see, ``None`` for all; else a 422 naming ``kind``."""
    if not kind:
        return None
    if kind not in {k for k, _ in visible_kinds(actor)}:
        raise InvalidInput(Msg("Unknown kind '%(kind)s'.", kind=kind[:40]), field="kind")
    return kind


def customer_timeline(
    session: Session,
    customer_id: int,
    *,
    actor: User,
    locale: str,
    kind: str | None = None,
    limit: int = 50,
    cursor: Cursor | None = None,
) -> TimelinePage:
    """One page of everything that happened with the customer that ``actor`` may see.

    Each source is asked for at most ``limit + seen + 1`` entries (the extra one tells whether
    there is a next page): a customer's thousands of rows cost a few bounded queries per page.
    """
    from retento.customers import insights

    require(actor, "customer:read")
    kind = check_kind(actor, kind)
    limit = max(1, min(limit, MAX_LIMIT))
    seen = cursor.seen if cursor is not None else 0
    until = cursor.at if cursor is not None else None
    want = limit + seen + 1
    lists: list[Sequence[Any]] = []
    core = [
        k for k, (_label, perm) in CORE_KINDS.items() if (kind in (None, k)) and can(actor, perm)
    ]
    if core:
        events = insights.core_events(session, customer_id, core, limit=want, until=until)
        lists.append([_localized(session, e, locale) for e in events])
    window = TimelineWindow(actor=actor, locale=locale, limit=want, until=until)
    for source in timeline_sources():
        if kind not in (None, source.kind) or not can(actor, source.permission):
            continue
        lists.append(source.load(session, customer_id, window))
    # Sort by time (newest first), then by source, then by the source's own order: a stable,
    # repeatable order, so the cursor's ``seen`` drops exactly the entries already shown.
    merged = sorted(
        ((e.at, -rank, -i, e) for rank, rows in enumerate(lists) for i, e in enumerate(rows)),
        key=lambda t: t[:3],
        reverse=True,
    )
    entries = [t[3] for t in merged[seen:]]
    page = TimelinePage(entries=entries[:limit])
    if len(entries) > limit and page.entries:
        last = page.entries[-1].at
        same = sum(1 for e in page.entries if e.at == last)
        if until is not None and last == until:
            same += seen
        page.next_cursor = Cursor(last, same)
    return page


def _localized(session: Session, event: Any, locale: str) -> Any:
    """A touchpoint whose note the system wrote (a tier change's) with the note in ``locale``."""
    if event.kind != "touchpoint" or not event.note:
        return event
    note = localize_system_text(locale, event.note, session, field="touchpoint.note")
    return event if note == event.note else replace(event, note=note)
