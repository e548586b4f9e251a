"""Import 1,000,000 order lines into a fresh SQLite database through the real CLI code path.

    python benchmarks/bench_import.py [--lines 1000000] [--keep DIR]

Generates customers.csv, products.csv and orders.csv (1–4 lines per order) in a temp dir,
migrates a fresh SQLite file, imports customers and products, then times `retento import
orders` (the Typer command itself, progress bar and all). Target: under 60 s.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGET = 60.0


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--revision", default="head", help="Schema revision to migrate to.")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="retento-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    orders, lines = generate(root, args.lines)
    print(
        f"generated {lines:,} lines / {orders:,} orders in {time.perf_counter() - t0:.1f}s ({root})"
    )

    db = root / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ["RETENTO_DATABASE_URL"] = f"sqlite:///{db}"
    from typer.testing import CliRunner

    from retento.auth.models import User
    from retento.cli import app
    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade
    from retento.models import import_all_models

    get_settings.cache_clear()
    upgrade(os.environ["RETENTO_DATABASE_URL"], args.revision)
    import_all_models()
    engine = make_engine(os.environ["RETENTO_DATABASE_URL"])
    with transaction(make_session_factory(engine)) as s:
        s.add(User(username="bench", role="admin", password_hash="-", display_name="Bench"))
    engine.dispose()
    runner = CliRunner()
    for entity in ("customers", "products"):
        r = runner.invoke(app, ["import", entity, str(root / f"{entity}.csv")])
        if r.exit_code:
            sys.exit(r.output)
    t0 = time.perf_counter()
    r = runner.invoke(app, ["import", "orders", str(root / "orders.csv")])
    seconds = time.perf_counter() - t0
    if r.exit_code:
        sys.exit(r.output)
    print(" ".join(r.output.split()[-22:]))
    print(f"import orders: {lines:,} lines in {seconds:.1f} s = {lines / seconds:,.0f} lines/s; "
          f"{seconds / TARGET:.2f} × the {TARGET:.0f} s target")  # fmt: skip


if __name__ == "__main__":
    main()
