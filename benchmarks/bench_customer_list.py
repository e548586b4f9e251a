"""Time the customer list page over 1,000,000 customers on SQLite (target: under 300 ms).

    python benchmarks/bench_customer_list.py [--customers 1000000] [--db path.db] [--runs 5]

Fills a fresh SQLite file with bulk Core inserts (customers, tags, 20 owners), then requests
the list page through the ASGI app with TestClient, logged in through the login form, and
prints the median milliseconds per request for search, filters, sorts and a deep page.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from retento.app import create_app
from retento.auth.models import User
from retento.auth.security import hash_password
from retento.core.config import Settings
from retento.core.db import make_engine
from retento.core.migrate import upgrade
from retento.customers.models import KINDS, Customer, CustomerTag

TARGET_MS = 300
CHUNK = 50_000
FIRST = ["mar", "li", "wang", "zhang", "chen", "anna", "john", "sofia", "ravi", "lucas", "emma"]
LAST = ["tin", "ng", "ez", "son", "berg", "ova", "ini", "ami", "ford", "ley", "ard"]
TAGS = ["vip", "wholesale", "newsletter", "north", "south", "b2b", "at-risk", "rare-tag"]


def fill(url: str, n: int) -> None:
    """Create ``n`` customers (and 20 owners, tags on ~12 % of them) with Core bulk inserts."""
    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(42)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    pw = hash_password("bench-password")
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {"username": f"owner{i}", "display_name": f"Owner {i}", "role": "agent",
                 "password_hash": pw, "is_active": True, "locale": "en", "created_at": now,
                 "updated_at": now}
                for i in range(20)
            ]
            + [{"username": "bench", "display_name": "Bench", "role": "admin", "password_hash": pw,
                "is_active": True, "locale": "en", "created_at": now, "updated_at": now}],
        )  # fmt: skip
        for start in range(0, n, CHUNK):
            rows, tags = [], []
            for i in range(start, min(start + CHUNK, n)):
                name = f"{rng.choice(FIRST).title()}{rng.choice(LAST)} {i:07d}"
                rows.append(
                    {
                        "id": i + 1, "external_id": f"C{i:08d}", "name": name,
                        "name_key": name.lower(), "party_type": "person",
                        "kind": KINDS[0] if rng.random() < 0.7 else rng.choice(KINDS),
                        "email": f"c{i}@example.com", "phone": f"+1555{i:07d}",
                        "city": "Shanghai", "owner_id": rng.randint(1, 20),
                        "consent_email": False, "consent_sms": False, "consent_phone": False,
                        "consent_profiling": False, "custom_fields": {}, "created_at": now,
                        "updated_at": now,
                    }
                )  # fmt: skip
                if rng.random() < 0.12:
                    tag = "rare-tag" if rng.random() < 0.01 else rng.choice(TAGS[:-1])
                    tags.append({"customer_id": i + 1, "tag": tag})
            conn.execute(insert(Customer), rows)
            if tags:
                conn.execute(insert(CustomerTag), tags)
            print(f"  {min(start + CHUNK, n):>9,} customers", end="\r", file=sys.stderr)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    print(f"filled {n:,} customers in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def login(client: TestClient) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={"username": "bench", "password": "bench-password", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def main() -> None:
    """Fill (unless the file exists), then time each list request."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.db or Path(tmp.name) / "bench-customers.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        fill(url, args.customers)
    n = args.customers
    app = create_app(Settings(database_url=url, run_scheduler=False, secret_key="bench"))
    htmx = {"HX-Request": "true", "HX-Target": "results"}
    cases = [
        ("first page, sorted by name", "/customers", {}),
        ("search by name prefix", "/customers?q=mart", {}),
        ("search by external id", f"/customers?q=C{n // 2:08d}", {}),
        ("search by email", f"/customers?q=c{n // 3}@example.com", {}),
        ("filter kind=business", "/customers?kind=business", {}),
        ("filter scope=internal", "/customers?scope=internal", {}),
        ("filter tag=vip", "/customers?tag=vip", {}),
        ("filter rare tag", "/customers?tag=rare-tag", {}),
        ("filter owner + kind", "/customers?owner=7&kind=consumer", {}),
        ("sort newest first", "/customers?sort=-id", {}),
        ("sort name Z–A, kind=supplier", "/customers?sort=-name&kind=supplier", {}),
        ("deep page (offset 500,000)", f"/customers?sort=-id&offset={n // 2}", {}),
        ("deep page by name (offset 500,000)", f"/customers?offset={n // 2}", {}),
        ("htmx partial (search)", "/customers?q=wang", htmx),
        ("match count (capped at 10,000)", "/customers/count?kind=business", {}),
    ]
    print(f"\n{n:,} customers, SQLite, median of {args.runs} runs, target {TARGET_MS} ms\n")
    print(f"{'request':<40} {'ms':>8}  {'rows':>5}  verdict")
    results = []
    with TestClient(app) as client:
        login(client)
        for label, url_, headers in cases:
            client.get(url_, headers=headers)  # warm the page cache
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                r = client.get(url_, headers=headers)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (url_, r.status_code)
            rows = r.text.count('<a href="/customers/')
            ms = statistics.median(times)
            results.append((label, ms))
            verdict = "ok" if ms < TARGET_MS else "SLOW"
            print(f"{label:<40} {ms:8.1f}  {rows:>5}  {verdict}")
    worst = max(results, key=lambda x: x[1])
    print(f"\nslowest: {worst[0]} at {worst[1]:.1f} ms (target {TARGET_MS} ms)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
