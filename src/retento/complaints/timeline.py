"""Complaints on the customer timeline: each complaint when it was received (category, severity,
status now) and each change of its status (resolved, closed, reopened ...) with its time.

Read from the complaint's own timeline rows (``complaint_events`` of kind ``created`` and
``transition``), so a complaint reopened after it was closed shows both. Registered with
``retento.customers.timeline`` when the package is imported.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session

from retento.complaints.models import Complaint, ComplaintCategory, ComplaintEvent
from retento.customers.timeline import (
    TimelineEntry,
    TimelineSource,
    TimelineWindow,
    register_timeline_source,
)
from retento.web.i18n import N_, translate
from retento.web.labels import label_msgid


@cache
def _statement(bounded: bool) -> Any:
    stmt = (
        select(
            ComplaintEvent.id,
            ComplaintEvent.at,
            ComplaintEvent.kind,
            ComplaintEvent.data,
            Complaint.id.label("complaint_id"),
            Complaint.tracking_code,
            Complaint.subject,
            Complaint.kind.label("complaint_kind"),
            Complaint.severity,
            Complaint.status,
            ComplaintCategory.name.label("category"),
            ComplaintCategory.name_zh.label("category_zh"),
        )
        .join(Complaint, Complaint.id == ComplaintEvent.complaint_id)
        .join(ComplaintCategory, ComplaintCategory.id == Complaint.category_id)
        .where(
            ComplaintEvent.customer_id
            == bindparam("customer_id", type_=ComplaintEvent.customer_id.type),
            ComplaintEvent.kind.in_(("created", "transition")),
        )
    )
    if bounded:
        stmt = stmt.where(ComplaintEvent.at <= bindparam("until", type_=ComplaintEvent.at.type))
    return stmt.order_by(ComplaintEvent.at.desc(), ComplaintEvent.id.desc()).limit(
        bindparam("limit", type_=Integer())
    )


def complaint_entries(
    session: Session, customer_id: int, window: TimelineWindow
) -> list[TimelineEntry]:
    """The customer's complaints received and their status changes, newest first."""
    from retento.complaints.pages import labels  # noqa: F401  (status and severity labels)

    loc = window.locale
    values: dict[str, Any] = {"customer_id": customer_id, "limit": window.limit}
    if window.until is not None:
        values["until"] = window.until
    out = []
    for r in session.execute(_statement(window.until is not None), values):
        href = f"/complaints/{r.complaint_id}"
        status = translate(loc, label_msgid("complaint_status", r.status))
        if r.kind == "created":
            grumble = r.complaint_kind == "grumble"
            msgid = (
                N_("Grumble %(code)s received") if grumble else N_("Complaint %(code)s received")
            )
            category = r.category_zh if loc.startswith("zh") and r.category_zh else r.category
            facts = (
                category,
                translate(
                    loc,
                    N_("Severity: %(severity)s"),
                    severity=translate(loc, label_msgid("severity", str(r.severity))),
                ),
                translate(loc, N_("now %(status)s"), status=status),
            )
            text = translate(loc, msgid, code=r.tracking_code)
            out.append(TimelineEntry(r.at, "complaint", text, href, facts, r.subject, "opened"))
            continue
        to = (r.data or {}).get("to")
        text = translate(
            loc,
            N_("Complaint %(code)s: %(status)s"),
            code=r.tracking_code,
            status=translate(loc, label_msgid("complaint_status", to)),
        )
        out.append(TimelineEntry(r.at, "complaint", text, href, (), r.subject, str(to or "")))
    return out


register_timeline_source(
    TimelineSource(
        kind="complaint",
        label=N_("Complaints"),
        load=complaint_entries,
        permission="complaint:read",
        icon="!",
        order=10,
    )
)
