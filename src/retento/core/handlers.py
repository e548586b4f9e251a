"""Turn errors into RFC 9457 problem details (API) — the web layer adds its own pages."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from retento.core.errors import Conflict, FieldError, InvalidInput, RetentoError
from retento.core.versioning import stale_to_error

log = logging.getLogger("retento")

PROBLEM = "application/problem+json"


def validation_to_error(exc: RequestValidationError) -> InvalidInput:
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        msg = e.get("msg", "invalid value")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        errors.append(
            FieldError(
                ".".join(loc) or None,
                msg,
                value=e.get("input") if e.get("type") != "missing" else None,
            )
        )
    first = errors[0] if errors else FieldError(None, "invalid input")
    where = f"{first.field}: " if first.field else ""
    return InvalidInput(f"{where}{first.message}", field=first.field, errors=errors)


def integrity_to_error(exc: IntegrityError) -> Conflict:
    text = str(exc.orig).lower()
    field = "external_id" if "external_id" in text else None
    return Conflict(
        "The change conflicts with existing data (a unique or reference rule was broken).",
        field=field,
    )


def problem_response(err: RetentoError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    return JSONResponse(err.problem(), status_code=err.status, media_type=PROBLEM, headers=headers)


def is_api(request: Request) -> bool:
    return (
        request.url.path.startswith("/api/")
        or "application/json" in request.headers.get("accept", "")
        or request.url.path == "/healthz"
    )


def install_api_handlers(app: FastAPI) -> None:
    """Register handlers; ``app.state.page_error`` (set by the web layer) renders HTML errors."""

    def render(request: Request, err: RetentoError):
        page = getattr(request.app.state, "page_error", None)
        if page is not None and not is_api(request):
            return page(request, err)
        return problem_response(err)

    @app.exception_handler(RetentoError)
    async def _retento(request: Request, exc: RetentoError):
        response = render(request, exc)
        # e.g. Retry-After on 429 rate_limited
        response.headers.update(getattr(exc, "headers", None) or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return render(request, validation_to_error(exc))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError):
        return render(request, integrity_to_error(exc))

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError):
        # Another transaction updated the row between our read and our versioned UPDATE.
        return render(request, stale_to_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            403: "forbidden",
        }.get(exc.status_code, "http_error")
        return render(request, RetentoError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return render(
            request,
            RetentoError(
                500, "internal_error", "Something went wrong on our side; the error was logged."
            ),
        )
