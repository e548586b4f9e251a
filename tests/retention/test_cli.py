"""`retento retention evaluate | alerts | report` on a database file."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory, transaction
from retento.core.migrate import upgrade
from tests.factories import make_customer, make_order, make_user
from tests.retention.helpers import make_run

runner = CliRunner()


def test_evaluate_alerts_and_report(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    now = datetime.now(UTC)
    with transaction(make_session_factory(engine)) as s:
        make_user(s, role="admin")
        c = make_customer(s, name="Lapsed Lee")
        for d in (160, 130, 100):
            make_order(s, c, ordered_at=now - timedelta(days=d))
        make_run(s, {c.id: {"value_class": "small"}})
    first = runner.invoke(app, ["retention", "evaluate", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["created"] == 1
    again = runner.invoke(app, ["retention", "evaluate"])
    assert again.exit_code == 0 and again.output.startswith("0 new alert(s)")
    listed = runner.invoke(app, ["retention", "alerts", "--status", "", "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert data["total"] == 1 and data["items"][0]["class"] == "small"
    assert "usually buys every 30 days" in data["items"][0]["reason"]
    bad = runner.invoke(app, ["retention", "alerts", "--rule", "nonsense"])
    assert bad.exit_code != 0 and "rule" in bad.output
    rep = runner.invoke(app, ["retention", "report"])
    assert rep.exit_code == 0 and "Win-back uplift by playbook" in rep.output
    rep_json = json.loads(runner.invoke(app, ["retention", "report", "--json"]).output)
    assert {r["action"] for r in rep_json} == {"task", "call", "offer", "email", "let_go"}
    engine.dispose()


def test_report_names_playbooks_in_the_chosen_language(tmp_path, monkeypatch):
    """`retento retention report` printed the English names only; --locale (or --lang) zh_CN
    prints the Chinese ones, English where a playbook has none, and English by default."""
    from retento.retention import playbooks, service
    from retento.retention.models import RetentionPlaybook

    url = f"sqlite:///{tmp_path / 'report.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    # One line per playbook. The CLI's console is made at import (possibly by an earlier
    # test in this process, without a terminal: 80 columns), so COLUMNS would come too late.
    from retento.core.cli_support import console

    monkeypatch.setattr(console, "_width", 200)
    get_settings.cache_clear()
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        admin = make_user(s, role="admin")
        service.get_config(s)
        books = playbooks.list_playbooks(s, actor=admin)
        unnamed = next(p for p in books if p.action == "let_go")
        s.get(RetentionPlaybook, unnamed.id).name_zh = ""
        names = {p.id: (p.name_en, p.name_zh) for p in books}
    english = runner.invoke(app, ["retention", "report"])
    chinese = runner.invoke(app, ["retention", "report", "--locale", "zh_CN"])
    short = runner.invoke(app, ["retention", "report", "--lang", "zh"])
    assert english.exit_code == chinese.exit_code == short.exit_code == 0, chinese.output
    for pid, (name_en, name_zh) in names.items():
        assert f"{pid} {name_en}" in english.output
        if pid == unnamed.id:
            assert f"{pid} {name_en}" in chinese.output
        else:
            assert f"{pid} {name_zh}" in chinese.output and name_en not in chinese.output
    assert short.output == chinese.output
    engine.dispose()
