"""Findings of an exploratory probe of the JSON API (an attacker and a careless integrator on
PostgreSQL): each reproduced as the request that showed it, now a 4xx naming the field.

Runs on SQLite and PostgreSQL (the ``client`` fixture); the blank phone was a 500 on both, the
over-long import cell a 500 on PostgreSQL (COPY) and silently stored on SQLite.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.core.errors import InvalidInput
from retento.customers.models import Customer
from retento.dataio import service as dataio
from retento.web.i18n import gettext
from tests.factories import make_customer, make_product
from tests.factories.complaints import make_complaint


def problem(r, status: int, field: str | None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body.get("field") == field, body
    return body


# --- a blank phone was a 500 ---------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_a_blank_phone_is_no_phone(client, db, tokens, blank):
    """``"phone": ""`` (an empty form field sent as is) made ``check_phone`` answer None, then
    ``Field(max_length=50)`` measured None: TypeError, a 500 on create, edit and contacts."""
    h = tokens["admin"]
    r = client.post(
        "/api/v1/customers?force=true", json={"name": "Blank", "phone": blank}, headers=h
    )
    assert r.status_code == 201, r.text
    assert r.json()["phone"] is None
    cid = r.json()["id"]
    r = client.patch(f"/api/v1/customers/{cid}", json={"phone": "+86 130 0000 0000"}, headers=h)
    assert r.status_code == 200 and r.json()["phone"] == "+86 130 0000 0000"
    r = client.patch(f"/api/v1/customers/{cid}", json={"phone": blank}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["phone"] is None
    r = client.patch(
        f"/api/v1/customers/{cid}", json={"contacts": [{"name": "Li", "phone": blank}]}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["contacts"][0]["phone"] is None


def test_a_phone_is_still_limited_to_50_characters(client, tokens):
    h = tokens["admin"]
    r = client.post(
        "/api/v1/customers?force=true", json={"name": "Long", "phone": "1 " * 30}, headers=h
    )
    problem(r, 422, "phone")
    # Surrounding space is not stored, so it does not count.
    r = client.post(
        "/api/v1/customers?force=true",
        json={"name": "Padded", "phone": "  +86 130 0000 0001" + " " * 40},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["phone"] == "+86 130 0000 0001"


# --- an over-long cell in a short row reached the database ---------------------------------------


@pytest.mark.parametrize(
    "entity,csv,field",
    [
        ("customers", "external_id,name\n" + "x" * 100 + ",Ann\n", "external_id"),
        ("customers", "external_id,name,city\nC1,Ann," + "c" * 120 + "\n", "city"),
        (
            "products",
            "external_id,name,unit_price,unit_cost\n" + "p" * 70 + ",P,1,1\n",
            "external_id",
        ),
    ],
)
def test_an_over_long_value_in_a_short_row_is_refused(db, users, entity, csv, field):
    """Lengths were checked only on rows longer than 250 characters in all: a 100-character
    external_id in a short row went to COPY (PostgreSQL: "value too long for type character
    varying(64)", a 500) or was stored as is (SQLite)."""
    with pytest.raises(InvalidInput) as exc:
        dataio.import_file(db, entity, csv.encode(), actor=users["admin"], name="short.csv")
    assert exc.value.field == field
    assert exc.value.errors[0].row == 2
    assert "characters long; the limit is" in exc.value.errors[0].message


def test_an_over_long_value_over_the_api_is_a_422_and_nothing_is_imported(client, db, tokens):
    before = db.scalar(select(func.count()).select_from(Customer))
    data = b"external_id,name\nOK1,Ann\n" + b"x" * 65 + b",Bo\n"
    r = client.post(
        "/api/v1/imports/customers",
        files={"file": ("c.csv", data, "text/csv")},
        headers=tokens["admin"],
    )
    body = problem(r, 422, "external_id")
    assert body["errors"][0]["row"] == 3
    assert db.scalar(select(func.count()).select_from(Customer)) == before


def test_a_country_code_with_spaces_still_imports_and_a_name_says_why_not(db, users):
    report = dataio.import_file(
        db,
        "customers",
        b"external_id,name,country\nK1,Kim, cn \n",
        actor=users["admin"],
        name="c.csv",
    )
    assert report.created == 1
    with pytest.raises(InvalidInput) as exc:
        dataio.import_file(
            db,
            "customers",
            b"external_id,name,country\nK2,Kai,China\n",
            actor=users["admin"],
            name="c.csv",
        )
    assert exc.value.field == "country"
    assert "two-letter" in exc.value.errors[0].message


# --- one Idempotency-Key, another body ---------------------------------------------------------


def _order_body(customer_id: int, product_id: int, quantity: int = 1, **line) -> dict:
    return {
        "customer_id": customer_id,
        "ordered_at": "2025-06-01T10:00:00Z",
        "lines": [{"product_id": product_id, "quantity": quantity, **line}],
    }


def test_an_order_key_sent_with_other_lines_is_a_409(client, db, tokens):
    """The second request (quantity 2) was answered 201 with the first order (quantity 1): the
    client believed two units were recorded."""
    c, p = make_customer(db), make_product(db, unit_price=Decimal("10.00"))
    db.commit()
    h = {**tokens["admin"], "Idempotency-Key": "order-qa-1"}
    first = client.post("/api/v1/orders", json=_order_body(c.id, p.id), headers=h)
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/orders", json=_order_body(c.id, p.id), headers=h)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    for other in (
        _order_body(c.id, p.id, quantity=2),
        _order_body(c.id, p.id, unit_price="9.00"),
        _order_body(c.id, p.id, discount="1.00"),
        {**_order_body(c.id, p.id), "discount": "1.00"},
    ):
        problem(client.post("/api/v1/orders", json=other, headers=h), 409, "Idempotency-Key")
    # The price sent explicitly as the one the first request defaulted to is the same order.
    same = client.post(
        "/api/v1/orders", json=_order_body(c.id, p.id, unit_price="10.00"), headers=h
    )
    assert same.status_code == 201 and same.json()["id"] == first.json()["id"]


