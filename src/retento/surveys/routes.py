"""Survey JSON API, including the public one-time-link endpoints (no login)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.background import BackgroundTask

from retento.core.deps import CurrentUser, DbSession, IdempotencyKey
from retento.core.errors import InvalidInput, Msg, NotFound
from retento.core.pagination import Page
from retento.core.validation import DbId, Limit, Offset, TimeFilter
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.surveys import (
    bulk_entry,
    csi_report,
    distributions,
    fileio,
    languages,
    reports,
    responses,
    service,
)
from retento.surveys.models import Survey
from retento.surveys.schemas import (
    AnswersSubmit,
    BulkResponses,
    DistributionCreate,
    DistributionRead,
    DistributionRun,
    ImportReport,
    InvitationLink,
    PublicSurvey,
    ResponseCreate,
    ResponseRead,
    SurveyCreate,
    SurveyFromTemplate,
    SurveyRead,
    SurveySummary,
    SurveyUpdate,
    TranslationIn,
)

router = APIRouter(prefix="/api/v1", tags=["surveys"])

MAX_UPLOAD = 20 * 1024 * 1024


@router.get("/surveys", response_model=Page[SurveySummary])
def list_surveys(
    session: DbSession,
    user: CurrentUser,
    status: Literal["draft", "active", "closed"] | None = None,
    q: str | None = Query(None, description="Part of the name."),
    sort: str | None = Query(None, description="Field or -field: id, name, status, created_at."),
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = service.list_surveys(
        session, actor=user, status=status, q=q, sort=sort, limit=limit, offset=offset
    )
    return Page(
        items=[SurveySummary.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


def _read(s: Survey) -> SurveyRead:
    """A survey with the languages it can be shown in and the texts each other one lacks."""
    return SurveyRead.model_validate(s).model_copy(
        update={
            "languages": languages.complete_languages(s),
            "missing": {
                lang: [f"{m.where}:{m.code}:{m.key}" for m in languages.missing_texts(s, lang)]
                for lang in languages.other_languages(s)
            },
        }
    )


@router.post("/surveys", response_model=SurveyRead, status_code=201)
def create_survey(data: SurveyCreate, session: DbSession, user: CurrentUser):
    """Create a draft survey; texts in the second language go in ``translations``."""
    return _read(service.create_survey(session, data, actor=user))


@router.post("/surveys/from-template", response_model=SurveyRead, status_code=201)
def create_from_template(data: SurveyFromTemplate, session: DbSession, user: CurrentUser):
    return _read(service.create_from_template(session, data, actor=user))


@router.get("/surveys/{survey_id}", response_model=SurveyRead)
def get_survey(survey_id: DbId, session: DbSession, user: CurrentUser, response: Response):
    """One survey with its questions; the ``ETag`` header carries its version."""
    s = service.get_survey(session, survey_id, actor=user)
    set_etag(response, s)
    return _read(s)


@router.patch("/surveys/{survey_id}", response_model=SurveyRead)
def update_survey(
    survey_id: DbId,
    data: SurveyUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change settings, status or (before answers) questions; a stale ``If-Match`` or
    ``version`` gets 409."""
    s = service.update_survey(
        session, survey_id, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, s)
    return _read(s)


