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
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound, Term, choice_error
from retento.core.locking import lock_each, lock_row
from retento.core.pagination import paginate
from retento.core.versioning import lock_for_edit
from retento.retention.models import (
    TASK_RESULTS,
    TASK_STATUSES,
    RetentionCase,
    RetentionPlaybook,
    RetentionTask,
)
from retento.retention.ownership import check_agent_owns
from retento.retention.playbook_apply import close_settled_task, title_separator
from retento.retention.reasons import SETTLED_NOTES
from retento.retention.service import NOTE_MAX, clean_note
from retento.web.i18n import N_
from retento.web.labels import label_msgid

# open → done | cancelled; done/cancelled → open (reopen)
TASK_TRANSITIONS = {"open": ("done", "cancelled"), "done": ("open",), "cancelled": ("open",)}


def _status_error() -> InvalidInput:
    """A status that is not a task's, named as the task list's filter names it (the API's
    English keeps the codes)."""
    choices = [(st, label_msgid("task_status", st)) for st in TASK_STATUSES]
    return choice_error("status", N_("Status"), choices).refuse()


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
            raise _status_error()
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
    check_agent_owns(actor, task.owner_id)
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
        task.note = clean_note(str(data["note"]), NOTE_MAX)
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
    check_agent_owns(actor, task.owner_id)
    if status not in TASK_STATUSES:
        raise _status_error()
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
            choices = [(r, label_msgid("task_result", r)) for r in TASK_RESULTS]
            raise choice_error("result", N_("What happened"), choices).refuse()
    elif result is not None:
        raise InvalidInput("Only a completed task has a result.", field="result")
    text = clean_note(note, NOTE_MAX) if note is not None else None
    if status == "open" and task.case_id is not None:
        _refuse_reopen_of_settled(session, task)
    before = snapshot(task)
    now = utcnow()
    task.status = status
    if note is not None:
        task.note = text
    if status == "done":
        task.result, task.done_at, task.done_by_id = result, now, actor.id
    else:
        task.result, task.done_at, task.done_by_id = None, None, None
    session.flush()
    record(session, actor, "update", "retention_task", task.id, before, snapshot(task))
    if task.case_id is not None:
        _record_on_case(session, task, actor)
    return task


def _refuse_reopen_of_settled(session: Session, task: RetentionTask) -> None:
    """A task whose case has settled (came back or lost) stays closed: settling closed it, or
    found it finished, and nothing would close it again, so it would stay open on a case that
    needs no more work. What the owner learnt later is recorded on the case (reached, offer
    accepted). The case is locked (after the task, the one order of every path that takes
    both), so a case settling at this moment is waited for, and a reopen it waits for is then
    closed by it."""
    case = lock_row(session, RetentionCase, task.case_id)
    if case is not None and case.outcome != "pending":
        raise Conflict(
            Msg(
                "Case %(id)s is settled (%(outcome)s): its task cannot be reopened.",
                id=case.id,
                outcome=Term(case.outcome, label_msgid("case_outcome", case.outcome)),
            ),
            field="status",
        )


def settled_cases(session: Session, tasks: list[RetentionTask]) -> dict[int, str]:
    """``{task id: outcome}`` for the tasks whose case has settled (their reopen is refused)."""
    case_ids = {t.case_id for t in tasks if t.case_id is not None}
    if not case_ids:
        return {}
    outcomes = dict(
        session.execute(
            select(RetentionCase.id, RetentionCase.outcome).where(
                RetentionCase.id.in_(case_ids), RetentionCase.outcome != "pending"
            )
        ).all()
    )
    return {t.id: outcomes[t.case_id] for t in tasks if t.case_id in outcomes}


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


# --- tasks of settled cases ---------------------------------------------------------------------


def lock_open_tasks(session: Session, case_ids) -> dict[int, RetentionTask]:
    """The open tasks of ``case_ids``, locked, by case id.

    Every path that takes a task and its case locks the task first (``set_task_status``), so
    the order hooks, the settling job and "mark lost" call this *before* they lock the cases:
    an owner completing the task at that moment is waited for (then the task is no longer
    open and is left as the owner left it), or waits and finds it closed (409)."""
    ids = sorted({int(i) for i in case_ids})
    if not ids:
        return {}
    tasks = session.scalars(
        lock_each(
            select(RetentionTask)
            .where(RetentionTask.case_id.in_(ids), RetentionTask.status == "open")
            .order_by(RetentionTask.id)
        )
    ).all()
    return {t.case_id: t for t in tasks if t.status == "open"}


