"""Time the customer list filtered by a custom field on PostgreSQL, without and with the GIN
index of migration 0052 (``ix_customers_custom_fields``).

    python benchmarks/bench_custom_field_filter.py [--customers 1000000] [--runs 7]

Creates a throw-away database (dropped at the end), migrates it, fills ``n`` customers with one
``INSERT ... SELECT generate_series`` (``custom_fields`` = ``{"tier": one of 5 values, "vip":
true for 2 %, else false}``), VACUUM ANALYZE. Then it times three ways: the filter as it was
before 0052 (``custom_fields ->> 'vip' = 'true'``) without the index; today's filter
(containment) without the index; today's filter with the index (built, then ANALYZE). Each
times ``service.list_customers`` (the list's count + first page of 50 sorted by id, with its
tags, contacts and assignments) for ``vip:yes`` (2 %), ``tier:Gold`` (20 %) and ``vip:no``
(98 %), and prints the plan and execution time of the count and of the page (``EXPLAIN
ANALYZE``). Median milliseconds of ``--runs`` after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from sqlalchemy import create_engine, event, or_, text

from retento.auth.models import User
from retento.core.db import make_engine, make_session_factory
from retento.core.migrate import upgrade
from retento.customers import field_values, service
from retento.customers.models import Customer

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TIERS = ("Bronze", "Silver", "Gold", "Platinum", "Diamond")
CASES = (
    ("vip:yes (2 %)", ("vip", "boolean", True)),
    ("tier:Gold (20 %)", ("tier", "choice", "Gold")),
    ("vip:no (98 %)", ("vip", "boolean", False)),
)
INDEX_SQL = (
    "CREATE INDEX ix_customers_custom_fields ON customers "
    "USING gin ((custom_fields::jsonb) jsonb_path_ops)"
)


def before_0052(key, field_type, value, dialect):
    """The PostgreSQL filter before migration 0052: text of the key, which no index serves."""
    got = Customer.custom_fields[key].as_string()
    if field_type != "boolean":
        return got == str(value)
    return got == "true" if value else or_(got != "true", got.is_(None))


def fill(conn, n: int) -> None:
    """``n`` customers: every NOT NULL column, tiers spread evenly, 2 % VIPs."""
    tiers = ", ".join(f"'{t}'" for t in TIERS)
    conn.execute(
        text(
            "INSERT INTO customers (name, name_key, party_type, kind, external_id, "
            "consent_email, consent_sms, consent_phone, consent_profiling, custom_fields, "
            "created_at, updated_at, version) "
            "SELECT 'Customer ' || g, 'customer ' || g, 'person', 'consumer', 'CF' || g, "
            "false, false, false, false, "
            f"json_build_object('tier', (ARRAY[{tiers}])[1 + (g::bigint * 7919) % 5], "
            "'vip', (g::bigint * 104729) % 100 < 2), now(), now(), 1 "
            f"FROM generate_series(1, {n}) AS g"
        )
    )


def explain(session, custom_field) -> list[str]:
    """``EXPLAIN ANALYZE`` of the statements the list sends (count, page): the access path
    and the execution time of each."""
    conn = session.connection()
    sent = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        sent.append((statement, parameters))

    event.listen(conn, "before_cursor_execute", keep)
    try:
        service.list_customers(session, actor=session.get(User, 1), custom_field=custom_field)
    finally:
        event.remove(conn, "before_cursor_execute", keep)
    out = []
    for statement, params in sent[:2]:
        plan = [str(r[0]) for r in conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, params)]
        scans = [
            line.strip().split("  (")[0]
            for line in plan
            if "Scan" in line and "Bitmap Heap" not in line
        ]
        out.append(f"{'; '.join(scans)} — {plan[-1].strip()}")
    return out


def measure(factory, runs: int) -> None:
    for label, custom_field in CASES:
        with factory() as session:
            actor = session.get(User, 1)
            service.list_customers(session, actor=actor, custom_field=custom_field)  # warm
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                rows, total = service.list_customers(
                    session, actor=actor, custom_field=custom_field
                )
                times.append((time.perf_counter() - t0) * 1000)
            print(f"  {label:<18} {statistics.median(times):9.1f} ms  total {total:,}")
            for line in explain(session, custom_field):
                print(f"      {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    name = f"retento_bench_cf_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    engine = None
    try:
        upgrade(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, display_name, role, password_hash, "
                    "is_active, locale, created_at, updated_at) VALUES (1, 'bench', 'Bench', "
                    "'admin', 'x', true, 'en', now(), now())"
                )
            )
            t0 = time.perf_counter()
            conn.execute(text("DROP INDEX ix_customers_custom_fields"))
            fill(conn, args.customers)
            print(f"filled {args.customers:,} customers in {time.perf_counter() - t0:.1f} s")
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE customers"
            )
        factory = make_session_factory(engine)
        today = field_values.filter_clause
        field_values.filter_clause = before_0052
        print("\nthe filter before migration 0052 (->>), no index:")
        measure(factory, args.runs)
        field_values.filter_clause = today
        print("\ntoday's filter (@>), no index:")
        measure(factory, args.runs)
        with engine.begin() as conn:
            t0 = time.perf_counter()
            conn.exec_driver_sql(INDEX_SQL)
            built = time.perf_counter() - t0
            size = conn.exec_driver_sql(
                "SELECT pg_size_pretty(pg_relation_size('ix_customers_custom_fields'))"
            ).scalar()
            conn.exec_driver_sql("ANALYZE customers")
        print(f"\nbuilt the index in {built:.1f} s ({size}); with it:")
        measure(factory, args.runs)
    finally:
        if engine is not None:
            engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
