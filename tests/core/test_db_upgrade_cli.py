"""`retento db upgrade` says what it did: the revision before and after, and each migration as
it runs (deployment QA: it printed "is at revision head" whatever it had done, and nothing while
a migration of minutes ran)."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.migrate import alembic_config, current_revision, upgrade


def test_db_upgrade_names_the_revisions_and_the_migrations_it_ran(scratch_db_url, monkeypatch):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    parent = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision
    upgrade(scratch_db_url, parent)
    monkeypatch.setenv("RETENTO_DATABASE_URL", scratch_db_url)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["--lang", "en", "db", "upgrade"])
        out = " ".join(r.output.split())
        assert r.exit_code == 0, r.output
        assert f"Running upgrade {parent} -> {head}" in out
        assert f"upgraded from revision {parent} to {head}." in out
        assert current_revision(scratch_db_url) == head
        r = CliRunner().invoke(app, ["--lang", "zh_CN", "db", "upgrade"])
        out = "".join(r.output.split())
        assert r.exit_code == 0 and f"上的数据库已处于版本{head}。" in out, r.output
        assert "Running upgrade" not in out
    finally:
        get_settings.cache_clear()
