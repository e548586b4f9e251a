"""Size limits on what clients send: request bodies, uploads, JSON nesting, ``custom_fields``.

``BodyLimitMiddleware`` is a pure ASGI middleware (it never buffers a multipart upload): a
declared ``Content-Length`` over the limit is refused before the application runs, and a body
sent without one (chunked) is counted as it streams and refused once it passes the limit. JSON
bodies (at most ``max_body_bytes``) are read whole first so their nesting depth can be checked
before any parser recurses into them. The same ``Limits`` are visible to services through
``current_limits()`` (the request's app settings, else the process settings), so file readers and
validators apply one configuration. See docs/security.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retento.core.config import Settings, get_settings
from retento.core.errors import FieldError, InvalidInput, Msg, RetentoError

log = logging.getLogger("retento.limits")


@dataclass(frozen=True)
class Limits:
    """Every limit in one place (``RETENTO_MAX_*`` settings)."""

    body_bytes: int = 1024 * 1024
    upload_bytes: int = 50 * 1024 * 1024
    json_depth: int = 32
    custom_fields_bytes: int = 64 * 1024
    custom_fields_keys: int = 100
    xlsx_uncompressed_bytes: int = 1024 * 1024 * 1024
    xlsx_part_bytes: int = 100 * 1024 * 1024
    xlsx_ratio: int = 100
    xlsx_entries: int = 10_000
    xlsx_rows: int = 1_000_000
    xlsx_columns: int = 200

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            body_bytes=s.max_body_bytes,
            upload_bytes=s.max_upload_bytes,
            json_depth=s.max_json_depth,
            custom_fields_bytes=s.max_custom_fields_bytes,
            custom_fields_keys=s.max_custom_fields_keys,
            xlsx_uncompressed_bytes=s.max_xlsx_uncompressed_bytes,
            xlsx_part_bytes=s.max_xlsx_part_bytes,
            xlsx_ratio=s.max_xlsx_ratio,
            xlsx_entries=s.max_xlsx_entries,
            xlsx_rows=s.max_xlsx_rows,
            xlsx_columns=s.max_xlsx_columns,
        )


_current: ContextVar[Limits | None] = ContextVar("retento_limits", default=None)


def current_limits() -> Limits:
    """The limits of the app serving this request, else those of the environment (CLI)."""
    return _current.get() or Limits.from_settings(get_settings())


@contextmanager
def use_limits(limits: Limits) -> Iterator[Limits]:
    """Apply ``limits`` to the code run inside the block (requests, CLI commands, tests)."""
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


def human_size(n: int) -> str:
    """1048576 -> '1 MB', 4096 -> '4 KB' (binary units, the way the limits are configured)."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
    return f"{n} bytes"


class LimitExceeded(RetentoError):
    """413: the request, the file or what it unpacks to is larger than the server accepts.

    The message is a ``Msg``: English here, translated with its values by the web.
    """

    def __init__(self, msgid: str, field: str | None = None, row: int | None = None, **params: Any):
        message = Msg(msgid, **params)
        errors = [FieldError(field, message, row=row)] if row is not None else []
        super().__init__(413, "payload_too_large", message, field, errors)


BODY_TOO_LARGE = "The request is too large: the limit is %(limit)s."
UPLOAD_TOO_LARGE = "The upload is too large: the limit is %(limit)s."


def body_too_large(limit: int, upload: bool) -> LimitExceeded:
    return LimitExceeded(UPLOAD_TOO_LARGE if upload else BODY_TOO_LARGE, limit=human_size(limit))


# --- JSON nesting ------------------------------------------------------------------------------

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?|[\[\]{},]', re.S)


def _max_depth(text: str) -> int:
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = deepest = 0
    for ch in brackets:
        if ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def json_depth_problem(text: str, limit: int) -> str | None:
    """None if ``text`` nests at most ``limit`` levels, else the dotted path of the first value
    that goes deeper (object keys, array indexes; '' at the top level). Brackets inside strings
    do not count. Linear and without recursion: safe on input that would crash a parser."""
    if _max_depth(text) <= limit:
        return None
    stack: list[list[Any]] = []  # [bracket, current key or index]
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok[0] == '"':
            if m.group(1) and stack and stack[-1][0] == "{":
                raw = tok[: m.start(1) - m.start(0)]
                try:
                    stack[-1][1] = json.loads(raw)
                except ValueError:
                    stack[-1][1] = raw[1:-1]
        elif tok == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] += 1
        elif tok in "[{":
            if len(stack) >= limit:
                return ".".join(str(e[1]) for e in stack)
            stack.append([tok, 0 if tok == "[" else ""])
        elif stack:
            stack.pop()
    return ""


def check_json_depth(text: str, field: str | None, limit: int | None = None) -> None:
    """422 naming the field if ``text`` nests deeper than the limit."""
    limit = limit or current_limits().json_depth
    where = json_depth_problem(text, limit)
    if where is None:
        return
    # The field is the top-level member (the one a client recognises); the message has the path.
    name = field or where.split(".", 1)[0] or None
    at = ".".join(p for p in (field, where) if p)
    raise InvalidInput(
        f"{name or 'The JSON body'}: nested deeper than {limit} levels"
        + (f" (at {at[:200]})." if at and at != name else "."),
        field=name,
    )


def _depth_of(value: Any, limit: int, level: int = 0) -> bool:
    """True if ``value`` (parsed JSON) nests deeper than ``limit``; stops early."""
    if isinstance(value, dict | list):
        if level >= limit:
            return True
        items = value.values() if isinstance(value, dict) else value
        return any(_depth_of(v, limit, level + 1) for v in items)
    return False


