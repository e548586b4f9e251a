"""Rows written with plain SQL, for migration tests that run before today's models fit the
schema (a database stopped at an old revision)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection


def insert_customer(conn: Connection, customer_id: int, at: datetime) -> None:
    """Customer ``customer_id`` ("Ava"), with the columns every revision since 0001 has."""
    conn.execute(
        text(
            "INSERT INTO customers (id, kind, party_type, name, name_key, consent_email, "
            "consent_sms, consent_phone, consent_profiling, custom_fields, created_at, "
            "updated_at) VALUES (:id, 'consumer', 'person', 'Ava', 'ava', false, false, "
            "false, false, '{}', :t, :t)"
        ),
        {"id": customer_id, "t": at},
    )


def insert_product(conn: Connection, product_id: int, at: datetime) -> None:
    """Product ``product_id`` ("Tea" at 1)."""
    conn.execute(
        text(
            "INSERT INTO products (id, name, unit_price, unit_cost, is_active, created_at, "
            "updated_at, version) VALUES (:id, 'Tea', 1, 1, true, :t, :t, 1)"
        ),
        {"id": product_id, "t": at},
    )
