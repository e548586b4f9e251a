"""Property tests: random sequences of earn, spend, refund, expire, adjust, hold keep the ledger
consistent (balance = postings, journals sum to zero, lots within 0..points, no balance below
zero unless the refund policy allows it)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retento.auth.models import User
from retento.core.db import utcnow
from retento.core.errors import Conflict
from retento.loyalty import ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.expiry import run_expiry
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate, RefundCreate
from retento.products.models import Product
from tests.factories import make_customer, make_product, make_user
from tests.factories.loyalty import make_programme

op = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 300), st.integers(0, 400)),
    st.tuples(st.just("spend"), st.integers(1, 250), st.just(0)),
    st.tuples(st.just("refund"), st.integers(1, 100), st.integers(0, 50)),
    st.tuples(st.just("expire"), st.integers(0, 400), st.just(0)),
    st.tuples(st.just("adjust"), st.integers(-100, 100), st.just(0)),
    st.tuples(st.just("hold"), st.integers(1, 100), st.integers(0, 2)),
)


@pytest.fixture
def setup_ids(session_factory, policy) -> tuple[int, int]:
    """The programme with the refund policy, an admin and a product: made once per test, not
    once per example (the programme's 64 system accounts are made one savepoint each). Every
    example then starts from them, inside a SAVEPOINT rolled back after it."""
    s = session_factory()
    try:
        make_programme(s, refund_policy=policy, negative_limit=50, expiry_days=200)
        ids = make_user(s, role="admin").id, make_product(s, unit_price=Decimal("1.00")).id
        s.commit()
        return ids
    finally:
        s.close()


@pytest.mark.parametrize("policy", ["negative", "cap", "debt"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=25))
def test_random_sequences_keep_the_ledger_consistent(
    session_factory, backend, setup_ids, policy, ops
):
    s = session_factory()
    nested = s.begin_nested()
    try:
        admin, prod = s.get(User, setup_ids[0]), s.get(Product, setup_ids[1])
        c = make_customer(s)
        ledger.wallet(s, c.id)  # enrolled
        now = utcnow()
        placed, holds = [], []
        for kind, a, b in ops:
            try:
                if kind == "earn":
                    o = orders.create_order(
                        s,
                        OrderCreate(
                            customer_id=c.id,
                            ordered_at=now - timedelta(days=b),
                            lines=[{"product_id": prod.id, "quantity": a}],
                        ),
                        actor=admin,
                    )
                    placed.append(o)
                elif kind == "spend":
                    service.redeem(
                        s,
                        c.id,
                        points=a,
                        actor=admin,
                        order_id=placed[-1].id if placed and a % 2 else None,
                    )
                elif kind == "refund" and placed:
                    o = placed[b % len(placed)]
                    amt = min(Decimal(a), o.revenue)
                    if amt > 0:
                        orders.add_refund(s, o.id, RefundCreate(amount=amt), actor=admin)
                elif kind == "expire":
                    run_expiry(s, now + timedelta(days=a))
                elif kind == "adjust" and a != 0:
                    service.adjust(s, c.id, a, actor=admin, reason="prop")
                elif kind == "hold":
                    if b == 0 or not holds:
                        holds.append(service.reserve(s, c.id, a, actor=admin))
                    else:
                        h = holds.pop()
                        (service.confirm_hold if b == 1 else service.void_hold)(
                            s, h.id, actor=admin
                        )
            except Conflict:
                pass  # not enough points / nothing to take: refused, nothing half-written
            s.flush()
            s.expire_all()
            rep = check_ledger(s)
            assert rep.ok, rep.problems
            w = ledger.get_wallet(s, c.id)
            if w is not None:
                floor = {"cap": 0, "negative": -50}.get(policy)
                if floor is not None:
                    assert w.balance >= floor
    finally:
        nested.rollback()
        s.close()
