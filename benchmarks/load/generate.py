"""Bulk-load a scratch PostgreSQL database for the load test (issue 15, points 4 and 6).

    python benchmarks/load/generate.py --db bulk_load [--customers 1000000] [--lines 10000000]
        [--complaints 100000] [--ledger 2000000] [--audit 2000000] [--fresh]

Creates (with ``--fresh``: drops and re-creates) the database, migrates it to head, makes the
logins the locustfile uses (``load_admin`` / ``load_agentN``, password ``load-test-pass-1``, and an
API token written to ``benchmarks/load/.token-<db>``), then streams every big table with ``COPY``:
customers (their search triggers fire, as for any write), products, orders (≈ 2.5 lines each),
order lines, complaints, loyalty journals and postings, and audit entries. Rows are formatted
as COPY text in Python and written in large chunks; foreign keys are not re-checked row by row
(``session_replication_role = replica``) for the tables whose keys are built consistent here.
Each table's time is printed, and the total: generating is meant to take minutes.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PG = os.environ.get("RETENTO_LOAD_PG", "postgresql://postgres@127.0.0.1:5432")
PASSWORD = "load-test-pass-1"
RETENTO = str(Path(sys.executable).parent / "retento")
AGENTS = 20
CHUNK = 4 << 20  # bytes per copy.write
EPOCH = datetime(2021, 1, 1, tzinfo=UTC)
SPAN = 4 * 365 * 86400
NOW = datetime.now(UTC).replace(microsecond=0)
SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Smith", "Jones", "Brown", "Garcia", "Müller"]
GIVEN = ["Wei", "Fang", "Min", "Jing", "Lei", "Anna", "James", "Maria", "Tom", "Lena", "Yan"]
CITIES = ["Shanghai", "Beijing", "Shenzhen", "London", "Berlin", "New York", "Chengdu", "Paris"]
CN = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强"]


def ts(seconds: int) -> str:
    return (EPOCH + timedelta(seconds=seconds)).isoformat()


def copy_text(conn: psycopg.Connection, table: str, cols: str, lines, label: str) -> int:
    """COPY ``lines`` (already tab-separated text) into ``table``; prints rows and seconds."""
    t0 = time.perf_counter()
    n = 0
    buf: list[str] = []
    size = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
        for line in lines:
            buf.append(line)
            size += len(line)
            n += 1
            if size >= CHUNK:
                cp.write("".join(buf))
                buf, size = [], 0
        if buf:
            cp.write("".join(buf))
    conn.commit()
    dt = time.perf_counter() - t0
    print(f"  {label:<18} {n:>11,} rows in {dt:6.1f} s ({n / max(dt, 1e-9):,.0f} rows/s)")
    return n


def customers(n: int, rnd: random.Random):
    for i in range(1, n + 1):
        if i % 10 == 0:
            name = CN[i % len(CN)] + str(i)
        else:
            name = f"{GIVEN[i % len(GIVEN)]} {SURNAMES[(i // 7) % len(SURNAMES)]} {i}"
        created = ts(rnd.randrange(SPAN))
        phone = f"+86 139{i:08d}" if i % 3 else "\\N"
        yield (
            f"{i}\tC{i:08d}\t{name}\t{name.lower()}\tperson\t"
            f"{'business' if i % 20 == 0 else 'consumer'}\tc{i}@example.com\t{phone}\t"
            f"{CITIES[i % len(CITIES)]}\t{'CN' if i % 4 else 'GB'}\t"
            f"{'t' if i % 2 else 'f'}\tf\tf\t{'t' if i % 5 else 'f'}\t{{}}\t{created}\t{created}\t1\n"
        )


def orders_and_lines(n_customers: int, n_lines: int, prices: list[int], rnd: random.Random):
    """Yield ("o", text) and ("l", text) rows; lines belong to the order written just before."""
    oid = 0
    written = 0
    chans = ("store", "web", "phone")
    while written < n_lines:
        oid += 1
        cust = rnd.randrange(1, n_customers + 1)
        at = ts(rnd.randrange(SPAN))
        k = min(rnd.randint(1, 4), n_lines - written)
        rev = cost = 0
        lines = []
        for ln in range(1, k + 1):
            p = rnd.randrange(len(prices))
            q = rnd.randint(1, 3)
            price = prices[p]
            c = price * 6 // 10
            rev += price * q
            cost += c * q
            lines.append(f"{oid}\t{ln}\t{p + 1}\t{q}\t{price / 100:.2f}\t{c / 100:.2f}\t0.00\n")
        written += k
        status = "cancelled" if oid % 50 == 0 else "completed"
        yield (
            "o",
            (
                f"{oid}\tO{oid:09d}\t{cust}\t{at}\t{status}\t{chans[oid % 3]}\t0.00\t"
                f"{rev / 100:.2f}\t{cost / 100:.2f}\t{(rev - cost) / 100:.2f}\t0.00\t{at}\t{at}\t1\n"
            ),
        )
        for line in lines:
            yield "l", line


def main() -> None:  # noqa: C901 - a script, top to bottom
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="bulk_load")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--complaints", type=int, default=100_000)
    ap.add_argument("--ledger", type=int, default=2_000_000, help="loyalty journals")
    ap.add_argument("--audit", type=int, default=2_000_000)
    ap.add_argument("--fresh", action="store_true", help="drop and re-create the database")
    args = ap.parse_args()
    rnd = random.Random(15)
    url = f"{PG}/{args.db}"
    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    started = time.perf_counter()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        if args.fresh:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (args.db,)
        ).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{args.db}"')
    env = {**os.environ, "RETENTO_DATABASE_URL": sa_url}
    subprocess.run([RETENTO, "db", "upgrade"], env=env, check=True, cwd=ROOT)
    t0 = time.perf_counter()
    os.environ["RETENTO_DATABASE_URL"] = sa_url
    from retento.auth.schemas import UserCreate
    from retento.auth.service import create_user, issue_token
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.models import import_all_models

    import_all_models()
    engine = make_engine(sa_url)
    with transaction(make_session_factory(engine)) as s:
        admin_user = create_user(
            s, UserCreate(username="load_admin", password=PASSWORD, role="admin"), actor=None
        )
        for i in range(AGENTS):
            create_user(
                s,
                UserCreate(username=f"load_agent{i}", password=PASSWORD, role="agent"),
                actor=None,
            )
        _tok, token = issue_token(s, admin_user, name="load", actor=None)
    engine.dispose()
    (HERE / f".token-{args.db}").write_text(token + "\n")
    print(f"logins and API token in {time.perf_counter() - t0:.1f} s")

    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        users = [
            r[0] for r in conn.execute("SELECT id FROM users WHERE username LIKE 'load_agent%'")
        ]
        admin_id = conn.execute("SELECT id FROM users WHERE username = 'load_admin'").fetchone()[0]
        cats = [r[0] for r in conn.execute("SELECT id FROM complaint_categories")]
        n_c = args.customers
        copy_text(conn, "customers",
                  "id, external_id, name, name_key, party_type, kind, email, phone, city, country, "
                  "consent_email, consent_sms, consent_phone, consent_profiling, custom_fields, "
                  "created_at, updated_at, version", customers(n_c, rnd), "customers")  # fmt: skip
        prices = [rnd.randint(300, 60_000) for _ in range(200)]
        copy_text(conn, "products",
                  "id, external_id, name, category, unit_price, unit_cost, is_active, created_at, "
                  "updated_at",
                  (f"{i + 1}\tP{i:04d}\tProduct {i}\t{('tea', 'teaware', 'snacks')[i % 3]}\t"
                   f"{p / 100:.2f}\t{p * 6 // 10 / 100:.2f}\tt\t{NOW.isoformat()}\t{NOW.isoformat()}\n"
                   for i, p in enumerate(prices)), "products")  # fmt: skip
        # Keys below are consistent by construction: skip the per-row foreign-key triggers.
        conn.execute("SET session_replication_role = replica")
        # Orders and lines come from one generator: spool lines to a temp file while orders copy.
        spool = Path(f"/tmp/{args.db}_lines.tsv")
        t0 = time.perf_counter()
        with spool.open("w") as lines_fh:

            def order_rows():
                for kind, text in orders_and_lines(n_c, args.lines, prices, rnd):
                    if kind == "o":
                        yield text
                    else:
                        lines_fh.write(text)

            n_orders = copy_text(conn, "orders",
                                 "id, external_id, customer_id, ordered_at, status, channel, "
                                 "discount, revenue, cost, profit, refunded, created_at, "
                                 "updated_at, version", order_rows(), "orders")  # fmt: skip
        with spool.open() as fh:
            copy_text(conn, "order_lines",
                      "order_id, line_no, product_id, quantity, unit_price, unit_cost, discount",
                      fh, "order_lines")  # fmt: skip
        spool.unlink()
        print(f"  orders + lines together {time.perf_counter() - t0:.1f} s")

        def complaint_rows():
            statuses = ("accepted", "in_progress", "awaiting_customer", "resolved", "closed")
            for i in range(1, args.complaints + 1):
                recv = rnd.randrange(SPAN)
                st = statuses[0 if i % 10 == 0 else (1 if i % 10 == 1 else (2 if i % 10 == 2 else (3 if i % 10 < 6 else 4)))]  # fmt: skip
                open_ = st in ("accepted", "in_progress", "awaiting_customer")
                res = "\\N" if open_ else ts(recv + 86400 * 3)
                due = ts(recv + 86400 * 5)
                sev = 1 + i % 4
                yield (
                    f"{i}\tT{i:09d}\t{rnd.randrange(1, n_c + 1)}\t"
                    f"{'complaint' if i % 3 else 'grumble'}\t{('phone', 'email', 'web_form', 'store')[i % 4]}\t"
                    f"{cats[i % len(cats)]}\tComplaint {i} about delivery\tThe parcel arrived late "
                    f"and damaged ({i}).\t{sev}\t{('calm', 'cold', 'intense')[i % 3]}\t[]\t{st}\t"
                    f"{users[i % len(users)]}\t{('vip', 'major', 'ordinary', 'small')[i % 4]}\t"
                    f"{ts(recv)}\t{due}\t{ts(recv)}\t{res}\t{'t' if i % 17 == 0 else 'f'}\t"
                    f"f\tok\t{'breached' if i % 17 == 0 else 'ok'}\tf\t0\t{ts(recv)}\t{ts(recv)}\t1\n"
                )

        copy_text(conn, "complaints",
                  "id, tracking_code, customer_id, kind, channel, category_id, subject, description, "
                  "severity, emotion, purposes, status, assignee_id, value_class, received_at, "
                  "resolution_due_at, clock_started_at, resolved_at, resolution_breached, "
                  "first_response_breached, first_response_flag, sla_flag, flagged, reopen_count, "
                  "created_at, updated_at, version", complaint_rows(), "complaints")  # fmt: skip
        copy_text(conn, "complaint_events",
                  "complaint_id, customer_id, at, kind, internal, actor_name, body",
                  (f"{i}\t{1 + (i * 7919) % n_c}\t{ts(rnd.randrange(SPAN))}\tnote\tt\tload\tnote {i}\n"
                   for i in range(1, args.complaints + 1)), "complaint_events")  # fmt: skip

        # Loyalty ledger: one wallet per customer, one system expense account, journals of
        # earned points with two postings each (wallet +, expense −).
        n_acc = min(n_c, max(args.ledger // 2, 1))
        copy_text(conn, "loyalty_accounts",
                  "id, kind, shard, system_key, customer_id, balance, debt, joined_at",
                  (["1\texpense\t0\texpense:0\t\\N\t0\t0\t" + NOW.isoformat() + "\n"]
                   + [f"{a + 1}\twallet\t{a % 16}\t\\N\t{a}\t0\t0\t{NOW.isoformat()}\n"
                      for a in range(1, n_acc + 1)]), "loyalty_accounts")  # fmt: skip

        def journals():
            for j in range(1, args.ledger + 1):
                cust = 1 + (j * 104729) % n_acc
                yield (f"{j}\tearn\t{cust}\torder\t{j}\tearn:{j}\tearned\t"
                       f"{ts(rnd.randrange(SPAN))}\n")  # fmt: skip

        copy_text(conn, "loyalty_journals",
                  "id, kind, customer_id, source_type, source_id, idem_key, reason, created_at",
                  journals(), "loyalty_journals")  # fmt: skip

        def postings():
            for j in range(1, args.ledger + 1):
                cust = 1 + (j * 104729) % n_acc
                pts = 1 + j % 90
                yield f"{j}\t{cust + 1}\t{pts}\n"
                yield f"{j}\t1\t{-pts}\n"

        copy_text(conn, "loyalty_postings", "journal_id, account_id, amount", postings(),
                  "loyalty_postings")  # fmt: skip
        copy_text(conn, "audit_log",
                  "at, actor_id, actor_name, action, entity, entity_id, after",
                  (f"{ts(i * SPAN // max(args.audit, 1))}\t{admin_id}\tload\tupdate\t"
                   f"{('customer', 'order', 'complaint')[i % 3]}\t{1 + (i * 31) % n_c}\t"
                   f'{{"note": "change {i}"}}\n' for i in range(args.audit)), "audit_log")  # fmt: skip
        conn.execute("SET session_replication_role = origin")
        for table in ("customers", "products", "orders", "order_lines", "complaints",
                      "complaint_events", "loyalty_accounts", "loyalty_journals",
                      "loyalty_postings", "audit_log"):  # fmt: skip
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.commit()
        conn.execute("UPDATE loyalty_accounts a SET balance = s.total FROM (SELECT account_id, "
                     "sum(amount) AS total FROM loyalty_postings GROUP BY account_id) s "
                     "WHERE a.id = s.account_id AND a.kind = 'wallet'")  # fmt: skip
        conn.commit()
        t0 = time.perf_counter()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        print(f"  VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
    print(f"generated {n_c:,} customers, {n_orders:,} orders, {args.lines:,} lines, "
          f"{args.complaints:,} complaints, {args.ledger:,} journals, {args.audit:,} audit rows "
          f"in {time.perf_counter() - started:.0f} s; database {args.db} is {size[0]}")  # fmt: skip


if __name__ == "__main__":
    main()
