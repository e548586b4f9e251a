"""Input limits shared by every interface: id ranges, text safety, names, dates.

The database has limits the type system does not know about: ids are 64-bit (``BIGINT`` on
PostgreSQL, ``core.types.BigId``), PostgreSQL text cannot hold NUL, no driver can encode a lone UTF-16 surrogate, and a
timestamp near ``datetime.max`` overflows when converted to UTC. These types and checks turn
such input into a 4xx naming the field instead of a database error (a 500).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from annotated_types import Ge, Le
from fastapi import Request
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

from retento.core.errors import InvalidInput, Msg, param
from retento.core.types import ID_MAX

INT32_MAX = 2**31 - 1
"""Largest value of an ``INTEGER`` column (counters, offsets; not ids, which are ``ID_MAX``)."""

DbId = Annotated[int, Ge(1), Le(ID_MAX)]
"""An id of a row: 1 … 2⁶³−1 (``BIGINT``). As a path parameter an id out of range answers 404
(no such row can exist); as a query filter or body field, 422 naming the field."""

Offset = Annotated[int, Ge(0), Le(INT32_MAX)]
"""A list offset: 0 … 2³¹−1."""

Limit = Annotated[int, Ge(1), Le(500)]
"""A page size: 1 … 500 (``core.pagination.MAX_LIMIT``)."""


def _refuse_bool(error_type: str, message: str) -> BeforeValidator:
    """A validator refusing JSON ``true``/``false`` where a number is meant (pydantic would read
    ``true`` as 1), with pydantic's own error for the type."""

    def check(value: object) -> object:
        if isinstance(value, bool):
            from pydantic_core import PydanticCustomError

            raise PydanticCustomError(error_type, message)
        return value

    return BeforeValidator(check)


# Numbers a client sends as JSON: never a boolean; text such as "4" still reads, as the web
# forms send their numbers as text (so not ``StrictFloat``/``StrictInt``).
Number = Annotated[float, _refuse_bool("float_type", "Input should be a valid number")]
"""A number such as a survey score."""
WholeNumber = Annotated[int, _refuse_bool("int_type", "Input should be a valid integer")]
"""A whole number such as a number of loyalty points."""

MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(2200, 12, 31)
"""Accepted calendar range for every date and timestamp a client sends (after conversion to UTC)."""

_RANGE = {"low": MIN_DAY.isoformat(), "top": MAX_DAY.isoformat()}
"""The accepted range as ``Msg`` parameters: "date must be between %(low)s and %(top)s"."""


def check_day(value: date) -> date:
    if not MIN_DAY <= value <= MAX_DAY:
        raise ValueError(Msg("date must be between %(low)s and %(top)s", **_RANGE))
    return value


def utc_in_range(value: datetime) -> datetime:
    """A timezone-aware timestamp converted to UTC, refused outside the accepted range."""
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(Msg("timestamp must be between %(low)s and %(top)s", **_RANGE)) from None
    if not MIN_DAY <= utc.date() <= MAX_DAY:
        raise ValueError(Msg("timestamp must be between %(low)s and %(top)s", **_RANGE))
    return utc


def filter_in_range(value: datetime) -> datetime:
    """A ``since``/``until`` filter within the accepted range; aware values become UTC, naive
    ones stay naive (each route decides: most read them as UTC, some require a zone)."""
    if value.tzinfo is None:
        if not MIN_DAY <= value.date() <= MAX_DAY:
            raise ValueError(Msg("timestamp must be between %(low)s and %(top)s", **_RANGE))
        return value
    return utc_in_range(value)


_NUMBER = re.compile(r"^\s*[-+]?\d+(\.\d*)?([eE][-+]?\d+)?\s*$")


