"""Security headers on every response, no inline script anywhere (the CSP forbids it), and the
API docs served from vendored files under the same policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retento.web.render import template_dirs
from tests.web.test_browser import (  # noqa: F401  (shared fixtures)
    browser,
    is_csp_violation,
    login,
    page,
    server,
)

STATIC = Path(__file__).resolve().parents[2] / "src" / "retento" / "web" / "static"


def assert_security_headers(r, hsts: bool = False) -> None:
    csp = r.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert ("strict-transport-security" in r.headers) is hsts


def test_headers_on_pages_api_static_and_errors(web, client, tokens):
    for r in (
        client.get("/login"),
        client.get("/api/v1/me"),  # 401
        client.get("/api/v1/me", headers=tokens["agent"]),
        client.get("/static/js/retento.js"),
        client.get("/no-such-page"),
        client.get("/healthz"),
        client.get("/docs"),
        client.get("/openapi.json"),
    ):
        assert_security_headers(r)


def test_hsts_only_with_secure_cookies(session_factory):
    from fastapi.testclient import TestClient

    from retento.app import create_app
    from retento.core.config import Settings

    app = create_app(
        Settings(
            database_url="sqlite://", run_scheduler=False, secret_key="s" * 32, secure_cookies=True
        )
    )
    app.state.session_factory = session_factory
    r = TestClient(app, base_url="https://testserver").get("/login")
    assert_security_headers(r, hsts=True)
    assert r.headers["strict-transport-security"].startswith("max-age=")


def test_no_inline_script_or_handlers_in_templates():
    bad = []
    for folder in template_dirs():
        for path in folder.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            for m in re.finditer(r"<script\b[^>]*>", text):
                if "src=" not in m.group(0):
                    bad.append(f"{path.name}: inline <script>")
            if re.search(r"\son[a-z]+\s*=", text):
                bad.append(f"{path.name}: inline event handler")
            if "javascript:" in text:
                bad.append(f"{path.name}: javascript: URL")
    assert bad == []


def test_docs_and_redoc_use_vendored_files_without_inline_script(client):
    for url in ("/docs", "/redoc"):
        r = client.get(url)
        assert r.status_code == 200
        assert not re.search(r'(?:src|href)="(?:https?:)?//', r.text)  # nothing from a CDN
        scripts = re.findall(r"<script\b[^>]*>", r.text)
        assert scripts and all("src=" in s for s in scripts)
        for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text):
            assert client.get(src).status_code == 200, src
    assert "/static/vendor/swagger-ui-bundle-5.35.0.js" in client.get("/docs").text
    assert "/static/vendor/redoc.standalone-2.5.4.js" in client.get("/redoc").text
    versions = (STATIC / "vendor" / "VERSIONS.md").read_text()
    assert "swagger-ui-dist" in versions and "5.35.0" in versions and "2.5.4" in versions


# --- in a real browser: nothing is blocked by the policy -----------------------------------


def csp_errors(pg) -> list[str]:
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if is_csp_violation(m) else None)
    return errors


@pytest.mark.browser
def test_swagger_ui_and_redoc_render_under_the_policy(page, server):  # noqa: F811
    errors = csp_errors(page)
    page.goto(f"{server.base_url}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    # Swagger UI renders the operations tag by tag: poll until they are all drawn
    opblocks = page.locator(".swagger-ui .opblock")
    for _ in range(100):
        if opblocks.count() > 20:
            break
        page.wait_for_timeout(200)
    assert opblocks.count() > 20
    page.goto(f"{server.base_url}/redoc")
    page.wait_for_selector("#redoc h1, #redoc [role=navigation]", timeout=30_000)
    page.wait_for_timeout(500)
    assert errors == []


@pytest.mark.browser
def test_customer_360_chart_and_error_page_under_the_policy(page, server):  # noqa: F811
    errors = csp_errors(page)
    login(page, server, "agent")
    page.goto(f"{server.base_url}/customers/{server.ids['Acme Trading Ltd']}")
    page.wait_for_selector("#revenue-chart svg")
    page.goto(f"{server.base_url}/customers/999999")
    page.goto(f"{server.base_url}/customers")
    page.goto(f"{server.base_url}/customers/999999")
    page.click("a[data-history-back]")
    page.wait_for_url(f"{server.base_url}/customers")
    assert errors == []
