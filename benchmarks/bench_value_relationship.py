"""Benchmark of the relationship-metric queries on PostgreSQL (helper 'value')."""

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from retento.core.db import make_engine
from retento.core.migrate import upgrade

N_CUST = int(os.environ.get("N_CUST", 100_000))
N_ORD = int(os.environ.get("N_ORD", 2_000_000))
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REUSE = os.environ.get("BENCH_DB")
name = REUSE or f"value_bench_{uuid.uuid4().hex[:8]}"
admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
if not REUSE:
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
try:
    if not REUSE:
        upgrade(url)
    eng = make_engine(url)
    now = datetime(2026, 12, 5, tzinfo=UTC)
    t0 = time.perf_counter()
    with eng.begin() as c:
        if not REUSE:
            c.execute(text("ALTER TABLE customers DISABLE TRIGGER USER"))
            c.execute(
                text(f"""
            INSERT INTO customers (name, name_key, party_type, kind, consent_email, consent_sms, consent_phone,
                                   consent_profiling, custom_fields, created_at, updated_at, version, external_id)
            SELECT 'C'||g, 'c'||g, 'person', 'consumer', false, false, false, false,
                   CASE WHEN g % 5 = 0 THEN json_build_object('wallet_spend', (200 + g % 3000)::text)
                        ELSE '{{}}'::json END,
                   now(), now(), 1, 'B'||g
            FROM generate_series(1, {N_CUST}) g""")
            )
            c.execute(
                text(f"""
            INSERT INTO orders (customer_id, ordered_at, status, channel, discount, revenue, cost, profit,
                                refunded, created_at, updated_at, version)
            SELECT 1 + (hashint4(g) & 2147483647) % {N_CUST},
                   timestamptz '{now.isoformat()}' - make_interval(secs => ((hashint4(g * 7) & 2147483647) % (3*365*86400))),
                   CASE WHEN g % 50 = 0 THEN 'cancelled' ELSE 'completed' END, 'store',
                   0, 40 + g % 100, 25, 15 + g % 100, 0, now(), now(), 1
            FROM generate_series(1, {N_ORD}) g""")
            )
            c.execute(text("ANALYZE customers; ANALYZE orders"))
    load_s = time.perf_counter() - t0
    from retento.scoring import relationship

    def timed(label, fn, repeat=3):
        best = None
        for _ in range(repeat):
            with Session(eng) as s:
                t = time.perf_counter()
                out = fn(s)
                dt = time.perf_counter() - t
            best = dt if best is None else min(best, dt)
        print(f"{label:58s} {best:7.3f} s")
        return best, out

    print(f"database {name}: {N_CUST} customers, {N_ORD} orders, loaded in {load_s:.1f} s")
    base, _ = timed(
        "baseline: SELECT count(*), sum(revenue) FROM orders",
        lambda s: s.execute(text("SELECT count(*), sum(revenue) FROM orders")).one(),
    )
    m, out = timed(
        "rate_series month, 24 periods",
        lambda s: relationship.rate_series(s, grain="month", end=now),
    )
    q, _ = timed(
        "rate_series quarter, 8 periods",
        lambda s: relationship.rate_series(s, grain="quarter", end=now),
    )
    w, dist = timed(
        "wallet_distribution (365 days)",
        lambda s: relationship.wallet_distribution(s, window_days=365, as_of=now),
    )

    def pandas_way(s):
        lo = now - timedelta(days=25 * 31)
        df = pd.DataFrame(
            s.execute(
                text(
                    "SELECT customer_id, ordered_at FROM orders WHERE status <> 'cancelled' AND ordered_at < :e"
                ),
                {"e": now},
            ).all(),
            columns=["cid", "at"],
        )
        df["at"] = pd.to_datetime(df["at"], utc=True)
        df["p"] = df["at"].dt.year * 12 + df["at"].dt.month - 1
        df["d"] = df["at"].dt.floor("D")
        first = df.groupby("cid")["p"].min()
        act = df[df["at"] >= lo].groupby(["cid", "p"])["d"].nunique().rename("days").reset_index()
        act["first_p"] = act["cid"].map(first)
        rep = (
            act.assign(r=(act["days"] >= 2) | (act["first_p"] < act["p"])).groupby("p")["r"].mean()
        )
        nxt = act[["cid", "p"]].assign(p=act["p"] - 1, kept=1)
        ret = (
            act[["cid", "p"]]
            .merge(nxt, on=["cid", "p"], how="left")
            .groupby("p")["kept"]
            .apply(lambda x: x.notna().mean())
        )
        return rep, ret

    pdm = float(os.environ.get("PANDAS_S", "nan"))
    if not os.environ.get("SKIP_PANDAS"):
        pdm, _ = timed("pandas: fetch orders, same monthly rates in Python", pandas_way, repeat=1)
    pts = {p["period"]: p for p in out["points"]}
    print("sample month", out["points"][-2])
    print("SoW customers", dist["customers"], "mean", round(dist["mean"], 4))
    print(
        f"ratios: month/scan {m / base:.2f}  quarter/scan {q / base:.2f}  pandas/month {pdm / m:.2f}"
    )
finally:
    try:
        eng.dispose()
    except Exception:
        pass
    if not os.environ.get("KEEP"):
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        print("kept", name)
