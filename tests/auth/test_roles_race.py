"""On PostgreSQL, deleting a role while administrators give it to users never leaves a user
holding a deleted role: the delete locks the role's row FOR UPDATE and counts holders under
the lock; giving the role takes FOR KEY SHARE on it first (auth.roles.check_role)."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from retento.auth import roles
from retento.auth.models import Role, User
from retento.auth.schemas import RoleCreate
from tests.factories import make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, statuses

ROUNDS = 6
ASSIGNERS = 4


def test_role_delete_racing_role_assignments_leaves_no_orphan(live_pg):
    for rnd in range(ROUNDS):
        name = f"temp{rnd}"
        with live_pg.session() as s:
            admin = s.scalar(select(User).where(User.username == "root")) or make_user(
                s, username="root", role="admin"
            )
            roles.create_role(s, RoleCreate(name=name, permissions=["customer:read"]), actor=None)
            targets = [make_user(s, username=f"u{rnd}_{i}") for i in range(ASSIGNERS)]
            heads = bearer_headers(s, admin, ASSIGNERS + 1)
            ids = [(u.id, u.version) for u in targets]
            s.commit()

        def call(i: int, name=name, ids=ids, heads=heads, rnd=rnd) -> int:
            with live_pg.client() as c:
                # Staggered a little, differently each round, so the delete lands before,
                # between and after the assignments.
                time.sleep(0.004 * ((i * (rnd + 1)) % 5) if i else 0.004 * rnd)
                if i == 0:
                    return c.delete(f"/api/v1/roles/{name}", headers=heads[0]).status_code
                uid, _ = ids[i - 1]
                return c.patch(
                    f"/api/v1/users/{uid}", json={"role": name}, headers=heads[i]
                ).status_code

        results = run_parallel(ASSIGNERS + 1, call)
        counts = statuses(results[1:])
        assert set(counts) <= {200, 422, 503}, counts
        with live_pg.session() as s:
            exists = s.scalar(select(Role.id).where(Role.name == name)) is not None
            held = s.scalar(select(func.count()).select_from(User).where(User.role == name))
        # The invariant: a deleted role is held by nobody.
        assert exists or held == 0, (results, held)
        if results[0] == 204:
            assert not exists and counts[200] == 0
        else:
            assert results[0] in (409, 503) and exists
            assert held == counts[200]
            if results[0] == 409:
                assert held >= 1
