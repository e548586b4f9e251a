"""The agent queue (tabs, filters, SLA colours, paging) and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from retento.auth.models import User
from retento.auth.permissions import base_role, require
from retento.complaints import queries, transfer, workflow
from retento.complaints.models import (
    CHANNELS,
    KINDS,
    SEVERITIES,
)
from retento.complaints.pages.common import (
    category_options,
    opts,
    sla_flag,
)
from retento.core.db import utcnow
from retento.core.deps import DbSession
from retento.core.errors import FieldError, InvalidInput
from retento.core.validation import is_id, offset_from_text
from retento.web.i18n import N_
from retento.web.render import (
    PageUser,
    is_htmx,
    page_router,
    render,
    tr,
)

router = page_router()


PAGE_SIZE = 50
TABS = (
    ("mine", N_("Mine")),
    ("team", N_("My team")),
    ("soon", N_("Breaching soon")),
    ("open", N_("All open")),
)
SORT_OPTIONS = (
    ("due", N_("Due soonest")),
    ("-due", N_("Due latest")),
    ("-received_at", N_("Newest first")),
    ("received_at", N_("Oldest first")),
    ("-severity", N_("Most severe first")),
)
SORTS = {code for code, _ in SORT_OPTIONS}
SOON_HOURS = 4


# --- queue -------------------------------------------------------------------------------------


def _queue_filters(
    request: Request, user: User
) -> tuple[dict[str, Any], dict[str, str], list[FieldError]]:
    """Service filters, echoed values and problems, from the query string."""
    qp = request.query_params
    raw = {
        k: qp.get(k, "").strip()
        for k in ("tab", "status", "severity", "category", "channel", "kind", "q", "sort")
    }
    problems: list[FieldError] = []
    filters: dict[str, Any] = {}
    if raw["tab"] not in {t for t, _ in TABS}:
        # An agent (or a custom role working like one) starts on their own complaints.
        raw["tab"] = "mine" if base_role(user.role) == "agent" else "open"
    if raw["tab"] == "mine":
        filters["mine_for"] = user
    elif raw["tab"] == "team":
        filters["team_for"] = user
    elif raw["tab"] == "soon":
        from datetime import timedelta

        filters["breaching_soon"] = utcnow() + timedelta(hours=SOON_HOURS)
    if not raw["status"] and raw["tab"] != "soon":
        filters["open_only"] = True
    if raw["status"]:
        if raw["status"] in workflow.STATES:
            filters["status"] = raw["status"]
        else:
            problems.append(FieldError("status", tr(request, "Choose one of the listed values.")))
    if raw["severity"]:
        if raw["severity"] in {str(s) for s in SEVERITIES}:
            filters["severity"] = int(raw["severity"])
        else:
            problems.append(FieldError("severity", tr(request, "Choose one of the listed values.")))
    if raw["category"]:
        if is_id(raw["category"]):
            filters["category_id"] = int(raw["category"])
        else:
            problems.append(FieldError("category", tr(request, "Choose one of the listed values.")))
    # Values that are not among the form's choices are named, not dropped (a dropped filter
    # would show every complaint under the filter's heading).
    for key, allowed in (("channel", CHANNELS), ("kind", KINDS)):
        if raw[key] in allowed:
            filters[key] = raw[key]
        elif raw[key]:
            problems.append(FieldError(key, tr(request, "Choose one of the listed values.")))
    if raw["q"]:
        filters["q"] = raw["q"][:64]
    if raw["sort"] and raw["sort"] not in SORTS:
        problems.append(FieldError("sort", tr(request, "Choose one of the listed orders.")))
    if raw["sort"] not in SORTS:
        raw["sort"] = "due"
    return filters, raw, problems


def page_offset(request: Request) -> int:
    value = request.query_params.get("offset", "0")
    return offset_from_text(value)


@router.get("/complaints")
def complaint_queue(request: Request, session: DbSession, user: PageUser) -> Response:
    """The agent queue: tabs, filters, sorting by due time, SLA colours, paging."""
    filters, raw, problems = _queue_filters(request, user)
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
    offset = page_offset(request)
    rows, _ = queries.list_complaints(
        session,
        actor=user,
        sort=raw["sort"],
        limit=PAGE_SIZE + 1,
        offset=offset,
        count=False,
        with_people=True,
        **filters,
    )
    now = utcnow()
    query = ("?" + request.url.query) if request.url.query else ""
    ctx = {
        "rows": [(c, sla_flag(c, now)) for c in rows[:PAGE_SIZE]],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        "export_url": "/complaints/export.csv" + query,
    }
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "complaints/_queue.html", **ctx)
    return render(
        request,
        "complaints/queue.html",
        tabs=[(code, tr(request, msgid)) for code, msgid in TABS],
        statuses=opts(request, "complaint_status", workflow.STATES),
        severities=opts(request, "severity", SEVERITIES),
        categories=category_options(request, session, user),
        channels=opts(request, "complaint_channel", CHANNELS),
        kinds=opts(request, "complaint_kind", KINDS),
        sorts=[(code, tr(request, msgid)) for code, msgid in SORT_OPTIONS],
        **ctx,
    )


@router.get("/complaints/export.csv")
def complaint_export(request: Request, session: DbSession, user: PageUser) -> Response:
    """The queue's complaints as CSV (the import/export format), streamed."""
    require(user, "data:export")
    filters, _, problems = _queue_filters(request, user)
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, errors=problems)
    user_id = user.id
    factory = request.app.state.session_factory

    def body() -> Iterator[str]:
        # The stream outlives the request's session, so it reads through its own.
        s = factory()
        try:
            actor = s.get(User, user_id)
            given = dict(filters)
            for key in ("mine_for", "team_for"):
                if key in given:
                    given[key] = actor
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=list(transfer.EXPORT_COLUMNS))
            buf.write("\ufeff")
            writer.writeheader()
            for n, row in enumerate(transfer.export_rows(s, actor=actor, **given), start=1):
                writer.writerow(row)
                if n % 500 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()
        finally:
            s.close()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="complaints.csv"'},
    )
