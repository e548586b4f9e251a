"""Benchmark: the complaint queue and complaint API with 100,000 complaints in PostgreSQL.

Creates a throw-away PostgreSQL database (``RETENTO_TEST_PG_URL`` admin URL, as the tests use),
migrates it, bulk-inserts 20 agents, 5,000 customers and 100,000 complaints with events, then
times through the real FastAPI app (in-process TestClient, bearer token):

* the agent queue ``GET /api/v1/complaints?queue=mine&open=true&sort=due``,
* the team queue, the breaching-soon queue,
* one complaint with its timeline ``GET /api/v1/complaints/{id}``,
* the agent's queue *page* ``GET /complaints?tab=mine|team|soon&sort=due`` (rendered HTML).

Target: median under 100 ms each.

    .venv/bin/python benchmarks/bench_complaints.py [--complaints 100000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import create_engine, insert, select, text

PG_ADMIN_URL = os.environ.get(
    "RETENTO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STATUSES = ["accepted", "in_progress", "awaiting_customer", "resolved", "follow_up", "closed"]
STATUS_P = [0.05, 0.08, 0.02, 0.05, 0.05, 0.75]


def populate(url: str, n: int, seed: int = 7) -> dict:
    from retento.auth.models import User
    from retento.auth.security import hash_password
    from retento.complaints.models import Complaint, ComplaintCategory, ComplaintEvent, SlaPolicy
    from retento.core.db import make_engine
    from retento.customers.models import Customer

    rng = np.random.default_rng(seed)
    eng = make_engine(url)
    now = datetime.now(UTC)
    with eng.begin() as conn:
        pw = hash_password("ledger-Sesame-42")
        lead = conn.execute(
            insert(User).returning(User.id),
            [{"username": "lead", "role": "manager", "password_hash": pw, "display_name": "Lead",
              "is_active": True, "locale": "en", "created_at": now, "updated_at": now}],
        ).scalar_one()  # fmt: skip
        agents = conn.execute(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [{"username": f"agent{i}", "role": "agent", "password_hash": pw, "display_name": f"A{i}",
              "is_active": True, "locale": "en", "manager_id": lead, "created_at": now,
              "updated_at": now} for i in range(20)],
        ).scalars().all()  # fmt: skip
        customers = conn.execute(
            insert(Customer).returning(Customer.id, sort_by_parameter_order=True),
            [{"name": f"Customer {i}", "name_key": f"customer {i}", "party_type": "person",
              "kind": "consumer", "custom_fields": {}, "consent_email": False, "consent_sms": False,
              "consent_phone": False, "consent_profiling": False, "created_at": now,
              "updated_at": now} for i in range(5000)],
        ).scalars().all()  # fmt: skip
        cats = conn.execute(select(ComplaintCategory.id)).scalars().all()
        policy = conn.execute(select(SlaPolicy.id).where(SlaPolicy.name == "Moderate")).scalar_one()
        rows = []
        ages = rng.uniform(0, 400 * 24, n)
        status = rng.choice(STATUSES, size=n, p=STATUS_P)
        for i in range(n):
            rec = now - timedelta(hours=float(ages[i]))
            st = str(status[i])
            open_ = st in ("accepted", "in_progress", "awaiting_customer")
            done = None if open_ else rec + timedelta(hours=float(rng.uniform(1, 100)))
            rows.append({
                "tracking_code": f"RC-B{i:09d}", "customer_id": int(customers[i % 5000]),
                "kind": "complaint", "channel": "phone", "category_id": int(cats[i % len(cats)]),
                "subject": "Benchmark complaint", "description": "Generated.",
                "severity": int(1 + i % 4), "emotion": "calm", "purposes": ["resolved"],
                "status": st, "assignee_id": int(agents[i % 20]), "team_manager_id": lead,
                "value_class": "ordinary", "sla_policy_id": policy, "received_at": rec,
                "clock_started_at": rec, "first_response_due_at": rec + timedelta(hours=4),
                "first_response_warn_at": rec + timedelta(hours=3.2),
                "first_responded_at": rec + timedelta(hours=1),
                "resolution_due_at": None if st == "awaiting_customer" else rec + timedelta(hours=27),
                "resolution_warn_at": None if st == "awaiting_customer" else rec + timedelta(hours=21.6),
                # What the ORM keeps in sync (models.next_warning): the first response is done.
                "next_warn_at": rec + timedelta(hours=21.6) if st in ("accepted", "in_progress") else None,
                "resolved_at": done, "first_resolved_at": done,
                "first_response_breached": False, "resolution_breached": bool(i % 9 == 0),
                "first_response_flag": "ok", "sla_flag": "ok", "flagged": False, "reopen_count": 0,
                "created_at": rec, "updated_at": rec,
            })  # fmt: skip
        ids = []
        for k in range(0, n, 10_000):
            ids += conn.execute(
                insert(Complaint).returning(Complaint.id, sort_by_parameter_order=True),
                rows[k : k + 10_000],
            ).scalars().all()  # fmt: skip
        events = []
        for cid, row in zip(ids, rows, strict=True):
            for j, kind in enumerate(("created", "assignment", "transition", "note", "message")):
                events.append({
                    "complaint_id": cid, "customer_id": row["customer_id"],
                    "at": row["received_at"] + timedelta(minutes=j), "kind": kind,
                    "internal": kind != "message", "actor_name": "bench", "body": "text",
                })  # fmt: skip
            if len(events) >= 50_000:
                conn.execute(insert(ComplaintEvent), events)
                events = []
        if events:
            conn.execute(insert(ComplaintEvent), events)
    # A table that grew to 100,000 rows over months has been vacuumed by autovacuum (PostgreSQL
    # 13+ also vacuums after inserts); a fresh bulk load has not, so its visibility map is empty
    # and index-only scans would still visit the heap. Vacuum once, as autovacuum would have.
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    eng.dispose()
    return {"agent_id": int(agents[0]), "complaint_id": int(ids[n // 2])}


def timed(client, path: str, headers: dict, repeat: int) -> tuple[float, float]:
    client.get(path, headers=headers)  # warm up
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        samples.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.text
    return statistics.median(samples), float(np.percentile(samples, 90))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--complaints", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    from fastapi.testclient import TestClient

    from retento.app import create_app
    from retento.auth.models import User
    from retento.auth.service import issue_token
    from retento.core.config import Settings
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade

    name = f"retento_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        t = time.perf_counter()
        ids = populate(url, args.complaints)
        print(f"populated {args.complaints:,} complaints in {time.perf_counter() - t:.1f} s")
        factory = make_session_factory(make_engine(url))
        with transaction(factory) as s:
            _, token = issue_token(s, s.get(User, ids["agent_id"]), name="bench", actor=None)
        app = create_app(Settings(database_url=url, run_scheduler=False, secret_key="bench"))
        headers = {"Authorization": f"Bearer {token}"}
        base = "/api/v1/complaints"
        cases = [
            ("queue: mine, open, by due", f"{base}?queue=mine&open=true&sort=due"),
            ("queue: my team, open, by due", f"{base}?queue=team&open=true&sort=due"),
            ("queue: breaching soon", f"{base}?queue=breaching&within_minutes=240&sort=due"),
            ("complaint with timeline", f"{base}/{ids['complaint_id']}"),
            ("queue page (HTML): mine, by due", "/complaints?tab=mine&sort=due"),
            ("queue page (HTML): my team, by due", "/complaints?tab=team&sort=due"),
            ("queue page (HTML): breaching soon", "/complaints?tab=soon&sort=due"),
        ]
        print("| request | median ms | p90 ms | vs 100 ms |\n|---|---|---|---|")
        with TestClient(app) as client:
            for label, path in cases:
                med, p90 = timed(client, path, headers, args.repeat)
                print(f"| {label} | {med:.1f} | {p90:.1f} | {med / 100:.2f}× |")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
