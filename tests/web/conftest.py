"""Helpers for page tests: log in through the form, read the CSRF token from a page."""

from __future__ import annotations

import re

import pytest

PASSWORD = "ledger-Sesame-42"  # tests.factories.make_user's default


def csrf_of(html: str) -> str:
    """The CSRF token embedded in a rendered page."""
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


class Browser:
    """A TestClient that logs in through the login form and posts forms with the token."""

    def __init__(self, client):
        self.client = client
        self.token = ""

    def login(self, username: str, password: str = PASSWORD):
        page = self.client.get("/login")
        self.token = csrf_of(page.text)
        r = self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": self.token},
            follow_redirects=False,
        )
        if r.status_code == 303:
            self.token = csrf_of(self.client.get("/customers").text)
        return r

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict | None = None, **kw):
        payload = {"csrf_token": self.token, **(data or {})}
        kw.setdefault("follow_redirects", False)
        return self.client.post(url, data=payload, **kw)


@pytest.fixture
def web(client, users) -> Browser:
    """A browser-like client; log in with ``web.login(role)``."""
    return Browser(client)
