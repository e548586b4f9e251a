from __future__ import annotations

import io
import shutil
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.core.errors import Forbidden, InvalidInput
from retento.customers.models import Customer
from retento.dataio import service
from retento.dataio.mapping import Mapping, load_mapping_text
from retento.orders.models import Order, OrderLine
from retento.orders.service import recompute
from retento.products.models import Product
from retento.touchpoints.models import Touchpoint


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def errors_of(exc: pytest.ExceptionInfo) -> list[tuple[int | None, str | None]]:
    return [(e.row, e.field) for e in exc.value.errors]


def test_customers_import_creates_with_tags_owner_and_custom_fields(db, users, data_dir):
    report = service.import_file(db, "customers", data_dir / "customers.csv", actor=users["admin"])
    assert (report.created, report.updated, report.rejected) == (3, 0, 0)
    alice = db.scalar(select(Customer).where(Customer.external_id == "IC001"))
    assert alice.name == "Alice Green" and alice.owner_id == users["admin"].id
    assert alice.tags == ["newsletter", "vip"]
    assert alice.custom_fields == {"segment": "gold"}
    assert alice.consent_email is True and alice.country == "GB"
    assert db.scalar(select(Customer.name).where(Customer.external_id == "IC002")) == "王伟"


def test_orders_import_computes_totals_like_the_service(db, base, data_dir):
    report = service.import_file(db, "orders", data_dir / "orders.csv", actor=base)
    assert (report.created, report.lines) == (2, 3)
    o = db.scalar(select(Order).where(Order.external_id == "IO1"))
    # 2 × 68 + 24 − 4 (line) − 5 (order) = 151; cost 2 × 30.60 + 10.80 = 72
    assert (o.revenue, o.cost, o.profit) == (Decimal("151.00"), Decimal("72.00"), Decimal("79.00"))
    assert [ln.line_no for ln in o.lines] == [1, 2] and o.channel == "web"
    before = (o.revenue, o.cost, o.profit, o.refunded)
    recompute(o)
    assert (o.revenue, o.cost, o.profit, o.refunded) == before
    o2 = db.scalar(select(Order).where(Order.external_id == "IO2"))
    assert o2.status == "paid" and o2.ordered_at.isoformat() == "2025-03-02T09:30:00+00:00"


def test_one_audit_entry_per_run(db, base, data_dir):
    service.import_file(db, "orders", data_dir / "orders.csv", actor=base)
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "import").order_by(AuditEntry.id)
    ).all()
    assert len(entries) == 3
    assert entries[-1].after == {
        "entity": "orders", "file": "orders.csv", "created": 2, "updated": 0, "unchanged": 0,
        "rejected": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("orders_bad_dates.csv", [(3, "ordered_at"), (4, "ordered_at")]),
        ("orders_negative_quantity.csv", [(2, "quantity")]),
        ("orders_unknown_customer.csv", [(3, "customer_external_id"), (4, "product_external_id")]),
        ("orders_bad_money.csv", [(2, "unit_price"), (3, "unit_price"), (4, "channel")]),
    ],
)
def test_bad_order_files_report_lines_and_write_nothing(db, base, data_dir, name, expected):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", data_dir / name, actor=base)
    assert errors_of(exc) == expected
    assert "nothing was imported" in exc.value.message
    assert count(db, Order) == 0 and count(db, OrderLine) == 0


def test_error_messages_say_why(db, base, data_dir):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", data_dir / "orders_bad_money.csv", actor=base)
    messages = [e.message for e in exc.value.errors]
    assert "more than two decimals" in messages[0]
    assert "not a number" in messages[1]
    assert "'fax' is not one of" in messages[2]


def test_duplicate_external_ids_in_the_file(db, users, data_dir):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(
            db, "customers", data_dir / "customers_duplicate_ids.csv", actor=users["admin"]
        )
    assert errors_of(exc) == [(4, "external_id")]
    assert "already appears on line 2" in exc.value.errors[0].message
    assert count(db, Customer) == 0


