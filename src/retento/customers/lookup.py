"""Customers named in a list filter of another domain (orders, touchpoints): by part of the name
or the external id, or by customer number."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from retento.customers.models import Customer


def customer_match(text: str) -> Select:
    """Ids of customers whose number is ``text``, or whose name or external id contains it."""
    text = text.strip()
    cleaned = text.lower().replace("\\", "").replace("%", "").replace("_", "\\_")
    like = f"%{cleaned}%"
    conditions = [
        func.lower(Customer.name).like(like, escape="\\"),
        func.lower(Customer.external_id).like(like, escape="\\"),
    ]
    number = text.lstrip("#")
    if number.isascii() and number.isdigit() and len(number) <= 12:
        conditions.append(Customer.id == int(number))
    return select(Customer.id).where(or_(*conditions))
