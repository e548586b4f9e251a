"""Large order imports on both backends: the bulk write path (ids drawn first, SQLite's index
rebuild for big loads) keeps imports all-or-nothing and leaves the schema as it was."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from retento.core.errors import InvalidInput
from retento.dataio import bulk, order_stream, service
from retento.dataio.import_orders import totals_cents
from retento.orders.models import Order, OrderLine
from retento.orders.service import recompute
from retento.orders.totals import LineFigures, RefundFigures, order_totals

LINES = 24_000  # above bulk.REBUILD_MIN: SQLite rebuilds the order indexes for this load
HEAD = "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price,line_discount,order_discount,channel,status\n"  # noqa: E501


def big_file(lines: int = LINES, *, bad_line: int | None = None) -> bytes:
    """``lines`` order lines (1–3 per order) for the sample customers and products."""
    rnd = random.Random(7)
    out, written, order = [HEAD], 0, 0
    while written < lines:
        order += 1
        cust = f"IC00{1 + order % 3}"
        at = f"2025-{1 + order % 12:02d}-{1 + order % 28:02d}T10:{order % 60:02d}:00+00:00"
        for _ in range(min(rnd.randint(1, 3), lines - written)):
            written += 1
            price = "68.00" if written + 1 != bad_line else "68.001"  # line 1 is the header
            ldisc = "1.50" if written % 7 == 0 else ""
            out.append(f"BIG{order:06d},{cust},{at},IP01,{1 + written % 4},{price},{ldisc},,web,"
                       "completed\n")  # fmt: skip
    return "".join(out).encode()


def indexes(db) -> set[str]:
    if db.get_bind().dialect.name == "sqlite":
        sql = ("SELECT name || ':' || COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' "
               "AND tbl_name IN ('orders', 'order_lines')")  # fmt: skip
    else:
        sql = ("SELECT indexname || ':' || indexdef FROM pg_indexes "
               "WHERE tablename IN ('orders', 'order_lines')")  # fmt: skip
    return set(db.execute(text(sql)).scalars())


def counts(db) -> tuple[int, int]:
    return (
        db.scalar(select(func.count()).select_from(Order)),
        db.scalar(select(func.count()).select_from(OrderLine)),
    )


def test_a_bad_row_deep_in_a_large_file_is_named_and_nothing_is_written(db, base):
    before = indexes(db)
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", big_file(bad_line=23_001), name="big.csv", actor=base)
    assert [(e.row, e.field) for e in exc.value.errors] == [(23_001, "unit_price")]
    assert "more than two decimals" in exc.value.errors[0].message
    assert "line 23001" in exc.value.message and "nothing was imported" in exc.value.message
    assert counts(db) == (0, 0)
    assert indexes(db) == before


def test_a_large_import_writes_every_line_with_the_services_totals(db, base):
    before = indexes(db)
    report = service.import_file(db, "orders", big_file(), name="big.csv", actor=base)
    assert (report.lines, report.rejected) == (LINES, 0)
    assert counts(db) == (report.created, LINES)
    # The indexes dropped for the load (SQLite) are all back, exactly as they were.
    assert indexes(db) == before
    orders = db.scalars(select(Order).order_by(Order.id)).all()
    assert [o.external_id for o in orders] == sorted(o.external_id for o in orders)
    for o in orders[:: max(1, len(orders) // 200)]:
        stored = (o.revenue, o.cost, o.profit)
        recompute(o)
        assert (o.revenue, o.cost, o.profit) == stored
    again = service.import_file(db, "orders", big_file(), name="big.csv", actor=base)
    assert (again.created, again.updated, again.unchanged) == (0, 0, report.created)


def test_a_failure_while_writing_a_large_load_keeps_nothing_and_the_indexes(db, base, monkeypatch):
    before = indexes(db)
    if db.get_bind().dialect.name == "sqlite":
        real = bulk._executemany

        def failing(conn, table, cols, extra, rows, progress):
            if table.name == "order_lines":
                raise RuntimeError("disk full")
            return real(conn, table, cols, extra, rows, progress)

        monkeypatch.setattr(bulk, "_executemany", failing)
    else:  # PostgreSQL writes while reading: fail the lines of the third chunk of five
        monkeypatch.setattr(order_stream, "CHUNK_LINES", 5_000)
        real_copy, calls = order_stream.copy_text, []

        def failing_copy(cursor, table, columns, data):
            calls.append(table)
            if calls.count("order_lines") == 3:
                raise RuntimeError("disk full")
            return real_copy(cursor, table, columns, data)

        monkeypatch.setattr(order_stream, "copy_text", failing_copy)
    with pytest.raises(RuntimeError):
        service.import_file(db, "orders", big_file(), name="big.csv", actor=base)
    db.rollback()
    assert counts(db) == (0, 0)
    assert indexes(db) == before


def test_totals_in_cents_are_order_totals():
    rnd = random.Random(3)
    for _ in range(500):
        lines = [
            (n, 1, rnd.randint(1, 9), rnd.randint(0, 10**7), rnd.randint(0, 10**6), 0)
            for n in range(1, rnd.randint(1, 5) + 1)
        ]
        lines = [(*ln[:5], rnd.randint(0, ln[2] * ln[3])) for ln in lines]
        refunds = [(rnd.randint(0, 10**5), rnd.randint(0, 10**4)) for _ in range(rnd.randint(0, 2))]
        odisc = rnd.randint(0, 10**5)

        def m(c: int) -> Decimal:
            return Decimal(c).scaleb(-2)

        want = order_totals(
            [LineFigures(q, m(p), m(c), m(d)) for _n, _pid, q, p, c, d in lines],
            m(odisc),
            [RefundFigures(m(a), m(r)) for a, r in refunds],
        )
        gross, revenue, cost, refunded = totals_cents(lines, odisc, refunds)
        assert (m(gross), m(revenue), m(cost), m(revenue - cost), m(refunded)) == (
            want.gross,
            want.revenue,
            want.cost,
            want.profit,
            want.refunded,
        )
