"""XLSX exports show money with two decimals (QA: 66.00 was shown "66", Excel's General format),
keeping the exact value; counts, shares and dates keep their own formats."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from retento.dataio.downloads import MONEY_FORMAT, xlsx_chunks
from tests.factories import make_customer, make_order, make_product
from tests.web.conftest import Browser


def _sheet(content: bytes):
    return load_workbook(io.BytesIO(content)).active


def test_money_cells_carry_a_two_decimal_format_and_their_exact_value():
    rows = [["amount", "big", "count", "share", "day", "name"]]
    rows += [[Decimal("66.00"), Decimal("12345678901.23"), 7, 0.25, date(2025, 1, 2), "Ada"]]
    ws = _sheet(b"".join(xlsx_chunks(iter([rows]), "s", ZoneInfo("UTC"))))
    money, big, count, share, day, name = next(ws.iter_rows(min_row=2, max_row=2))
    assert money.value == 66 and money.number_format == MONEY_FORMAT == "#,##0.00"
    assert money.data_type == "n"
    assert (
        Decimal(str(big.value)) == Decimal("12345678901.23") and big.number_format == MONEY_FORMAT
    )
    assert count.value == 7 and count.number_format == "General"
    assert share.value == 0.25 and share.number_format == "General"
    assert day.is_date and name.value == "Ada" and name.number_format == "General"


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def test_the_order_list_export_shows_its_amounts_with_two_decimals(web, db, users):
    ada = make_customer(db, name="Ada Lovelace", external_id="C-ADA")
    mug = make_product(db, name="Mug", unit_price=Decimal("33.00"), unit_cost=Decimal("12.50"))
    make_order(
        db, ada, lines=[(mug, 2)], ordered_at=datetime(2025, 1, 10, 12, tzinfo=UTC),
        external_id="O-66",
    )  # fmt: skip
    db.commit()
    web.login("analyst")
    r = web.get("/orders/export.xlsx?customer=C-ADA")
    assert r.status_code == 200
    ws = _sheet(r.content)
    header = [c.value for c in ws[1]]
    row = dict(zip(header, ws[2], strict=True))
    revenue = row["order_revenue"]
    assert revenue.value == 66 and revenue.number_format == MONEY_FORMAT
    assert row["order_cost"].value == 25 and row["order_cost"].number_format == MONEY_FORMAT
    assert row["quantity"].number_format == "General"
