"""Migrations 0033-0037 (versions of the loyalty and complaint settings, idempotency keys of
remedies, refunds and orders) go up, back down to 0032 and up again with rows in the tables
they change and in the tables that reference them (SLA policies under the seeded calendars,
order lines under an order). On SQLite a batch drop copied each table and dropped the old one,
which those rows refused with foreign keys on."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer, insert_product

CHANGED = {
    "loyalty_programmes": "version",
    "loyalty_tiers": "version",
    "loyalty_rules": "version",
    "loyalty_rewards": "version",
    "complaint_categories": "version",
    "business_calendars": "version",
    "sla_policies": "version",
    "complaint_remedies": "idempotency_key",
    "refunds": "idempotency_key",
    "orders": "idempotency_key",
}


def _columns(eng, table: str) -> set[str]:
    return {c["name"] for c in inspect(eng).get_columns(table)}


def test_up_down_and_up_again_with_referencing_rows(scratch_db_url):
    url = scratch_db_url
    upgrade(url)
    eng = create_engine(url)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        cal = conn.execute(text("SELECT id FROM business_calendars ORDER BY id")).scalar()
        conn.execute(
            text(
                "INSERT INTO sla_policies (name, priority, first_response_minutes, "
                "resolution_minutes, warn_fraction, calendar_id, is_active, created_at, "
                "updated_at, version) VALUES ('Lane', 1, 30, 60, 0.8, :c, true, :t, :t, 3)"
            ),
            {"c": cal, "t": now},
        )
        insert_customer(conn, 7, now)
        insert_product(conn, 3, now)
        conn.execute(
            text(
                "INSERT INTO orders (id, customer_id, ordered_at, status, channel, discount, "
                "revenue, cost, profit, refunded, created_at, updated_at, version, "
                "idempotency_key) VALUES (11, 7, :t, 'completed', 'store', 0, 2, 1, 1, 1, "
                ":t, :t, 1, 'k-11')"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO order_lines (order_id, line_no, product_id, quantity, "
                "unit_price, unit_cost, discount) VALUES (11, 1, 3, 2, 1, 1, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO refunds (order_id, refunded_at, amount, quantity, "
                "idempotency_key) VALUES (11, :t, 1, 0, 'r-1')"
            ),
            {"t": now},
        )
    for table, column in CHANGED.items():
        assert column in _columns(eng, table), table
    eng.dispose()

    downgrade(url, "0032")
    eng = create_engine(url)
    for table, column in CHANGED.items():
        assert column not in _columns(eng, table), table
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM order_lines")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM refunds")).scalar() == 1
        assert (
            conn.execute(text("SELECT count(*) FROM sla_policies WHERE name = 'Lane'")).scalar()
            == 1
        )
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    with eng.connect() as conn:
        assert (
            conn.execute(text("SELECT version FROM sla_policies WHERE name = 'Lane'")).scalar() == 1
        )
        assert conn.execute(text("SELECT idempotency_key FROM orders")).scalar() is None
    eng.dispose()
