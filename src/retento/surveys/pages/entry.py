"""Answers entered by agents: the phone form and the paper / on-site grid."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.core.deps import DbSession
from retento.core.errors import Conflict, InvalidInput, RetentoError
from retento.core.validation import DbId, is_id
from retento.customers.models import Customer
from retento.surveys import responses, service
from retento.surveys.bulk_entry import bulk_responses_once
from retento.surveys.duplicates import DuplicateResponse, earlier_responses
from retento.surveys.languages import Shown
from retento.surveys.models import (
    Survey,
    SurveyQuestion,
)
from retento.surveys.pages.common import (
    ENTRY_ROWS,
    MAX_ENTRY_ROWS,
    answer_errors,
    entry_channels,
    form_text,
    in_reader_language,
    parse_answers,
    survey_url,
)
from retento.surveys.schemas import (
    BulkResponses,
    BulkRow,
    ResponseCreate,
)
from retento.web import pickers
from retento.web.forms import PageForm, submitted_key
from retento.web.i18n import N_
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    form_errors,
    page_router,
    redirect,
    render,
    tr,
    tr_count,
)

router = page_router()


def _respond_page(
    request: Request,
    session: Session,
    user: User,
    survey: Survey,
    form: dict[str, Any],
    values: dict[str, dict[str, Any]],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The agent's answer form (phone call or on site); warns when the customer already
    answered this survey (saving then needs the "record another response" confirmation)."""
    customer = None
    earlier: list[dict[str, Any]] = []
    if is_id(str(form.get("customer_id") or "")):
        customer = session.get(Customer, int(form["customer_id"]))
        if customer is not None:
            earlier = earlier_responses(session, survey.id, customer.id)
    # The customer is picked by name, customer number (external id), phone, email or id.
    chosen = None
    if customer is not None and can(user, "customer:read"):
        chosen = pickers.label_of(session, "customer", customer.id, user)
    return render(
        request,
        "surveys/respond.html",
        status_code=status_code,
        # Sections and questions in the agent's language where the survey has them.
        survey=in_reader_language(request, survey),
        customer=customer,
        chosen=chosen,
        form=form,
        values=values,
        answer_errors=errors or {},
        errors=errors or {},
        channels=entry_channels(request),
        earlier=earlier,
    )


def _require_active(request: Request, survey: Survey) -> None:
    """Answer forms open only for active surveys."""
    if survey.status != "active":
        raise Conflict(tr(request, "This survey is not active, so it takes no answers."), "status")


