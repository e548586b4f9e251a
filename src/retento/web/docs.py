"""/docs (Swagger UI) and /redoc from vendored files: no CDN, and no inline script (the CSP)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from retento.web.csrf import csrf_token

SWAGGER_JS = "/static/vendor/swagger-ui-bundle-5.35.0.js"
SWAGGER_CSS = "/static/vendor/swagger-ui-5.35.0.css"
REDOC_JS = "/static/vendor/redoc.standalone-2.5.4.js"

router = APIRouter(include_in_schema=False)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
        f"{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(html)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI; "Try it out" sends the session's CSRF header, so it works when logged in."""
    title = f"{request.app.title} – Swagger UI"
    token = csrf_token(request) if "session" in request.scope else ""
    return _page(
        title,
        f'<link rel="stylesheet" href="{SWAGGER_CSS}">\n',
        f'<div id="swagger-ui" data-openapi-url="{escape(request.app.openapi_url or "")}" '
        f'data-csrf-token="{escape(token)}"></div>\n'
        f'<script src="{SWAGGER_JS}"></script>\n'
        '<script src="/static/js/swagger-init.js"></script>\n',
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc, the read-only reference."""
    title = f"{request.app.title} – ReDoc"
    return _page(
        title,
        '<link rel="stylesheet" href="/static/css/redoc-page.css">\n',
        f'<div id="redoc" data-spec-url="{escape(request.app.openapi_url or "")}"></div>\n'
        f'<script src="{REDOC_JS}"></script>\n'
        '<script src="/static/js/redoc-init.js"></script>\n',
    )
