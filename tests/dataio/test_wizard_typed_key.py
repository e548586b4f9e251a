"""A custom key typed for a column on the import wizard's mapping step: a customer file's column
"Loyalty card no." kept as ``custom.loyalty_card``, a key neither defined nor named by the
header, as ``retento import --map "Loyalty card no.=custom.loyalty_card"`` and the API's
``mapping`` keep it. A key no custom field could have is refused with the importer's own words
(422, the column named, in the reader's language), the page coming back as sent; a plain form,
no script. On both backends; the command line on SQLite (``cli_db``)."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from retento.cli import app
from retento.customers.models import Customer
from retento.dataio.models import ImportJob
from tests.dataio.test_cli import cli_db  # noqa: F401
from tests.dataio.wizard_support import guessed, job_id_of, run, upload
from tests.web.conftest import Browser

runner = CliRunner()

COLUMN = "Loyalty card no."
FILE = f"external_id,name,{COLUMN},Misc\nLK1,Ann,LC-001,x\nLK2,Bob,,y\n".encode()
GUESS = {"col_0": "external_id", "col_1": "name", "col_2": "", "col_3": ""}


@pytest.fixture
def manager(client, db, users) -> Browser:
    web = Browser(client)
    web.login("manager")
    return web


def _mapping(web, content: bytes = FILE, entity: str = "customers") -> tuple[int, str]:
    r = upload(web, entity, "c.csv", content)
    assert r.status_code == 303, r.text
    job = job_id_of(r)
    page = web.get(f"/imports/{job}/mapping")
    assert page.status_code == 200
    return job, page.text


def _stored(db) -> dict[str, dict]:
    rows = db.execute(
        select(Customer.external_id, Customer.custom_fields).where(
            Customer.external_id.in_(["LK1", "LK2"])
        )
    )
    return {ext: dict(fields or {}) for ext, fields in rows}


def _key_input(html: str, n: int) -> str:
    m = re.search(rf'<input type="text" name="key_{n}"[^>]*>', html)
    assert m, html
    return m.group(0)


def _flat(output: str) -> str:
    return "".join(output.split())


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_column_is_kept_under_a_key_typed_for_it(manager, db, users, locale):
    users["manager"].locale = locale
    db.commit()
    zh = locale == "zh_CN"
    job, page = _mapping(manager)
    assert guessed(page) == GUESS
    # One text input under each column, explained once; no script on the page.
    box = _key_input(page, 2)
    assert 'id="key-2"' in box and 'value=""' in box
    label = (
        "列 Loyalty card no. 的新自定义键" if zh else "New custom key for column Loyalty card no."
    )
    assert f'aria-label="{label}"' in box
    help_text = "若要将某列保存为尚无字段定义的自定义键" if zh else "type the key under the column"
    assert help_text in page.split('id="custom-key-help"')[1].split("</p>")[0]
    assert "<script" not in page.split('id="mapping-form"')[1].split("</form>")[0]
    # Typed with or without "custom.": the column feeds custom.loyalty_card.
    typed = "custom.loyalty_card" if zh else "  loyalty_card "
    sent = {**GUESS, "key_2": typed, "timezone": "UTC"}
    r = manager.post(f"/imports/{job}/mapping", sent)
    assert r.status_code == 303, r.text
    db.expire_all()
    assert db.get(ImportJob, job).mapping["columns"][COLUMN] == "custom.loyalty_card"
    shown = "loyalty_card（未定义）" if zh else "loyalty_card (not defined)"
    check = manager.get(f"/imports/{job}").text
    assert f"<td>{COLUMN}</td><td>{shown}</td>" in check
    assert 'id="count-rejected">0<' in check
    # Back on the mapping step the key is one of the drop-down's choices, chosen.
    again = manager.get(f"/imports/{job}/mapping").text
    assert guessed(again)["col_2"] == "custom.loyalty_card"
    assert f'<option value="custom.loyalty_card" selected>{shown}</option>' in again
    assert 'value=""' in _key_input(again, 2)
    assert 'id="count-created">2<' in run(manager, job, "all").text
    assert _stored(db) == {"LK1": {"loyalty_card": "LC-001"}, "LK2": {}}


def test_a_typed_key_takes_the_place_of_the_choice_and_may_be_a_defined_fields(manager, db):
    job, _page = _mapping(manager)
    # Misc chosen as "note" in the drop-down, but a key typed under it: the key wins; the
    # typed key of a defined field (wallet_spend, migration 0049) is that field, typed.
    content = FILE.replace(b"LC-001", b'"1,200"')
    job, _page = _mapping(manager, content)
    sent = {**GUESS, "col_3": "note", "key_3": "segment", "key_2": "wallet_spend.coffee"}
    r = manager.post(f"/imports/{job}/mapping", {**sent, "timezone": "UTC"})
    assert r.status_code == 303, r.text
    db.expire_all()
    columns = db.get(ImportJob, job).mapping["columns"]
    assert columns[COLUMN] == "custom.wallet_spend.coffee" and columns["Misc"] == "custom.segment"
    run(manager, job, "all")
    stored = _stored(db)
    assert stored["LK1"] == {"wallet_spend.coffee": "1200", "segment": "x"}
    assert stored["LK2"] == {"segment": "y"}
    assert db.scalar(select(Customer.note).where(Customer.external_id == "LK1")) is None


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_key_no_field_could_have_is_refused_naming_the_column(manager, db, users, locale):
    users["manager"].locale = locale
    db.commit()
    zh = locale == "zh_CN"
    job, _page = _mapping(manager)
    for typed in ("Loyalty Card", "9card", "loyalty..card", "custom.", "会员卡", "k" * 51):
        key = typed.removeprefix("custom.")
        sent = {**GUESS, "col_3": "note", "key_2": typed, "timezone": "Asia/Shanghai"}
        r = manager.post(f"/imports/{job}/mapping", sent)
        assert r.status_code == 422, (typed, r.text)
        shown = key.replace("'", "&#39;")
        if zh:
            said = (
                f"列“{COLUMN}”：“{shown}”不是有效的自定义字段键（小写字母、数字和 _，以字母开头，"
                "各部分以点分隔，最多 50 个字符）。"
            )
        else:
            said = (
                f"Column &#39;{COLUMN}&#39;: &#39;{shown}&#39; is not a custom field key "
                "(lower-case letters, digits and _, starting with a letter, parts separated by "
                "a dot, at most 50 characters)."
            )
        assert said in r.text, (typed, r.text)
        # The page comes back as sent: the typed key in its box (marked), the choices kept.
        box = _key_input(r.text, 2)
        assert f'value="{typed}"' in box and 'aria-invalid="true"' in box, box
        assert guessed(r.text) == {**GUESS, "col_3": "note"}
        assert 'value="Asia/Shanghai"' in r.text
        assert 'aria-invalid="true"' not in _key_input(r.text, 3)
    # Nothing was kept: the stored mapping is still the guess, nothing imported.
    db.expire_all()
    assert db.get(ImportJob, job).status == "uploaded"
    assert guessed(manager.get(f"/imports/{job}/mapping").text) == GUESS
    assert _stored(db) == {}


def test_two_columns_for_one_typed_key_are_refused(manager, db):
    job, _page = _mapping(manager)
    sent = {**GUESS, "key_2": "loyalty_card", "key_3": "loyalty_card", "timezone": "UTC"}
    r = manager.post(f"/imports/{job}/mapping", sent)
    assert r.status_code == 422
    assert (
        "columns &#39;Loyalty card no.&#39; and &#39;Misc&#39; both give field "
        "&#39;custom.loyalty_card&#39;"
    ) in r.text
    assert 'value="loyalty_card"' in _key_input(r.text, 2)
    assert 'value="loyalty_card"' in _key_input(r.text, 3)


def test_other_files_have_no_key_inputs_and_ignore_one_sent(manager, db):
    content = b"external_id,name,unit_price,unit_cost,Card\nPK1,Tea,1.50,0.80,x\n"
    job, page = _mapping(manager, content, entity="products")
    assert 'name="key_' not in page and 'id="custom-key-help"' not in page
    sent = {**guessed(page), "key_4": "loyalty_card", "timezone": "UTC"}
    r = manager.post(f"/imports/{job}/mapping", sent)
    assert r.status_code == 303, re.findall(r"flash-error[^>]*>([^<]*)<", r.text)
    db.expire_all()
    assert db.get(ImportJob, job).mapping["columns"]["Card"] is None


# ------------------------------------------------------------- the CLI and the API
def test_the_command_line_maps_a_column_to_a_new_key(cli_db, tmp_path):  # noqa: F811
    path = tmp_path / "c.csv"
    path.write_bytes(FILE)
    bad = ["import", "customers", str(path), "--map", f"{COLUMN}=custom.Loyalty Card"]
    r = runner.invoke(app, bad)
    assert r.exit_code == 1
    assert _flat(
        f"Error: Column '{COLUMN}': 'Loyalty Card' is not a custom field key (lower-case "
        f"letters, digits and _, starting with a letter, parts separated by a dot, at most 50 "
        f"characters). (field: {COLUMN})"
    ) in _flat(r.output), r.output
    r = runner.invoke(app, ["--lang", "zh_CN", *bad])
    assert r.exit_code == 1
    assert _flat(f"错误：列“{COLUMN}”：“LoyaltyCard”不是有效的自定义字段键") in _flat(r.output)
    with cli_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0
    good = ["import", "customers", str(path), "--map", f"{COLUMN}=custom.loyalty_card"]
    r = runner.invoke(app, good)
    assert r.exit_code == 0, r.output
    with cli_db.connect() as conn:
        stored = conn.execute(
            select(Customer.custom_fields).where(Customer.external_id == "LK1")
        ).scalar_one()
    assert stored == {"loyalty_card": "LC-001"}


def test_the_api_maps_a_column_to_a_new_key(client, tokens, db):
    def post(mapping: dict):
        return client.post(
            "/api/v1/imports/customers",
            headers=tokens["admin"],
            files={"file": ("c.csv", FILE, "text/csv")},
            data={"mapping": json.dumps({"columns": mapping})},
        )

    r = post({COLUMN: "custom.Loyalty Card"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == COLUMN
    assert r.json()["detail"].startswith(
        f"Column '{COLUMN}': 'Loyalty Card' is not a custom field key"
    )
    assert _stored(db) == {}
    r = post({COLUMN: "custom.loyalty_card"})
    assert r.status_code == 200, r.text
    assert _stored(db) == {"LK1": {"loyalty_card": "LC-001"}, "LK2": {}}
