"""Time the value dashboard ``GET /value`` at 2,000 demo customers on PostgreSQL, before and
after the per-run dashboard cache (issue 14 point 11: under 300 ms).

    python benchmarks/bench_value_dashboard.py [--customers 2000] [--runs 15] [--history 10]
        [--url URL]   # postgresql+psycopg://… (default) or sqlite:///path.db

A fresh database gets the demo population (customers, orders, touchpoints, surveys, loyalty,
complaints, one scoring run) with a fixed "today", then more scoring runs as of the days before
(``--history`` runs in all, as a nightly schedule leaves them). The page is requested through the ASGI app
as the demo manager:

* before — the cache is cleared before every request, so every view builds every chart from
  the run report (what the page did before the cache);
* after — the cache is kept: the first view builds and stores, the timed ones reuse it;
* filtered — VIP customers who bought in April–June 2026 (a different cache key: built once, reused).

Prints the median milliseconds of ``--runs`` requests per case.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from retento.app import create_app
from retento.core.config import Settings
from retento.core.db import make_engine, make_session_factory
from retento.core.migrate import upgrade
from retento.demo import generator
from retento.scoring import service
from retento.scoring.schemas import ScoreRunCreate

try:  # absent before the cache existed: the "before" numbers were taken without it
    from retento.scoring import dashboard_cache
except ImportError:  # pragma: no cover
    dashboard_cache = None  # type: ignore[assignment]

TODAY = date(2026, 6, 30)


def recreate(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def fill(url: str, n: int, history: int) -> None:
    """The demo population (which scores once), then ``history - 1`` more scoring runs: a
    nightly schedule keeps a run history, and the page lists the latest ten."""
    if url.startswith("postgresql"):
        recreate(url)
    else:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        generator.generate(s, customers=n, seed=42, today=TODAY)
        s.commit()
        for k in range(1, history):
            as_of = datetime.combine(TODAY - timedelta(days=k), day_start(), tzinfo=UTC)
            service.run_scoring(s, ScoreRunCreate(as_of=as_of), actor=None)
            s.commit()
    engine.dispose()


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def clear() -> None:
    if dashboard_cache is not None:
        dashboard_cache.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--history", type=int, default=10, help="Scoring runs in the history.")
    ap.add_argument("--no-fill", action="store_true", help="Reuse the database as it is.")
    ap.add_argument(
        "--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bench_value_dashboard"
    )
    args = ap.parse_args()
    if not args.no_fill:
        fill(args.url, args.customers, args.history)
    app = create_app(
        Settings(database_url=args.url, run_scheduler=False, secret_key="bench-" + "x" * 32)
    )
    with TestClient(app) as client:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = client.post(
            "/login",
            data={
                "username": "manager",
                "password": generator.DEMO_PASSWORD,
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text

        def view(path: str = "/value") -> None:
            r = client.get(path)
            assert r.status_code == 200, r.status_code

        def cold() -> None:
            clear()
            view()

        view()  # warm up templates and catalogues
        before = median_ms(cold, args.runs)
        clear()
        view()
        after = median_ms(view, args.runs)
        filtered_path = "/value?segment=value_class:vip&period=custom&from=2026-04-01&to=2026-06-30"
        view(filtered_path)
        filtered = median_ms(lambda: view(filtered_path), args.runs)
        print(
            f"/value at {args.customers} customers: uncached {before:7.1f} ms  "
            f"cached {after:6.1f} ms  filtered (cached) {filtered:6.1f} ms  "
            f"(median of {args.runs})",
            flush=True,
        )


if __name__ == "__main__":
    main()
