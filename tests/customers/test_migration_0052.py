"""Migration 0052 (a GIN index on the custom fields, PostgreSQL only) goes up from 0051 with a
stored customer, building ``ix_customers_custom_fields`` on PostgreSQL and nothing on SQLite;
down drops it, keeping the customer; up again works. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer

NAME = "ix_customers_custom_fields"


def _index(url: str) -> str | None:
    """The index's definition (PostgreSQL), its name (SQLite), or None."""
    eng = create_engine(url)
    with eng.connect() as conn:
        if eng.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = :n"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND name = :n"
        got = conn.execute(text(sql), {"n": NAME}).scalar()
    eng.dispose()
    return got


def test_up_builds_the_index_on_postgresql_only_down_drops_it_and_up_again(scratch_db_url):
    url = scratch_db_url
    pg = url.startswith("postgresql")
    upgrade(url, "0051")
    eng = create_engine(url)
    with eng.begin() as conn:
        insert_customer(conn, 7, datetime.now(UTC))
        conn.execute(text("""UPDATE customers SET custom_fields = '{"vip": true}'"""))
    eng.dispose()
    assert _index(url) is None

    upgrade(url, "0052")
    got = _index(url)
    if pg:
        assert "USING gin" in got and "((custom_fields)::jsonb) jsonb_path_ops" in got, got
        eng = create_engine(url)
        with eng.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            found = conn.execute(
                text("SELECT id FROM customers WHERE custom_fields::jsonb @> '{\"vip\": true}'")
            ).all()
        eng.dispose()
        assert found == [(7,)]
    else:
        assert got is None

    downgrade(url, "0051")
    assert _index(url) is None
    eng = create_engine(url)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT name FROM customers")).scalar() == "Ava"
    eng.dispose()

    upgrade(url)
    assert (_index(url) is not None) == pg
