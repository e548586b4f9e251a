"""Rendering pages: the Jinja2 environments, the page context, the page user, form errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

import retento
from retento.auth.models import User
from retento.auth.permissions import can as role_can
from retento.core.config import Settings
from retento.core.countries import country_name
from retento.core.deps import optional_user
from retento.core.errors import Msg, RetentoError, Unauthorized
from retento.core.handlers import UNKNOWN_FIELD
from retento.web.csrf import check_csrf, csrf_token
from retento.web.forms import new_form_key
from retento.web.i18n import (
    LANGUAGE_NAMES,
    LOCALES,
    N_,
    Formatter,
    accept_language,
    message_text,
    normalise_locale,
    translate,
    translations,
)
from retento.web.labels import SYSTEM_ACTOR, SYSTEM_ACTOR_LABEL, label_msgid
from retento.web.nav import nav_for, nav_here
from retento.web.system_texts import localize_system_text

WEB_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = Path(retento.__file__).resolve().parent


def template_dirs() -> list[Path]:
    """The shared templates first, then every domain's ``templates/`` folder."""
    dirs = [WEB_DIR / "templates"]
    for child in sorted(PACKAGE_DIR.iterdir()):
        if child.is_dir() and child.name != "web" and (child / "templates").is_dir():
            dirs.append(child / "templates")
    return dirs


@dataclass(frozen=True)
class Viewer:
    """What pages need of the logged-in user; plain data, safe after the session is gone."""

    id: int
    username: str
    display_name: str
    role: str
    locale: str
    is_active: bool = True

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(
            user.id, user.username, user.display_name, user.role, user.locale, user.is_active
        )


async def page_user(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The logged-in user of a page; anonymous visitors are sent to the login page.

    ``async``: it does no I/O (the user is loaded), so it runs on the event loop instead of
    taking a hop to the thread pool and back (CPU on both sides, on every page)."""
    if user is None:
        raise Unauthorized()
    request.state.viewer = Viewer.of(user)
    return user


PageUser = Annotated[User, Depends(page_user)]


def page_router() -> APIRouter:
    """A router for HTML pages: hidden from OpenAPI, CSRF-checked on every unsafe method."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])


def is_htmx(request: Request) -> bool:
    """True for requests made by htmx (partial updates)."""
    return request.headers.get("hx-request") == "true"


def viewer(request: Request) -> Viewer | None:
    """The logged-in user of this request, if a page dependency resolved one."""
    return getattr(request.state, "viewer", None)


def request_locale(request: Request) -> str:
    """The user's saved language, else the session's choice, else the browser's, else default."""
    v = viewer(request)
    if v is not None:
        return normalise_locale(v.locale)
    if "session" in request.scope and request.session.get("locale"):
        return normalise_locale(request.session["locale"])
    # The browser's, weighed by q ("en;q=0.3, zh-CN" is Chinese), as the API weighs it.
    if (asked := accept_language(request.headers.get("accept-language"))) is not None:
        return asked
    settings: Settings = request.app.state.settings
    return normalise_locale(settings.default_locale)


def tr(request: Request, message: str, /, **params: Any) -> str:
    """Translate ``message`` for this request (flash messages, page titles set in Python).

    Positional-only like ``translate``: ``%(message)s`` and ``%(request)s`` are fine parameters."""
    return translate(request_locale(request), message, **params)


def tr_count(request: Request, n: int, one: str, many: str, **params: Any) -> str:
    """Translate a message about ``n`` things: ``one`` ("One customer was invited.") when ``n`` is
    1, else ``many`` ("%(n)s customers were invited."); Chinese has one form for both."""
    return tr(request, one if n == 1 else many, n=n, **params)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show ``message`` (already translated) on the next rendered page."""
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], [kind, message]]


@cache
def environment(locale: str) -> jinja2.Environment:
    """One Jinja2 environment per locale, with that locale's gettext installed."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs()]),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the package: no stat() of every template file on every render.
        auto_reload=False,
    )
    catalogue = translations(locale)
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    # ``_`` and ``gettext`` memoised: a page calls them hundreds of times, mostly without
    # variables, and Jinja's newstyle gettext formats even those (``Markup(text) % {}``).
    fast = _memoised_gettext(catalogue.gettext)
    env.globals.update(gettext=fast, _=fast, new_form_key=new_form_key)
    return env


