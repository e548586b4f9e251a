"""Win-back tasks: the owner's list, versioned edits and locked status transitions.

Completing a task records what happened on its case: ``reached``, ``offer_accepted``,
``not_reached`` or ``declined`` (reached, offer refused).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound, Term
from retento.core.locking import lock_row
from retento.core.pagination import paginate
from retento.core.versioning import lock_for_edit
from retento.retention.models import TASK_RESULTS, TASK_STATUSES, RetentionCase, RetentionTask
from retento.retention.service import _check_agent_owns
from retento.web.labels import label_msgid

# open → done | cancelled; done/cancelled → open (reopen)
TASK_TRANSITIONS = {"open": ("done", "cancelled"), "done": ("open",), "cancelled": ("open",)}


def task_query(
    *,
    owner_id: int | None = None,
    status: str | None = None,
    customer_id: int | None = None,
    due_before: date | None = None,
):
    """Tasks by due date (earliest first), filters checked."""
    stmt = select(RetentionTask)
    if status is not None:
        if status not in TASK_STATUSES:
            raise InvalidInput(
                Msg("status must be one of %(choices)s.", choices=", ".join(TASK_STATUSES)),
                field="status",
            )
        stmt = stmt.where(RetentionTask.status == status)
    if owner_id is not None:
        stmt = stmt.where(RetentionTask.owner_id == owner_id)
    if customer_id is not None:
        stmt = stmt.where(RetentionTask.customer_id == customer_id)
    if due_before is not None:
        stmt = stmt.where(RetentionTask.due_on <= due_before)
    return stmt.order_by(RetentionTask.due_on, RetentionTask.id)


def list_tasks(
    session: Session, *, actor: User, limit: int = 50, offset: int = 0, **filters: Any
) -> tuple[list[RetentionTask], int]:
    """One page of tasks and the total; filters: owner_id, status, customer_id, due_before."""
    require(actor, "retention:read")
    return paginate(session, task_query(**filters), limit=limit, offset=offset)


def my_tasks(
    session: Session, *, actor: User, status: str | None = "open", limit: int = 50, offset: int = 0
) -> tuple[list[RetentionTask], int]:
    """The actor's own tasks (open ones by default), earliest due first."""
    return list_tasks(
        session, actor=actor, owner_id=actor.id, status=status, limit=limit, offset=offset
    )


def get_task(session: Session, task_id: int, *, actor: User) -> RetentionTask:
    require(actor, "retention:read")
    task = session.get(RetentionTask, task_id)
    if task is None:
        raise NotFound("Task", task_id)
    return task


def update_task(
    session: Session,
    task_id: int,
    data: dict[str, Any],
    *,
    actor: User,
    version: int | None = None,
) -> RetentionTask:
    """Edit title, script, due date, note or owner (versioned: 409 on a stale version)."""
    require(actor, "retention:work")
    task = get_task(session, task_id, actor=actor)
    lock_for_edit(session, task, version)
    _check_agent_owns(actor, task.owner_id)
    before = snapshot(task)
    if data.get("title") is not None:
        title = str(data["title"]).strip()
        if not title or len(title) > 200:
            raise InvalidInput("A title of 1 to 200 characters is needed.", field="title")
        task.title = title
    if data.get("script") is not None:
        if len(str(data["script"])) > 5000:
            raise InvalidInput("The script is longer than 5000 characters.", field="script")
        task.script = str(data["script"])
    if data.get("note") is not None:
        if len(str(data["note"])) > 5000:
            raise InvalidInput("The note is longer than 5000 characters.", field="note")
        task.note = str(data["note"]).strip() or None
    if data.get("due_on") is not None:
        task.due_on = data["due_on"]
    if "owner_id" in data and data["owner_id"] is not None:
        require(actor, "retention:manage")
        owner = session.get(User, data["owner_id"])
        if owner is None or not owner.is_active:
            raise InvalidInput(
                Msg("User %(id)s is not an active user.", id=data["owner_id"]), field="owner_id"
            )
        task.owner_id = owner.id
    session.flush()
    record(session, actor, "update", "retention_task", task.id, before, snapshot(task))
    return task


def set_task_status(
    session: Session,
    task_id: int,
    status: str,
    *,
    actor: User,
    result: str | None = None,
    note: str | None = None,
    version: int | None = None,
) -> RetentionTask:
    """Complete (with a result), cancel or reopen a task; a locked, versioned transition."""
    require(actor, "retention:work")
    task = get_task(session, task_id, actor=actor)
    lock_for_edit(session, task, version)
    _check_agent_owns(actor, task.owner_id)
    if status not in TASK_STATUSES:
        raise InvalidInput(
            Msg("status must be one of %(choices)s.", choices=", ".join(TASK_STATUSES)),
            field="status",
        )
    if status not in TASK_TRANSITIONS.get(task.status, ()):
        # The state the request was meant for is gone (often: another request completed,
        # cancelled or reopened the task a moment ago, and this one waited for its lock): 409.
        raise Conflict(
            Msg(
                "A task that is %(state)s cannot become %(target)s.",
                state=Term(task.status, label_msgid("task_status", task.status)),
                target=Term(status, label_msgid("task_status", status)),
            ),
            field="status",
        )
    if status == "done":
        if result not in TASK_RESULTS:
            raise InvalidInput(
                Msg("result must be one of %(choices)s.", choices=", ".join(TASK_RESULTS)),
                field="result",
            )
    elif result is not None:
        raise InvalidInput("Only a completed task has a result.", field="result")
    before = snapshot(task)
    now = utcnow()
    task.status = status
    if note is not None:
        task.note = note.strip()[:5000] or None
    if status == "done":
        task.result, task.done_at, task.done_by_id = result, now, actor.id
    else:
        task.result, task.done_at, task.done_by_id = None, None, None
    session.flush()
    record(session, actor, "update", "retention_task", task.id, before, snapshot(task))
    if task.case_id is not None:
        _record_on_case(session, task, actor)
    return task


def _record_on_case(session: Session, task: RetentionTask, actor: User) -> None:
    # Locked (after the task: the one order of every path that takes both), so an outcome
    # recorded on the case at the same moment is neither reverted nor fails this completion.
    case = lock_row(session, RetentionCase, task.case_id)
    if case is None:
        return
    before = snapshot(case)
    if task.status != "done":
        case.reached, case.offer_accepted = None, None
    else:
        case.reached = task.result in ("reached", "offer_accepted", "declined")
        if case.action == "offer":
            case.offer_accepted = task.result == "offer_accepted"
    session.flush()
    record(session, actor, "update", "retention_case", case.id, before, snapshot(case))
