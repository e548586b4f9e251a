"""A realistic, reproducible demo population (customers, products, orders, touchpoints).

Purchases follow a heterogeneous BG/NBD-like process (Fader, Hardie & Lee 2005): each customer
buys as a Poisson process with rate λ ~ Gamma(r, α) and, after every purchase, drops out for good
with probability p ~ Beta(a, b). Value therefore follows a pyramid, and some customers silently
stop buying — exactly what the scoring and churn models must discover.

Generation is vectorised with NumPy and written with bulk Core inserts in chunks, so a million
customers work. Other domains (complaints, surveys, loyalty) contribute their own part by
appending a step: ``STEPS.append(fn)`` where ``fn(session, rng, context)`` reads what earlier
steps left in ``context`` (customer ids, order ids and times, user ids, ``today``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.auth.models import User
from retento.core.db import Base
from retento.core.locking import IN_TRANSACTION_COUNTERS
from retento.customers.models import Customer, CustomerTag
from retento.mail.compose import customer_locale
from retento.orders.models import Order, OrderLine, Refund
from retento.products.models import Product
from retento.touchpoints.models import CHANNELS, STAGES, Touchpoint

CHUNK = 20_000
DEMO_PASSWORD = "retento-demo"
DEMO_USERS = ("admin", "manager", "agent", "agent2", "analyst")
URL = "http://127.0.0.1:8000"

Progress = Callable[[str, float], None]
Step = Callable[[Session, np.random.Generator, "DemoContext"], None]


@dataclass
class DemoContext:
    """What the steps share; later steps read what earlier ones produced."""

    n_customers: int
    seed: int
    today: date
    progress: Progress
    user_ids: dict[str, int] = field(default_factory=dict)
    product_ids: np.ndarray | None = None
    product_price: np.ndarray | None = None  # cents
    product_cost: np.ndarray | None = None  # cents
    customer_ids: np.ndarray | None = None
    customer_owner: np.ndarray | None = None  # user id or 0
    customer_business: np.ndarray | None = None  # bool: organisation
    customer_bargain: np.ndarray | None = None  # bool: heavy discounts → below zero
    customer_zh: np.ndarray | None = None  # bool: speaks Chinese (``customer_locale``)
    acquired_day: np.ndarray | None = None  # days since ``start``
    start: datetime | None = None
    order_ids: np.ndarray | None = None
    order_customer: np.ndarray | None = None  # index into customer arrays
    order_time: np.ndarray | None = None  # seconds since ``start``
    order_channel: np.ndarray | None = None
    summary: dict[str, Any] = field(default_factory=dict)


# A bilingual text: (English, Simplified Chinese). What the staff record about a customer (a
# touchpoint's note, a refund's reason) is written in the customer's language, as in
# ``retento.complaints.demo``; picking the language draws nothing, so a seed gives the same data.
T = tuple[str, str]


# --------------------------------------------------------------------------- helpers
def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _insert(session: Session, table: Table, rows: list[dict], ctx: DemoContext, label: str):
    conn = session.connection()
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i : i + CHUNK])
        ctx.progress(label, min(1.0, (i + CHUNK) / max(len(rows), 1)))


def _insert_returning(
    session: Session, table: Table, rows: list[dict], ctx: DemoContext, label: str
):
    conn = session.connection()
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for i in range(0, len(rows), CHUNK):
        ids.extend(conn.execute(stmt, rows[i : i + CHUNK]).scalars().all())
        ctx.progress(label, min(1.0, (i + CHUNK) / max(len(rows), 1)))
    return np.asarray(ids, dtype=np.int64)


def _times(ctx: DemoContext, seconds: np.ndarray) -> list[datetime]:
    base = ctx.start
    assert base is not None
    return [base + timedelta(seconds=s) for s in seconds.tolist()]


# ----------------------------------------------------------------------------- users
def step_users(session: Session, rng: np.random.Generator, ctx: DemoContext) -> None:
    """Demo logins (password ``retento-demo``; role = name without digits) unless they exist."""
    from retento.auth.schemas import UserCreate
    from retento.auth.service import create_user

    existing = dict(session.execute(select(User.username, User.id)).tuples().all())
    for name in DEMO_USERS:
        if name not in existing:
            role = name.rstrip("0123456789")
            u = create_user(
                session,
                UserCreate(
                    username=name,
                    password=DEMO_PASSWORD,
                    role=role,
                    display_name=name.capitalize(),
                    email=f"{name}@demo.retento.dev",
                ),
                actor=None,
            )
            existing[name] = u.id
    ctx.user_ids = {n: existing[n] for n in DEMO_USERS}


# -------------------------------------------------------------------------- products
CATALOGUE: tuple[tuple[str, str, float, float], ...] = (
    # name, category, price, cost share of price
    ("West Lake Longjing 250 g", "tea", 68.00, 0.45),
    ("Tieguanyin Oolong 250 g", "tea", 42.00, 0.48),
    ("Aged Pu'er cake 357 g", "tea", 128.00, 0.40),
    ("Jasmine Silver Needle 100 g", "tea", 36.00, 0.50),
    ("Keemun Black 200 g", "tea", 29.00, 0.52),
    ("Da Hong Pao 150 g", "tea", 88.00, 0.42),
    ("White Peony 200 g", "tea", 33.00, 0.55),
    ("Everyday green tea bags ×100", "tea", 9.90, 0.82),
    ("Yixing clay teapot", "teaware", 159.00, 0.38),
    ("Porcelain gaiwan", "teaware", 24.00, 0.45),
    ("Glass kettle 1.2 l", "teaware", 45.00, 0.60),
    ("Tea tray bamboo", "teaware", 79.00, 0.50),
    ("Cup set ×6", "teaware", 35.00, 0.55),
    ("Travel tea set", "teaware", 58.00, 0.50),
    ("Electric tea kettle", "teaware", 119.00, 0.70),
    ("Tea strainer", "teaware", 6.50, 0.88),
    ("Mooncake box ×4", "snacks", 39.00, 0.62),
    ("Sesame crisps", "snacks", 5.80, 0.70),
    ("Dried mango 500 g", "snacks", 12.50, 0.66),
    ("Roasted almonds 400 g", "snacks", 14.90, 0.64),
    ("Green tea cookies", "snacks", 7.90, 0.58),
    ("Walnut cakes ×12", "snacks", 18.00, 0.60),
    ("Lychee candy", "snacks", 4.50, 0.92),
    ("Osmanthus jelly", "snacks", 6.90, 0.63),
    ("Festival gift box", "gifts", 199.00, 0.55),
    ("Corporate gift hamper", "gifts", 299.00, 0.58),
    ("Tea sampler", "gifts", 49.00, 0.50),
    ("Calligraphy tea caddy", "gifts", 66.00, 0.47),
    ("Wedding tea set", "gifts", 388.00, 0.52),
    ("Red envelope gift card 100", "gifts", 100.00, 0.97),
    ("Lucky cat tea pet", "gifts", 19.90, 0.40),
    ("Silk-wrapped tin", "gifts", 29.00, 0.55),
    ("Tea ceremony class", "services", 80.00, 0.30),
    ("Teapot engraving", "services", 25.00, 0.20),
    ("Office tea subscription (month)", "services", 150.00, 0.68),
    ("Gift wrapping", "services", 5.00, 0.60),
    ("Express delivery", "services", 12.00, 0.95),
    ("Tasting session (group)", "services", 240.00, 0.35),
    ("Teaware repair", "services", 35.00, 0.45),
    ("Corporate tea training", "services", 600.00, 0.40),
)


def step_products(session: Session, rng: np.random.Generator, ctx: DemoContext) -> None:
    """≈40 products in five categories with realistic prices and margins (upserted)."""
    existing = dict(
        session.execute(
            select(Product.external_id, Product.id).where(Product.external_id.like("DP%"))
        )
        .tuples()
        .all()
    )
    now = datetime.now(UTC)
    rows = []
    prices, costs = [], []
    for i, (name, cat, price, share) in enumerate(CATALOGUE, 1):
        p = round(price * 100)
        c = round(p * share)
        prices.append(p)
        costs.append(c)
        ext = f"DP{i:03d}"
        if ext not in existing:
            rows.append(
                {
                    "external_id": ext,
                    "name": name,
                    "category": cat,
                    "unit_price": _money(p),
                    "unit_cost": _money(c),
                    "is_active": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    if rows:
        _insert(session, Product.__table__, rows, ctx, "products")
    ids = dict(
        session.execute(
            select(Product.external_id, Product.id).where(Product.external_id.like("DP%"))
        )
        .tuples()
        .all()
    )
    ctx.product_ids = np.asarray([ids[f"DP{i:03d}"] for i in range(1, len(CATALOGUE) + 1)])
    ctx.product_price = np.asarray(prices, dtype=np.int64)
    ctx.product_cost = np.asarray(costs, dtype=np.int64)


# ------------------------------------------------------------------------- customers
CN_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐")
CN_GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
            "涛", "明", "超", "秀英", "华", "慧", "建国", "晓东", "海燕", "志强", "雪梅", "子涵"]  # fmt: skip
EN_FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
            "Emma", "Oliver", "Sophie", "Daniel", "Grace", "Thomas", "Chloe", "Lucas", "Mia",
            "Henry", "Ava", "Samuel", "Isla", "Noah", "Ella"]  # fmt: skip
EN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
           "Clark", "Walker", "Wright", "Hughes", "Evans", "Green", "Baker", "Turner", "Hill"]  # fmt: skip
CN_ORG = ["华茂", "金鼎", "盛世", "恒通", "瑞丰", "天成", "宏达", "鑫源", "嘉禾", "新锐"]
CN_ORG_SUFFIX = ["贸易有限公司", "科技有限公司", "餐饮管理有限公司", "酒店集团", "商贸公司"]
EN_ORG = ["Summit", "Harbor", "Pinewood", "Bluebird", "Crescent", "Northgate", "Lotus", "Meridian"]
EN_ORG_SUFFIX = ["Trading Ltd", "Hotels", "Catering Co.", "Consulting", "Group", "Partners"]
CITIES = [("上海", "CN"), ("北京", "CN"), ("杭州", "CN"), ("广州", "CN"), ("深圳", "CN"),
          ("成都", "CN"), ("福州", "CN"), ("London", "GB"), ("Manchester", "GB"),
          ("New York", "US"), ("San Francisco", "US"), ("Singapore", "SG"), ("Toronto", "CA")]  # fmt: skip
CN_CITY = np.asarray([c for c, k in CITIES if k == "CN"], dtype=object)
EN_CITY = np.asarray([c for c, k in CITIES if k != "CN"], dtype=object)
COUNTRY = {c: k for c, k in CITIES}
TAGS = ["newsletter", "wholesale", "gift-buyer", "referral", "trade-show", "online-first",
        "tea-lover", "corporate", "price-sensitive", "event"]  # fmt: skip
INTERNAL = {"distributor": "Distributor", "supplier": "Supplier", "department": "Dept.",
            "branch": "Branch"}  # fmt: skip


def _pick(rng: np.random.Generator, items: list | np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(items, dtype=object)
    return arr[rng.integers(0, len(arr), n)]


# Where each demo customer came from: a typed choice field (customers.field_models), so the demo
# shows custom fields in the form, on the 360 page, as a list filter and as an export column.
SOURCE_FIELD: dict[str, Any] = {
    "key": "source",
    "label": "Acquisition source",
    "label_zh": "获客来源",
    "field_type": "choice",
    "options": [
        {"value": "store", "label_zh": "门店"},
        {"value": "web", "label_zh": "网站"},
        {"value": "referral", "label_zh": "推荐"},
        {"value": "trade-show", "label_zh": "展会"},
        {"value": "ads", "label_zh": "广告"},
    ],
    "position": 50,
}


def _define_demo_fields(session: Session) -> None:
    """Define ``SOURCE_FIELD`` unless a field with its key exists (an administrator's own, or
    the one an earlier demo defined: definitions are settings and outlive a reset)."""
    from retento.customers.field_models import CustomFieldDefinition

    key = SOURCE_FIELD["key"]
    if session.scalar(select(CustomFieldDefinition.id).where(CustomFieldDefinition.key == key)):
        return
    session.add(CustomFieldDefinition(**SOURCE_FIELD))
    session.flush()


def step_customers(session: Session, rng: np.random.Generator, ctx: DemoContext) -> None:
    """Persons and organisations, external mostly and a few internal; Chinese and English names."""
    n = ctx.n_customers
    today = ctx.today
    ctx.start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=3 * 365)
    org = rng.random(n) < 0.15
    internal = org & (rng.random(n) < 0.12)
    chinese = rng.random(n) < 0.55
    kind = np.where(org, "business", "consumer").astype(object)
    internal_kinds = _pick(rng, list(INTERNAL), n)
    kind[internal] = internal_kinds[internal]
    sur, given = _pick(rng, CN_SURNAMES, n), _pick(rng, CN_GIVEN, n)
    first, last = _pick(rng, EN_FIRST, n), _pick(rng, EN_LAST, n)
    o1, o2 = _pick(rng, CN_ORG, n), _pick(rng, CN_ORG_SUFFIX, n)
    e1, e2 = _pick(rng, EN_ORG, n), _pick(rng, EN_ORG_SUFFIX, n)
    city = np.where(chinese, _pick(rng, CN_CITY, n), _pick(rng, EN_CITY, n))
    consent = rng.random((n, 4)) < np.asarray([0.55, 0.35, 0.45, 0.6])
    ntags = rng.choice(4, size=n, p=[0.45, 0.35, 0.15, 0.05])
    tag_pick = rng.integers(0, len(TAGS), (n, 3))
    # Acquisition spread over ~3 years, ending a few weeks before today.
    acquired = rng.integers(0, 3 * 365 - 21, n)
    agents = [ctx.user_ids[u] for u in ("agent", "agent2", "manager")]
    owner = np.asarray(agents)[rng.choice(3, size=n, p=[0.45, 0.4, 0.15])]
    owner[rng.random(n) < 0.1] = 0
    bargain = rng.random(n) < 0.05
    birth = rng.integers(1950, 2004, n)
    source = _pick(rng, [o["value"] for o in SOURCE_FIELD["options"]], n)
    # Seven in ten people gave their date of birth (in their birth year); organisations have
    # none. Drawn from a generator of its own, so the other data of a seed stay as they were.
    brng = np.random.default_rng(ctx.seed + 1946)
    gave_birthday = (brng.random(n) < 0.7) & ~org
    birth_day = brng.integers(0, 365, n)
    now = datetime.now(UTC)
    start_day = ctx.start.date()
    rows = []
    tags_rows: list[tuple[int, str]] = []
    for i in range(n):
        k = kind[i]
        if internal[i]:
            name = f"{o1[i]}{INTERNAL[k]}" if chinese[i] else f"{e1[i]} {INTERNAL[k]}"
        elif org[i]:
            name = f"{city[i]}{o1[i]}{o2[i]}" if chinese[i] else f"{e1[i]} {e2[i]}"
        else:
            name = f"{sur[i]}{given[i]}" if chinese[i] else f"{first[i]} {last[i]}"
        ext = f"DC{i + 1:07d}"
        email = (
            f"{ext.lower()}@example.cn"
            if chinese[i]
            else f"{first[i].lower()}.{last[i].lower()}.{i + 1}@example.com"
        )
        custom = {"source": source[i]}
        if not org[i]:
            custom["birth_year"] = int(birth[i])
        rows.append(
            {
                "external_id": ext,
                "name": name,
                "name_key": name.lower(),
                "party_type": "organisation" if org[i] else "person",
                "kind": k,
                "email": email,
                "phone": f"+86 13{i % 10}{i:08d}"[:16] if chinese[i] else f"+44 7{i:09d}"[:14],
                "address": None,
                "city": city[i],
                "country": COUNTRY[city[i]],
                "owner_id": int(owner[i]) or None,
                "acquired_on": start_day + timedelta(days=int(acquired[i])),
                "birth_date": (
                    date(int(birth[i]), 1, 1) + timedelta(days=int(birth_day[i]))
                    if gave_birthday[i]
                    else None
                ),
                "consent_email": bool(consent[i, 0]),
                "consent_sms": bool(consent[i, 1]),
                "consent_phone": bool(consent[i, 2]),
                "consent_profiling": bool(consent[i, 3]),
                "custom_fields": custom,
                "note": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        for t in set(tag_pick[i, : ntags[i]].tolist()):
            tags_rows.append((i, TAGS[t]))
        if bargain[i]:
            tags_rows.append((i, "price-sensitive"))
    _define_demo_fields(session)
    ids = _insert_returning(session, Customer.__table__, rows, ctx, "customers")
    tag_dicts = [{"customer_id": int(ids[i]), "tag": t} for i, t in dict.fromkeys(tags_rows)]
    _insert(session, CustomerTag.__table__, tag_dicts, ctx, "tags")
    ctx.customer_ids = ids
    ctx.customer_owner = owner
    ctx.customer_business = org
    ctx.customer_bargain = bargain
    ctx.acquired_day = acquired
    ctx.customer_zh = np.asarray(
        [_speaks_chinese(r["country"], r["custom_fields"]) for r in rows], dtype=bool
    )


def _speaks_chinese(country: str | None, custom_fields: dict) -> bool:
    """The customer's language is Chinese (``customer_locale``: stated, else in China)."""
    person = SimpleNamespace(country=country, custom_fields=custom_fields)
    return customer_locale(person, "en") == "zh_CN"  # type: ignore[arg-type]


