"""Benchmark: customer search on PostgreSQL at 1,000,000 customers (target < 100 ms median).

Creates a throw-away PostgreSQL database named ``search_bench_*`` (``RETENTO_TEST_PG_URL``
admin URL, as the tests use), migrates it, bulk-loads ``--customers`` synthetic customers (half
with Chinese names, half with English ones; emails, phones written in several styles, external
ids) plus a contact for every tenth one with COPY (the search indexes are dropped for the load
and rebuilt after; the triggers of migrations 0017 and 0022 fill ``phone_digits``,
``name_chars``, ``customer_search`` and ``customer_name_words``), then times a mix of searches
through ``customers.service.list_customers_page`` - what ``GET /api/v1/customers?q=`` runs: 50
rows ranked best match first plus the (capped) total:

- a surname ("Clark"), a single Chinese character ("明"), an email fragment ("ava.clark"), a
  phone fragment with punctuation ("700-000 0584"), a typo'd name ("Clrakson"), each several
  times with different values taken from the loaded data;

and, in the same run, the search of migration 0017 (``benchmarks/search_0017.py``: a branch per
column on the customer and contact tables, every match ranked and counted) on the same queries.
Prints median and p90 per kind and overall, and the load average.

    .venv/bin/python benchmarks/bench_search.py [--customers 1000000] [--rounds 5] [--keep]
        [--reuse DB] [--cap N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PG_ADMIN_URL = os.environ.get(
    "RETENTO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

SURNAMES_ZH = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_ZH = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉")
FIRST = (
    "Ava Olivia Emma Mia Amelia Harper Evelyn Abigail Emily Ella Liam Noah Oliver Elijah James "
    "William Benjamin Lucas Henry Theodore Jack Levi Alexander Jackson Mateo Daniel Michael Mason "
    "Sebastian Ethan Logan Owen Samuel Jacob Asher Aiden John Joseph Wyatt David Leo Luke Julian"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Clarkson "
    "Richardson Patterson Henderson Fitzgerald Kowalski Schneider Andersson Lindqvist"
).split()
PHONE_STYLES = (
    lambda d: f"+86 {d[:3]} {d[3:7]} {d[7:]}",
    lambda d: f"{d[:3]}-{d[3:7]}-{d[7:]}",
    lambda d: f"({d[:3]}) {d[3:6]}.{d[6:]}",
    lambda d: d,
    lambda d: f"+44 {d[1:5]} {d[5:]}",
)


def _fresh_db() -> tuple[str, str]:
    name = f"search_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_db(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _rows(n: int, rng: random.Random):
    """(external_id, name, name_key, email, phone) per customer."""
    now = datetime.now(UTC).isoformat()
    for i in range(1, n + 1):
        if i % 2:
            name = rng.choice(SURNAMES_ZH) + "".join(
                rng.choice(GIVEN_ZH) for _ in range(rng.choice((1, 2)))
            )
            email = f"dc{i:08d}@example.cn" if i % 3 else None
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first} {last}"
            email = f"{first.lower()}.{last.lower()}.{i}@example.com"
        digits = f"1{rng.randrange(10**9, 10**10):010d}"[:11]
        phone = rng.choice(PHONE_STYLES)(digits) if i % 7 else None
        yield (f"C{i:08d}", name, name.lower(), email, phone, now)


def load(url: str, n: int, seed: int) -> float:
    """COPY ``n`` customers and ``n // 10`` contacts; returns seconds (load + index build)."""
    import psycopg

    from retento.core.db import Base
    from retento.customers.models import Contact, Customer
    from retento.customers.search_tables import NameWord, SearchRow

    t0 = time.perf_counter()
    pg_url = url.replace("postgresql+psycopg://", "postgresql://")
    tables = (Customer.__table__, Contact.__table__, SearchRow.__table__, NameWord.__table__)
    indexes = [ix for t in tables for ix in t.indexes]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for ix in indexes:
            conn.execute(f'DROP INDEX IF EXISTS "{ix.name}"')
        rng = random.Random(seed)
        with conn.cursor() as cur:
            cols = (
                "external_id, name, name_key, email, phone, created_at, updated_at, party_type, "
                "kind, consent_email, consent_sms, consent_phone, consent_profiling, custom_fields"
            )
            with cur.copy(f"COPY customers ({cols}) FROM STDIN") as cp:
                for ext, name, key, email, phone, now in _rows(n, rng):
                    cp.write_row(
                        (ext, name, key, email, phone, now, now, "person", "consumer",
                         False, False, False, False, "{}")
                    )  # fmt: skip
            with cur.copy(
                "COPY customer_contacts (customer_id, name, email, phone, is_primary) FROM STDIN"
            ) as cp:
                for cid in range(5, n + 1, 10):
                    first, last = rng.choice(FIRST), rng.choice(LAST)
                    cp.write_row(
                        (cid, f"{first} {last}", f"{first.lower()}@partner{cid}.example",
                         f"021-{rng.randrange(10**7, 10**8)}", False)
                    )  # fmt: skip
        print(f"  copied in {time.perf_counter() - t0:.1f} s; building indexes ...", flush=True)
        engine = create_engine(url)
        with engine.begin() as sa_conn:
            for ix in indexes:
                ix.create(sa_conn)
        engine.dispose()
        conn.execute("VACUUM ANALYZE customers")
        conn.execute("VACUUM ANALYZE customer_contacts")
        conn.execute("VACUUM ANALYZE customer_search")
        conn.execute("VACUUM ANALYZE customer_name_words")
    assert Base  # metadata loaded
    return time.perf_counter() - t0


