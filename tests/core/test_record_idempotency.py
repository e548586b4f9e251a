"""Customers, touchpoints and experience records are created once per request (migration 0040).

A double click on "Create customer" (after "Create anyway"), on "Record touchpoint" or on
"Save" of an experience record, or an API client retrying after a timeout, recorded the row
twice: a duplicate customer to merge by hand, a touchpoint or experience counted twice in the
journey funnel and in the churn features. The forms carry a key drawn with the page and the API
takes ``Idempotency-Key`` (``core.idempotency``); a repeat returns the first row, the same key
with other details is refused naming ``Idempotency-Key`` and the form then draws a new key.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from retento.audit.models import AuditEntry
from retento.core.errors import Conflict
from retento.core.migrate import downgrade, upgrade
from retento.customers import service as customers
from retento.customers.models import Customer
from retento.customers.schemas import CustomerCreate
from retento.journey import service as journey
from retento.journey.models import ExperienceRecord
from retento.journey.schemas import ExperienceCreate
from retento.touchpoints import service as touchpoints
from retento.touchpoints.models import Touchpoint
from retento.touchpoints.schemas import TouchpointCreate
from tests.factories import live_shared, make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.openapi import share_openapi
from tests.factories.race import bearer_headers, post_each, statuses
from tests.factories.raw_rows import insert_customer
from tests.web.conftest import Browser

# A database at head for the migration test: on PostgreSQL a copy of the template.
migrated_db_url = live_shared.migrated_db_url

KEY = re.compile(r'name="form_key" value="([^"]*)"')
WHEN = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def _count(db, model, *where) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def _audits(db, entity: str) -> int:
    return db.scalar(
        select(func.count()).where(AuditEntry.entity == entity, AuditEntry.action == "create")
    )


# --- the services --------------------------------------------------------------------------------


def test_customer_retry_returns_the_first_even_where_a_duplicate_would_be_flagged(db, users):
    data = CustomerCreate(name="Mira Stone", email="mira@example.com")
    first = customers.create_customer(
        db, data, actor=users["agent"], force=False, idempotency_key="c-1"
    )
    # The retry is answered with the customer it made, not with "possible duplicate" of it.
    again = customers.create_customer(
        db, data, actor=users["agent"], force=False, idempotency_key="c-1"
    )
    assert again.id == first.id
    assert _count(db, Customer, Customer.name == "Mira Stone") == 1
    assert _audits(db, "customer") == 1
    with pytest.raises(Conflict) as exc:
        customers.create_customer(
            db, CustomerCreate(name="Other Name"), actor=users["agent"], idempotency_key="c-1"
        )
    assert exc.value.field == "Idempotency-Key"
    # Without a key "Create anyway" still creates another one.
    customers.create_customer(db, data, actor=users["agent"], force=True)
    assert _count(db, Customer, Customer.name == "Mira Stone") == 2


def test_touchpoint_and_experience_retries_return_the_first(db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    tp = TouchpointCreate(customer_id=c.id, occurred_at=WHEN, channel="phone", stage="order")
    t1 = touchpoints.create_touchpoint(db, tp, actor=users["agent"], idempotency_key="t-1")
    t2 = touchpoints.create_touchpoint(db, tp, actor=users["agent"], idempotency_key="t-1")
    assert t1.id == t2.id and _count(db, Touchpoint) == 1 and _audits(db, "touchpoint") == 1
    ex = ExperienceCreate(customer_id=c.id, mode="feel", rating=2, touchpoint_id=t1.id)
    e1 = journey.create_experience(db, ex, actor=users["agent"], idempotency_key="e-1")
    e2 = journey.create_experience(db, ex, actor=users["agent"], idempotency_key="e-1")
    assert e1.id == e2.id and _count(db, ExperienceRecord) == 1
    assert _audits(db, "experience") == 1
    # The same key with other details: refused by name, nothing recorded.
    other = make_customer(db, owner_id=users["agent"].id)
    for call in (
        lambda: touchpoints.create_touchpoint(
            db, tp.model_copy(update={"note": "other"}), actor=users["agent"], idempotency_key="t-1"
        ),
        lambda: touchpoints.create_touchpoint(
            db,
            tp.model_copy(update={"customer_id": other.id}),
            actor=users["agent"],
            idempotency_key="t-1",
        ),
        lambda: journey.create_experience(
            db, ex.model_copy(update={"rating": 5}), actor=users["agent"], idempotency_key="e-1"
        ),
    ):
        with pytest.raises(Conflict) as exc:
            call()
        assert exc.value.field == "Idempotency-Key"
    assert _count(db, Touchpoint) == 1 and _count(db, ExperienceRecord) == 1
    # Keys are per table: the touchpoint's key names no experience record.
    journey.create_experience(db, ex, actor=users["agent"], idempotency_key="t-1")
    assert _count(db, ExperienceRecord) == 2


def test_a_key_is_checked_after_the_permission(db, users):
    """Another agent's retry with a key does not read someone else's customer's row."""
    owner = make_user(db, username="owner-a", role="agent")
    c = make_customer(db, owner_id=owner.id)
    tp = TouchpointCreate(customer_id=c.id, occurred_at=WHEN, channel="web", stage="order")
    touchpoints.create_touchpoint(db, tp, actor=owner, idempotency_key="mine")
    with pytest.raises(Exception) as exc:
        touchpoints.create_touchpoint(db, tp, actor=users["agent"], idempotency_key="mine")
    assert getattr(exc.value, "status", None) == 403


