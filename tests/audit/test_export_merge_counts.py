"""A customer data export's ``sections`` and a merge's ``moved`` are named in the audit log
(QA: the before/after view showed ``{"order_lines": 2, "touchpoints": 1, …}`` and
``{"customer_tags": 1, "orders": 1, …}`` in raw English on a Chinese page): every section an
export can write and every table a merge can move rows of has a label in both languages, and
the entries of a real export and a real merge read one "name: number" line each."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.core.db import Base, utcnow
from retento.customers import merge, privacy
from retento.customers.merge import OWN_TABLES
from retento.customers.models import CustomerTag
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate
from retento.web.i18n import translations
from retento.web.labels import field_msgid
from tests.factories import make_customer, make_product, make_touchpoint
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

CJK = re.compile(r"[\u4e00-\u9fff]")


def _keys_a_merge_can_write() -> set[str]:
    """``customers.merge``'s own keys, loyalty's (``loyalty.merge``), and every table with a
    foreign key to the customer that the generic move reaches."""
    tables = {
        t.name
        for t in Base.metadata.sorted_tables
        for fk in t.foreign_keys
        if fk.column.table.name == "customers" and fk.parent.table is t
    }
    own = {"customer_contacts", "customer_tags", "customer_assignments"}
    return own | {"loyalty_points", "loyalty_lots"} | (tables - OWN_TABLES - {"customers"})


def _unnamed(field: str, keys: set[str]) -> list[str]:
    zh, en = translations("zh_CN"), translations("en")
    problems = []
    for key in sorted(keys):
        msgid = field_msgid(f"customer.{field}", key)
        if msgid is None:
            problems.append(f"{field}.{key}: no label")
        elif not CJK.search(zh.gettext(msgid)) or not en.gettext(msgid).strip():
            problems.append(f"{field}.{key}: {msgid!r} not in both languages")
    return problems


def test_every_section_and_every_moved_table_is_named_in_both_languages(client, db, users):
    # ``client``: the app is loaded, so every domain's export sections are registered.
    sections = set(privacy.collect(db, make_customer(db)))
    assert {"order_lines", "loyalty_lots", "retention_cases"} <= sections
    assert _unnamed("sections", sections) + _unnamed("moved", _keys_a_merge_can_write()) == []


def _order(db, users, customer, product) -> None:
    orders.create_order(
        db,
        OrderCreate(
            customer_id=customer.id,
            ordered_at=utcnow() - timedelta(hours=1),
            lines=[{"product_id": product.id, "quantity": 1}],
        ),
        actor=users["admin"],
    )


def _entry(db, action: str, customer_id: int) -> AuditEntry:
    return db.scalars(
        select(AuditEntry).where(
            AuditEntry.action == action,
            AuditEntry.entity == "customer",
            AuditEntry.entity_id == str(customer_id),
        )
    ).one()


def _row(page: str, field: str) -> str:
    return html.unescape(page.split(f'data-field="{field}"', 1)[1].split("</tr>", 1)[0])


@pytest.mark.parametrize(
    ("lang", "exported", "moved"),
    [
        (
            "en",
            ("Customer profile: 1", "Orders: 1", "Order lines: 1", "Touchpoints: 1",
             "Points journal entries: 1"),
            ("Orders: 1", "Touchpoints: 1", "Tags: 1", "Loyalty points: 100", "Points lots: 1"),
        ),
        (
            "zh_CN",
            ("客户资料：1", "订单：1", "订单明细：1", "客户触点：1", "积分凭证：1"),
            ("订单：1", "客户触点：1", "标签：1", "积分：100", "积分批次：1"),
        ),
    ],
)  # fmt: skip
def test_the_audit_log_names_a_real_exports_sections_and_a_real_merges_moves(
    client, db, users, lang, exported, moved
):
    make_programme(db)
    product = make_product(db, unit_price=Decimal("100"))
    keep = make_customer(db, name="Kept")
    dup = make_customer(db, name="Duplicate")
    dup.tag_rows.append(CustomerTag(tag="vip"))
    for c in (keep, dup):
        _order(db, users, c, product)
        make_touchpoint(db, c)
    db.commit()
    privacy.write_export(db, keep.id, io.BytesIO(), actor=users["admin"])
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    db.commit()
    assert _entry(db, "export", keep.id).after["sections"]["order_lines"] == 1
    assert _entry(db, "merge", keep.id).after["moved"]["customer_tags"] == 1
    web = Browser(client)
    web.login("admin")
    web.post("/locale", {"lang": lang, "next": "/admin/audit"})
    for action, field, lines in (("export", "sections", exported), ("merge", "moved", moved)):
        page = web.get(f"/admin/audit?entity=customer&action={action}&entity_id={keep.id}")
        assert page.status_code == 200
        row = _row(page.text, field)
        for line in lines:
            assert line in row, (lang, line, row)
        assert "{" not in row and not re.search(r"\b[a-z]+_[a-z_]+\b", row), row
