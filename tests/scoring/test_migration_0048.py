"""Migration 0048 (value setting "Profiling needs the customer's consent") goes up from 0047
with the stored settings row, which gets the setting off; down drops the column and up again
works. On both backends."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade


def _has_setting(eng) -> bool:
    return "profiling_needs_consent" in {
        c["name"] for c in inspect(eng).get_columns("value_settings")
    }


def test_up_down_and_up_again_with_the_settings_row(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0047")
    eng = create_engine(url)
    assert not _has_setting(eng)
    with eng.begin() as conn:
        conn.execute(text("UPDATE value_settings SET vip_top_pct = 7 WHERE id = 1"))
        assert conn.execute(text("SELECT count(*) FROM value_settings")).scalar() == 1
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_setting(eng)
    with eng.begin() as conn:
        row = conn.execute(
            text("SELECT vip_top_pct, profiling_needs_consent FROM value_settings WHERE id = 1")
        ).one()
        assert (float(row[0]), bool(row[1])) == (7.0, False)
        conn.execute(text("UPDATE value_settings SET profiling_needs_consent = true"))
    eng.dispose()

    downgrade(url, "0047")
    eng = create_engine(url)
    assert not _has_setting(eng)
    with eng.connect() as conn:
        assert float(conn.execute(text("SELECT vip_top_pct FROM value_settings")).scalar()) == 7.0
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert _has_setting(eng)
    eng.dispose()
