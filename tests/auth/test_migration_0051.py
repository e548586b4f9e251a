"""Migration 0051 (a custom role's base role) goes up from 0050 with stored custom roles, giving
each a base role from what it may do and a new role stamp; down drops the column, keeping the
roles; up again works. On both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from retento.core.migrate import downgrade, upgrade

ROLES = {
    # name: (scope, permissions, expected base role)
    "lead": ("all", ["customer:read", "customer:update", "complaint:assign"], "manager"),
    "helper": ("own", ["customer:read", "customer:update", "complaint:update"], "agent"),
    "watcher": ("all", ["customer:read", "score:read", "data:export"], "analyst"),
    "reader": ("own", ["customer:read"], "analyst"),  # changes nothing: scope governs nothing
    "fixer": ("all", ["customer:read", "complaint:update"], "agent"),
}


def _columns(eng) -> set[str]:
    return {c["name"] for c in inspect(eng).get_columns("roles")}


def test_up_derives_base_roles_down_drops_the_column_and_up_again(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0050")
    eng = create_engine(url)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        for i, (name, (scope, perms, _)) in enumerate(ROLES.items(), start=1):
            conn.execute(
                text(
                    "INSERT INTO roles (id, name, name_zh, description, permissions, scope, "
                    "created_at, updated_at, version) VALUES (:id, :name, '', '', :perms, "
                    ":scope, :t, :t, 1)"
                ),
                {"id": i, "name": name, "perms": json.dumps(perms), "scope": scope, "t": now},
            )
        before = conn.execute(text("SELECT stamp FROM role_stamp WHERE id = 1")).scalar()
    assert "base_role" not in _columns(eng)
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    with eng.begin() as conn:
        got = dict(conn.execute(text("SELECT name, base_role FROM roles")).all())
        assert got == {name: spec[2] for name, spec in ROLES.items()}
        assert conn.execute(text("SELECT stamp FROM role_stamp WHERE id = 1")).scalar() != before
    eng.dispose()

    downgrade(url, "0050")
    eng = create_engine(url)
    assert "base_role" not in _columns(eng)
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM roles")).scalar() == len(ROLES)
    eng.dispose()

    upgrade(url)
    eng = create_engine(url)
    assert "base_role" in _columns(eng)
    eng.dispose()
