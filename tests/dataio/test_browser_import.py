"""Browser test of the import wizard (issue 14, point 4): a manager imports a broken orders file
in Chromium, sees the errors by row and column, downloads the rejected rows, uploads the fixed
file, imports it and finds the orders in the order list."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from retento.core.db import make_engine, make_session_factory, transaction
from retento.customers.models import Customer
from retento.orders.models import Order
from retento.products.models import Product
from tests.web.test_browser import browser, login, page, server  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser


def _keys(server) -> tuple[str, str, str]:  # noqa: F811
    """A customer's and two products' external ids in the live database."""
    engine = make_engine(server.url_db)
    try:
        with transaction(make_session_factory(engine)) as s:
            cust = s.scalar(
                select(Customer.external_id)
                .where(Customer.external_id.is_not(None))
                .order_by(Customer.id)
            )
            p1, p2 = s.scalars(select(Product.external_id).order_by(Product.id).limit(2)).all()
    finally:
        engine.dispose()
    return cust, p1, p2


def _orders_file(cust: str, p1: str, p2: str, *, broken: bool) -> bytes:
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0).isoformat()
    rows = [
        ["order_external_id", "customer_external_id", "ordered_at", "product_external_id",
         "quantity", "unit_price"],
        ["WEB-1001", cust, at, p1, "2", "24.90"],
        ["WEB-1001", cust, at, p2, "1", "79.00"],
        ["WEB-1002", "NO-SUCH-CUSTOMER" if broken else cust, at, p1, "1", "24.90"],
        ["WEB-1003", cust, at, p2, "two" if broken else "2", "79.00"],
    ]  # fmt: skip
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def _upload_and_check(page, server, content: bytes, name: str) -> None:  # noqa: F811
    page.goto(f"{server.base_url}/imports")
    page.select_option("#f-entity", "orders")
    page.set_input_files("#f-file", {"name": name, "mimeType": "text/csv", "buffer": content})
    page.click("#upload-submit")
    page.wait_for_url(re.compile(r"/imports/\d+/mapping$"))
    # The columns are recognised and the first rows are previewed.
    assert page.input_value("#map-0") == "order_external_id"
    assert page.input_value("#map-4") == "quantity"
    assert "WEB-1001" in page.inner_text("#preview")
    page.click("#mapping-submit")
    page.wait_for_selector("#check-summary")


def test_manager_fixes_a_broken_orders_file_and_imports_it(page, server, tmp_path):  # noqa: F811
    cust, p1, p2 = _keys(server)
    login(page, server, "manager")
    page.click("nav details.moremenu summary")  # Import is under More
    page.click("nav a[href='/imports']")
    page.wait_for_selector("#upload-form")

    _upload_and_check(page, server, _orders_file(cust, p1, p2, broken=True), "orders.csv")
    assert page.inner_text("#count-rows") == "4"
    assert page.inner_text("#count-rejected") == "2"
    errors = page.inner_text("#import-errors")
    assert "unknown customer 'NO-SUCH-CUSTOMER' (import customers first)" in errors
    assert "'two' is not a whole number" in errors
    assert re.search(r"\b4\s+customer_external_id\b", errors)
    assert re.search(r"\b5\s+quantity\b", errors)

    with page.expect_download() as info:
        page.click("#download-rejects")
    path = tmp_path / "rejects.csv"
    info.value.save_as(path)
    rejects = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [(r["order_external_id"], r["_line"]) for r in rejects] == [
        ("WEB-1002", "4"),
        ("WEB-1003", "5"),
    ]
    assert "quantity" in rejects[1]["_error"]

    # All or nothing with bad rows writes nothing.
    page.check("#run-form input[value=all]")
    page.click("#run-import")
    page.wait_for_selector("#import-result")
    assert "Nothing was imported." in page.inner_text("#import-result")
    engine = make_engine(server.url_db)
    try:
        with transaction(make_session_factory(engine)) as s:
            assert s.scalars(select(Order).where(Order.external_id.like("WEB-%"))).all() == []
    finally:
        engine.dispose()

    # The fixed file goes through cleanly.
    page.click("text=Import another file")
    page.wait_for_selector("#upload-form")
    _upload_and_check(page, server, _orders_file(cust, p1, p2, broken=False), "orders-fixed.csv")
    assert "Every row is valid." in page.inner_text("#check-verdict")
    assert page.is_checked("#run-form input[value=all]")
    page.click("#run-import")
    page.wait_for_selector("#import-result")
    assert "Created: 3, updated: 0, unchanged: 0, rejected: 0." in page.inner_text("#import-result")
    page.click("text=Open the order list")
    page.wait_for_url(f"{server.base_url}/orders")
    listed = page.inner_text("#results")
    for ext in ("WEB-1001", "WEB-1002", "WEB-1003"):
        assert ext in listed


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_a_column_is_kept_under_a_custom_key_typed_for_it(page, server, lang):  # noqa: F811
    """A customer file's column "Loyalty card no." kept as custom.loyalty_card: the key typed
    under the column on the mapping step (a plain form field, no script); a key no custom
    field could have is refused naming the column, in the reader's language, the key kept in
    its box to correct."""
    zh = lang == "zh_CN"
    ext = f"LOY-{lang}"
    login(page, server, "manager")
    if zh:
        page.click("form.langswitch button[value='zh_CN']")
        page.wait_for_selector("html[lang=zh-CN]", state="attached")
    try:
        page.goto(f"{server.base_url}/imports")
        page.select_option("#f-entity", "customers")
        content = f"external_id,name,Loyalty card no.\n{ext},Loyal {lang},LC-{lang}\n".encode()
        page.set_input_files(
            "#f-file", {"name": "loyalty.csv", "mimeType": "text/csv", "buffer": content}
        )
        page.click("#upload-submit")
        page.wait_for_url(re.compile(r"/imports/\d+/mapping$"))
        assert page.input_value("#map-2") == ""
        page.fill("#key-2", "Loyalty Card")
        page.click("#mapping-submit")
        page.wait_for_selector("#mapping-problems, .flash-error")
        said = (
            "列“Loyalty card no.”：“Loyalty Card”不是有效的自定义字段键"
            if zh
            else "Column 'Loyalty card no.': 'Loyalty Card' is not a custom field key"
        )
        assert said in page.inner_text("main")
        assert page.input_value("#key-2") == "Loyalty Card"
        assert page.get_attribute("#key-2", "aria-invalid") == "true"
        page.fill("#key-2", "loyalty_card")
        page.click("#mapping-submit")
        page.wait_for_selector("#check-summary")
        shown = "loyalty_card（未定义）" if zh else "loyalty_card (not defined)"
        assert shown in page.inner_text("main")
        page.click("#run-import")
        page.wait_for_selector("#import-result")
        engine = make_engine(server.url_db)
        try:
            with transaction(make_session_factory(engine)) as s:
                stored = s.scalar(select(Customer.custom_fields).where(Customer.external_id == ext))
        finally:
            engine.dispose()
        assert stored == {"loyalty_card": f"LC-{lang}"}
    finally:
        if zh:  # the manager's language is stored: leave it as the other tests expect it
            page.click("form.langswitch button[value='en']")
            page.wait_for_selector("html[lang=en]", state="attached")
