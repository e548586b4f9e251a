"""The browser import wizard, step by step, through the pages (test client, both databases)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from retento.customers.models import Customer
from retento.dataio import service
from retento.dataio.models import ImportJob
from retento.orders.models import Order
from retento.products.models import Product
from retento.touchpoints.models import Touchpoint
from tests.dataio.wizard_support import guessed, job_id_of, run, upload, walk_to_check
from tests.web.conftest import Browser

COUNT = {
    "customers": (Customer, 3),
    "products": (Product, 3),
    "orders": (Order, 2),
    "touchpoints": (Touchpoint, 1),  # the sample's second row is invalid on purpose
}

BROKEN_ORDERS = (
    "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price\n"
    "W1,IC001,2025-03-01T10:00:00+00:00,IP01,2,68.00\n"
    "W2,IC002,2025-03-02T10:00:00+00:00,IP02,x,24.00\n"
    "W3,NOPE,2025-03-03T10:00:00+00:00,IP03,1,5.8.0\n"
    "W4,IC003,2025-03-04T10:00:00+00:00,IP01,1,68.00\n"
)


def _count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


@pytest.fixture
def web(client, users) -> Browser:
    """A browser-like client that logs in through the login form."""
    return Browser(client)


@pytest.fixture
def manager(web, db):
    web.login("manager")
    return web


@pytest.fixture
def seeded(db, users, data_dir):
    """Customers and products the orders and touchpoints refer to."""
    admin = users["admin"]
    service.import_file(db, "customers", data_dir / "customers.csv", actor=admin)
    service.import_file(db, "products", data_dir / "products.csv", actor=admin)
    db.commit()


@pytest.mark.parametrize("entity", ["customers", "products", "orders", "touchpoints"])
def test_each_entity_walks_upload_map_check_import(manager, db, data_dir, users, entity):
    if entity in ("orders", "touchpoints"):
        admin = users["admin"]
        service.import_file(db, "customers", data_dir / "customers.csv", actor=admin)
        service.import_file(db, "products", data_dir / "products.csv", actor=admin)
        db.commit()
    model, expected = COUNT[entity]
    before = _count(db, model)
    content = (data_dir / f"{entity}.csv").read_bytes()
    first = manager.get("/imports")
    assert first.status_code == 200 and 'id="upload-form"' in first.text
    job = walk_to_check(manager, entity, f"{entity}.csv", content)
    check = manager.get(f"/imports/{job}")
    assert check.status_code == 200
    assert 'id="run-form"' in check.text
    invalid = 1 if entity == "touchpoints" else 0
    assert f'id="count-rejected">{invalid}<' in check.text
    assert ("Every row is valid." in check.text) == (not invalid)
    assert _count(db, model) == before  # checking writes nothing
    result = run(manager, job, "skip" if invalid else "all")
    assert 'id="import-result"' in result.text and f"Created: {expected}," in result.text
    db.expire_all()
    assert _count(db, model) - before == expected
    assert db.get(ImportJob, job).status == "done"


def test_mapping_page_guesses_columns_and_previews_rows(manager, seeded):
    content = (
        b"Order No,Customer,Date,SKU,Qty,Price,Comment\n"
        b"M1,IC001,2025-03-01T10:00:00+00:00,IP01,2,68.00,first\n"
    )
    r = upload(manager, "orders", "shop.csv", content)
    job = job_id_of(r)
    page = manager.get(f"/imports/{job}/mapping")
    assert guessed(page.text) == {
        "col_0": "order_external_id",
        "col_1": "customer_external_id",
        "col_2": "ordered_at",
        "col_3": "product_external_id",
        "col_4": "quantity",
        "col_5": "unit_price",
        "col_6": "",
    }
    assert "<td>first</td>" in page.text and "<td>M1</td>" in page.text


def test_broken_orders_all_or_nothing_writes_nothing_then_fixed_file_imports(manager, db, seeded):
    before = _count(db, Order)
    job = walk_to_check(manager, "orders", "broken.csv", BROKEN_ORDERS.encode())
    check = manager.get(f"/imports/{job}")
    text = check.text
    # With invalid rows the user chooses (it was preset to skipping them); without a choice the
    # run is refused, nothing written.
    radios = re.findall(r'<input type="radio" name="mode"[^>]*>', text)
    assert len(radios) == 2 and all("required" in r and "checked" not in r for r in radios)
    assert manager.post(f"/imports/{job}/run", {}).status_code == 422
    assert 'id="count-rows">4<' in text and 'id="count-rejected">2<' in text
    # Errors by line and column, in the importer's words.
    assert "&#39;x&#39; is not a whole number" in text
    assert "unknown customer &#39;NOPE&#39; (import customers first)" in text
    assert "&#39;5.8.0&#39; is not a number" in text
    rejects = manager.get(f"/imports/{job}/rejects.csv")
    assert rejects.status_code == 200 and rejects.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(rejects.content.decode("utf-8-sig"))))
    assert [(r["order_external_id"], r["_line"]) for r in rows] == [("W2", "3"), ("W3", "4")]
    assert "quantity" in rows[0]["_error"]

    result = run(manager, job, "all")
    assert "Nothing was imported." in result.text
    assert "All or nothing was chosen" in result.text
    db.expire_all()
    assert _count(db, Order) == before
    assert db.get(ImportJob, job).status == "failed"
    # The run cannot be repeated; a fixed file goes through the wizard again.
    again = manager.post(f"/imports/{job}/run", {"mode": "skip"})
    assert again.status_code == 303
    db.expire_all()
    assert db.get(ImportJob, job).status == "failed" and _count(db, Order) == before

    fixed = BROKEN_ORDERS.replace(",x,", ",1,").replace("NOPE", "IC002").replace("5.8.0", "5.80")
    job2 = walk_to_check(manager, "orders", "fixed.csv", fixed.encode())
    assert "Every row is valid." in manager.get(f"/imports/{job2}").text
    result = run(manager, job2, "all")
    assert "Created: 4, updated: 0, unchanged: 0, rejected: 0." in result.text
    db.expire_all()
    assert _count(db, Order) == before + 4


def test_skip_invalid_writes_good_rows_and_offers_rejects(manager, db, seeded):
    before = _count(db, Order)
    job = walk_to_check(manager, "orders", "broken.csv", BROKEN_ORDERS.encode())
    result = run(manager, job, "skip")
    assert 'id="count-created">2<' in result.text and 'id="count-rejected">2<' in result.text
    assert 'id="download-rejects"' in result.text
    db.expire_all()
    assert _count(db, Order) == before + 2
    ext = set(db.scalars(select(Order.external_id).where(Order.external_id.like("W%"))))
    assert ext == {"W1", "W4"}
    rejects = manager.get(f"/imports/{job}/rejects.csv").content.decode("utf-8-sig")
    assert "W2" in rejects and "W3" in rejects and "W1" not in rejects
    # A second click on "Import" (or a retry) imports nothing twice.
    assert manager.post(f"/imports/{job}/run", {"mode": "skip"}).status_code == 303
    db.expire_all()
    assert _count(db, Order) == before + 2
    # The same file again: the good rows are unchanged (upsert by external id).
    job2 = walk_to_check(manager, "orders", "broken.csv", BROKEN_ORDERS.encode())
    again = run(manager, job2, "skip")
    assert "Created: 0, updated: 0, unchanged: 2, rejected: 2." in again.text


def test_wrong_encoding_names_the_line_and_the_right_encoding_imports(manager, db, data_dir):
    content = (data_dir / "customers_gb18030.csv").read_bytes()
    r = upload(manager, "customers", "gbk.csv", content)
    assert r.status_code == 422
    assert "Line 3 is not valid utf-8 text" in r.text and 'id="e-file"' in r.text
    assert db.scalar(select(func.count()).select_from(ImportJob)) == 0
    r = upload(manager, "customers", "gbk.csv", content, encoding="gb18030")
    assert r.status_code == 303
    job = job_id_of(r)
    page = manager.get(f"/imports/{job}/mapping")
    assert "张三" in page.text
    r = manager.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": "UTC"})
    assert r.status_code == 303
    result = run(manager, job, "all")
    assert "Created: 2" in result.text
    db.expire_all()
    assert db.scalar(select(Customer.name).where(Customer.external_id == "IC011")) == "张三"


def test_missing_required_column_stays_on_the_mapping_step(manager, db, seeded):
    job_resp = upload(manager, "orders", "o.csv", BROKEN_ORDERS.encode())
    job = job_id_of(job_resp)
    page = manager.get(f"/imports/{job}/mapping")
    data = {**guessed(page.text), "col_4": "", "timezone": "UTC"}  # quantity not imported
    r = manager.post(f"/imports/{job}/mapping", data)
    assert r.status_code == 422
    assert "required column &#39;quantity&#39; is missing" in r.text
    db.expire_all()
    assert db.get(ImportJob, job).status == "uploaded"
    # The same field chosen for two columns is refused too.
    data = {**guessed(page.text), "col_5": "quantity", "timezone": "UTC"}
    r = manager.post(f"/imports/{job}/mapping", data)
    assert r.status_code == 422 and "both give field" in r.text
    r = manager.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": "Mars/Base"})
    assert r.status_code == 422 and "Unknown time zone" in r.text


def test_duplicate_keys_and_bad_numbers_are_listed_by_row(manager, db, data_dir):
    job = walk_to_check(
        manager, "customers", "dup.csv", (data_dir / "customers_duplicate_ids.csv").read_bytes()
    )
    text = manager.get(f"/imports/{job}").text
    assert "already appears on line" in text
    products = "external_id,name,unit_price,unit_cost\nQ1,Tea,abc,1.00\nQ2,Cup,2.005,1.00\n"
    job = walk_to_check(manager, "products", "p.csv", products.encode())
    text = manager.get(f"/imports/{job}").text
    assert "&#39;abc&#39; is not a number" in text
    assert "&#39;2.005&#39; has more than two decimals" in text
    before = _count(db, Product)
    assert "Nothing was imported." in run(manager, job, "all").text
    db.expire_all()
    assert _count(db, Product) == before


def test_errors_are_shown_in_chinese(manager, db, seeded, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    job = walk_to_check(manager, "orders", "broken.csv", BROKEN_ORDERS.encode())
    text = manager.get(f"/imports/{job}").text
    assert "检查" in text
    assert "&#39;x&#39; 不是整数" in text
    assert "未知客户 &#39;NOPE&#39;" in text


def test_empty_and_oversized_and_missing_files_are_refused_on_step_one(manager, db, monkeypatch):
    r = upload(manager, "orders", "empty.csv", b"")
    assert r.status_code == 422 and "is empty" in r.text
    r = manager.client.post(
        "/imports",
        data={"csrf_token": manager.token, "entity": "orders"},
        follow_redirects=False,
    )
    assert r.status_code == 422 and "Choose a CSV or XLSX file." in r.text
    r = upload(manager, "planets", "x.csv", b"a,b\n1,2\n")
    assert r.status_code == 422 and "Choose what the file holds." in r.text
    from retento.core.limits import Limits
    from retento.dataio import pages

    monkeypatch.setattr(pages, "current_limits", lambda: Limits(upload_bytes=2048))
    r = upload(manager, "orders", "big.csv", b"a,b\n" + b"1,2\n" * 2000)
    assert r.status_code == 422 and "The file is larger than 2 KB." in r.text
    assert db.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_permissions_and_ownership(web, db, users, data_dir):
    web.login("agent")
    assert web.get("/imports").status_code == 403
    assert 'href="/imports"' not in web.get("/customers").text
    web.client.cookies.clear()
    web.login("manager")
    r = upload(web, "customers", "c.csv", (data_dir / "customers.csv").read_bytes())
    job = job_id_of(r)
    assert 'href="/imports"' in web.get("/customers").text
    from tests.factories import make_user

    make_user(db, username="manager2", role="manager")
    db.commit()
    web.client.cookies.clear()
    web.login("manager2")
    assert web.get(f"/imports/{job}/mapping").status_code == 404
    assert web.get(f"/imports/{job}/rejects.csv").status_code == 404
    web.client.cookies.clear()
    web.login("admin")
    assert web.get(f"/imports/{job}/mapping").status_code == 200


def test_posts_without_csrf_are_refused(manager, data_dir):
    r = manager.client.post(
        "/imports",
        data={"entity": "customers"},
        files={"file": ("c.csv", (data_dir / "customers.csv").read_bytes(), "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 403


def test_xlsx_workbook_imports_and_a_done_job_keeps_only_its_rejects(manager, db, seeded):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["SKU", "Product name", "Price", "Cost", "Category"])
    ws.append(["X1", "Teapot", 35.5, 12, "teaware"])
    ws.append(["X2", "Cup", "cheap", 1, "teaware"])
    buf = io.BytesIO()
    wb.save(buf)
    r = manager.client.post(
        "/imports",
        data={"csrf_token": manager.token, "entity": "products"},
        files={"file": ("products.xlsx", buf.getvalue(), "application/octet-stream")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    job = job_id_of(r)
    page = manager.get(f"/imports/{job}/mapping")
    assert guessed(page.text) == {
        "col_0": "external_id",
        "col_1": "name",
        "col_2": "unit_price",
        "col_3": "unit_cost",
        "col_4": "category",
    }
    assert "<td>Teapot</td>" in page.text
    manager.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": "UTC"})
    check = manager.get(f"/imports/{job}").text
    assert "&#39;cheap&#39; is not a number" in check and 'id="count-rejected">1<' in check
    result = run(manager, job, "skip")
    assert "Created: 1, updated: 0, unchanged: 0, rejected: 1." in result.text
    db.expire_all()
    assert db.scalar(select(Product.unit_price).where(Product.external_id == "X1")) == 35.5
    stored = db.get(ImportJob, job)
    assert stored.content == b"" and b"cheap" in stored.rejects
    # The mapping step of an imported job leads back to its result.
    r = manager.get(f"/imports/{job}/mapping", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/imports/{job}"


def test_a_file_that_breaks_after_the_preview_fails_the_check_with_its_line(manager, db):
    good = "".join(f"Z{i},Name {i},1.00,0.50\n" for i in range(8))
    content = (
        "external_id,name,unit_price,unit_cost\n" + good + 'Z9,"Open quote,1.00,0.50\n'
    ).encode()
    job = walk_to_check(manager, "products", "quote.csv", content)
    page = manager.get(f"/imports/{job}")
    assert "Nothing was imported." in page.text
    assert "a quoted value is never closed" in page.text
    assert '<td class="num">10</td>' in page.text  # the line where the record starts
    stored = db.get(ImportJob, job)
    assert (stored.status, stored.phase) == ("failed", "validating")
    db.expire_all()
    assert (
        db.scalar(select(func.count()).select_from(Product).where(Product.external_id.like("Z%")))
        == 0
    )
    # The run cannot start from a failed check.
    assert manager.post(f"/imports/{job}/run", {"mode": "skip"}).status_code == 303
    db.expire_all()
    assert db.get(ImportJob, job).status == "failed"


def test_finished_and_failed_imports_are_announced_for_notifications(
    manager, db, seeded, monkeypatch
):
    from retento.core import hooks

    heard: list[tuple[str, int, str]] = []
    for event in ("import.finished", "import.failed"):
        subs = [*hooks._SUBSCRIBERS.get(event, [])]
        subs.append(lambda s, job, actor, e=event: heard.append((e, job.id, job.status)))
        monkeypatch.setitem(hooks._SUBSCRIBERS, event, subs)
    job = walk_to_check(manager, "orders", "broken.csv", BROKEN_ORDERS.encode())
    assert heard == []  # checking announces nothing
    run(manager, job, "all")
    job2 = walk_to_check(manager, "orders", "broken.csv", BROKEN_ORDERS.encode())
    run(manager, job2, "skip")
    assert heard == [("import.failed", job, "failed"), ("import.finished", job2, "done")]
