"""XLSX export of the customer list: the current filter, formulas neutralised, data:export only."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.factories import make_customer
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def test_customer_list_exports_xlsx_of_the_filter(web, db, users):
    make_customer(db, name="Ada Lovelace", external_id="C-1", city="London")
    make_customer(db, name="=SUM(A1:A3)", external_id="C-2", city="London")
    make_customer(db, name="Bob Stone", external_id="C-3", city="Paris", kind="business")
    db.commit()
    web.login("agent")
    page = web.get("/customers")
    assert "/customers/export.xlsx" not in page.text
    assert web.get("/customers/export.xlsx").status_code == 403
    web.client.cookies.clear()
    web.login("analyst")
    page = web.get("/customers?kind=consumer")
    assert "/customers/export.xlsx?kind=consumer" in page.text
    r = web.get("/customers/export.xlsx?kind=consumer")
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.values)
    assert rows[0][:2] == ("external_id", "name")
    names = {row[1] for row in rows[1:]}
    assert names == {"Ada Lovelace", "'=SUM(A1:A3)"}
    assert all(ws.cell(row=n, column=2).data_type == "s" for n in range(2, len(rows) + 1))
    assert web.get("/customers/export.xlsx?owner=abc").status_code == 422


@pytest.mark.parametrize(
    ("query", "field"),
    [("owner=abc", "owner"), ("kind=zzz", "kind"), ("archived=maybe", "archived")],
)
def test_a_bad_filter_is_refused_by_the_csv_export_too(web, db, users, query, field):
    """QA: /customers/export.csv?kind=zzz (a hand-edited or stale link) downloaded every
    customer, while the list and the XLSX export answered 422: the CSV export dropped the
    filter's problems."""
    make_customer(db, name="Ada Lovelace", external_id="C-1", kind="consumer")
    make_customer(db, name="Bob Stone", external_id="C-3", kind="business")
    db.commit()
    web.login("analyst")
    for fmt in ("csv", "xlsx"):
        r = web.get(f"/customers/export.{fmt}?{query}")
        assert r.status_code == 422, (fmt, r.status_code)
        assert "Bob Stone" not in r.text
        assert f"{field}" in r.text
    assert "Bob Stone" not in web.get("/customers/export.csv?kind=consumer").text
