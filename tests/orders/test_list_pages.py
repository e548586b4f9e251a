"""The order list page: filters, sort, pagination, roles, bad input, CSV/XLSX export, Chinese."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.factories import make_customer, make_order, make_product
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _orders(db):
    ada = make_customer(db, name="Ada Lovelace", external_id="C-ADA")
    bob = make_customer(db, name='=cmd|" /C calc"!A0', external_id="C-BOB")
    cheap = make_product(db, name="Mug", unit_price=Decimal("5.00"), unit_cost=Decimal("2.00"))
    dear = make_product(db, name="Kettle", unit_price=Decimal("40.00"), unit_cost=Decimal("25.00"))
    o1 = make_order(
        db, ada, lines=[(cheap, 2)], ordered_at=datetime(2025, 1, 10, 12, tzinfo=UTC),
        external_id="O-1",
    )  # fmt: skip
    o2 = make_order(
        db, ada, lines=[(dear, 3)], ordered_at=datetime(2025, 2, 10, 12, tzinfo=UTC),
        external_id="O-2", status="cancelled",
    )  # fmt: skip
    o3 = make_order(
        db, bob, lines=[(dear, 1)], ordered_at=datetime(2025, 3, 10, 12, tzinfo=UTC),
        external_id="O-3", channel="web",
    )  # fmt: skip
    db.commit()
    return o1, o2, o3


def _ids(page) -> list[int]:
    assert page.status_code == 200, page.text[:500]
    return [int(i) for i in re.findall(r'<a href="/orders/(\d+)">#', page.text)]


def test_roles_see_the_list_and_only_exporters_the_links(web, db, users):
    _orders(db)
    for role in ("admin", "manager", "agent", "analyst"):
        web.client.cookies.clear()
        web.login(role)
        page = web.get("/orders")
        assert page.status_code == 200 and len(_ids(page)) == 3, role
        assert page.text.count('class="active"') == 1
        assert ('href="/orders"' in page.text) and 'class="active">' in page.text
        exports = role != "agent"
        assert ("/orders/export.csv" in page.text) is exports, role
        assert ("/orders/export.xlsx" in page.text) is exports, role
        code = web.get("/orders/export.xlsx").status_code
        assert code == (200 if exports else 403), role


def test_filters_and_sort(web, db, users):
    o1, o2, o3 = _orders(db)
    web.login("manager")
    assert _ids(web.get("/orders")) == [o3.id, o2.id, o1.id]  # newest first
    assert _ids(web.get("/orders?sort=ordered_at")) == [o1.id, o2.id, o3.id]
    assert _ids(web.get("/orders?sort=-revenue")) == [o2.id, o3.id, o1.id]
    assert _ids(web.get("/orders?customer=lovelace")) == [o2.id, o1.id]
    assert _ids(web.get("/orders?customer=C-BOB")) == [o3.id]
    assert _ids(web.get(f"/orders?customer={o3.customer_id}")) == [o3.id]
    assert _ids(web.get("/orders?status=cancelled")) == [o2.id]
    assert _ids(web.get("/orders?channel=web")) == [o3.id]
    assert _ids(web.get("/orders?since=2025-02-01&until=2025-03-10")) == [o3.id, o2.id]
    assert _ids(web.get("/orders?until=2025-01-10")) == [o1.id]
    assert _ids(web.get("/orders?min_amount=40&max_amount=100")) == [o3.id]
    assert _ids(web.get("/orders?min_amount=10.00")) == [o3.id, o2.id, o1.id]  # ends included
    assert _ids(web.get("/orders?min_amount=10.01")) == [o3.id, o2.id]


@pytest.mark.parametrize(
    "query, field",
    [
        ("since=2025-13-01", "since"),
        ("until=yesterday", "until"),
        ("since=2025-03-01&until=2025-02-01", "until"),
        ("min_amount=1.005", "min_amount"),
        ("max_amount=abc", "max_amount"),
        ("min_amount=10&max_amount=5", "max_amount"),
        ("status=lost", "status"),
        ("sort=password", "sort"),
    ],
)
def test_bad_filters_answer_422_naming_the_field(web, db, users, query, field):
    web.login("manager")
    r = web.get("/orders?" + query)
    assert r.status_code == 422 and field in r.text
    assert web.get("/orders/export.csv?" + query).status_code == 422
    api = web.client.get("/orders?" + query, headers={"accept": "application/json"})
    assert api.status_code == 422


def test_pagination(web, db, users):
    c = make_customer(db, name="Bulk buyer")
    p = make_product(db)
    for n in range(53):
        make_order(db, c, lines=[(p, 1)], ordered_at=datetime(2024, 1, 1, n % 24, tzinfo=UTC))
    db.commit()
    web.login("manager")
    first = web.get("/orders?customer=bulk")
    assert len(_ids(first)) == 50 and "offset=50" in first.text
    assert len(_ids(web.get("/orders?customer=bulk&offset=50"))) == 3


def test_exports_follow_the_filter_and_neutralise_formulas(web, db, users):
    o1, o2, o3 = _orders(db)
    web.login("analyst")
    r = web.get("/orders/export.csv?customer=lovelace&sort=ordered_at")
    assert r.status_code == 200 and "orders.csv" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "order_external_id" and rows[0][-4:] == [
        "order_revenue", "order_cost", "order_profit", "order_refunded",
    ]  # fmt: skip
    assert sorted(r[0] for r in rows[1:]) == ["O-1", "O-2"]
    assert {r[-4] for r in rows[1:]} == {"10.00", "120.00"}
    # The customer's name is not exported, but a formula-looking order number would be:
    # check neutralisation on the XLSX of an order whose note-free text fields are plain.
    x = web.get("/orders/export.xlsx?customer=C-BOB")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    values = list(ws.values)
    assert values[1][0] == "O-3" and values[1][1] == "C-BOB" and values[1][-4] == 40
    assert isinstance(values[1][2], datetime)  # a real date cell, local time


def test_a_formula_looking_external_id_is_neutralised(web, db, users):
    c = make_customer(db, name="Eve", external_id="=1+2")
    make_order(db, c, external_id="@SUM(A1:A9)")
    db.commit()
    web.login("manager")
    rows = list(
        csv.reader(
            io.StringIO(web.get("/orders/export.csv?customer=Eve").content.decode("utf-8-sig"))
        )
    )
    assert rows[1][0] == "'@SUM(A1:A9)" and rows[1][1] == "'=1+2"
    ws = load_workbook(io.BytesIO(web.get("/orders/export.xlsx?customer=Eve").content)).active
    assert ws.cell(row=2, column=1).value == "'@SUM(A1:A9)"
    assert ws.cell(row=2, column=2).data_type == "s"


def test_the_list_speaks_chinese(web, db, users):
    _orders(db)
    web.login("manager")
    web.post("/locale", data={"lang": "zh_CN", "next": "/orders"})
    page = web.get("/orders")
    assert "订单" in page.text and "金额" in page.text and "导出" in page.text
