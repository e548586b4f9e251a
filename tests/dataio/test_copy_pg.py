"""The PostgreSQL COPY bulk path of imports, on a real database with real commits (``live_pg``)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.auth.models import User
from retento.core.errors import Conflict, InvalidInput
from retento.customers.models import Customer, CustomerTag
from retento.dataio import service
from retento.orders.models import Order, OrderLine
from tests.factories.concurrency import run_parallel

BIG = 2**31  # external ids and amounts past 32 bits must survive the text COPY format

CUSTOMERS = "external_id,name,email,tags,custom.segment\n" + "".join(
    f"{BIG + i},Customer {i},c{i}@example.com,vip;c{i % 3},seg{i % 2}\n" for i in range(40)
)
PRODUCTS = "external_id,name,unit_price,unit_cost\nP1,Tea,68.00,30.60\nP2,Cup,24.00,10.80\n"


def orders_csv(n_orders: int, *, broken_line: int | None = None) -> str:
    rows = ["order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
            "unit_price,line_discount"]  # fmt: skip
    for o in range(n_orders):
        cust = BIG + o % 40
        for k in range(3):
            rows.append(f"{BIG * 2 + o},{cust},2025-03-0{1 + o % 9}T10:00:00Z,P{1 + k % 2},"
                        f"{1 + k},{'9999999.99' if o == 0 else '68.00'},{'1.50' if k else ''}")  # fmt: skip
    if broken_line is not None:
        parts = rows[broken_line - 1].split(",")
        parts[4] = "three"
        rows[broken_line - 1] = ",".join(parts)
    return "\n".join(rows) + "\n"


@pytest.fixture
def pg(live_pg):
    from tests.factories import make_user

    with live_pg.session() as s, s.begin():
        make_user(s, username="importer", role="admin")
    with live_pg.session() as s, s.begin():
        admin = s.scalar(select(User).where(User.username == "importer"))
        service.import_file(s, "customers", CUSTOMERS.encode(), name="c.csv", actor=admin)
        service.import_file(s, "products", PRODUCTS.encode(), name="p.csv", actor=admin)
    return live_pg


def _import(pg, text: str, **kw):
    with pg.session() as s, s.begin():
        admin = s.scalar(select(User).where(User.username == "importer"))
        return service.import_file(s, "orders", text.encode(), name="orders.csv", actor=admin, **kw)


def _counts(pg) -> tuple[int, int]:
    with pg.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Order)),
            s.scalar(select(func.count()).select_from(OrderLine)),
        )


def test_customers_are_copied_with_tags_custom_fields_and_search_copies(pg):
    with pg.session() as s:
        c = s.scalar(select(Customer).where(Customer.external_id == str(BIG + 7)))
        assert c.name == "Customer 7" and c.custom_fields == {"segment": "seg1"}
        assert c.name_key == "customer 7" and c.version == 1 and c.created_at.tzinfo is not None
        assert sorted(c.tags) == ["c1", "vip"]
        assert s.scalar(select(func.count()).select_from(CustomerTag)) == 80


def test_copy_import_writes_orders_lines_and_exact_totals(pg):
    report = _import(pg, orders_csv(1200))
    assert (report.created, report.lines, report.rejected) == (1200, 3600, 0)
    assert _counts(pg) == (1200, 3600)
    with pg.session() as s:
        o = s.scalar(select(Order).where(Order.external_id == str(BIG * 2)))
        # 9,999,999.99 × (1 + 2 + 3) − 1.50 × 2: amounts past 2³¹ cents stay exact.
        assert o.revenue == Decimal("59999996.94")
        assert [ln.line_no for ln in o.lines] == [1, 2, 3]
        assert o.customer.external_id == str(BIG) and o.version == 1


def test_a_broken_row_writes_nothing_and_is_named(pg):
    # Line 3001 of the file (header = line 1) has quantity "three".
    with pytest.raises(InvalidInput) as exc:
        _import(pg, orders_csv(1200, broken_line=3001))
    assert [(e.row, e.field) for e in exc.value.errors] == [(3001, "quantity")]
    assert "nothing was imported" in exc.value.message and "line 3001" in exc.value.message
    assert _counts(pg) == (0, 0)


def test_a_retry_after_success_creates_no_duplicates(pg):
    first = _import(pg, orders_csv(500))
    again = _import(pg, orders_csv(500))
    assert (first.created, again.created, again.unchanged, again.lines) == (500, 0, 500, 0)
    assert _counts(pg) == (500, 1500)


def test_a_failure_during_copy_rolls_back_everything(pg, monkeypatch):
    """A unique key taken between the check and the COPY: a 409, and no row of the file kept."""
    from retento.dataio import order_stream

    real = order_stream.copy_text
    monkeypatch.setattr(order_stream, "CHUNK_LINES", 100)  # order 150 is in the 5th chunk
    late = str(BIG * 2 + 150)

    def sneak(cursor, table, columns, data):
        # Another writer commits order 150's external id after this import checked its chunk,
        # when four chunks are written already.
        if table == "orders" and f"\t{late}\t" in data:
            with pg.session() as other, other.begin():
                c = other.scalar(select(Customer).where(Customer.external_id == str(BIG)))
                at = datetime(2025, 1, 1, tzinfo=UTC)
                other.add(Order(external_id=late, customer_id=c.id, ordered_at=at))
        return real(cursor, table, columns, data)

    monkeypatch.setattr(order_stream, "copy_text", sneak)
    text = orders_csv(300)
    with pytest.raises(Conflict) as exc:
        _import(pg, text)
    assert "nothing from this file was written" in exc.value.message
    assert _counts(pg) == (1, 0)  # only the other writer's order
    monkeypatch.setattr(order_stream, "copy_text", real)
    report = _import(pg, text)  # the retry: the other order is updated, the rest created
    assert (report.created, report.updated) == (299, 1)
    assert _counts(pg) == (300, 900)


def test_two_imports_of_one_file_at_once_leave_each_order_once(pg):
    text = orders_csv(400)

    def run(_i):
        return _import(pg, text)

    results = run_parallel(2, run)
    ok = [r for r in results if not isinstance(r, Exception)]
    failed = [r for r in results if isinstance(r, Exception)]
    assert ok, results
    assert all(isinstance(e, Conflict) for e in failed), failed
    assert _counts(pg) == (400, 1200)
    for _ in failed:  # the loser retries: everything is already there
        assert _import(pg, text).unchanged == 400
    assert _counts(pg) == (400, 1200)
