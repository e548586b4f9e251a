"""`retento surveys csi` on the test database (SQLite and PostgreSQL)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from retento.cli import app
from retento.surveys import cli as surveys_cli
from retento.surveys.demo import generate_survey_responses
from retento.surveys.models import Survey
from retento.surveys.reports import csi_report
from tests.factories import make_customer

runner = CliRunner()


@pytest.fixture
def on_test_db(monkeypatch, session_factory):
    """The CLI's session is a session of the test transaction."""

    @contextmanager
    def session():
        s = session_factory()
        try:
            yield s
            s.commit()
        finally:
            s.close()

    monkeypatch.setattr(surveys_cli, "cli_session", session)


def test_csi_with_single_item_blocks_prints_gof_as_undefined(on_test_db, single_item_csi_survey):
    r = runner.invoke(
        app, ["surveys", "csi", "--survey", str(single_item_csi_survey.id), "--bootstrap", "20"]
    )
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "ECSI on 24 responses (0 incomplete left out)" in out
    assert "GoF — (undefined: no CSI block has more than one item)" in out
    assert "nan" not in out.lower()
    assert "Satisfaction → Loyalty" in out and "Drivers of Satisfaction" in out


def test_csi_prints_gof_when_defined(on_test_db, db, users):
    rng = np.random.default_rng(5)
    ids = np.array([make_customer(db).id for _ in range(60)])
    days = np.where(np.arange(60) % 2 == 0, 20.0, 500.0)
    generate_survey_responses(
        db, rng, ids, days, datetime(2026, 6, 1, tzinfo=UTC), manager=users["manager"]
    )
    db.commit()
    ecsi = db.scalars(select(Survey).where(Survey.template == "ecsi")).one()
    gof = csi_report(db, ecsi.id, actor=users["analyst"])["gof"]
    assert 0 < gof < 1
    r = runner.invoke(app, ["surveys", "csi", "--survey", str(ecsi.id)])
    assert r.exit_code == 0, r.output
    assert f"GoF {gof:.3f};" in " ".join(r.output.split())
