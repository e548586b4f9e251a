"""Order import with an active loyalty programme: what earning costs, set-based against per order.

    .venv/bin/python benchmarks/bench_loyalty_import.py [--orders 20000]
        [--backend both|sqlite|postgresql] [--no-old] [--old-orders N] [--no-tiers]
        [--modes inactive,active,queued]

Generates customers.csv, products.csv and orders.csv (1–4 lines per order, ~3 orders per
customer, dates over three years) in a temp dir. For each backend it migrates a fresh database
(a SQLite file; a scratch PostgreSQL database, ``RETENTO_BENCH_PG`` server URL), imports
customers and products, then sets up the programme: active, auto-enrolment, a spend rule, a
category rule, a product rule without multiplier, a capped spend bonus, three tiers (none with
``--no-tiers``); half the customers are members already (every eighth of them in silver). That
database is copied (file copy / ``CREATE DATABASE … TEMPLATE``) and ``service.import_file`` (the function behind
``retento import orders`` and ``POST /api/v1/imports/orders``) imports orders.csv into each copy
in one committed transaction:

- *inactive*: the programme switched off (the import alone);
- *active*: the programme on, imported orders earning set-based (``earning_bulk``) inside the
  import's transaction (``earning_jobs.INLINE_MAX`` raised above the file's orders);
- *queued*: the programme on, as shipped: an import of more than ``INLINE_MAX`` orders queues
  its earning (``loyalty.earn_import``), which a worker (``WorkRunner.run_once``, timed
  separately: "worker") runs after the import commits, a batch of 5,000 orders per transaction;
  its ledger must equal the *active* run's;
- *old*: the programme on, earning order by order (``earning.earn_one_by_one``, the path before).

The time inside ``earn_for_imported`` is measured on its own too, and the ledger is checked
(``check_ledger``) after each active run; the set-based and per-order runs must end with the
same journals, balances and tier changes (compared). ``--old-orders`` runs the per-order path
on the first N orders of the file only (it is slow), and reports its cost per order.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

PG = os.environ.get("RETENTO_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def generate(root: Path, orders: int, seed: int = 1) -> int:
    """The three CSV files; returns the number of order lines."""
    rnd = random.Random(seed)
    n_customers = max(orders // 3, 10)
    with (root / "customers.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "name", "kind", "city"])
        for i in range(n_customers):
            w.writerow([f"C{i:07d}", f"Customer {i}", "consumer", "Shanghai"])
    prices = []
    with (root / "products.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "name", "category", "unit_price", "unit_cost"])
        for i in range(200):
            price = rnd.randint(100, 50_000)
            prices.append(price)
            w.writerow([f"P{i:04d}", f"Product {i}", ("tea", "cups", "general")[i % 3],
                        f"{price / 100:.2f}", f"{price * 0.6 / 100:.2f}"])  # fmt: skip
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    lines = 0
    with (root / "orders.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_external_id", "customer_external_id", "ordered_at",
                    "product_external_id", "quantity", "unit_price", "line_discount",
                    "order_discount", "channel", "status"])  # fmt: skip
        for k in range(1, orders + 1):
            cust = f"C{rnd.randrange(n_customers):07d}"
            at = (start + timedelta(seconds=rnd.randrange(3 * 365 * 86400))).isoformat()
            odisc = "0.50" if rnd.random() < 0.05 else ""
            status = "cancelled" if rnd.random() < 0.03 else "completed"
            for _ in range(rnd.randint(1, 4)):
                p = rnd.randrange(200)
                q = rnd.randint(1, 5)
                ld = f"{prices[p] * q * 0.1 / 100:.2f}" if rnd.random() < 0.1 else ""
                w.writerow([f"O{k:08d}", cust, at, f"P{p:04d}", q, f"{prices[p] / 100:.2f}",
                            ld, odisc, "store", status])  # fmt: skip
                lines += 1
    return lines


def prepare(url: str, root: Path, with_tiers: bool = True) -> None:
    """Migrate ``url``; a user; customers and products; the programme, rules, tiers, members."""
    from sqlalchemy import select

    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade
    from retento.customers.models import Customer
    from retento.dataio import service
    from retento.loyalty import ledger
    from retento.loyalty.models import LoyaltyAccount, LoyaltyRule, LoyaltyTier
    from retento.products.models import Product

    upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        user = User(username="bench", role="admin", password_hash="-", display_name="Bench")
        s.add(user)
        s.flush()
        for entity in ("customers", "products"):
            service.import_file(s, entity, root / f"{entity}.csv", actor=user)
        prog = ledger.programme(s)
        prog.active, prog.auto_enrol, prog.expiry_days = True, True, 730
        cup = s.scalar(select(Product.id).where(Product.category == "cups").limit(1))
        s.add_all(
            [
                LoyaltyRule(name="Spend", kind="spend", rate=Decimal("1")),
                LoyaltyRule(name="Tea", kind="category", category="tea", rate=Decimal("0.5"),
                            fixed_points=2),
                LoyaltyRule(name="Cup", kind="product", product_id=cup, rate=Decimal("1"),
                            apply_multiplier=False),
                LoyaltyRule(name="Big basket", kind="spend", fixed_points=50,
                            min_spend=Decimal("500"), cap_points=200, cap_period_days=90),
            ]
        )  # fmt: skip
        tiers = [
            LoyaltyTier(code=c, name=c.title(), rank=r, threshold=t, multiplier=Decimal(m))
            for r, (c, t, m) in enumerate(
                [("silver", 4_000, "1.25"), ("gold", 15_000, "1.5"), ("plat", 60_000, "2")]
            )
        ]
        tiers = tiers if with_tiers else []
        s.add_all(tiers)
        s.flush()
        ledger.ensure_system_accounts(s)
        ids = list(s.scalars(select(Customer.id).order_by(Customer.id)))
        s.add_all(
            LoyaltyAccount(
                kind="wallet",
                shard=ledger.shard_of(cid),
                customer_id=cid,
                balance=0,
                tier_id=tiers[0].id if tiers and k % 8 == 0 else None,
            )
            for k, cid in enumerate(ids[::2])
        )
    engine.dispose()


class _Timed:
    """``fn`` with the wall and CPU seconds spent inside it, and its number of calls (or of
    the items it was given: ``count`` of its arguments)."""

    def __init__(self, fn, count=None):
        self.fn, self.seconds, self.cpu, self.calls, self.count = fn, 0.0, 0.0, 0, count

    def __call__(self, *a, **kw):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return self.fn(*a, **kw)
        finally:
            self.seconds += time.perf_counter() - t0
            self.cpu += time.process_time() - c0
            self.calls += 1 if self.count is None else self.count(*a, **kw)


def time_orders(url: str, path: Path, mode: str) -> dict:
    """Import ``path`` into ``url`` (one committed transaction) with the programme on or off and
    earning set-based or per order; seconds, earning seconds, journals, ledger check."""
    from sqlalchemy import func, select

    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.dataio import service
    from retento.loyalty import earning, earning_bulk, earning_jobs, ledger, tiers
    from retento.loyalty.check import check_ledger
    from retento.loyalty.models import LoyaltyJournal
    from retento.work.queue import WorkRunner

    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        ledger.programme(s).active = mode != "inactive"
    saved, saved_change, saved_many = (
        earning_bulk.earn_for_imported,
        tiers.change_tier,
        tiers.change_tiers,
    )
    timed = _Timed(earning.earn_one_by_one if mode == "old" else saved)
    # Tier changes (touchpoint, e-mail, hooks): one by one, or in bulk (the import's upgrades).
    change = _Timed(saved_change)
    many = _Timed(saved_many, count=lambda _s, moves, *_a, **_k: len(moves))
    earning_bulk.earn_for_imported, tiers.change_tier, tiers.change_tiers = timed, change, many
    inline_max = earning_jobs.INLINE_MAX
    if mode != "queued":
        earning_jobs.INLINE_MAX = 10**12
    worker = worker_cpu = 0.0
    try:
        t0 = time.perf_counter()
        with transaction(factory) as s:
            user = s.scalar(select(User).where(User.username == "bench"))
            report = service.import_file(s, "orders", path, actor=user)
        seconds = time.perf_counter() - t0
        if mode == "queued":
            t1, c1 = time.perf_counter(), time.process_time()
            ran = WorkRunner(factory).run_once()
            worker, worker_cpu = time.perf_counter() - t1, time.process_time() - c1
            assert ran == len(report.work_item_ids) == 1, (ran, report.work_item_ids)
    finally:
        earning_bulk.earn_for_imported, tiers.change_tier, tiers.change_tiers = (
            saved,
            saved_change,
            saved_many,
        )
        earning_jobs.INLINE_MAX = inline_max
    out = {
        "worker": worker,
        "worker_cpu": worker_cpu,
        "seconds": seconds,
        "earning": timed.seconds,
        "earning_cpu": timed.cpu,
        "changes": change.calls + many.calls,
        "changes_s": change.seconds + many.seconds,
        "orders": report.created,
    }
    with transaction(factory) as s:
        out["journals"] = s.scalar(
            select(func.count()).select_from(LoyaltyJournal).where(LoyaltyJournal.kind == "earn")
        )
        if mode != "inactive":
            out["check"] = check_ledger(s).ok
            out["state"] = ledger_state(s)
    engine.dispose()
    return out


def ledger_state(s) -> tuple:
    """What both earning paths must agree on: earn journals (key, customer, points, expiry),
    wallets (customer, balance, debt, tier) and tier changes (customer, from, to, qualifying)."""
    from sqlalchemy import select

    from retento.loyalty.models import (
        LoyaltyAccount,
        LoyaltyJournal,
        LoyaltyLot,
        LoyaltyTierChange,
    )

    lots = sorted(
        s.execute(
            select(
                LoyaltyJournal.idem_key,
                LoyaltyJournal.customer_id,
                LoyaltyLot.points,
                LoyaltyLot.remaining,
                LoyaltyLot.expires_at,
            ).join(LoyaltyLot, LoyaltyLot.journal_id == LoyaltyJournal.id)
        ).all()
    )
    wallets = _sortable(
        s.execute(
            select(
                LoyaltyAccount.customer_id,
                LoyaltyAccount.balance,
                LoyaltyAccount.debt,
                LoyaltyAccount.tier_id,
            ).where(LoyaltyAccount.customer_id.is_not(None))
        ).all()
    )
    changes = _sortable(
        s.execute(
            select(
                LoyaltyTierChange.customer_id,
                LoyaltyTierChange.from_tier_id,
                LoyaltyTierChange.to_tier_id,
                LoyaltyTierChange.qualifying,
            )
        ).all()
    )
    return lots, wallets, changes


def _sortable(rows) -> list[tuple]:
    return sorted(tuple(-1 if v is None else v for v in r) for r in rows)


def _line(r: dict) -> str:
    after = (f"; then the worker {r['worker']:6.2f} s, cpu {r['worker_cpu']:.2f} s"
             if r["worker"] else "")  # fmt: skip
    return (f"{r['orders']:,} orders in {r['seconds']:6.2f} s{after} (earning {r['earning']:6.2f} s, "
            f"cpu {r['earning_cpu']:.2f} s; {r['changes']:,} tier changes {r['changes_s']:.2f} s; "
            f"{r['journals']:,} earn journals, check {r.get('check', '-')})")  # fmt: skip


def pg_admin(sql: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(sql))
    eng.dispose()


def head(path: Path, orders: int) -> Path:
    """The first ``orders`` orders of ``path`` (a smaller file for the slow per-order path)."""
    out = path.with_name(f"orders_{orders}.csv")
    seen: set[str] = set()
    with path.open() as src, out.open("w", newline="") as dst:
        r, w = csv.reader(src), csv.writer(dst)
        w.writerow(next(r))
        for row in r:
            if row[0] not in seen:
                if len(seen) == orders:
                    break
                seen.add(row[0])
            w.writerow(row)
    return out


def bench_backend(backend: str, root: Path, args) -> list[str]:
    copies: list[str] = []
    tag = uuid.uuid4().hex[:8]
    if backend == "sqlite":
        tpl = root / "prepared.db"
        for f in root.glob("*.db*"):
            f.unlink()
        prepare(f"sqlite:///{tpl}", root, not args.no_tiers)

        def fresh(name: str) -> str:
            shutil.copy(tpl, root / f"{name}.db")
            return f"sqlite:///{root}/{name}.db"

        def cleanup() -> None:
            for f in root.glob("*.db*"):
                f.unlink()
    else:
        tpl_db = f"loyalty_import_tpl_{tag}"
        pg_admin(f'CREATE DATABASE "{tpl_db}"')
        prepare(f"{PG}/{tpl_db}", root, not args.no_tiers)

        def fresh(name: str) -> str:
            db = f"loyalty_import_{name}_{tag}"
            copies.append(db)
            pg_admin(f'CREATE DATABASE "{db}" TEMPLATE "{tpl_db}"')
            return f"{PG}/{db}"

        def cleanup() -> None:
            for db in (*copies, tpl_db):
                pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    out: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        out.append(line)

    try:
        orders_csv = root / "orders.csv"
        runs = {}
        for mode in args.modes.split(","):
            load = os.getloadavg()[0]
            r = runs[mode] = time_orders(fresh(mode), orders_csv, mode)
            say(f"{backend:<10} {mode:<8}: {_line(r)}; load {load:.1f}")
        if len(runs) < 3:
            return out
        act, ina, que = runs["active"], runs["inactive"], runs["queued"]
        same = que["state"] == act["state"] and que["check"]
        say(
            f"{backend:<10} queued: the import {que['seconds']:.2f} s "
            f"({que['seconds'] / ina['seconds']:.2f}× the inactive import), then the worker "
            f"{que['worker']:.2f} s; ledger identical to earning inside the import: {same}"
        )
        if not same:
            raise SystemExit("earning queued and earning inside the import disagree")
        n = act["orders"]
        say(f"{backend:<10} programme active / inactive: {act['seconds'] / ina['seconds']:.2f}×; "
            f"earning {act['earning'] / n * 1e6:,.0f} µs per order "
            f"({(act['seconds'] - ina['seconds']) / n * 1e6:,.0f} µs by the difference), "
            f"{(act['earning'] - act['changes_s']) / n * 1e6:,.0f} µs without the tier "
            "changes")  # fmt: skip
        if not args.no_old:
            k = args.old_orders or n
            path = orders_csv if k >= n else head(orders_csv, k)
            load = os.getloadavg()[0]
            old = time_orders(fresh("old"), path, "old")
            per_old = old["earning"] / old["orders"]
            rest_old = (old["earning"] - old["changes_s"]) / old["orders"]
            rest_new = (act["earning"] - act["changes_s"]) / n
            say(f"{backend:<10} old     : {_line(old)}; load {load:.1f}")
            say(f"{backend:<10} per order: old {per_old * 1e3:.2f} ms, set-based "
                f"{act['earning'] / n * 1e3:.2f} ms ({per_old / (act['earning'] / n):,.1f}× "
                f"cheaper); without the tier changes old {rest_old * 1e3:.2f} ms, set-based "
                f"{rest_new * 1e3:.3f} ms ({rest_old / rest_new:,.0f}× cheaper)")  # fmt: skip
            if k >= n:
                same = old["state"] == act["state"]
                say(f"{backend:<10} per-order and set-based ledgers identical: {same}")
                if not same:
                    raise SystemExit("the two earning paths disagree")
    finally:
        cleanup()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--backend", choices=("both", "sqlite", "postgresql"), default="both")
    ap.add_argument("--no-old", action="store_true", help="skip the per-order path")
    ap.add_argument("--old-orders", type=int, default=0, help="orders for the per-order path")
    ap.add_argument("--no-tiers", action="store_true", help="a programme without tiers")
    ap.add_argument(
        "--modes", default="inactive,active,queued", help="which of inactive,active,queued to run"
    )
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="retento-bench-loyalty-import-"))
    root.mkdir(parents=True, exist_ok=True)
    lines = generate(root, args.orders)
    os.environ.setdefault("RETENTO_SECRET_KEY", "bench-" + "x" * 40)
    from retento.models import import_all_models

    import_all_models()
    import retento.loyalty  # noqa: F401 - subscribes the import hook

    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()}, "
          f"{args.orders:,} orders / {lines:,} lines ({root})")  # fmt: skip
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for b in backends:
        bench_backend(b, root, args)
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
