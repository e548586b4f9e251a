"""A real Retento server on a free local port, over a temporary SQLite database with sample data.

Used by the browser tests and by ``docs/screenshots/make_screenshots.py``.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import uvicorn

from retento.app import create_app
from retento.core.config import Settings
from retento.core.db import make_engine, make_session_factory, transaction
from retento.core.migrate import upgrade
from retento.customers.schemas import ContactIn, CustomerCreate
from retento.customers.service import create_customer
from tests.factories import make_order, make_product, make_touchpoint, make_user

PASSWORD = "ledger-Sesame-42"

BROWSER_TIMEOUT_MS = 30_000
"""Default wait of every browser test page: CI runs them beside the rest of the suite on two
cores, where the 360 page's charts (ECharts, ~1 MB) took longer than 10 s to draw."""

CUSTOMERS = [
    (
        "Acme Trading Ltd",
        "organisation",
        "business",
        "acme@example.com",
        "Shanghai",
        ["wholesale", "key-account"],
    ),
    ("上海华联超市", "organisation", "distributor", "hualian@example.cn", "上海", ["retail"]),
    ("王芳", "person", "consumer", "wang.fang@example.cn", "北京", ["vip"]),
    ("Li Wei", "person", "consumer", "li.wei@example.com", "Shenzhen", []),
    (
        "Northwind Supplies",
        "organisation",
        "supplier",
        "orders@northwind.example",
        "Hangzhou",
        ["packaging"],
    ),
    ("华东分公司", "organisation", "branch", None, "南京", ["internal"]),
    ("Maria Rossi", "person", "consumer", "maria.rossi@example.it", "Milan", ["newsletter"]),
    ("北京新源电子", "organisation", "business", "sales@xinyuan.example.cn", "北京", ["wholesale"]),
    ("Customer Service Dept.", "organisation", "department", None, "Shanghai", ["internal"]),
    ("陈静", "person", "consumer", "chen.jing@example.cn", "广州", ["newsletter", "vip"]),
    (
        "Globex Corporation",
        "organisation",
        "business",
        "buyer@globex.example",
        "Suzhou",
        ["key-account"],
    ),
    ("张伟", "person", "consumer", None, "成都", []),
]


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str) -> dict[str, int]:
    """Migrate ``url`` and fill it with users, products, customers, orders and touchpoints."""
    upgrade(url)
    engine = make_engine(url)
    rng = random.Random(7)
    ids: dict[str, int] = {}
    with transaction(make_session_factory(engine)) as s:
        admin = make_user(
            s, username="admin", role="admin", display_name="Ada Admin", password=PASSWORD
        )
        manager = make_user(
            s, username="manager", role="manager", display_name="Mia Manager", password=PASSWORD
        )
        agent = make_user(
            s, username="agent", role="agent", display_name="Alex Agent", password=PASSWORD
        )
        make_user(
            s, username="analyst", role="analyst", display_name="Ann Analyst", password=PASSWORD
        )
        products = [
            make_product(s, name=name, unit_price=Decimal(price), unit_cost=Decimal(cost))
            for name, price, cost in (
                ("Espresso machine", "499.00", "310.00"),
                ("Coffee beans 1 kg", "24.90", "11.00"),
                ("Milk frother", "79.00", "41.00"),
                ("Service plan (1 year)", "120.00", "35.00"),
                ("Paper cups (1000)", "38.50", "21.00"),
            )
        ]
        now = datetime(2025, 6, 30, 12, tzinfo=UTC)
        for n, (name, party, kind, email, city, tags) in enumerate(CUSTOMERS):
            owner = agent if n % 3 == 0 else manager
            c = create_customer(
                s,
                CustomerCreate(
                    name=name,
                    party_type=party,
                    kind=kind,
                    email=email,
                    phone=f"+86 21 5555 {1000 + n}",
                    city=city,
                    country="CN" if n % 4 else "US",
                    external_id=f"CUST-{n + 1:04d}",
                    owner_id=owner.id,
                    tags=tags,
                    consent_email=n % 2 == 0,
                    # SMS consent for all: survey links may be sent to every customer here
                    consent_sms=True,
                    consent_phone=True,
                    acquired_on=(now - timedelta(days=500 + 20 * n)).date(),
                    contacts=[
                        ContactIn(
                            name="Zhao Min" if n % 2 else "John Carter",
                            role="Buyer",
                            email=f"contact{n}@example.com",
                            is_primary=True,
                        )
                    ]
                    if party == "organisation"
                    else [],
                ),
                actor=admin,
            )
            ids[name] = c.id
            for k in range(rng.randint(3, 14)):
                at = now - timedelta(days=rng.randint(1, 540), hours=rng.randint(0, 10))
                lines = [
                    (rng.choice(products), rng.randint(1, 4)) for _ in range(rng.randint(1, 3))
                ]
                make_order(
                    s,
                    c,
                    lines=lines,
                    ordered_at=at,
                    channel=rng.choice(["store", "web", "phone"]),
                    external_id=f"ORD-{n + 1:03d}-{k + 1:03d}",
                )
            for _ in range(rng.randint(2, 5)):
                make_touchpoint(
                    s,
                    c,
                    occurred_at=now - timedelta(days=rng.randint(1, 400)),
                    channel=rng.choice(["phone", "email", "web", "store", "chat"]),
                    stage=rng.choice(["information", "selection", "after_sales", "payment"]),
                    outcome=rng.choice(["positive", "neutral", "resolved", "purchase"]),
                    owner_id=owner.id,
                    note=rng.choice(
                        ["Asked about delivery times.", "Follow-up on the last order.", None]
                    ),
                )
        ids["admin"], ids["manager"], ids["agent"] = admin.id, manager.id, agent.id
    engine.dispose()
    return ids


class LiveServer:
    """Run the app under uvicorn in a background thread (``with LiveServer(db_path) as srv``)."""

    def __init__(self, db_path: Path):
        self.url_db = f"sqlite:///{db_path}"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ids: dict[str, int] = {}

    def __enter__(self) -> LiveServer:
        self.ids = seed(self.url_db)
        app = create_app(
            Settings(database_url=self.url_db, run_scheduler=False, secret_key="live-test")
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_js(page, expression: str, timeout: float = 10_000) -> None:
    """Wait until the JavaScript ``expression`` is truthy on ``page``.

    Playwright's ``wait_for_function`` compiles its predicate with ``eval`` inside the page,
    which the Content-Security-Policy (no 'unsafe-eval') forbids; ``evaluate`` runs through the
    DevTools protocol, which the policy does not govern, so poll with it instead.
    """
    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression):
                return
        except Exception:  # the page is navigating: try again
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} ms for: {expression}")
        page.wait_for_timeout(50)
