"""A new product is created once per form or per ``Idempotency-Key`` (migration 0057).

The new-product form and ``POST /api/v1/products`` had no key: a double click, a resend after a
lost answer or an API client retrying after a timeout created the product twice (eight parallel
sends of one form, eight products), splitting its sales statistics, basket rules and pickers.
The form now carries a key drawn with the page and the API takes ``Idempotency-Key``
(``core.idempotency``, as orders, customers and touchpoints do): a repeat returns the first
product, the same key with other details is refused naming ``Idempotency-Key``. Product file
imports need no key: they upsert by SKU (external id), so a resent file changes nothing twice.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from retento.audit.models import AuditEntry
from retento.core.errors import Conflict, InvalidInput
from retento.core.migrate import downgrade, upgrade
from retento.products import service
from retento.products.models import Product
from retento.products.schemas import ProductCreate
from tests.factories import make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, post_each, statuses
from tests.web.conftest import Browser

KEY = re.compile(r'name="form_key" value="([^"]*)"')
N = 8


def _count(db, *where) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Product).where(*where))


def _audits(db) -> int:
    return db.scalar(
        select(func.count()).where(AuditEntry.entity == "product", AuditEntry.action == "create")
    )


def _form(key: str, **changes: str) -> dict[str, str]:
    form = {"name": "Twice tea", "external_id": "TW-1", "category": "tea"}
    form |= {"unit_price": "12.50", "unit_cost": "5.00", "form_key": key}
    return form | changes


# --- the service ---------------------------------------------------------------------------------


def test_a_retry_returns_the_first_product_and_other_details_are_refused(db, users):
    data = ProductCreate(name="Green tea", unit_price=Decimal("9.90"), unit_cost=Decimal("4"))
    first, created = service.create_product_once(
        db, data, actor=users["manager"], idempotency_key="p-1"
    )
    again, again_created = service.create_product_once(
        db, data, actor=users["manager"], idempotency_key=" p-1 "
    )
    assert created and not again_created and again.id == first.id
    assert first.idempotency_key == "p-1"
    assert _count(db, Product.name == "Green tea") == 1 and _audits(db) == 1
    for other in ({"name": "Black tea"}, {"unit_price": Decimal("9.95")}, {"category": "x"}):
        with pytest.raises(Conflict) as exc:
            service.create_product(
                db, data.model_copy(update=other), actor=users["manager"], idempotency_key="p-1"
            )
        assert exc.value.field == "Idempotency-Key"
    for bad in ("bad\tkey", "k" * 121):
        with pytest.raises(InvalidInput) as exc:
            service.create_product(db, data, actor=users["manager"], idempotency_key=bad)
        assert exc.value.field == "Idempotency-Key"
    # Without a key each request is its own product, as before.
    service.create_product(db, data, actor=users["manager"])
    service.create_product(db, data, actor=users["manager"])
    assert _count(db, Product.name == "Green tea") == 3


def test_a_retry_with_a_sku_is_answered_with_its_product_not_a_sku_conflict(db, users):
    data = ProductCreate(
        name="Kettle", external_id="KT-1", unit_price=Decimal("40"), unit_cost=Decimal("20")
    )
    first = service.create_product(db, data, actor=users["manager"], idempotency_key="k-1")
    assert service.create_product(db, data, actor=users["manager"], idempotency_key="k-1") is first
    # Another key with the same SKU is another product: the SKU's own rule refuses it.
    with pytest.raises(Conflict) as exc:
        service.create_product(db, data, actor=users["manager"], idempotency_key="k-2")
    assert exc.value.field == "external_id"
    with pytest.raises(Exception) as exc:  # the key is looked at after the permission
        service.create_product(db, data, actor=users["agent"], idempotency_key="k-1")
    assert getattr(exc.value, "status", None) == 403


# --- the API -------------------------------------------------------------------------------------


def test_api_creates_once_per_key(client, db, tokens):
    h = {**tokens["manager"], "Idempotency-Key": "api-p-1"}
    body = {"name": "Retry mug", "external_id": "MUG-1", "unit_price": "8.00", "unit_cost": "3"}
    r1 = client.post("/api/v1/products", json=body, headers=h)
    r2 = client.post("/api/v1/products", json=body, headers=h)
    assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
    assert r1.json() == r2.json()
    assert _count(db, Product.external_id == "MUG-1") == 1
    r = client.post("/api/v1/products", json={**body, "unit_price": "9.00"}, headers=h)
    assert r.status_code == 409 and r.json()["field"] == "Idempotency-Key", r.text
    for bad in ("x" * 121, "bad\tkey"):
        r = client.post("/api/v1/products", json=body, headers={**h, "Idempotency-Key": bad})
        assert r.status_code == 422, r.text
    # Without the header: as before, a second product with the same SKU is refused by the SKU.
    r = client.post("/api/v1/products", json=body, headers=tokens["manager"])
    assert r.status_code == 409 and r.json()["field"] == "external_id"
    assert _count(db, Product.external_id == "MUG-1") == 1
    params = client.get("/openapi.json").json()["paths"]["/api/v1/products"]["post"]["parameters"]
    assert "Idempotency-Key" in {p["name"] for p in params}


# --- the form ------------------------------------------------------------------------------------


def test_new_product_form_sent_twice_creates_one_and_says_so(client, db, users):
    web = Browser(client)
    web.login("manager")
    key = KEY.search(web.get("/products/new").text).group(1)
    assert len(key) == 32
    r1 = web.post("/products/new", _form(key))
    r2 = web.post("/products/new", _form(key))
    assert r1.status_code == r2.status_code == 303
    assert r1.headers["location"] == r2.headers["location"]
    assert _count(db, Product.name == "Twice tea") == 1 and _audits(db) == 1
    page = web.get(r2.headers["location"]).text
    assert "This form was already sent: product Twice tea was created once" in page
    # A new form is a new key; the edit form carries a version, not a create key.
    assert KEY.search(web.get("/products/new").text).group(1) != key
    p = db.scalar(select(Product).where(Product.name == "Twice tea"))
    assert KEY.search(web.get(f"/products/{p.id}/edit").text) is None


def test_back_with_other_details_is_refused_once_with_a_fresh_key(client, db, users):
    web = Browser(client)
    web.login("manager")
    assert web.post("/products/new", _form("k-back")).status_code == 303
    r = web.post("/products/new", _form("k-back", name="Other tea", external_id="TW-2"))
    assert r.status_code == 422 and "already sent with other details" in r.text
    fresh = KEY.search(r.text).group(1)
    assert fresh and fresh != "k-back" and 'value="Other tea"' in r.text
    r = web.post("/products/new", _form(fresh, name="Other tea", external_id="TW-2"))
    assert r.status_code == 303
    assert _count(db, Product.name.in_(("Twice tea", "Other tea"))) == 2
    # A form with errors keeps its key (nothing was recorded with it).
    r = web.post("/products/new", _form("k-bad", unit_price="1.234"))
    assert r.status_code == 422 and KEY.search(r.text).group(1) == "k-bad"


def test_the_messages_read_in_chinese(client, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post("/products/new", _form("zh-1", name="绿茶"))
    r = web.post("/products/new", _form("zh-1", name="绿茶"))
    assert r.status_code == 303
    page = web.get(r.headers["location"]).text
    assert "此表单已提交过：产品 绿茶 已创建过一次" in page and "already sent" not in page
    r = web.post("/products/new", _form("zh-1", name="红茶"))
    assert r.status_code == 422
    assert "already sent with other details" not in r.text and "其他内容" in r.text
    assert _count(db, Product.name.in_(("绿茶", "红茶"))) == 1


# --- PostgreSQL: sends at once, real commits -----------------------------------------------------


def _live_manager(live_pg, n_tokens: int):
    with live_pg.session() as s:
        manager = make_user(s, role="manager")
        headers = bearer_headers(s, manager, n_tokens)
        s.commit()
        return manager.username, headers


def _live_products(live_pg, name: str) -> list[Product]:
    with live_pg.session() as s:
        rows = s.scalars(select(Product).where(Product.name == name)).all()
        audits = s.scalar(
            select(func.count()).where(
                AuditEntry.entity == "product",
                AuditEntry.action == "create",
                AuditEntry.entity_id.in_([str(p.id) for p in rows]),
            )
        )
        assert audits == len(rows)
        return rows


def test_one_form_sent_eight_times_at_once_creates_one_product(live_pg):
    username, _ = _live_manager(live_pg, 0)
    web = Browser(live_pg.client())
    assert web.login(username).status_code == 303
    key = KEY.search(web.get("/products/new").text).group(1)
    form = _form(key, name="Race tea", external_id="RACE-1")
    codes = statuses(run_parallel(N, lambda i: web.post("/products/new", form).status_code))
    assert codes == {303: N}, codes
    rows = _live_products(live_pg, "Race tea")
    assert len(rows) == 1 and rows[0].idempotency_key == key


def test_eight_api_retries_at_once_with_one_key_create_one_product(live_pg):
    _, headers = _live_manager(live_pg, N)
    body = {"name": "Race mug", "external_id": "RACE-2", "unit_price": "8.00", "unit_cost": "3"}
    codes = statuses(
        run_parallel(
            N,
            post_each(
                live_pg,
                "/api/v1/products",
                lambda i: {"json": body, "headers": {**headers[i], "Idempotency-Key": "race-p"}},
            ),
        )
    )
    assert codes == {201: N}, codes
    assert len(_live_products(live_pg, "Race mug")) == 1


# --- migration 0057 ------------------------------------------------------------------------------


def test_migration_0057_up_down(scratch_db_url):
    upgrade(scratch_db_url)
    eng = create_engine(scratch_db_url)
    insert = text(
        "INSERT INTO products (name, unit_price, unit_cost, is_active, created_at, updated_at, "
        "version, idempotency_key) VALUES (:n, 1, 1, true, CURRENT_TIMESTAMP, "
        "CURRENT_TIMESTAMP, 1, :k)"
    )
    try:
        assert "idempotency_key" in {c["name"] for c in inspect(eng).get_columns("products")}
        indexes = {i["name"]: i for i in inspect(eng).get_indexes("products")}
        assert indexes["uq_products_idempotency_key"]["unique"]
        with eng.begin() as conn:
            for i, k in enumerate(("a", "b", None, None)):  # keys unique, any number without
                conn.execute(insert, {"n": f"P{i}", "k": k})
        with pytest.raises(IntegrityError), eng.begin() as conn:
            conn.execute(insert, {"n": "P9", "k": "a"})
        if eng.dialect.name == "sqlite":  # added in place: the table keeps AUTOINCREMENT (0054)
            with eng.connect() as conn:
                sql = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = 'products'")
                ).scalar()
            assert "AUTOINCREMENT" in sql.upper()
    finally:
        eng.dispose()
    downgrade(scratch_db_url, "0056")
    eng = create_engine(scratch_db_url)
    try:
        assert "idempotency_key" not in {c["name"] for c in inspect(eng).get_columns("products")}
        with eng.connect() as conn:  # the products survive the column's removal
            assert conn.execute(text("SELECT count(*) FROM products")).scalar() == 4
    finally:
        eng.dispose()
    upgrade(scratch_db_url)
