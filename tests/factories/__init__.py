"""Builders for test data: ``make_x(session, **overrides)`` returns a flushed ORM object."""

from tests.factories.builders import (
    make_customer,
    make_order,
    make_product,
    make_touchpoint,
    make_user,
)

__all__ = ["make_customer", "make_order", "make_product", "make_touchpoint", "make_user"]