def test_a_refund_key_sent_with_another_amount_is_a_409(client, db, tokens):
    c, p = make_customer(db), make_product(db, unit_price=Decimal("10.00"))
    db.commit()
    o = client.post("/api/v1/orders", json=_order_body(c.id, p.id, 3), headers=tokens["admin"])
    order_id, line_id = o.json()["id"], o.json()["lines"][0]["id"]
    h = {**tokens["admin"], "Idempotency-Key": "refund-qa-1"}
    url = f"/api/v1/orders/{order_id}/refunds"
    first = client.post(url, json={"amount": "1.00"}, headers=h)
    assert first.status_code == 201, first.text
    again = client.post(url, json={"amount": "1.00"}, headers=h)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    for other in (
        {"amount": "2.00"},
        {"amount": "1.00", "line_id": line_id, "quantity": 1},
    ):
        problem(client.post(url, json=other, headers=h), 409, "Idempotency-Key")
    r = client.get(f"/api/v1/orders/{order_id}", headers=tokens["admin"])
    assert r.json()["refunded"] == "1.00"


def test_a_remedy_key_sent_with_another_remedy_is_a_409(client, db, tokens):
    complaint = make_complaint(db)
    db.commit()
    h = {**tokens["admin"], "Idempotency-Key": "remedy-qa-1"}
    url = f"/api/v1/complaints/{complaint.id}/remedies"
    first = client.post(url, json={"kind": "apology"}, headers=h)
    assert first.status_code == 201, first.text
    again = client.post(url, json={"kind": "apology"}, headers=h)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    other = {"kind": "compensation", "compensation_type": "voucher", "amount": "20.00"}
    problem(client.post(url, json=other, headers=h), 409, "Idempotency-Key")
    detail = client.get(f"/api/v1/complaints/{complaint.id}", headers=tokens["admin"]).json()
    assert [r["kind"] for r in detail["remedies"]] == ["apology"]


# --- where a refused value is -------------------------------------------------------------------


def test_a_header_and_a_field_called_body_are_named(client, db, tokens):
    """``header.Idempotency-Key`` was the field of a too-long key, and a complaint note's
    ``body`` lost its name (``field: null``): "body" was dropped wherever it stood in ``loc``."""
    r = client.post(
        "/api/v1/customers",
        json={"name": "K"},
        headers={**tokens["admin"], "Idempotency-Key": "k" * 200},
    )
    body = problem(r, 422, "Idempotency-Key")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    complaint = make_complaint(db)
    db.commit()
    r = client.post(
        f"/api/v1/complaints/{complaint.id}/notes", json={"body": ""}, headers=tokens["admin"]
    )
    body = problem(r, 422, "body")
    assert body["detail"].startswith("body: ")
    # A body that is not an object at all still names no field.
    r = client.post(f"/api/v1/complaints/{complaint.id}/notes", json=["x"], headers=tokens["admin"])
    problem(r, 422, None)


# --- list filters that take a code --------------------------------------------------------------