def test_split_order_lines_are_reported_as_duplicated_order(db, base):
    data = (
        b"order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price\n"
        b"A,IC001,2025-01-01T00:00:00+00:00,IP01,1,68\n"
        b"B,IC001,2025-01-01T00:00:00+00:00,IP01,1,68\n"
        b"A,IC001,2025-01-01T00:00:00+00:00,IP02,1,24\n"
    )
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", data, name="split.csv", actor=base)
    assert errors_of(exc) == [(4, "order_external_id")]
    assert "already appeared on lines 2–2" in exc.value.errors[0].message


def test_wrong_encoding_names_the_line(db, users, data_dir):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(
            db, "customers", data_dir / "customers_gb18030.csv", actor=users["admin"]
        )
    assert errors_of(exc) == [(3, None)]
    assert "not valid utf-8" in exc.value.message.lower() and "gb18030" in exc.value.message
    assert count(db, Customer) == 0


def test_gb18030_with_the_encoding_option(db, users, data_dir):
    report = service.import_file(
        db, "customers", data_dir / "customers_gb18030.csv", actor=users["admin"],
        mapping=Mapping(encoding="gb18030"),
    )  # fmt: skip
    assert report.created == 2
    assert db.scalar(select(Customer.city).where(Customer.external_id == "IC011")) == "北京"
    assert db.scalar(select(Customer.name).where(Customer.external_id == "IC011")) == "张三"


def test_utf8_bom_is_accepted(db, users):
    data = "\ufeffexternal_id,name\nB1,Bom Customer\n".encode()
    report = service.import_file(db, "customers", data, name="bom.csv", actor=users["admin"])
    assert report.created == 1 and report.ignored_columns == []


def test_empty_file(db, users, data_dir):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "customers", data_dir / "empty.csv", actor=users["admin"])
    assert errors_of(exc) == [(1, None)] and "empty" in exc.value.message


def test_missing_required_column(db, users, data_dir):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(
            db, "customers", data_dir / "customers_missing_column.csv", actor=users["admin"]
        )
    assert errors_of(exc) == [(1, "name")]
    assert "required column 'name' is missing" in exc.value.errors[0].message


def test_huge_field(db, users, data_dir):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(
            db, "customers", data_dir / "customers_huge_field.csv", actor=users["admin"]
        )
    assert errors_of(exc) == [(3, "note")]
    assert "6000 characters long; the limit is 5000" in exc.value.errors[0].message
    assert count(db, Customer) == 0


def test_touchpoints_import_and_bad_enums(db, base, data_dir):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "touchpoints", data_dir / "touchpoints.csv", actor=base)
    assert errors_of(exc) == [(3, "channel"), (3, "direction")]
    report = service.import_file(
        db, "touchpoints", data_dir / "touchpoints.csv", actor=base, skip_invalid=True
    )
    assert (report.created, report.rejected) == (1, 1)
    tp = db.scalar(select(Touchpoint).where(Touchpoint.external_id == "IT1"))
    assert (
        tp.owner_id == base.id and tp.stage == "information" and tp.note == "Asked about Longjing"
    )


