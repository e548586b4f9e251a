"""Migration 0053 (saved segments' ids never reused) goes up from 0052 with saved segments,
their members and a playbook still pointing at a deleted segment: on SQLite the table is
rebuilt with AUTOINCREMENT, every segment and member kept (ids included), and a segment saved
afterwards gets an id past every id used or referred to; PostgreSQL (a sequence) is left as it
is and never reuses an id either. Down keeps the data; up again works. On both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import inspect, text

from retento.core.db import make_engine
from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer

NOW = datetime(2026, 12, 7, tzinfo=UTC)
PROFILE = {"profiles": [{"segment": 0, "name_en": "Loyal", "name_zh": "忠实"}], "scores": []}


def _save(conn, name: str) -> int:
    """A saved segment numbered by the database, as the app saves one."""
    conn.execute(
        text(
            "INSERT INTO insight_segments (name, method, k, features, profile, customers, "
            "created_at, updated_at, version) VALUES (:name, 'kmeans', 2, :features, :profile, "
            "2, :t, :t, 1)"
        ),
        {
            "name": name,
            "features": json.dumps(["recency"]),
            "profile": json.dumps(PROFILE),
            "t": NOW,
        },
    )
    return conn.execute(
        text("SELECT id FROM insight_segments WHERE name = :n"), {"n": name}
    ).scalar_one()


def _state(url: str) -> tuple[list, list]:
    eng = make_engine(url)
    with eng.connect() as conn:
        segments = conn.execute(
            text("SELECT id, name, k, customers, version FROM insight_segments ORDER BY id")
        ).all()
        members = conn.execute(
            text(
                "SELECT id, segment_id, customer_id, cluster FROM insight_segment_members "
                "ORDER BY id"
            )
        ).all()
    eng.dispose()
    return [tuple(r) for r in segments], [tuple(r) for r in members]


def _table_sql(url: str) -> str:
    eng = make_engine(url)
    with eng.connect() as conn:
        sql = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'insight_segments'")
        ).scalar_one()
    eng.dispose()
    return sql


def test_ids_are_not_reused_and_rows_and_members_are_kept(scratch_db_url):
    url = scratch_db_url
    sqlite = url.startswith("sqlite")
    upgrade(url, "0052")
    eng = make_engine(url)
    with eng.begin() as conn:
        for cid in (1, 2):
            insert_customer(conn, cid, NOW)
        first, second, third = (_save(conn, n) for n in ("Spring", "Summer", "Autumn"))
        assert (first, second, third) == (1, 2, 3)
        for mid, (seg, cid, cluster) in enumerate(
            ((first, 1, 0), (first, 2, 1), (second, 1, 1), (third, 2, 0)), start=1
        ):
            conn.execute(
                text(
                    "INSERT INTO insight_segment_members (id, segment_id, customer_id, cluster) "
                    "VALUES (:id, :s, :c, :k)"
                ),
                {"id": mid, "s": seg, "c": cid, "k": cluster},
            )
        # A playbook limited to cluster 0 of "Autumn", which is then deleted (before 0053 it
        # left the filter behind): the newest segment, so SQLite would hand out its id again.
        conn.execute(
            text(
                "INSERT INTO retention_playbooks (value_class, reason, action, name_en, name_zh, "
                "script_en, script_zh, due_days, control_share, window_days, cost, offer_points, "
                "segment_id, segment_cluster, enabled, updated_at, version) VALUES ('key', '*', "
                "'call', 'Call', '致电', '', '', 3, 0.1, 60, 0, 0, :s, 0, true, :t, 1)"
            ),
            {"s": third, "t": NOW},
        )
        conn.execute(text("DELETE FROM insight_segments WHERE id = :s"), {"s": third})
    eng.dispose()
    before = _state(url)
    assert before[0] == [(1, "Spring", 2, 2, 1), (2, "Summer", 2, 2, 1)]
    assert before[1] == [(1, 1, 1, 0), (2, 1, 2, 1), (3, 2, 1, 1)]
    if sqlite:
        assert "AUTOINCREMENT" not in _table_sql(url)

    upgrade(url, "0053")
    assert _state(url) == before
    if sqlite:
        assert "AUTOINCREMENT" in _table_sql(url)
    eng = make_engine(url)
    assert {i["name"] for i in inspect(eng).get_indexes("insight_segments")} >= {
        "ix_insight_segments_created_by_id"
    }
    with eng.begin() as conn:
        # Past the deleted segment the playbook still names, not 3 again.
        assert _save(conn, "Winter") == 4
        conn.execute(text("DELETE FROM insight_segments WHERE id = 4"))
        assert _save(conn, "Spring again") == 5  # nor the one deleted just now
        # The cascade still works on the rebuilt table: Summer's member goes with it.
        conn.execute(text("DELETE FROM insight_segments WHERE id = :s"), {"s": second})
        assert conn.execute(text("SELECT count(*) FROM insight_segment_members")).scalar() == 2
    eng.dispose()

    kept = _state(url)
    downgrade(url, "0052")
    assert _state(url) == kept
    if sqlite:
        assert "AUTOINCREMENT" not in _table_sql(url)
    upgrade(url)
    assert _state(url) == kept
    if sqlite:
        assert "AUTOINCREMENT" in _table_sql(url)
