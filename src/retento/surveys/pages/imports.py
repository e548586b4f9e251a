"""Survey answers imported from a CSV or XLSX file."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError
from retento.core.validation import DbId
from retento.surveys import fileio, service
from retento.surveys.pages.common import (
    entry_channels,
    form_text,
    in_reader_language,
)
from retento.web.forms import PageForm
from retento.web.render import (
    PageUser,
    error_text,
    page_router,
    render,
    tr,
)

router = page_router()


def _in_language(request: Request, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The row problems with their messages in the reader's language (as the entry grid's)."""
    return [{**p, "message": error_text(request, p["message"])} for p in problems]


@router.get("/surveys/{survey_id:int}/import")
def import_form(request: Request, session: DbSession, user: PageUser, survey_id: DbId) -> Response:
    """Upload a CSV or XLSX file of responses."""
    require(user, "survey:import")
    survey = service.get_survey(session, survey_id, actor=user)
    return render(
        request,
        "surveys/import.html",
        survey=in_reader_language(request, survey),
        report=None,
        problems=[],
        form={"channel": "mail"},
        channels=entry_channels(request),
        columns=fileio.export_columns(survey),
    )


@router.post("/surveys/{survey_id:int}/import")
def import_upload(
    request: Request, form: PageForm, session: DbSession, user: PageUser, survey_id: DbId
) -> Response:
    """Import the file: all rows or none (or only the valid rows when asked); errors per row."""
    require(user, "survey:import")
    survey = service.get_survey(session, survey_id, actor=user)
    upload = form.get("file")
    channel = form_text(form, "channel") or "mail"
    skip = form.get("skip_invalid") == "1"
    shown = {"channel": channel, "skip_invalid": skip}
    report = None
    problems: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    status_code = 200
    try:
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise InvalidInput(tr(request, "Choose a CSV or XLSX file."), field="file")
        if (upload.size or 0) > 20 * 1024 * 1024:
            raise InvalidInput(tr(request, "The file is larger than 20 MB."), field="file")
        report = fileio.import_responses(
            session,
            survey_id,
            upload.file,  # spooled to a temporary file by the upload parser
            upload.filename,
            actor=user,
            skip_invalid=skip,
            channel=channel,
        )
        problems = _in_language(request, report["errors"])
    except RetentoError as exc:
        session.rollback()
        if exc.status in (401, 403, 404):
            raise
        problems = _in_language(request, [e.as_dict() for e in exc.errors])
        errors = {"": error_text(request, exc.message)}
        if exc.field == "file" or not problems:
            errors = {"file": error_text(request, exc.message)}
        status_code = 422
    survey = service.get_survey(session, survey_id, actor=user)
    return render(
        request,
        "surveys/import.html",
        status_code=status_code,
        survey=in_reader_language(request, survey),
        report=report,
        problems=problems,
        errors=errors,
        form=shown,
        channels=entry_channels(request),
        columns=fileio.export_columns(survey),
    )
