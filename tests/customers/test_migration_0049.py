"""Migration 0049 (custom field definitions) goes up from 0048 next to a customer whose custom
fields were stored before any definition: the values stay as they were; a definition can be
stored; down drops the table (the values still stay) and up again works. On both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer


def _has_table(eng) -> bool:
    return "custom_field_definitions" in inspect(eng).get_table_names()


def _custom(conn) -> dict:
    raw = conn.execute(text("SELECT custom_fields FROM customers WHERE id = 7")).scalar()
    return raw if isinstance(raw, dict) else json.loads(raw)


def test_up_down_and_up_again_with_stored_custom_fields(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0048")
    eng = create_engine(url)
    assert not _has_table(eng)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        insert_customer(conn, 7, now)
        conn.execute(
            text("UPDATE customers SET custom_fields = :v WHERE id = 7"),
            {"v": json.dumps({"segment": "food", "score": 7})},
        )
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_table(eng)
    columns = {c["name"] for c in inspect(eng).get_columns("custom_field_definitions")}
    assert {"key", "label", "label_zh", "field_type", "options", "required", "active",
            "position", "version"} <= columns  # fmt: skip
    with eng.begin() as conn:
        assert _custom(conn) == {"segment": "food", "score": 7}
        # The keys Retento itself reads are defined, with their types.
        built_in = conn.execute(
            text("SELECT key, field_type, version FROM custom_field_definitions ORDER BY position")
        ).all()
        assert [tuple(r) for r in built_in] == [
            ("wallet_spend", "number", 1),
            ("no_alternative", "boolean", 1),
            ("affiliated", "boolean", 1),
            ("language", "choice", 1),
        ]
        conn.execute(
            text(
                "INSERT INTO custom_field_definitions (id, key, label, label_zh, field_type, "
                "options, required, active, position, created_at, updated_at) VALUES (100, "
                "'segment', 'Segment', '细分', 'choice', :o, false, true, 10, :t, :t)"
            ),
            {"o": json.dumps([{"value": "food", "label_zh": "食品"}]), "t": now},
        )
        row = conn.execute(
            text("SELECT key, version FROM custom_field_definitions WHERE id = 100")
        ).one()
        assert tuple(row) == ("segment", 1)
    eng.dispose()

    downgrade(url, "0048")
    eng = create_engine(url)
    assert not _has_table(eng)
    with eng.connect() as conn:
        assert _custom(conn) == {"segment": "food", "score": 7}
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_table(eng)
    eng.dispose()
