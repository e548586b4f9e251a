"""Writing many survey responses at once: bulk entry of paper questionnaires
(``surveys.bulk_entry``) and file import (``surveys.fileio``).

Every row is checked with the one validation of ``surveys.responses``; all rows are written or
none (unless the caller skips invalid rows), and a row naming an earlier response updates it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from retento.audit.service import record
from retento.auth.models import User
from retento.core.db import utcnow
from retento.core.errors import FieldError, InvalidInput, Msg, NotFound
from retento.core.hooks import emit
from retento.customers.guard import lock_customers, merged_message
from retento.customers.models import Customer
from retento.surveys.models import Survey, SurveyInvitation, SurveyResponse
from retento.surveys.responses import (
    _answered_survey,
    _apply,
    _invitation_response,
    _open_invitation,
    _require_open,
    response_snapshot,
    validate_answers,
)
from retento.surveys.schemas import AnswerIn


@dataclass
class IngestRow:
    """One response to write from a bulk entry screen or an imported file."""

    row: int
    customer_id: int | None = None
    customer_external_id: str | None = None
    external_id: str | None = None
    channel: str | None = None
    completed_at: datetime | None = None
    status: str = "completed"
    answers: list[AnswerIn] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


EXPORT_ID_PREFIX = "retento-"


def ingest(
    session: Session,
    survey: Survey,
    rows: list[IngestRow],
    *,
    actor: User,
    channel: str,
    source: str,
    skip_invalid: bool,
    now: datetime | None = None,
    keys: Callable[[int], str] | None = None,
    validate_only: bool = False,
) -> dict[str, Any]:
    """Validate every row, then write them all (or the valid ones with ``skip_invalid``).

    A row whose ``external_id`` matches an earlier response of the survey (or the
    ``retento-<id>`` of an export) replaces that response's answers, so re-importing a file
    updates instead of duplicating. ``keys(row)`` is the idempotency key a row's new response
    is recorded with (surveys.bulk_entry); ``validate_only`` writes nothing, reports problems.
    """
    if not validate_only:
        # The survey before its customers, in the order its delete and a merge take them.
        if _answered_survey(session, survey.id) is None:
            raise NotFound("Survey", survey.id, field="survey_id")
        _require_open(survey)
    now = now or utcnow()
    ext_ids = {r.customer_external_id for r in rows if r.customer_external_id}
    by_ext = (
        dict(
            session.execute(
                select(Customer.external_id, Customer.id).where(Customer.external_id.in_(ext_ids))
            ).all()
        )
        if ext_ids
        else {}
    )
    ids = {r.customer_id for r in rows if r.customer_id is not None}
    known_ids = (
        set(session.scalars(select(Customer.id).where(Customer.id.in_(ids)))) if ids else set()
    )
    # The customers the rows name, guarded against a merge (``customers.guard``): locked
    # ``FOR SHARE`` before anything is written, so a running merge is waited for and its
    # duplicate refused, not given a response after the merge moved "all" of its own.
    merged = lock_customers(session, known_ids | set(by_ext.values()))
    resp_ext = {r.external_id for r in rows if r.external_id}
    existing = (
        {
            r.external_id: r
            for r in session.scalars(
                select(SurveyResponse)
                .where(SurveyResponse.external_id.in_(resp_ext))
                .options(selectinload(SurveyResponse.answers))
            )
        }
        if resp_ext
        else {}
    )
    for ext in resp_ext:
        if ext.startswith(EXPORT_ID_PREFIX) and ext[len(EXPORT_ID_PREFIX) :].isdigit():
            r = session.get(SurveyResponse, int(ext[len(EXPORT_ID_PREFIX) :]))
            if r is not None:
                existing[ext] = r
    seen: set[str] = set()
    plans: list[tuple[IngestRow, int | None, dict[int, Any]]] = []
    errors: list[FieldError] = []
    for r in rows:
        errs = list(r.errors)
        cid = r.customer_id
        found = len(errs)
        if r.customer_external_id:
            if r.customer_external_id not in by_ext:
                errs.append(
                    FieldError(
                        "customer_external_id",
                        Msg(
                            "No customer has external id '%(value)s'.",
                            value=r.customer_external_id,
                        ),
                        r.row,
                    )
                )
            elif cid is not None and by_ext[r.customer_external_id] != cid:
                errs.append(
                    FieldError(
                        "customer_id", "customer_id and customer_external_id disagree.", r.row
                    )
                )
            else:
                cid = by_ext[r.customer_external_id]
        if r.customer_id is not None and r.customer_id not in known_ids:
            errs.append(
                FieldError(
                    "customer_id",
                    Msg("Customer %(id)s does not exist.", id=r.customer_id),
                    r.row,
                )
            )
        if len(errs) == found and cid is not None and cid in merged:
            # Named as the row named it (its id, or the external id in the file or grid).
            named = "customer_external_id" if r.customer_external_id else "customer_id"
            errs.append(
                FieldError(
                    named,
                    merged_message(r.customer_external_id or cid, merged[cid]),
                    r.row,
                )
            )
        if r.external_id:
            if r.external_id in seen:
                errs.append(
                    FieldError(
                        "response_id", Msg("'%(id)s' appears twice.", id=r.external_id), r.row
                    )
                )
            seen.add(r.external_id)
            old = existing.get(r.external_id)
            if old is not None and old.survey_id != survey.id:
                errs.append(
                    FieldError(
                        "response_id",
                        Msg(
                            "'%(id)s' belongs to survey %(other)s, not %(survey)s.",
                            id=r.external_id,
                            other=old.survey_id,
                            survey=survey.id,
                        ),
                        r.row,
                    )
                )
        if r.completed_at is not None and r.completed_at > now + timedelta(minutes=5):
            errs.append(FieldError("completed_at", "The completion time is in the future.", r.row))
        checked, answer_errs = validate_answers(survey, r.answers, row=r.row)
        errs.extend(answer_errs)
        if r.status == "completed":
            # Also on a row with other answer errors: every problem of the row at once (a
            # required question left empty beside a bad score was found only after the fix).
            answered = {qid for qid, v in checked.items() if v is not None}
            erred = {(e.field or "").split(".")[0] for e in errs}  # the cell said why already
            for q in survey.questions:
                if q.required and q.id not in answered and q.code not in erred:
                    old = existing.get(r.external_id or "")
                    if old is None or q.id not in {a.question_id for a in old.answers}:
                        errs.append(FieldError(q.code, "This question must be answered.", r.row))
        if errs:
            errors.extend(errs)
        else:
            plans.append((r, cid, checked))
    if validate_only:
        skipped = len(rows) - len(plans)
        return {
            "created": 0,
            "updated": 0,
            "skipped": skipped,
            "errors": [e.as_dict() for e in errors],
        }
    if keys:
        # New responses first: a request with the same key at this moment then meets the key's
        # unique index before it has written (and locked) anything else.
        plans.sort(key=lambda p: existing.get(p[0].external_id or "") is not None)
    if errors and not skip_invalid:
        bad_rows = len({e.row for e in errors})
        raise InvalidInput(
            Msg(
                "%(n)s problem(s) in %(rows)s row(s); nothing was saved.",
                n=len(errors),
                rows=bad_rows,
            ),
            field=errors[0].field,
            errors=errors,
        )
    created = updated = 0
    for r, cid, checked in plans:
        response = existing.get(r.external_id or "")
        before = None
        if response is None:
            external = (
                None
                if r.external_id and r.external_id.startswith(EXPORT_ID_PREFIX)
                else r.external_id
            )
            inv = _open_invitation(session, survey.id, cid, now) if cid is not None else None
            if inv is not None and _invitation_response(session, inv) is not None:
                inv = None
            response = SurveyResponse(
                survey_id=survey.id,
                customer_id=cid,
                invitation_id=inv.id if inv else None,
                channel=r.channel or channel,
                source=source,
                status="partial",
                started_at=r.completed_at or now,
                external_id=external,
                idempotency_key=keys(r.row) if keys else None,
            )
            session.add(response)
            created += 1
        else:
            before = response_snapshot(response)
            response.customer_id = cid if cid is not None else response.customer_id
            response.channel = r.channel or response.channel
            updated += 1
        response.entered_by_id = actor.id
        _apply(response, checked)
        if r.status == "completed":
            when = r.completed_at or response.completed_at or now
            response.status = "completed"
            response.completed_at = when
            if response.invitation_id is not None:
                inv = session.get(SurveyInvitation, response.invitation_id)
                if inv is not None and inv.completed_at is None:
                    inv.completed_at = when
        session.flush()
        record(
            session,
            actor,
            "create" if before is None else "update",
            "survey_response",
            response.id,
            before,
            response_snapshot(response),
        )
        if response.status == "completed":
            # Subscribers are idempotent per response (a re-import awards nothing twice).
            emit("survey.answered", session, response=response, actor=actor)
    return {
        "created": created,
        "updated": updated,
        "skipped": len(rows) - len(plans),
        "errors": [e.as_dict() for e in errors],
    }