@pytest.mark.parametrize(
    "url,field,good",
    [
        ("/api/v1/orders?status=complete", "status", "/api/v1/orders?status=completed"),
        ("/api/v1/orders?channel=shop", "channel", "/api/v1/orders?channel=store"),
        ("/api/v1/touchpoints?channel=sms", "channel", "/api/v1/touchpoints?channel=phone"),
        ("/api/v1/touchpoints?stage=buy", "stage", "/api/v1/touchpoints?stage=order"),
        ("/api/v1/touchpoints?direction=in", "direction", "/api/v1/touchpoints?direction=inbound"),
        ("/api/v1/touchpoints?outcome=ok", "outcome", "/api/v1/touchpoints?outcome=positive"),
        ("/api/v1/customers?kind=vip", "kind", "/api/v1/customers?kind=business"),
        ("/api/v1/complaints?channel=web", "channel", "/api/v1/complaints?channel=web_form"),
        ("/api/v1/users?role=boss", "role", "/api/v1/users?role=agent"),
        ("/api/v1/exports/orders.csv?status=done", "status", "/api/v1/exports/orders.csv"),
    ],
)
def test_an_unknown_code_in_a_list_filter_is_named(client, tokens, url, field, good):
    """``?status=complete`` listed nothing (200, ``total`` 0) where ``complaints?status=bogus``
    and the retention lists answer 422: a typo looked like an empty result."""
    body = problem(client.get(url, headers=tokens["admin"]), 422, field)
    if field != "role":
        assert "must be one of" in body["detail"]
    assert client.get(good, headers=tokens["admin"]).status_code == 200


def test_the_filter_refusal_reads_in_chinese(client, tokens):
    r = client.get(
        "/api/v1/orders?status=complete", headers={**tokens["admin"], "Accept-Language": "zh-CN"}
    )
    body = problem(r, 422, "status")
    assert gettext("zh_CN", "Completed") in body["detail"]


