"""The customer 360 panels that read survey answers do it in a fixed number of statements
(issue 15, point 4): the surveys panel's history (not one lazy load per response and survey) and
the relationship panel (the value settings read with the delivered value)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from retento.scoring import relationship, value_settings
from retento.surveys import reports, responses, service
from retento.surveys.schemas import AnswerIn, ResponseCreate, SurveyUpdate
from tests.factories import make_customer
from tests.surveys.conftest import small_survey_data

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)


class Statements:
    def __init__(self, session):
        self.engine = session.get_bind()
        self.seen: list[str] = []

    def _count(self, _conn, _cursor, statement: str, *_a, **_kw) -> None:
        if statement.split(None, 1)[0].upper() not in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
            self.seen.append(statement)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def _answer(db, users, survey, customer, *, sat, speed, cost, at):
    responses.record_response(
        db,
        survey.id,
        ResponseCreate(
            customer_id=customer.id,
            allow_duplicate=True,
            answers=[
                AnswerIn(question="sat", number=sat),
                AnswerIn(question="rec", number=sat * 2),
                AnswerIn(question="speed", expectation=3, number=speed),
                AnswerIn(question="cost", number=cost),
            ],
        ),
        actor=users["agent"],
        now=at,
    )


@pytest.fixture
def answered(db, users, small_survey):
    """A customer with five responses to two surveys."""
    other = service.create_survey(
        db, small_survey_data(name="Second survey"), actor=users["manager"]
    )
    service.update_survey(db, other.id, SurveyUpdate(status="active"), actor=users["manager"])
    c = make_customer(db)
    for i in range(5):
        survey = small_survey if i % 2 else other
        _answer(
            db, users, survey, c, sat=1 + i, speed=1 + i % 5, cost=5 - i, at=NOW + timedelta(days=i)
        )
    db.commit()
    return c


def _fresh(db, *objs) -> None:
    """Like a new request: nothing loaded but ``objs`` (the page's customer and user)."""
    db.expire_all()
    for obj in objs:
        db.refresh(obj)


def test_survey_history_reads_in_three_statements_however_many_responses(db, users, answered):
    _fresh(db, answered, users["agent"])
    with Statements(db) as sql:
        hist = reports.customer_history(db, answered.id, actor=users["agent"])
    # The responses with their surveys, then every answer and every question at once.
    assert len(sql.seen) == 3, sql.seen
    assert [h["csat"] for h in hist] == [5, 4, 3, 2, 1]  # newest first
    assert [h["nps_score"] for h in hist] == [10, 8, 6, 4, 2]
    assert [h["survey_name"] for h in hist] == ["Second survey", "Small survey"] * 2 + [
        "Second survey"
    ]
    assert all(h["csat_scale_max"] == 5 and h["level"] for h in hist)


def test_relationship_panel_reads_settings_and_delivered_value_in_one_statement(
    db, users, answered
):
    settings = value_settings.get_settings(db)
    settings.wallet_window_days = 90
    db.commit()
    _fresh(db, answered, users["agent"])
    with Statements(db) as sql:
        panel = relationship.customer_panel(db, answered, actor=users["agent"])
    # Settings with the scores, then our sales in the window (no recorded category spends).
    assert len(sql.seen) == 2, sql.seen
    assert "value_settings" in sql.seen[0] and "survey_answers" in sql.seen[0]
    window = value_settings.get_settings(db).wallet_window_days
    assert window == 90 and panel["share_of_wallet"]["window_days"] == 90
    assert panel == relationship.customer_relationship(
        db, answered.id, actor=users["agent"], window_days=window
    )
    assert panel["delivered_value"]["weakest"] is not None


def test_relationship_panel_of_a_customer_never_asked(db, users, small_survey):
    c = make_customer(db)
    db.commit()
    panel = relationship.customer_panel(db, c, actor=users["agent"])
    assert panel["delivered_value"] is None
    window = value_settings.get_settings(db).wallet_window_days
    assert panel["share_of_wallet"]["window_days"] == window
    assert panel == relationship.customer_relationship(
        db, c.id, actor=users["agent"], window_days=window
    )