def check_custom_fields(value: dict[str, Any] | None, field: str = "custom_fields") -> None:
    """Raise InvalidInput (422 naming ``field``) if a custom-fields object is over its limits."""
    if not value:
        return
    lim = current_limits()
    if len(value) > lim.custom_fields_keys:
        raise InvalidInput(
            Msg(
                "%(field)s: at most %(max)s keys are allowed (%(n)s given).",
                field=field,
                max=lim.custom_fields_keys,
                n=len(value),
            ),
            field=field,
        )
    if _depth_of(value, lim.json_depth - 1):
        raise InvalidInput(
            Msg("%(field)s: nested deeper than %(max)s levels.", field=field, max=lim.json_depth),
            field=field,
        )
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
    if size > lim.custom_fields_bytes:
        raise InvalidInput(
            Msg(
                "%(field)s: %(size)s of JSON; the limit is %(limit)s.",
                field=field,
                size=human_size(size),
                limit=human_size(lim.custom_fields_bytes),
            ),
            field=field,
        )


def custom_fields_validator(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Pydantic ``AfterValidator`` form of ``check_custom_fields``."""
    try:
        check_custom_fields(value)
    except InvalidInput as exc:
        # pydantic reports the field's location itself; keep only the reason
        raise ValueError(exc.message.split(": ", 1)[-1]) from None
    return value


# --- the middleware ----------------------------------------------------------------------------


class _TooLarge(HTTPException):
    """Raised by ``receive`` once a streamed body passes the limit (FastAPI re-raises it)."""

    def __init__(self, error: LimitExceeded):
        super().__init__(413, error.message)
        self.error = error


# JSON endpoints that are uploads in all but encoding (5,000 survey responses are ~2 MB): they
# get the upload limit instead of the body limit.
BULK_JSON_PATHS = (re.compile(r"^/api/v1/surveys/[^/]+/responses/bulk$"),)


def _is_json(ctype: str) -> bool:
    return ctype == "application/json" or (ctype.startswith("application/") and "+json" in ctype)


def _error_response(scope: Scope, err: RetentoError):
    """problem+json for the API, the web's friendly page (``app.state.page_error``) otherwise."""
    from starlette.requests import Request

    from retento.core.handlers import is_api, problem_response

    request = Request(scope)
    app = scope.get("app")
    page = getattr(getattr(app, "state", None), "page_error", None)
    if page is not None and not is_api(request):
        try:
            return page(request, err)
        except Exception:  # the error page itself must never fail
            log.exception("could not render the limit error page")
    return problem_response(err, request)


class BodyLimitMiddleware:
    """Refuse request bodies over the limit (413) and JSON nested too deep (422)."""

    METHODS_WITHOUT_BODY = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

    def __init__(self, app: ASGIApp, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current.set(self.limits)
        try:
            await self._http(scope, receive, send)
        finally:
            _current.reset(token)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: RetentoError):
        response = _error_response(scope, err)
        if err.status == 413:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        upload = ctype == "multipart/form-data" or any(
            p.match(scope["path"]) for p in BULK_JSON_PATHS
        )
        limit = self.limits.upload_bytes if upload else self.limits.body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, body_too_large(limit, upload))
            return
        has_body = scope["method"] not in self.METHODS_WITHOUT_BODY or declared not in (None, "0")
        if has_body and (_is_json(ctype) or not ctype) and declared != "0":
            await self._json(scope, receive, send, limit)
            return
        await self._streamed(scope, receive, send, limit, upload)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Read the (small) JSON body whole, check its depth, then hand it on unchanged."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._refuse(scope, receive, send, body_too_large(limit, False))
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        data = b"".join(chunks)
        if data:
            try:
                text = data.decode(json.detect_encoding(data), errors="replace")
            except LookupError:
                text = data.decode("utf-8", errors="replace")
            try:
                check_json_depth(text, None, self.limits.json_depth)
            except InvalidInput as err:
                await self._refuse(scope, receive, send, err)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(
        self, scope: Scope, receive: Receive, send: Send, limit: int, upload: bool
    ) -> None:
        """Count the body as the application reads it; past the limit, answer 413 whatever the
        application would have answered (code between may swallow the exception)."""
        state = {"size": 0, "error": None, "started": False, "replaced": False}

        async def counted() -> Message:
            if state["error"] is not None:
                raise _TooLarge(state["error"])
            message = await receive()
            if message["type"] == "http.request":
                state["size"] += len(message.get("body", b""))
                if state["size"] > limit:
                    state["error"] = body_too_large(limit, upload)
                    raise _TooLarge(state["error"])
            return message

        async def guarded_send(message: Message) -> None:
            if state["error"] is not None and not state["started"]:
                if not state["replaced"]:
                    state["replaced"] = True
                    await self._refuse(scope, receive, send, state["error"])
                return  # drop what the application sends instead
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except _TooLarge:
            if state["started"]:
                raise
            if not state["replaced"]:
                state["replaced"] = True
                await self._refuse(scope, receive, send, state["error"])
        except Exception:
            if state["error"] is None or state["started"]:
                raise
            if not state["replaced"]:
                state["replaced"] = True
                await self._refuse(scope, receive, send, state["error"])


def install_limits(app, settings: Settings) -> None:
    """Add the body-limit middleware (call before the session middleware: it must run inside
    it so the web's error page can read the session's language)."""
    app.add_middleware(BodyLimitMiddleware, limits=Limits.from_settings(settings))
