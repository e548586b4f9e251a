"""Playbook applications as queued work (issue 15): the request opens the win-back case (arm
decided under the playbook's lock) with its action 'queued' and queues a ``retention.apply``
work item; a worker (or, with RETENTO_RUN_WORK_IN_WEB, the web process after the response)
sends the e-mail, posts the offer points or voucher and creates the task, once."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from retento.auth.models import User
from retento.core.db import transaction
from retento.core.errors import RetentoError
from retento.retention.models import RetentionCase
from retento.retention.playbooks import carry_out_action
from retento.web.i18n import N_
from retento.work import queue
from retento.work.queue import WorkContext, work_kind

log = logging.getLogger("retento.retention")

WORK_KIND = "retention.apply"
WAITING = ("queued", "running")


def work_ref(case_id: int) -> str:
    return f"retention_case:{case_id}"


def enqueue(session: Session, case: RetentionCase, actor_id: int | None) -> int | None:
    """Queue a case's action (in the caller's transaction); None if it has nothing queued."""
    if case.action_status != "queued":
        return None
    item = queue.enqueue(
        session,
        WORK_KIND,
        {"case_id": case.id, "actor_id": actor_id},
        ref=work_ref(case.id),
        actor_id=actor_id,
    )
    return item.id


def progress(session: Session, case: RetentionCase) -> tuple[str | None, float | None]:
    """Stage and fraction of a case's action (from its work item, any process)."""
    if case.action_status not in WAITING:
        return ("done", 1.0) if case.action_status == "done" else (None, None)
    item = queue.item_for_ref(session, work_ref(case.id))
    if item is None:
        return None, None
    return queue.progress_of(item)


def _set_status(factory: sessionmaker[Session], case_id: int, values: dict[str, Any]) -> None:
    with transaction(factory) as s:
        s.execute(
            update(RetentionCase)
            .where(RetentionCase.id == case_id, RetentionCase.action_status.in_(WAITING))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _abandon(session: Session, payload: dict[str, Any], reason: str) -> None:
    case = session.get(RetentionCase, payload.get("case_id"))
    if case is not None and case.action_status in WAITING:
        case.action_status, case.action_error = "failed", reason


@work_kind(
    WORK_KIND,
    N_("Playbook action"),
    on_abandon=_abandon,
    stages={"acting": N_("Carrying out the action")},
)
def run_queued(ctx: WorkContext) -> dict[str, Any]:
    """Carry out one case's action: once, however often the item is run."""
    case_id = int(ctx.payload["case_id"])
    actor_id = ctx.payload.get("actor_id")
    ctx.progress("acting", 0.1)
    try:
        with transaction(ctx.factory) as s:
            actor = s.get(User, actor_id) if actor_id is not None else None
            ran = carry_out_action(s, case_id, actor=actor)
    except Exception as exc:
        reason = exc.message if isinstance(exc, RetentoError) else f"{type(exc).__name__}: {exc}"
        log.exception("the action of win-back case %s failed", case_id)
        _set_status(ctx.factory, case_id, {"action_status": "failed", "action_error": reason})
        raise
    return {"case_id": case_id, "ran": ran}
