"""The alerts inbox: open alerts (mine, or all for managers and analysts), acknowledge, close,
apply a playbook. Every change goes through ``retention.service`` / ``retention.playbooks``
(locked, versioned); a stale button press is refused with a message, nothing half-written."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from retento.auth.models import User
from retento.auth.permissions import acts_on_own, base_role, can, require
from retento.core.deps import DbSession
from retento.core.errors import Forbidden, InvalidInput, Msg, NotFound, RetentoError
from retento.core.validation import DbId, id_from_text
from retento.customers.models import Customer
from retento.retention import apply_jobs, playbook_apply, playbooks, reasons, service
from retento.retention.models import (
    ALERT_STATUSES,
    CLASSES,
    RULE_CODES,
    SEVERITIES,
    RetentionAlert,
    RetentionCase,
    RetentionOpenCase,
)
from retento.retention.pages_common import PAGE_SIZE, choice, offset_of, raise_problems, tab_counts
from retento.retention.points_now import current_notes
from retento.web.conflict import STALE, form_version
from retento.web.forms import PageForm
from retento.web.i18n import N_
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    is_htmx,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
    tr_count,
)
from retento.work.queue import run_in_web

router = page_router()

ACTIVE = "active"  # open or acknowledged: what still needs someone
STATUS_OPTIONS = (
    (ACTIVE, N_("Open or acknowledged")),
    ("open", N_("Open")),
    ("acknowledged", N_("Acknowledged")),
    ("closed", N_("Closed")),
)
SCOPE_NAMES = {"mine": N_("My alerts"), "all": N_("All alerts")}
SEVERITY_BADGE = {"high": "badge-red", "medium": "badge-amber", "low": "badge-blue"}


def sees_all(user: User) -> bool:
    """Managers, admins and analysts may look at everybody's alerts; agents see their own."""
    return not acts_on_own(user)


def _filters(request: Request, user: User) -> tuple[dict[str, Any], dict[str, str]]:
    qp = request.query_params
    raw = {k: qp.get(k, "").strip() for k in ("scope", "status", "rule", "class", "severity")}
    problems: list = []
    scope = choice(
        raw["scope"], ("mine", "all"), "scope", problems, label=N_("Whose"), labels=SCOPE_NAMES
    )
    # Agents (and custom roles working like one) start on their own alerts; whoever may see
    # everybody's otherwise starts on all of them.
    scope = scope or ("all" if sees_all(user) and base_role(user.role) != "agent" else "mine")
    if scope == "all" and not sees_all(user):
        scope = "mine"
    status = choice(
        raw["status"], (ACTIVE, *ALERT_STATUSES), "status", problems,
        label=N_("Status"), labels=dict(STATUS_OPTIONS),
    ) or ACTIVE  # fmt: skip
    filters: dict[str, Any] = {
        "rule": choice(
            raw["rule"],
            RULE_CODES,
            "rule",
            problems,
            label=N_("Reason"),
            labels=reasons.RULE_NAMES,
        ),
        "value_class": choice(
            raw["class"],
            CLASSES,
            "class",
            problems,
            label=N_("Customer class"),
            labels=reasons.CLASS_NAMES,
        ),
        "severity": choice(
            raw["severity"],
            SEVERITIES,
            "severity",
            problems,
            label=N_("Severity"),
            labels=reasons.SEVERITY_NAMES,
        ),
        "status": None if status == ACTIVE else status,
        "owner_id": user.id if scope == "mine" else None,
    }
    raise_problems(problems)
    raw |= {"scope": scope, "status": status}
    return filters, raw


def _query(filters: dict[str, Any], active: bool):
    stmt = service.alert_query(**filters)
    if active:
        stmt = stmt.where(RetentionAlert.status.in_(("open", "acknowledged")))
    return stmt