def iso_only(value: Any) -> Any:
    """Dates and timestamps are ISO 8601 text; pydantic would read a bare number as Unix time."""
    if isinstance(value, bool | int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("must be an ISO 8601 date or timestamp, not a number")
    return value


Day = Annotated[date, BeforeValidator(iso_only), AfterValidator(check_day)]
"""A calendar date between 1900-01-01 and 2200-12-31."""


def not_after_tomorrow(value: date) -> date:
    """A date that has happened (a day of slack for time zones): a customer since next year, a
    birthday to come, is a typing error."""
    if value > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError(Msg("lies in the future"))
    return value


PastDay = Annotated[Day, AfterValidator(not_after_tomorrow)]
"""A ``Day`` that is not in the future."""

FUTURE_SLACK = timedelta(minutes=5)
"""How far ahead of the server's clock a recorded time may be (a client's clock runs fast)."""


def check_not_future(value: datetime | None, field: str, now: datetime) -> None:
    """Refuse a recorded time (a touchpoint, a complaint received) later than ``now``."""
    if value is not None and value > now + FUTURE_SLACK:
        raise InvalidInput(Msg("lies in the future"), field=field)


_PHONE_SEPARATORS = re.compile(r"[\s+\-().\/#*]")
# An extension comes last: a marker, then its digits up to the end ("… x89", "… ext. 12",
# "…转123", "…分机 8").
_PHONE_EXTENSION = re.compile(r"(?:ext\.?|x|转|分机)\s*([0-9]+)\s*$", re.IGNORECASE)


def check_phone(value: str | None) -> str | None:
    """A phone number: digits with the usual separators (spaces, + ( ) - . /), optionally
    followed by an extension after x, ext, 转 or 分机; 3 to 20 digits in all. Free text
    ("abc-not-phone") is refused, or a search by the number's digits could never find the
    customer; so is a marker inside the number ("55x5123"): the number before an extension
    has at least 3 digits and more than the extension."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    main, extension = text, ""
    if marker := _PHONE_EXTENSION.search(text):
        main, extension = text[: marker.start()], marker.group(1)
    digits = _PHONE_SEPARATORS.sub("", main)
    number_ok = digits.isascii() and digits.isdigit() and len(digits) >= 3
    if not number_ok or len(extension) >= len(digits) or len(digits) + len(extension) > 20:
        raise ValueError(
            Msg(
                "is not a phone number (digits, with + ( ) - . spaces; x or 转 before an extension)"
            )
        )
    return text


PHONE_MAX = 50
"""Longest phone text stored (``String(50)``), counted after stripping."""

# The length is checked before ``check_phone``, which may turn blank text into None: a
# ``Field(max_length=...)`` around the type would run after it and fail on None (a 500).
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=PHONE_MAX), AfterValidator(check_phone)
]
"""A phone number (``check_phone``), stripped; blank text is None. Carries its own length
limit: do not add ``max_length`` to a field of this type."""

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""An e-mail address as a schema's ``Field(pattern=...)`` accepts one (``name@domain.tld``,
no spaces): customers', users'. The web shows a mismatch as "Enter an email address such as
name@example.com." (``web.render``)."""

UTCDatetime = Annotated[AwareDatetime, BeforeValidator(iso_only), AfterValidator(utc_in_range)]
"""A timestamp with a zone, normalised to UTC, between 1900-01-01 and 2200-12-31."""

TimeFilter = Annotated[datetime, BeforeValidator(iso_only), AfterValidator(filter_in_range)]
"""A timestamp query filter within the accepted range (aware values normalised to UTC)."""


# --- Text -----------------------------------------------------------------------------------
# NUL cannot be stored by PostgreSQL; a lone surrogate (U+D800–U+DFFF, reachable through JSON
# escapes such as "\ud800") cannot be encoded as UTF-8 by any driver.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
# Bidirectional embeddings, overrides and isolates: they make a name display differently from
# what it is (e.g. "‮gpj.exe" shows as "exe.jpg").
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
# C0 controls and DEL: line breaks and tabs among them (a name is one line).
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def unsafe_text_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    m = _UNSAFE.search(text)
    if m is None:
        return None
    if m.group() == "\x00":
        return Msg("must not contain NUL characters")
    return Msg("must not contain unpaired surrogate characters")


def find_unsafe(value: Any, path: tuple[str, ...] = ()) -> tuple[str, str] | None:
    """The first string (key or value) in a JSON-like value that cannot be stored: (field, reason)."""
    if isinstance(value, str):
        reason = unsafe_text_reason(value)
        return (".".join(path) or "body", reason) if reason else None
    if isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            reason = unsafe_text_reason(key)
            if reason:
                return (".".join((*path, "<key>")) or "body", Msg("keys %(reason)s", reason=reason))
            found = find_unsafe(v, (*path, key))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = find_unsafe(v, (*path, str(i)))
            if found:
                return found
    return None


# Query parameters a page's filter form sends from a control with a label (the customer list's
# search box ``q``, labelled "Search"): (path, parameter) → label msgid. An unsafe value names
# the parameter by its label, in the reader's language (``core.errors.param``).
QUERY_LABELS: dict[tuple[str, str], str] = {}


def label_query_params(paths: Iterable[str], labels: dict[str, str]) -> None:
    """Name the query parameters (name → label msgid) of the pages at ``paths`` by their labels
    in the refusal of an unsafe value (``reject_unsafe_text``)."""
    for path in paths:
        for name, label in labels.items():
            QUERY_LABELS[(path, name)] = label


def _query_field(request: Request, name: str) -> str:
    """``name`` as the refusal names it: by its label where its page registered one."""
    label = QUERY_LABELS.get((request.url.path, name))
    return param(name, label) if label else name


def _form_items(form: Any) -> Iterator[tuple[str, str]]:
    for key, value in form.multi_items():
        if isinstance(value, str):  # uploaded files are checked by their own rules
            yield key, value


async def reject_unsafe_text(request: Request) -> None:
    """App-wide dependency: NUL or lone surrogates anywhere in the input answer 422 naming the field.

    Covers path and query parameters, JSON bodies (every string and key at any depth) and form
    fields (URL-encoded and multipart); file contents are not text and are left alone.
    """
    for name, value in request.path_params.items():
        if isinstance(value, str) and (reason := unsafe_text_reason(value)):
            raise InvalidInput(Msg("%(field)s: %(reason)s", field=name, reason=reason), field=name)
    for name, value in request.query_params.multi_items():
        for text, field in ((name, "query"), (value, name)):
            if reason := unsafe_text_reason(text):
                named = _query_field(request, name) if field == name else field
                raise InvalidInput(
                    Msg("%(field)s: %(reason)s", field=named, reason=reason), field=field
                )
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    ctype = request.headers.get("content-type", "").lower()
    found: tuple[str, str] | None = None
    if ctype.startswith("application/json") or "+json" in ctype.split(";")[0]:
        try:
            body = await request.json()
        except ValueError:  # not JSON at all: the body validation answers that
            return
        found = find_unsafe(body)
    elif ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        try:
            form = await request.form()
        except Exception:  # malformed multipart: the endpoint's own parsing reports it
            return
        for key, value in _form_items(form):
            reason = unsafe_text_reason(key) or unsafe_text_reason(value)
            if reason:
                found = (key, reason)
                break
    if found:
        field, reason = found
        raise InvalidInput(Msg("%(field)s: %(reason)s", field=field, reason=reason), field=field)


def check_name(value: str) -> str:
    """A display name: not blank, one line, no bidirectional or other control characters;
    surrounding space trimmed."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if _BIDI.search(value):
        raise ValueError(
            "must not contain bidirectional control characters (U+202A–U+202E, U+2066–U+2069)"
        )
    if _CONTROL.search(value):
        # A name goes into one-line places: an e-mail subject, a CSV cell, a task title.
        raise ValueError("must be one line, without line breaks, tabs or other control characters")
    return value


Name = Annotated[str, AfterValidator(check_name)]
"""A name shown to people (customers, contacts, products, users, categories …)."""


def check_optional_name(value: str) -> str:
    """A second name that may be left blank (``""`` clears it, e.g. a category's Chinese name);
    when given, checked like ``check_name``."""
    return check_name(value) if value.strip() else ""


OptionalName = Annotated[str, AfterValidator(check_optional_name)]


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null (leave the field out to keep its value)")
    return value


NotNull = AfterValidator(_not_null)
"""For PATCH fields that may be omitted but not cleared: ``Annotated[T | None, NotNull] = None``.
An explicit ``null`` is refused (422 naming the field); omitting the field keeps the value."""


def id_from_text(text: str) -> int | None:
    """``text`` as a row id if it is one (digits within the id range), else None.

    Search boxes accept ids; a longer run of digits must not be cast to a 64-bit integer (the
    database would refuse the comparison)."""
    t = text.strip()
    if not t.isdigit() or not t.isascii() or len(t) > 19:
        return None
    n = int(t)
    return n if 1 <= n <= ID_MAX else None


def is_id(text: str) -> bool:
    """Whether a form or query value is a row id (ASCII digits, 1 … 2⁶³−1)."""
    return id_from_text(text) is not None


def offset_from_text(text: str) -> int:
    """A list offset from a query value; anything that is not one (junk, huge) is 0."""
    t = (text or "").strip()
    if not t.isascii() or not t.isdigit() or len(t) > 10:
        return 0
    n = int(t)
    return n if n <= INT32_MAX else 0


# --- File contents --------------------------------------------------------------------------
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


def content_matches_type(content_type: str, data: bytes) -> bool:
    """Whether ``data`` starts like a file of ``content_type`` (magic bytes; text must be UTF-8).

    A declared type is only a claim: an HTML page or executable uploaded as ``image/png`` would
    be served back with that type. Unknown types are not vouched for (False)."""
    if content_type == "image/webp":
        return len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if content_type == "text/plain":
        if b"\x00" in data:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    prefixes = _MAGIC.get(content_type)
    return bool(prefixes) and data.startswith(prefixes)


def clean_idempotency_key(key: str | None) -> str | None:
    """An ``Idempotency-Key`` (header or form key) stripped, or None when empty; 422 naming
    ``Idempotency-Key`` unless it is 1 to 120 printable characters."""
    key = (key or "").strip()
    if not key:
        return None
    if len(key) > 120 or not key.isprintable():
        raise InvalidInput(
            Msg("Idempotency-Key must be 1 to 120 printable characters."), field="Idempotency-Key"
        )
    return key
