"""Imported amounts with a comma: "1,250.00" groups thousands; "12,50" is a row error, not 1250
(service, CLI translation and the wizard in both languages; SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from retento.core.errors import InvalidInput
from retento.dataio import service
from retento.dataio.messages import translate
from retento.orders.models import Order
from retento.products.models import Product
from retento.web.i18n import gettext
from tests.dataio.wizard_support import run, walk_to_check
from tests.web.conftest import Browser

BAD = 'external_id,name,unit_price,unit_cost\nQ1,Tea,"12,50","3,5"\nQ2,Cup,"1,,000",1.00\n'
GOOD = 'external_id,name,unit_price,unit_cost\nQ3,Urn,"1,250.00","１，０００"\nQ4,Pot,"12,345,678.9",1\n'


def _products(db) -> int:
    return db.scalar(select(func.count()).select_from(Product))


def test_a_decimal_comma_is_a_row_error_and_nothing_is_written(db, users):
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "products", BAD.encode(), name="p.csv", actor=users["admin"])
    got = [(e.row, e.field, e.message) for e in exc.value.errors]
    assert got == [
        (2, "unit_price", "'12,50' is not a number: a comma may only group thousands (1,250.00); "
         "use a point for decimals: 12.50"),
        (2, "unit_cost", "'3,5' is not a number: a comma may only group thousands (1,250.00); "
         "use a point for decimals: 3.5"),
        (3, "unit_price", "'1,,000' is not a number: a comma may only group thousands (1,250.00)"),
    ]  # fmt: skip
    assert _products(db) == 0
    # The CLI and the wizard word it in Chinese by its shape.
    zh = [translate(e.message, lambda m: gettext("zh_CN", m)) for e in exc.value.errors]
    assert zh[0] == "'12,50' 不是数字：逗号只能用作千位分隔符（如 1,250.00）；小数请用小数点：12.50"
    assert zh[2] == "'1,,000' 不是数字：逗号只能用作千位分隔符（如 1,250.00）"


def test_grouped_thousands_still_import(db, users):
    report = service.import_file(db, "products", GOOD.encode(), name="p.csv", actor=users["admin"])
    assert report.created == 2
    prices = dict(db.execute(select(Product.external_id, Product.unit_price)).all())
    costs = dict(db.execute(select(Product.external_id, Product.unit_cost)).all())
    assert (str(prices["Q3"]), str(costs["Q3"]), str(prices["Q4"])) == (
        "1250.00",
        "1000.00",
        "12345678.90",
    )


def test_order_line_price_with_a_decimal_comma_is_refused(db, users, data_dir):
    admin = users["admin"]
    service.import_file(db, "customers", data_dir / "customers.csv", actor=admin)
    service.import_file(db, "products", data_dir / "products.csv", actor=admin)
    data = (
        "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price\n"
        'C1,IC001,2025-01-01T00:00:00+00:00,IP01,1,"10,5"\n'
    )
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "orders", data.encode(), name="o.csv", actor=admin)
    assert [(e.row, e.field) for e in exc.value.errors] == [(2, "unit_price")]
    assert "use a point for decimals: 10.5" in exc.value.errors[0].message
    assert db.scalar(select(func.count()).select_from(Order)) == 0


def test_the_wizard_lists_the_comma_errors_in_chinese(client, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    job = walk_to_check(web, "products", "p.csv", BAD.encode())
    text = web.get(f"/imports/{job}").text
    assert (
        "&#39;12,50&#39; 不是数字：逗号只能用作千位分隔符（如 1,250.00）；小数请用小数点：12.50"
        in text
    )
    assert "&#39;1,,000&#39; 不是数字：逗号只能用作千位分隔符（如 1,250.00）" in text
    run(web, job, "all")
    db.expire_all()
    assert _products(db) == 0
