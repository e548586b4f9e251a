"""Fixtures shared with the web tests (log in through the form)."""

from tests.web.conftest import web  # noqa: F401
