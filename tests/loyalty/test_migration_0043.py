"""Migration 0043 (the Chinese names of earning rules) goes up from 0042 with a rule a member's
rule use refers to, which keeps its name and gets no Chinese one; down drops the column in
place (the referencing row stays) and up again works. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer


def _has_name_zh(eng) -> bool:
    return "name_zh" in {c["name"] for c in inspect(eng).get_columns("loyalty_rules")}


def test_up_down_and_up_again_with_a_rule_in_use(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0042")
    eng = create_engine(url)
    assert not _has_name_zh(eng)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        insert_customer(conn, 7, now)
        conn.execute(
            text(
                "INSERT INTO loyalty_rules (id, name, kind, rate, fixed_points, min_spend, "
                "apply_multiplier, active, created_at, version) VALUES (4, 'Birthday', 'event', "
                "0, 200, 0, true, true, :t, 1)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO loyalty_journals (id, kind, customer_id, source_type, source_id, "
                "reason, created_at) VALUES (11, 'event', 7, 'birthday', '7', 'Birthday', :t)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO loyalty_rule_uses (id, rule_id, customer_id, journal_id, points, at) "
                "VALUES (2, 4, 7, 11, 200, :t)"
            ),
            {"t": now},
        )
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_name_zh(eng)
    with eng.begin() as conn:
        rows = conn.execute(text("SELECT name, name_zh FROM loyalty_rules")).all()
        assert [tuple(r) for r in rows] == [("Birthday", None)]
        conn.execute(text("UPDATE loyalty_rules SET name_zh = '生日礼分'"))
    eng.dispose()

    downgrade(url, "0042")
    eng = create_engine(url)
    assert not _has_name_zh(eng)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT rule_id FROM loyalty_rule_uses")).scalar() == 4
        assert conn.execute(text("SELECT name FROM loyalty_rules")).scalar() == "Birthday"
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_name_zh(eng)
    eng.dispose()
