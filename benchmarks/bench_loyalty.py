"""Benchmark: the loyalty ledger on PostgreSQL.

Creates a throw-away PostgreSQL database (``RETENTO_TEST_PG_URL`` admin URL, as the tests use),
migrates it and measures:

1. **postings/s with 8 concurrent clients**, two ways, ``retento loyalty check`` (``check_ledger``)
   passing after each. Target >= 2,000 postings/s.
   - *single operations*: each client loops over its own members doing what the counter and the
     shop do (earn by adjustment credit = new lot + 2 postings; redeem = allocation from lots +
     2 postings), one transaction per operation through the service layer;
   - *batch path*: each client posts batches of ``--batch-size`` operations (the same mix, 2
     credits : 1 redemption, each with its own idempotency key) through ``loyalty.batch``, one
     transaction per batch, like ``POST /api/v1/loyalty/batch`` or the CSV import.
2. **expiry job over 1,000,000 lots**: bulk-loads a consistent ledger (1,000,000 members with one
   due lot each, their earn journals and postings), runs ``run_expiry`` once (``--workers``
   parallel connections, batches of ``--expiry-batch`` wallet ids, each its own transaction) and
   times it, with the WAL written and the checkpoints taken meanwhile; the check must pass
   afterwards and a second run must expire 0. Target < 30 s.
3. **dashboard at 1,000,000 members**: median of ``GET /loyalty`` (rendered HTML, logged-in
   manager) and of ``reports.dashboard``. Target < 300 ms median.

    .venv/bin/python benchmarks/bench_loyalty.py [--members 1000000] [--seconds 20] [--clients 8]
        [--batch-size 500] [--postings single,batch] [--skip-postings] [--workers 2]
        [--expiry-batch 10000]

    RETENTO_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5440/test  # another server
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.factories

PG_ADMIN_URL = os.environ.get(
    "RETENTO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SECRET = "bench-" + uuid.uuid4().hex + uuid.uuid4().hex


def _customer_insert_sql(conn, n: int) -> str:
    """INSERT ... SELECT generate_series for every NOT NULL column of customers."""
    cols = conn.execute(
        text(
            "SELECT column_name, data_type, column_default FROM information_schema.columns "
            "WHERE table_name = 'customers' AND is_nullable = 'NO' AND column_name <> 'id'"
        )
    ).all()
    known = {
        "name": "'Member ' || g",
        "name_key": "'member ' || g",
        "party_type": "'person'",
        "kind": "'consumer'",
        "external_id": "'LM' || g",
        "custom_fields": "'{}'::json",
    }
    names, values = [], []
    for name, dtype, _default in cols:
        names.append(name)
        if name in known:
            values.append(known[name])
        elif dtype == "boolean":
            values.append("false")
        elif dtype in ("integer", "bigint", "smallint", "numeric"):
            values.append("1" if name == "version" else "0")
        elif "timestamp" in dtype:
            values.append("now()")
        elif dtype == "date":
            values.append("current_date")
        elif dtype in ("json", "jsonb"):
            values.append("'{}'")
        else:
            values.append("''")
    if "external_id" not in names:
        names.append("external_id")
        values.append(known["external_id"])
    return (
        f"INSERT INTO customers ({', '.join(names)}) "
        f"SELECT {', '.join(values)} FROM generate_series(1, {n}) AS g"
    )


_BARRIER = None
_WAL_AND_CHECKPOINTS = (
    "SELECT pg_current_wal_insert_lsn(), checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
)


def _init_client(barrier) -> None:
    global _BARRIER
    _BARRIER = barrier


def _start_together(start_at: float) -> float:
    """Wait until every client process has imported the app and is ready (under load that can
    take longer than any fixed delay), then start all at once; returns the start time."""
    if _BARRIER is not None:
        _BARRIER.wait()
        return time.time()
    while time.time() < start_at:
        time.sleep(0.01)
    return start_at


def _client(url: str, uid: int, mine: list[int], start_at: float, seconds: float):
    """One client process: earn (credit) twice, redeem once, one transaction each."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.loyalty import service
    from retento.models import import_all_models

    import_all_models()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    n = k = 0
    began = _start_together(start_at)
    stop = began + seconds
    try:
        while time.time() < stop:
            cid = mine[k % len(mine)]
            with transaction(factory) as s:
                user = s.get(User, uid)
                if k % 3 == 2:
                    service.redeem(s, cid, points=5, actor=user)
                else:
                    service.adjust(s, cid, 10, actor=user, reason="bench")
            n += 2  # each journal posts to a wallet and a system shard
            k += 1
    except Exception as exc:  # noqa: BLE001
        return n, repr(exc), time.time() - began
    finally:
        engine.dispose()
    return n, None, time.time() - began


