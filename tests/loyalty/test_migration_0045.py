"""Migration 0045 (the tier's Chinese name on stored loyalty measurements) goes up from 0044
with a stored row, which keeps its tier name and gets no Chinese one (its reason quotes the
name until the next run); down drops the column and up again works. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer


def _has_tier_name_zh(eng) -> bool:
    columns = inspect(eng).get_columns("loyalty_measurements")
    return "tier_name_zh" in {c["name"] for c in columns}


def test_up_down_and_up_again_with_a_stored_row(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0044")
    eng = create_engine(url)
    assert not _has_tier_name_zh(eng)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        insert_customer(conn, 7, now)
        conn.execute(
            text(
                "INSERT INTO loyalty_measurement_runs (id, status, as_of, started_at, "
                "triggered_by, customers, trap) VALUES (1, 'succeeded', :t, :t, 'test', 1, 0)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO loyalty_measurements (customer_id, run_id, computed_at, "
                "loyalty_type, rule, satisfaction_trap, trap_signal, no_alternative, affiliated, "
                "n_orders, orders_recent, complaints, complaints_open, complaints_breached, "
                "tier_name) VALUES (7, 1, :t, 'inertia', 'R5b', false, '', false, false, 3, 1, "
                "0, 0, 0, 'Gold')"
            ),
            {"t": now},
        )
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_tier_name_zh(eng)
    with eng.begin() as conn:
        row = conn.execute(text("SELECT tier_name, tier_name_zh FROM loyalty_measurements")).one()
        assert tuple(row) == ("Gold", None)
        conn.execute(text("UPDATE loyalty_measurements SET tier_name_zh = '金卡'"))
    eng.dispose()

    downgrade(url, "0044")
    eng = create_engine(url)
    assert not _has_tier_name_zh(eng)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT tier_name FROM loyalty_measurements")).scalar() == "Gold"
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_tier_name_zh(eng)
    eng.dispose()
