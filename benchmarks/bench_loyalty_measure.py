"""Time loyalty measurement (types, index, trap) over 100,000 customers.

    python benchmarks/bench_loyalty_measure.py [--customers 100000] [--db sqlite|postgres]
        [--runs 3] [--requests 50] [--url URL] [--keep]

Fills a fresh database with bulk Core inserts — customers, about five orders each (10 % with
a discount), one survey answered by 30 % of them (satisfaction, repurchase, recommendation) —
then times

1. the live computation ``loyalty_measurement(session)`` for everyone (SQL aggregation +
   LoyaltyMeasure) and for one customer against the whole base (what the 360 panel did before
   measurements were stored);
2. a stored run (``measure_store.run_measurement``: features, measure, delete + bulk insert;
   target 60 s);
3. the read paths over HTTP (TestClient, logged-in manager), median of ``--requests`` requests:
   ``/loyalty/types`` (trap list, ``show=all``, custom weights; target 300 ms), the loyalty
   dashboard's box ``/loyalty/types/summary`` (target 300 ms), and the customer 360 page with
   the time spent in the loyalty panel (target 20 ms).

``--url`` reuses an already filled database (``--keep`` leaves the created one in place and
prints its URL). Prints the load average, since the development machine is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert, text

from retento.core.db import make_engine, make_session_factory
from retento.core.migrate import upgrade
from retento.customers.models import Customer
from retento.loyalty.measure import loyalty_measurement
from retento.loyalty.measure_store import run_measurement, tidy
from retento.models import import_all_models
from retento.orders.models import Order
from retento.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    SurveySection,
)

TARGET_S = 5.0
TARGET_RUN_S = 60.0
TARGET_PAGE_MS = 300.0
TARGET_PANEL_MS = 20.0
PASSWORD = "bench-Password-42"
CHUNK = 20_000
AS_OF = datetime(2025, 6, 1, tzinfo=UTC)
PG_ADMIN = os.environ.get(
    "RETENTO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def fill(url: str, n: int) -> int:
    """Create ``n`` customers with orders and survey answers; return the number of orders."""
    upgrade(url)
    import_all_models()
    engine = make_engine(url)
    rng = np.random.default_rng(42)
    now = AS_OF
    n_orders = 0
    with engine.begin() as conn:
        for start in range(0, n, CHUNK):
            ids = range(start + 1, min(start + CHUNK, n) + 1)
            conn.execute(
                insert(Customer),
                [
                    {"id": i, "external_id": f"C{i:08d}", "name": f"Customer {i}",
                     "name_key": f"customer {i}", "party_type": "person",
                     "kind": "consumer" if i % 10 else "business", "custom_fields":
                     {"no_alternative": True} if i % 50 == 0 else {}, "created_at": now,
                     "updated_at": now, "version": 1}
                    for i in ids
                ],
            )  # fmt: skip
            orders = []
            for i in ids:
                k = int(rng.poisson(5))
                gap = float(rng.uniform(7, 120))
                last = float(rng.uniform(0, 400))
                for j in range(k):
                    at = now - timedelta(days=last + gap * (k - 1 - j) + float(rng.normal(0, 2)))
                    disc = rng.random() < 0.1
                    orders.append(
                        {"external_id": f"O{i}-{j}", "customer_id": i, "ordered_at": at,
                         "status": "completed", "channel": "store",
                         "discount": Decimal("5.00") if disc else Decimal("0.00"),
                         "revenue": Decimal("50.00"), "cost": Decimal("30.00"),
                         "profit": Decimal("20.00"), "refunded": Decimal("0.00"),
                         "created_at": now, "updated_at": now, "version": 1}
                    )  # fmt: skip
            if orders:
                conn.execute(insert(Order), orders)
            n_orders += len(orders)
        survey_id = conn.execute(
            insert(Survey).returning(Survey.id),
            [{"name": "Bench", "status": "active", "language": "en", "expectation_tolerance": 0.05,
              "token_days": 30, "reminder_after_days": 3, "max_reminders": 2, "created_at": now,
              "updated_at": now, "version": 1}],
        ).scalar_one()  # fmt: skip
        section_id = conn.execute(
            insert(SurveySection).returning(SurveySection.id),
            [{"survey_id": survey_id, "position": 0, "code": "main", "title": "Main"}],
        ).scalar_one()
        qids = {}
        for pos, (code, qtype, dim, latent, lo, hi) in enumerate(
            [("sat", "rating", "overall", "Satisfaction", 1, 5),
             ("again", "rating", "intent.repurchase", "Loyalty", 1, 5),
             ("rec", "nps", "intent.recommend", "Loyalty", 0, 10)]
        ):  # fmt: skip
            qids[code] = conn.execute(
                insert(SurveyQuestion).returning(SurveyQuestion.id),
                [{"survey_id": survey_id, "section_id": section_id, "section_position": 0,
                  "position": pos, "code": code, "text": code, "qtype": qtype, "scale_min": lo,
                  "scale_max": hi, "required": False, "satisfaction_dimension": dim,
                  "csi_latent": latent}],
            ).scalar_one()  # fmt: skip
        respondents = [i for i in range(1, n + 1) if rng.random() < 0.3]
        for start in range(0, len(respondents), CHUNK):
            chunk = respondents[start : start + CHUNK]
            rows = [
                {"survey_id": survey_id, "customer_id": i, "channel": "phone", "source": "agent",
                 "status": "completed", "started_at": now - timedelta(days=30),
                 "completed_at": now - timedelta(days=30), "updated_at": now}
                for i in chunk
            ]  # fmt: skip
            rids = conn.execute(insert(SurveyResponse).returning(SurveyResponse.id), rows)
            rids = [r[0] for r in rids]
            answers = []
            for rid in rids:
                answers += [
                    {"response_id": rid, "question_id": qids["sat"], "number": float(rng.integers(1, 6))},
                    {"response_id": rid, "question_id": qids["again"], "number": float(rng.integers(1, 6))},
                    {"response_id": rid, "question_id": qids["rec"], "number": float(rng.integers(0, 11))},
                ]  # fmt: skip
            conn.execute(insert(SurveyAnswer), answers)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()
    return n_orders


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_reads(url: str, customers: int, requests: int) -> dict[str, float]:
    """Median milliseconds of the stored read paths over HTTP, logged in as a manager."""
    import re

    from fastapi.testclient import TestClient

    from retento.app import create_app
    from retento.auth.models import User
    from retento.auth.security import hash_password
    from retento.core.config import Settings
    from retento.loyalty import measure_pages  # noqa: F401 - registers the panel
    from retento.web import panels

    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        if s.query(User).filter_by(username="bench").first() is None:
            s.add(User(username="bench", role="manager", display_name="Bench",
                       password_hash=hash_password(PASSWORD)))  # fmt: skip
            s.commit()
    engine.dispose()
    app = create_app(Settings(database_url=url, run_scheduler=False, secret_key="b" * 40))
    panel_times: list[float] = []
    mine = next(p for p in panels.CUSTOMER_PANELS if p.key == "loyalty_type")

    def timed(request, session, customer, user):
        t = time.perf_counter()
        try:
            return mine.load(request, session, customer, user)
        finally:
            panel_times.append(time.perf_counter() - t)

    out: dict[str, float] = {}
    with TestClient(app) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
        r = client.post(
            "/login",
            data={"username": "bench", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

        def median_of(path: str) -> float:
            assert client.get(path).status_code == 200, path  # warm up
            samples = []
            for _ in range(requests):
                t = time.perf_counter()
                r = client.get(path)
                samples.append(time.perf_counter() - t)
                assert r.status_code == 200, (path, r.status_code)
            return _median_ms(samples)

        out["/loyalty/types (trap list)"] = median_of("/loyalty/types")
        out["/loyalty/types?show=all&offset=50000"] = median_of(
            "/loyalty/types?show=all&offset=50000"
        )
        out["/loyalty/types?show=inertia&weights=0.2,0.4,0.4"] = median_of(
            "/loyalty/types?show=inertia&weights=0.2,0.4,0.4"
        )
        out["/loyalty/types/summary (dashboard box)"] = median_of("/loyalty/types/summary")
        cid = customers // 2
        panels.CUSTOMER_PANELS[:] = [
            panels.Panel(**{**mine.__dict__, "load": timed}) if p.key == mine.key else p
            for p in panels.CUSTOMER_PANELS
        ]
        out[f"/customers/{cid} (whole 360 page)"] = median_of(f"/customers/{cid}")
        out["  of which the loyalty panel"] = _median_ms(panel_times[1:])
        t = time.perf_counter()
        r = client.get("/loyalty/types/export.csv?show=all")
        out["/loyalty/types/export.csv?show=all (once)"] = (time.perf_counter() - t) * 1000
    app.state.engine.dispose()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--url", help="Use this already filled database.")
    ap.add_argument("--keep", action="store_true", help="Do not drop the created database.")
    ap.add_argument("--skip-live", action="store_true", help="Skip the live computation.")
    args = ap.parse_args()
    import_all_models()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    admin = None
    name = ""
    if args.url:
        url = args.url
    elif args.db == "postgres":
        name = f"retento_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    ok = True
    try:
        if not args.url:
            t0 = time.perf_counter()
            n_orders = fill(url, args.customers)
            print(
                f"filled {args.customers} customers, {n_orders} orders in "
                f"{time.perf_counter() - t0:.1f} s"
            )
        engine = make_engine(url)
        factory = make_session_factory(engine)
        if not args.skip_live:
            full, one = [], []
            for _ in range(args.runs):
                with factory() as s:
                    t = time.perf_counter()
                    frame = loyalty_measurement(s, as_of=AS_OF)
                    full.append(time.perf_counter() - t)
                    t = time.perf_counter()
                    loyalty_measurement(s, as_of=AS_OF, customer_ids=[args.customers // 2])
                    one.append(time.perf_counter() - t)
            med = statistics.median(full)
            print(f"types: {frame['loyalty_type'].value_counts().to_dict()}")
            print(f"trap: {int(frame['satisfaction_trap'].sum())}")
            print(
                f"live, all customers: median {med:.2f} s (target {TARGET_S:.0f} s) -> ratio "
                f"{med / TARGET_S:.2f}"
            )
            print(
                "live, one customer against the whole base (the old 360 panel): median "
                f"{statistics.median(one) * 1000:.0f} ms"
            )
            ok &= med <= TARGET_S
        runs = []
        for _ in range(args.runs):
            with factory() as s:
                t = time.perf_counter()
                run = run_measurement(s, actor=None, as_of=AS_OF)
                s.commit()
                runs.append(time.perf_counter() - t)
                tidy(engine)
                assert run.status == "succeeded", run.error
                timings = (run.report or {}).get("timings", {})
        med = statistics.median(runs)
        spent = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in timings.items())
        print(
            f"stored run, {run.customers} customers: median {med:.2f} s (last: {spent}; target "
            f"{TARGET_RUN_S:.0f} s) -> ratio {med / TARGET_RUN_S:.2f}"
        )
        ok &= med <= TARGET_RUN_S
        engine.dispose()
        for path, ms in bench_reads(url, args.customers, args.requests).items():
            target = TARGET_PANEL_MS if "panel" in path else TARGET_PAGE_MS
            mark = "" if "once" in path or "whole" in path else f" (target {target:.0f} ms)"
            print(f"{path}: median {ms:.1f} ms{mark}")
            if not mark:
                continue
            ok &= ms <= target
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0 if ok else 1
    finally:
        if admin is not None:
            if args.keep:
                print(f"kept {url}")
            else:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