# --- the API -------------------------------------------------------------------------------------


def test_api_creates_once_per_key(app, client, db, users, tokens):
    c = make_customer(db, owner_id=users["agent"].id)
    db.commit()
    h = {**tokens["agent"], "Idempotency-Key": "api-1"}
    cases = [
        ("/api/v1/customers", {"name": "Kai Berg"}, {"name": "Kai Other"}),
        (
            "/api/v1/touchpoints",
            {"customer_id": c.id, "occurred_at": WHEN.isoformat(), "channel": "email"}
            | {"stage": "order"},
            {"customer_id": c.id, "occurred_at": WHEN.isoformat(), "channel": "chat"}
            | {"stage": "order"},
        ),
        (
            "/api/v1/experiences",
            {"customer_id": c.id, "mode": "think", "rating": 4, "stage": "payment"},
            {"customer_id": c.id, "mode": "think", "rating": 1, "stage": "payment"},
        ),
    ]
    for url, body, other in cases:
        r1 = client.post(url, json=body, headers=h)
        r2 = client.post(url, json=body, headers=h)
        assert r1.status_code == r2.status_code == 201, (url, r1.text, r2.text)
        assert r1.json()["id"] == r2.json()["id"]
        r = client.post(url, json=other, headers=h)
        assert r.status_code == 409 and r.json()["field"] == "Idempotency-Key", (url, r.text)
        r = client.post(url, json=body, headers={**h, "Idempotency-Key": "x" * 121})
        assert r.status_code == 422, url
        r = client.post(url, json=body, headers={**h, "Idempotency-Key": "bad\tkey"})
        assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key", (url, r.text)
    assert _count(db, Customer, Customer.name == "Kai Berg") == 1
    assert _count(db, Touchpoint) == 1 and _count(db, ExperienceRecord) == 1
    # The schema lists the header on the three creates.
    share_openapi(app)  # built once per process, not once per test
    spec = client.get("/openapi.json").json()["paths"]
    for url in ("/api/v1/customers", "/api/v1/touchpoints", "/api/v1/experiences"):
        names = {p["name"] for p in spec[url]["post"].get("parameters", [])}
        assert "Idempotency-Key" in names, url


# --- the forms -----------------------------------------------------------------------------------


def test_new_customer_form_double_clicked_creates_one_and_back_with_a_new_name_gets_a_new_key(
    client, db, users
):
    web = Browser(client)
    web.login("manager")
    key = KEY.search(web.get("/customers/new").text).group(1)
    assert len(key) == 32
    form = {"name": "Lena Fox", "party_type": "person", "kind": "consumer", "form_key": key}
    r1 = web.post("/customers/new", form)
    r2 = web.post("/customers/new", form)
    assert r1.status_code == r2.status_code == 303
    assert r1.headers["location"] == r2.headers["location"]
    assert _count(db, Customer, Customer.name == "Lena Fox") == 1
    # Back, another customer typed into the same page: refused once, with a fresh key.
    r = web.post("/customers/new", {**form, "name": "Otto Fox"})
    assert r.status_code == 422 and "already sent with other details" in r.text
    fresh = KEY.search(r.text).group(1)
    assert fresh and fresh != key and 'value="Otto Fox"' in r.text
    r = web.post("/customers/new", {**form, "name": "Otto Fox", "form_key": fresh})
    assert r.status_code == 303
    assert _count(db, Customer, Customer.name == "Otto Fox") == 1


