"""`retento work list | show | retry` on a file database: an administrator at a shell sees a
large import's failed loyalty earning, why it failed, and runs it again (audited, once); other
kinds and other statuses are refused naming the field, and nothing changes."""

from __future__ import annotations

import json

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
    get_settings.cache_clear()
    eng = create_engine(url)
    with eng.begin() as conn:
        for name, role in (("admin", "admin"), ("mia", "manager")):
            conn.execute(
                text(
                    "INSERT INTO users (username, display_name, role, password_hash, is_active, "
                    "locale, created_at, updated_at) VALUES (:u, :u, :r, 'x', 1, 'en', "
                    "'2025-01-01 00:00:00', '2025-01-01 00:00:00')"
                ),
                {"u": name, "r": role},
            )
        for item_id, kind, status, error in (
            (1, "loyalty.earn_import", "failed", "OperationalError: server closed the connection"),
            (2, "scoring.run", "failed", "MemoryError"),
            (3, "loyalty.earn_import", "done", None),
        ):
            conn.execute(
                text(
                    "INSERT INTO work_items (id, kind, payload, status, progress, stage, error, "
                    "attempts, created_at) VALUES (:i, :k, :p, :s, 0.4, 'earning', :e, 3, "
                    "'2026-12-06 10:00:00')"
                ),
                {"i": item_id, "k": kind, "s": status, "e": error,
                 "p": json.dumps({"ranges": [], "orders": 0, "actor_id": None})},
            )  # fmt: skip
    yield eng
    eng.dispose()
    get_settings.cache_clear()


def _out(result) -> str:
    return " ".join(result.output.split())


def test_list_shows_the_failed_items_and_why(cli_db):
    r = runner.invoke(app, ["work", "list", "--status", "failed"])
    assert r.exit_code == 0, r.output
    out = _out(r)
    assert "#2 scoring.run failed 40% earning" in out and "MemoryError" in out
    assert "#1 loyalty.earn_import failed" in out and "server closed the connection" in out
    assert "#3" not in out and "2 of 2 item(s)." in out
    bad = runner.invoke(app, ["work", "list", "--status", "lost"])
    assert bad.exit_code == 1 and "Status (status) must be one of" in _out(bad)
    assert _out(bad).count("must be one of") == 1  # said once, not again as a column error
    as_json = runner.invoke(app, ["work", "list", "--status", "failed", "--json"])
    body = json.loads(as_json.output)
    assert body["total"] == 2 and [i["id"] for i in body["items"]] == [2, 1]
    assert body["items"][1]["error"] == "OperationalError: server closed the connection"
    # Work items are for administrators.
    denied = runner.invoke(app, ["work", "list", "--as", "mia"])
    assert denied.exit_code == 1


def test_list_show_and_retry_speak_the_asked_language(cli_db):
    """The codes stay (scripts and `--status` use them); the words beside them are the
    Background work page's, in `--lang` (both spellings, like every other command)."""
    from retento.web.i18n import translate

    en = _out(runner.invoke(app, ["work", "list", "--status", "failed"]))
    kind_en = "Loyalty points for imported orders"
    assert f"#1 loyalty.earn_import failed 40% earning — {kind_en} · Failed" in en
    kind_zh = translate("zh_CN", kind_en)
    assert kind_zh != kind_en
    for spelling in ("--lang", "--locale"):
        zh = _out(runner.invoke(app, ["work", "list", "--status", "failed", spelling, "zh_CN"]))
        assert f"#1 loyalty.earn_import failed 40% earning — {kind_zh} · 失败" in zh, zh
        assert "共 2 项，显示 2 项。" in zh
    none = _out(runner.invoke(app, ["work", "list", "--status", "running", "--lang", "zh_CN"]))
    assert none == "没有状态为 running 的工作项。"
    row = json.loads(runner.invoke(app, ["work", "show", "2", "--lang", "zh_CN"]).output)
    assert row["kind"] == "scoring.run" and row["status_label"] == "失败"
    assert row["kind_label"] == translate("zh_CN", "Scoring run") != "Scoring run"
    r = runner.invoke(app, ["work", "retry", "1", "--lang", "zh_CN"])
    assert r.exit_code == 0 and f"工作项 #1（{kind_zh}）已重新排队" in _out(r)


def test_retry_queues_a_failed_item_once_and_is_audited(cli_db):
    r = runner.invoke(app, ["work", "retry", "1"])
    assert r.exit_code == 0, r.output
    assert "Work item #1 (Loyalty points for imported orders) is queued again" in _out(r)
    shown = runner.invoke(app, ["work", "show", "1"])
    row = json.loads(shown.output)
    assert (row["status"], row["attempts"], row["error"]) == ("queued", 0, None)
    again = runner.invoke(app, ["work", "retry", "1"])
    assert again.exit_code == 1 and "Only failed work can be run again" in _out(again)
    with cli_db.connect() as conn:
        audit = conn.execute(
            text("SELECT action, actor_id FROM audit_log WHERE entity = 'work_item'")
        ).all()
    assert len(audit) == 1 and audit[0][0] == "update"


def test_retry_refuses_kinds_not_safe_to_repeat_and_finished_items(cli_db):
    r = runner.invoke(app, ["work", "retry", "2"])
    assert r.exit_code == 1 and "cannot be run again safely" in _out(r)
    done = runner.invoke(app, ["work", "retry", "3"])
    assert done.exit_code == 1 and "Only failed work can be run again" in _out(done)
    missing = runner.invoke(app, ["work", "show", "99"])
    assert missing.exit_code == 1 and "99" in _out(missing)
    with cli_db.connect() as conn:
        statuses = conn.execute(text("SELECT id, status FROM work_items ORDER BY id")).all()
    assert statuses == [(1, "failed"), (2, "failed"), (3, "done")]
