"""Journey funnel timing on 1,000,000 touchpoints in a scratch PostgreSQL database (docs/benchmarks.md).

    .venv/bin/python benchmarks/bench_journey.py [CUSTOMERS] [TOUCHPOINTS] [keep]

Prints the median of 3 runs of the funnel (all time and a 365-day period) and of the experience
summary, with a distinct-customer scan over the same table as the baseline measured in the same run.
The database also gets as many orders as touchpoints (2 % cancelled, channels round-robin), for the
funnel that counts orders as "order and deposit" events (``sources=("orders",)``), timed against
the same baseline and the same scan over touchpoints and orders together.
"""

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, text

from retento.core.migrate import upgrade
from retento.models import import_all_models  # noqa: E402

import_all_models()
from retento.core.db import make_engine, make_session_factory  # noqa: E402
from retento.journey.dashboard import experience_summary  # noqa: E402
from retento.journey.funnel import journey_funnel  # noqa: E402

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NAME = "journey_bench_1m"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"
N_CUST, N_TP = int(sys.argv[1]), int(sys.argv[2])
KEEP = "keep" in sys.argv[3:]
admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
with admin.connect() as c:
    exists = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": NAME}).first()
fresh = not (KEEP and exists)
if fresh:
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{NAME}"'))
    upgrade(URL)
eng = make_engine(URL)
t0 = time.perf_counter()
with eng.begin() as c:
    if fresh:
        # Bulk load only: skip the search-index triggers (superuser session setting).
        c.execute(text("SET session_replication_role = replica"))
        c.execute(
            text(f"""
          INSERT INTO customers (name, name_key, party_type, kind, consent_email, consent_sms,
                                 consent_phone, consent_profiling, custom_fields, created_at,
                                 updated_at)
          SELECT 'C' || g, 'c' || g, 'person', 'consumer', false, false, false, false, '{{}}',
                 now(), now()
          FROM generate_series(1, {N_CUST}) g""")
        )
        # Stage k reached with probability 0.8^k-ish: customer-specific furthest stage, touchpoints
        # spread over stages up to it, channels round-robin, times increasing with the stage.
        c.execute(
            text(f"""
          INSERT INTO touchpoints (customer_id, occurred_at, channel, stage, direction, outcome,
                                   created_at, updated_at)
          SELECT cid,
                 timestamptz '2024-01-01' + (k * 9 + (g % 7)) * interval '1 day'
                   + (cid % 300) * interval '1 day',
                 (ARRAY['ads','phone','web','store','email','chat','other'])[1 + (g * 7 + cid) % 7],
                 (ARRAY['desire','information','cognition','selection','order','receipt',
                        'payment','after_sales'])[1 + k],
                 'inbound', 'neutral', now(), now()
          FROM (
              SELECT g, 1 + (g * 2654435761) % {N_CUST} AS cid,
                     LEAST(7, FLOOR(-LN(1 - ((g * 40503) % 65536) / 65536.0) * 2.2))::int AS k
              FROM generate_series(1::bigint, {N_TP}) g
          ) s""")
        )
        c.execute(
            text(f"""
          INSERT INTO orders (customer_id, ordered_at, status, channel, discount, revenue, cost,
                              profit, refunded, created_at, updated_at, version)
          SELECT 1 + (g * 40503) % {N_CUST},
                 timestamptz '2024-01-01' + ((g * 7919) % 900) * interval '1 day',
                 CASE WHEN g % 50 = 0 THEN 'cancelled' ELSE 'completed' END,
                 (ARRAY['store','web','phone','email','chat','partner','other'])[1 + g % 7],
                 0, 10, 6, 4, 0, now(), now(), 1
          FROM generate_series(1::bigint, {N_TP}) g""")
        )
        c.execute(text("SET session_replication_role = DEFAULT"))
        c.execute(text("ANALYZE customers"))
        c.execute(text("ANALYZE touchpoints"))
        c.execute(text("ANALYZE orders"))
load = time.perf_counter() - t0
n = eng.connect().execute(text("SELECT count(*) FROM touchpoints")).scalar()
Session = make_session_factory(eng)


def timed(fn, reps=3):
    out = []
    for _ in range(reps):
        with Session() as s:
            t = time.perf_counter()
            r = fn(s)
            out.append(time.perf_counter() - t)
    return statistics.median(out), r


base_t, _ = timed(
    lambda s: s.execute(
        text(
            "SELECT stage, channel, count(DISTINCT customer_id) FROM touchpoints GROUP BY stage, channel"
        )
    ).all()
)
all_t, fun = timed(lambda s: journey_funnel(s))
start = datetime(2024, 6, 1, tzinfo=UTC)
per_t, fun_p = timed(lambda s: journey_funnel(s, start=start, end=start + timedelta(days=365)))
exp_t, _ = timed(lambda s: experience_summary(s))
both_t, _ = timed(
    lambda s: s.execute(
        text(
            "SELECT stage, channel, count(DISTINCT customer_id) FROM ("
            "SELECT customer_id, stage, channel FROM touchpoints UNION ALL "
            "SELECT customer_id, 'order', channel FROM orders) u GROUP BY stage, channel"
        )
    ).all()
)
ord_t, fun_o = timed(lambda s: journey_funnel(s, sources=("orders",)))
ordp_t, _ = timed(
    lambda s: journey_funnel(s, start=start, end=start + timedelta(days=365), sources=("orders",))
)
n_ord = eng.connect().execute(text("SELECT count(*) FROM orders")).scalar()
print(f"touchpoints={n} customers={N_CUST} load_s={load:.1f}")
print(f"baseline distinct-customers-by-stage-channel median_s={base_t:.2f}")
print(f"funnel all-time median_s={all_t:.2f} customers={fun.customers} ratio={all_t / base_t:.2f}")
print(f"funnel 365-day median_s={per_t:.2f} customers={fun_p.customers} ratio={per_t / base_t:.2f}")
print(f"experience summary (0 records) median_s={exp_t:.3f}")
print(f"with {n_ord} orders: baseline over both tables median_s={both_t:.2f}")
print(
    f"funnel with orders all-time median_s={ord_t:.2f} customers={fun_o.customers} "
    f"ratio={ord_t / base_t:.2f} (to the touchpoint baseline), {ord_t / both_t:.2f} (to both)"
)
print(f"funnel with orders 365-day median_s={ordp_t:.2f} ratio={ordp_t / base_t:.2f}")
print("reached:", [s.reached for s in fun.stages])
print("reached with orders:", [s.reached for s in fun_o.stages])
print("gaps median days:", [round(g.median_days, 1) if g.median_days else None for g in fun.gaps])
eng.dispose()
if not KEEP:
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)'))
