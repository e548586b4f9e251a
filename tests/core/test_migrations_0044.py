"""Migration 0044 (two order indexes fewer for imports) goes up, down to 0043 and up again with
orders in the table: ``ix_orders_ordered_at`` is gone (``ix_orders_time_cover`` leads with the
same column), and the idempotency key's unique index holds only keyed orders while still refusing
a second order with a key already used."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer

KEY_INDEX = "uq_orders_idempotency_key"


def _indexes(eng) -> dict[str, dict]:
    return {i["name"]: i for i in inspect(eng).get_indexes("orders")}


def _order(conn, order_id: int, key: str | None, now: datetime) -> None:
    conn.execute(
        text(
            "INSERT INTO orders (id, external_id, customer_id, ordered_at, status, channel, "
            "discount, revenue, cost, profit, refunded, created_at, updated_at, version, "
            "idempotency_key) VALUES (:id, :ext, 7, :t, 'completed', 'store', 0, 10, 6, 4, 0, "
            ":t, :t, 1, :k)"
        ),
        {"id": order_id, "ext": f"O-{order_id}", "t": now, "k": key},
    )


def _keyed_only(eng) -> bool:
    """Whether the key index is partial (PostgreSQL: its definition; SQLite: its SQL)."""
    with eng.connect() as conn:
        if eng.dialect.name == "postgresql":
            sql = conn.execute(
                text("SELECT pg_get_indexdef(CAST(:n AS regclass))"), {"n": KEY_INDEX}
            )
        else:
            sql = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                {"n": KEY_INDEX},
            )
        return "idempotency_key IS NOT NULL" in sql.scalar()


def test_up_down_and_up_again_with_orders(scratch_db_url):
    url = scratch_db_url
    upgrade(url)
    eng = create_engine(url)
    idx = _indexes(eng)
    assert "ix_orders_ordered_at" not in idx and "ix_orders_time_cover" in idx
    assert idx[KEY_INDEX]["unique"] and _keyed_only(eng)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        insert_customer(conn, 7, now)
        _order(conn, 1, "k-1", now)
        _order(conn, 2, None, now)
        _order(conn, 3, None, now)  # no key (every imported order): as many as wanted
    with pytest.raises(IntegrityError), eng.begin() as conn:
        _order(conn, 4, "k-1", now)
    eng.dispose()

    downgrade(url, "0043")
    eng = create_engine(url)
    idx = _indexes(eng)
    assert "ix_orders_ordered_at" in idx and not _keyed_only(eng)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 3
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert "ix_orders_ordered_at" not in _indexes(eng) and _keyed_only(eng)
    with pytest.raises(IntegrityError), eng.begin() as conn:
        _order(conn, 5, "k-1", now)
    eng.dispose()
