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
