"""The retention box on the customer 360 page: the customer's alerts still needing someone,
open win-back tasks and the win-back cases with their group and outcome (hidden when none)."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.retention import reasons
from retento.retention.consent import CONTACT_KINDS, may_phone, phone_notice
from retento.retention.models import RetentionAlert, RetentionCase, RetentionPlaybook, RetentionTask
from retento.retention.points_now import current_notes
from retento.retention.tasks import display_texts
from retento.web.i18n import N_
from retento.web.labels import register_labels
from retento.web.render import request_locale

ROWS = 5

register_labels(
    "case_outcome",
    {"pending": N_("Waiting"), "came_back": N_("Came back"), "lost": N_("Lost")},
)


@cache
def _panel_stmts() -> dict[str, Any]:
    """The box's statements, built once; the customer is the parameter ``customer_id``."""
    cid = bindparam("customer_id", type_=RetentionAlert.customer_id.type)
    alert_where = (
        RetentionAlert.customer_id == cid,
        RetentionAlert.status.in_(("open", "acknowledged")),
    )
    task_where = (RetentionTask.customer_id == cid, RetentionTask.status == "open")
    case_where = (RetentionCase.customer_id == cid,)
    return {
        "exists": select(
            exists().where(*alert_where),
            exists().where(*task_where),
            exists().where(*case_where),
        ),
        "alerts": select(RetentionAlert)
        .where(*alert_where)
        .order_by(RetentionAlert.id.desc())
        .limit(ROWS),
        "tasks": select(RetentionTask)
        .where(*task_where)
        .order_by(RetentionTask.due_on)
        .limit(ROWS),
        "cases": select(RetentionCase, RetentionPlaybook.name_en, RetentionPlaybook.name_zh)
        .join(RetentionPlaybook, RetentionPlaybook.id == RetentionCase.playbook_id)
        .where(*case_where)
        .order_by(RetentionCase.id.desc())
        .limit(ROWS),
    }


def retention_panel(
    request: Request, session: Session, customer: Customer, user: User
) -> dict[str, Any] | None:
    """Context of the 360 box; ``None`` (hidden) for a customer retention never touched.

    One query first tells which of the three lists has rows (most customers have none, and the
    box is then hidden after that one round trip); only those lists are then read.
    """
    q = _panel_stmts()
    params = {"customer_id": customer.id}
    has_alerts, has_tasks, has_cases = session.execute(q["exists"], params).one()
    alerts: list[RetentionAlert] = []
    tasks: list[RetentionTask] = []
    cases: list[Any] = []
    if has_alerts:
        alerts = list(session.scalars(q["alerts"], params))
    if has_tasks:
        tasks = list(session.scalars(q["tasks"], params))
    if has_cases:
        cases = list(session.execute(q["cases"], params))
    if not (alerts or tasks or cases):
        return None
    locale = request_locale(request)
    currency = request.app.state.settings.currency
    return {
        "alerts": [
            (a, reasons.render_reason(a.reason_code, a.reason_params, locale, currency))
            for a in alerts
        ],
        # Points-expiring alerts whose points changed since: what the ledger says now.
        "now": current_notes(session, alerts, locale),
        "tasks": tasks,
        # The playbook's name in the reader's language (the title was written in the owner's).
        "titles": {k: v[0] for k, v in display_texts(session, tasks, locale).items()},
        # "Do not call" on the open tasks of a customer who has not agreed to phone calls.
        "phone": {t.id: phone_notice(customer, locale) for t in tasks if t.kind in CONTACT_KINDS}
        if not may_phone(customer)
        else {},
        # The lines of a case's note the system wrote (no e-mail could be sent, the owner was
        # asked not to call …), translated; an owner's own text is left to the case.
        "cases": [
            (c, zh if locale == "zh_CN" else en, reasons.system_lines(c.note, locale))
            for c, en, zh in cases
        ],
    }


register_panel(
    Panel(
        key="retention",
        title=N_("Churn warning and win-back"),
        template="retention/_panel.html",
        load=retention_panel,
        permission="retention:read",
        order=22,
        slot="side",
    )
)
