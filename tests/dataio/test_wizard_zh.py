"""The import wizard as a Chinese office uses it: headers in Chinese, the installation in
Asia/Shanghai, the rejects file in the downloader's language, line numbers as a spreadsheet's."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from retento.dataio import service
from retento.dataio.exporter import (
    CUSTOMER_HEADER,
    LINE_HEADER,
    ORDER_HEADER,
    PRODUCT_HEADER,
    TOUCHPOINT_HEADER,
)
from retento.dataio.mapping import Mapping
from retento.dataio.pages import FIELD_LABELS
from retento.dataio.schemas import COLUMNS, ENTITIES
from retento.dataio.wizard import guess_mapping
from retento.orders.models import Order
from retento.web.i18n import gettext
from tests.dataio.wizard_support import guessed, job_id_of, run, upload
from tests.web.conftest import Browser

ZH_ORDERS = (
    "订单编号,客户编号,下单时间,产品编号,数量,单价\n"
    "Z1,IC001,2026-11-01 10:00,IP01,1,68.00\n"
    "Z2,IC001,2026-13-45 10:00,IP01,1,68.00\n"
    "Z3,IC002,2026-11-02 10:00,IP02,1,-15.00\n"
    "Z4,NOPE-999,2026-11-03 10:00,IP03,1,5.00\n"
)


@pytest.fixture
def app(session_factory):
    """The application of an installation in China (RETENTO_TIMEZONE=Asia/Shanghai)."""
    from retento.app import create_app
    from retento.core.config import Settings

    application = create_app(
        Settings(
            database_url="sqlite://",
            run_scheduler=False,
            secret_key="test",
            timezone="Asia/Shanghai",
        )
    )
    application.state.session_factory = session_factory
    return application


@pytest.fixture
def admin_zh(client, db, users, data_dir) -> Browser:
    admin = users["admin"]
    service.import_file(db, "customers", data_dir / "customers.csv", actor=admin)
    service.import_file(db, "products", data_dir / "products.csv", actor=admin)
    admin.locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("admin")
    return web


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_chinese_file_maps_itself_and_reads_times_in_the_installation_zone(admin_zh, db):
    r = upload(admin_zh, "orders", "订单.csv", ZH_ORDERS.encode())
    assert r.status_code == 303, r.text
    job = job_id_of(r)
    page = admin_zh.get(f"/imports/{job}/mapping")
    assert guessed(page.text) == {
        "col_0": "order_external_id",
        "col_1": "customer_external_id",
        "col_2": "ordered_at",
        "col_3": "product_external_id",
        "col_4": "quantity",
        "col_5": "unit_price",
    }
    # The default zone is shown: the installation's, not UTC.
    field = re.search(r"<input id=\"f-timezone\"[^>]*>", page.text).group(0)
    assert 'value="Asia/Shanghai"' in field and 'placeholder="Asia/Shanghai"' in field, field
    assert "留空则使用本系统的时区（Asia/Shanghai）" in page.text
    # The preview numbers rows by their line, as the problem table and a spreadsheet do.
    labels = re.findall(r'<th class="muted">([^<]*)</th>', page.text)
    assert labels == ["第 2 行", "第 3 行", "第 4 行", "第 5 行"]

    # The field left empty: times without a zone are read in Asia/Shanghai.
    r = admin_zh.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": ""})
    assert r.status_code == 303, r.text
    check = admin_zh.get(f"/imports/{job}").text
    # The problem table names the same lines as the preview.
    assert re.search(r'<td class="num">3</td>\s*<td><code>下单时间</code>', check), check
    result = run(admin_zh, job, "skip")
    assert result.status_code == 200
    db.expire_all()
    ordered = db.scalar(select(Order.ordered_at).where(Order.external_id == "Z1"))
    assert ordered.astimezone(UTC) == datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def test_rejects_file_speaks_the_language_of_whoever_downloads_it(admin_zh, db, users):
    r = upload(admin_zh, "orders", "订单.csv", ZH_ORDERS.encode())
    job = job_id_of(r)
    page = admin_zh.get(f"/imports/{job}/mapping")
    admin_zh.post(f"/imports/{job}/mapping", {**guessed(page.text), "timezone": "UTC"})
    run(admin_zh, job, "skip")
    got = admin_zh.get(f"/imports/{job}/rejects.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = _rows(got.content)
    assert [(r["订单编号"], r["_line"]) for r in rows] == [("Z2", "3"), ("Z3", "4"), ("Z4", "5")]
    errors = [r["_error"] for r in rows]
    assert errors[0].startswith("下单时间: '2026-13-45 10:00' 不是有效的时间（应为 ")
    assert errors[1] == "单价: 不能为负数"
    assert errors[2] == "客户编号: 未知客户 'NOPE-999'（请先导入客户）"
    # A plain negative number is not a formula: no quote in front of it.
    assert rows[1]["单价"] == "-15.00"

    # The same job downloaded in English: the reasons follow the reader, not the importer.
    users["admin"].locale = "en"
    db.commit()
    rows = _rows(admin_zh.get(f"/imports/{job}/rejects.csv").content)
    assert rows[1]["_error"] == "单价: must not be negative"
    assert rows[2]["_error"] == "客户编号: unknown customer 'NOPE-999' (import customers first)"


def test_a_rejects_file_stored_before_the_record_is_served_as_it_was():
    legacy = "\ufeffa,_line,_error\r\nx,2,a: is empty\r\n".encode()
    assert service.rejects_csv(legacy, lambda m: "translated") == legacy


def test_cli_rejects_file_stays_in_english(db, users, tmp_path):
    path = tmp_path / "o.rejects.csv"
    header = ZH_ORDERS.split("\n", 1)[0].split(",")
    report = service.import_file(
        db,
        "orders",
        ZH_ORDERS.encode(),
        name="o.csv",
        actor=users["admin"],
        mapping=Mapping(columns=guess_mapping("orders", header)),
        skip_invalid=True,
        rejects_path=path,
    )
    assert report.rejected == 4  # no customers or products in this database
    rows = _rows(path.read_bytes())
    assert rows[0]["_error"].startswith("客户编号: unknown customer 'IC001' (import customers")
    assert rows[2]["单价"] == "-15.00"


@pytest.mark.parametrize("entity", ENTITIES)
@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_every_field_label_of_the_wizard_maps_back_to_its_field(entity, locale):
    """A header written as the wizard names the field (in English or Chinese) is recognised."""
    fields = [c.name for c in COLUMNS[entity]]
    for name in fields:
        label = gettext(locale, FIELD_LABELS[name])
        assert guess_mapping(entity, [label]) == {label: name}, (entity, locale, label)


@pytest.mark.parametrize(
    ("entity", "header"),
    [
        ("customers", CUSTOMER_HEADER),
        ("products", PRODUCT_HEADER),
        ("orders", LINE_HEADER),
        ("orders", ORDER_HEADER),
        ("touchpoints", TOUCHPOINT_HEADER),
    ],
)
def test_the_export_headers_map_back_on_their_own(entity, header):
    got = guess_mapping(entity, header)
    fields = {c.name for c in COLUMNS[entity]}
    assert got == {h: (h if h in fields else None) for h in header}


@pytest.mark.parametrize(
    ("entity", "header", "field"),
    [
        ("orders", "产品编号", "product_external_id"),
        ("orders", "商品编号", "product_external_id"),
        ("orders", "货号", "product_external_id"),
        ("orders", "SKU", "product_external_id"),
        ("orders", "订单编号", "order_external_id"),
        ("orders", "单价（元）", "unit_price"),
        ("orders", "Product No", "product_external_id"),
        ("products", "产品名称", "name"),
        ("products", "商品名称", "name"),
        ("products", "品类", "category"),
        ("products", "类别", "category"),
        ("products", "货号", "external_id"),
        ("products", "成本价", "unit_cost"),
        ("customers", "手机号", "phone"),
        ("customers", "客户姓名", "name"),
        ("customers", "注册日期", "acquired_on"),
        ("touchpoints", "接触时间", "occurred_at"),
        ("touchpoints", "客户编号", "customer_external_id"),
    ],
)
def test_common_header_words_are_recognised(entity, header, field):
    assert guess_mapping(entity, [header]) == {header: field}


EN_ORDER = (
    "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,unit_price\n"
    "{ext},IC001,2026-11-01 10:00,IP01,1,68.00\n"
)


def _ordered_at(db, ext: str) -> datetime:
    db.expire_all()
    return db.scalar(select(Order.ordered_at).where(Order.external_id == ext)).astimezone(UTC)


def test_the_api_reads_times_in_the_installation_zone(admin_zh, client, tokens, db):
    for ext, mapping in (("A1", None), ("A2", '{"columns": {}}')):
        r = client.post(
            "/api/v1/imports/orders",
            headers=tokens["admin"],
            files={"file": ("o.csv", EN_ORDER.format(ext=ext).encode(), "text/csv")},
            data={"mapping": mapping} if mapping else {},
        )
        assert r.status_code == 200, r.text
        assert _ordered_at(db, ext) == datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    r = client.post(
        "/api/v1/imports/orders",
        headers=tokens["admin"],
        files={"file": ("o.csv", EN_ORDER.format(ext="A3").encode(), "text/csv")},
        data={"mapping": '{"timezone": "UTC"}'},
    )
    assert r.status_code == 200, r.text
    assert _ordered_at(db, "A3") == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_the_cli_reads_times_in_the_installation_zone(db, users, data_dir, monkeypatch):
    from retento.core.config import get_settings

    admin = users["admin"]
    service.import_file(db, "customers", data_dir / "customers.csv", actor=admin)
    service.import_file(db, "products", data_dir / "products.csv", actor=admin)
    monkeypatch.setenv("RETENTO_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()
    try:
        assert Mapping().timezone == "Asia/Shanghai"
        service.import_file(db, "orders", EN_ORDER.format(ext="C1").encode(), actor=admin)
    finally:
        monkeypatch.delenv("RETENTO_TIMEZONE")
        get_settings.cache_clear()
    assert _ordered_at(db, "C1") == datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
