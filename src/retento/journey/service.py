"""Experience record state changes and queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound, choice_error
from retento.core.idempotency import insert_keyed, keyed_row
from retento.core.pagination import apply_sort, paginate
from retento.core.validation import clean_idempotency_key
from retento.core.versioning import lock_for_edit
from retento.customers.lookup import customer_match
from retento.customers.service import referenced_customer, require_customer_change
from retento.journey.labels import MODE_LABELS
from retento.journey.models import MODES, ExperienceRecord
from retento.journey.schemas import ExperienceCreate, ExperienceUpdate
from retento.surveys.models import SurveyAnswer, SurveyResponse
from retento.touchpoints.models import STAGES, Touchpoint
from retento.web.i18n import N_
from retento.web.labels import label_msgid

# Experience records use the touchpoint permissions: they are notes on the same interactions,
# kept by the same people (agents for their own customers; analysts read).
READ, CREATE, UPDATE, DELETE = (
    "touchpoint:read",
    "touchpoint:create",
    "touchpoint:update",
    "touchpoint:delete",
)

SORTABLE = {
    "id": ExperienceRecord.id,
    "occurred_at": ExperienceRecord.occurred_at,
    "mode": ExperienceRecord.mode,
    "stage": ExperienceRecord.stage,
    "rating": ExperienceRecord.rating,
}


def get_experience(session: Session, experience_id: int, *, actor: User) -> ExperienceRecord:
    require(actor, READ)
    e = session.get(ExperienceRecord, experience_id)
    if e is None:
        raise NotFound("Experience record", experience_id)
    return e


def _check_external_id(session: Session, external_id: str | None, own_id: int | None = None):
    if external_id is None:
        return
    other = session.scalar(
        select(ExperienceRecord.id).where(ExperienceRecord.external_id == external_id)
    )
    if other is not None and other != own_id:
        raise Conflict(
            Msg(
                "external_id '%(value)s' is already used by experience record %(id)s.",
                value=external_id,
                id=other,
            ),
            field="external_id",
        )


def _links(session: Session, customer_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Check that the linked touchpoint, survey response and answer exist and belong to the
    customer; fill the stage and time they imply. Returns the derived values."""
    out: dict[str, Any] = {}
    tp_id = values.get("touchpoint_id")
    tp = None
    if tp_id is not None:
        tp = session.get(Touchpoint, tp_id)
        if tp is None:
            raise InvalidInput(
                Msg("Touchpoint %(id)s does not exist.", id=tp_id), field="touchpoint_id"
            )
        if tp.customer_id != customer_id:
            raise InvalidInput(
                Msg("Touchpoint %(id)s belongs to another customer.", id=tp_id),
                field="touchpoint_id",
            )
    resp_id = values.get("survey_response_id")
    answer_id = values.get("survey_answer_id")
    resp = None
    if answer_id is not None:
        answer = session.get(SurveyAnswer, answer_id)
        if answer is None:
            raise InvalidInput(
                Msg("Survey answer %(id)s does not exist.", id=answer_id), field="survey_answer_id"
            )
        if resp_id is not None and answer.response_id != resp_id:
            raise InvalidInput(
                Msg(
                    "Survey answer %(id)s is not part of survey response %(response)s.",
                    id=answer_id,
                    response=resp_id,
                ),
                field="survey_answer_id",
            )
        resp_id = answer.response_id
        out["survey_response_id"] = resp_id
    if resp_id is not None:
        resp = session.get(SurveyResponse, resp_id)
        if resp is None:
            raise InvalidInput(
                Msg("Survey response %(id)s does not exist.", id=resp_id),
                field="survey_response_id",
            )
        if resp.customer_id != customer_id:
            raise InvalidInput(
                Msg("Survey response %(id)s belongs to another customer.", id=resp_id),
                field="survey_answer_id" if answer_id is not None else "survey_response_id",
            )
    if values.get("stage") is None and tp is not None:
        out["stage"] = tp.stage
    if values.get("occurred_at") is None:
        if tp is not None:
            out["occurred_at"] = tp.occurred_at
        elif resp is not None:
            out["occurred_at"] = resp.completed_at or resp.started_at
    return out


def _same_experience(data: ExperienceCreate):
    details = (data.customer_id, data.mode, data.rating, data.note)
    return lambda e: (e.customer_id, e.mode, e.rating, e.note) == details