def test_skip_invalid_writes_good_rows_and_a_rejects_file(db, base, data_dir, tmp_path):
    src = tmp_path / "orders.csv"
    shutil.copy(data_dir / "orders_unknown_customer.csv", src)
    report = service.import_file(
        db, "orders", src, actor=base, skip_invalid=True,
        rejects_path=service.default_rejects_path(src),
    )  # fmt: skip
    assert (report.created, report.rejected) == (1, 2)
    assert [(e.row, e.field) for e in report.errors] == [
        (3, "customer_external_id"), (4, "product_external_id"),
    ]  # fmt: skip
    rejects = (tmp_path / "orders.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rejects[0].endswith(",_line,_error")
    assert rejects[1].startswith("IO2,NOBODY,") and "unknown customer 'NOBODY'" in rejects[1]
    assert rejects[2].startswith("IO3,") and ",4," in rejects[2]
    assert db.scalar(select(Order.external_id)) == "IO1"


def test_skip_invalid_rejects_the_whole_order(db, base):
    data = (
        b"order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price\n"
        b"A,IC001,2025-01-01T00:00:00+00:00,IP01,1,68\n"
        b"A,IC001,2025-01-01T00:00:00+00:00,IP02,0,24\n"
        b"B,IC002,2025-01-01T00:00:00+00:00,IP02,1,24\n"
    )
    report = service.import_file(db, "orders", data, name="o.csv", actor=base, skip_invalid=True)
    assert (report.created, report.rejected, report.lines) == (1, 2, 1)
    assert db.scalars(select(Order.external_id)).all() == ["B"]


def test_reimport_updates_without_duplicating(db, base, data_dir):
    service.import_file(db, "orders", data_dir / "orders.csv", actor=base)
    again = service.import_file(db, "orders", data_dir / "orders.csv", actor=base)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = (
        (data_dir / "orders.csv")
        .read_text()
        .replace("IO2,IC002,2025-03-02 09:30,IP03,10", "IO2,IC002,2025-03-02 09:30,IP03,12")
    )
    report = service.import_file(db, "orders", changed.encode(), name="orders.csv", actor=base)
    assert (report.created, report.updated, report.unchanged, report.lines) == (0, 1, 1, 1)
    assert count(db, Order) == 2 and count(db, OrderLine) == 3
    o2 = db.scalar(select(Order).where(Order.external_id == "IO2"))
    assert o2.lines[0].quantity == 12 and o2.revenue == Decimal("69.60")
    renamed = service.import_file(
        db, "customers", b"external_id,name\nIC001,Alice Brown\n", name="c.csv", actor=base
    )
    assert (renamed.created, renamed.updated) == (0, 1) and count(db, Customer) == 3
    alice = db.scalar(select(Customer).where(Customer.external_id == "IC001"))
    assert alice.name == "Alice Brown" and alice.tags == ["newsletter", "vip"]


def test_xlsx_import(db, base):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["external_id", "name", "category", "unit_price", "unit_cost"])
    ws.append(["XP1", "Teapot", "teaware", 159, 60.5])
    ws.append(["XP2", "Cups", "teaware", "35.00", 19.25])
    ws.append(["XP3", "Broken", "teaware", -1, 1])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "products", buf.getvalue(), name="p.xlsx", actor=base)
    assert errors_of(exc) == [(4, "unit_price")]
    report = service.import_file(
        db, "products", buf.getvalue(), name="p.xlsx", actor=base, skip_invalid=True
    )
    assert (report.created, report.rejected) == (2, 1)
    prices = dict(db.execute(select(Product.external_id, Product.unit_cost)).tuples().all())
    assert prices["XP1"] == Decimal("60.50") and prices["XP2"] == Decimal("19.25")


def test_xlsx_orders_with_real_dates(db, base):
    from datetime import datetime

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Order", "Client", "Date", "Item", "Qty", "Price"])
    ws.append(["X1", "IC001", datetime(2025, 5, 1, 8, 0), "IP01", 1, 68])
    buf = io.BytesIO()
    wb.save(buf)
    mapping = load_mapping_text(
        "columns: {Order: order_external_id, Client: customer_external_id, Date: ordered_at,"
        " Item: product_external_id, Qty: quantity, Price: unit_price}\ntimezone: Asia/Shanghai\n"
    )
    service.import_file(db, "orders", buf.getvalue(), name="o.xlsx", actor=base, mapping=mapping)
    o = db.scalar(select(Order).where(Order.external_id == "X1"))
    assert o.ordered_at.isoformat() == "2025-05-01T00:00:00+00:00"


def test_mapping_file_with_date_format_and_time_zone(db, base, tmp_path):
    (tmp_path / "map.yaml").write_text(
        "columns:\n  Bestellung: order_external_id\n  Kunde: customer_external_id\n"
        "  Datum: ordered_at\n  Artikel: product_external_id\n  Menge: quantity\n"
        "  Preis: unit_price\n  Bemerkung: '-'\n"
        "datetime_format: '%d.%m.%Y %H:%M'\ntimezone: Europe/Berlin\ndelimiter: ';'\n"
    )
    (tmp_path / "o.csv").write_text(
        "Bestellung;Kunde;Datum;Artikel;Menge;Preis;Bemerkung\nM1;IC001;01.07.2025 14:00;IP02;3;24,00;x\n".replace(
            "24,00", "24.00"
        )
    )
    from retento.dataio.mapping import load_mapping_file

    report = service.import_file(
        db,
        "orders",
        tmp_path / "o.csv",
        actor=base,
        mapping=load_mapping_file(tmp_path / "map.yaml"),
    )
    assert report.created == 1 and report.ignored_columns == []
    o = db.scalar(select(Order).where(Order.external_id == "M1"))
    assert o.ordered_at.isoformat() == "2025-07-01T12:00:00+00:00"
    assert o.revenue == Decimal("72.00")


