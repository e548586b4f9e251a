"""Time the retention at-risk list over 200,000 scored customers on PostgreSQL, before and after
the stored ``value_at_risk`` / ``churn_top_reason`` columns (same database, same scoring run).

    python benchmarks/bench_retention_atrisk.py [--customers 200000] [--runs 5] [--url URL]

"Before" is the at-risk query module as it was before the change (read from git, revision
``--before``, default the parent of the commit that introduced the stored columns), computing CLV × risk
and reading the reasons JSON of every score row of the run; "after" is the current
``retention.queries_web``. Both call ``at_risk(...)`` (count + value-at-risk total + the first
page of 50) as the page does. Prints the median milliseconds of ``--runs`` calls per case and
checks that both return the same first page; "page only" is the current page read alone (without
the count and value-at-risk total, which still read every matching row of the run).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.core.db import make_engine
from retento.core.migrate import upgrade
from retento.customers.models import Customer
from retento.retention import queries_web as after
from retento.scoring.models import CustomerScore, ScoreRun, top_reason, value_at_risk

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 20_000
CODES = ["lapsed", "lapsed_once", "spend_falling", "purchases_falling", "few_purchases",
         "low_spend", "complaints_open", "nps_detractor", "loyalty_activity"]  # fmt: skip
CLASSES = ["vip", "major", "ordinary", "small", "below_zero"]


def old_module(rev: str):
    """``retention/queries_web.py`` as of ``rev``, imported under another name."""
    src = subprocess.run(
        ["git", "show", f"{rev}:src/retento/retention/queries_web.py"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "queries_web_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("queries_web_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["queries_web_before"] = mod
    spec.loader.exec_module(mod)
    return mod


def recreate(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def fill(url: str, n: int) -> int:
    """``n`` customers (20 owners, 1 % archived) and one succeeded run scoring all of them."""
    recreate(url)
    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(7)
    now = datetime(2025, 6, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [{"username": f"owner{i}", "display_name": f"Owner {i}", "role": "agent",
              "password_hash": "x", "is_active": True, "locale": "en", "created_at": now,
              "updated_at": now} for i in range(20)]
            + [{"username": "bench", "display_name": "Bench", "role": "admin",
                "password_hash": "x", "is_active": True, "locale": "en", "created_at": now,
                "updated_at": now}],
        )  # fmt: skip
        run_id = conn.execute(
            insert(ScoreRun).returning(ScoreRun.id),
            [{"model": "mbgnbd", "status": "succeeded", "as_of": now, "started_at": now,
              "finished_at": now, "customers_scored": n,
              "params": {"churn": {"horizon_days": 90}}, "report": {}}],
        ).scalar_one()  # fmt: skip
        for start in range(0, n, CHUNK):
            customers, scores = [], []
            for i in range(start, min(start + CHUNK, n)):
                cid = i + 1
                customers.append(
                    {"id": cid, "external_id": f"C{i:08d}", "name": f"Customer {i:07d}",
                     "name_key": f"customer {i:07d}", "party_type": "person",
                     "kind": "consumer", "owner_id": rng.randint(1, 20),
                     "consent_email": False, "consent_sms": False, "consent_phone": False,
                     "consent_profiling": False, "custom_fields": {}, "created_at": now,
                     "updated_at": now,
                     "archived_at": now if rng.random() < 0.01 else None}
                )  # fmt: skip
                clv = None if rng.random() < 0.02 else Decimal(f"{rng.lognormvariate(5, 1.2):.2f}")
                risk = round(rng.random(), 6)
                reasons = [{"code": c, "params": {}} for c in rng.sample(CODES, rng.randint(1, 3))]
                scores.append(
                    {"run_id": run_id, "customer_id": cid, "order_count": rng.randint(1, 20),
                     "last_order_on": date(2025, 6, 30) - timedelta(days=rng.randint(1, 700)),
                     "revenue": Decimal("100.00"), "profit": Decimal("30.00"),
                     "monetary": Decimal("50.00"), "clv": clv, "p_alive": rng.random(),
                     "value_class": rng.choice(CLASSES), "label": "other",
                     "loyalty_stage": "regular", "churn_risk": risk, "churn_reasons": reasons,
                     "value_at_risk": value_at_risk(clv, risk),
                     "churn_top_reason": top_reason(reasons)}
                )  # fmt: skip
            conn.execute(insert(Customer), customers)
            conn.execute(insert(CustomerScore), scores)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE customers"))
        conn.execute(text("VACUUM ANALYZE customer_scores"))
    engine.dispose()
    return run_id


def timed(fn, runs: int) -> tuple[float, object]:
    out = fn()  # warm-up (plans, caches), not counted
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/retento_bench_atrisk"
    )
    ap.add_argument(
        "--before",
        default="4387925~1",
        help="git revision of the 'before' module (default: before the stored columns)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = ap.parse_args()
    before = old_module(args.before)
    t0 = time.perf_counter()
    run_id = fill(args.url, args.customers)
    print(f"filled {args.customers:,} customers + scores in {time.perf_counter() - t0:.0f} s")
    engine = make_engine(args.url)
    with Session(engine) as session:
        actor = session.scalar(select(User).where(User.username == "bench"))
        cases = [
            ("first page, by value at risk", {}, {}),
            ("2nd page (offset 50)", {"offset": 50}, {"offset": 50}),
            ("class = vip", {"f": {"value_class": "vip"}}, {"f": {"value_class": "vip"}}),
            ("reason = lapsed (top reason)", {"f": {"reason": "lapsed"}},
             {"f": {"reason": "lapsed"}}),
            ("reason = lapsed (any of 3)", {"f": {"reason": "lapsed"}},
             {"f": {"reason": "lapsed", "any_rank": True}}),
        ]  # fmt: skip
        print(f"{'case':34} {'before ms':>10} {'after ms':>10} {'page only':>10}  rows  same page")
        for name, b, a in cases:

            def call(mod, spec):
                f = mod.AtRiskFilters(**spec.get("f", {}))
                return mod.at_risk(
                    session, run_id, f, actor=actor, limit=50, offset=spec.get("offset", 0)
                )

            ms_b, (rows_b, total_b, var_b) = timed(lambda b=b: call(before, b), args.runs)
            ms_a, (rows_a, total_a, var_a) = timed(lambda a=a: call(after, a), args.runs)
            same = [r.customer_id for r in rows_b] == [r.customer_id for r in rows_a]
            fa = after.AtRiskFilters(**a.get("f", {}))
            with_var = session.execute(
                after._filtered(run_id, fa).with_only_columns(func.count(after.VAR))
            ).scalar_one()
            ms_page, _ = timed(
                lambda fa=fa, a=a, w=with_var: after._page_by_value(
                    session, after._filtered(run_id, fa), w, 50, a.get("offset", 0)
                ),
                args.runs,
            )
            print(
                f"{name:34} {ms_b:10.0f} {ms_a:10.0f} {ms_page:10.1f}  {total_a:>6,} {same}"
                f"  (before: {total_b:,} rows, total {var_b}; after: total {var_a})"
            )
    engine.dispose()
    if not args.keep:
        recreate(args.url)


if __name__ == "__main__":
    main()
