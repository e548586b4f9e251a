"""Benchmark: the notification inbox with 500,000 notifications in PostgreSQL.

Creates a throw-away PostgreSQL database (``RETENTO_TEST_PG_URL`` admin URL, as the tests use),
migrates it, bulk-inserts 1,000 users with 500 notifications each (one user: 20,000, a fifth
unread), then times through the real FastAPI app (in-process TestClient):

* the header badge ``GET /notifications/badge`` (capped unread count over both sources),
* the inbox page ``GET /notifications`` and its unread filter and page 20,
* the API list ``GET /api/v1/notifications?limit=50`` (with the total),
* the daily digest job for 1,000 users with 5 digest items each.

Target: median under 100 ms for each request.

    .venv/bin/python benchmarks/bench_notifications.py [--users 1000] [--per-user 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert, text

PG_ADMIN_URL = os.environ.get(
    "RETENTO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "bench-Sesame-42"


def populate(url: str, users: int, per_user: int, heavy: int) -> int:
    from retento.auth.models import User
    from retento.auth.security import hash_password
    from retento.core.db import make_engine
    from retento.notifications.models import Notification

    engine = make_engine(url)
    pw = hash_password(PASSWORD)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "username": f"u{i}",
                    "display_name": f"User {i}",
                    "role": "manager",
                    "password_hash": pw,
                    "email": f"u{i}@example.com",
                    "is_active": True,
                    "locale": "en",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for i in range(users)
            ],
        )
        ids = [r[0] for r in conn.execute(text("SELECT id FROM users ORDER BY id"))]
        rows = []
        for k, uid in enumerate(ids):
            n = heavy if k == 0 else per_user
            for j in range(n):
                unread = j >= n * 4 // 5
                digest = k > 0 and j >= n - 5
                rows.append(
                    {
                        "user_id": uid,
                        "kind": "import_finished",
                        "message": f"Import of f{j}.csv finished: {j} rows, 0 rejected.",
                        "params": {"file": f"f{j}.csv", "rows": j, "rejected": 0},
                        "link": "/imports",
                        "delivery": "digest" if digest else "in_app",
                        "dedupe_key": f"import_finished:b{j}:{uid}",
                        "created_at": now - timedelta(minutes=n - j),
                        "read_at": None if unread else now,
                    }
                )
            if len(rows) >= 20_000:
                conn.execute(insert(Notification), rows)
                rows = []
        if rows:
            conn.execute(insert(Notification), rows)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return ids[0]


def timed(fn, repeat: int) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--per-user", type=int, default=500)
    ap.add_argument("--heavy", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    name = f"notif_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        from fastapi.testclient import TestClient

        from retento.app import create_app
        from retento.core.config import Settings
        from retento.core.db import make_engine, make_session_factory, transaction
        from retento.core.migrate import upgrade
        from retento.notifications.digest import send_digests

        upgrade(url)
        t0 = time.perf_counter()
        populate(url, args.users, args.per_user, args.heavy)
        total = args.heavy + (args.users - 1) * args.per_user
        print(f"{total:,} notifications inserted in {time.perf_counter() - t0:.1f} s")
        app = create_app(Settings(database_url=url, run_scheduler=False, secret_key="b" * 40))
        with TestClient(app) as client:
            import re

            page = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            r = client.post(
                "/login",
                data={"username": "u0", "password": PASSWORD, "csrf_token": token},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
            for label, path in [
                ("badge", "/notifications/badge"),
                ("inbox page", "/notifications"),
                ("inbox unread", "/notifications?unread=1"),
                ("inbox page 20", "/notifications?offset=950"),
                ("API list + total", "/api/v1/notifications?limit=50"),
            ]:
                assert client.get(path).status_code == 200, path
                ms = timed(lambda p=path: client.get(p), args.repeat)
                print(f"{label:18s} {ms:7.1f} ms (median of {args.repeat})")
        engine = make_engine(url)
        t = time.perf_counter()
        with transaction(make_session_factory(engine)) as s:
            rep = send_digests(s)
        first = time.perf_counter() - t
        t = time.perf_counter()
        with transaction(make_session_factory(engine)) as s:
            again = send_digests(s)
        print(
            f"digest: {rep.users} users, {rep.items} items, {rep.emails} e-mails in {first:.2f} s; "
            f"second run {again.users} users in {time.perf_counter() - t:.2f} s"
        )
        engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
