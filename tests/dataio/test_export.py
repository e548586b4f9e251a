from __future__ import annotations

import csv
import io

from sqlalchemy import select

from retento.customers.models import Customer
from retento.dataio import service
from retento.orders.models import Order
from retento.orders.schemas import RefundCreate
from retento.orders.service import add_refund


def _text(db, entity, actor, **filters) -> str:
    return "".join(service.export_csv(db, entity, actor=actor, filters=filters))


def _state(db):
    customers = [
        (c.external_id, c.name, c.kind, c.email, c.tags, c.custom_fields, c.owner_id, c.acquired_on)
        for c in db.scalars(select(Customer).order_by(Customer.id))
    ]
    orders = [
        (o.external_id, o.revenue, o.cost, o.profit, o.refunded, o.ordered_at,
         [(ln.line_no, ln.quantity, ln.unit_price, ln.discount) for ln in o.lines])
        for o in db.scalars(select(Order).order_by(Order.id))
    ]  # fmt: skip
    return customers, orders


def test_export_round_trips_with_no_changes(db, base, data_dir):
    service.import_file(db, "orders", data_dir / "orders.csv", actor=base)
    service.import_file(
        db, "touchpoints", data_dir / "touchpoints.csv", actor=base, skip_invalid=True
    )
    o = db.scalar(select(Order).where(Order.external_id == "IO1"))
    add_refund(db, o.id, RefundCreate(amount="20.00"), actor=base)
    db.flush()
    before = _state(db)
    for export_as, import_as in (
        ("customers", "customers"),
        ("products", "products"),
        ("orders", "orders"),
        ("order_lines", "orders"),
        ("touchpoints", "touchpoints"),
    ):
        text = _text(db, export_as, base)
        report = service.import_file(db, import_as, text.encode("utf-8"), name="x.csv", actor=base)
        assert (report.created, report.updated, report.rejected) == (0, 0, 0), export_as
        assert report.unchanged > 0 and report.ignored_columns == []
    assert _state(db) == before


def test_export_applies_the_list_filters(db, base, data_dir):
    service.import_file(db, "orders", data_dir / "orders.csv", actor=base)
    rows = list(
        csv.DictReader(io.StringIO(_text(db, "customers", base, kind="business").lstrip("\ufeff")))
    )
    assert [r["external_id"] for r in rows] == ["IC003"]
    assert rows[0]["tags"] == "wholesale" and rows[0]["custom_fields"] == '{"segment": "silver"}'
    rows = list(
        csv.DictReader(io.StringIO(_text(db, "customers", base, tag="vip").lstrip("\ufeff")))
    )
    assert [r["external_id"] for r in rows] == ["IC001"]
    rows = list(
        csv.DictReader(io.StringIO(_text(db, "products", base, active=False).lstrip("\ufeff")))
    )
    assert [(r["external_id"], r["unit_price"]) for r in rows] == [("IP03", "5.80")]
    rows = list(
        csv.DictReader(io.StringIO(_text(db, "order_lines", base, channel="web").lstrip("\ufeff")))
    )
    assert [(r["order_external_id"], r["line_no"], r["line_discount"]) for r in rows] == [
        ("IO1", "1", "0.00"), ("IO1", "2", "4.00"),
    ]  # fmt: skip
    assert "order_revenue" not in rows[0]


def test_export_streams_in_batches(db, base, monkeypatch):
    from retento.dataio import exporter

    monkeypatch.setattr(exporter, "BATCH", 2)
    chunks = list(service.export_csv(db, "customers", actor=base))
    assert len(chunks) == 1 + 2  # header, then 3 customers in batches of 2
    assert sum(c.count("\r\n") for c in chunks) == 4
