"""Web pages: record and edit experience records, and the 360 panel "Journey and experience"."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError
from retento.core.validation import DbId
from retento.customers.models import Customer
from retento.customers.panels import Panel, register_panel
from retento.customers.service import can_change_customer, get_customer, require_customer_change
from retento.journey import labels as _labels  # noqa: F401  (registers the mode labels)
from retento.journey import service
from retento.journey.models import MODES, RATING_MAX, RATING_MIN, ExperienceRecord
from retento.journey.schemas import ExperienceCreate, ExperienceRead, ExperienceUpdate
from retento.surveys.languages import name_in
from retento.surveys.models import Survey, SurveyResponse
from retento.touchpoints.forms import local_now, parse_local
from retento.touchpoints.models import STAGES, Touchpoint
from retento.web.conflict import (
    STALE,
    conflict_page,
    delete_conflict_page,
    form_base,
    form_version,
    read_base,
)
from retento.web.forms import FORM_KEY, PageForm, reissue_key_on_reuse, submitted_key
from retento.web.i18n import N_, Formatter
from retento.web.labels import label_msgid
from retento.web.render import (
    PageUser,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    request_locale,
    tr,
)

router = page_router()

FIELDS = ("mode", "rating", "stage", "touchpoint_id", "survey_response_id", "occurred_at", "note")
FIELD_LABELS = {
    "mode": N_("Experience mode"),
    "rating": N_("Experience rating"),
    "stage": N_("Journey stage"),
    "touchpoint_id": N_("Touchpoint"),
    "survey_response_id": N_("Survey response"),
    "survey_answer_id": N_("Survey answer"),
    "occurred_at": N_("When"),
    "note": N_("Note"),
}
PANEL_RECORDS = 10


def _choices(request: Request, session: Session, customer: Customer) -> dict[str, Any]:
    """The selects of the form: modes, ratings, stages and the customer's recent touchpoints
    and survey responses to link."""

    def opts(group: str, codes: tuple[str, ...]) -> list[tuple[str, str]]:
        return [(c, tr(request, label_msgid(group, c))) for c in codes]

    settings = request.app.state.settings
    fmt = Formatter(request_locale(request), settings.timezone, settings.currency)
    tps = session.scalars(
        select(Touchpoint)
        .where(Touchpoint.customer_id == customer.id)
        .order_by(Touchpoint.occurred_at.desc())
        .limit(50)
    ).all()
    responses = session.execute(
        select(
            SurveyResponse.id,
            Survey.name,
            Survey.language,
            Survey.translations,
            SurveyResponse.started_at,
        )
        .join(Survey, Survey.id == SurveyResponse.survey_id)
        .where(SurveyResponse.customer_id == customer.id)
        .order_by(SurveyResponse.started_at.desc())
        .limit(50)
    ).all()

    def when(dt) -> str:
        return fmt.date(dt)

    return {
        "modes": opts("experience_mode", MODES),
        "ratings": [(str(r), f"{r} / {RATING_MAX}") for r in range(RATING_MAX, RATING_MIN - 1, -1)],
        "stages": opts("stage", STAGES),
        "touchpoints": [
            (
                str(t.id),
                f"#{t.id} · {when(t.occurred_at)} · {tr(request, label_msgid('stage', t.stage))}"
                f" · {tr(request, label_msgid('channel', t.channel))}",
            )
            for t in tps
        ],
        "responses": [
            (str(rid), f"#{rid} · {when(at)} · {name_in(name, own, texts, fmt.locale)}")
            for rid, name, own, texts, at in responses
        ],
    }


def _render_form(
    request: Request,
    session: Session,
    customer: Customer,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    record: ExperienceRecord | None = None,
    status_code: int = 200,
    base: dict[str, Any] | None = None,
) -> Response:
    """The form; a record's edit form carries the values it was loaded with (``base``, for the
    stale-edit page), kept when it comes back with errors."""
    return render(
        request,
        "journey/form.html",
        status_code=status_code,
        customer=customer,
        record=record,
        form=values,
        errors=errors or {},
        base=base if base is not None or record is None else _posted(request, record),
        **_choices(request, session, customer),
    )


def _read_form(form: Any) -> dict[str, str]:
    return {k: str(form.get(k) or "").strip() for k in FIELDS}


def _int(raw: str, field: str, request: Request) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput(tr(request, "Choose one of the listed values."), field=field)
    return int(raw)


def _payload(request: Request, shown: dict[str, str]) -> dict[str, Any]:
    return {
        "mode": shown["mode"] or None,
        "rating": _int(shown["rating"], "rating", request),
        "stage": shown["stage"] or None,
        "touchpoint_id": _int(shown["touchpoint_id"], "touchpoint_id", request),
        "survey_response_id": _int(shown["survey_response_id"], "survey_response_id", request),
        "occurred_at": (
            parse_local(request, shown["occurred_at"], "occurred_at")
            if shown["occurred_at"]
            else None
        ),
        "note": shown["note"] or None,
    }


@router.get("/customers/{customer_id:int}/experiences/new")
def experience_new(
    request: Request, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """The form for recording how the customer experienced a moment of the journey."""
    customer = get_customer(session, customer_id, actor=user)
    require_customer_change(user, customer, service.CREATE)
    values = {"mode": "feel", "rating": "4", "occurred_at": local_now(request)}
    tp = request.query_params.get("touchpoint", "")
    if tp.isdigit():
        values["touchpoint_id"] = tp
        values["occurred_at"] = ""
    return _render_form(request, session, customer, values)


@router.post("/customers/{customer_id:int}/experiences/new")
def experience_create(
    request: Request, form: PageForm, session: DbSession, user: PageUser, customer_id: DbId
) -> Response:
    """Save the record; errors come back next to the fields."""
    customer = get_customer(session, customer_id, actor=user)
    shown = _read_form(form)
    shown[FORM_KEY] = submitted_key(form)
    try:
        data = ExperienceCreate(customer_id=customer.id, **_payload(request, shown))
        service.create_experience(
            session, data, actor=user, idempotency_key=shown[FORM_KEY] or None
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        customer = get_customer(session, customer_id, actor=user)
        errors = form_errors(request, exc)
        reissue_key_on_reuse(errors, shown)
        return _render_form(request, session, customer, shown, errors, None, 422)
    flash(request, tr(request, "The experience record was saved."))
    return redirect(request, f"/customers/{customer.id}#panel-journey")


def _editable(session: Session, user: User, experience_id: int) -> ExperienceRecord:
    e = service.get_experience(session, experience_id, actor=user)
    require_customer_change(user, e.customer, service.UPDATE)
    return e


def _values(request: Request, e: ExperienceRecord) -> dict[str, str]:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(request.app.state.settings.timezone)
    return {
        "mode": e.mode,
        "rating": str(e.rating),
        "stage": e.stage,
        "touchpoint_id": str(e.touchpoint_id or ""),
        "survey_response_id": str(e.survey_response_id or ""),
        "occurred_at": e.occurred_at.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
        "note": e.note or "",
        "version": str(e.version),
    }


def _posted(request: Request, e: ExperienceRecord) -> dict[str, str]:
    """The record as its edit form posts it unchanged (input name → value): the form's hidden
    base of a three-way stale-edit page (``web.conflict``), read back by ``_update``."""
    return {k: v for k, v in _values(request, e).items() if k != "version"}


def _update(request: Request, shown: dict[str, str]) -> ExperienceUpdate:
    """The edit form's values (``_read_form``) as the service's input."""
    payload = _payload(request, shown)
    if payload["stage"] is None:
        payload.pop("stage")  # blank: keep it, or take the newly linked touchpoint's
    if payload["occurred_at"] is None:
        payload.pop("occurred_at")
    return ExperienceUpdate(**payload)


@router.get("/experiences/{experience_id:int}/edit")
def experience_edit(
    request: Request, session: DbSession, user: PageUser, experience_id: DbId
) -> Response:
    """The form for correcting an experience record."""
    e = _editable(session, user, experience_id)
    return _render_form(request, session, e.customer, _values(request, e), record=e)


@router.post("/experiences/{experience_id:int}/edit")
def experience_update(
    request: Request, form: PageForm, session: DbSession, user: PageUser, experience_id: DbId
) -> Response:
    """Save the correction; a form loaded before someone else saved gets the conflict page."""
    e = _editable(session, user, experience_id)
    customer_id = e.customer_id
    shown = _read_form(form)
    shown["version"] = str(form.get("version") or "").strip()
    expected = form_version(form)
    update: ExperienceUpdate | None = None
    try:
        update = _update(request, shown)
        service.update_experience(
            session, experience_id, update, actor=user, expected_version=expected
        )
    except STALE:
        session.rollback()
        current = service.get_experience(session, experience_id, actor=user)
        assert update is not None
        return conflict_page(
            request,
            session,
            entity="experience",
            record=current,
            title=tr(request, "Experience record #%(id)s", id=current.id),
            submitted=update.model_dump(exclude_unset=True, exclude={"version"}),
            current=ExperienceRead.model_validate(current).model_dump(),
            labels=FIELD_LABELS,
            form=form,
            action=f"/experiences/{experience_id}/edit",
            reload_url=f"/experiences/{experience_id}/edit",
            cancel_url=f"/customers/{customer_id}",
            expected=expected,
            base=read_base(
                form,
                lambda v: _update(request, _read_form(v)).model_dump(
                    exclude_unset=True, exclude={"version"}
                ),
            ),
            current_form=_posted(request, current),
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        e = service.get_experience(session, experience_id, actor=user)
        errors, base = form_errors(request, exc), form_base(form)
        return _render_form(request, session, e.customer, shown, errors, e, 422, base)
    flash(request, tr(request, "The experience record was saved."))
    return redirect(request, f"/customers/{customer_id}#panel-journey")


@router.post("/experiences/{experience_id:int}/delete")
def experience_delete(
    request: Request, form: PageForm, session: DbSession, user: PageUser, experience_id: DbId
) -> Response:
    """Delete an experience record (audited). A delete from a page loaded before someone else
    saved the record deletes nothing: 409 saying what changed (a form without a version, from
    a page older than this check, deletes as before)."""
    e = service.get_experience(session, experience_id, actor=user)
    customer_id = e.customer_id
    expected = form_version(form)  # a version that is no number: 422, nothing deleted
    try:
        service.delete_experience(session, experience_id, actor=user, version=expected)
    except STALE:
        session.rollback()
        current = service.get_experience(session, experience_id, actor=user)
        return delete_conflict_page(
            request,
            session,
            entity="experience",
            record_id=current.id,
            title=tr(request, "Experience record #%(id)s", id=current.id),
            expected=expected,
            version=current.version,
            action=f"/experiences/{experience_id}/delete",
            reload_url=f"/experiences/{experience_id}/edit",
            cancel_url=f"/customers/{customer_id}#panel-journey",
            labels=FIELD_LABELS,
        )
    flash(request, tr(request, "The experience record was deleted."))
    return redirect(request, f"/customers/{customer_id}#panel-journey")


@cache
def _journey_stmt() -> Any:
    """journey_of's statement, built once (the 360 page reads it on every view)."""
    return (
        select(
            Touchpoint.stage,
            func.min(Touchpoint.occurred_at),
            func.max(Touchpoint.occurred_at),
            func.count(),
        )
        .where(
            Touchpoint.customer_id == bindparam("customer_id", type_=Touchpoint.customer_id.type)
        )
        .group_by(Touchpoint.stage)
    )