def test_a_custom_field_filter_says_what_is_wrong(client, db, tokens):
    """ "Choose one of the listed values." named no list: an API client could not tell a wrong
    format from an unknown key or value."""
    h = tokens["admin"]
    r = client.post(
        "/api/v1/customer-fields",
        json={"key": "vip", "label": "VIP", "field_type": "boolean"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    for value, words in (
        ("vip=yes", "<key>:<value>"),
        ("tier:gold", "'tier'"),
        ("vip:maybe", "yes, no"),
    ):
        body = problem(
            client.get("/api/v1/customers", params={"field": value}, headers=h), 422, "field"
        )
        assert words in body["detail"], body
    assert client.get("/api/v1/customers?field=vip:yes", headers=h).status_code == 200


# --- messages and names --------------------------------------------------------------------------


def test_possible_duplicate_reads_in_chinese(client, db, tokens):
    make_customer(db, name="Wang Fang")
    db.commit()
    r = client.post(
        "/api/v1/customers",
        json={"name": "Wang Fang"},
        headers={**tokens["admin"], "Accept-Language": "zh-CN"},
    )
    body = problem(r, 409, "force")
    assert r.headers["content-language"] == "zh-CN"
    assert "force=true" in body["detail"] and "existing customer" not in body["detail"]


@pytest.mark.parametrize("name", ["\u202enimda", "Ann\nAdmin"])
def test_a_users_display_name_is_checked_as_a_name(client, tokens, name):
    """A display name with a right-to-left override or a line break was stored: it shows in
    assignment pickers, notifications and the audit log."""
    body = {"username": "newbie", "password": "quiet-Harbour-77x", "role": "agent"}
    r = client.post("/api/v1/users", json={**body, "display_name": name}, headers=tokens["admin"])
    problem(r, 422, "display_name")
    r = client.post("/api/v1/users", json={**body, "display_name": "  "}, headers=tokens["admin"])
    assert r.status_code == 201 and r.json()["display_name"] == "newbie"
    uid = r.json()["id"]
    r = client.patch(f"/api/v1/users/{uid}", json={"display_name": name}, headers=tokens["admin"])
    problem(r, 422, "display_name")
    r = client.post("/api/v1/roles", json={"name": "sup", "name_zh": name}, headers=tokens["admin"])
    problem(r, 422, "name_zh")


def test_deactivating_oneself_names_is_active(client, db, users, tokens):
    r = client.patch(
        f"/api/v1/users/{users['admin'].id}", json={"is_active": False}, headers=tokens["admin"]
    )
    problem(r, 422, "is_active")
    r = client.patch(
        f"/api/v1/users/{users['admin'].id}", json={"role": "agent"}, headers=tokens["admin"]
    )
    problem(r, 422, "role")


def test_a_question_answered_twice_in_one_request_is_refused(client, db, tokens):
    """The last of two answers to one question was kept and the other dropped, unsaid."""
    h = tokens["manager"]
    survey = {
        "name": "Visit",
        "sections": [
            {
                "code": "s",
                "title": "Visit",
                "questions": [{"code": "sat", "text": "How was it?", "qtype": "rating"}],
            }
        ],
    }
    sid = client.post("/api/v1/surveys", json=survey, headers=h).json()["id"]
    assert (
        client.patch(f"/api/v1/surveys/{sid}", json={"status": "active"}, headers=h).status_code
        == 200
    )
    c = make_customer(db)
    db.commit()
    answers = [{"question": "sat", "number": 5}, {"question": "sat", "number": 1}]
    r = client.post(
        f"/api/v1/surveys/{sid}/responses",
        json={"customer_id": c.id, "answers": answers},
        headers=h,
    )
    body = problem(r, 422, "answers.1")
    assert "answered twice" in body["detail"]
    r = client.post(
        f"/api/v1/surveys/{sid}/responses",
        json={"customer_id": c.id, "answers": answers[:1]},
        headers=h,
    )
    assert r.status_code == 201, r.text


def test_a_product_missing_from_an_order_line_reads_in_chinese(client, db, tokens):
    c = make_customer(db)
    db.commit()
    r = client.post(
        "/api/v1/orders",
        json=_order_body(c.id, 2**40),
        headers={**tokens["admin"], "Accept-Language": "zh-CN"},
    )
    body = problem(r, 422, "lines.0.product_id")
    assert body["detail"] == gettext("zh_CN", "%(entity)s %(key)s does not exist.") % {
        "entity": gettext("zh_CN", "Product"),
        "key": str(2**40),
    }


# --- model validators name their field -----------------------------------------------------------


def test_a_rule_across_fields_names_the_field_it_refuses(client, db, tokens):
    """A model validator's ValueError has no place: "min_spend must not be negative", "give
    category_id or category" and "a choice field needs at least one option" came with
    ``field: null`` (core.errors.FieldValueError names it)."""
    h = tokens["admin"]
    customer = make_customer(db)
    complaint = make_complaint(db)
    db.commit()
    cases = [
        ("/api/v1/loyalty/rules", {"name": "R", "kind": "spend", "min_spend": -1}, "min_spend"),
        ("/api/v1/loyalty/rules", {"name": "R", "kind": "product"}, "product_id"),
        (
            "/api/v1/complaints",
            {"customer_id": customer.id, "subject": "Late", "description": "Two weeks late."},
            "category",
        ),
        (
            f"/api/v1/complaints/{complaint.id}/remedies",
            {"kind": "apology", "compensation_type": "voucher"},
            "kind",
        ),
        (
            f"/api/v1/complaints/{complaint.id}/remedies",
            {"kind": "compensation"},
            "compensation_type",
        ),
        (
            "/api/v1/customer-fields",
            {"key": "size", "label": "Size", "field_type": "choice"},
            "options",
        ),
    ]
    for url, payload, field in cases:
        body = problem(client.post(url, json=payload, headers=h), 422, field)
        # The message names the field in words already: it is the detail as is.
        assert body["errors"][0]["field"] == field
        assert not body["detail"].startswith(f"{field}: {field}"), body["detail"]
    r = client.post(
        "/api/v1/loyalty/rules",
        json={"name": "R", "kind": "spend", "min_spend": -1},
        headers={**h, "Accept-Language": "zh-CN"},
    )
    assert problem(r, 422, "min_spend")["detail"] == gettext(
        "zh_CN", "min_spend must not be negative"
    )


def test_a_public_complaint_checks_the_phone_it_gives_the_new_customer(client, db, tokens):
    """The public form's ``phone`` became the new customer's phone unchecked: "abc" was
    stored where the customer form and the API refuse it."""
    base = {
        "name": "Wang",
        "email": "wang.qa@example.com",
        "subject": "Broken vase",
        "description": "It arrived broken.",
    }
    r = client.post("/api/v1/public/complaints", json={**base, "phone": "abc"})
    problem(r, 422, "phone")
    r = client.post("/api/v1/public/complaints", json={**base, "phone": ""})
    assert r.status_code == 201, r.text
    customer = db.scalar(select(Customer).where(Customer.email == "wang.qa@example.com"))
    assert customer is not None and customer.phone is None
    complaint = make_complaint(db)
    db.commit()
    r = client.post(
        "/api/v1/complaints",
        json={
            "customer_id": complaint.customer_id,
            "category": "delivery",
            "subject": "Late",
            "description": "Two weeks late.",
            "contact_phone": "call me",
        },
        headers=tokens["admin"],
    )
    problem(r, 422, "contact_phone")


def test_a_long_file_name_keeps_its_ending(client, db, tokens):
    """Names were cut to their first 120 characters, so a long "….txt" lost ".txt" and was
    refused as "The file name must end in .txt or .log"."""
    complaint = make_complaint(db)
    db.commit()
    name = "Scan of the delivery note and the broken vase " * 6 + ".txt"
    r = client.post(
        f"/api/v1/complaints/{complaint.id}/attachments",
        files={"file": (name, b"The vase was broken.", "text/plain")},
        headers=tokens["admin"],
    )
    assert r.status_code == 201, r.text
    stored = r.json()["filename"]
    assert len(stored) <= 120 and stored.endswith(".txt") and stored.startswith("Scan_of_the")