def close_settled_tasks(
    session: Session,
    cases,
    locked: dict[int, RetentionTask] | None = None,
    *,
    actor: User | None = None,
) -> int:
    """Cancel the open task of each settled case (came back or lost), with a note saying why;
    one audit entry per task. ``locked`` are the tasks ``lock_open_tasks`` locked before the
    cases; a task created after that (the worker carried out a queued action meanwhile) is
    locked here. Returns the tasks closed."""
    settled = {c.id: c.outcome for c in cases if c.outcome in SETTLED_NOTES}
    if not settled:
        return 0
    tasks = {k: t for k, t in (locked or {}).items() if k in settled}
    missing = [cid for cid in settled if cid not in tasks]
    if missing:
        tasks.update(lock_open_tasks(session, missing))
    closed = 0
    now = utcnow()
    for case_id in sorted(tasks):
        task = tasks[case_id]
        if task.status != "open":
            continue
        before = snapshot(task)
        close_settled_task(task, settled[case_id], now)
        session.flush()
        record(session, actor, "update", "retention_task", task.id, before, snapshot(task))
        closed += 1
    return closed


# --- the task's title and script in the reader's language -----------------------------------


def _swap_title(title: str, names: tuple[str, str], want: str, zh: bool) -> str:
    """``title`` ("<playbook name><colon><customer>") with its playbook name, in either language
    and with either colon, written as ``want`` and the reader's colon."""
    if not want:
        return title
    for own in (want, *names):
        for sep in (": ", "："):
            if own and title.startswith(own + sep):
                return want + title_separator(zh) + title[len(own) + len(sep) :]
    return title


def _swap(text: str, texts: tuple[str, str], want: str, sep: str) -> str:
    """``text`` with its leading playbook text (in either language) replaced by ``want``."""
    if not want or (text == want or text.startswith(want + sep)):
        return text
    for own in texts:
        if own and own != want and (text == own or text.startswith(own + sep)):
            return want + text[len(own) :]
    return text


def _without_offer_lines(script: str) -> str:
    """``script`` without the offer lines written into it in its owner's language: the task
    pages show what the offer did in the reader's language (``Loyalty offer``) instead."""
    from retento.retention.offers import is_offer_line

    kept = [part for part in script.split("\n\n") if not is_offer_line(part)]
    return "\n\n".join(kept)


def display_texts(
    session: Session, tasks: list[RetentionTask], locale: str
) -> dict[int, tuple[str, str]]:
    """``{task id: (title, script)}`` in the reader's language.

    A task's title ("<playbook name>: <customer>") and script were written once, in its owner's
    language, when the case's action was carried out; the stored text stays (the API and the
    audit log show it). On the pages the playbook's part is shown from the playbook in the
    reader's language instead, when the stored text still starts with the playbook's name
    (script) in English or Chinese. A title someone edited, or one written under a name the
    playbook no longer has, is shown as stored. The offer lines an offer task's script ends
    with are left out (the page shows the offer's outcome in the reader's language)."""
    case_ids = {t.case_id for t in tasks if t.case_id is not None}
    books: dict[int, tuple[str, str, str, str]] = {}
    if case_ids:
        rows = session.execute(
            select(
                RetentionCase.id,
                RetentionPlaybook.name_en,
                RetentionPlaybook.name_zh,
                RetentionPlaybook.script_en,
                RetentionPlaybook.script_zh,
            )
            .join(RetentionPlaybook, RetentionPlaybook.id == RetentionCase.playbook_id)
            .where(RetentionCase.id.in_(case_ids))
        ).all()
        books = {r[0]: tuple(r[1:]) for r in rows}
    zh = locale.startswith("zh")
    out: dict[int, tuple[str, str]] = {}
    for t in tasks:
        book = books.get(t.case_id) if t.case_id is not None else None
        if book is None:
            out[t.id] = (t.title, t.script or "")
            continue
        name_en, name_zh, script_en, script_zh = book
        title = _swap_title(t.title, (name_en, name_zh), name_zh if zh else name_en, zh)
        script = _swap(
            t.script or "", (script_en, script_zh), script_zh if zh else script_en, "\n\n"
        )
        if t.kind == "offer":
            script = _without_offer_lines(script)
        out[t.id] = (title, script)
    return out


def display_title(session: Session, task: RetentionTask, locale: str) -> str:
    """One task's title in the reader's language (see ``display_texts``)."""
    return display_texts(session, [task], locale)[task.id][0]
