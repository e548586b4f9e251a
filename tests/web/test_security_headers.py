"""Security headers on every response, no inline script anywhere (the CSP forbids it), and the
API docs served from vendored files under the same policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retento.web.render import template_dirs
from tests.factories.openapi import share_openapi
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


def test_headers_on_pages_api_static_and_errors(app, web, client, tokens):
    share_openapi(app)  # built once per process: the headers are what is checked here
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


def spec_tags(spec: dict) -> dict[str, int]:
    """Each tag of the spec's operations and how many operations carry it."""
    tags: dict[str, int] = {}
    for item in spec["paths"].values():
        for op in item.values():
            for tag in op.get("tags", []):
                tags[tag] = tags.get(tag, 0) + 1
    return tags


def test_openapi_operations_name_each_tag_once(app, client):
    # A router included by a tagged router inherits its tags: tagging both listed the loyalty
    # measurement operations twice in Swagger UI and ReDoc.
    share_openapi(app)  # built once per process, not once per test
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            assert len(op["tags"]) == len(set(op["tags"])) >= 1, (method, path, op["tags"])


# Collects the tags and operations Swagger UI has drawn so far. From 150 rows (tags plus
# operations) Swagger UI 5.35 virtualises the list: only the rows near the viewport are in the
# DOM, so the test scrolls the page to the end and counts what it has seen on the way.
SEEN_SWAGGER = """() => {
  const seen = window.__seen || (window.__seen = {tags: new Set(), ops: new Set()});
  document.querySelectorAll('.swagger-ui .opblock-tag').forEach(e => seen.tags.add(e.dataset.tag));
  document.querySelectorAll('.swagger-ui .opblock').forEach(e => seen.ops.add(e.id));
  return [seen.tags.size, seen.ops.size, document.body.innerText.includes('Could not render')];
}"""


@pytest.mark.browser
def test_swagger_ui_and_redoc_render_under_the_policy(page, server):  # noqa: F811
    share_openapi(server.server.config.app)  # built once per process; the drawing is checked
    errors = csp_errors(page)
    spec = page.request.get(f"{server.base_url}/openapi.json").json()
    tags = spec_tags(spec)
    assert len(tags) >= 14
    n_ops = sum(tags.values())  # an operation is drawn under each of its tags
    page.goto(f"{server.base_url}/docs")
    # an upper bound: under a load of ~12 on two cores Swagger UI once took over 20 s to draw
    page.wait_for_selector(".swagger-ui .opblock", timeout=60_000)
    seen: list = []
    for _ in range(400):
        seen = page.evaluate(SEEN_SWAGGER)
        y = page.evaluate("window.scrollY")
        if seen[:2] == [len(tags), n_ops]:
            break
        page.evaluate("window.scrollBy(0, 500)")
        page.wait_for_timeout(50)
        if page.evaluate("window.scrollY") == y:  # at the bottom: let the last rows draw
            page.wait_for_timeout(200)
    assert seen == [len(tags), n_ops, False]
    assert page.evaluate("window.ui.specSelectors.taggedOperations().size") == len(tags)

    page.goto(f"{server.base_url}/redoc")
    page.wait_for_selector("#redoc h1, #redoc [role=navigation]", timeout=60_000)
    # ReDoc draws every tag and every operation (one section per operation and tag) at once
    sections = page.evaluate(
        "Array.from(document.querySelectorAll('#redoc [data-section-id]'), e => e.dataset.sectionId)"
    )
    assert len([s for s in sections if s.startswith("tag/") and "/operation/" not in s]) == len(
        tags
    )
    tagged_ops = [s for s in sections if s.startswith("tag/") and "/operation/" in s]
    assert len(tagged_ops) == len(set(tagged_ops)) == n_ops
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