def old_list(session, q: str, limit: int = 50) -> tuple[list, int]:
    """The search of migration 0017 (``benchmarks/search_0017.py``), as ``list_customers`` ran it
    before the search table: ranked matches with ``count(*) OVER ()``, then the page's rows."""
    import search_0017
    from sqlalchemy import func
    from sqlalchemy.orm import selectinload

    from retento.customers.models import Customer

    sub = search_0017.ranked(q, "postgresql", False)
    rows = session.execute(
        select(sub.c.id, func.count().over())
        .order_by(sub.c.rank, sub.c.name_key, sub.c.id)
        .limit(limit)
    ).all()
    ids = [r[0] for r in rows]
    loaded = {
        c.id: c
        for c in session.scalars(
            select(Customer)
            .where(Customer.id.in_(ids))
            .options(
                selectinload(Customer.tag_rows),
                selectinload(Customer.contacts),
                selectinload(Customer.assignments),
            )
        )
    }
    return [loaded[i] for i in ids if i in loaded], (int(rows[0][1]) if rows else 0)


def queries(session, rounds: int, seed: int) -> dict[str, list[str]]:
    """``rounds`` queries of each kind, taken from the loaded rows."""
    from retento.customers.models import Customer

    rng = random.Random(seed + 1)
    n = session.scalar(text("SELECT max(id) FROM customers"))
    sample = [session.get(Customer, rng.randrange(1, n + 1)) for _ in range(rounds * 40)]
    latin = [c for c in sample if c.name.isascii()]
    zh = [c for c in sample if not c.name.isascii()]
    phones = [c for c in sample if c.phone]

    def typo(word: str) -> str:
        """One inner letter dropped ("Andrson"); swapped letters are harder for trigrams."""
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1 :]

    long_last = [w for w in LAST if len(w) >= 7]
    return {
        "surname": [rng.choice(LAST) for _ in range(rounds)],
        "one Chinese character": [zh[i].name[-1] for i in range(rounds)],
        "email fragment": [
            ".".join(latin[i].email.split("@")[0].split(".")[:2]) for i in range(rounds)
        ],
        "phone fragment": [
            "-".join("".join(ch for ch in p.phone if ch.isdigit())[-8:][i : i + 4] for i in (0, 4))
            for p in phones[:rounds]
        ],  # fmt: skip
        "typo'd name": [typo(rng.choice(long_last)) for _ in range(rounds)],
    }


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5, help="Queries per kind.")
    ap.add_argument("--repeat", type=int, default=3, help="Timed runs per query (after 1 warm).")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    ap.add_argument("--cap", type=int, help="Override customers.search.COUNT_CAP.")
    ap.add_argument("--reuse", metavar="DB", help="Time on a database kept by --keep.")
    args = ap.parse_args()

    from retento.auth.models import User
    from retento.core.db import make_engine, make_session_factory
    from retento.core.migrate import upgrade
    from retento.customers import service
    from retento.models import import_all_models

    import_all_models()
    if args.cap:
        from retento.customers import search

        search.COUNT_CAP = args.cap
    if args.reuse:
        name, url = args.reuse, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{args.reuse}"
        args.keep = True
    else:
        name, url = _fresh_db()
    try:
        if not args.reuse:
            upgrade(url)
            print(f"Loading {args.customers:,} customers into {name} ...", flush=True)
            secs = load(url, args.customers, args.seed)
            print(f"  loaded and indexed in {secs:.1f} s", flush=True)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as s:
            actor = s.scalar(select(User).where(User.username == "bench"))
            if actor is None:
                actor = User(username="bench", role="manager", password_hash="x", is_active=True)
                s.add(actor)
                s.commit()
            mix = queries(s, args.rounds, args.seed)
            new_all, old_all = [], []
            print(
                f"\n{'kind':<24}{'query':<22}{'hits':>8}{'new ms':>9}{'0017 hits':>10}"
                f"{'0017 ms':>9}"
            )
            per_kind: dict[str, tuple[list[float], list[float]]] = {}
            for kind, qs in mix.items():
                for q in qs:
                    _, total, _ = service.list_customers_page(s, actor=actor, q=q, limit=50)
                    new_t, old_t = [], []
                    for _ in range(args.repeat):
                        t = time.perf_counter()
                        _, total, _ = service.list_customers_page(s, actor=actor, q=q, limit=50)
                        new_t.append((time.perf_counter() - t) * 1000)
                    old_list(s, q)
                    for _ in range(args.repeat):
                        t = time.perf_counter()
                        _, old_total = old_list(s, q)
                        old_t.append((time.perf_counter() - t) * 1000)
                    s.rollback()
                    nm, om = statistics.median(new_t), statistics.median(old_t)
                    per_kind.setdefault(kind, ([], []))[0].append(nm)
                    per_kind[kind][1].append(om)
                    new_all.append(nm)
                    old_all.append(om)
                    print(f"{kind:<24}{q:<22}{total:>8}{nm:>9.1f}{old_total:>10}{om:>9.1f}")
            print(
                f"\n{'kind':<24}{'new median':>11}{'new p90':>9}{'0017 median':>12}{'0017 p90':>9}"
            )
            for kind, (nv, ov) in per_kind.items():
                print(
                    f"{kind:<24}{statistics.median(nv):>11.1f}{_pct(nv, 0.9):>9.1f}"
                    f"{statistics.median(ov):>12.1f}{_pct(ov, 0.9):>9.1f}"
                )
            med, p90 = statistics.median(new_all), _pct(new_all, 0.9)
            old_med = statistics.median(old_all)
            print(
                f"\nall {len(new_all)} queries: median {med:.1f} ms, p90 {p90:.1f} ms "
                f"(target: median < 100 ms); 0017 search median {old_med:.1f} ms, "
                f"p90 {_pct(old_all, 0.9):.1f} ms"
            )
            print("load:", os.getloadavg(), datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
        engine.dispose()
    finally:
        if not args.keep:
            _drop_db(name)


if __name__ == "__main__":
    main()
