"""Turn errors into RFC 9457 problem details (API) — the web layer adds its own pages."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from retento.core.errors import (
    Conflict,
    FieldError,
    FieldValueError,
    InvalidInput,
    Msg,
    NotFound,
    RetentoError,
)
from retento.core.openapi import install_problem_docs
from retento.core.versioning import stale_to_error
from retento.web.i18n import DEFAULT_LOCALE, N_, accept_language, message_text

log = logging.getLogger("retento")

PROBLEM = "application/problem+json"


SECRET_FIELD_PARTS = ("password", "secret", "token", "api_key", "apikey")


def echoed_value(e: dict) -> object:
    """The rejected input to show back, or None: never a password, secret or token field, never
    a whole object (it may hold one), never the raw text of a body that is not valid JSON."""
    if e.get("type") in ("missing", "json_invalid"):
        return None
    if any(part in str(p).lower() for p in e.get("loc", ()) for part in SECRET_FIELD_PARTS):
        return None
    value = e.get("input")
    return None if isinstance(value, dict | list | tuple | bytes) else value


# Pydantic's refusals of a body that is there but is not an object (a list, a string, null).
NOT_AN_OBJECT = ("model_attributes_type", "model_type", "dict_type")


def _line_column(doc: object, pos: int) -> tuple[int, int] | None:
    """Line and column (1-based, as ``json.JSONDecodeError`` counts them) of ``pos`` in the
    decoded body ``doc``; None when FastAPI did not keep the text."""
    if not isinstance(doc, str) or not 0 <= pos <= len(doc):
        return None
    return doc.count("\n", 0, pos) + 1, pos - doc.rfind("\n", 0, pos)


def body_error(e: dict, body: object) -> FieldError | None:
    """The refusal of the request body as a whole (not one of its fields), in words: not valid
    JSON (where), missing, or not an object. ``field`` stays None: ``body`` is also the name of
    real fields (a complaint note's). None for an error about one field."""
    loc = tuple(e.get("loc", ()))
    kind = e.get("type")
    if kind == "json_invalid" and loc[:1] == ("body",):
        # The decoder's reason ("Expecting value", "Unterminated string starting at"), read
        # on: "… not valid JSON: expecting value at line 2, column 7."
        text = str((e.get("ctx") or {}).get("error") or "invalid JSON").removesuffix(" at")
        reason = Msg(text[:1].lower() + text[1:])
        pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
        where = _line_column(body, pos) if pos is not None else None
        if where is None:
            return FieldError(
                None, Msg("The request body is not valid JSON: %(reason)s.", reason=reason)
            )
        return FieldError(
            None,
            Msg(
                "The request body is not valid JSON: %(reason)s at line %(line)s, column "
                "%(column)s.",
                reason=reason,
                line=where[0],
                column=where[1],
            ),
        )
    if loc != ("body",):
        return None
    if kind == "missing":
        return FieldError(
            None,
            Msg(
                "The request body is missing or empty: send a JSON object "
                "(Content-Type: application/json)."
            ),
        )
    if kind in NOT_AN_OBJECT:
        return FieldError(
            None,
            Msg("The request body must be a JSON object (Content-Type: application/json)."),
        )
    return None


def unreadable_body(exc: StarletteHTTPException) -> RetentoError | None:
    """FastAPI's plain 400 "There was an error parsing the body" for a JSON body that is not
    UTF-8 (Latin-1, GBK): in words, with where the first bad byte is (its line, and its byte
    within the line, as an editor's hex view counts them). None for any other 400."""
    cause = exc.__cause__
    if exc.status_code != 400 or not isinstance(cause, UnicodeDecodeError):
        return None
    data, pos = bytes(cause.object), cause.start
    line = data.count(b"\n", 0, pos) + 1
    byte = pos - data.rfind(b"\n", 0, pos)
    return RetentoError(
        400,
        "invalid_input",
        Msg(
            "The request body is not UTF-8 text (byte 0x%(byte)s at line %(line)s, byte "
            "%(column)s): send JSON encoded as UTF-8.",
            byte=f"{data[pos]:02X}",
            line=line,
            column=byte,
        ),
    )


# Where FastAPI found a refused value: the first element of each error's ``loc``.
INPUT_LOCATIONS = ("body", "query", "path", "header", "cookie")

# A body field the schema does not have (``extra="forbid"``: a typo such as ``stauts``, or a
# field that cannot be changed there): refused, so the client learns nothing was applied.
UNKNOWN_FIELD = N_("This field is not known here (check its spelling).")


def validation_to_error(exc: RequestValidationError) -> RetentoError:
    """422 naming the fields; an invalid *path* parameter (an id out of range) is 404 instead."""
    for e in exc.errors():
        loc = e.get("loc", ())
        if loc and loc[0] == "path":
            name = str(loc[1]) if len(loc) > 1 else "path"
            return NotFound(
                name.removesuffix("_id").replace("_", " ").capitalize(), e.get("input"), field=name
            )
    errors = []
    named: set[int] = set()  # errors whose message names their field already
    for e in exc.errors():
        whole = body_error(e, getattr(exc, "body", None))
        if whole is not None:
            errors.append(whole)
            continue
        # Only the first element says where (body, query, header …): a field may itself be
        # called ``body`` (a complaint note's), and a header is named as sent (Idempotency-Key).
        loc = [str(p) for p in e.get("loc", ())]
        if loc and loc[0] in INPUT_LOCATIONS:
            loc = loc[1:]
        msg = e.get("msg", "invalid value")
        if e.get("type") == "extra_forbidden":
            msg = UNKNOWN_FIELD
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        refusal = (e.get("ctx") or {}).get("error")
        if isinstance(refusal, FieldValueError):
            # A model validator naming the field it refuses; its message names it in words.
            loc.append(refusal.field)
            msg = refusal.message
            named.add(len(errors))
        errors.append(
            FieldError(
                ".".join(loc) or None,
                msg,
                value=echoed_value(e),
            )
        )
    first = errors[0] if errors else FieldError(None, "invalid input")
    message = first.message
    if first.field and 0 not in named:
        # The message as a Msg of its own, so a page translates it too (pydantic's English
        # sentences are in the catalogues), not only the "field: message" around it.
        message = Msg("%(field)s: %(message)s", field=first.field, message=Msg(first.message))
    return InvalidInput(message, field=first.field, errors=errors)


_NOT_NULL = (
    re.compile(r'null value in column "(\w+)"'),  # PostgreSQL
    re.compile(r"not null constraint failed: \w+\.(\w+)"),  # SQLite
)


_KEY_COLUMNS = (
    re.compile(r"key \(([^)]+)\)="),  # PostgreSQL's DETAIL: Key (customer_id, code)=(...)
    re.compile(r"unique constraint failed: ([\w., ]+)"),  # SQLite: table.col, table.col2
)


def key_field(text: str) -> str | None:
    """The column a broken unique or reference rule names (never its value, which may be
    personal data): the last column of a composite key that is not another row's id, since
    ``(customer_id, code)`` is a clash on the code."""
    for pattern in _KEY_COLUMNS:
        if m := pattern.search(text):
            cols = [c.strip().strip('"').rsplit(".", 1)[-1] for c in m.group(1).split(",")]
            cols = [c for c in cols if c]
            own = [c for c in cols if c != "id" and not c.endswith("_id")]
            return (own or cols or [None])[-1]
    return None


def integrity_to_error(exc: IntegrityError) -> RetentoError:
    text = str(exc.orig).lower()
    for pattern in _NOT_NULL:
        if m := pattern.search(text):
            # An explicit null sent for a required value: the input is invalid, not conflicting.
            return InvalidInput(
                Msg("%(field)s: must not be null", field=m.group(1)), field=m.group(1)
            )
    field = key_field(text)
    if field is None:
        field = "external_id" if "external_id" in text else None
    if field is None:
        return Conflict(
            "The change conflicts with existing data (a unique or reference rule was broken).",
        )
    if "foreign key" in text:
        # Usually a race: the row referred to was deleted after the form was read.
        return Conflict(
            Msg("%(field)s refers to a record that does not exist (any more).", field=field),
            field=field,
        )
    # Usually a race too: another request saved the same value between our check and insert.
    return Conflict(Msg("Another record already has this %(field)s.", field=field), field=field)


LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout passed (psycopg.errors.LockNotAvailable)
# PostgreSQL aborted this transaction to break a deadlock (psycopg.errors.DeadlockDetected):
# two requests took the same rows' locks in opposite orders. Nothing of it was written either.
DEADLOCK_DETECTED = "40P01"
BUSY = "The record is being changed in another request. Try again in a moment."


class Busy(RetentoError):
    """503: a lock this request needed stayed taken past ``RETENTO_DB_LOCK_TIMEOUT_MS``."""

    headers = {"Retry-After": "1"}

    def __init__(self) -> None:
        super().__init__(503, "busy", BUSY)  # a fixed message: the web page translates it


OVERLOADED = "The server is busy. Try again in a moment."


class Overloaded(RetentoError):
    """503: every database connection stayed in use past the pool's timeout (a burst of slow
    requests, e.g. many logins at once, each hashing a password): nothing was done."""

    headers = {"Retry-After": "2"}

    def __init__(self) -> None:
        super().__init__(503, "overloaded", OVERLOADED)


SQLITE_BUSY = 5  # primary result code; SQLITE_BUSY_SNAPSHOT (517) and the others share it


def is_lock_timeout(exc: BaseException) -> bool:
    """True for the database error of a lock wait that ran out: PostgreSQL's ``lock_timeout``,
    or SQLite's "database is locked" (the busy timeout passed, or a transaction that had read
    could not start writing because another connection wrote meanwhile, which SQLite reports
    at once instead of waiting), or PostgreSQL breaking a deadlock by aborting this transaction.
    Either way nothing was written and a retry may pass (a 503 ``busy`` with Retry-After)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in (LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED):
        return True
    code = getattr(orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == SQLITE_BUSY


def accept_language_locale(header: str | None) -> str:
    """The language an ``Accept-Language`` header asks for among ours (``web.i18n.
    accept_language``), else English (``DEFAULT_LOCALE``, not the installation's language)."""
    return accept_language(header) or DEFAULT_LOCALE


def localized_problem(err: RetentoError, locale: str) -> dict:
    """``err``'s problem with its human texts (``detail``, ``errors[].message``) in ``locale``,
    as the web's error pages say them (``web.i18n.message_text``); ``code``, ``field`` and the
    extension members stay codes."""
    body = err.problem()
    if locale == DEFAULT_LOCALE:
        return body
    if body.get("detail") == err.message:
        body["detail"] = message_text(locale, err.message)
    for item, error in zip(body.get("errors", ()), err.errors, strict=False):
        if item.get("message") == error.message:
            item["message"] = message_text(locale, error.message)
    return body


def problem_response(err: RetentoError, request: Request | None = None) -> JSONResponse:
    """The problem+json of ``err``; in Chinese when the ``request``'s ``Accept-Language`` asks
    for it (``accept_language_locale``), else in English, byte for byte as without one."""
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else {}
    locale = DEFAULT_LOCALE
    if request is not None:
        locale = accept_language_locale(request.headers.get("accept-language"))
    body = localized_problem(err, locale)
    if locale != DEFAULT_LOCALE:
        headers["Content-Language"] = "zh-CN"
    headers["Vary"] = "Accept-Language"
    return JSONResponse(body, status_code=err.status, media_type=PROBLEM, headers=headers)


def is_api(request: Request) -> bool:
    return (
        request.url.path.startswith("/api/")
        or "application/json" in request.headers.get("accept", "")
        or request.url.path == "/healthz"
    )


def allowed_methods(request: Request) -> str:
    """Every method some route accepts on the request's path (the ``Allow`` header of a 405)."""
    methods = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(r.matches(scope)[0] == Match.FULL for r in request.app.router.routes):
            methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def install_api_handlers(app: FastAPI) -> None:
    """Register handlers; ``app.state.page_error`` (set by the web layer) renders HTML errors."""

    install_problem_docs(app)

    def render(request: Request, err: RetentoError):
        page = getattr(request.app.state, "page_error", None)
        if page is not None and not is_api(request):
            return page(request, err)
        return problem_response(err, request)

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
        err = unreadable_body(exc) or RetentoError(exc.status_code, code, str(exc.detail))
        response = render(request, err)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only; GET and POST of
            # one path are separate routes, so collect them all.
            response.headers["Allow"] = allowed_methods(request)
        return response

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError):
        # A value the schema types let through but the database refused (out of range, NUL …):
        # the client's input is at fault, not the server. Logged so the type can be tightened.
        log.warning(
            "database refused a value on %s %s: %s", request.method, request.url.path, exc.orig
        )
        return render(request, InvalidInput("A value is outside what the database can store."))

    def internal_error(request: Request, exc: Exception):
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return render(
            request,
            RetentoError(
                500, "internal_error", "Something went wrong on our side; the error was logged."
            ),
        )

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError):
        if not is_lock_timeout(exc):
            return internal_error(request, exc)
        # Another transaction held the row past the lock timeout: nothing was written (the
        # request's transaction is rolled back); the client may simply try again.
        log.warning("lock wait timed out on %s %s", request.method, request.url.path)
        err = Busy()
        response = render(request, err)
        response.headers.update(err.headers)
        return response

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout):
        log.warning("no database connection free for %s %s", request.method, request.url.path)
        err = Overloaded()
        response = render(request, err)
        response.headers.update(err.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        return internal_error(request, exc)
