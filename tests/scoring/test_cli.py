"""`retento score` through the real Typer command on a migrated SQLite file."""

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
    url = f"sqlite:///{tmp_path / 'score.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    eng = create_engine(url)
    yield eng
    eng.dispose()
    get_settings.cache_clear()


def _output(result) -> str:
    return " ".join(result.output.split())


def test_score_without_buyers_is_a_clear_error(cli_db):
    r = runner.invoke(
        app, ["user", "create", "boss", "--role", "admin", "--password", "long-password"]
    )
    assert r.exit_code == 0, _output(r)
    r = runner.invoke(app, ["score"])
    assert r.exit_code == 1
    assert "At least 10 customers with orders are needed" in _output(r)
    with cli_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM score_runs")).scalar_one() == 0


def test_score_runs_the_chosen_model_and_reports_the_fit(cli_db):
    r = runner.invoke(app, ["demo", "--customers", "150", "--seed", "3"])
    assert r.exit_code == 0, _output(r)
    r = runner.invoke(app, ["score", "--model", "pareto", "--holdout-weeks", "13"])
    assert r.exit_code == 0, _output(r)
    out = _output(r)
    assert "customers scored with pareto" in out and "log-likelihood" in out
    assert "Holdout (13 weeks): MAE per customer" in out
    with cli_db.connect() as conn:
        run = conn.execute(
            text("SELECT model, status, customers_scored FROM score_runs ORDER BY id DESC")
        ).first()
        scored = conn.execute(
            text(
                "SELECT count(*) FROM customer_scores WHERE run_id = (SELECT max(id) FROM score_runs)"
            )
        ).scalar_one()
    assert run.model == "pareto" and run.status == "succeeded"
    assert run.customers_scored == scored > 0
    bad = runner.invoke(app, ["score", "--model", "nope"])
    assert bad.exit_code == 1 and "model" in _output(bad)