@cache
def _records_stmt() -> Any:
    """The panel's newest experience records, each carrying the customer's record count."""
    return (
        select(
            ExperienceRecord.id,
            ExperienceRecord.occurred_at,
            ExperienceRecord.mode,
            ExperienceRecord.stage,
            ExperienceRecord.rating,
            ExperienceRecord.note,
            func.count().over().label("total"),
        )
        .where(
            ExperienceRecord.customer_id
            == bindparam("customer_id", type_=ExperienceRecord.customer_id.type)
        )
        .order_by(ExperienceRecord.occurred_at.desc(), ExperienceRecord.id.desc())
        .limit(PANEL_RECORDS)
    )


def journey_of(session: Session, customer_id: int) -> list[dict[str, Any]]:
    """The customer's journey: for each stage reached, the first and last touchpoint and how
    many there were, in stage order."""
    rows = session.execute(_journey_stmt(), {"customer_id": customer_id}).all()
    by_stage = {r[0]: r for r in rows}
    return [
        {"stage": s, "first": by_stage[s][1], "last": by_stage[s][2], "n": int(by_stage[s][3])}
        for s in STAGES
        if s in by_stage
    ]


def _panel(request: Request, session: Session, customer: Customer, user: User) -> dict | None:
    # The newest records as plain rows, each carrying the customer's record count (one query).
    records = session.execute(_records_stmt(), {"customer_id": customer.id}).all()
    total = records[0].total if records else 0
    may_edit = can(user, service.CREATE) and can_change_customer(user, customer)
    return {
        "journey": journey_of(session, customer.id),
        "stages_total": len(STAGES),
        "records": records,
        "records_total": int(total or 0),
        "may_edit": may_edit,
        "rating_max": RATING_MAX,
    }


register_panel(
    Panel(
        key="journey",
        title=N_("Journey and experience"),
        template="journey/_panel.html",
        load=_panel,
        permission=service.READ,
        order=15,
        slot="main",
    )
)