GETTEXT_CACHE_SIZE = 20_000  # message ids; templates have ~3,000, a full cache stops adding


def _memoised_gettext(translate: Any) -> Any:
    """Jinja's newstyle ``gettext`` (``jinja2.ext._make_new_gettext``: translate, mark safe
    when autoescaping, then ``% variables`` even when there are none, so ``%%`` becomes ``%``),
    with the result of a call without variables kept per message id: the same text, computed
    once per locale instead of on every call. Calls with variables are not kept. Also installed
    as ``_`` (Jinja's ``_`` looks ``gettext`` up in the context on every call)."""
    done: dict[str, Any] = {}

    @jinja2.pass_context
    def gettext(__context: Any, __string: str, **variables: Any) -> str:
        autoescape = __context.eval_ctx.autoescape
        if not variables and autoescape and type(__string) is str:
            rv = done.get(__string)
            if rv is None:
                rv = Markup(translate(__string)) % variables
                if len(done) < GETTEXT_CACHE_SIZE:
                    done[__string] = rv
            return rv
        rv = translate(__string)
        if autoescape:
            rv = Markup(rv)
        return rv % variables

    return gettext


def query_with(request: Request, **changes: Any) -> str:
    """The current query string with some parameters changed (``None`` removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


def context(request: Request, extra: dict[str, Any], locale: str | None = None) -> dict[str, Any]:
    """Everything every template may use, plus the page's own values; ``locale`` overrides the
    request's language (public pages follow the link's or the customer's language)."""
    settings: Settings = request.app.state.settings
    locale = normalise_locale(locale) if locale else request_locale(request)
    catalogue = translations(locale)
    v = viewer(request)
    fmt = Formatter(locale, settings.timezone, settings.currency)
    flashes = request.session.pop("flash", []) if "session" in request.scope else []

    def label(group: str, code: str | None) -> str:
        msgid = label_msgid(group, code)
        return catalogue.gettext(msgid) if msgid else ""

    def actor_name(name: str | None) -> str:
        """Who made a recorded change: "System" (translated) for no user, else the username."""
        return catalogue.gettext(SYSTEM_ACTOR_LABEL) if name == SYSTEM_ACTOR else (name or "")

    def can(verb: str) -> bool:
        return v is not None and role_can(v, verb)  # type: ignore[arg-type]

    main_nav = nav_for(v)  # type: ignore[arg-type]
    more_nav = nav_for(v, "more")  # type: ignore[arg-type]
    admin_nav = nav_for(v, "admin")  # type: ignore[arg-type]
    ctx: dict[str, Any] = {
        "request": request,
        "user": v,
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh_CN" else "en",
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LOCALES],
        "fmt": fmt,
        "label": label,
        "actor_name": actor_name,
        "country_name": lambda code: country_name(code, locale),
        # a text the system stored (a tier change's note, a default policy's name) in ``locale``:
        # ``systext("sla_policy.name", p.name)``
        "systext": lambda field, text: localize_system_text(locale, text, field=field),
        "can": can,
        "nav": main_nav,
        "more_nav": more_nav,
        "admin_nav": admin_nav,
        "nav_here": nav_here(request.url.path, [*main_nav, *more_nav, *admin_nav]),
        "csrf_token": csrf_token(request) if "session" in request.scope else "",
        "flashes": flashes,
        "path": request.url.path,
        "query_with": lambda **kw: query_with(request, **kw),
        "errors": {},
        "form": {},
    }
    ctx.update(extra)
    return ctx


