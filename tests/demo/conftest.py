"""Fixtures of the demo tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli_url(tmp_path, monkeypatch):
    """A migrated SQLite file that ``retento`` commands use (``RETENTO_DATABASE_URL``)."""
    from retento.core.config import get_settings
    from retento.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    # No key configured: the demo keeps a random one in the data dir (restored after the test).
    monkeypatch.setenv("RETENTO_SECRET_KEY", "")
    monkeypatch.setenv("RETENTO_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
