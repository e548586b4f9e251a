"""Migration 0047 (custom roles) goes up from 0046 with a stored user, who keeps their role;
the stamp row is there; down refuses while a user holds a custom role, works once none does,
and up again works. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade


def _tables(eng) -> set[str]:
    return set(inspect(eng).get_table_names())


def test_up_down_and_up_again_with_a_stored_user(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0046")
    eng = create_engine(url)
    assert "roles" not in _tables(eng)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, role, password_hash, is_active, "
                "locale, created_at, updated_at, version) VALUES (1, 'ann', 'Ann', 'agent', 'x', "
                "true, 'en', :t, :t, 1)"
            ),
            {"t": now},
        )
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert {"roles", "role_stamp"} <= _tables(eng)
    with eng.begin() as conn:
        assert conn.execute(text("SELECT role FROM users")).scalar() == "agent"
        assert conn.execute(text("SELECT stamp FROM role_stamp WHERE id = 1")).scalar()
        conn.execute(
            text(
                "INSERT INTO roles (id, name, name_zh, description, permissions, scope, "
                "created_at, updated_at, version) VALUES (1, 'lead', '主管', '', "
                "'[\"customer:read\"]', 'own', :t, :t, 1)"
            ),
            {"t": now},
        )
        conn.execute(text("UPDATE users SET role = 'lead'"))
    eng.dispose()

    with pytest.raises(RuntimeError, match="1 user"):
        downgrade(url, "0046")
    eng = create_engine(url)
    assert "roles" in _tables(eng)
    with eng.begin() as conn:
        conn.execute(text("UPDATE users SET role = 'agent'"))
    eng.dispose()

    downgrade(url, "0046")
    eng = create_engine(url)
    assert not {"roles", "role_stamp"} & _tables(eng)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT username FROM users")).scalar() == "ann"
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert {"roles", "role_stamp"} <= _tables(eng)
    eng.dispose()