def _batch_client(url: str, uid: int, mine: list[int], start_at: float, seconds: float, size: int):
    """One client process posting batches of ``size`` operations (2 credits : 1 redemption)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.loyalty.batch import BatchOp, post_batch
    from retento.models import import_all_models

    import_all_models()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    n = k = 0
    tag = uuid.uuid4().hex[:8]
    began = _start_together(start_at)
    stop = began + seconds
    try:
        while time.time() < stop:
            items = []
            for _ in range(size):
                cid = mine[k % len(mine)]
                key = f"bench-{tag}-{k}"
                if k % 3 == 2:
                    items.append(BatchOp("redeem", cid, 5, key))
                else:
                    items.append(BatchOp("adjust", cid, 10, key, "bench"))
                k += 1
            with transaction(factory) as s:
                res = post_batch(s, items, actor=s.get(User, uid))
            n += 2 * len(res)  # each journal posts to a wallet and a system shard
    except Exception as exc:  # noqa: BLE001
        return n, repr(exc), time.time() - began
    finally:
        engine.dispose()
    return n, None, time.time() - began


def _run_clients(url: str, fn, jobs: list[tuple], seconds: float, label: str) -> None:
    """Run ``fn`` in one process per job (spawned, so the GIL does not serialise them), all
    starting together; print postings/s and the load average, then check the ledger."""
    import multiprocessing as mp

    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.loyalty.check import check_ledger

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(jobs))
    with ctx.Pool(len(jobs), initializer=_init_client, initargs=(barrier,)) as pool:
        results = pool.starmap(fn, jobs)
    load = os.getloadavg()
    total = sum(r[0] for r in results)
    errors = [r[1] for r in results if r[1]]
    # A client finishes the operation (or batch) it started before the time was up: divide by
    # the longest client's real running time, not by the nominal seconds.
    seconds = max(r[2] for r in results)
    print(
        f"{label} with {len(jobs)} concurrent clients (processes): {total:,} postings in "
        f"{seconds:.1f} s = {total / seconds:,.0f} postings/s (target >= 2,000)"
        + (f"; errors: {errors[:3]}" if errors else "")
        + f"; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (2 cores)"
    )
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        rep = check_ledger(s)
    print(
        f"check after the run: {'OK' if rep.ok else 'FAILED'} ({rep.journals:,} journals) "
        f"{rep.problems[:3]}"
    )
    engine.dispose()


def bench_postings(
    url: str, clients: int, seconds: float, batch_size: int = 500, modes: str = "single,batch"
) -> None:
    from tests.factories import make_customer, make_user
    from tests.factories.loyalty import make_programme

    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.loyalty.batch import BatchOp, post_batch

    engine = make_engine(url)
    factory = make_session_factory(engine)
    per_client = 50
    with transaction(factory) as s:
        make_programme(s)
        uid = make_user(s, role="manager").id
        members = [make_customer(s).id for _ in range(clients * per_client)]
        manager = s.get(User, uid)
        post_batch(
            s,
            [BatchOp("adjust", c, 1000, f"open-{c}", "opening balance") for c in members],
            actor=manager,
        )
    engine.dispose()
    # Each client is its own process (like separate app workers); they start together (once all
    # have imported the app) and each runs for ``seconds``.
    mine = [members[i * per_client : (i + 1) * per_client] for i in range(clients)]
    if "single" in modes:
        start_at = time.time() + 20.0
        jobs = [(url, uid, mine[i], start_at, seconds) for i in range(clients)]
        _run_clients(url, _client, jobs, seconds, "single operations")
    if "batch" in modes:
        start_at = time.time() + 20.0
        jobs = [(url, uid, mine[i], start_at, seconds, batch_size) for i in range(clients)]
        _run_clients(
            url, _batch_client, jobs, seconds, f"batch path ({batch_size} operations per batch)"
        )


def load_expiry_ledger(engine, members: int, expense: int) -> None:
    """Bulk-load a consistent ledger: ``members`` wallets with one due lot of 100 points each,
    their opening journal and postings (set-based SQL; a migrated database with tiers)."""
    with engine.begin() as conn:
        conn.execute(text(_customer_insert_sql(conn, members)))
        tiers = [r[0] for r in conn.execute(text("SELECT id FROM loyalty_tiers ORDER BY rank"))]
        conn.execute(
            text(
                "INSERT INTO loyalty_accounts (kind, shard, customer_id, balance, debt, tier_id, "
                "joined_at, last_activity_at) SELECT 'wallet', c.id % 16, c.id, 100, 0, "
                "(ARRAY[:t0, :t1, :t2])[1 + (c.id % 3)], now() - interval '400 days', "
                "now() - (c.id % 365) * interval '1 day' FROM customers c"
            ),
            {"t0": tiers[0], "t1": tiers[1], "t2": tiers[2]},
        )
        jid = conn.execute(
            text(
                "INSERT INTO loyalty_journals (kind, source_type, reason, created_at) "
                "VALUES ('adjust', 'import', 'bench opening balances', now()) RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO loyalty_postings (journal_id, account_id, amount) "
                "SELECT :j, id, 100 FROM loyalty_accounts WHERE kind = 'wallet'"
            ),
            {"j": jid},
        )
        conn.execute(
            text(
                "INSERT INTO loyalty_postings (journal_id, account_id, amount) VALUES (:j, :a, :n)"
            ),
            {"j": jid, "a": expense, "n": -100 * members},
        )
        conn.execute(
            text("UPDATE loyalty_accounts SET balance = balance - :n WHERE id = :a"),
            {"a": expense, "n": 100 * members},
        )
        conn.execute(
            text(
                "INSERT INTO loyalty_lots (account_id, journal_id, points, remaining, clawed, "
                "qualifying, source_type, earned_at, expires_at) SELECT id, :j, 100, 100, 0, "
                "false, 'import', now() - interval '400 days', now() - interval '1 day' "
                "FROM loyalty_accounts WHERE kind = 'wallet'"
            ),
            {"j": jid},
        )
        conn.execute(text("ANALYZE"))


def bench_expiry_and_dashboard(
    url: str, members: int, repeat: int, workers: int = 2, expiry_batch: int = 10_000
) -> None:
    from fastapi.testclient import TestClient
    from tests.factories import make_user
    from tests.factories.loyalty import make_tiers

    from retento.app import create_app
    from retento.auth.models import User
    from retento.core.config import Settings
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.loyalty import ledger, reports
    from retento.loyalty.check import check_ledger
    from retento.loyalty.expiry import run_expiry

    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        p = ledger.programme(s)
        p.active = True
        ledger.ensure_system_accounts(s)
        make_tiers(s, ("silver", 0, "1"), ("gold", 1000, "1.5"), ("platinum", 5000, "2"))
        make_user(s, username="lead", role="manager", password="ledger-Sesame-42")
        expense = ledger.system_account_id(s, "expense", 0)
    t = time.perf_counter()
    load_expiry_ledger(engine, members, expense)
    print(f"loaded {members:,} members with one due lot each in {time.perf_counter() - t:.1f} s")

    with engine.connect() as conn:
        settings = ", ".join(
            f"{k} {conn.execute(text(f'SHOW {k}')).scalar()}"
            for k in ("shared_buffers", "max_wal_size", "wal_compression", "checkpoint_timeout")
        )
        wal0, ck0 = conn.execute(text(_WAL_AND_CHECKPOINTS)).one()
    before = os.getloadavg()
    t = time.perf_counter()
    with transaction(factory) as s:
        expired = run_expiry(s, batch=expiry_batch, workers=workers)
    dt = time.perf_counter() - t
    load = os.getloadavg()
    with engine.connect() as conn:
        wal1, ck1 = conn.execute(text(_WAL_AND_CHECKPOINTS)).one()
        wal = conn.execute(text("SELECT pg_wal_lsn_diff(:b, :a)"), {"a": wal0, "b": wal1}).scalar()
    print(
        f"expiry job over {members:,} lots ({workers} connection(s), batches of {expiry_batch:,} "
        f"wallet ids): {expired:,} points expired in {dt:.1f} s (target < 30 s); "
        f"WAL {float(wal) / 1e6:,.0f} MB (whole server), {ck1 - ck0} checkpoint(s); server: "
        f"{settings}; load average before {before[0]:.1f}, after {load[0]:.1f} / {load[1]:.1f} "
        f"/ {load[2]:.1f}"
    )
    t = time.perf_counter()
    with transaction(factory) as s:
        rep = check_ledger(s)
    print(
        f"check after expiry: {'OK' if rep.ok else 'FAILED'} in {time.perf_counter() - t:.1f} s "
        f"{rep.problems[:3]}"
    )
    with engine.connect() as conn:
        on_lots, allocs, journals = conn.execute(
            text(
                "SELECT (SELECT sum(expired) FROM loyalty_lots), "
                "(SELECT count(*) FROM loyalty_allocations), "
                "(SELECT count(*) FROM loyalty_journals WHERE kind = 'expire')"
            )
        ).one()
    print(
        f"expiry recorded on the lots: {on_lots:,} points expired, {allocs} allocation rows, "
        f"{journals} expire journal(s)"
    )
    t = time.perf_counter()
    with transaction(factory) as s:
        again = run_expiry(s)
    print(f"second expiry run: {again} points (idempotent) in {time.perf_counter() - t:.2f} s")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))

    t = time.perf_counter()
    with transaction(factory) as s:
        reports.refresh_stats(s)
    print(
        f"loyalty_stats job (member, tier and flow counts) at {members:,} members: "
        f"{time.perf_counter() - t:.1f} s"
    )
    with transaction(factory) as s:
        lead = s.query(User).filter_by(username="lead").one()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            reports.dashboard(s, actor=lead)
            times.append((time.perf_counter() - t) * 1000)
    print(f"reports.dashboard at {members:,} members: median {statistics.median(times):.0f} ms")

    app = create_app(Settings(database_url=url, run_scheduler=False, secret_key=SECRET))
    with TestClient(app) as client:
        import re

        page = client.get("/login")
        tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        client.post(
            "/login",
            data={"username": "lead", "password": "ledger-Sesame-42", "csrf_token": tok},
        )
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            r = client.get("/loyalty")
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.status_code
    print(
        f"GET /loyalty (HTML) at {members:,} members: median {statistics.median(times):.0f} ms, "
        f"p90 {statistics.quantiles(times, n=10)[-1]:.0f} ms (target < 300 ms)"
    )
    app.state.engine.dispose()
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--skip-postings", action="store_true")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--postings", default="single,batch", help="single, batch or both")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--workers", type=int, default=2, help="expiry job: parallel connections")
    ap.add_argument("--expiry-batch", type=int, default=10_000, help="expiry: wallet ids a batch")
    args = ap.parse_args()
    from retento.core.migrate import upgrade

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = []
    try:
        if not args.skip_postings:
            name = f"retento_bench_{uuid.uuid4().hex[:8]}"
            names.append(name)
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
            upgrade(url)
            bench_postings(url, args.clients, args.seconds, args.batch_size, args.postings)
        if not args.skip_scale:
            name = f"retento_bench_{uuid.uuid4().hex[:8]}"
            names.append(name)
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
            upgrade(url)
            bench_expiry_and_dashboard(
                url, args.members, args.repeat, args.workers, args.expiry_batch
            )
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
