"""A small shop for the Insights tests: products in two categories, customers with repeated
orders that follow patterns (bread with butter; tea, then later cake), and a scoring run whose
score rows carry RFM, CLV and churn risk."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from retento.scoring.models import CustomerScore, ScoreRun
from tests.factories import make_customer, make_order, make_product

AS_OF = datetime(2025, 12, 31, tzinfo=UTC)


def build_shop(session: Session, customers: int = 40, seed: int = 1) -> dict:
    rng = random.Random(seed)
    products = {
        name: make_product(session, name=name, category=cat, unit_price=Decimal(price))
        for name, cat, price in (
            ("Bread", "bakery", "3.00"),
            ("Butter", "dairy", "2.50"),
            ("Tea", "drinks", "6.00"),
            ("Cake", "bakery", "12.00"),
            ("Milk", "dairy", "1.50"),
            ("Jam", "pantry", "4.00"),
        )
    }
    p = products
    people = []
    score_rows = []
    run = ScoreRun(
        model="bgnbd", status="succeeded", as_of=AS_OF, customers_scored=customers, report={}
    )
    session.add(run)
    session.flush()
    for i in range(customers):
        c = make_customer(session, name=f"Shopper {i}")
        people.append(c)
        loyal = i % 3 != 0
        n_orders = rng.randint(4, 8) if loyal else 1
        day = date(2025, 1, 5) + timedelta(days=rng.randint(0, 30))
        revenue = Decimal("0.00")
        last = day
        for k in range(n_orders):
            if k % 2 == 0:
                lines = [(p["Bread"], 1), (p["Butter"], 1)]
                if rng.random() < 0.3:
                    lines.append((p["Milk"], 2))
            else:
                lines = [(p["Tea"], 1)] if k == 1 else [(p["Cake"], 1), (p["Jam"], 1)]
            when = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
            o = make_order(session, c, lines=lines, ordered_at=when)
            revenue += o.revenue
            last = day
            day = day + timedelta(days=rng.randint(10, 40))
            if day >= AS_OF.date():
                break
        score_rows.append(
            {
                "run_id": run.id,
                "customer_id": c.id,
                "order_count": n_orders,
                "first_order_on": date(2025, 1, 5),
                "last_order_on": last,
                "revenue": revenue,
                "profit": revenue / 3,
                "frequency": n_orders - 1,
                "recency_weeks": 1.0,
                "t_weeks": 50.0,
                "monetary": revenue / n_orders,
                "clv": revenue * Decimal("1.5") if loyal else Decimal("5.00"),
                "churn_risk": 0.1 if loyal else 0.8,
                "value_class": "major" if loyal else "small",
                "label": "other",
                "loyalty_stage": "regular" if loyal else "new",
                "lapsed": not loyal,
            }
        )
    session.execute(insert(CustomerScore), score_rows)
    session.flush()
    return {"products": products, "customers": people, "run": run}