def _lang(ctx: DemoContext, idx: int) -> int:
    """Index into a ``T`` for customer index ``idx``: 1 for Chinese, else 0 (English)."""
    return int(ctx.customer_zh is not None and bool(ctx.customer_zh[idx]))


# ---------------------------------------------------------------------------- orders
ORDER_CHANNELS = np.asarray(
    ["store", "web", "phone", "email", "chat", "partner", "other"], dtype=object
)
ORDER_CHANNEL_P = [0.4, 0.3, 0.1, 0.05, 0.08, 0.05, 0.02]
REFUND_REASONS: tuple[T, T] = (
    ("Customer not satisfied", "顾客不满意"),
    ("Damaged in delivery", "运输途中损坏"),
)


def simulate_purchases(
    rng: np.random.Generator, acquired: np.ndarray, horizon: int, business: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD-like purchase days: first purchase at acquisition, then Poisson(λ) with drop-out p.

    λ ~ Gamma(r=0.75, scale=1/60) per day (≈4.5 purchases a year on average, very unequal);
    organisations buy about twice as often. p ~ Beta(0.7, 3.5) (≈17 % chance to stop after each
    purchase). Returns (customer index, day) of every purchase, sorted by customer then day.
    """
    n = len(acquired)
    lam = rng.gamma(0.75, 1 / 60, n) * np.where(business, 2.0, 1.0)
    p = rng.beta(0.7, 3.5, n)
    t = acquired.astype(np.float64)
    cust = [np.arange(n)]
    days = [t.copy()]
    active = np.arange(n)
    for _ in range(400):
        drop = rng.random(len(active)) < p[active]
        active = active[~drop]
        if not len(active):
            break
        t[active] += rng.exponential(1.0 / lam[active])
        active = active[t[active] < horizon]
        cust.append(active.copy())
        days.append(t[active].copy())
    c = np.concatenate(cust)
    d = np.concatenate(days)
    order = np.lexsort((d, c))
    return c[order], np.floor(d[order]).astype(np.int64)


def _plant_bundles(
    rng: np.random.Generator, prod: np.ndarray, line_no: np.ndarray, pop: np.ndarray
) -> None:
    """Products bought together (what Insights › Market baskets should find): six pairs among
    the twenty most popular products; an order whose first line is one of a pair gets the other
    as its second line 60 % of the time. Own random stream, so the other draws do not move."""
    top = np.argsort(-pop)[:20]
    pairs = rng.choice(top, size=(6, 2), replace=False)
    partner = {int(a): int(b) for a, b in pairs}
    partner.update({int(b): int(a) for a, b in pairs})
    second = np.flatnonzero(line_no == 2)
    first_prod = prod[second - 1]
    take = rng.random(len(second)) < 0.6
    for i, fp, t in zip(second.tolist(), first_prod.tolist(), take.tolist(), strict=True):
        if t and fp in partner:
            prod[i] = partner[fp]


def step_orders(session: Session, rng: np.random.Generator, ctx: DemoContext) -> None:
    """Orders with 1–4 lines, discounts, refunds and some below-zero customers."""
    assert ctx.customer_ids is not None and ctx.product_price is not None
    horizon = 3 * 365 - 2
    business = ctx.customer_business
    cust, day = simulate_purchases(rng, ctx.acquired_day, horizon, business)
    n_orders = len(cust)
    secs = day * 86400 + rng.integers(8 * 3600, 21 * 3600, n_orders)
    chan = rng.choice(len(ORDER_CHANNELS), size=n_orders, p=ORDER_CHANNEL_P)
    # Lines: 1–4 per order; products by popularity; organisations buy in bulk.
    n_lines = rng.choice([1, 2, 3, 4], size=n_orders, p=[0.55, 0.25, 0.13, 0.07])
    line_order = np.repeat(np.arange(n_orders), n_lines)
    first = np.concatenate(([0], np.cumsum(n_lines)[:-1]))
    line_no = np.arange(len(line_order)) - np.repeat(first, n_lines) + 1
    n_prod = len(ctx.product_price)
    pop = 1.0 / np.arange(1, n_prod + 1) ** 0.8
    pop = rng.permutation(pop / pop.sum())
    prod = rng.choice(n_prod, size=len(line_order), p=pop)
    _plant_bundles(np.random.default_rng(ctx.seed + 4242), prod, line_no, pop)
    lc = cust[line_order]
    qty = np.where(business[lc], rng.integers(3, 25, len(lc)), rng.geometric(0.65, len(lc)))
    price = ctx.product_price[prod]
    cost = ctx.product_cost[prod]
    amount = qty * price
    bargain = ctx.customer_bargain[lc]
    pct = np.where(bargain, rng.uniform(0.35, 0.6, len(lc)), rng.uniform(0.05, 0.3, len(lc)))
    discounted = bargain | (rng.random(len(lc)) < 0.12)
    ldisc = np.where(discounted, np.floor(amount * pct), 0).astype(np.int64)
    net = amount - ldisc
    net_order = np.bincount(line_order, weights=net, minlength=n_orders).astype(np.int64)
    cost_order = np.bincount(line_order, weights=qty * cost, minlength=n_orders).astype(np.int64)
    coupon = rng.random(n_orders) < 0.05
    odisc = np.where(coupon, np.minimum(np.floor(net_order * 0.1), 2000), 0).astype(np.int64)
    gross = net_order - odisc
    # Refunds: 3 % of orders, 12 % for bargain hunters; 20–100 % of what was paid.
    refund_p = np.where(ctx.customer_bargain[cust], 0.12, 0.03)
    refunded_mask = (rng.random(n_orders) < refund_p) & (gross > 0)
    refund_amt = np.where(
        refunded_mask, np.floor(gross * rng.uniform(0.2, 1.0, n_orders)), 0
    ).astype(np.int64)
    # Same arithmetic as orders.totals.order_totals, in integer cents (checked by the tests).
    revenue = gross - refund_amt
    profit = revenue - cost_order
    recent = day > horizon - 7
    status = np.where(recent, _pick(rng, ["placed", "paid", "shipped"], n_orders), "completed")
    status = np.where(rng.random(n_orders) < 0.01, "cancelled", status).astype(object)
    times = _times(ctx, secs)
    now = datetime.now(UTC)
    rows = []
    ch = ORDER_CHANNELS[chan]
    for i, (g, r, c, pr, rf, od) in enumerate(
        zip(
            gross.tolist(),
            revenue.tolist(),
            cost_order.tolist(),
            profit.tolist(),
            refund_amt.tolist(),
            odisc.tolist(),
            strict=True,
        )  # fmt: skip
    ):
        rows.append(
            {
                "external_id": f"DO{i + 1:08d}",
                "customer_id": int(ctx.customer_ids[cust[i]]),
                "ordered_at": times[i],
                "status": status[i],
                "channel": ch[i],
                "discount": _money(od),
                "revenue": _money(r),
                "cost": _money(c),
                "profit": _money(pr),
                "refunded": _money(rf),
                "note": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        del g
    order_ids = _insert_returning(session, Order.__table__, rows, ctx, "orders")
    del rows
    oid = order_ids[line_order].tolist()
    line_rows = [
        {
            "order_id": o,
            "line_no": n,
            "product_id": p,
            "quantity": q,
            "unit_price": _money(pc),
            "unit_cost": _money(cc),
            "discount": _money(d),
        }
        for o, n, p, q, pc, cc, d in zip(
            oid,
            line_no.tolist(),
            ctx.product_ids[prod].tolist(),
            qty.tolist(),
            price.tolist(),
            cost.tolist(),
            ldisc.tolist(),
            strict=True,
        )  # fmt: skip
    ]
    _insert(session, OrderLine.__table__, line_rows, ctx, "order lines")
    n_line_rows = len(line_rows)
    del line_rows
    ref_idx = np.flatnonzero(refunded_mask)
    ref_secs = secs[ref_idx] + rng.integers(86400, 20 * 86400, len(ref_idx))
    ref_times = _times(ctx, ref_secs)
    refund_rows = [
        {
            "order_id": int(order_ids[j]),
            "refunded_at": ref_times[k],
            "amount": _money(int(refund_amt[j])),
            "line_id": None,
            "quantity": 0,
            "reason": (REFUND_REASONS[0] if k % 3 else REFUND_REASONS[1])[_lang(ctx, cust[j])],
        }
        for k, j in enumerate(ref_idx.tolist())
    ]
    _insert(session, Refund.__table__, refund_rows, ctx, "refunds")
    ctx.order_ids = order_ids
    ctx.order_customer = cust
    ctx.order_time = secs
    ctx.order_channel = ch
    ctx.summary.update(orders=n_orders, order_lines=n_line_rows, refunds=len(refund_rows))


# ------------------------------------------------------------------------ touchpoints
STAGE_CHANNELS = {
    "desire": (["ads", "web", "other"], [0.6, 0.3, 0.1]),
    "information": (["ads", "phone", "web"], [0.3, 0.3, 0.4]),
    "cognition": (["store", "web", "chat"], [0.4, 0.35, 0.25]),
    "selection": (["phone", "store", "chat", "email"], [0.3, 0.35, 0.2, 0.15]),
    "receipt": (["store", "phone", "email"], [0.4, 0.3, 0.3]),
    "payment": (["web", "store", "phone"], [0.5, 0.3, 0.2]),
    "after_sales": (["phone", "chat", "email", "store"], [0.4, 0.3, 0.2, 0.1]),
}
STAGE_OUTCOMES = {
    "order": (["purchase"], [1.0]),
    "after_sales": (["resolved", "escalated", "positive", "negative"], [0.55, 0.1, 0.2, 0.15]),
    "payment": (["positive", "neutral", "negative"], [0.5, 0.45, 0.05]),
}
DEFAULT_OUTCOMES = (["positive", "neutral", "negative", "no_response"], [0.35, 0.4, 0.1, 0.15])
ORDER_TO_TP = {"store": "store", "web": "web", "phone": "phone", "email": "email", "chat": "chat",
               "partner": "other", "other": "other"}  # fmt: skip
NOTES: dict[str, list[T]] = {
    "after_sales": [("Asked how to brew", "询问冲泡方法"),
                    ("Lid chipped, replacement sent", "盖子有缺口，已寄出替换件"),
                    ("Late delivery", "送货延迟")],
    "selection": [("Asked for bulk discount", "询问批量折扣"),
                  ("Wants engraving", "想要刻字"),
                  ("Compared with competitor", "与竞争对手做了比较")],
}  # fmt: skip


def step_touchpoints(session: Session, rng: np.random.Generator, ctx: DemoContext) -> None:
    """Touchpoints across the journey, denser around orders."""
    assert ctx.order_time is not None and ctx.customer_ids is not None
    n_c = len(ctx.customer_ids)
    oc, ot = ctx.order_customer, ctx.order_time
    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray | None]] = []
    # Before acquisition: desire and information.
    acq_secs = ctx.acquired_day * 86400 + 10 * 3600
    for stage, prob, lo, hi in (("desire", 0.6, 20, 60), ("information", 0.85, 2, 20)):
        m = np.flatnonzero(rng.random(n_c) < prob)
        secs = np.maximum(acq_secs[m] - rng.integers(lo * 86400, hi * 86400, len(m)), 0)
        parts.append((m, secs, stage, None))
    # Around each order.
    n_o = len(oc)
    parts.append((oc, ot, "order", ctx.order_channel))
    for stage, prob, lo, hi in (
        ("cognition", 0.15, -10, -1),
        ("selection", 0.3, -5, -1),
        ("receipt", 0.35, 1, 5),
        ("payment", 0.2, 0, 3),
        ("after_sales", 0.12, 5, 40),
    ):
        m = np.flatnonzero(rng.random(n_o) < prob)
        secs = np.maximum(ot[m] + rng.integers(lo * 86400, hi * 86400 + 1, len(m)), 0)
        parts.append((oc[m], secs, stage, None))
    horizon = (3 * 365 - 1) * 86400
    now = datetime.now(UTC)
    rows = []
    seq = 0
    owners = ctx.customer_owner
    for cidx, secs, stage, chans in parts:
        secs = np.minimum(secs, horizon)
        k = len(cidx)
        if chans is None:
            opts, p = STAGE_CHANNELS[stage]
            chans = np.asarray(opts, dtype=object)[rng.choice(len(opts), size=k, p=p)]
        else:
            chans = np.asarray([ORDER_TO_TP[c] for c in chans.tolist()], dtype=object)
        outs, op = STAGE_OUTCOMES.get(stage, DEFAULT_OUTCOMES)
        outcome = np.asarray(outs, dtype=object)[rng.choice(len(outs), size=k, p=op)]
        outbound = rng.random(k) < (0.7 if stage in ("desire", "after_sales") else 0.3)
        notes = NOTES.get(stage)
        note_pick = rng.integers(0, len(notes), k) if notes else None
        times = _times(ctx, secs)
        for j in range(k):
            seq += 1
            ch = chans[j]
            personal = ch in ("phone", "store", "chat", "email")
            rows.append(
                {
                    "external_id": f"DT{seq:09d}",
                    "customer_id": int(ctx.customer_ids[cidx[j]]),
                    "occurred_at": times[j],
                    "channel": ch,
                    "stage": stage,
                    "direction": "outbound" if outbound[j] else "inbound",
                    "outcome": outcome[j],
                    "owner_id": (int(owners[cidx[j]]) or None) if personal else None,
                    "note": (
                        notes[note_pick[j]][_lang(ctx, cidx[j])]
                        if notes is not None and j % 2 == 0
                        else None
                    ),
                    "created_at": now,
                    "updated_at": now,
                }
            )
    _insert(session, Touchpoint.__table__, rows, ctx, "touchpoints")
    ctx.summary["touchpoints"] = len(rows)
    assert set(STAGES) >= {r for r in STAGE_CHANNELS} and set(CHANNELS) >= {"ads", "other"}


STEPS: list[Step] = [step_users, step_products, step_customers, step_orders, step_touchpoints]
"""The demo pipeline; later domains append their own step (complaints, surveys, loyalty…)."""


def domain_steps() -> list[Step]:
    """Steps contributed by later capabilities, run after the core ones in this order."""
    from retento.complaints.demo import step_complaints
    from retento.journey.demo import step_journey
    from retento.loyalty.demo import step_loyalty
    from retento.retention.demo import step_retention
    from retento.scoring.demo import step_scoring
    from retento.surveys.demo import step_surveys

    # Scoring first: complaints pick SLA policies and surveys pick segments by value class.
    # Journey last, on its own random stream: it reads the touchpoints and survey questions.
    return [step_scoring, step_complaints, step_surveys, step_loyalty, step_retention, step_journey]


# --------------------------------------------------------------------------- public API
def business_tables() -> list[Table]:
    """Tables holding business data (everything depending on customers or products, and tables
    that say so with ``info={"business_data": True}``: counters over such rows without a foreign
    key), children first."""
    from retento.models import import_all_models

    import_all_models()
    roots = {"customers", "products"}
    deps = set(roots)
    changed = True
    tables = Base.metadata.sorted_tables
    while changed:
        changed = False
        for t in tables:
            if t.name not in deps and any(fk.column.table.name in deps for fk in t.foreign_keys):
                deps.add(t.name)
                changed = True
    deps |= {t.name for t in tables if t.info.get("business_data")}
    return [t for t in reversed(tables) if t.name in deps]


def reset_business_data(session: Session) -> None:
    """Delete customers, products and everything hanging off them (users and audit stay)."""
    from sqlalchemy import inspect

    # The counters are deleted here, in this transaction: numbers are then reserved in it too.
    session.info[IN_TRANSACTION_COUNTERS] = True
    conn = session.connection()
    present = set(inspect(conn).get_table_names())  # models may be ahead of the migrations
    for t in business_tables():
        if t.name in present:
            conn.execute(delete(t))
    session.expire_all()


def has_customers(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Customer).limit(1)))


def generate(
    session: Session,
    *,
    customers: int = 2000,
    seed: int = 42,
    today: date | None = None,
    progress: Progress | None = None,
    actor: User | None = None,
    steps: list[Step] | None = None,
) -> dict[str, Any]:
    """Run every demo step in the caller's transaction; returns counts per entity."""
    if customers < 1:
        from retento.core.errors import InvalidInput

        raise InvalidInput("--customers must be at least 1.", field="customers")
    ctx = DemoContext(
        n_customers=customers,
        seed=seed,
        today=today or date.today(),
        progress=progress or (lambda _s, _f: None),
    )
    rng = np.random.default_rng(seed)
    session.info[IN_TRANSACTION_COUNTERS] = True  # one transaction writes the whole data set
    session.flush()
    for step in steps or [*STEPS, *domain_steps()]:
        step(session, rng, ctx)
    ctx.summary.update(customers=customers, products=len(CATALOGUE), seed=seed)
    record(session, actor, "create", "demo", None, None, dict(ctx.summary))
    session.flush()
    session.expire_all()
    return ctx.summary
