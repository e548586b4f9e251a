"""Property tests (Hypothesis): money parsing, order totals, and refund sequences on orders.

Invariants: money is a Decimal with exactly two places and is never changed silently (an
amount with more places is refused, not rounded); totals are the sum of the lines minus the
discounts; refunded never exceeds what was paid and returned units never exceed the units
ordered, whatever sequence of refunds is asked for.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retento.core.errors import InvalidInput
from retento.core.money import CENT, MAX_MONEY, ZERO, to_money
from retento.orders import service
from retento.orders.schemas import OrderUpdate, RefundCreate
from retento.orders.totals import LineFigures, RefundFigures, order_totals
from tests.factories import make_customer, make_order, make_product

cents = st.decimals(min_value=-MAX_MONEY, max_value=MAX_MONEY, places=2)
prices = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("10000.00"), places=2)


def two_places(d: Decimal) -> bool:
    return isinstance(d, Decimal) and d.as_tuple().exponent == -2


# --- money parsing -----------------------------------------------------------------------------


@given(cents)
def test_two_place_amounts_parse_to_themselves(d):
    for value in (d, str(d), format(d, "f"), f"  {d}  "):
        parsed = to_money(value)
        assert parsed == d and two_places(parsed)


@given(st.integers(min_value=-999_999_999_999, max_value=999_999_999_999))
def test_whole_numbers_get_two_places(n):
    parsed = to_money(n)
    assert parsed == n and two_places(parsed)


def _as_decimal(value) -> Decimal | None:
    """What the input means as a number, or None if it is not one."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        return None


@given(
    st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.text(max_size=30),
        st.from_regex(r"\A-?[0-9]{1,14}(\.[0-9]{0,6})?\Z"),
    )
)
def test_an_amount_is_never_changed_silently(value):
    """Either refused with ValueError (not a number, too large, more than two places) or
    returned as the same number with two places; nothing else (no rounding, no 500)."""
    try:
        parsed = to_money(value)
    except ValueError:
        return
    assert two_places(parsed) and abs(parsed) <= MAX_MONEY
    assert parsed == _as_decimal(value)


@given(st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=3))
def test_a_third_decimal_place_is_refused_not_rounded(d):
    if d == d.quantize(CENT):
        assert to_money(d) == d
    else:
        with pytest.raises(ValueError):
            to_money(d)


@given(st.sampled_from([True, False, None, [], {}, object()]))
def test_non_numbers_are_refused(value):
    with pytest.raises(ValueError):
        to_money(value)


# --- order totals (pure) -----------------------------------------------------------------------


@st.composite
def orders(draw):
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        q = draw(st.integers(1, 1000))
        price = draw(prices)
        cost = draw(prices)
        discount = draw(st.decimals(min_value=ZERO, max_value=q * price, places=2))
        lines.append(LineFigures(q, price, cost, discount))
    net = sum((ln.quantity * ln.unit_price - ln.discount for ln in lines), ZERO)
    order_discount = draw(st.decimals(min_value=ZERO, max_value=net, places=2))
    return lines, order_discount


@given(orders(), st.lists(st.tuples(prices, prices), max_size=5))
def test_totals_are_lines_minus_discounts_minus_refunds(order, refunds):
    lines, order_discount = order
    figures = [RefundFigures(a, c) for a, c in refunds]
    t = order_totals(lines, order_discount, figures)
    net = sum((ln.quantity * ln.unit_price - ln.discount for ln in lines), ZERO)
    assert t.gross == net - order_discount and t.gross >= 0
    assert t.refunded == sum((a for a, _ in refunds), ZERO)
    assert t.revenue == t.gross - t.refunded
    assert t.cost == sum((ln.quantity * ln.unit_cost for ln in lines), ZERO) - sum(
        (c for _, c in refunds), ZERO
    )
    assert t.profit == t.revenue - t.cost
    assert all(two_places(x) for x in (t.gross, t.revenue, t.cost, t.profit, t.refunded))


# --- refund sequences through the service (SQLite and PostgreSQL) ------------------------------

refund_requests = st.lists(
    st.tuples(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("80.00"), places=2),
        st.sampled_from([None, 0, 1]),  # no line, or the index of the line returned from
        st.integers(0, 3),  # units returned
    ),
    min_size=1,
    max_size=8,
)

DB_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@DB_SETTINGS
@given(
    quantities=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    unit_prices=st.tuples(prices, prices),
    requests=refund_requests,
)
def test_refund_sequences_keep_refunded_within_paid(db, users, quantities, unit_prices, requests):
    actor = users["admin"]
    products = [
        make_product(db, unit_price=p, unit_cost=(p / 2).quantize(CENT)) for p in unit_prices
    ]
    o = make_order(db, make_customer(db), lines=list(zip(products, quantities, strict=True)))
    db.commit()  # a refused refund rolls back to here, not further
    gross = o.revenue
    lines = list(o.lines)
    returned = [0, 0]
    refunded = ZERO
    for amount, line_index, units in requests:
        line = lines[line_index] if line_index is not None else None
        # The model: what the service must accept, computed from the requests alone.
        fits = amount <= gross - refunded and (
            (line is None and units == 0)
            or (line is not None and units <= line.quantity - returned[line_index])
        )
        data = RefundCreate(amount=amount, line_id=line.id if line else None, quantity=units)
        try:
            service.add_refund(db, o.id, data, actor=actor)
        except InvalidInput:
            db.rollback()
            assert not fits
        else:
            db.commit()
            assert fits
            refunded += amount
            if line is not None:
                returned[line_index] += units
        db.refresh(o)
        assert o.refunded == refunded == sum((r.amount for r in o.refunds), ZERO)
        assert ZERO <= o.refunded <= gross and o.revenue == gross - o.refunded
        for i, ln in enumerate(lines):
            units_back = sum(r.quantity for r in o.refunds if r.line_id == ln.id)
            assert units_back == returned[i] <= ln.quantity
        assert all(two_places(x) for x in (o.revenue, o.cost, o.profit, o.refunded))


@DB_SETTINGS
@given(first=prices, refund_part=st.integers(1, 100), new_discount=prices)
def test_a_later_discount_cannot_push_refunds_past_what_was_paid(
    db, users, first, refund_part, new_discount
):
    actor = users["admin"]
    p = make_product(db, unit_price=first + Decimal("1.00"), unit_cost=ZERO)
    o = make_order(db, make_customer(db), lines=[(p, 1)])
    amount = max(CENT, (o.revenue * refund_part / 100).quantize(CENT))
    service.add_refund(db, o.id, RefundCreate(amount=amount), actor=actor)
    db.commit()
    gross_line = o.lines[0].net_amount
    try:
        service.update_order(db, o.id, OrderUpdate(discount=new_discount), actor=actor)
    except InvalidInput as exc:
        assert exc.field == "discount"
        assert new_discount > gross_line - amount
        db.rollback()
        return
    assert gross_line - new_discount >= amount
    assert o.refunded == amount and o.revenue == gross_line - new_discount - amount >= 0
