"""Hostile input through the web pages, on PostgreSQL: no page may answer 5xx.

An admin logs in through the login form and crawls the UI breadth-first from ``/`` over the
demo data set (customers, orders, complaints, surveys with responses, the loyalty programme,
retention cases; fixed seed), and an anonymous visitor crawls the public pages (login,
complaint intake and status); both collect every ``<form method="post">`` and the query
parameters each page uses. Then they

* submit each form once per field with that field replaced by a hostile value chosen for its
  type (10,000 characters; numbers past int4, int8 and a float's range, negative, NaN;
  impossible dates; an option that does not exist), the other fields as the page drew them
  (required ones drawn empty filled in, so that only the hostile value can stop the form), and
  each form's action with its record id past int8;
* request each crawled page with one query parameter replaced by a hostile value (ids and
  offsets past int8, ``-1``, ``abc``, impossible dates, unknown sort keys, 10,000 characters,
  an unknown option), and each record page with its id past int8.

NUL is sent once per form and once per page: one app-wide check (``core.validation``) refuses
it in any parameter or field before a handler runs, so once per field would only repeat it.

PostgreSQL, not SQLite: SQLite stores what PostgreSQL refuses (an int8 overflow, NUL, a string
longer than its column). A value that PostgreSQL refuses (``DataError``) is a failure even
though the last-resort handler answers it 422: that answer does not name the field. Every
failure is collected, then reported at once (status, method, path, field, value, exception).
Deterministic: fixed demo seed, links followed in page order, form keys and codes counted.
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
import traceback
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from sqlalchemy import make_url

from tests.web.live import PASSWORD

pytestmark = pytest.mark.slow

MAX_PAGES = 250
"""Pages the crawl fetches at most (the admin finds ~200 on the demo data)."""

PER_RECORD_PATTERN = 2
"""Pages fetched per record page pattern (``/customers/{id}``): a second record may show other
forms (an open complaint, a closed one). Other pages: one per path and set of query keys."""

DEMO_CUSTOMERS = 40
"""Enough for the demo to answer surveys and fill every domain; seeding takes ~10 s."""

SKIP_PREFIXES = ("/api/", "/static/", "/docs", "/redoc", "/openapi")
SKIP_PARTS = ("logout", "export", "download", ".csv", ".xlsx", ".json", ".zip", ".pdf")

NUL = "a\x00b"
LONG = "x" * 10_000
NO_SUCH_OPTION = "no-such-option-\u2603"
INT8_PAST = "9223372036854775808"
INT4_PAST = "2147483648"
NUMBER_VALUES = ("-1", "1e309", "NaN", INT4_PAST, INT8_PAST)
"""Past int8 once: ``99999999999999999999``, sent too before, fares as 2**63 does everywhere (an
int8 column; each NUMERIC of the schema, none of which has room for 19 digits before the point
but not for 20; Python's int, Decimal and int64 conversions): 282 of ~2,600 submissions."""
DATE_VALUES = ("99999-01-01", "2024-02-30")
DATETIME_VALUES = ("99999-01-01T10:00", "2024-02-30T10:00")

QUERY_NUMBER_VALUES = (INT8_PAST, "-1", "abc")
"""Past int8, not int4 too: a query only reads, and PostgreSQL compares an int4 column with an
int8 value; it is writes (the form values above) that overflow a column."""
QUERY_DATE_VALUES = DATE_VALUES
QUERY_SORT_VALUES = ("no_such_key", "-no_such_key,,")
QUERY_TEXT_VALUES = (LONG, NO_SUCH_OPTION)
GENERIC_QUERY = {"offset": INT8_PAST, "limit": "-1", "page": "abc", "sort": "no_such_key"}
"""Sent once to every page, used or not: an ignored parameter must stay ignored."""

NUMBER_NAME = re.compile(
    r"(^|_)(id|ids|version|offset|limit|page|count|n|k|top|days|day|hours|minutes|months|"
    r"weeks|points|amount|price|cost|qty|quantity|rate|threshold|score|severity|rank|year|"
    r"month|min|max|multiplier|discount|budget|size|weight|value|number|percent|pct|fraction|"
    r"horizon|rows|seed|support|confidence|len|share|stock)(_|$)"
)
DATE_NAME = re.compile(r"(^|_)(date|on|at|since|until|from|to|birthday)(_|$)")
NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
ID_SEGMENT = re.compile(r"^\d+$")
TOKEN_SEGMENT = re.compile(r"^([A-Za-z0-9_-]{20,}|[A-Z]+-[A-Z0-9]{6,})$")
"""A signed link's token (``/s/…``) or a complaint's tracking code (``RC-…``)."""
FORM_KEY_VALUE = re.compile(r"^[0-9a-f]{32}$")
SOURCE_PARAM = re.compile(r"""(?:query_params|\bqp)(?:\.get\(|\[)\s*["'](\w+)["']""")


# --- pages and forms -------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    kind: str  # text, number, date, datetime, select, radio, checkbox, hidden, file
    value: str = ""
    required: bool = False
    options: list[str] = field(default_factory=list)


@dataclass
class Form:
    method: str
    action: str  # absolute URL
    page: str  # absolute URL of the page that drew it
    fields: list[Field] = field(default_factory=list)

    def data(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in self.fields:
            if f.kind != "file" and f.name not in out:
                out[f.name] = f.value
        return out

    def blanks(self) -> list[Field]:
        """Required fields, choices and radio buttons the page drew empty: filled in for each
        submission, so that only the hostile value can stop it and the rest reaches the
        database."""
        return [
            f
            for f in self.fields
            if not f.value
            and f.kind != "file"
            and (f.required or (f.kind in ("select", "radio") and any(f.options)))
        ]


class PageParser(HTMLParser):
    """A page's links (``href``, ``hx-get``) and forms (fields with their current values)."""

    def __init__(self, url: str):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None
        self._first_option = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for attr in ("href", "hx-get"):
            if a.get(attr) and tag != "link":
                self.links.append(urljoin(self.url, a[attr]))
        if tag == "form":
            method = (a.get("method") or "get").lower()
            action = a.get("action") or ""
            if a.get("hx-post"):
                method, action = "post", a["hx-post"]
            self._form = Form(method, urljoin(self.url, action or self.url), self.url)
            self.forms.append(self._form)
            return
        if tag == "option" and self._select is not None and "value" in a:
            self._select.options.append(a["value"])
            if self._first_option or "selected" in a:
                self._select.value = a["value"]
            self._first_option = False
            return
        form, name = self._form, a.get("name")
        if form is None or not name:
            return
        required = "required" in a
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("image", "reset", "button"):
                return
            if kind == "submit":
                self._add(form, Field(name, "select", a.get("value", "")))
            elif kind in ("checkbox", "radio"):
                f = self._add(form, Field(name, kind, required=required))
                f.options.append(a.get("value", "on"))
                if "checked" in a:
                    f.value = a.get("value", "on")
            else:
                mapped = {
                    "number": "number",
                    "range": "number",
                    "date": "date",
                    "month": "date",
                    "datetime-local": "datetime",
                    "hidden": "hidden",
                    "file": "file",
                }
                kind = mapped.get(kind, "text")
                form.fields.append(Field(name, kind, a.get("value", ""), required))
        elif tag == "button" and a.get("type", "submit") == "submit":
            self._add(form, Field(name, "select", a.get("value", "")))
        elif tag == "select":
            self._select = Field(name, "select", required=required)
            form.fields.append(self._select)
            self._first_option = True
        elif tag == "textarea":
            self._textarea = Field(name, "text", required=required)
            form.fields.append(self._textarea)

    @staticmethod
    def _add(form: Form, f: Field) -> Field:
        """The form's field of that name (radio buttons and checkboxes share one)."""
        existing = next((x for x in form.fields if x.name == f.name), None)
        if existing is None:
            form.fields.append(f)
            return f
        return existing

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def field_kind(f: Field) -> str:
    """What a field holds: its input type, else guessed from its name and current value."""
    if f.kind not in ("text", "hidden"):
        return f.kind
    name = f.name.lower()
    if ISO_MINUTE.match(f.value):
        return "datetime"
    if ISO_DAY.match(f.value) or (not f.value and DATE_NAME.search(name)):
        return "date"
    if NUMERIC.match(f.value) or (not f.value and NUMBER_NAME.search(name)):
        return "number"
    return "text"


def hostile_values(f: Field) -> tuple[str, ...]:
    kind = field_kind(f)
    if kind == "number":
        return NUMBER_VALUES
    if kind == "date":
        return DATE_VALUES
    if kind == "datetime":
        return DATETIME_VALUES
    if kind in ("select", "radio", "checkbox"):
        return (NO_SUCH_OPTION,)
    if kind == "file":
        return ()
    return (LONG,)


def query_values(name: str, current: str, declared: type | None) -> tuple[str, ...]:
    lname = name.lower()
    if lname == "sort" or lname.endswith("_sort"):
        return QUERY_SORT_VALUES
    if declared in (date,) or ISO_DAY.match(current) or DATE_NAME.search(lname):
        return QUERY_DATE_VALUES
    if declared is int or NUMERIC.match(current) or NUMBER_NAME.search(lname):
        return QUERY_NUMBER_VALUES
    return QUERY_TEXT_VALUES


def filler(f: Field, n: int) -> str:
    """A plausible value for a required field drawn empty (``n`` keeps codes unique)."""
    kind, name = field_kind(f), f.name.lower()
    if kind in ("select", "radio", "checkbox"):
        return next((o for o in f.options if o), "on")
    if kind == "number":
        return "1"
    if kind == "date":
        return "2025-01-15"
    if kind == "datetime":
        return "2025-01-15T10:00"
    if "email" in name or "address" in name:
        return f"fuzz{n}@example.com"
    if "password" in name:
        return f"Fuzz-{PASSWORD}-{n}"
    if "phone" in name:
        return "+86 21 5555 0101"
    return f"fz{n}"


def shape(name: str) -> str:
    """A field's name with its record numbers and codes masked: the answer fields
    ``r0.q.IMAG1`` and ``r3.q.CUEX2`` of the survey entry grid are one shape (``r#.q.*``),
    as are the translation fields ``q|IMAG1|text`` and ``q|CUEX2|text`` (``q|*|text``)."""
    parts = re.split(r"([.|])", re.sub(r"\d+", "#", name))
    masked = list(parts)
    for i in range(2, len(parts), 2):
        if len(parts[i - 2]) == 1 and parts[i - 2].isalpha():
            masked[i] = "*"  # the code after a one-letter kind (q, c, s): data, not a field
    return "".join(masked)


def pattern_of(path: str) -> str:
    return "/".join(
        "{id}" if ID_SEGMENT.match(s) else "{token}" if TOKEN_SEGMENT.match(s) else s
        for s in path.split("/")
    )


def same_site(url: str) -> str | None:
    """The path and query of a link to follow, or None for one to leave alone."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != "testserver":
        return None
    path = parts.path or "/"
    if path.startswith(SKIP_PREFIXES) or any(p in path.lower() for p in SKIP_PARTS):
        return None
    return path + ("?" + parts.query if parts.query else "")


def with_query(url: str, **values: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in values]
    return parts.path + "?" + urlencode([*query, *values.items()])


def with_segment(path: str, i: int, value: str) -> str:
    segments = path.split("/")
    return "/".join([*segments[:i], value, *segments[i + 1 :]])


# --- what the code reads -------------------------------------------------------------------------


class Routes:
    """The page routes, to find the query parameters a page reads that no link shows: those
    its handler declares, and those its module reads from ``request.query_params``."""

    def __init__(self, app):
        from fastapi.routing import APIRoute

        self.routes: list = []
        stack = list(app.router.routes)
        while stack:
            route = stack.pop(0)
            if isinstance(route, APIRoute):
                self.routes.append(route)
            elif hasattr(route, "original_router") and not route.include_context.prefix:
                stack.extend(route.original_router.routes)  # FastAPI's included router
        self._sources: dict[str, set[str]] = {}

    def params(self, path: str) -> dict[str, type | None]:
        from starlette.routing import Match

        scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                out: dict[str, type | None] = dict.fromkeys(self._read_by(route.endpoint))
                stack = [route.dependant]
                while stack:
                    dependant = stack.pop()
                    out.update({p.name: p.field_info.annotation for p in dependant.query_params})
                    stack.extend(dependant.dependencies)
                return out
        return {}

    def _read_by(self, endpoint) -> set[str]:
        module = endpoint.__module__
        if module not in self._sources:
            source = inspect.getsource(sys.modules[module])
            self._sources[module] = set(SOURCE_PARAM.findall(source))
        return self._sources[module]


# --- the session -----------------------------------------------------------------------------


@dataclass
class Failure:
    status: int
    method: str
    path: str
    field: str
    value: str
    error: str

    def __str__(self) -> str:
        value = self.value if len(self.value) <= 40 else f"{self.value[:12]}…({len(self.value)})"
        path = self.path if len(self.path) <= 120 else self.path[:100] + "…"
        return f"{self.status} {self.method} {path} {self.field}={value!r}: {self.error}"


class Capture(logging.Handler):
    """The app's log records of one request: unexpected errors and values PostgreSQL refused."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def problem(self) -> str:
        for r in self.records:
            if r.exc_info and r.exc_info[1] is not None:
                exc = r.exc_info[1]
                frames = [
                    f"{f.filename.rsplit('/src/', 1)[-1]}:{f.lineno}"
                    for f in traceback.extract_tb(exc.__traceback__)
                    if "/src/retento/" in f.filename
                ]
                at = f" at {frames[-1]}" if frames else ""
                return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}{at}"
        for r in self.records:
            message = r.getMessage()
            if message.startswith("database refused a value"):
                return "DataError: " + message.split(": ", 1)[-1].splitlines()[0][:200]
        return ""


class Site:
    """One visitor's TestClient on the PostgreSQL app (logged in as ``username``, or anonymous
    when it is None); every request's failure is added to ``failures``."""

    def __init__(self, client, username: str | None, capture: Capture, failures: list[Failure]):
        self.client = client
        self.username = username
        self.token = ""
        self.failures = failures
        self.capture = capture
        self.requests = 0
        self._keys = 0

    def login(self) -> None:
        """Log in through the form (an anonymous visitor only takes its session's CSRF token)."""
        page = self.client.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, "the login page has no CSRF token"
        if self.username is None:
            self.token = found.group(1)
            return
        r = self.client.post(
            "/login",
            data={"username": self.username, "password": PASSWORD, "csrf_token": found.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.client.get("/").text)
        assert found, "no CSRF token after logging in"
        self.token = found.group(1)

    def fresh(self) -> int:
        """A new number for each submission: its form key, its unique codes (deterministic)."""
        self._keys += 1
        return self._keys

    def send(self, method: str, url: str, data: dict | None = None, *, what=("", "")):
        """One request; a 5xx, or a value PostgreSQL refused, is recorded as a failure."""
        self.capture.records.clear()
        self.requests += 1
        if method == "GET":
            r = self.client.get(url, follow_redirects=False)
        else:
            r = self.client.post(url, data=data, follow_redirects=False)
        problem = self.capture.problem()
        if r.status_code >= 500 or problem.startswith("DataError"):
            self.failures.append(Failure(r.status_code, method, url, *what, problem))
        location = urlsplit(r.headers.get("location", "")).path
        if self.username and r.status_code in (302, 303) and location == "/login":
            self.login()  # that request ended the session: carry on logged in
        return r


# --- crawl and fuzz ----------------------------------------------------------------------------


@dataclass
class Crawl:
    pages: dict[str, str] = field(default_factory=dict)  # url -> html
    forms: list[Form] = field(default_factory=list)  # one per action pattern and field set
    params: dict[str, set[str]] = field(default_factory=dict)  # path pattern -> query names


def crawl(site: Site, start: tuple[str, ...] = ("/",)) -> Crawl:
    """Breadth-first from ``start``, links in page order, at most ``PER_RECORD_PATTERN`` pages
    per record pattern, one per other path and set of query keys, ``MAX_PAGES`` in all."""
    out = Crawl()
    seen: set[str] = set()
    form_keys: set[tuple] = set()
    per_pattern: dict[tuple, int] = {}
    queue: deque[str] = deque(start)
    while queue and len(out.pages) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        key = (pattern_of(parts.path), tuple(sorted({k for k, _ in query})))
        if per_pattern.get(key, 0) >= (PER_RECORD_PATTERN if "{id}" in key[0] else 1):
            continue
        per_pattern[key] = per_pattern.get(key, 0) + 1
        r = site.send("GET", url)
        if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
            continue
        out.pages[url] = r.text
        parser = PageParser("http://testserver" + url)
        parser.feed(r.text)
        for link in parser.links:
            target = same_site(link)
            if target is None:
                continue
            lp = urlsplit(target)
            names = out.params.setdefault(pattern_of(lp.path), set())
            names.update(k for k, _ in parse_qsl(lp.query, keep_blank_values=True))
            queue.append(target)
        for form in parser.forms:
            target = same_site(form.action)
            if target is None:
                continue
            path = urlsplit(target).path
            if form.method == "get":  # a filter form: its fields are query parameters
                out.params.setdefault(pattern_of(path), set()).update(
                    f.name for f in form.fields if f.kind != "file"
                )
                queue.append(path + "?" + urlencode(form.data()))
                continue
            fkey = (pattern_of(path), frozenset(shape(f.name) for f in form.fields))
            if fkey not in form_keys:
                form_keys.add(fkey)
                out.forms.append(form)
    return out


def fuzz_forms(site: Site, forms: list[Form]) -> None:
    """Each form once per field (one field of each shape and kind per action), that field
    hostile and the others as drawn; NUL once per form; the action with its id past int8."""
    done: set[tuple[str, str, str]] = set()
    for form in forms:
        action = same_site(form.action)
        assert action is not None
        pattern = pattern_of(urlsplit(action).path)
        base = form.data()
        trials: list[tuple[str, str]] = []
        for f in form.fields:
            key = (pattern, shape(f.name), field_kind(f))
            if f.name != "csrf_token" and key not in done:
                done.add(key)
                trials.extend((f.name, value) for value in hostile_values(f))
        text = [f.name for f in form.fields if field_kind(f) == "text" and f.name != "csrf_token"]
        if text:
            trials.insert(0, (text[0], NUL))
        for name, value in trials:
            n = site.fresh()
            data = {**base, **{f.name: filler(f, n) for f in form.blanks()}}
            data.update({name: value, "csrf_token": site.token})
            for k, v in data.items():
                if k != name and FORM_KEY_VALUE.match(v):
                    data[k] = f"{n:032x}"  # a create form's key: else the next is a replay
            r = site.send("POST", action, data, what=(name, value))
            if r.status_code in (302, 303) and "/login" not in r.headers["location"]:
                base = redrawn(site, form) or base  # it was saved: a new version, a new key
        for i, segment in enumerate(urlsplit(action).path.split("/")):
            if ID_SEGMENT.match(segment):
                data = {**base, "csrf_token": site.token}
                path = with_segment(urlsplit(action).path, i, INT8_PAST)
                site.send("POST", path, data, what=(f"path[{i}]", INT8_PAST))


def redrawn(site: Site, form: Form) -> dict[str, str] | None:
    """The form's values as its page draws them now (its version, its lines may have moved on):
    of the page's forms with the same action, the one sharing most field names."""
    r = site.client.get(form.page.removeprefix("http://testserver"))
    if r.status_code != 200:
        return None
    parser = PageParser(form.page)
    parser.feed(r.text)
    names = {f.name for f in form.fields}
    same = [other for other in parser.forms if other.action == form.action]
    if not same:
        return None
    return max(same, key=lambda other: len(names & {f.name for f in other.fields})).data()


def fuzz_queries(site: Site, crawled: Crawl, routes: Routes) -> None:
    """Each crawled page (one per route pattern) with one query parameter hostile at a time
    (those its links and filter forms use, its handler declares or its module reads), NUL once,
    the generic list parameters once, and each id in its path past int8."""
    done: set[str] = set()
    for url in crawled.pages:
        parts = urlsplit(url)
        pattern = pattern_of(parts.path)
        if pattern in done:
            continue
        done.add(pattern)
        current = dict(parse_qsl(parts.query, keep_blank_values=True))
        declared = routes.params(parts.path)
        names = sorted(set(crawled.params.get(pattern, ())) | set(current) | set(declared))
        first = (names or ["q"])[0]
        site.send("GET", with_query(url, **{first: NUL}), what=(first, NUL))
        site.send("GET", with_query(url, **GENERIC_QUERY), what=("offset,limit,page,sort", "…"))
        for name in names:
            for value in query_values(name, current.get(name, ""), declared.get(name)):
                site.send("GET", with_query(url, **{name: value}), what=(name, value))
        for i, segment in enumerate(parts.path.split("/")):
            if ID_SEGMENT.match(segment):
                path = with_segment(parts.path, i, INT8_PAST)
                site.send("GET", path, what=(f"path[{i}]", INT8_PAST))


# --- the test --------------------------------------------------------------------------------------

PUBLIC_PAGES = ("/login", "/complain", "/complain/status")
"""Where an anonymous visitor starts: the pages anyone on the internet can send forms to, with a
complaint's status page and follow-up survey (``seed``); the survey links ``/s/…`` are reached
from the admin's distribution pages."""


@dataclass
class Visitors:
    admin: Site
    anonymous: Site
    failures: list[Failure]
    public: tuple[str, ...]  # where the anonymous visitor starts

    @property
    def requests(self) -> int:
        return self.admin.requests + self.anonymous.requests


def seed(live) -> tuple[str, ...]:
    """The demo data set (seed 7, dated today so that its survey links are open), its queued
    work done (retention tasks, e-mails), and what the demo does not make: a draft survey (the
    editor's forms) and a club with an event. Returns the public pages of a complaint: its
    status page (by tracking code) and its follow-up survey."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from retento.complaints.models import Complaint
    from retento.demo import generator
    from retento.loyalty import clubs
    from retento.loyalty.schemas import ClubEventIn, ClubIn
    from retento.surveys import service as surveys
    from retento.work.queue import WorkRunner
    from tests.factories import make_user
    from tests.surveys.conftest import small_survey_data

    with live.session() as s:
        generator.generate(s, customers=DEMO_CUSTOMERS, seed=7, today=date.today())
        admin = make_user(s, username="fuzz-admin", role="admin", display_name="Fuzz Admin")
        surveys.create_survey(s, small_survey_data(name="Draft survey"), actor=admin)
        club = clubs.create_club(s, ClubIn(name="Tea club"), actor=admin)
        starts = datetime(2026, 1, 10, 18, tzinfo=UTC)
        clubs.create_event(s, club.id, ClubEventIn(title="Tasting", starts_at=starts), actor=admin)
        s.commit()
    WorkRunner(live.session_factory).run_once()
    with live.session() as s:
        code = s.scalar(
            select(Complaint.tracking_code)
            .where(Complaint.status != "closed")  # a closed one takes no replies
            .order_by(Complaint.id)
            .limit(1)
        )
        token = s.scalar(
            select(Complaint.followup_token)
            .where(Complaint.followup_token.is_not(None))
            .order_by(Complaint.id)
            .limit(1)
        )
    return (f"/complain/status/{code}",) + ((f"/complain/followup/{token}",) if token else ())


@pytest.fixture(scope="module")
def visitors(pg_template: str) -> Iterator[Visitors]:
    """An admin logged in through the login form and an anonymous visitor, each with a
    TestClient on an app bound to a throw-away PostgreSQL database holding ``seed``'s data."""
    from fastapi.testclient import TestClient

    from retento.complaints.public import RateLimiter
    from tests.conftest import LivePG, _pg_admin_execute, scratch_pg_database

    with scratch_pg_database(prefix="retento_formfuzz", template=pg_template) as url:
        # A throw-away database: no need to wait for the WAL flush on each commit.
        _pg_admin_execute(f'ALTER DATABASE "{make_url(url).database}" SET synchronous_commit = off')
        live = LivePG(url)
        logger = logging.getLogger("retento")
        capture = Capture()
        try:
            public = PUBLIC_PAGES + seed(live)
            # The public complaint form allows 5 submissions per address in 10 minutes.
            live.app.state.complaint_rate_limiter = RateLimiter(max_events=1_000_000)
            logger.addHandler(capture)
            # A 5xx comes back as a response; the exception behind it is read from the app's log.
            with (
                TestClient(live.app, raise_server_exceptions=False) as admin_client,
                TestClient(live.app, raise_server_exceptions=False) as anonymous_client,
            ):
                failures: list[Failure] = []
                admin = Site(admin_client, "fuzz-admin", capture, failures)
                anonymous = Site(anonymous_client, None, capture, failures)
                admin.login()
                anonymous.login()
                yield Visitors(admin, anonymous, failures, public)
        finally:
            logger.removeHandler(capture)
            live.dispose()


def test_no_page_answers_hostile_input_with_a_server_error(visitors: Visitors):
    admin, anonymous = visitors.admin, visitors.anonymous
    crawled = crawl(admin)
    # The crawl reached every domain (a broken link or login would leave it at the home page).
    for page in ("/customers/", "/orders/", "/complaints/", "/surveys/", "/loyalty/members/"):
        assert any(url.startswith(page) for url in crawled.pages), page
    assert len(crawled.forms) > 50
    public = crawl(anonymous, visitors.public)
    actions = {pattern_of(urlsplit(f.action).path) for f in public.forms}
    assert {"/login", "/complain", "/complain/status/{token}/reply"} <= actions, actions
    routes = Routes(admin.client.app)
    fuzz_forms(admin, crawled.forms)
    fuzz_forms(anonymous, public.forms)
    fuzz_queries(admin, crawled, routes)
    fuzz_queries(anonymous, public, routes)
    if visitors.failures:
        failures = "\n".join(str(f) for f in visitors.failures)
        pytest.fail(
            f"{len(visitors.failures)} of {visitors.requests} requests failed:\n{failures}",
            pytrace=False,
        )