def create_experience(
    session: Session,
    data: ExperienceCreate,
    *,
    actor: User,
    idempotency_key: str | None = None,
) -> ExperienceRecord:
    """Record how the customer experienced a moment of the journey (SPEC §7).

    With ``idempotency_key`` (the form's key, the API's ``Idempotency-Key``) a repeated request
    (a double click, a retry) returns the record the first one saved; the same key with another
    customer, mode, rating or note is a 409 (core.idempotency)."""
    customer = referenced_customer(session, data.customer_id)
    require_customer_change(actor, customer, CREATE)
    key = clean_idempotency_key(idempotency_key)
    if key and (done := keyed_row(session, ExperienceRecord, key, _same_experience(data))):
        return done
    _check_external_id(session, data.external_id)
    values = data.model_dump()
    values.update(_links(session, customer.id, values))
    if values["stage"] is None:
        raise InvalidInput(
            "Choose the journey stage, or link a touchpoint to take its stage.", field="stage"
        )
    if values["occurred_at"] is None:
        values["occurred_at"] = utcnow()
    e, created = insert_keyed(
        session,
        ExperienceRecord(**values, created_by_id=actor.id, idempotency_key=key),
        key,
        _same_experience(data),
    )
    if created:
        record(session, actor, "create", "experience", e.id, None, snapshot(e))
    return e


def update_experience(
    session: Session,
    experience_id: int,
    data: ExperienceUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> ExperienceRecord:
    """Change the fields sent; a stale ``version``/If-Match gets 409 (core.versioning)."""
    e = get_experience(session, experience_id, actor=actor)
    require_customer_change(actor, e.customer, UPDATE)
    lock_for_edit(session, e, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("mode", "rating", "stage", "occurred_at"):
        if key in changes and changes[key] is None:
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    if "external_id" in changes:
        _check_external_id(session, changes["external_id"], e.id)
    link_keys = ("touchpoint_id", "survey_response_id", "survey_answer_id")
    if any(k in changes for k in link_keys):
        merged = {k: changes.get(k, getattr(e, k)) for k in link_keys}
        if "survey_answer_id" in changes and "survey_response_id" not in changes:
            merged["survey_response_id"] = None  # the answer names its own response
        merged["stage"] = changes.get("stage")
        merged["occurred_at"] = changes.get("occurred_at", "keep")
        derived = _links(session, e.customer_id, merged)
        if "touchpoint_id" in changes and "stage" not in changes and "stage" in derived:
            changes["stage"] = derived["stage"]
        if "survey_response_id" in derived:
            changes["survey_response_id"] = derived["survey_response_id"]
    before = snapshot(e)
    for key, value in changes.items():
        setattr(e, key, value)
    session.flush()
    record(session, actor, "update", "experience", e.id, before, snapshot(e))
    return e


def delete_experience(
    session: Session, experience_id: int, *, actor: User, version: int | None = None
) -> None:
    """Delete an experience record; a stale ``version``/If-Match gets 409 and deletes nothing."""
    e = get_experience(session, experience_id, actor=actor)
    require_customer_change(actor, e.customer, DELETE)
    lock_for_edit(session, e, version)
    before = snapshot(e)
    session.delete(e)
    session.flush()
    record(session, actor, "delete", "experience", experience_id, before, None)


def experience_filter(
    *,
    customer_id: int | None = None,
    mode: str | None = None,
    stage: str | None = None,
    rating: int | None = None,
    touchpoint_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    customer_q: str | None = None,
):
    """Experience records matching every filter given (an unknown mode or stage is a 422)."""
    # Named as the experience page's filters name them; the API's English keeps the codes.
    if mode and mode not in MODES:
        choices = [(m, MODE_LABELS[m]) for m in MODES]
        raise choice_error("mode", N_("Experience mode"), choices).refuse()
    if stage and stage not in STAGES:
        choices = [(s, label_msgid("stage", s)) for s in STAGES]
        raise choice_error("stage", N_("Journey stage"), choices).refuse()
    stmt = select(ExperienceRecord)
    if customer_q:
        stmt = stmt.where(ExperienceRecord.customer_id.in_(customer_match(customer_q)))
    for col, val in (
        (ExperienceRecord.customer_id, customer_id),
        (ExperienceRecord.mode, mode),
        (ExperienceRecord.stage, stage),
        (ExperienceRecord.rating, rating),
        (ExperienceRecord.touchpoint_id, touchpoint_id),
    ):
        if val is not None and val != "":
            stmt = stmt.where(col == val)
    if since:
        stmt = stmt.where(ExperienceRecord.occurred_at >= since)
    if until:
        stmt = stmt.where(ExperienceRecord.occurred_at < until)
    return stmt


def list_experiences(
    session: Session,
    *,
    actor: User,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    **filters,
):
    require(actor, READ)
    stmt = apply_sort(
        experience_filter(**filters), sort, SORTABLE, ExperienceRecord.occurred_at.desc()
    )
    return paginate(session, stmt, limit=limit, offset=offset)
