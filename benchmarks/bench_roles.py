"""What custom roles cost a request: the user-loading statement with and without the role
stamp, a permission check, and a reload of the custom roles (docs/permissions.md).

    python benchmarks/bench_roles.py [--n 3000] [--roles 20]

On SQLite (a temporary file) and PostgreSQL (``RETENTO_BENCH_PG``, database ``bench_roles``,
re-created): migrates, adds one user with a web session and ``--roles`` custom roles, then
times ``--n`` executions of each variant (best of 3 rounds, microseconds per call).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from sqlalchemy import bindparam, create_engine, select, text

from retento.auth import permissions, roles, sessions
from retento.auth.models import User, UserSession
from retento.auth.schemas import RoleCreate
from retento.core.db import make_engine, make_session_factory
from retento.core.migrate import upgrade
from retento.models import import_all_models

PG = os.environ.get("RETENTO_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def best(fn, n: int) -> float:
    out = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t0) / n * 1e6)
    return min(out)


def measure(url: str, n: int, n_roles: int) -> dict[str, float]:
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        for i in range(n_roles):
            roles.create_role(
                s,
                RoleCreate(name=f"role{i}", permissions=["customer:read", "order:read"]),
                actor=None,
            )
        user = User(username="bench", role="role0", password_hash="x", display_name="b")
        s.add(user)
        s.flush()
        plain = sessions.start(s, user, absolute_seconds=86400, user_agent="", ip="")
        s.commit()
    sid = sessions.hash_sid(plain)
    old_stmt = (
        select(
            UserSession.id,
            UserSession.last_seen_at,
            UserSession.expires_at,
            UserSession.revoked_at,
            User,
        )
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.sid_hash == bindparam("sid_hash", type_=UserSession.sid_hash.type))
    )
    new_stmt = sessions._session_user_statement()
    res: dict[str, float] = {}
    with factory() as s:
        s.execute(new_stmt, {"sid_hash": sid}).first()

        def without():
            s.execute(old_stmt, {"sid_hash": sid}).first()
            s.expire_all()

        def with_stamp():
            row = s.execute(new_stmt, {"sid_hash": sid}).first()
            roles.seen(s, row.role_stamp)
            s.expire_all()

        # Alternated, best of each: both see the same machine load.
        a, b = [], []
        for _ in range(10):
            a.append(best(without, n // 10))
            b.append(best(with_stamp, n // 10))
        res["user statement, before (µs)"] = min(a)
        res["user statement + stamp + seen() (µs)"] = min(b)
        holder = s.scalar(select(User).where(User.username == "bench"))

        def reload():
            roles.load(s, "x")

        res[f"reload of {n_roles} custom roles (µs)"] = best(reload, max(n // 10, 50))
        roles.sync(s)
        agent = type("U", (), {"role": "agent", "is_active": True})()

        def before_can(user=agent, verb="order:read"):  # the check as it was: a set per verb
            if verb not in permissions.MATRIX:
                raise KeyError(verb)
            return user.is_active and user.role in permissions.MATRIX[verb]

        c1, c2, c3 = [], [], []
        for _ in range(10):
            c1.append(best(before_can, n))
            c2.append(best(lambda: permissions.can(agent, "order:read"), n))
            c3.append(best(lambda: permissions.can(holder, "order:read"), n))
        res["can() before, built-in role (µs)"] = min(c1)
        res["can(), built-in role (µs)"] = min(c2)
        res["can(), custom role (µs)"] = min(c3)
    engine.dispose()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--roles", type=int, default=20)
    args = ap.parse_args()
    import_all_models()
    with tempfile.TemporaryDirectory() as tmp:
        results = {"sqlite": measure(f"sqlite:///{tmp}/bench.db", args.n, args.roles)}
    admin = create_engine(PG + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "bench_roles" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "bench_roles"'))
    try:
        results["postgresql"] = measure(PG + "/bench_roles", args.n, args.roles)
    finally:
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "bench_roles" WITH (FORCE)'))
        admin.dispose()
    for backend, res in results.items():
        print(f"\n{backend}")
        for k, v in res.items():
            print(f"  {k:45s} {v:9.2f}")


if __name__ == "__main__":
    main()