@router.put("/surveys/{survey_id}/translations/{lang}", response_model=SurveyRead)
def put_translation(
    survey_id: DbId,
    lang: Literal["en", "zh_CN"],
    data: TranslationIn,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Replace every text of the survey in its second language ``lang`` (also after answers
    exist); blank texts are removed. A customer sees ``lang`` only once nothing is missing."""
    s = service.set_translation(
        session, survey_id, lang, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, s)
    return _read(s)


@router.delete("/surveys/{survey_id}", status_code=204)
def delete_survey(survey_id: DbId, session: DbSession, user: CurrentUser, if_match: IfMatch = None):
    """Delete a survey without responses (204); a stale ``If-Match`` gets 409, nothing deleted."""
    service.delete_survey(session, survey_id, actor=user, version=parse_if_match(if_match))
    return Response(status_code=204)


def _run(session, dist, user) -> DistributionRun:
    from retento.auth.permissions import can
    from retento.surveys import distribution_jobs

    stage, fraction = distribution_jobs.progress(session, dist)
    done = dist.status == "done"
    emails = distributions.distribution_emails(session, dist) if done else None
    left_out = distributions.skipped(session, dist.id)
    return DistributionRun(
        **DistributionRead.model_validate(dist).model_dump(),
        stage=stage,
        progress=fraction,
        url=f"/api/v1/survey-distributions/{dist.id}",
        links=(
            distributions.invitation_links(session, dist.id, actor=user)
            if done and can(user, "survey:manage")
            else None
        ),
        emails_queued=emails.queued if emails else 0,
        not_emailed=emails.not_emailed if emails else 0,
        skipped_open_invitations=left_out.open_invitations,
        skipped_archived=left_out.archived,
        skipped_no_consent=left_out.no_consent,
    )


@router.post(
    "/surveys/{survey_id}/distributions",
    response_model=DistributionRun,
    status_code=202,
    responses={
        202: {
            "description": "Checked and queued: a worker creates the invitations and e-mails. "
            "Poll the url (also in the Location header) until status is done; the links are "
            "there then."
        }
    },
)
def create_distribution(
    survey_id: DbId,
    data: DistributionCreate,
    session: DbSession,
    user: CurrentUser,
    request: Request,
    idempotency_key: IdempotencyKey = None,
):
    """Send the survey to a segment on one channel: checked now (422/409 naming the field),
    done by a worker (202)."""
    from retento.surveys import distribution_jobs

    dist, created = distributions.start_distribution_once(
        session, survey_id, data, actor=user, idempotency_key=idempotency_key
    )
    # A repeated key returns the first distribution as it stands now; its item is queued once.
    item_id = distribution_jobs.enqueue(session, dist, data, user.id) if created else None
    session.flush()
    body = jsonable_encoder(_run(session, dist, user))
    background = None
    if item_id is not None and request.app.state.settings.run_work_in_web:
        from retento.work.queue import run_in_web

        background = BackgroundTask(run_in_web, request.app.state.session_factory, item_id)
    # The request's unit of work (distribution + work item) is committed before the response
    # goes out; the background task (or a worker) then runs the item.
    return JSONResponse(
        body, status_code=202, headers={"Location": body["url"]}, background=background
    )


@router.get("/survey-distributions/{distribution_id}", response_model=DistributionRun)
def get_distribution(distribution_id: DbId, session: DbSession, user: CurrentUser):
    """A distribution's status and progress; once done, its links (survey:manage) and e-mails."""
    from retento.auth.permissions import require
    from retento.surveys.models import SurveyDistribution

    require(user, "survey:read")
    dist = session.get(SurveyDistribution, distribution_id)
    if dist is None:
        raise NotFound("Distribution", distribution_id, field="distribution_id")
    return _run(session, dist, user)


@router.get("/surveys/{survey_id}/distributions", response_model=list[DistributionRead])
def list_distributions(survey_id: DbId, session: DbSession, user: CurrentUser):
    return distributions.list_distributions(session, survey_id, actor=user)


@router.get("/survey-distributions/{distribution_id}/links", response_model=list[InvitationLink])
def distribution_links(distribution_id: DbId, session: DbSession, user: CurrentUser):
    return distributions.invitation_links(session, distribution_id, actor=user)


@router.get("/surveys/{survey_id}/responses", response_model=Page[ResponseRead])
def list_responses(
    survey_id: DbId,
    session: DbSession,
    user: CurrentUser,
    status: Literal["partial", "completed"] | None = None,
    channel: Literal["online", "phone", "mail", "onsite"] | None = None,
    customer_id: DbId | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    rows, total = responses.list_responses(
        session,
        survey_id,
        actor=user,
        status=status,
        channel=channel,
        customer_id=customer_id,
        limit=limit,
        offset=offset,
    )
    return Page(
        items=[ResponseRead.model_validate(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/surveys/{survey_id}/responses", response_model=ResponseRead, status_code=201)
def record_response(survey_id: DbId, data: ResponseCreate, session: DbSession, user: CurrentUser):
    return responses.record_response(session, survey_id, data, actor=user)


@router.post("/surveys/{survey_id}/responses/bulk", response_model=ImportReport)
def bulk_responses(
    survey_id: DbId,
    data: BulkResponses,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    """Paper or on-site questionnaires, all rows or none; a retry with the same
    ``Idempotency-Key`` records nothing again and answers with the first report."""
    return bulk_entry.bulk_responses(
        session, survey_id, data, actor=user, idempotency_key=idempotency_key
    )


@router.get("/survey-responses/{response_id}", response_model=ResponseRead)
def get_response(response_id: DbId, session: DbSession, user: CurrentUser):
    return responses.get_response(session, response_id, actor=user)


@router.patch("/survey-responses/{response_id}", response_model=ResponseRead)
def update_response(response_id: DbId, data: AnswersSubmit, session: DbSession, user: CurrentUser):
    return responses.update_response(session, response_id, data, actor=user)


@router.post("/surveys/{survey_id}/import", response_model=ImportReport)
def import_responses(
    survey_id: DbId,
    session: DbSession,
    user: CurrentUser,
    file: UploadFile = File(...),
    skip_invalid: bool = Form(False),
    channel: Literal["online", "phone", "mail", "onsite"] = Form("mail"),
):
    if (file.size or 0) > MAX_UPLOAD:
        raise InvalidInput("The file is larger than 20 MB.", field="file")
    return fileio.import_responses(
        session,
        survey_id,
        file.file,  # spooled to a temporary file by the upload parser; XLSX is read from there
        file.filename or "upload.csv",
        actor=user,
        skip_invalid=skip_invalid,
        channel=channel,
    )


@router.get("/surveys/{survey_id}/export")
def export_responses(
    survey_id: DbId,
    session: DbSession,
    user: CurrentUser,
    format: Literal["csv", "xlsx"] = "csv",
    labels: Literal["en", "zh_CN"] | None = Query(
        None, description="Write choices as option labels in this language (default: values)."
    ),
):
    body = fileio.export_bytes(session, survey_id, actor=user, fmt=format, labels=labels)
    media = (
        "text/csv; charset=utf-8"
        if format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="survey-{survey_id}-responses.{format}"'
        },
    )


@router.get("/surveys/{survey_id}/results")
def survey_results(
    survey_id: DbId,
    session: DbSession,
    user: CurrentUser,
    tolerance: float | None = Query(None, description="Tolerance of c = b/a around 1."),
    since: TimeFilter | None = Query(None, description="Responses completed from (with zone)."),
    until: TimeFilter | None = Query(None, description="… until (exclusive)."),
    channel: str | None = Query(
        None, description="Only responses on this channel (online, phone, mail, onsite)."
    ),
    value_class: str | None = Query(
        None, description="Only respondents of this value class in the latest scoring run."
    ),
) -> dict:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(Msg("%(field)s needs a time zone.", field=name), field=name)
    return reports.survey_results(
        session,
        survey_id,
        actor=user,
        tolerance=tolerance,
        since=since,
        until=until,
        channel=channel,
        value_class=value_class,
    )


@router.get("/surveys/{survey_id}/delivered-value")
def delivered_value(
    survey_id: DbId, session: DbSession, user: CurrentUser, limit: int = Query(100, ge=1, le=5000)
) -> dict:
    return reports.delivered_value_report(session, survey_id, actor=user, limit=limit)


@router.get("/surveys/{survey_id}/csi")
def csi(
    survey_id: DbId,
    session: DbSession,
    user: CurrentUser,
    model: Literal["ecsi", "acsi"] = "ecsi",
    scheme: Literal["centroid", "factorial", "path"] = "centroid",
    bootstrap: int = Query(0, ge=0, le=2000),
) -> dict:
    return csi_report.csi_report(
        session, survey_id, actor=user, model=model, scheme=scheme, bootstrap=bootstrap
    )


@router.get("/surveys/{survey_id}/satisfaction-trap")
def satisfaction_trap(survey_id: DbId, session: DbSession, user: CurrentUser) -> list[dict]:
    return reports.satisfaction_trap(session, survey_id, actor=user)


@router.get("/customers/{customer_id}/surveys")
def customer_history(customer_id: DbId, session: DbSession, user: CurrentUser) -> list[dict]:
    return reports.customer_history(session, customer_id, actor=user)


@router.get("/public/surveys/{token}", response_model=PublicSurvey, tags=["public"])
def public_survey(
    token: str,
    session: DbSession,
    lang: Literal["en", "zh_CN"] | None = Query(None, description="The language wanted."),
    accept_language: str | None = Header(None),
):
    """The questions behind a one-time link (no login); saved answers come back for resuming.

    In ``lang``, else the customer's language, else the ``Accept-Language`` one — only when the
    survey has that language complete, otherwise in the survey's own language (``language``)."""
    browser = languages.browser_language(accept_language)
    return responses.public_survey(session, token, lang=lang, fallback=browser)


@router.post("/public/surveys/{token}/answers", tags=["public"])
def public_answers(token: str, data: AnswersSubmit, session: DbSession) -> dict:
    """Save answers behind a link; ``complete: true`` finishes the survey (once)."""
    r = responses.public_submit(session, token, data)
    return {"status": r.status, "answered": len(r.answers)}
