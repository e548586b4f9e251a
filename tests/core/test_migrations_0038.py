"""Migration 0038 (the idempotency key of survey distributions) goes up, back down to 0037 and
up again with a distribution in the table and an invitation referencing it (on SQLite a batch
copy of the table would fail on that row with foreign keys on); its unique index refuses a
second distribution with the same key, and distributions without a key are not limited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer

COLUMNS = {"idempotency_key", "request_hash"}
INDEX = "uq_survey_distributions_idempotency_key"


def _columns(eng) -> set[str]:
    return {c["name"] for c in inspect(eng).get_columns("survey_distributions")}


def _indexes(eng) -> set[str]:
    return {i["name"] for i in inspect(eng).get_indexes("survey_distributions")}


def _distribution(conn, dist_id: int, key: str | None, now: datetime) -> None:
    conn.execute(
        text(
            "INSERT INTO survey_distributions (id, survey_id, name, channel, segment_kind, "
            "invited, expires_at, created_at, status, idempotency_key, request_hash) "
            "VALUES (:id, 5, 'Spring', 'online', 'all', 1, :t, :t, 'done', :k, :h)"
        ),
        {"id": dist_id, "t": now, "k": key, "h": "0" * 64 if key else None},
    )


def test_up_down_and_up_again_with_an_invitation(scratch_db_url):
    url = scratch_db_url
    upgrade(url)
    eng = create_engine(url)
    assert COLUMNS <= _columns(eng) and INDEX in _indexes(eng)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        insert_customer(conn, 7, now)
        conn.execute(
            text(
                "INSERT INTO surveys (id, name, language, status, expectation_tolerance, "
                "token_days, reminder_after_days, max_reminders, created_at, updated_at, "
                "version) VALUES (5, 'S', 'en', 'active', 0.5, 30, 7, 2, :t, :t, 1)"
            ),
            {"t": now},
        )
        _distribution(conn, 11, "k-11", now)
        _distribution(conn, 12, None, now)
        _distribution(conn, 13, None, now)  # no key: as many as wanted
        conn.execute(
            text(
                "INSERT INTO survey_invitations (distribution_id, survey_id, customer_id, "
                "channel, token_hash, token_salt, expires_at, reminder_count, created_at) "
                "VALUES (11, 5, 7, 'online', 'h', 's', :t, 0, :t)"
            ),
            {"t": now},
        )
    with pytest.raises(IntegrityError), eng.begin() as conn:
        _distribution(conn, 14, "k-11", now)
    eng.dispose()

    downgrade(url, "0037")
    eng = create_engine(url)
    assert not COLUMNS & _columns(eng) and INDEX not in _indexes(eng)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_distributions")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM survey_invitations")).scalar() == 1
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert COLUMNS <= _columns(eng) and INDEX in _indexes(eng)
    with eng.connect() as conn:
        keys = conn.execute(text("SELECT idempotency_key FROM survey_distributions")).all()
        assert keys == [(None,)] * 3
    eng.dispose()
