"""A JSON body field the API does not know is refused, never silently ignored.

An API probe found ``PATCH /api/v1/orders/1 {"customer_id": 4}`` and a typo such as
``{"stauts": "closed"}`` answered 200 and changed nothing: the integrator never learnt the
request was not applied. Every request body of ``/api/v1`` now refuses unknown fields (pydantic
``extra="forbid"``) with a 422 whose ``field`` names the unknown one and whose message says why
in the reader's language; nothing is written. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from retento.auth.models import User
from retento.complaints.models import Complaint
from retento.customers.field_models import CustomFieldDefinition
from retento.customers.models import Customer
from retento.journey.models import ExperienceRecord
from retento.orders.models import Order, Refund
from retento.products.models import Product
from retento.surveys.models import Survey
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_order, make_touchpoint
from tests.factories.complaints import make_complaint

ZH = {"Accept-Language": "zh-CN"}
UNKNOWN_EN = "This field is not known here (check its spelling)."
UNKNOWN_ZH = "此处没有这个字段（请检查拼写）。"


@dataclass
class World:
    customer: int
    other_customer: int
    product: int
    order: int
    touchpoint: int
    complaint: int
    survey: int
    agent: int


@pytest.fixture
def world(client, db, users, tokens) -> World:
    order = make_order(db)
    other = make_customer(db)
    tp = make_touchpoint(db, order.customer)
    complaint = make_complaint(db, actor=users["admin"], customer_id=order.customer_id)
    db.commit()
    r = client.post(
        "/api/v1/surveys",
        json={
            "name": "Service check",
            "sections": [
                {
                    "code": "main",
                    "title": "Main",
                    "questions": [{"code": "q1", "text": "How was it?", "qtype": "rating"}],
                }
            ],
        },
        headers=tokens["admin"],
    )
    assert r.status_code == 201, r.text
    return World(
        customer=order.customer_id,
        other_customer=other.id,
        product=order.lines[0].product_id,
        order=order.id,
        touchpoint=tp.id,
        complaint=complaint.id,
        survey=r.json()["id"],
        agent=users["agent"].id,
    )


@dataclass
class Case:
    method: str
    url: str
    body: Callable[[World], dict[str, Any]]
    field: str
    # What must not change: a table's row count (creates), or the record as GET shows it
    # (``state_url``, else the record the request's URL names).
    count: type | None = None
    state_url: str | None = None


CASES = {
    "customer create": Case(
        "POST",
        "/api/v1/customers?force=true",
        lambda w: {"name": "Typo Ltd", "emial": "typo@example.com"},
        "emial",
        Customer,
    ),
    "customer update": Case(
        "PATCH", "/api/v1/customers/{customer}", lambda w: {"nmae": "Renamed"}, "nmae"
    ),
    "customer contact": Case(
        "PATCH",
        "/api/v1/customers/{customer}",
        lambda w: {"contacts": [{"name": "Li Lei", "phnoe": "+86 130 0000 0000"}]},
        "contacts.0.phnoe",
    ),
    "customer merge": Case(
        "POST",
        "/api/v1/customers/{customer}/merge",
        lambda w: {"merge_id": w.other_customer, "force": True},
        "force",
        state_url="/api/v1/customers/{other_customer}",  # not archived into the survivor
    ),
    "order create": Case(
        "POST",
        "/api/v1/orders",
        lambda w: {
            "customer_id": w.customer,
            "ordered_at": "2025-04-01T10:00:00Z",
            "lines": [{"product_id": w.product, "quantity": 1}],
            "stauts": "paid",
        },
        "stauts",
        Order,
    ),
    "order status typo": Case(
        "PATCH", "/api/v1/orders/{order}", lambda w: {"stauts": "cancelled"}, "stauts"
    ),
    "order customer (not editable)": Case(
        "PATCH",
        "/api/v1/orders/{order}",
        lambda w: {"customer_id": w.other_customer},
        "customer_id",
    ),
    "order line": Case(
        "PATCH",
        "/api/v1/orders/{order}",
        lambda w: {"lines": [{"product_id": w.product, "quantity": 1, "qty": 3}]},
        "lines.0.qty",
    ),
    "refund": Case(
        "POST",
        "/api/v1/orders/{order}/refunds",
        lambda w: {"amount": "1.00", "resaon": "broken"},
        "resaon",
        Refund,
    ),
    "product create": Case(
        "POST",
        "/api/v1/products",
        lambda w: {"name": "Kettle", "unit_price": "20", "unit_cost": "9", "price": "25"},
        "price",
        Product,
    ),
    "product update": Case(
        "PATCH", "/api/v1/products/{product}", lambda w: {"unit_prize": "9.99"}, "unit_prize"
    ),
    "touchpoint create": Case(
        "POST",
        "/api/v1/touchpoints",
        lambda w: {
            "customer_id": w.customer,
            "occurred_at": "2025-04-01T10:00:00Z",
            "channel": "phone",
            "stage": "information",
            "chanel": "email",
        },
        "chanel",
        Touchpoint,
    ),
    "touchpoint update": Case(
        "PATCH", "/api/v1/touchpoints/{touchpoint}", lambda w: {"notes": "called"}, "notes"
    ),
    "complaint create": Case(
        "POST",
        "/api/v1/complaints",
        lambda w: {
            "customer_id": w.customer,
            "category": "delivery",
            "subject": "Late parcel",
            "description": "It came a week late.",
            "severty": 3,
        },
        "severty",
        Complaint,
    ),
    "complaint status (not editable)": Case(
        "PATCH", "/api/v1/complaints/{complaint}", lambda w: {"status": "closed"}, "status"
    ),
    "complaint note": Case(
        "POST",
        "/api/v1/complaints/{complaint}/notes",
        lambda w: {"body": "Called back.", "internal": True},
        "internal",
    ),
    "survey create": Case(
        "POST",
        "/api/v1/surveys",
        lambda w: {
            "name": "Typo survey",
            "sections": [
                {
                    "code": "main",
                    "title": "Main",
                    "questions": [
                        {"code": "q1", "text": "How?", "qtype": "rating", "requird": True}
                    ],
                }
            ],
        },
        "sections.0.questions.0.requird",
        Survey,
    ),
    "survey update": Case(
        "PATCH", "/api/v1/surveys/{survey}", lambda w: {"stauts": "active"}, "stauts"
    ),
    "user create": Case(
        "POST",
        "/api/v1/users",
        lambda w: {
            "username": "newbie",
            "password": "ledger-Sesame-42-x",
            "role": "agent",
            "is_admin": True,
        },
        "is_admin",
        User,
    ),
    "user update": Case("PATCH", "/api/v1/users/{agent}", lambda w: {"rol": "admin"}, "rol"),
    "experience create": Case(
        "POST",
        "/api/v1/experiences",
        lambda w: {
            "customer_id": w.customer,
            "mode": "feel",
            "rating": 4,
            "stage": "information",
            "ratng": 5,
        },
        "ratng",
        ExperienceRecord,
    ),
    "custom field create": Case(
        "POST",
        "/api/v1/customer-fields",
        lambda w: {"key": "shoe_size", "label": "Shoe size", "field_type": "number", "unit": "EU"},
        "unit",
        CustomFieldDefinition,
    ),
}


def _url(case: Case, w: World) -> str:
    return case.url.format(**vars(w))


def _state(client, db, case: Case, w: World, headers: dict) -> Any:
    if case.count is not None:
        db.expire_all()
        return db.scalar(select(func.count()).select_from(case.count))
    url = (case.state_url or case.url).format(**vars(w)).removesuffix("/notes")
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    record = r.json()
    record.pop("sla", None)  # a complaint's SLA clocks move with the time of reading
    return record


@pytest.mark.parametrize("name", list(CASES))
def test_an_unknown_field_is_refused_naming_it(client, db, tokens, world, name):
    case = CASES[name]
    h = tokens["admin"]
    before = _state(client, db, case, world, h)
    r = client.request(case.method, _url(case, world), json=case.body(world), headers=h)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "invalid_input"
    assert problem["field"] == case.field, problem
    assert problem["detail"] == f"{case.field}: {UNKNOWN_EN}"
    assert {"field": case.field, "message": UNKNOWN_EN}.items() <= problem["errors"][0].items()
    assert _state(client, db, case, world, h) == before


def test_the_reason_is_in_the_readers_language(client, tokens, world):
    r = client.patch(
        f"/api/v1/orders/{world.order}", json={"stauts": "cancelled"}, headers=tokens["admin"] | ZH
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "stauts"  # a code: never translated
    assert body["detail"] == f"stauts：{UNKNOWN_ZH}"  # the Chinese colon
    assert body["errors"][0]["message"] == UNKNOWN_ZH


def test_every_unknown_field_is_listed(client, tokens, world):
    r = client.patch(
        f"/api/v1/products/{world.product}",
        json={"name": "Kettle", "colour": "red", "size": "L"},
        headers=tokens["admin"],
    )
    assert r.status_code == 422, r.text
    assert sorted(e["field"] for e in r.json()["errors"]) == ["colour", "size"]


def test_known_fields_still_apply_with_the_version_in_the_body(client, tokens, world):
    """``version`` in a body is a documented field (docs/api.md), not an unknown one."""
    h = tokens["admin"]
    r = client.get(f"/api/v1/orders/{world.order}", headers=h)
    version = r.json()["version"]
    r = client.patch(
        f"/api/v1/orders/{world.order}",
        json={"version": version, "status": "cancelled"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


def test_notification_preferences_refuse_a_typo(client, tokens):
    h = tokens["agent"]
    before = client.get("/api/v1/notifications/preferences", headers=h).json()
    r = client.put(
        "/api/v1/notifications/preferences", json={"channel": {"complaint": "off"}}, headers=h
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "channel"
    assert client.get("/api/v1/notifications/preferences", headers=h).json() == before


def _body_models(app) -> dict[str, type[BaseModel]]:
    """Every pydantic model a ``/api/v1`` route reads from a JSON body (nested ones too)."""
    from fastapi.dependencies.utils import get_dependant
    from fastapi.routing import APIRoute

    from retento.app import API_ROUTERS

    found: dict[str, type[BaseModel]] = {}

    def walk(tp: Any) -> None:
        if typing.get_origin(tp) is not None:
            for arg in typing.get_args(tp):
                walk(arg)
        elif inspect.isclass(tp) and issubclass(tp, BaseModel):
            key = f"{tp.__module__}.{tp.__qualname__}"
            if key not in found:
                found[key] = tp
                for f in tp.model_fields.values():
                    walk(f.annotation)

    def routes(router: Any):
        for r in router.routes:
            if isinstance(r, APIRoute):
                yield r
            elif hasattr(r, "original_router"):  # an included router
                yield from routes(r.original_router)

    for name in API_ROUTERS:
        for route in routes(importlib.import_module(name).router):
            dependant = get_dependant(path=route.path_format, call=route.endpoint)
            for param in dependant.body_params:
                walk(param.field_info.annotation)
    return found


def test_every_json_body_of_the_api_refuses_unknown_fields(app):
    """One way everywhere: a new request schema without ``extra="forbid"`` fails here."""
    models = _body_models(app)
    assert len(models) > 60  # the walk found the bodies (customers, orders, surveys, loyalty …)
    lax = sorted(k for k, m in models.items() if m.model_config.get("extra") != "forbid")
    assert lax == []


def test_a_form_shows_the_reason_in_words():
    """Forms pass only their own fields, but a schema refusing one reads as a sentence."""
    from pydantic import ValidationError
    from starlette.requests import Request

    from retento.orders.schemas import OrderUpdate
    from retento.web.render import form_errors

    with pytest.raises(ValidationError) as caught:
        OrderUpdate(stauts="closed")  # type: ignore[call-arg]
    request = Request({"type": "http", "headers": [], "state": {}})
    assert form_errors(request, caught.value, locale="zh_CN") == {"stauts": UNKNOWN_ZH}
    assert form_errors(request, caught.value, locale="en") == {"stauts": UNKNOWN_EN}