def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    locale: str | None = None,
    **extra: Any,
) -> HTMLResponse:
    """Render ``template`` in the request's language, or in ``locale`` if given."""
    ctx = context(request, extra, locale)
    html = environment(ctx["locale"]).get_template(template).render(ctx)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def redirect(request: Request, url: str) -> Response:
    """Post/redirect/get; htmx requests get an ``HX-Redirect`` instead of a 303."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None, default: str = "/") -> str:
    """Only local paths are allowed as a redirect target after login or a language switch."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return default
    return url


# Pydantic error types → message ids shown next to the field.
PYDANTIC_MESSAGES = {
    "missing": N_("This field is required."),
    "string_too_short": N_("This field is required."),
    "string_too_long": N_("This value is too long."),
    "string_pattern_mismatch": N_("This value has the wrong format."),
    "int_parsing": N_("Enter a whole number."),
    "int_type": N_("Enter a whole number."),
    "decimal_parsing": N_("Enter a number."),
    "float_parsing": N_("Enter a number."),
    "greater_than": N_("Enter a number greater than zero."),
    "less_than_equal": N_("This number is too large."),
    "date_from_datetime_parsing": N_("Enter a date (YYYY-MM-DD)."),
    "date_parsing": N_("Enter a date (YYYY-MM-DD)."),
    "datetime_parsing": N_("Enter a date and time."),
    "datetime_from_date_parsing": N_("Enter a date and time."),
    "timezone_aware": N_("Enter a date and time."),
    "literal_error": N_("Choose one of the listed values."),
    "too_short": N_("Add at least one line."),
    "finite_number": N_("Enter a number."),
    "extra_forbidden": UNKNOWN_FIELD,
}


# Messages that quote the limit the schema set (``ctx``): "Write at least 10 characters."
PYDANTIC_LIMIT_MESSAGES = {
    "string_too_short": ("min_length", N_("Write at least %(n)s characters.")),
    "string_too_long": ("max_length", N_("Write at most %(n)s characters.")),
    "greater_than": ("gt", N_("Enter a number greater than %(n)s.")),
    "greater_than_equal": ("ge", N_("Enter a number of at least %(n)s.")),
    "less_than": ("lt", N_("Enter a number below %(n)s.")),
    "less_than_equal": ("le", N_("Enter a number of at most %(n)s.")),
    "decimal_max_places": ("decimal_places", N_("Use at most %(n)s decimal places.")),
}


# The shared validators' refusals (``core.money``, the "not negative" checks of the schemas)
# are fragments the API and imports put after a field's name ("unit_price: must not be
# negative"). A form that gives ``form_errors`` its labels shows them as sentences naming the
# field as the form does: validator message (template) → sentence with ``%(field)s``.
FIELD_SENTENCES = {
    "%(value)s is not a number": N_("%(field)s must be a number, not %(value)s."),
    "amount must be at most %(max)s in absolute value": N_(
        "%(field)s is too large: at most %(max)s is allowed."
    ),
    "amount must have at most 2 decimal places": N_(
        "%(field)s may have at most two decimal places."
    ),
    "amount must be finite": N_("%(field)s must be an amount such as 12.50."),
    "%(value)s is not a money amount": N_("%(field)s must be an amount such as 12.50."),
    "not a money amount": N_("%(field)s must be an amount such as 12.50."),
    "must not be negative": N_("%(field)s must not be negative."),
}


def _field_sentence(locale: str, label: str, error: Any) -> str | None:
    """A validator's refusal ``error`` as a sentence naming the field ``label`` (a msgid), or
    None when it is not one of ``FIELD_SENTENCES``."""
    if not (isinstance(error, Exception) and error.args and isinstance(error.args[0], str)):
        return None
    message = error.args[0]
    template = message.template if isinstance(message, Msg) else message
    sentence = FIELD_SENTENCES.get(template)
    if sentence is None:
        return None
    params = dict(message.params) if isinstance(message, Msg) else {}
    if isinstance(params.get("max"), int | Decimal):
        params["max"] = f"{params['max']:,}"
    return translate(locale, sentence, **params, field=translate(locale, label))


