"""Import 1,000,000 order lines on SQLite and PostgreSQL: the bulk path against the old one.

    python benchmarks/bench_import.py [--lines 1000000] [--backend both|sqlite|postgresql]
        [--old-rev e77a240] [--no-old] [--runs N] [--keep DIR]

Generates customers.csv, products.csv and orders.csv (1–4 lines per order) in a temp dir. For
each backend it migrates a fresh database, imports customers and products, copies that database
(SQLite file copy / PostgreSQL ``CREATE DATABASE … TEMPLATE``), then times ``service.import_file``
(the function behind ``retento import`` and the API) for orders.csv in one transaction: once with
the current importer (COPY on PostgreSQL, prepared executemany on SQLite) and once with the
importer of ``--old-rev`` (per-statement Core inserts, the state before issue 15), each on its
own copy, in the same run. Targets: ≤ 20 s on PostgreSQL, ≤ 30 s on SQLite.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGETS = {"sqlite": 30.0, "postgresql": 20.0}
ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("RETENTO_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def generate(root: Path, lines: int, seed: int = 1) -> tuple[int, int]:
    rnd = random.Random(seed)
    n_customers = max(lines // 10, 10)
    n_products = 200
    with (root / "customers.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "name", "kind", "city"])
        for i in range(n_customers):
            w.writerow([f"C{i:07d}", f"Customer {i}", "consumer", "Shanghai"])
    prices = []
    with (root / "products.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "name", "category", "unit_price", "unit_cost"])
        for i in range(n_products):
            price = rnd.randint(100, 50_000)
            prices.append(price)
            w.writerow([f"P{i:04d}", f"Product {i}", "general", f"{price / 100:.2f}",
                        f"{price * 0.6 / 100:.2f}"])  # fmt: skip
    start = datetime(2022, 1, 1, tzinfo=UTC)
    written = orders = 0
    with (root / "orders.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_external_id", "customer_external_id", "ordered_at",
                    "product_external_id", "quantity", "unit_price", "line_discount",
                    "order_discount", "channel", "status"])  # fmt: skip
        while written < lines:
            orders += 1
            cust = f"C{rnd.randrange(n_customers):07d}"
            at = (start + timedelta(seconds=rnd.randrange(3 * 365 * 86400))).isoformat()
            odisc = "0.50" if rnd.random() < 0.05 else ""
            chan = rnd.choice(("store", "web", "phone"))
            for _ in range(min(rnd.randint(1, 4), lines - written)):
                p = rnd.randrange(n_products)
                q = rnd.randint(1, 5)
                ld = f"{prices[p] * q * 0.1 / 100:.2f}" if rnd.random() < 0.1 else ""
                w.writerow([f"O{orders:08d}", cust, at, f"P{p:04d}", q,
                            f"{prices[p] / 100:.2f}", ld, odisc, chan, "completed"])  # fmt: skip
                written += 1
    return orders, written


def old_run_import(rev: str, root: Path):
    """``run_import`` of the importer at git revision ``rev`` (loaded from ``git show``)."""
    src = subprocess.run(
        ["git", "show", f"{rev}:src/retento/dataio/importer.py"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = root / "importer_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("retento_importer_old", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.run_import


def prepare(url: str, root: Path) -> None:
    """Migrate ``url``, add a user, import customers and products."""
    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade
    from retento.dataio import service

    upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        user = User(username="bench", role="admin", password_hash="-", display_name="Bench")
        s.add(user)
        s.flush()
        for entity in ("customers", "products"):
            service.import_file(s, entity, root / f"{entity}.csv", actor=user)
    engine.dispose()


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) of a local PostgreSQL backend, or None when not readable."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_orders(url: str, root: Path, run_import) -> tuple[float, object, float, float | None]:
    """Seconds to import orders.csv into ``url`` in one committed transaction; also the CPU
    seconds of this process and (PostgreSQL on this machine) of its server backend, which say
    more than the wall time when other work loads the machine."""
    from sqlalchemy import select, text

    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.dataio import service

    engine = make_engine(url)
    saved = service.run_import
    service.run_import = run_import
    server = None
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        with transaction(make_session_factory(engine)) as s:
            pid = s.scalar(text("SELECT pg_backend_pid()")) if "postgresql" in url else None
            s0 = _server_cpu(pid)
            user = s.scalar(select(User).where(User.username == "bench"))
            report = service.import_file(s, "orders", root / "orders.csv", actor=user)
            s1 = _server_cpu(pid)
            if s0 is not None and s1 is not None:
                server = s1 - s0
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        service.run_import = saved
        engine.dispose()
    return seconds, report, cpu, server


def _cpu_note(cpu: float, server: float | None) -> str:
    return f"cpu {cpu:.1f} s" + (f" + server {server:.1f} s" if server is not None else "")


def pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(sql))
    eng.dispose()


def bench_backend(backend: str, root: Path, lines: int, old, runs: int = 1) -> list[str]:
    from retento.dataio.importer import run_import

    out = []
    copies: list[str] = []
    if backend == "sqlite":
        new_url, old_url = f"sqlite:///{root}/new.db", f"sqlite:///{root}/old.db"
        for f in root.glob("*.db*"):
            f.unlink()
        prepare(new_url, root)
        shutil.copy(root / "new.db", root / "old.db")
        shutil.copy(root / "new.db", root / "prepared.db")

        def fresh_copy() -> str:
            for f in root.glob("new.db*"):
                f.unlink()
            shutil.copy(root / "prepared.db", root / "new.db")
            return new_url

        cleanup = lambda: [f.unlink() for f in root.glob("*.db*")]  # noqa: E731
    else:
        tag = uuid.uuid4().hex[:8]
        new_db, old_db, tpl = (
            f"bulk_bench_new_{tag}",
            f"bulk_bench_old_{tag}",
            f"bulk_bench_tpl_{tag}",
        )
        pg_admin(f'CREATE DATABASE "{tpl}"')
        prepare(f"{PG}/{tpl}", root)
        pg_admin(f'CREATE DATABASE "{new_db}" TEMPLATE "{tpl}"')
        new_url, old_url = f"{PG}/{new_db}", f"{PG}/{old_db}"
        if old is not None:
            pg_admin(f'CREATE DATABASE "{old_db}" TEMPLATE "{tpl}"')

        def fresh_copy() -> str:
            name = f"bulk_bench_run{len(copies) + 2}_{tag}"
            copies.append(name)
            pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{tpl}"')
            return f"{PG}/{name}"

        def cleanup() -> None:
            for db in (new_db, old_db, tpl, *copies):
                pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    try:
        times = []
        for run in range(runs):
            if run:  # each run imports into a fresh copy of the prepared database
                new_url = fresh_copy()
            load = os.getloadavg()[0]
            new_s, report, cpu, server = time_orders(new_url, root, run_import)
            times.append(new_s)
            line = (f"{backend:<10} new: {lines:,} lines ({report.created:,} orders) in "
                    f"{new_s:5.1f} s = {lines / new_s:>9,.0f} lines/s; target "
                    f"{TARGETS[backend]:.0f} s {'met' if new_s <= TARGETS[backend] else 'MISSED'} "
                    f"(load {load:.1f}, {_cpu_note(cpu, server)})")  # fmt: skip
            print(line, flush=True)
            out.append(line)
        if runs > 1:
            line = (f"{backend:<10} new: median of {runs} runs {statistics.median(times):.1f} s, "
                    f"best {min(times):.1f} s")  # fmt: skip
            print(line, flush=True)
            out.append(line)
        if old is not None:
            load = os.getloadavg()[0]
            old_s, _r, cpu, server = time_orders(old_url, root, old)
            line = (f"{backend:<10} old: {lines:,} lines in {old_s:5.1f} s = "
                    f"{lines / old_s:>9,.0f} lines/s; new is {old_s / statistics.median(times):.2f}× faster "
                    f"(load {load:.1f}, {_cpu_note(cpu, server)})")  # fmt: skip
            print(line, flush=True)
            out.append(line)
    finally:
        cleanup()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    ap.add_argument("--old-rev", default="e77a240", help="git revision of the old importer")
    ap.add_argument("--no-old", action="store_true", help="time only the current importer")
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=1, help="timed runs of the current importer")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="retento-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    orders, lines = generate(root, args.lines)
    print(
        f"generated {lines:,} lines / {orders:,} orders in {time.perf_counter() - t0:.1f}s ({root})"
    )
    os.environ.setdefault("RETENTO_SECRET_KEY", "bench-" + "x" * 40)
    from retento.models import import_all_models

    import_all_models()
    old = None if args.no_old else old_run_import(args.old_rev, root)
    import psycopg

    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()}, "
          f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__})")  # fmt: skip
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for b in backends:
        bench_backend(b, root, lines, old, args.runs)
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
