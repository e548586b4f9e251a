"""The owner's task list: my open win-back tasks by due date with the suggested script; mark one
done with its outcome (reached, offer accepted, not reached, declined) or cancel it. Managers may
look at another owner's list."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.auth.service import assignable_user_choices
from retento.core.db import utcnow
from retento.core.deps import DbSession
from retento.core.errors import RetentoError
from retento.core.validation import DbId
from retento.customers.models import Customer
from retento.retention import reasons, tasks
from retento.retention.consent import phone_notices
from retento.retention.models import TASK_RESULTS, TASK_STATUSES
from retento.retention.pages_common import (
    PAGE_SIZE,
    choice,
    id_param,
    offset_of,
    raise_problems,
    tab_counts,
)
from retento.web.conflict import STALE, form_version
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.labels import LABELS, label_msgid
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)

router = page_router()


def _filters(request: Request, user: User) -> tuple[dict[str, Any], dict[str, str]]:
    qp = request.query_params
    raw = {k: qp.get(k, "").strip() for k in ("status", "owner")}
    problems: list = []
    status = choice(
        raw["status"], TASK_STATUSES, "status", problems,
        label=N_("Status"), labels=LABELS.get("task_status"),
    ) or "open"  # fmt: skip
    owner_id = id_param(raw["owner"], "owner", problems, label=N_("Owner")) or user.id
    raise_problems(problems)
    if owner_id != user.id:
        require(user, "retention:manage")
    return {"status": status, "owner_id": owner_id}, {"status": status, "owner": str(owner_id)}


def _page(request: Request, session: Session, user: User, errors=None, status_code=200):
    require(user, "retention:work")
    filters, raw = _filters(request, user)
    offset = offset_of(request)
    stmt = tasks.task_query(**filters)
    rows = list(session.scalars(stmt.limit(PAGE_SIZE + 1).offset(offset)))
    rows, has_next = rows[:PAGE_SIZE], len(rows) > PAGE_SIZE
    ids = {t.customer_id for t in rows}
    names = (
        dict(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all())
        if ids
        else {}
    )
    offers = _offers(request, session, rows)
    # Title and script from the playbook in the reader's language (stored in the owner's).
    locale = request_locale(request)
    texts = tasks.display_texts(session, rows, locale)
    # A task of a settled case is not offered "Reopen" (the service refuses it: 409).
    settled = tasks.settled_cases(session, [t for t in rows if t.status != "open"])
    today = utcnow().astimezone(ZoneInfo(request.app.state.settings.timezone)).date()
    # What the owner typed into a task's form that was refused (``_keep``): shown again.
    kept = request.session.pop(KEPT, None) if "session" in request.scope else None
    ctx = {
        "kept": kept if isinstance(kept, dict) else {},
        "rows": rows,
        "names": names,
        "offers": offers,
        "texts": texts,
        # A note the system wrote (the task closed because its case settled) in the reader's
        # language; the owner's own note as typed.
        "notes": {t.id: reasons.system_note(t.note, locale) for t in rows if t.note},
        "settled": settled,
        # Open tasks of customers who have not agreed to phone calls: "do not call" (consent.py).
        "phone": phone_notices(session, rows, locale),
        "has_next": has_next,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        "today": today,
        "results": [(r, tr(request, label_msgid("task_result", r))) for r in TASK_RESULTS],
        "statuses": [(s, tr(request, label_msgid("task_status", s))) for s in TASK_STATUSES],
        "owners": assignable_user_choices(session) if can(user, "retention:manage") else [],
        "may_work": can(user, "retention:work"),
        "errors": errors or {},
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    ctx["counts"] = tab_counts(session, user)
    return render(request, "retention/tasks.html", status_code=status_code, **ctx)


def _offers(request: Request, session: Session, rows: list) -> dict[int, str]:
    """Per task of an offer case: what the loyalty offer did, in the reader's language."""
    from retento.retention.models import RetentionCase
    from retento.retention.offers import offer_state

    case_ids = {t.case_id for t in rows if t.kind == "offer" and t.case_id}
    if not case_ids:
        return {}
    notes = dict(
        session.execute(
            select(RetentionCase.id, RetentionCase.note).where(RetentionCase.id.in_(case_ids))
        ).all()
    )
    texts = {
        "posted": N_("%(n)s bonus points posted to the loyalty account"),
        "not_member": N_("Not a loyalty member: no points posted; make the offer another way"),
        "inactive": N_("The loyalty programme is not active: no points posted"),
    }
    out: dict[int, str] = {}
    for t in rows:
        state = offer_state(notes.get(t.case_id)) if t.case_id in notes else None
        if state is not None:
            out[t.id] = tr(request, texts[state[0]], n=state[1])
    from retento.retention.offers import voucher_texts

    for t_id, text in voucher_texts(request, session, rows, notes).items():
        out[t_id] = f"{out[t_id]}; {text}" if t_id in out else text
    return out


@router.get("/retention/tasks")
def my_tasks(request: Request, session: DbSession, user: PageUser) -> Response:
    """My open win-back tasks, earliest due first."""
    return _page(request, session, user)


KEPT = "retention_task_form"


def _keep(request: Request, task_id: int, result: str | None, note: str | None) -> None:
    """Keep a refused form's outcome and note for the page it returns to (a redirect), so the
    owner does not type the note again."""
    request.session[KEPT] = {"id": task_id, "result": result or "", "note": (note or "")[:5000]}


def _back(form) -> str:
    url = str(form.get("back") or "")
    return url if url.startswith("/retention/tasks") and "//" not in url else "/retention/tasks"


@router.post("/retention/tasks/{task_id:int}/status")
def task_status(
    request: Request, form: PageForm, session: DbSession, user: PageUser, task_id: DbId
) -> Response:
    """Mark a task done with its outcome, cancel it or reopen it."""
    require(user, "retention:work")
    status = str(form.get("status") or "")
    result = str(form.get("result") or "").strip() or None
    note = str(form.get("note") or "").strip() or None
    sp = session.begin_nested()
    try:
        task = tasks.set_task_status(
            session,
            task_id,
            status,
            actor=user,
            result=result if status == "done" else None,
            note=note,
            version=form_version(form),
        )
    except STALE:
        sp.rollback()
        _keep(request, task_id, result, note)
        flash(
            request,
            tr(
                request, "Someone else changed this task in the meantime; it is shown as it is now."
            ),
            "error",
        )
        return redirect(request, _back(form))
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        _keep(request, task_id, result, note)
        if exc.field == "result":
            msg = tr(request, "Choose what happened before marking the task done.")
        else:
            msg = tr(request, "Not done: %(reason)s", reason=error_text(request, exc.message))
        flash(request, msg, "error")
        return redirect(request, _back(form))
    messages = {
        "done": N_("Task done: %(title)s"),
        "cancelled": N_("Task cancelled: %(title)s"),
        "open": N_("Task reopened: %(title)s"),
    }
    title = tasks.display_title(session, task, request_locale(request))
    flash(request, tr(request, messages[task.status], title=title))
    return redirect(request, _back(form))
