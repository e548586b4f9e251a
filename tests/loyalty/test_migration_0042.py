"""Migration 0042 (the Chinese names of loyalty tiers and rewards) goes up from 0041 with a tier a
member's account and a reward refer to, which keep their names and get no Chinese one; down
drops the columns in place (the referenced rows stay) and up again works. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade
from tests.factories.raw_rows import insert_customer

TABLES = ("loyalty_tiers", "loyalty_rewards")


def _has_name_zh(eng) -> dict[str, bool]:
    insp = inspect(eng)
    return {t: "name_zh" in {c["name"] for c in insp.get_columns(t)} for t in TABLES}


def test_up_down_and_up_again_with_a_member_in_the_tier(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0041")
    eng = create_engine(url)
    assert _has_name_zh(eng) == {t: False for t in TABLES}
    now = datetime.now(UTC)
    with eng.begin() as conn:
        insert_customer(conn, 7, now)
        conn.execute(
            text(
                "INSERT INTO loyalty_tiers (id, code, name, rank, threshold, multiplier, "
                "invite_only, grace_days, version) VALUES (3, 'gold', 'Gold', 1, 0, 1, false, "
                "30, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO loyalty_accounts (id, kind, shard, customer_id, balance, debt, "
                "tier_id, joined_at) VALUES (5, 'wallet', 0, 7, 0, 0, 3, :t)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO loyalty_rewards (id, code, name, kind, points_cost, min_tier_id, "
                "active, version) VALUES (9, 'MUG', 'Tea mug', 'gift', 600, 3, true, 1)"
            )
        )
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_name_zh(eng) == {t: True for t in TABLES}
    with eng.begin() as conn:
        rows = conn.execute(text("SELECT name, name_zh FROM loyalty_tiers")).all()
        assert [tuple(r) for r in rows] == [("Gold", None)]
        conn.execute(text("UPDATE loyalty_rewards SET name_zh = '茶杯'"))
    eng.dispose()

    downgrade(url, "0041")
    eng = create_engine(url)
    assert _has_name_zh(eng) == {t: False for t in TABLES}
    with eng.connect() as conn:
        assert conn.execute(text("SELECT tier_id FROM loyalty_accounts")).scalar() == 3
        assert conn.execute(text("SELECT name FROM loyalty_rewards")).scalar() == "Tea mug"
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_name_zh(eng) == {t: True for t in TABLES}
    eng.dispose()
