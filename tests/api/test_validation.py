"""Fuzzing findings (issue 10): each server error reproduced, now a 4xx naming the field.

Runs on SQLite and PostgreSQL (the ``client`` fixture); PostgreSQL is where out-of-range ids, NUL
bytes and lone surrogates used to reach the database and fail with a 500.
"""

from __future__ import annotations

import pytest

from tests.factories import make_customer, make_order
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser

TOO_BIG = 2**63  # one past BIGINT (ids are 64-bit since migration 0032)


def problem(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    if field is not None:
        assert body["field"] == field, body
    return body


# --- 6. integers beyond the id range -----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/customers/{TOO_BIG}",
        "/api/v1/customers/0",
        f"/api/v1/orders/{TOO_BIG}",
        f"/api/v1/products/{10**30}",
        f"/api/v1/complaints/{TOO_BIG}",
        f"/api/v1/surveys/{TOO_BIG}/results",
        f"/api/v1/customers/{TOO_BIG}/scores",
        f"/api/v1/users/{TOO_BIG}",
    ],
)
def test_id_out_of_range_in_a_path_is_404(client, tokens, path):
    body = problem(client.get(path, headers=tokens["admin"]), 404)
    assert body["code"] == "not_found"


def test_phone_number_in_search_is_text_not_an_id(client, db, tokens):
    c = make_customer(db, name="Li Wei", phone="13800138000")
    db.commit()
    r = client.get("/api/v1/customers", params={"q": "13800138000"}, headers=tokens["admin"])
    assert r.status_code == 200, r.text
    assert [i["id"] for i in r.json()["items"]] == [c.id]
    # An id still finds its customer.
    r = client.get("/api/v1/customers", params={"q": str(c.id)}, headers=tokens["admin"])
    assert c.id in [i["id"] for i in r.json()["items"]]


@pytest.mark.parametrize(
    "url,field",
    [
        (f"/api/v1/customers?owner_id={TOO_BIG}", "owner_id"),
        (f"/api/v1/orders?customer_id={TOO_BIG}", "customer_id"),
        (f"/api/v1/complaints?assignee_id={TOO_BIG}", "assignee_id"),
        (f"/api/v1/exports/customers.csv?owner_id={TOO_BIG}", "owner_id"),
        ("/api/v1/customers?offset=99999999999", "offset"),
        ("/api/v1/orders?since=9999-12-31T23:59:59-12:00", "since"),
    ],
)
def test_filter_out_of_range_is_422(client, tokens, url, field):
    problem(client.get(url, headers=tokens["admin"]), 422, field)


def test_id_out_of_range_in_a_body_is_422(client, tokens):
    r = client.post(
        "/api/v1/customers", json={"name": "A", "owner_id": TOO_BIG}, headers=tokens["admin"]
    )
    problem(r, 422, "owner_id")


def test_web_pages_answer_404_for_ids_out_of_range(client, users):
    web = Browser(client)
    assert web.login("admin").status_code == 303
    for path in (f"/customers/{TOO_BIG}", f"/orders/{TOO_BIG}", f"/complaints/{TOO_BIG}"):
        r = web.get(path)
        assert r.status_code == 404, (path, r.status_code)
    r = web.get("/customers", params={"q": "13800138000", "offset": str(10**12)})
    assert r.status_code == 200
    r = web.get("/complaints", params={"category": str(TOO_BIG), "offset": "²"})
    assert r.status_code in (200, 422)


# --- 7. NUL and lone surrogates ----------------------------------------------------------------


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": "a\u0000b"}, "name"),
        ({"name": "ok", "note": "x\ud800y"}, "note"),
        ({"name": "ok", "custom_fields": {"nested": ["fine", {"deep": "bad\u0000"}]}}, None),
        ({"name": "ok", "custom_fields": {"k\u0000": 1}}, None),
        ({"name": "ok", "contacts": [{"name": "\udfff"}]}, "contacts.0.name"),
    ],
)
def test_nul_and_lone_surrogates_in_json_are_422(client, tokens, payload, field):
    import json

    # ensure_ascii keeps the surrogate as a \\udxxx escape, as a hostile client would send it.
    raw = json.dumps(payload, ensure_ascii=True)
    r = client.post(
        "/api/v1/customers",
        content=raw,
        headers={**tokens["admin"], "content-type": "application/json"},
    )
    body = problem(r, 422, field)
    if field is None:
        assert body["field"].startswith("custom_fields.")


def test_nul_in_query_is_422(client, tokens):
    r = client.get("/api/v1/customers", params={"q": "a\x00"}, headers=tokens["admin"])
    problem(r, 422, "q")


def test_nul_in_public_complaint_and_survey_answer_is_422(client, db):
    r = client.post(
        "/api/v1/public/complaints",
        json={
            "name": "Wang",
            "email": "w@example.com",
            "subject": "Broken\u0000 vase",
            "description": "It arrived broken.",
        },
    )
    problem(r, 422, "subject")
    r = client.post("/api/v1/public/surveys/sometoken/answers", json={"answers": {"q1": "\u0000"}})
    problem(r, 422, "answers.q1")


def test_nul_in_a_web_form_is_422_naming_the_field(client, users):
    web = Browser(client)
    web.login("admin")
    r = web.post("/customers/new", {"name": "a\x00b"})
    assert r.status_code == 422
    assert "name" in r.text