def test_a_mapping_s_date_format_reads_custom_date_fields_too(db, base):
    """``date_format`` is the file's format for every date column: a custom date field's
    column as much as the date of birth (it was applied to the built-in columns only, so
    ``renewal`` in 31.12.2026 was refused as "Must be a date like 2026-12-31"). An ISO date
    (an exported file) still reads; a cell in neither is refused naming the format."""
    from tests.factories.custom_fields import define_fields

    define_fields(db, "renewal", field_type="date")
    mapping = load_mapping_text("date_format: '%d.%m.%Y'\ndelimiter: ';'\n")
    content = (
        b"external_id;name;birth_date;custom.renewal\n"
        b"DF1;Ann;01.02.1990;31.12.2026\nDF2;Bob;;2027-01-15\n"
    )
    report = service.import_file(
        db, "customers", content, name="c.csv", actor=base, mapping=mapping
    )
    assert report.created == 2
    got = {
        c.external_id: (c.birth_date, c.custom_fields)
        for c in db.scalars(select(Customer).where(Customer.external_id.in_(["DF1", "DF2"])))
    }
    assert got["DF1"] == (date(1990, 2, 1), {"renewal": "2026-12-31"})
    assert got["DF2"] == (None, {"renewal": "2027-01-15"})
    bad = b"external_id;name;custom.renewal\nDF3;Cy;12/31/2026\n"
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "customers", bad, name="c.csv", actor=base, mapping=mapping)
    assert errors_of(exc) == [(2, "custom.renewal")]
    assert "%d.%m.%Y" in exc.value.errors[0].message


def test_mapping_errors_are_clear():
    with pytest.raises(InvalidInput, match="Unknown time zone"):
        load_mapping_text("timezone: Mars/Olympus")
    with pytest.raises(InvalidInput, match="Unknown mapping key"):
        load_mapping_text('{"colums": {}}')


def test_refunded_order_keeps_its_lines(db, base, data_dir):
    from retento.orders.schemas import RefundCreate
    from retento.orders.service import add_refund

    service.import_file(db, "orders", data_dir / "orders.csv", actor=base)
    o = db.scalar(select(Order).where(Order.external_id == "IO2"))
    add_refund(db, o.id, RefundCreate(amount=Decimal("10.00")), actor=base)
    db.flush()
    changed = (data_dir / "orders.csv").read_text().replace(",IP03,10,", ",IP03,11,")
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", changed.encode(), name="o.csv", actor=base)
    assert errors_of(exc) == [(4, "order_external_id")]
    status_only = (data_dir / "orders.csv").read_text().replace(",store,paid", ",store,shipped")
    report = service.import_file(db, "orders", status_only.encode(), name="o.csv", actor=base)
    assert report.updated == 1
    o = db.scalar(select(Order).where(Order.external_id == "IO2"))
    assert o.status == "shipped" and o.refunded == Decimal("10.00")
    assert o.revenue == Decimal("48.00")


def test_import_needs_permission(db, users, data_dir):
    with pytest.raises(Forbidden):
        service.import_file(db, "customers", data_dir / "customers.csv", actor=users["analyst"])


