"""Time loyalty measurement (types, index, trap) over 100,000 customers (target: a few seconds).

    python benchmarks/bench_loyalty_measure.py [--customers 100000] [--db sqlite|postgres] [--runs 3]

Fills a fresh database with bulk Core inserts — customers, about five orders each (10 % with
a discount), one survey answered by 30 % of them (satisfaction, repurchase, recommendation) —
then times ``loyalty_measurement(session)`` for everyone (SQL aggregation + LoyaltyMeasure) and
for one customer (the 360 panel), printing medians in seconds / milliseconds.
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    admin = None
    if args.db == "postgres":
        name = f"retento_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    try:
        t0 = time.perf_counter()
        n_orders = fill(url, args.customers)
        print(
            f"filled {args.customers} customers, {n_orders} orders in {time.perf_counter() - t0:.1f} s"
        )
        engine = make_engine(url)
        factory = make_session_factory(engine)
        full, one = [], []
        for _ in range(args.runs):
            with factory() as s:
                t = time.perf_counter()
                frame = loyalty_measurement(s, as_of=AS_OF)
                full.append(time.perf_counter() - t)
                t = time.perf_counter()
                loyalty_measurement(s, as_of=AS_OF, customer_ids=[args.customers // 2])
                one.append(time.perf_counter() - t)
        engine.dispose()
        med = statistics.median(full)
        print(f"types: {frame['loyalty_type'].value_counts().to_dict()}")
        print(f"trap: {int(frame['satisfaction_trap'].sum())}")
        print(
            f"all customers: median {med:.2f} s (target {TARGET_S:.0f} s) -> ratio {med / TARGET_S:.2f}"
        )
        print(f"one customer (360 panel): median {statistics.median(one) * 1000:.0f} ms")
        return 0 if med <= TARGET_S else 1
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
