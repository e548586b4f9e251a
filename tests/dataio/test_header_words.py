"""Header words ("Customer ID", "客户编号") feed their field in every import path: the CLI
(``retento import``) and the API read a file the way the web wizard guesses its mapping
(``dataio.headers``); before, only the wizard knew them and the others refused the file as
lacking its required columns."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.migrate import upgrade
from retento.customers.models import Customer
from retento.dataio import service
from retento.dataio.headers import header_fields
from retento.dataio.wizard import guess_mapping
from retento.orders.models import Order

runner = CliRunner()

ZH_ORDERS = (
    "订单编号,客户编号,下单时间,产品编号,数量,单价（元）\n"
    "Z1,IC001,2025-03-01 10:00,IP01,1,68.00\n"
    "Z2,IC002,2025-03-02 10:00,IP02,2,24.00\n"
)
EN_ORDERS = (
    "Order No,Customer ID,Order Date,SKU,Qty,Unit Price\n"
    "E1,IC001,2025-03-01 10:00,IP01,1,68.00\n"
    "E2,IC003,2025-03-02 10:00,IP03,3,5.80\n"
)


@pytest.fixture
def cli_db(tmp_path, monkeypatch, data_dir):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash, is_active, locale,"
                " created_at, updated_at) VALUES ('admin', 'Admin', 'admin', 'x', 1, 'en',"
                " '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
            )
        )
    for entity in ("customers", "products"):
        r = runner.invoke(app, ["import", entity, str(data_dir / f"{entity}.csv")])
        assert r.exit_code == 0, r.output
    yield eng
    eng.dispose()
    get_settings.cache_clear()


@pytest.mark.parametrize("content", [ZH_ORDERS, EN_ORDERS], ids=["chinese", "english"])
def test_the_cli_reads_header_words(cli_db, tmp_path, content):
    path = tmp_path / "orders.csv"
    path.write_text(content, encoding="utf-8")
    r = runner.invoke(app, ["import", "orders", str(path)])
    output = " ".join(r.output.split())
    assert r.exit_code == 0, output
    assert "2 created" in output
    with cli_db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(text("orders"))).scalar_one() == 2


def _upload(client, headers, name: str, content: str, **form):
    files = {"file": (name, content.encode("utf-8"), "text/csv")}
    return client.post("/api/v1/imports/orders", headers=headers, files=files, data=form)


@pytest.mark.parametrize("content", [ZH_ORDERS, EN_ORDERS], ids=["chinese", "english"])
def test_the_api_reads_header_words(client, tokens, db, base, content):
    db.commit()
    r = _upload(client, tokens["admin"], "orders.csv", content)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2 and r.json()["rejected"] == 0
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Order)) == 2


def test_a_mapping_that_drops_a_header_word_column_wins(client, tokens, db, base):
    db.commit()
    r = _upload(
        client,
        tokens["admin"],
        "orders.csv",
        EN_ORDERS,
        mapping='{"columns": {"Customer ID": null}}',
    )
    assert r.status_code == 422
    assert "customer_external_id" in {e["field"] for e in r.json()["errors"]}


def test_a_column_of_the_field_s_own_name_wins_over_a_header_word(db, users):
    """Retento's own export has ``name``; a "Customer name" column beside it is ignored, not
    a second source of the name (and "手机号" still feeds the phone)."""
    content = "Customer name,external_id,name,手机号\nShadow,HW1,Real Name,+86 138 0013 8000\n"
    report = service.import_file(
        db, "customers", content.encode("utf-8"), actor=users["admin"], name="c.csv"
    )
    assert report.created == 1 and report.ignored_columns == ["Customer name"]
    c = db.scalar(select(Customer).where(Customer.external_id == "HW1"))
    assert (c.name, c.phone) == ("Real Name", "+86 138 0013 8000")


@pytest.mark.parametrize("header", [ZH_ORDERS.split("\n")[0], EN_ORDERS.split("\n")[0]])
def test_the_wizard_starts_from_the_same_mapping(header):
    columns = header.split(",")
    assert guess_mapping("orders", columns) == header_fields("orders", columns)
    assert set(header_fields("orders", columns).values()) == {
        "order_external_id",
        "customer_external_id",
        "ordered_at",
        "product_external_id",
        "quantity",
        "unit_price",
    }
