"""Web page: Background work (administrators) — queued, running and finished work items with
their progress, and the scheduled jobs with who runs them and when they last ran."""

from __future__ import annotations

from datetime import UTC

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import can
from retento.core.db import utcnow
from retento.core.deps import DbSession
from retento.core.errors import Conflict
from retento.core.validation import DbId
from retento.web.i18n import N_
from retento.web.labels import register_labels, register_value_labels
from retento.web.nav import NavItem, register_nav
from retento.web.render import PageUser, error_text, flash, page_router, redirect, render, tr
from retento.work import leases, queue, service
from retento.work.models import WORK_STATUSES

router = page_router()

register_nav(NavItem("admin.work", N_("Background work"), "/admin/work", "work:read", 30, "admin"))

PAGE_SIZE = 50
STATUS_LABELS = {
    "queued": N_("In the queue"),
    "running": N_("Running"),
    "done": N_("Completed"),
    "failed": N_("Failed"),
}
# The audit log names a work item and its status ("Run again" is audited).
register_labels("entity", {"work_item": N_("Background work item")})
register_labels("work_status", STATUS_LABELS)
register_value_labels("work_item", {"status": "work_status"})
STATUS_BADGES = {
    "queued": "",
    "running": "badge-blue",
    "done": "badge-green",
    "failed": "badge-red",
}
# Stages every kind passes through; each kind names its own (``work_kind(stages=...)``): this
# layer knows no domain's vocabulary.
STAGE_LABELS = {
    "queued": N_("Waiting to start"),
    "done": N_("Finishing"),
}


# A running item's runner writes a heartbeat every HEARTBEAT_SECONDS; three missed ones say
# that its process has probably stopped (killed, its host down) long before WORK_STALE_SECONDS
# queue it again, so the page says so instead of showing a progress bar that only looks stuck.
SILENT_AFTER = 3 * queue.HEARTBEAT_SECONDS


def item_view(item) -> dict:
    """An item as a row of a page: its kind and stage labels (msgids), what it works on in
    words (a msgid and its parameters), percent done, and for a running item whose process
    sent no heartbeat lately, how many seconds ago its last one was."""
    stage, fraction = queue.progress_of(item)
    kind = queue.KINDS.get(item.kind)
    silent = None
    if item.status == "running" and item.heartbeat_at is not None:
        beat = (
            item.heartbeat_at if item.heartbeat_at.tzinfo else item.heartbeat_at.replace(tzinfo=UTC)
        )
        age = (utcnow() - beat).total_seconds()
        silent = int(age) if age > SILENT_AFTER else None
    return {
        "silent_seconds": silent,
        "item": item,
        # what the item works on, in words ("Win-back cases 405–1107"), or None: the raw ref
        "ref_words": queue.ref_words(item.ref),
        "retry_safe": bool(kind and kind.retry_safe),
        "kind_label": kind.label if kind else item.kind,
        "stage_label": (kind.stages.get(stage or "") if kind else None)
        or STAGE_LABELS.get(stage or "", stage or ""),
        "percent": None if fraction is None else int(round(fraction * 100)),
    }


@router.get("/admin/work")
def work_list(
    request: Request, session: DbSession, user: PageUser, status: str = "", offset: int = 0
) -> Response:
    """The work queue (polled every 2 s while something is queued or running)."""
    queue.load_kinds()  # imports the domains' job modules, which register the jobs' labels too
    status = status if status in WORK_STATUSES else ""
    offset = max(offset, 0)
    rows, _ = service.list_items(
        session, actor=user, status=status or None, limit=PAGE_SIZE + 1, offset=offset
    )
    counts = service.counts(session, actor=user)
    ctx = {
        "rows": [item_view(r) for r in rows[:PAGE_SIZE]],
        "has_next": len(rows) > PAGE_SIZE,
        "offset": offset,
        "limit": PAGE_SIZE,
        "status": status,
        "counts": counts,
        "busy": counts["queued"] + counts["running"] > 0,
        "statuses": [(s, STATUS_LABELS[s]) for s in WORK_STATUSES],
        "badges": STATUS_BADGES,
        "status_labels": STATUS_LABELS,
        # (lease row, its label msgid or None for a job this version no longer registers)
        "leases": [
            (j, leases.LABELS.get(j.name)) for j in service.list_leases(session, actor=user)
        ],
        "run_in_web": request.app.state.settings.run_work_in_web,
        "stale_seconds": request.app.state.settings.work_stale_seconds,
        "may_retry": can(user, "work:retry"),
    }
    if request.headers.get("hx-target") == "work-results":
        return render(request, "work/_results.html", **ctx)
    return render(request, "work/list.html", **ctx)


@router.post("/admin/work/{item_id:int}/retry")
def retry(request: Request, session: DbSession, user: PageUser, item_id: DbId) -> Response:
    """Run a failed item again (kinds safe to repeat); a second click finds it queued."""
    queue.load_kinds()
    try:
        item = service.retry_item(session, item_id, actor=user)
    except Conflict as exc:
        session.rollback()
        flash(request, error_text(request, exc.message), "error")
        return redirect(request, "/admin/work")
    kind = queue.KINDS.get(item.kind)
    flash(request, tr(request, "%(work)s is queued again.", work=tr(request, kind.label)))
    return redirect(request, "/admin/work")
