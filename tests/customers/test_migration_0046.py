"""Migration 0046 (a customer's optional date of birth) goes up from 0045 with a stored customer,
who gets no date of birth; a date written then survives until down drops the column, and up
again works. On both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer


def _has_birth_date(eng) -> bool:
    return "birth_date" in {c["name"] for c in inspect(eng).get_columns("customers")}


def test_up_down_and_up_again_with_a_stored_customer(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0045")
    eng = create_engine(url)
    assert not _has_birth_date(eng)
    with eng.begin() as conn:
        insert_customer(conn, 7, datetime.now(UTC))
    eng.dispose()

    upgrade(url, "0046")
    eng = create_engine(url)
    assert _has_birth_date(eng)
    with eng.begin() as conn:
        assert conn.execute(text("SELECT name, birth_date FROM customers")).one() == ("Ava", None)
        conn.execute(text("UPDATE customers SET birth_date = :d"), {"d": date(1990, 2, 28)})
        got = conn.execute(text("SELECT birth_date FROM customers")).scalar()
        assert str(got)[:10] == "1990-02-28"
    eng.dispose()

    downgrade(url, "0045")
    eng = create_engine(url)
    assert not _has_birth_date(eng)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT name FROM customers")).scalar() == "Ava"
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_birth_date(eng)
    eng.dispose()