def test_a_country_code_that_names_no_country_is_a_row_error(db, users, tmp_path):
    """The same rule as the API and the form's country picker (core.countries)."""
    path = tmp_path / "customers.csv"
    path.write_text("external_id,name,country\nC1,Ok Ltd,cn\nC2,Nowhere Ltd,XX\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "customers", path, actor=users["admin"])
    assert errors_of(exc) == [(3, "country")]
    assert exc.value.errors[0].message == "must be a two-letter country code"
    assert count(db, Customer) == 0
    path.write_text("external_id,name,country\nC1,Ok Ltd,cn\n", encoding="utf-8")
    service.import_file(db, "customers", path, actor=users["admin"])
    assert db.scalar(select(Customer.country).where(Customer.external_id == "C1")) == "CN"


@pytest.mark.parametrize(
    ("entity", "data", "expected"),
    [
        (
            "products",
            b"external_id,name,category,unit_price,unit_cost\nNP1,Tea\x00pot,tea,10.00,4.00\n",
            [(2, "name")],
        ),
        (
            "customers",
            b"external_id,name,custom.segment\nNC1,Alice,gold\nNC2,Bob,si\x00lver\n",
            [(3, "custom.segment")],
        ),
        (
            "touchpoints",
            b"external_id,customer_external_id,occurred_at,channel,stage,direction,note\n"
            b"NT1,IC001,2025-01-01T10:00:00+00:00,phone,information,inbound,hel\x00lo\n",
            [(2, "note")],
        ),
        (
            "orders",
            b"order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
            b"unit_price,channel\n"
            b"A,IC001,2025-01-01T00:00:00+00:00,IP01,1,68,web\n"
            b"A,IC001,2025-01-01T00:00:00+00:00,IP02,1,24,we\x00b\n",
            [(3, "channel")],
        ),
    ],
)
def test_a_nul_character_in_any_stored_cell_is_a_row_error(db, base, entity, data, expected):
    """A NUL in a product name (or a note, a custom field, an order's channel) reached COPY and
    PostgreSQL refused it with an unhandled error: a 500, and on SQLite it was stored. It is
    the row's error naming its column; nothing is written."""
    before = count(db, {"products": Product, "customers": Customer,
                        "touchpoints": Touchpoint, "orders": Order}[entity])  # fmt: skip
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, entity, data, name="x.csv", actor=base)
    assert errors_of(exc) == expected
    assert exc.value.errors[0].message == "contains a NUL character"
    model = {"products": Product, "customers": Customer, "touchpoints": Touchpoint, "orders": Order}
    assert count(db, model[entity]) == before


def test_a_nul_character_rejects_the_whole_order_when_skipping(db, base):
    data = (
        b"order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
        b"unit_price,line_discount\n"
        b"A,IC001,2025-01-01T00:00:00+00:00,IP01,1,68,\n"
        b"A,IC001,2025-01-01T00:00:00+00:00,IP02,1,24,0\x00\n"
        b"B,IC002,2025-01-01T00:00:00+00:00,IP02,1,24,\n"
    )
    report = service.import_file(db, "orders", data, name="o.csv", actor=base, skip_invalid=True)
    assert db.scalars(select(Order.external_id)).all() == ["B"]
    assert report.rejected == 2 and report.errors[0].message == "contains a NUL character"


def test_phone_and_future_dates_are_checked_as_on_the_form(db, users):
    """The form and the API refuse a phone that is no number and dates in the future
    (core.validation); a file import of customers or touchpoints refuses the same rows, naming
    line and column, in the reader's language on the wizard (dataio.messages)."""
    from retento.dataio.messages import PATTERNS
    from retento.web.i18n import gettext, translate_shaped

    data = (
        b"external_id,name,phone,acquired_on\n"
        b"P1,Good Phone,+86 138 0013 8000,2024-01-15\n"
        b"P2,Bad Phone,abc-not-phone,2024-01-15\n"
        b"P3,Future,021-5555-0100,2031-01-01\n"
    )
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "customers", data, name="c.csv", actor=users["admin"])
    assert errors_of(exc) == [(3, "phone"), (4, "acquired_on")]
    assert db.scalar(select(Customer.id).where(Customer.external_id == "P1")) is None
    zh = [
        translate_shaped(PATTERNS, e.message, lambda m: gettext("zh_CN", m))
        for e in exc.value.errors
    ]
    assert zh[0].startswith("不是电话号码") and zh[1] == "不能晚于现在"

    service.import_file(db, "customers", data.split(b"P2")[0], name="c.csv", actor=users["admin"])
    tp = (
        b"external_id,customer_external_id,occurred_at,channel,stage\n"
        b"T1,P1,2025-01-01T10:00:00Z,phone,after_sales\n"
        b"T2,P1,2030-01-01T10:00:00Z,phone,after_sales\n"
    )
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "touchpoints", tp, name="t.csv", actor=users["admin"])
    assert errors_of(exc) == [(3, "occurred_at")]