def _page(session: Session, stmt, offset: int) -> tuple[list[RetentionAlert], bool]:
    rows = list(session.scalars(stmt.limit(PAGE_SIZE + 1).offset(offset)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def _names(session: Session, model, ids: set[int], *cols) -> dict[int, Any]:
    if not ids:
        return {}
    return {r[0]: r[1:] for r in session.execute(select(model.id, *cols).where(model.id.in_(ids)))}


def _context(request: Request, session: Session, user: User) -> dict[str, Any]:
    require(user, "retention:read")
    filters, raw = _filters(request, user)
    offset = offset_of(request)
    rows, has_next = _page(session, _query(filters, raw["status"] == ACTIVE), offset)
    customers = _names(session, Customer, {a.customer_id for a in rows}, Customer.name)
    owners = _names(
        session, User, {a.owner_id for a in rows if a.owner_id}, User.display_name, User.username
    )
    cases = {
        c.alert_id: c
        for c in session.scalars(
            select(RetentionCase).where(RetentionCase.alert_id.in_([a.id for a in rows]))
        )
    }
    # Customers with an open win-back case (from another alert): applying a playbook to them
    # is refused (one case per customer), so the row says so instead of offering it.
    open_cases = set(
        session.scalars(
            select(RetentionOpenCase.customer_id).where(
                RetentionOpenCase.customer_id.in_({a.customer_id for a in rows})
            )
        )
    )
    locale = request_locale(request)
    return {
        "rows": rows,
        "open_cases": open_cases,
        "has_next": has_next,
        "offset": offset,
        "limit": PAGE_SIZE,
        "f": raw,
        "customers": {k: v[0] for k, v in customers.items()},
        "owners": {k: (v[0] or v[1]) for k, v in owners.items()},
        "cases": cases,
        "reason": lambda a: reasons.render_reason(
            a.reason_code, a.reason_params, locale, request.app.state.settings.currency
        ),
        # Points-expiring alerts whose points changed since: what the ledger says now.
        "reason_now": current_notes(session, rows, locale),
        "class_name": lambda c: reasons.label(reasons.CLASS_NAMES, c, locale),
        "severity_name": lambda s: reasons.label(reasons.SEVERITY_NAMES, s, locale),
        "action_name": lambda s: reasons.label(reasons.ACTION_NAMES, s, locale),
        "close_note": lambda note: reasons.system_note(note, locale),
        "badge": SEVERITY_BADGE,
        "may_work": can(user, "retention:work"),
        "sees_all": sees_all(user),
        "back": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }


def _choices(request: Request, session: Session, user: User) -> dict[str, Any]:
    locale = request_locale(request)
    books = playbooks.list_playbooks(session, actor=user) if can(user, "retention:work") else []
    return {
        "statuses": [(c, tr(request, m)) for c, m in STATUS_OPTIONS],
        "rules": [(c, reasons.label(reasons.RULE_NAMES, c, locale)) for c in RULE_CODES],
        "classes": [(c, reasons.label(reasons.CLASS_NAMES, c, locale)) for c in CLASSES],
        "severities": [(c, reasons.label(reasons.SEVERITY_NAMES, c, locale)) for c in SEVERITIES],
        "scopes": [(c, tr(request, m)) for c, m in SCOPE_NAMES.items()],
        "playbook_options": [
            (str(p.id), p.name_zh if locale == "zh_CN" else p.name_en) for p in books if p.enabled
        ],
    }


@router.get("/retention/alerts")
def alerts(request: Request, session: DbSession, user: PageUser) -> Response:
    """The alerts inbox (htmx swaps the results when a filter changes)."""
    ctx = _context(request, session, user)
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "retention/_alert_rows.html", **ctx)
    return render(
        request,
        "retention/alerts.html",
        **ctx,
        **_choices(request, session, user),
        counts=tab_counts(session, user),
    )


def _back(form) -> str:
    """Where to return after a button: the inbox with the filters it was showing."""
    url = str(form.get("back") or "")
    return url if url.startswith("/retention/alerts") and "//" not in url else "/retention/alerts"


STALE_ALERT = N_("Someone else changed this alert in the meantime; it is shown as it is now.")


def _attempt(
    request: Request, session: Session, fn, ok, back: str, stale: str = STALE_ALERT
) -> Response:
    """Run one change in a savepoint; refusals become a flash message on the inbox;
    ``ok(result)`` is the message on success, ``stale`` the one when a version is stale."""
    sp = session.begin_nested()
    try:
        done = fn()
    except STALE:
        sp.rollback()
        flash(request, tr(request, stale), "error")
        return redirect(request, back)
    except RetentoError as exc:
        sp.rollback()
        if exc.status in (401, 403, 404):
            raise
        flash(
            request,
            tr(request, "Not done: %(reason)s", reason=error_text(request, exc.message)),
            "error",
        )
        return redirect(request, back)
    flash(request, ok(done))
    return redirect(request, back)


@router.post("/retention/alerts/{alert_id:int}/status")
def alert_status(
    request: Request, form: PageForm, session: DbSession, user: PageUser, alert_id: DbId
) -> Response:
    """Acknowledge, close (with a note) or reopen an alert."""
    require(user, "retention:work")
    status = str(form.get("status") or "")
    note = str(form.get("note") or "").strip() or None
    messages = {
        "acknowledged": N_("Alert acknowledged."),
        "closed": N_("Alert closed."),
        "open": N_("Alert reopened."),
    }
    return _attempt(
        request,
        session,
        lambda: service.set_alert_status(
            session, alert_id, status, actor=user, note=note, version=form_version(form)
        ),
        lambda _: tr(request, messages.get(status, N_("Saved."))),
        _back(form),
    )


def _bulk_items(form) -> list[tuple[int, int]]:
    """The ticked alerts, each ``"<id>:<version>"`` as the inbox showed it."""
    items = []
    for raw in form.getlist("alert"):
        alert_id, _, version = str(raw).partition(":")
        aid, ver = id_from_text(alert_id), id_from_text(version)
        if aid is None or ver is None:
            raise InvalidInput(
                Msg("%(value)s names no alert of this list.", value=str(raw)[:40]), field="alert"
            )
        items.append((aid, ver))
    return items


@router.post("/retention/alerts/bulk")
def alerts_bulk(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    """Acknowledge or close the ticked alerts at once: all of them or, if one changed in the
    meantime or may not change so, none."""
    require(user, "retention:work")
    status = str(form.get("status") or "")
    note = str(form.get("note") or "").strip() or None
    messages = {
        "acknowledged": (N_("One alert acknowledged."), N_("%(n)s alerts acknowledged.")),
        "closed": (N_("One alert closed."), N_("%(n)s alerts closed.")),
    }
    return _attempt(
        request,
        session,
        lambda: service.set_alerts_status(
            session, _bulk_items(form), status, actor=user, note=note
        ),
        lambda done: tr_count(request, len(done), *messages[status]),
        _back(form),
        stale=N_(
            "Someone else changed one of the chosen alerts in the meantime; none was changed. "
            "They are shown as they are now."
        ),
    )


@router.post("/retention/alerts/{alert_id:int}/apply")
def alert_apply(
    request: Request, form: PageForm, session: DbSession, user: PageUser, alert_id: DbId
) -> Response:
    """Apply the matching playbook (or the chosen one): treated → action, control → held out."""
    require(user, "retention:work")
    raw = str(form.get("playbook_id") or "").strip()
    playbook_id = int(raw) if raw.isdigit() and len(raw) <= 9 else None

    def apply() -> RetentionCase:
        alert = service.get_alert(session, alert_id, actor=user)
        if acts_on_own(user) and alert.owner_id not in (None, user.id):
            raise Forbidden("Agents apply playbooks only to alerts of their own customers.")
        case = playbook_apply.apply_to_alert(
            session, alert_id, actor=user, playbook_id=playbook_id, defer_action=True
        )
        queued.append(apply_jobs.enqueue(session, case, user.id))
        return case

    def ok(case: RetentionCase) -> str:
        if case.arm == "control":
            return tr(
                request, "Playbook applied: the customer is in the control group (no action)."
            )
        if case.action_status == "queued":
            return tr(
                request,
                "Playbook applied: the customer is treated; the action is being carried out.",
            )
        return tr(request, "Playbook applied: the customer is treated.")

    # The case is opened (its arm decided) in this request; a treated case's action (e-mail,
    # offer, task) is queued for a worker, or run by this process after the response.
    queued: list[int | None] = []
    response = _attempt(request, session, apply, ok, _back(form))
    item_id = queued[0] if queued else None
    if item_id is not None and request.app.state.settings.run_work_in_web:
        response.background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    return response


@router.get("/retention/cases/{case_id:int}/action")
def case_action(request: Request, session: DbSession, user: PageUser, case_id: DbId) -> Response:
    """The status of a case's queued action (polled by htmx from the alerts inbox)."""
    require(user, "retention:read")
    case = session.get(RetentionCase, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    _, fraction = apply_jobs.progress(session, case)
    return render(request, "retention/_case_action.html", case=case, fraction=fraction)
