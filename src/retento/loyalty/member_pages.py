"""Web: the members list with export links and the member import form (CSV or XLSX)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, RetentoError
from retento.dataio.downloads import download
from retento.loyalty import members_io, programme
from retento.loyalty.member_routes import MAX_UPLOAD, list_members
from retento.web.forms import PageForm
from retento.web.render import (
    PageUser,
    error_text,
    flash,
    page_router,
    redirect,
    render,
    tr,
)

router = page_router()
PAGE = 50


def _page(request, session, user, tier: str = "", offset: int = 0, errors=None, status_code=200):
    try:
        page = list_members(session, actor=user, tier=tier or None, limit=PAGE, offset=offset)
    except InvalidInput:
        tier = ""
        page = list_members(session, actor=user, tier=None, limit=PAGE, offset=offset)
    return render(
        request,
        "loyalty/members.html",
        status_code=status_code,
        page=page,
        tier=tier,
        offset=offset,
        size=PAGE,
        tiers=programme.list_tiers(session, actor=user),
        import_errors=errors or [],
    )


@router.get("/loyalty/members")
def members(
    request: Request, session: DbSession, user: PageUser, tier: str = "", offset: int = 0
) -> Response:
    """Members (50 a page, optionally of one tier), export links and the import form."""
    return _page(request, session, user, tier[:30], max(0, min(offset, 2**31 - 1)))


@router.get("/loyalty/members/export.{fmt}")
def export(request: Request, session: DbSession, user: PageUser, fmt: str) -> Response:
    """All members as CSV (UTF-8 with BOM) or XLSX, streamed like every list export."""
    require(user, "data:export")
    return download(
        request,
        user,
        members_io.member_batches,
        fmt=members_io.check_export_format(fmt),
        filename=members_io.EXPORT_NAME,
        sheet=tr(request, "Members"),
    )


@router.post("/loyalty/members/import")
def import_members(
    request: Request, form: PageForm, session: DbSession, user: PageUser
) -> Response:
    """All rows or none: a file with problems is listed row by row and nothing is written."""
    require(user, "loyalty:manage")
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput(tr(request, "Choose a file."), field="file")
        try:
            data = upload.file.read(MAX_UPLOAD + 1)
        finally:
            upload.file.close()
        if len(data) > MAX_UPLOAD:
            raise InvalidInput(tr(request, "The file is larger than 50 MB."), field="file")
        rep = members_io.import_members(session, data, upload.filename, actor=user)
    except RetentoError as exc:
        session.rollback()
        if exc.status == 403:
            raise
        # The rows' messages (and the file's) in the reader's language, values put back.
        errors = [
            {**e.as_dict(), "message": error_text(request, e.message)} for e in exc.errors
        ] or [{"field": exc.field, "message": error_text(request, exc.message)}]
        return _page(request, session, user, errors=errors, status_code=exc.status)
    flash(
        request,
        tr(
            request,
            "%(rows)s rows imported: %(enrolled)s enrolled, %(posted)s opening balances posted, "
            "%(replayed)s imported before.",
        )
        % {
            "rows": rep.rows,
            "enrolled": rep.enrolled,
            "posted": rep.posted,
            "replayed": rep.replayed,
        },
    )
    return redirect(request, "/loyalty/members")
