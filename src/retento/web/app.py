"""Install the web UI into the FastAPI app: static files, every domain's pages, error pages."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from http import HTTPStatus
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from retento.auth.schemas import UserUpdate
from retento.auth.service import update_user
from retento.core.config import Settings
from retento.core.deps import DbSession, optional_user
from retento.core.errors import Msg, RetentoError
from retento.web.i18n import LOCALES, N_
from retento.web.render import (
    PACKAGE_DIR,
    WEB_DIR,
    error_text,
    is_htmx,
    page_router,
    render,
    safe_next,
    tr,
)

log = logging.getLogger("retento.web")

router = page_router()

ERROR_TITLES = {
    400: N_("The request could not be processed"),
    403: N_("You do not have access to this page"),
    404: N_("Page not found"),
    405: N_("This action is not available here"),
    409: N_("This change conflicts with existing data"),
    413: N_("The request is too large"),
    422: N_("Some values are not valid"),
    500: N_("Something went wrong"),
    503: N_("The record is busy"),
}

ERROR_HINTS = {
    403: N_("Your role does not allow this. Ask an administrator if you need access."),
    404: N_("The page or record does not exist, or it was deleted."),
    413: N_("Go back and send a smaller file or less text."),
    422: N_("Go back, correct the values and try again."),
    503: N_("Someone else is saving the same record. Go back and send the form again."),
    500: N_(
        "The error was logged. Try again in a moment; if it keeps happening, tell your administrator."
    ),
}


def page_modules() -> list[str]:
    """Every ``retento.<domain>.pages`` module that exists (discovered, so domains plug in)."""
    names = []
    for child in sorted(PACKAGE_DIR.iterdir()):
        pages = child / "pages"
        if child.is_dir() and ((child / "pages.py").is_file() or (pages / "__init__.py").is_file()):
            names.append(f"retento.{child.name}.pages")
    return names


# ``/`` is the role's home dashboard: ``retento.home.pages`` (discovered like every page module).


@router.post("/locale")
def switch_locale(
    request: Request,
    session: DbSession,
    lang: str = Form(...),
    next: str = Form("/"),
) -> Response:
    """Switch the language: remembered on the user if logged in, else in the session."""
    if lang not in LOCALES:
        lang = "en"
    request.session["locale"] = lang
    user = optional_user(request, session)
    if user is None:
        # Chosen before logging in (on the login page): log_in saves it on the user.
        request.session["locale_chosen"] = True
    elif user.locale != lang:
        update_user(session, user.id, UserUpdate(locale=lang), actor=user)
    return RedirectResponse(_without_lang(safe_next(next)), status_code=303)


def _without_lang(url: str) -> str:
    """``url`` minus a ``lang=`` parameter, which would override the language just chosen
    (public pages reached from an e-mailed link carry one)."""
    path, _, query = url.partition("?")
    if not query:
        return url
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    return path + ("?" + urlencode(kept) if kept else "")


# What a page says instead of the bare English reason phrase ("Not Found") an error raised
# without a message of its own carries: a path no route serves, a method no route takes.
HTTP_PHRASES = {
    404: N_("There is no page at this address."),
    405: N_("This address does not accept this kind of request."),
}


def _is_bare_phrase(status: int, message: str) -> bool:
    """True for Starlette's default detail of ``status`` (its HTTP reason phrase)."""
    try:
        return not isinstance(message, Msg) and message == HTTPStatus(status).phrase
    except ValueError:
        return False


def page_error(request: Request, err: RetentoError) -> Response:
    """The friendly HTML version of an error (the API keeps its problem+json)."""
    if err.status == 401:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        url = "/login"
        if request.method == "GET" and target not in ("/", "/login"):
            url += "?next=" + quote(target, safe="")
        if is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)
    status = err.status if 400 <= err.status < 600 else 500
    title = ERROR_TITLES.get(status, ERROR_TITLES[400] if status < 500 else ERROR_TITLES[500])
    hint = ERROR_HINTS.get(status, "")
    if status == 500:
        message = ""
    elif _is_bare_phrase(err.status, err.message):
        phrase = HTTP_PHRASES.get(err.status)
        message = tr(request, phrase) if phrase else ""
    else:
        message = error_text(request, err.message)
    try:
        return render(
            request,
            "error.html",
            status_code=status,
            status=status,
            title=tr(request, title),
            hint=tr(request, hint) if hint else "",
            message=message,
            details=[
                {**e.as_dict(), "message": error_text(request, e.message)} for e in err.errors
            ],
        )
    except Exception:  # the error page itself must never fail
        log.exception("could not render the error page")
        return Response(
            f"{status} {title}", status_code=status, media_type="text/plain; charset=utf-8"
        )


def install(app: FastAPI, settings: Settings) -> None:
    """Mount static files, include every domain's page router, render errors as pages."""
    from retento.web.docs import router as docs_router
    from retento.web.pickers import load_picker_modules
    from retento.web.pickers import router as pickers_router

    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    app.include_router(router)
    app.include_router(docs_router)
    app.include_router(pickers_router)
    load_picker_modules()
    for name in page_modules():
        module = importlib.import_module(name)
        app.include_router(module.router)
    app.state.page_error = page_error