# --- 8. numbers and dates out of range ---------------------------------------------------------


def test_money_overflow_and_extra_decimals_are_422(client, db, tokens):
    h = tokens["admin"]
    r = client.post(
        "/api/v1/products", json={"name": "P", "unit_price": "1e400", "unit_cost": "1"}, headers=h
    )
    problem(r, 422, "unit_price")
    r = client.post(
        "/api/v1/products", json={"name": "P", "unit_price": "1.005", "unit_cost": "1"}, headers=h
    )
    body = problem(r, 422, "unit_price")
    assert "2 decimal places" in body["detail"]
    r = client.post(
        "/api/v1/products", json={"name": "P", "unit_price": "1.50", "unit_cost": "1"}, headers=h
    )
    assert r.status_code == 201 and r.json()["unit_price"] == "1.50"


def test_order_total_beyond_numeric_14_2_is_422(client, db, tokens):
    c = make_customer(db)
    db.commit()
    prod = client.post(
        "/api/v1/products",
        json={"name": "Gold", "unit_price": "999999999999.00", "unit_cost": "1"},
        headers=tokens["admin"],
    ).json()
    r = client.post(
        "/api/v1/orders",
        json={
            "customer_id": c.id,
            "ordered_at": "2025-01-01T00:00:00Z",
            "lines": [{"product_id": prod["id"], "quantity": 1000}],
        },
        headers=tokens["admin"],
    )
    problem(r, 422, "lines")


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+00:00"])
def test_order_timestamp_out_of_range_is_422(client, db, tokens, when):
    o = make_order(db)
    db.commit()
    r = client.patch(f"/api/v1/orders/{o.id}", json={"ordered_at": when}, headers=tokens["admin"])
    problem(r, 422, "ordered_at")


def test_complaint_received_in_year_one_is_422(client, db, tokens):
    c = make_customer(db)
    db.commit()
    r = client.post(
        "/api/v1/complaints",
        json={
            "customer_id": c.id,
            "subject": "Late",
            "description": "Late delivery",
            "category": "delivery",
            "channel": "phone",
            "received_at": "0001-01-01T00:00:00Z",
        },
        headers=tokens["admin"],
    )
    problem(r, 422, "received_at")


# --- 9. nulls, negative limits, unknown scopes, empty sections, calendars without hours --------


def test_patch_user_with_null_is_422_naming_the_field(client, users, tokens):
    uid = users["agent"].id
    for field in ("password", "role", "is_active", "locale"):
        r = client.patch(f"/api/v1/users/{uid}", json={field: None}, headers=tokens["admin"])
        problem(r, 422, field)


def test_score_history_limit_must_be_positive(client, db, tokens):
    c = make_customer(db)
    db.commit()
    r = client.get(f"/api/v1/customers/{c.id}/scores?limit=-1", headers=tokens["admin"])
    problem(r, 422, "limit")


def test_export_with_an_unknown_scope_is_422_before_streaming(client, tokens):
    r = client.get("/api/v1/exports/customers.csv?scope=foo", headers=tokens["admin"])
    problem(r, 422, "scope")


def test_calendar_without_working_hours_is_refused(client, tokens):
    r = client.post(
        "/api/v1/complaints/calendars",
        json={"name": "Never", "timezone": "UTC", "hours": {}},
        headers=tokens["admin"],
    )
    problem(r, 422, "hours")


def test_question_form_of_a_survey_without_sections(client, db, users):
    from retento.surveys.models import Survey

    s = Survey(name="Empty", status="draft")
    db.add(s)
    db.commit()
    web = Browser(client)
    web.login("admin")
    assert web.get(f"/surveys/{s.id}/questions/new").status_code == 200


# --- 19. names and attachments -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["   ", "\t\n", "abc\u202egpj.exe", "\u2066x\u2069"])
def test_blank_and_bidi_override_names_are_422(client, tokens, name):
    r = client.post("/api/v1/customers", json={"name": name}, headers=tokens["admin"])
    problem(r, 422, "name")
    r = client.post("/api/v1/products", json={"name": name}, headers=tokens["admin"])
    problem(r, 422, "name")


def test_attachment_content_must_match_its_type(client, db, users, tokens):
    c = make_complaint(db, users["manager"])
    db.commit()
    url = f"/api/v1/complaints/{c.id}/attachments"
    h = tokens["manager"]
    r = client.post(url, files={"file": ("x.png", b"<html>hi</html>", "image/png")}, headers=h)
    problem(r, 422, "file")
    r = client.post(url, files={"file": ("x.pdf", b"%PDF-1.7\n", "application/pdf")}, headers=h)
    assert r.status_code == 201, r.text


# --- 18. OpenAPI and 405 -----------------------------------------------------------------------


def test_every_operation_documents_problem_errors(app):
    spec = app.openapi()
    assert "Problem" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status in ("401", "403", "404", "409", "422", "500"):
                content = op["responses"][status]["content"]
                assert "application/problem+json" in content, (method, path, status)


def test_405_carries_allow(client, tokens):
    r = client.put("/api/v1/customers", headers=tokens["admin"])
    body = problem(r, 405)
    assert body["code"] == "method_not_allowed"
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
