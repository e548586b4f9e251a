from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import insert

from retento.customers.models import Customer
from retento.orders.models import Order
from tests.factories import make_product
from tests.shared_world import World, make_users, world_of

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def population(request, db, users):
    """120 customers with heterogeneous BG/NBD-like buying over 2 years, 3 with negative profit.

    In a shared world (``tests.shared_world``) whose data has a population: that one."""
    world = world_of(request)
    if world is not None and "population" in world.data:
        return world.data["population"]
    return insert_population(db)


def build_scored(session, actor: str | None = "manager", **run) -> dict:
    """The users, the population and one scoring run over it by ``actor`` (as of AS_OF, 26
    weeks held out unless ``run`` says otherwise): a world's data (``world_scored``)."""
    from retento.scoring import service
    from retento.scoring.schemas import ScoreRunCreate

    users = make_users(session)
    session.commit()
    population = insert_population(session)
    params = ScoreRunCreate(as_of=AS_OF, **({"holdout_weeks": 26} | run))
    scored = service.run_scoring(session, params, actor=users[actor] if actor else None)
    session.commit()
    assert scored.status == "succeeded", scored.error
    return {"population": population, "run_id": scored.id}


@pytest.fixture(scope="module")
def world_scored():
    """``build_scored``'s data, built once per module and backend; each test that takes it runs
    in a SAVEPOINT on it (the module imports ``session_factory`` and ``users`` from
    ``tests.shared_world``)."""
    with World.for_module(build_scored) as world:
        yield world


def insert_population(db, n_customers: int = 120, prefix: str = "POP"):
    """The population fixture's data in any session (also a live PostgreSQL one)."""
    rng = np.random.default_rng(7)
    product = make_product(db)
    start = AS_OF - timedelta(days=730)
    customers = [
        {
            "name": f"Pop {i}",
            "name_key": f"pop {i}",
            "kind": "consumer",
            "party_type": "person",
            "external_id": f"{prefix}{i:04d}",
            "custom_fields": {},
        }
        for i in range(n_customers)
    ]
    db.execute(insert(Customer), customers)
    ids = [
        c.id
        for c in db.query(Customer)
        .filter(Customer.external_id.like(f"{prefix}%"))
        .order_by(Customer.id)
    ]
    orders = []
    for n, cid in enumerate(ids):
        lam = rng.gamma(0.6, 1 / 0.08)  # purchases per year
        p_drop = rng.beta(1.0, 3.0)
        t = start + timedelta(days=float(rng.uniform(0, 600)))
        while t < AS_OF:
            value = Decimal(str(round(float(rng.gamma(3, 12)), 2)))
            profit = -abs(value) if n < 3 else (value * Decimal("0.35")).quantize(Decimal("0.01"))
            orders.append(
                {
                    "customer_id": cid,
                    "ordered_at": t,
                    "status": "completed",
                    "channel": "store",
                    "discount": Decimal("0"),
                    "revenue": value,
                    "cost": value - profit,
                    "profit": profit,
                    "refunded": Decimal("0"),
                }
            )
            if rng.random() < p_drop:
                break
            t += timedelta(days=float(rng.exponential(365 / max(lam, 0.2))))
    db.execute(insert(Order), orders)
    db.flush()
    return {"ids": ids, "orders": len(orders), "product": product}
