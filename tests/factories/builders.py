from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.security import hash_password
from retento.customers.models import Customer
from retento.orders.models import Order, OrderLine
from retento.orders.service import recompute
from retento.products.models import Product
from retento.touchpoints.models import Touchpoint

_seq = itertools.count(1)
# The test users' hash is argon2id at the lowest cost (1 pass, 1 MiB): a login verifies it in
# ~1 ms instead of ~180 ms at the production parameters, and the suite logs in thousands of
# times. verify() reads the parameters from the hash, so the login path is the real one;
# hash_password (new passwords, ``make_user(password=...)``) keeps the production cost.
_PW = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("ledger-Sesame-42")


def make_user(session: Session, **over) -> User:
    n = next(_seq)
    values = {
        "username": f"user{n}",
        "role": "agent",
        "display_name": f"User {n}",
        "password_hash": _PW,
    }
    values.update(over)
    if "password" in values:
        values["password_hash"] = hash_password(values.pop("password"))
    user = User(**values)
    session.add(user)
    session.flush()
    return user


def make_customer(session: Session, **over) -> Customer:
    n = next(_seq)
    values = {
        "name": f"Customer {n}",
        "kind": "consumer",
        "party_type": "person",
        "external_id": f"C{n:06d}",
        # Agreed to be contacted by SMS and phone (so survey distributions invite them); e-mail
        # consent stays opt-in per test, as e-mail sending depends on it.
        "consent_sms": True,
        "consent_phone": True,
    }
    values.update(over)
    values.setdefault("name_key", values["name"].lower())
    c = Customer(**values)
    session.add(c)
    session.flush()
    return c


def make_product(session: Session, **over) -> Product:
    n = next(_seq)
    values = {
        "name": f"Product {n}",
        "external_id": f"P{n:05d}",
        "unit_price": Decimal("10.00"),
        "unit_cost": Decimal("6.00"),
        "category": "general",
    }
    values.update(over)
    p = Product(**values)
    session.add(p)
    session.flush()
    return p


def make_order(session: Session, customer: Customer | None = None, *, lines=None, **over) -> Order:
    n = next(_seq)
    customer = customer or make_customer(session)
    values = {
        "external_id": f"O{n:07d}",
        "customer_id": customer.id,
        "ordered_at": datetime(2025, 3, 1, 12, tzinfo=UTC),
        "discount": Decimal("0.00"),
    }
    values.update(over)
    o = Order(**values)
    if lines is None:
        p = make_product(session)
        lines = [(p, 2)]
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
    session.add(o)
    session.flush()
    return o


def make_touchpoint(session: Session, customer: Customer | None = None, **over) -> Touchpoint:
    customer = customer or make_customer(session)
    values = {
        "customer_id": customer.id,
        "occurred_at": datetime(2025, 3, 2, 9, tzinfo=UTC),
        "channel": "phone",
        "stage": "information",
        "direction": "inbound",
        "outcome": "neutral",
    }
    values.update(over)
    t = Touchpoint(**values)
    session.add(t)
    session.flush()
    return t
