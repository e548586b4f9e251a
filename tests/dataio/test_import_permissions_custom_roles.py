"""Who may import what: an import creates and updates the file's records, so it needs the
entity's create and update permissions besides ``data:import``, and a file about customers
needs a role that works on all customers.

QA (an administrator's custom "data clerk" role: ``customer:read`` + ``data:import``): the clerk
created and renamed customers and repriced a product through the import wizard, though the
customer and product forms answered 403; a role of scope "own" updated every customer in its
file. Built-in roles are unchanged: only admins and managers hold ``data:import``, and they may
create and update everything."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from retento.auth import roles
from retento.auth.schemas import RoleCreate, RoleUpdate
from retento.core.errors import Forbidden
from retento.customers.models import Customer
from retento.dataio import service
from retento.products.models import Product
from tests.dataio.wizard_support import run, upload, walk_to_check
from tests.factories import make_customer, make_product, make_user
from tests.web.conftest import Browser

CUSTOMERS = b"external_id,name\nK1,Made by the clerk\nK2,Renamed by the clerk\n"
PRODUCTS = b"external_id,name,unit_price,unit_cost\nKP1,Renamed product,0.01,0\n"


def _clerk(db, perms: list[str], scope: str = "all", locale: str = "en"):
    roles.create_role(
        db,
        RoleCreate(name="clerk", name_zh="录入员", permissions=perms, scope=scope),
        actor=None,
    )
    clerk = make_user(db, username="clerk", role="clerk", locale=locale)
    make_customer(db, external_id="K2", name="Kept name")
    make_product(db, external_id="KP1", name="Kept product")
    db.commit()
    return clerk


def _choices(page: str) -> list[str]:
    select_ = re.search(r'<select[^>]*name="entity"[^>]*>(.*?)</select>', page, re.S)
    return re.findall(r'<option value="(\w+)"', select_.group(1)) if select_ else []


def test_data_import_alone_creates_and_changes_nothing(client, db, users):
    clerk = _clerk(db, ["customer:read", "data:import"])
    web = Browser(client)
    web.login("clerk")
    r = web.get("/imports")
    assert r.status_code == 403 and "may not: Create customers" in r.text
    r = upload(web, "customers", "c.csv", CUSTOMERS)
    assert r.status_code == 403
    r = upload(web, "products", "p.csv", PRODUCTS)
    assert r.status_code == 403
    for entity, content in (("customers", CUSTOMERS), ("products", PRODUCTS)):
        with pytest.raises(Forbidden):
            service.import_file(db, entity, content, actor=clerk, name="f.csv")
    db.rollback()
    assert db.scalar(select(Customer.name).where(Customer.external_id == "K2")) == "Kept name"
    assert db.scalar(select(Customer.id).where(Customer.external_id == "K1")) is None
    assert db.scalar(select(Product.name).where(Product.external_id == "KP1")) == "Kept product"


@pytest.mark.parametrize("zh", [False, True])
def test_a_role_of_its_own_customers_imports_products_not_customers(client, db, users, zh):
    perms = ["customer:read", "customer:create", "customer:update", "product:read"]
    perms += ["product:create", "product:update", "data:import"]
    clerk = _clerk(db, perms, scope="own", locale="zh_CN" if zh else "en")
    web = Browser(client)
    web.login("clerk")
    page = web.get("/imports")
    assert page.status_code == 200 and _choices(page.text) == ["products"]
    r = upload(web, "customers", "c.csv", CUSTOMERS)
    assert r.status_code == 403
    if zh:
        assert (
            "角色“录入员”只能处理自己的客户" in r.text
            and "导入客户需要能处理全部客户的角色" in r.text
        )
    else:
        assert "works on its own customers only" in r.text
    with pytest.raises(Forbidden):
        service.import_file(db, "touchpoints", b"external_id\n", actor=clerk, name="t.csv")
    db.rollback()
    job = walk_to_check(web, "products", "p.csv", PRODUCTS)
    assert run(web, job, "all").status_code == 200
    db.expire_all()
    assert db.scalar(select(Product.name).where(Product.external_id == "KP1")) == "Renamed product"


def test_a_permission_removed_after_the_check_stops_the_import(client, db, users):
    _clerk(db, ["customer:read", "customer:create", "customer:update", "data:import"])
    web = Browser(client)
    web.login("clerk")
    assert _choices(web.get("/imports").text) == ["customers"]
    job = walk_to_check(web, "customers", "c.csv", CUSTOMERS)
    roles.update_role(
        db, "clerk", RoleUpdate(permissions=["customer:read", "data:import"]), actor=None
    )
    db.commit()
    r = web.post(f"/imports/{job}/run", {"mode": "all"})
    assert r.status_code == 403
    db.expire_all()
    assert db.scalar(select(Customer.id).where(Customer.external_id == "K1")) is None


def test_managers_and_admins_still_import_everything(client, db, users):
    for role in ("manager", "admin"):
        web = Browser(client)
        web.login(role)
        assert _choices(web.get("/imports").text) == [
            "customers",
            "products",
            "orders",
            "touchpoints",
            "complaints",
        ]
