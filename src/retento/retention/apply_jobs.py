"""Playbook applications as queued work (issue 15): the request opens the win-back case (arm
decided under the playbook's lock) with its action 'queued' and queues a ``retention.apply``
work item; a worker (or, with RETENTO_RUN_WORK_IN_WEB, the web process after the response)
sends the e-mail, posts the offer points or voucher and creates the task, once.

An evaluation (``POST /api/v1/retention/evaluate``, the ``retention_evaluate`` job, the event
hooks) that applies playbooks automatically queues its treated cases the same way, but as one
item per ``ITEM_CASES`` cases (:func:`enqueue_cases`) rather than one per case: the worker
carries them out in groups of ``GROUP`` cases, one transaction and one audit entry per group,
as the evaluation itself records one entry for the cases it opened. A case that fails is
carried out alone so the rest of its group is not held back, and is marked failed."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from retento.audit.service import record
from retento.auth.models import User
from retento.core.db import transaction
from retento.core.errors import RetentoError
from retento.retention.models import RetentionCase
from retento.retention.playbook_apply import carry_out_action
from retento.web.i18n import N_
from retento.work import queue
from retento.work.models import WorkItem
from retento.work.queue import WorkContext, work_kind

log = logging.getLogger("retento.retention")

WORK_KIND = "retention.apply"
WAITING = ("queued", "running")
ITEM_CASES = 1000  # cases per work item queued by an evaluation
GROUP = 50  # cases carried out per transaction (and audit entry) by such an item
BATCH_REF = "retention_cases:"


def work_ref(case_id: int) -> str:
    return f"retention_case:{case_id}"


# Background work names the cases an item carries out in words, not as the bare reference.
queue.work_ref_label("retention_case", N_("Win-back case #%(id)s"))
queue.work_ref_label(
    BATCH_REF.rstrip(":"),
    N_("Win-back cases %(id)s"),
    span=N_("Win-back cases %(first)s–%(last)s"),
)


def batch_ref(case_ids: list[int]) -> str:
    return f"{BATCH_REF}{min(case_ids)}-{max(case_ids)}"


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


def enqueue_cases(
    session: Session, case_ids: list[int], *, requested_by: int | None = None
) -> list[int]:
    """Queue the actions of an evaluation's treated cases (in the caller's transaction): one
    work item per ``ITEM_CASES`` cases; the items' ids. The actions are the system's, as the
    evaluation's cases are; ``requested_by`` (who asked for the evaluation) may follow the
    items (``GET /api/v1/work/{id}``)."""
    ids = sorted(set(case_ids))
    items = []
    for i in range(0, len(ids), ITEM_CASES):
        chunk = ids[i : i + ITEM_CASES]
        item = queue.enqueue(
            session,
            WORK_KIND,
            {"case_ids": chunk, "actor_id": None},
            ref=batch_ref(chunk),
            actor_id=requested_by,
        )
        items.append(item.id)
    return items


def _batch_item(session: Session, case_id: int) -> WorkItem | None:
    """The waiting evaluation item that holds ``case_id`` (few wait at a time: one per
    evaluation that opened treated cases, until a worker has run it)."""
    rows = session.scalars(
        select(WorkItem)
        .where(
            WorkItem.kind == WORK_KIND,
            WorkItem.ref.like(f"{BATCH_REF}%"),
            WorkItem.status.in_(WAITING),
        )
        .order_by(WorkItem.id.desc())
        .limit(200)
    ).all()
    for item in rows:
        low, _, high = (item.ref or "")[len(BATCH_REF) :].partition("-")
        if low.isdigit() and high.isdigit() and int(low) <= case_id <= int(high):
            if case_id in (item.payload or {}).get("case_ids", ()):
                return item
    return None


def progress(session: Session, case: RetentionCase) -> tuple[str | None, float | None]:
    """Stage and fraction of a case's action (from its work item, any process)."""
    if case.action_status not in WAITING:
        return ("done", 1.0) if case.action_status == "done" else (None, None)
    item = queue.item_for_ref(session, work_ref(case.id)) or _batch_item(session, case.id)
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


def _case_ids(payload: dict[str, Any]) -> list[int]:
    if "case_ids" in payload:
        return sorted({int(i) for i in payload["case_ids"]})
    return [int(payload["case_id"])]


def _abandon(session: Session, payload: dict[str, Any], reason: str) -> None:
    for case_id in _case_ids(payload):
        case = session.get(RetentionCase, case_id)
        if case is not None and case.action_status in WAITING:
            case.action_status, case.action_error = "failed", reason


def _reason(exc: Exception) -> str:
    return exc.message if isinstance(exc, RetentoError) else f"{type(exc).__name__}: {exc}"


def _carry_out_group(
    factory: sessionmaker[Session], case_ids: list[int], actor_id: int | None
) -> list[int]:
    """One transaction: the group's actions and one audit entry; the cases acted on."""
    with transaction(factory) as s:
        actor = s.get(User, actor_id) if actor_id is not None else None
        # Ascending ids: two runners of one item lock the cases in the same order.
        ran = [cid for cid in case_ids if carry_out_action(s, cid, actor=actor, audit=False)]
        if ran:
            record(
                s,
                actor,
                "update",
                "retention_case",
                None,
                None,
                {"actions_done": len(ran), "first_id": ran[0], "last_id": ran[-1]},
            )
    return ran


def _run_many(ctx: WorkContext, case_ids: list[int], actor_id: int | None) -> dict[str, Any]:
    done: list[int] = []
    failed: dict[int, str] = {}
    for i in range(0, len(case_ids), GROUP):
        group = case_ids[i : i + GROUP]
        try:
            done += _carry_out_group(ctx.factory, group, actor_id)
        except Exception:
            log.warning("a group of win-back actions failed; carrying them out one by one")
            for cid in group:  # the others are not held back by the one that fails
                try:
                    done += _carry_out_group(ctx.factory, [cid], actor_id)
                except Exception as exc:
                    log.exception("the action of win-back case %s failed", cid)
                    failed[cid] = _reason(exc)
                    _set_status(
                        ctx.factory, cid, {"action_status": "failed", "action_error": failed[cid]}
                    )
        ctx.progress("acting", (i + len(group)) / len(case_ids))
    if failed:
        first = min(failed)
        raise RetentoError(
            500,
            "action_failed",
            f"{len(failed)} of {len(case_ids)} win-back action(s) failed (case {first}: "
            f"{failed[first]}); the others were carried out.",
        )
    return {"cases": len(case_ids), "ran": len(done)}


@work_kind(
    WORK_KIND,
    N_("Playbook action"),
    on_abandon=_abandon,
    stages={"acting": N_("Carrying out the action")},
)
def run_queued(ctx: WorkContext) -> dict[str, Any]:
    """Carry out one case's action (a manual apply), or an evaluation's (``case_ids``): once,
    however often the item is run."""
    actor_id = ctx.payload.get("actor_id")
    if "case_ids" in ctx.payload:
        return _run_many(ctx, _case_ids(ctx.payload), actor_id)
    case_id = int(ctx.payload["case_id"])
    ctx.progress("acting", 0.1)
    try:
        with transaction(ctx.factory) as s:
            actor = s.get(User, actor_id) if actor_id is not None else None
            ran = carry_out_action(s, case_id, actor=actor)
    except Exception as exc:
        reason = _reason(exc)
        log.exception("the action of win-back case %s failed", case_id)
        _set_status(ctx.factory, case_id, {"action_status": "failed", "action_error": reason})
        raise
    return {"case_id": case_id, "ran": ran}
