"""A customer export written before imports typed the breakdowns of defined fields (6ce470e),
imported again.

The exporter's format did not change: one ``custom.<key>`` column per defined field, every other
key (breakdowns ``<key>.<part>`` among them) in the ``custom_fields`` JSON cell. What changed is
what imports had stored: a breakdown's cell as read (``"1,200"``, ``"a lot"``, an XLSX date cell
as ``"2024-02-29T00:00:00"``, ``"Yes"``). ``OLD_EXPORT`` below is, byte for byte, what
``retento export customers`` wrote at 6ce470e^ after these customers were imported there (a CSV
and an XLSX file); the current exporter writes the same rows for them. Imported again, the values
that read unambiguously as their field's type are converted (numbers with thousands separators,
JSON numbers, a spreadsheet date cell, yes/no words, a choice in another letter case), keys an
earlier import stored that no field could have are kept unchanged, and a value that is not of
the type is kept where the customer stores that very value (as the API keeps a value sent back
unchanged), else a row error naming the line and ``custom_fields.<key>``, in English and
Chinese, nothing written. On both backends."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from retento.core.cli_support import error_lines
from retento.core.errors import InvalidInput
from retento.customers.models import Customer
from retento.dataio import service
from tests.customers.test_custom_fields import FIELDS, define
from tests.factories import make_customer

HEADER = (
    "external_id,name,party_type,kind,email,phone,address,city,country,acquired_on,birth_date,"
    "consent_email,consent_sms,consent_phone,consent_profiling,tags,owner,custom_fields,note,"
    "custom.wallet_spend,custom.no_alternative,custom.affiliated,custom.language,"
    "custom.first_visit,custom.vip"
)
PREFIX = "person,consumer,,,,,,,,false,false,false,false,,,"
OLD_ROWS = [
    ("O1", "Ann", '{"wallet_spend.coffee": "1,200", "wallet_spend.tea": "300"}'),
    ("O2", "Bob", '{"wallet_spend.coffee": "¥1200"}'),
    ("O3", "Cid", '{"wallet_spend.coffee": "a lot"}'),
    (
        "O4",
        "Dan",
        '{"Coffee Beans": "x", "language.x": "EN", "wallet_spend.Coffee Beans": "5", '
        '"wallet_spend.coffee": "1 200", "wallet_spend.juice": 1200.5, '
        '"wallet_spend.milk": "2,000"}',
    ),
    ("O5", "Eve", '{"wallet_spend.coffee": "-15.00", "wallet_spend.tea": "-3"}'),
    (
        "X1",
        "Xia",
        '{"first_visit.web": "2024-02-29T00:00:00", "vip.extra": "Yes", '
        '"wallet_spend.shoes": "1200.5"}',
    ),
    (
        "X2",
        "Xu",
        '{"first_visit.web": "29/02/2024", "vip.extra": "maybe", "wallet_spend.shoes": "3000"}',
    ),
]


def _line(ext: str, name: str, cell: str) -> str:
    return f'{ext},{name},{PREFIX}"{cell.replace(chr(34), chr(34) * 2)}",,,,,,,'


OLD_EXPORT = "\ufeff" + "\r\n".join([HEADER, *(_line(*r) for r in OLD_ROWS)]) + "\r\n"
STORED = {ext for ext, _name, _cell in OLD_ROWS}


@pytest.fixture
def old(db, users) -> dict[str, dict]:
    define(db, users["admin"], [FIELDS[3], FIELDS[1]])  # first_visit (date), vip (yes/no)
    stored = {}
    for ext, name, cell in OLD_ROWS:
        stored[ext] = json.loads(cell)
        make_customer(
            db,
            external_id=ext,
            name=name,
            consent_sms=False,
            consent_phone=False,
            custom_fields=stored[ext],
        )
    db.commit()
    return stored


def _import(db, users, content: str | bytes, name: str = "export.csv", **kw):
    data = content.encode("utf-8") if isinstance(content, str) else content
    return service.import_file(db, "customers", data, actor=users["admin"], name=name, **kw)


def _custom(db) -> dict[str, dict]:
    rows = db.execute(select(Customer.external_id, Customer.custom_fields))
    return {ext: dict(fields or {}) for ext, fields in rows if ext in STORED}


def test_the_exporter_writes_what_it_wrote_then(db, users, old):
    text = "".join(service.export_csv(db, "customers", actor=users["admin"], filters={}))
    now = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    then = list(csv.reader(io.StringIO(OLD_EXPORT.lstrip("\ufeff"))))
    assert now[0] == then[0]
    assert [r for r in now[1:] if r[0] in STORED] == then[1:]


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_values_not_of_the_type_are_row_errors_for_customers_not_storing_them(db, users, locale):
    """The same file for customers that do not exist yet: every bad cell of a row is named (a
    key no field could have among them), nothing written."""
    define(db, users["admin"], [FIELDS[3], FIELDS[1]])
    db.commit()
    with pytest.raises(InvalidInput) as info:
        _import(db, users, OLD_EXPORT)
    got = [(e.row, e.field, e.message) for e in info.value.errors]
    number, not_key = "Must be a number, like 12.50.", "is not a custom field key"
    assert [(r, f, m if m != number else "number") for r, f, m in got if not_key not in m] == [
        (3, "custom_fields.wallet_spend.coffee", "number"),  # ¥1200
        (4, "custom_fields.wallet_spend.coffee", "number"),  # a lot
        (5, "custom_fields.wallet_spend.coffee", "number"),  # 1 200
        (8, "custom_fields.first_visit.web", "Must be a date like 2026-12-31."),
        (8, "custom_fields.vip.extra", "Must be yes or no."),
    ], got
    assert sorted((r, f) for r, f, m in got if not_key in m) == [
        (5, "custom_fields.Coffee Beans"),
        (5, "custom_fields.wallet_spend.Coffee Beans"),
    ]
    shown = "".join("".join(error_lines(info.value, locale)).split())
    if locale == "zh_CN":
        for line in (
            "第 3 行，custom_fields.wallet_spend.coffee 列：必须是数字，例如 12.50。",
            "第 8 行，custom_fields.first_visit.web 列：必须是日期，例如 2026-12-31。",
            "第 8 行，custom_fields.vip.extra 列：必须是“是”或“否”。",
        ):
            assert "".join(line.split()) in shown, shown
    else:
        assert "line3,columncustom_fields.wallet_spend.coffee:Mustbeanumber" in shown
    assert _custom(db) == {}


def test_an_export_imported_again_keeps_what_was_stored_and_converts_what_reads(db, users, old):
    """As the API keeps a value sent back unchanged, a value an earlier import stored as read
    is kept as stored; what reads as its type is converted; a changed bad value is refused."""
    report = _import(db, users, OLD_EXPORT)
    assert (report.updated, report.rejected) == (3, 0)  # O1, O4, X1 converted
    assert _custom(db) == {
        **old,
        "O1": {"wallet_spend.coffee": "1200", "wallet_spend.tea": "300"},
        "O4": {**old["O4"], "language.x": "en", "wallet_spend.juice": "1200.5",
               "wallet_spend.milk": "2000"},
        "O5": {"wallet_spend.coffee": "-15.00", "wallet_spend.tea": "-3"},
        # the spreadsheet's date cell is the date; "Yes" is yes
        "X1": {"first_visit.web": "2024-02-29", "vip.extra": True, "wallet_spend.shoes": "1200.5"},
    }  # fmt: skip
    # A bad value that is not the stored one is a row error, nothing written.
    with pytest.raises(InvalidInput) as info:
        _import(db, users, OLD_EXPORT.replace("¥1200", "¥1300"))
    assert [(e.row, e.field) for e in info.value.errors] == [
        (3, "custom_fields.wallet_spend.coffee")
    ]
    assert _custom(db)["O2"] == {"wallet_spend.coffee": "¥1200"}
    # Corrected, the file imports: the keys an earlier import stored that no field could have
    # are kept as stored, the others converted.
    fixed = (
        OLD_EXPORT.replace("¥1200", "1200")
        .replace('""a lot""', '""""')
        .replace('""1 200""', '""1200""')
        .replace("29/02/2024", "2024-02-29")
        .replace('""maybe""', '""no""')
    )
    report = _import(db, users, fixed)
    assert report.rejected == 0
    stored = _custom(db)
    assert stored["O2"] == {"wallet_spend.coffee": "1200"}
    assert stored["O3"] == {}
    assert stored["O4"] == {
        "Coffee Beans": "x",
        "wallet_spend.Coffee Beans": "5",
        "language.x": "en",
        "wallet_spend.coffee": "1200",
        "wallet_spend.juice": "1200.5",
        "wallet_spend.milk": "2000",
    }
    assert stored["X2"] == {
        "first_visit.web": "2024-02-29",
        "vip.extra": False,
        "wallet_spend.shoes": "3000",
    }
    # Imported again, nothing changes.
    again = _import(db, users, "".join(service.export_csv(db, "customers", actor=users["admin"])))
    assert (again.updated, again.rejected) == (0, 0)


def test_a_spreadsheet_date_cell_fills_a_date_field(db, users):
    """An XLSX date cell is read as a datetime at midnight: a date field's own column and its
    breakdowns take the date, as the file's other date columns do; another time is refused."""
    define(db, users["admin"], [FIELDS[3]])
    wb = Workbook()
    ws = wb.active
    ws.append(["external_id", "name", "custom.first_visit", "custom.first_visit.web"])
    ws.append(["D1", "Ann", date(2024, 2, 29), date(2025, 1, 2)])
    buf = io.BytesIO()
    wb.save(buf)
    report = _import(db, users, buf.getvalue(), name="d.xlsx")
    assert (report.created, report.rejected) == (1, 0)
    stored = db.scalar(select(Customer.custom_fields).where(Customer.external_id == "D1"))
    assert stored == {"first_visit": "2024-02-29", "first_visit.web": "2025-01-02"}
    content = "external_id,name,custom.first_visit\nD2,Bob,2024-02-29T10:30:00\n"
    with pytest.raises(InvalidInput) as info:
        _import(db, users, content)
    assert [(e.row, e.field) for e in info.value.errors] == [(2, "custom.first_visit")]