def _pydantic_message(
    request: Request,
    field: str,
    e: Any,
    labels: Mapping[str, str] | None = None,
    *,
    locale: str | None = None,
) -> str:
    """One validation error in words a customer or an agent understands, in their language
    (``locale``, else the request's) — never pydantic's own English ("String should have at
    least 10 characters")."""
    locale = locale or request_locale(request)

    def t(message: str, /, **params: Any) -> str:
        return translate(locale, message, **params)

    kind = e["type"]
    ctx = e.get("ctx") or {}
    if kind == "string_too_short" and not e.get("input"):
        return t(PYDANTIC_MESSAGES["missing"])
    if "input" in e and e["input"] is None:
        # A blank form field reaches the model as None: pydantic's "Input should be a valid
        # string" (or number, date ...), or a validator's "None is not a money amount", means
        # the field was left empty.
        return t(PYDANTIC_MESSAGES["missing"])
    label = (labels or {}).get(field)
    if label is not None and kind == "value_error":
        sentence = _field_sentence(locale, label, ctx.get("error"))
        if sentence is not None:
            return sentence
    if kind == "string_pattern_mismatch" and field.rsplit(".", 1)[-1].endswith("email"):
        return t("Enter an email address such as name@example.com.")
    if kind == "greater_than" and ctx.get("gt") == 0:
        return t(PYDANTIC_MESSAGES["greater_than"])
    if kind == "too_long" and "max_length" in ctx:
        # A length limit applied after a validator (``Name = Field(max_length=200)``): pydantic
        # says "Value should have at most 200 items after validation" even for a string.
        if isinstance(e.get("input"), str):
            return t(PYDANTIC_LIMIT_MESSAGES["string_too_long"][1], n=ctx["max_length"])
        return t(N_("Give at most %(n)s entries."), n=ctx["max_length"])
    error = ctx.get("error")
    if isinstance(error, Exception) and error.args and isinstance(error.args[0], Msg):
        # Our validators raise ``ValueError(Msg(...))``: translated with the values put back.
        return message_text(locale, error.args[0])
    limit = PYDANTIC_LIMIT_MESSAGES.get(kind)
    if limit is not None and limit[0] in ctx:
        return t(limit[1], n=ctx[limit[0]])
    msgid = PYDANTIC_MESSAGES.get(kind)
    if msgid is not None:
        return t(msgid)
    # Our own validators raise ValueError with an English sentence: translated when the
    # catalogue has it.
    return t(str(e.get("msg", "")).removeprefix("Value error, "))


def error_text(request: Request, message: str) -> str:
    """A service's (English) error message in the reader's language: a ``core.errors.Msg`` by
    its template with its values put back (``Msg`` and ``Term`` values translated too), a fixed
    message by the catalogues (``service_errors.po``); English when no catalogue has it
    (``web.i18n.message_text``, which the command line's errors go through too)."""
    return message_text(request_locale(request), message)


def form_errors(
    request: Request,
    exc: ValidationError | RetentoError,
    labels: Mapping[str, str] | None = None,
    *,
    locale: str | None = None,
) -> dict[str, str]:
    """Field name (as used in the form's inputs) → translated message; ``""`` is the form itself.

    ``labels`` (field → msgid, the form's labels) turns the shared validators' fragments
    ("must not be negative") into sentences naming the field ("Unit cost must not be
    negative."). ``locale`` is the page's language when it is not the request's (a customer's
    page that follows ``?lang=`` or the customer's language, as its text does)."""
    locale = locale or request_locale(request)
    out: dict[str, str] = {}
    if isinstance(exc, ValidationError):
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"])
            out.setdefault(field, _pydantic_message(request, field, e, labels, locale=locale))
        return out
    # The services' messages are English; they are translated when a catalogue has them
    # (service_errors.po), with their values put back (core.errors.Msg).
    for fe in exc.errors:
        out.setdefault(fe.field or "", message_text(locale, fe.message))
    out.setdefault(exc.field or "", message_text(locale, exc.message))
    return out
