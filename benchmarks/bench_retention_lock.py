"""A manager applying a playbook while the retention evaluation opens many cases under it.

    .venv/bin/python benchmarks/bench_retention_lock.py [--customers 1500] [--before-src DIR]

On a scratch PostgreSQL database (``RETENTO_BENCH_PG`` server URL): ``--customers`` lapsed key
customers (every 30 days, silent for 110 days, churn risk 0.95) and one more, A, with an open
alert. One thread runs the evaluation (``service.evaluate``: alerts, cases under the key
playbook, owner notices) and commits; once it has claimed its first customer, and 0.5 s later,
a second thread applies the same playbook to A's alert (``playbook_apply.apply_to_alert``, the
service behind ``POST /api/v1/retention/alerts/{id}/apply``) and commits. The baseline is the
same apply on another customer's alert with no evaluation running, in the same process. It
prints the evaluation's time, the apply's time idle and during the evaluation, and their ratio.

``--before-src DIR`` (e.g. ``git archive 765459f src | tar -x -C /tmp/before``) runs the same
scenario with that ``src`` first, each in a fresh process and database, for a before/after in
one run. The lock timeout is raised to 120 s so a wait is measured, not cut off at 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("RETENTO_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(sql))
    eng.dispose()


def scenario(n: int) -> dict:
    """Run in a fresh process whose ``retento`` is the code under test."""
    from sqlalchemy import select
    from tests.factories import make_customer, make_order, make_user
    from tests.retention.helpers import make_alert, make_run

    import retento
    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory
    from retento.core.migrate import upgrade
    from retento.customers.models import Customer
    from retento.retention import playbook_apply, service
    from retento.retention.models import RetentionCase
    from retento.scoring.models import CustomerScore

    name = f"retento_bench_lock_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"')
    url = f"{PG}/{name}"
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        now = datetime.now(UTC)
        with factory() as s:
            owner = make_user(s, role="agent", email="owner@example.com")
            manager = make_user(s, role="manager", email="boss@example.com")
            ids, scores = [], {}
            for _ in range(n + 3):
                c = make_customer(s, owner_id=owner.id)
                for d in (200, 170, 140, 110):
                    make_order(s, c, ordered_at=now - timedelta(days=d))
                ids.append(c.id)
                scores[c.id] = {"value_class": "vip", "churn_risk": 0.95}
            make_run(s, scores)
            service.get_config(s)
            alerts = [make_alert(s, cid).id for cid in ids[-3:]]  # A, baseline, warm-up
            s.commit()
            manager_id = manager.id
        job_ids, (a_alert, idle_alert, warm_alert) = ids[:-3], alerts

        def apply(alert_id: int) -> float:
            t0 = time.perf_counter()
            with factory() as s:
                playbook_apply.apply_to_alert(s, alert_id, actor=s.get(User, manager_id))
                s.commit()
            return time.perf_counter() - t0

        apply(warm_alert)  # first use: imports, prepared statements
        idle = apply(idle_alert)
        started = threading.Event()
        real_claim = playbook_apply.claim_open_case
        main = threading.current_thread()

        marks: dict[str, float] = {}

        def claim(session, customer_id, at):
            if threading.current_thread() is not main:
                marks.setdefault("first_claim", time.perf_counter())
                marks["last_claim"] = time.perf_counter()
                started.set()
            return real_claim(session, customer_id, at)

        playbook_apply.claim_open_case = claim
        out: dict = {}

        def job() -> None:
            t0 = time.perf_counter()
            with factory() as s:
                rep = service.evaluate(s, customer_ids=job_ids)
                s.commit()
            out["evaluation_s"] = time.perf_counter() - t0
            marks["t0"], marks["commit"] = t0, time.perf_counter()
            out["cases"] = rep.cases

        t = threading.Thread(target=job)
        t.start()
        started.wait(120)
        time.sleep(0.5)
        marks["apply_start"] = time.perf_counter()
        out["apply_during_s"] = apply(a_alert)
        marks["apply_end"] = time.perf_counter()
        out["apply_done_before_evaluation"] = t.is_alive()
        t.join()
        out["apply_idle_s"] = idle
        out["marks"] = {k: round(v - marks["t0"], 3) for k, v in marks.items()}
        out["ratio"] = out["apply_during_s"] / idle
        with factory() as s:
            out["cases_in_db"] = len(s.scalars(select(RetentionCase.id)).all())
            out["key_customers"] = s.query(CustomerScore).count()
            out["customers"] = s.query(Customer).count()
        out["retento"] = str(Path(retento.__file__).parents[1])
        engine.dispose()
        return out
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(src: Path, n: int) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{src}{os.pathsep}{ROOT}")
    env["RETENTO_DB_LOCK_TIMEOUT_MS"] = "120000"
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", "--customers", str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--customers", type=int, default=1500)
    p.add_argument("--before-src", type=Path)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(scenario(args.customers)))
        return
    print(f"load average: {os.getloadavg()[0]:.1f}")
    runs = []
    if args.before_src:
        before = args.before_src / "src"
        runs.append(("before", before if before.is_dir() else args.before_src))
    runs.append(("after", ROOT / "src"))
    for label, src in runs:
        r = run(src, args.customers)
        print(
            f"{label:6s} evaluation {r['evaluation_s']:.2f} s ({r['cases']} cases); apply idle "
            f"{r['apply_idle_s'] * 1000:.0f} ms, during the evaluation "
            f"{r['apply_during_s'] * 1000:.0f} ms ({r['ratio']:.1f}x), finished before the "
            f"evaluation: {r['apply_done_before_evaluation']}  [{r['retento']}]"
        )
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
