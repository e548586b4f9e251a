"""How long migration 0032 (ids to BIGINT) holds a PostgreSQL database of N orders.

Builds a scratch database at revision 0031 with N orders, N order lines and N/10 customers
(generate_series, a few seconds per million rows), keeps it as a template, then per round:

* baseline: ``VACUUM FULL`` of customers, orders and order lines on a fresh copy (the same table
  rewrite and index rebuild, without a type change);
* ``upgrade 0031 -> 0032`` on another fresh copy, with the migration's own per-table log.

Prints each round and the ratio migration / baseline (the machine's load moves both alike).
Needs PostgreSQL (``RETENTO_TEST_PG_URL``, default postgres@127.0.0.1:5432/test); drops its
databases at the end.

    .venv/bin/python benchmarks/bench_migration_0032.py --orders 1000000 --rounds 2
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import statistics
import time

from sqlalchemy import create_engine, text

from retento.core.migrate import upgrade

ADMIN = os.environ.get("RETENTO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BASE = ADMIN.rsplit("/", 1)[0]
FILL = """
INSERT INTO customers (kind, party_type, name, name_key, consent_email, consent_sms,
    consent_phone, consent_profiling, custom_fields, created_at, updated_at)
SELECT 'consumer', 'person', 'Customer ' || g, 'customer ' || g, false, false, false, false,
    '{{}}', now(), now() FROM generate_series(1, {customers}) g;
INSERT INTO products (name, unit_price, unit_cost, is_active, created_at, updated_at)
SELECT 'Product ' || g, 10, 6, true, now(), now() FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id, ordered_at, status, channel, discount, revenue, cost, profit,
    refunded, created_at, updated_at)
SELECT 1 + (g % {customers}), now() - (g % 1000) * interval '1 day', 'completed', 'store', 0,
    10, 6, 4, 0, now(), now() FROM generate_series(1, {orders}) g;
INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price, unit_cost, discount)
SELECT g, 1, 1 + (g % 100), 1, 10, 6, 0 FROM generate_series(1, {orders}) g;
"""


class _Log(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _copy(admin, template: str, name: str) -> str:
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return f"{BASE}/{name}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    tpl, run = "bench_m32_tpl", "bench_m32_run"
    log = _Log()
    mig = logging.getLogger("alembic.runtime.migration")
    mig.addHandler(log)
    mig.setLevel(logging.INFO)
    try:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{tpl}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{tpl}"'))
        upgrade(f"{BASE}/{tpl}", "0031")
        started = time.perf_counter()
        eng = create_engine(f"{BASE}/{tpl}", isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.connection.driver_connection.execute(
                FILL.format(orders=args.orders, customers=max(args.orders // 10, 1))
            )
            c.execute(text("VACUUM ANALYZE"))
            size = c.execute(
                text(
                    "SELECT pg_size_pretty(sum(pg_total_relation_size(t::regclass))) "
                    "FROM unnest(ARRAY['customers', 'orders', 'order_lines']) t"
                )
            ).scalar()
        eng.dispose()
        print(f"filled {args.orders:,} orders / lines in {time.perf_counter() - started:.1f} s "
              f"(customers, orders, order lines with indexes: {size})")  # fmt: skip
        base, full = [], []
        for i in range(args.rounds):
            eng = create_engine(_copy(admin, tpl, run), isolation_level="AUTOCOMMIT")
            with eng.connect() as c:
                t = time.perf_counter()
                c.execute(text("VACUUM FULL customers, orders, order_lines"))
                base.append(time.perf_counter() - t)
            eng.dispose()
            url = _copy(admin, tpl, run)
            log.lines.clear()
            t = time.perf_counter()
            upgrade(url, "0032")
            full.append(time.perf_counter() - t)
            keep = [
                x for x in log.lines if re.match(r"(orders|order_lines|customers):|\d+ fore", x)
            ]
            print(f"round {i + 1}: VACUUM FULL {base[-1]:.1f} s; migration 0032 {full[-1]:.1f} s")
            for line in keep:
                print("    " + line)
        b, m = statistics.median(base), statistics.median(full)
        print(f"median: baseline {b:.1f} s, migration {m:.1f} s, ratio {m / b:.2f}")
    finally:
        with admin.connect() as c:
            for name in (run, tpl):
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
