"""Orders that arrive by import (CSV, wizard, API) settle win-back cases and close lapse alerts,
like orders entered one by one; the hook reads only the customers it concerns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from retento.dataio import service as dataio
from retento.retention import service
from retento.retention.models import RetentionAlert, RetentionCase, RetentionOpenCase
from tests.factories import make_customer, make_order, make_product
from tests.retention.helpers import make_run


def test_an_imported_order_brings_a_lapsed_customer_back(db, users):
    now = datetime.now(UTC)
    make_product(db, external_id="P-1")
    lapsed = make_customer(db, external_id="C-LAPSED", owner_id=users["agent"].id)
    calm = make_customer(db, external_id="C-CALM")
    for d in (200, 170, 140, 110):
        make_order(db, lapsed, ordered_at=now - timedelta(days=d))
    make_run(db, {lapsed.id: {"value_class": "ordinary"}})
    service.evaluate(db, rules=["rhythm"], now=now - timedelta(days=1))
    case = db.scalar(select(RetentionCase).where(RetentionCase.customer_id == lapsed.id))
    assert case is not None and case.outcome == "pending"

    when = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = (
        "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price\n"
        f"IMP-1,C-LAPSED,{when},P-1,2,12.50\n"
        f"IMP-2,C-CALM,{when},P-1,1,12.50\n"
    )
    report = dataio.import_file(db, "orders", text.encode(), name="o.csv", actor=users["admin"])
    assert report.created == 2, report

    db.refresh(case)
    assert case.outcome == "came_back" and case.revenue > 0
    alert = db.get(RetentionAlert, case.alert_id)
    assert alert.status == "closed" and alert.close_note == "customer ordered again"
    assert db.get(RetentionOpenCase, lapsed.id) is None  # released: a new cause may open a case
    assert db.scalar(select(RetentionCase).where(RetentionCase.customer_id == calm.id)) is None


def test_came_back_at_is_the_earliest_imported_order_and_only_imported_orders_count(db, users):
    """The hook reads the imported ids' range for the customers with a case; an order written in
    that range by someone else (not in the import) is not counted, and the case comes back on the
    earliest imported order whatever the file's line order."""
    from retento.core.hooks import emit

    now = datetime.now(UTC).replace(microsecond=0)
    lapsed = make_customer(db, external_id="C-LAPSED-2", owner_id=users["agent"].id)
    for d in (200, 170, 140, 110):
        make_order(db, lapsed, ordered_at=now - timedelta(days=d))
    make_run(db, {lapsed.id: {"value_class": "ordinary"}})
    service.evaluate(db, rules=["rhythm"], now=now - timedelta(days=3))
    case = db.scalar(select(RetentionCase).where(RetentionCase.customer_id == lapsed.id))
    assert case is not None and case.outcome == "pending"

    later = make_order(db, lapsed, ordered_at=now - timedelta(hours=1))
    outsider = make_order(db, lapsed, ordered_at=now - timedelta(hours=2))
    earlier = make_order(db, lapsed, ordered_at=now - timedelta(hours=3))
    case.outcome, case.came_back_at, case.revenue = "pending", None, Decimal(0)  # undo the hook
    db.flush()
    emit("orders.imported", db, order_ids=[later.id, earlier.id], actor=None)

    db.refresh(case)
    assert case.outcome == "came_back"
    assert case.came_back_at.replace(tzinfo=UTC) == earlier.ordered_at.replace(tzinfo=UTC)
    assert case.revenue == later.revenue + earlier.revenue  # not the outsider's
    assert outsider.id not in (later.id, earlier.id)
