"""Churn warnings and win-back work on the customer timeline: each alert raised (reason,
severity, status), each win-back case (playbook, treated or held out, outcome) and each win-back
task (title, status, result). Registered with ``retento.customers.timeline`` when the package is
imported (``retention/__init__.py``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Integer, bindparam, exists, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can
from retento.customers.timeline import (
    TimelineEntry,
    TimelineSource,
    TimelineWindow,
    newest_first,
    register_timeline_source,
)
from retento.retention import reasons
from retento.retention.models import RetentionAlert, RetentionCase, RetentionPlaybook, RetentionTask
from retento.web.i18n import N_, translate
from retento.web.labels import label_msgid


@cache
def _statements(bounded: bool) -> tuple[Any, Any, Any, Any]:
    """Which of alerts, cases and tasks ``customer_id`` has; then the alerts, cases (with their
    playbook's names) and tasks, each newest first and cut to ``limit`` (at or before ``until``
    when ``bounded``)."""
    limit = bindparam("limit", type_=Integer())

    def customer(column: Any) -> Any:
        return column == bindparam("customer_id", type_=column.type)

    def until(column: Any) -> tuple[Any, ...]:
        return (column <= bindparam("until", type_=column.type),) if bounded else ()

    alerts = (
        select(RetentionAlert)
        .where(customer(RetentionAlert.customer_id), *until(RetentionAlert.created_at))
        .order_by(RetentionAlert.created_at.desc(), RetentionAlert.id.desc())
        .limit(limit)
    )
    cases = (
        select(
            RetentionCase,
            RetentionAlert.status,
            RetentionAlert.owner_id,
            RetentionPlaybook.name_en,
            RetentionPlaybook.name_zh,
        )
        .join(RetentionPlaybook, RetentionPlaybook.id == RetentionCase.playbook_id)
        .join(RetentionAlert, RetentionAlert.id == RetentionCase.alert_id)
        .where(customer(RetentionCase.customer_id), *until(RetentionCase.assigned_at))
        .order_by(RetentionCase.assigned_at.desc(), RetentionCase.id.desc())
        .limit(limit)
    )
    tasks = (
        select(RetentionTask)
        .where(customer(RetentionTask.customer_id), *until(RetentionTask.created_at))
        .order_by(RetentionTask.created_at.desc(), RetentionTask.id.desc())
        .limit(limit)
    )
    # Most customers have none of the three: one round trip tells which lists to read.
    probe = select(
        exists().where(customer(RetentionAlert.customer_id)),
        exists().where(customer(RetentionCase.customer_id)),
        exists().where(customer(RetentionTask.customer_id)),
    )
    return probe, alerts, cases, tasks


def _alert_href(actor: User, alert_id: int, status: str, owner_id: int | None) -> str | None:
    """The alert's row in the inbox, when the inbox shows it to ``actor`` (agents see their own)."""
    from retento.retention.pages_alerts import sees_all

    if sees_all(actor) or owner_id == actor.id:
        return f"/retention/alerts?scope=all&status={status}#alert-{alert_id}"
    return None


def _task_href(actor: User, task: RetentionTask) -> str | None:
    """The task on its owner's list: one's own, or anyone's for a retention manager."""
    if task.owner_id == actor.id:
        return f"/retention/tasks?status={task.status}#task-{task.id}"
    if task.owner_id is not None and can(actor, "retention:manage"):
        return f"/retention/tasks?owner={task.owner_id}&status={task.status}#task-{task.id}"
    return None


def retention_entries(
    session: Session, customer_id: int, window: TimelineWindow
) -> list[TimelineEntry]:
    """The customer's churn alerts, win-back cases and tasks, newest first."""
    from retento.retention import pages_common, pages_panel  # noqa: F401  (status labels)
    from retento.retention.tasks import display_texts

    probe, alerts_stmt, cases_stmt, tasks_stmt = _statements(window.until is not None)
    has_alerts, has_cases, has_tasks = session.execute(probe, {"customer_id": customer_id}).one()
    if not (has_alerts or has_cases or has_tasks):
        return []
    values: dict[str, Any] = {"customer_id": customer_id, "limit": window.limit}
    if window.until is not None:
        values["until"] = window.until
    loc, actor = window.locale, window.actor
    keyed: list[tuple[Any, int, int, TimelineEntry]] = []
    alerts = list(session.scalars(alerts_stmt, values)) if has_alerts else []
    for a in alerts:
        facts = (
            translate(
                loc,
                N_("Severity: %(severity)s"),
                severity=reasons.label(reasons.SEVERITY_NAMES, a.severity, loc),
            ),
            translate(loc, label_msgid("alert_status", a.status)),
        )
        entry = TimelineEntry(
            a.created_at,
            "retention",
            translate(loc, N_("Churn warning raised")),
            _alert_href(actor, a.id, a.status, a.owner_id),
            facts,
            reasons.render_reason(a.reason_code, a.reason_params, loc),
            "alert",
        )
        keyed.append((a.created_at, 0, a.id, entry))
    cases = session.execute(cases_stmt, values).all() if has_cases else []
    for c, alert_status, alert_owner, name_en, name_zh in cases:
        arm = N_("Control group") if c.arm == "control" else N_("Treated")
        facts = (
            translate(loc, arm),
            reasons.label(reasons.ACTION_NAMES, c.action, loc),
            translate(loc, label_msgid("case_outcome", c.outcome)),
        )
        text = translate(
            loc,
            N_("Win-back case: %(playbook)s"),
            playbook=name_zh if loc.startswith("zh") else name_en,
        )
        href = _alert_href(actor, c.alert_id, alert_status, alert_owner)
        note = reasons.system_note(c.note, loc) or None
        entry = TimelineEntry(c.assigned_at, "retention", text, href, facts, note, "case")
        keyed.append((c.assigned_at, 1, c.id, entry))
    tasks = list(session.scalars(tasks_stmt, values)) if has_tasks else []
    titles = display_texts(session, tasks, loc) if tasks else {}
    for t in tasks:
        facts = [translate(loc, label_msgid("task_status", t.status))]
        if t.result:
            facts.append(translate(loc, label_msgid("task_result", t.result)))
        text = translate(
            loc, N_("Win-back task: %(title)s"), title=titles.get(t.id, (t.title, ""))[0]
        )
        note = reasons.system_note(t.note, loc) or None
        entry = TimelineEntry(
            t.created_at, "retention", text, _task_href(actor, t), tuple(facts), note, "task"
        )
        keyed.append((t.created_at, 2, t.id, entry))
    return newest_first(keyed, window.limit)


register_timeline_source(
    TimelineSource(
        kind="retention",
        label=N_("Churn warning and win-back"),
        load=retention_entries,
        permission="retention:read",
        icon="⚑",
        order=40,
    )
)