@router.get("/surveys/{survey_id:int}/respond")
def respond_form(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """The form an agent fills in while calling a customer."""
    require(user, "survey:respond")
    chosen = request.query_params.get("survey", "")
    if is_id(chosen) and int(chosen) != survey_id:
        # The 360 page's "Start phone survey" form sends the chosen survey as ?survey=; its
        # script moves the form to that survey's address, but without the script (or before it
        # has loaded) the form goes to the first survey's: go to the chosen one.
        query = urlencode({k: v for k, v in request.query_params.items() if k != "survey"})
        return redirect(request, f"/surveys/{int(chosen)}/respond" + (f"?{query}" if query else ""))
    survey = service.get_survey(session, survey_id, actor=user)
    _require_active(request, survey)
    form = {
        "customer_id": request.query_params.get("customer_id", ""),
        "channel": request.query_params.get("channel", "phone"),
    }
    return _respond_page(request, session, user, survey, form, {})


@router.post("/surveys/{survey_id:int}/respond")
def respond_save(
    request: Request, raw: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Save what the customer said; back to the customer's 360 page."""
    survey = service.get_survey(session, survey_id, actor=user)
    form = {k: form_text(raw, k) for k in ("customer_id", "channel", "action", "allow_duplicate")}
    answers, shown, errors = parse_answers(request, survey.questions, raw)
    complete = form["action"] != "save"
    try:
        # Typed text (a name, an external id: no JavaScript, or typed fast) is the id of its
        # only match; none or several: the field says so, with the answers kept.
        form["customer_id"] = pickers.resolve(
            request, session, "customer", "customer_id", form["customer_id"], user
        )
    except InvalidInput as exc:
        errors = {**errors, "customer_id": exc.message}
    try:
        if errors:
            raise InvalidInput(tr(request, "Please correct the highlighted fields."), field="")
        if form["customer_id"] and not is_id(form["customer_id"]):
            raise InvalidInput(tr(request, "Enter a whole number."), field="customer_id")
        customer_id = int(form["customer_id"]) if form["customer_id"] else None
        responses.record_response(
            session,
            survey_id,
            ResponseCreate(
                customer_id=customer_id,
                channel=form["channel"] or "phone",
                answers=answers,
                complete=complete,
                allow_duplicate=form["allow_duplicate"] == "1",
            ),
            actor=user,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        if isinstance(exc, DuplicateResponse):
            errors = {
                "allow_duplicate": tr(
                    request,
                    "This customer already answered this survey. Tick "
                    "“Record another response” to save a second response.",
                )
            }
            return _respond_page(request, session, user, survey, form, shown, errors, 409)
        if not errors:
            errors = (
                answer_errors(request, exc, answers)
                if isinstance(exc, RetentoError)
                else form_errors(request, exc)
            )
        return _respond_page(request, session, user, survey, form, shown, errors, 422)
    flash(
        request,
        tr(request, "The answers were saved.")
        if complete
        else tr(request, "The answers were saved as unfinished."),
    )
    if form["customer_id"]:
        return redirect(request, f"/customers/{form['customer_id']}")
    return redirect(request, survey_url(survey_id, "/results"))


def _entry_columns(survey: Survey | Shown) -> list[SurveyQuestion | Shown]:
    """The questions shown as columns of the bulk entry grid."""
    return list(survey.questions)


def _entry_page(
    request: Request,
    survey: Survey,
    rows: list[dict[str, Any]],
    channel: str,
    errors: dict[str, str] | None = None,
    problems: list[dict[str, Any]] | None = None,
    message: str = "",
    status_code: int = 200,
    form_key: str = "",
) -> Response:
    """The paper / on-site entry grid (question texts, in its tooltips, in the reader's
    language where the survey has them); ``form_key`` is the key sent back (a new one if
    empty)."""
    seen = in_reader_language(request, survey)
    return render(
        request,
        "surveys/entry.html",
        status_code=status_code,
        survey=seen,
        rows=rows,
        channel=channel,
        errors=errors or {},
        problems=problems or [],
        message=message,
        columns=_entry_columns(seen),
        channels=entry_channels(request),
        form={"form_key": form_key},
    )


@router.get("/surveys/{survey_id:int}/entry")
def entry_form(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """A grid for typing in paper or on-site questionnaires, one per row."""
    require(user, "survey:respond")
    survey = service.get_survey(session, survey_id, actor=user)
    _require_active(request, survey)
    n = request.query_params.get("rows", "")
    count = (
        min(int(n), MAX_ENTRY_ROWS) if n.isascii() and n.isdigit() and int(n) > 0 else ENTRY_ROWS
    )
    return _entry_page(request, survey, [{} for _ in range(count)], "mail")


@router.post("/surveys/{survey_id:int}/entry")
def entry_save(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Save every filled row, or none of them if any row has a problem.

    The grid carries a key drawn with the page (surveys.bulk_entry): sent again (a double click,
    Back and send) it saves nothing twice. The key is kept when the grid comes back with errors
    (nothing was saved) and replaced when it was used for other rows."""
    survey = service.get_survey(session, survey_id, actor=user)
    channel = form_text(form, "channel") or "mail"
    key = submitted_key(form)
    count = (
        min(int(form_text(form, "rows") or 0), MAX_ENTRY_ROWS)
        if is_id(form_text(form, "rows"))
        else 0
    )
    rows: list[dict[str, Any]] = []
    bulk: list[BulkRow] = []
    positions: list[int] = []
    errors: dict[str, str] = {}
    for i in range(count):
        prefix = f"r{i}."
        customer = form_text(form, prefix + "customer")
        answers, shown, parse_errs = parse_answers(request, survey.questions, form, prefix + "q.")
        rows.append({"customer": customer, "values": shown})
        for code, msg in parse_errs.items():
            errors[f"{i}.{code}"] = msg
        filled = [
            a
            for a in answers
            if a.number is not None or a.expectation is not None or a.text or a.choices
        ]
        if not customer and not filled and not parse_errs:
            continue
        ident: dict[str, Any] = {}
        if is_id(customer):
            ident["customer_id"] = int(customer)
        elif customer:
            # Digits that are no row id (0, 20 digits) may still be someone's external id.
            ident["customer_external_id"] = customer
        try:
            bulk.append(BulkRow(answers=filled, **ident))
        except ValidationError:  # an external id longer than any stored one
            errors[f"{i}.customer"] = tr(request, "No customer matches “%(q)s”.", q=customer[:64])
            continue
        positions.append(i)
    problems: list[dict[str, Any]] = []
    try:
        if errors:
            raise InvalidInput(tr(request, "Please correct the highlighted fields."), field="")
        if not bulk:
            raise InvalidInput(tr(request, "Fill in at least one row."), field="")
        report, fresh = bulk_responses_once(
            session,
            survey_id,
            BulkResponses(channel=channel, responses=bulk),
            actor=user,
            idempotency_key=key or None,
        )
    except (ValidationError, RetentoError) as exc:
        session.rollback()
        if isinstance(exc, RetentoError) and exc.status in (401, 403, 404):
            raise
        if isinstance(exc, Conflict) and exc.field == "Idempotency-Key":
            # The grid was sent before with other rows (Back, rows changed) and those were
            # saved: a new key lets these rows be saved as new questionnaires, once checked.
            message = tr(
                request,
                "This form was already sent with other rows, and those were saved. Check "
                "these rows: sending the form again saves them as new questionnaires.",
            )
            return _entry_page(request, survey, rows, channel, message=message, status_code=409)
        message = tr(request, "Please correct the highlighted fields.")
        if isinstance(exc, RetentoError):
            message = error_text(request, exc.message) if not errors else message
            for fe in exc.errors:
                if fe.row is None or not 1 <= fe.row <= len(positions):
                    continue
                i = positions[fe.row - 1]
                field = "customer" if fe.field and fe.field.startswith("customer") else fe.field
                errors.setdefault(f"{i}.{field}", error_text(request, fe.message))
                problems.append(
                    {"row": i + 1, "field": fe.field, "message": error_text(request, fe.message)}
                )
        if isinstance(exc, RetentoError) and exc.field == "Idempotency-Key":
            key = ""  # a key the service refused (not printable): a new one
        return _entry_page(request, survey, rows, channel, errors, problems, message, 422, key)
    if not fresh:  # the same grid again: its questionnaires were saved by the first send
        flash(
            request,
            tr(request, "These questionnaires were already saved; nothing was saved again."),
        )
        return redirect(request, survey_url(survey_id, "/results"))
    flash(
        request,
        tr_count(
            request,
            report["created"] + report["updated"],
            N_("One questionnaire was saved."),
            N_("%(n)s questionnaires were saved."),
        ),
    )
    return redirect(request, survey_url(survey_id, "/results"))
