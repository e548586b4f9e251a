"""`retento mail send` and `retento mail test` on a file database and a local SMTP server."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.migrate import upgrade

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    monkeypatch.setenv("RETENTO_SMTP_HOST", "")
    get_settings.cache_clear()
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash, is_active, locale,"
                " created_at, updated_at) VALUES ('admin', 'Admin', 'admin', 'x', 1, 'en',"
                " '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO mail_outbox (recipient, subject, body_text, locale, kind, status,"
                " attempts, next_attempt_at, created_at) VALUES ('cli@example.com', 'Queued',"
                " 'Hello', 'en', 'test', 'queued', 0, '2025-01-01 00:00:00',"
                " '2025-01-01 00:00:00')"
            )
        )
    yield eng
    eng.dispose()
    get_settings.cache_clear()


def _out(result) -> str:
    return " ".join(result.output.split())


def _statuses(eng) -> list[tuple[str, str]]:
    with eng.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT recipient, status FROM mail_outbox ORDER BY id"))
        ]


def _use_smtp(monkeypatch, port: int) -> None:
    monkeypatch.setenv("RETENTO_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RETENTO_SMTP_PORT", str(port))
    monkeypatch.setenv("RETENTO_SMTP_STARTTLS", "false")
    get_settings.cache_clear()


def test_send_with_smtp_disabled_keeps_messages_queued(cli_db):
    r = runner.invoke(app, ["mail", "send"])
    assert r.exit_code == 0, _out(r)
    assert "Sending is disabled" in _out(r) and "1 email(s) stay queued" in _out(r)
    assert _statuses(cli_db) == [("cli@example.com", "queued")]


def test_send_delivers_queued_messages(cli_db, smtp_server, monkeypatch):
    recorder, port = smtp_server
    _use_smtp(monkeypatch, port)
    r = runner.invoke(app, ["mail", "send"])
    assert r.exit_code == 0, _out(r)
    assert "Sent 1" in _out(r)
    assert [m["X-Envelope-To"] for m in recorder.messages] == ["cli@example.com"]
    assert _statuses(cli_db) == [("cli@example.com", "sent")]
    again = runner.invoke(app, ["mail", "send"])
    assert "Sent 0" in _out(again) and len(recorder.messages) == 1


def test_test_command(cli_db, smtp_server, monkeypatch):
    recorder, port = smtp_server
    r = runner.invoke(app, ["mail", "test", "ops@example.com"])
    assert r.exit_code == 0 and "waits in the outbox" in _out(r)
    _use_smtp(monkeypatch, port)
    r = runner.invoke(app, ["mail", "test", "ops@example.com"])
    assert r.exit_code == 0, _out(r)
    assert "Test email sent to ops@example.com" in _out(r)
    assert recorder.messages[-1]["Subject"] == "Retento test email"
    bad = runner.invoke(app, ["mail", "test", "not-an-address"])
    assert bad.exit_code == 1 and "recipient" in _out(bad)


def test_test_command_reports_an_unreachable_server(cli_db, monkeypatch):
    from tests.mail.conftest import free_port

    _use_smtp(monkeypatch, free_port())
    r = runner.invoke(app, ["mail", "test", "ops@example.com"])
    assert r.exit_code == 1 and "failed" in _out(r)
