"""The product form's price and cost errors are sentences naming the field, in both languages.

They were the shared money checks' fragments: "must not be negative", "'abc' is not a number",
"amount must be at most 999999999999.99 in absolute value" (lower case, no full stop, no field).
The API keeps those messages after the field's code.
"""

from __future__ import annotations

import html
import re

import pytest

from retento.products.models import Product
from tests.customers.test_versions import _edit_form
from tests.factories import make_product
from tests.web.conftest import Browser

CASES = [
    (
        {"unit_price": "abc", "unit_cost": "1"},
        "unit_price",
        "List price must be a number, not 'abc'.",
        "标价必须是数字，'abc' 不是数字。",
    ),
    (
        {"unit_price": "1", "unit_cost": "-1"},
        "unit_cost",
        "Unit cost must not be negative.",
        "单位成本不能为负数。",
    ),
    (
        {"unit_price": "1e15", "unit_cost": "1"},
        "unit_price",
        "List price is too large: at most 999,999,999,999.99 is allowed.",
        "标价过大：最多允许 999,999,999,999.99。",
    ),
    (
        {"unit_price": "1", "unit_cost": "1.005"},
        "unit_cost",
        "Unit cost may have at most two decimal places.",
        "单位成本最多只能有两位小数。",
    ),
    (
        {"unit_price": "Infinity", "unit_cost": "1"},
        "unit_price",
        "List price must be an amount such as 12.50.",
        "标价必须是金额，例如 12.50。",
    ),
]


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _field_errors(page: str) -> dict[str, str]:
    found = re.findall(r'<p class="field-error" id="e-([^"]+)">([^<]*)<', page)
    return {k: html.unescape(v) for k, v in found}


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_new_product_price_errors_are_sentences_naming_the_field(web, db, users, lang):
    assert web.login("manager").status_code == 303
    web.post("/locale", {"lang": lang, "next": "/products"})
    for data, field, en, zh in CASES:
        r = web.post("/products/new", {"name": "Oolong", **data})
        assert r.status_code == 422, data
        assert _field_errors(r.text)[field] == (en if lang == "en" else zh), data
    assert db.query(Product).filter_by(name="Oolong").count() == 0


def test_the_edit_form_names_the_field_too(web, db, users):
    tea = make_product(db, name="Jasmine tea", external_id="TEA-001")
    db.commit()
    web.login("manager")
    form = _edit_form(web, f"/products/{tea.id}/edit")
    r = web.post(f"/products/{tea.id}/edit", {**form, "unit_cost": "-3"})
    assert r.status_code == 422
    assert _field_errors(r.text)["unit_cost"] == "Unit cost must not be negative."


def test_the_api_keeps_the_field_code_and_its_message(client, tokens):
    r = client.post(
        "/api/v1/products",
        json={"name": "Oolong", "unit_price": "1", "unit_cost": "-1"},
        headers=tokens["manager"],
    )
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "unit_cost"
    assert body["errors"][0]["message"] == "must not be negative"
