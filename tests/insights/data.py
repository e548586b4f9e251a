"""A small shop for the Insights tests: products in two categories, customers with repeated
orders that follow patterns (bread with butter; tea, then later cake), and a scoring run whose
score rows carry RFM, CLV and churn risk. And the months of orders, complaints and NPS answers
the forecasts read (``build_months``)."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.orm import Session

from retento.customers.models import Customer
from retento.orders.models import Order, OrderLine
from retento.orders.service import recompute
from retento.products.models import Product
from retento.scoring.models import CustomerScore, ScoreRun
from retento.surveys import service as survey_service
from retento.surveys.models import SurveyAnswer, SurveyResponse
from retento.surveys.schemas import SurveyFromTemplate
from tests.factories import make_customer, make_order, make_product
from tests.factories.builders import _seq
from tests.factories.complaints import make_complaint
from tests.shared_world import make_users

AS_OF = datetime(2025, 12, 31, tzinfo=UTC)


def _customer(name: str) -> Customer:
    """What ``tests.factories.make_customer`` makes, left to the one flush of all of them."""
    n = next(_seq)
    return Customer(
        name=name,
        name_key=name.lower(),
        kind="consumer",
        party_type="person",
        external_id=f"C{n:06d}",
        consent_sms=True,
        consent_phone=True,
    )


def _order(customer: Customer, lines: list[tuple[Product, int]], when: datetime) -> Order:
    """What ``tests.factories.make_order`` makes, left to the one flush of all of them."""
    n = next(_seq)
    o = Order(
        external_id=f"O{n:07d}",
        customer_id=customer.id,
        ordered_at=when,
        discount=Decimal("0.00"),
    )
    o.lines = [
        OrderLine(
            line_no=i + 1,
            product_id=p.id,
            quantity=q,
            unit_price=p.unit_price,
            unit_cost=p.unit_cost,
            discount=Decimal("0.00"),
        )
        for i, (p, q) in enumerate(lines)
    ]
    recompute(o)
    return o


def build_shop(session: Session, customers: int = 40, seed: int = 1) -> dict:
    """The shop, written in one flush per table (products, customers, orders with their lines,
    score rows): the same rows the factories' one flush per object wrote, in a fraction of the
    round trips."""
    rng = random.Random(seed)
    products = {}
    for name, cat, price in (
        ("Bread", "bakery", "3.00"),
        ("Butter", "dairy", "2.50"),
        ("Tea", "drinks", "6.00"),
        ("Cake", "bakery", "12.00"),
        ("Milk", "dairy", "1.50"),
        ("Jam", "pantry", "4.00"),
    ):
        n = next(_seq)
        products[name] = Product(
            name=name,
            external_id=f"P{n:05d}",
            unit_price=Decimal(price),
            unit_cost=Decimal("6.00"),
            category=cat,
        )
    p = products
    run = ScoreRun(
        model="bgnbd", status="succeeded", as_of=AS_OF, customers_scored=customers, report={}
    )
    people = [_customer(f"Shopper {i}") for i in range(customers)]
    session.add_all([*products.values(), run, *people])
    session.flush()
    orders = []
    score_rows = []
    for i, c in enumerate(people):
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
            o = _order(c, lines, when)
            orders.append(o)
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
    session.add_all(orders)
    session.flush()
    session.execute(insert(CustomerScore), score_rows)
    session.flush()
    return {"products": products, "customers": people, "run": run}


# The forecasts' months, counted back from today.
TODAY = datetime.now(UTC).date()
MONTHS = 30


def month_start(months_back: int) -> date:
    y, m = TODAY.year, TODAY.month - months_back
    while m < 1:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def build_months(db) -> dict:
    """The forecasts' data (tests/insights/test_forecast.py): 30 complete months (and the
    current one) of orders with a yearly season and growth, a few complaints a month, and NPS
    answers in most months; and the users."""
    users = make_users(db)
    db.commit()
    product = make_product(db, unit_price=Decimal("10.00"), unit_cost=Decimal("4.00"))
    customers = [make_customer(db, name=f"Customer {i}") for i in range(12)]
    survey = survey_service.create_from_template(
        db, SurveyFromTemplate(template="standard"), actor=users["manager"]
    )
    nps_q = next(q for q in survey.questions if q.qtype == "nps")
    for back in range(MONTHS, -1, -1):
        start = month_start(back)
        season = 1 + 0.5 * math.sin(2 * math.pi * start.month / 12)
        n_orders = max(1, round((3 + (MONTHS - back) * 0.1) * season))
        for i in range(n_orders):
            when = datetime(start.year, start.month, 2 + (i * 5) % 25, 12, tzinfo=UTC)
            if when.date() >= TODAY:
                continue
            # Customers join over time: a new one every few months.
            c = customers[min(len(customers) - 1, i + (MONTHS - back) // 4) % len(customers)]
            make_order(db, c, ordered_at=when, lines=[(product, 1 + i % 3)])
        for i in range(back % 3 + 1):
            when = datetime(start.year, start.month, 3 + 7 * i, 9, tzinfo=UTC)
            if when.date() < TODAY:
                make_complaint(
                    db, actor=users["manager"], customer_id=customers[i].id, received_at=when
                )
        if back % 5 != 4:  # some months without answers: carried forward
            for i, score in enumerate((10, 9, 6 if back % 2 else 8)):
                when = datetime(start.year, start.month, 5 + i, 10, tzinfo=UTC)
                if when.date() >= TODAY:
                    continue
                r = SurveyResponse(
                    survey_id=survey.id,
                    customer_id=customers[i].id,
                    channel="phone",
                    status="completed",
                    completed_at=when,
                )
                db.add(r)
                db.flush()
                db.add(SurveyAnswer(response_id=r.id, question_id=nps_q.id, number=score))
    db.commit()
    return {"customers": customers}