def test_create_anyway_double_clicked_creates_one(client, db, users):
    make_customer(db, name="Ada Twin", email="ada@example.com")
    db.commit()
    web = Browser(client)
    web.login("manager")
    key = KEY.search(web.get("/customers/new").text).group(1)
    form = {"name": "Ada Twin", "party_type": "person", "kind": "consumer", "form_key": key}
    warned = web.post("/customers/new", form)
    assert warned.status_code == 200 and 'id="duplicate-warning"' in warned.text
    assert KEY.search(warned.text).group(1) == key  # the warning keeps the page's key
    r1 = web.post("/customers/new", {**form, "force": "1"})
    r2 = web.post("/customers/new", {**form, "force": "1"})
    assert r1.status_code == r2.status_code == 303
    assert _count(db, Customer, Customer.name == "Ada Twin") == 2


def test_touchpoint_form_double_clicked_records_one_and_a_fresh_form_has_a_new_key(
    client, db, users
):
    c = make_customer(db)
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{c.id}/touchpoints/new")
    key = KEY.search(page.text).group(1)
    form = {"occurred_at": "2026-11-30T10:15", "channel": "phone", "stage": "after_sales"}
    form |= {"direction": "inbound", "outcome": "resolved", "note": "Called back", "form_key": key}
    headers = {"HX-Request": "true"}
    r1 = web.post(f"/customers/{c.id}/touchpoints", form, headers=headers)
    r2 = web.post(f"/customers/{c.id}/touchpoints", form, headers=headers)
    assert r1.status_code == r2.status_code == 200
    assert _count(db, Touchpoint, Touchpoint.customer_id == c.id) == 1
    # The form that comes back after saving is a new form: a new key, so the next touchpoint
    # typed into it is recorded.
    fresh = KEY.search(r1.text).group(1)
    assert fresh != key
    r = web.post(
        f"/customers/{c.id}/touchpoints", {**form, "form_key": fresh, "note": "Second call"}
    )
    assert r.status_code == 303
    assert _count(db, Touchpoint, Touchpoint.customer_id == c.id) == 2
    # An invalid form keeps its key (nothing was recorded with it).
    r = web.post(f"/customers/{c.id}/touchpoints", {**form, "form_key": "k-bad", "channel": ""})
    assert r.status_code == 422 and KEY.search(r.text).group(1) == "k-bad"


def test_experience_form_double_clicked_records_one(client, db, users):
    c = make_customer(db)
    db.commit()
    web = Browser(client)
    web.login("manager")
    key = KEY.search(web.get(f"/customers/{c.id}/experiences/new").text).group(1)
    form = {"mode": "feel", "rating": "2", "stage": "receipt", "occurred_at": "2026-11-30T10:15"}
    form |= {"note": "Box was damaged", "form_key": key}
    r1 = web.post(f"/customers/{c.id}/experiences/new", form)
    r2 = web.post(f"/customers/{c.id}/experiences/new", form)
    assert r1.status_code == r2.status_code == 303
    assert _count(db, ExperienceRecord, ExperienceRecord.customer_id == c.id) == 1
    r = web.post(f"/customers/{c.id}/experiences/new", {**form, "rating": "5"})
    assert r.status_code == 422 and KEY.search(r.text).group(1) not in ("", key)
    # The edit form carries a version, not a create key.
    e = db.scalar(select(ExperienceRecord).where(ExperienceRecord.customer_id == c.id))
    assert KEY.search(web.get(f"/experiences/{e.id}/edit").text) is None


def test_the_refusal_reads_in_chinese(client, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    form = {"name": "周杰", "party_type": "person", "kind": "consumer", "form_key": "zh-1"}
    assert web.post("/customers/new", form).status_code == 303
    r = web.post("/customers/new", {**form, "name": "周伦"})
    assert r.status_code == 422
    assert "already sent with other details" not in r.text and "其他内容" in r.text


# --- PostgreSQL: parallel retries, ids past 2^31 -------------------------------------------------


def test_parallel_creates_with_one_key_record_one_row_each(live_pg):
    with live_pg.session() as s:
        agent = make_user(s, username="racer", role="agent")
        s.commit()
        c = make_customer(s, id=2**31 + 77, owner_id=agent.id)
        s.commit()
        headers = bearer_headers(s, agent, 8)
        s.commit()
        cid = c.id
    cases = [
        ("/api/v1/customers", {"name": "Race Customer"}),
        (
            "/api/v1/touchpoints",
            {"customer_id": cid, "occurred_at": WHEN.isoformat(), "channel": "web"}
            | {"stage": "order"},
        ),
        ("/api/v1/experiences", {"customer_id": cid, "mode": "act", "rating": 3, "stage": "order"}),
    ]
    for url, body in cases:
        codes = statuses(
            run_parallel(
                8,
                post_each(
                    live_pg,
                    url,
                    lambda i, body=body, url=url: {
                        "json": body,
                        "headers": {**headers[i], "Idempotency-Key": f"race {url}"},
                    },
                ),
            )
        )
        assert codes == {201: 8}, url
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).where(Customer.name == "Race Customer")) == 1
        assert s.scalar(select(func.count()).where(Touchpoint.customer_id == cid)) == 1
        assert s.scalar(select(func.count()).where(ExperienceRecord.customer_id == cid)) == 1
        tp = s.scalar(select(Touchpoint).where(Touchpoint.customer_id == cid))
        assert tp.customer_id > 2**31


# --- migration 0040 ------------------------------------------------------------------------------


def test_migration_0040_up_down(migrated_db_url):
    eng = create_engine(migrated_db_url)
    tables = ("customers", "touchpoints", "experience_records")
    try:
        for table in tables:
            assert "idempotency_key" in {c["name"] for c in inspect(eng).get_columns(table)}
        now = datetime.now(UTC)
        with eng.begin() as conn:
            for cid in (7, 8, 9):
                insert_customer(conn, cid, now)
            conn.execute(text("UPDATE customers SET idempotency_key = 'a' WHERE id = 7"))
        with pytest.raises(IntegrityError), eng.begin() as conn:
            conn.execute(text("UPDATE customers SET idempotency_key = 'a' WHERE id = 8"))
    finally:
        eng.dispose()
    downgrade(migrated_db_url, "0039")
    eng = create_engine(migrated_db_url)
    try:
        for table in tables:
            assert "idempotency_key" not in {c["name"] for c in inspect(eng).get_columns(table)}
        with eng.connect() as conn:  # the rows survive the column's removal
            assert conn.execute(text("SELECT count(*) FROM customers")).scalar() == 3
    finally:
        eng.dispose()
    upgrade(migrated_db_url)


def test_every_service_checks_its_key_the_same_way(db, users):
    """Refunds and remedies took any key (a tab, 500 characters) where the other POSTs answer
    422 naming Idempotency-Key; all go through core.validation.clean_idempotency_key now."""
    from decimal import Decimal

    from retento.complaints import remedies
    from retento.complaints.schemas import RemedyCreate
    from retento.core.errors import InvalidInput
    from retento.orders import service as orders
    from retento.orders.schemas import OrderCreate, RefundCreate
    from tests.factories import make_product
    from tests.factories.complaints import make_complaint

    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("20.00"))
    o = orders.create_order(
        db,
        OrderCreate(customer_id=c.id, ordered_at=WHEN, lines=[{"product_id": p.id, "quantity": 1}]),
        actor=users["admin"],
    )
    complaint = make_complaint(db, customer_id=c.id)
    calls = (
        lambda key: orders.add_refund(
            db, o.id, RefundCreate(amount=Decimal("1")), actor=users["admin"], idempotency_key=key
        ),
        lambda key: remedies.add_remedy(
            db,
            complaint.id,
            RemedyCreate(kind="apology"),
            actor=users["admin"],
            idempotency_key=key,
        ),
    )
    for call in calls:
        for bad in ("bad\tkey", "k" * 121):
            with pytest.raises(InvalidInput) as exc:
                call(bad)
            assert exc.value.field == "Idempotency-Key"
        # Surrounding spaces are not part of the key: " k " and "k" are one request.
        assert call(" k ").id == call("k").id
