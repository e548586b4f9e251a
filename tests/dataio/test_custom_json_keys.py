"""Keys inside a customer file's ``custom_fields`` JSON column (a whole object in one cell) and
in the API's customer ``custom_fields`` body follow the rule of a ``custom.<key>`` column: a key
no custom field could have (``field_values.key_problem``: ``foo!bar``, ``Tier``,
``wallet_spend.Coffee Beans`` under the number field ``wallet_spend``) is a row error naming
``custom_fields.<key>`` in the file (nothing written) and a 422 naming it on the API and the
form, in English and Chinese; a defined field's key and its breakdowns take its type; what a
customer already stores under such a key, unchanged, is kept (an exported file imported again,
an edit that leaves it alone). Service, API and form on both backends; the command line on
SQLite (``cli_db``)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from retento.cli import app
from retento.core.cli_support import error_lines
from retento.core.errors import InvalidInput
from retento.customers.models import Customer
from retento.dataio import service
from retento.web.i18n import message_text
from tests.dataio.test_cli import cli_db  # noqa: F401
from tests.dataio.wizard_support import walk_to_check
from tests.factories import make_customer
from tests.web.conftest import Browser

runner = CliRunner()


def _rule(key: str) -> str:
    return (
        f"'{key}' is not a custom field key (lower-case letters, digits and _, starting with a "
        "letter, parts separated by a dot, at most 50 characters)."
    )


def _rule_zh(key: str) -> str:
    return (
        f"“{key}”不是有效的自定义字段键（小写字母、数字和 _，以字母开头，各部分以点分隔，"
        "最多 50 个字符）。"
    )


def _cell(obj: str) -> str:
    """A JSON object as a CSV cell."""
    return '"' + obj.replace('"', '""') + '"'


def _import(db, users, content: str, **kw):
    return service.import_file(
        db, "customers", content.encode("utf-8"), actor=users["admin"], name="c.csv", **kw
    )


def _custom(db, ext: str) -> dict | None:
    return db.scalar(select(Customer.custom_fields).where(Customer.external_id == ext))


def _flat(output: str) -> str:
    return "".join(output.split())


HEADER = "external_id,name,custom_fields\n"
BAD = {
    "foo!bar": '{"foo!bar": 1}',
    "Tier": '{"Tier": "Gold"}',
    "wallet_spend.Coffee Beans": '{"wallet_spend.Coffee Beans": "5"}',
    "": '{"": "x"}',
}


# ------------------------------------------------------------------------- the file
def test_a_key_no_field_could_have_is_a_row_error_naming_it(db, users):
    rows = [f"J{n},Ann,{_cell(obj)}" for n, obj in enumerate(BAD.values(), start=1)]
    good = _cell('{"wallet_spend": "3,000", "wallet_spend.tea": "2,000.5", "segment": "food"}')
    content = HEADER + "\n".join(rows) + f"\nJ9,Good,{good}\n"
    with pytest.raises(InvalidInput) as info:
        _import(db, users, content)
    got = [(e.row, e.field, e.message) for e in info.value.errors]
    assert got == [(n, f"custom_fields.{key}", _rule(key)) for n, key in enumerate(BAD, start=2)], (
        got
    )
    assert message_text("zh_CN", info.value.errors[0].message) == _rule_zh("foo!bar")
    # The summary names the first in the reader's language too (the command line's words).
    zh = _flat("".join(error_lines(info.value, "zh_CN")))
    assert _flat(f"第 2 行，custom_fields.foo!bar：{_rule_zh('foo!bar')}") in zh, zh
    assert _flat("第 4 行，custom_fields.wallet_spend.Coffee Beans 列：") in zh
    assert all(_custom(db, f"J{n}") is None for n in (1, 2, 3, 4, 9))
    # --skip-invalid imports the good row: the defined field and its breakdown typed, the key
    # no field defines stored as read (as a custom.<key> column's is).
    report = _import(db, users, content, skip_invalid=True)
    assert (report.created, report.rejected) == (1, 4)
    assert _custom(db, "J9") == {
        "wallet_spend": "3000",
        "wallet_spend.tea": "2000.5",
        "segment": "food",
    }


def test_a_stored_key_is_kept_unchanged_and_refused_changed(db, users):
    """An export of a customer an earlier import gave such keys imports again unchanged; a new
    value under one is refused, and leaving it out of the cell removes it."""
    stored = {"Coffee Beans": "x", "wallet_spend.Coffee Beans": "5", "segment": "food"}
    make_customer(db, external_id="K1", name="Kept", custom_fields=stored)
    db.commit()
    export = "".join(service.export_csv(db, "customers", actor=users["admin"], filters={}))
    row = next(r for r in csv.DictReader(io.StringIO(export.lstrip("\ufeff"))) if r["name"])
    assert row["external_id"] == "K1" and '"Coffee Beans": "x"' in row["custom_fields"]
    report = _import(db, users, export)
    assert (report.updated, report.rejected) == (0, 0)
    assert _custom(db, "K1") == stored
    changed = export.replace('""Coffee Beans"": ""x""', '""Coffee Beans"": ""y""')
    assert changed != export
    with pytest.raises(InvalidInput) as info:
        _import(db, users, changed)
    assert [(e.row, e.field, e.message) for e in info.value.errors] == [
        (2, "custom_fields.Coffee Beans", _rule("Coffee Beans"))
    ]
    assert _custom(db, "K1") == stored
    _import(db, users, HEADER + 'K1,Kept,"{""segment"": ""food""}"\n')
    assert _custom(db, "K1") == {"segment": "food"}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_wizard_names_the_key_in_the_readers_language(client, db, users, locale):
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    content = (HEADER + "W1,Ann," + _cell('{"foo!bar": 1}') + "\nW2,Bob,\n").encode()
    job = walk_to_check(web, "customers", "c.csv", content)
    check = web.get(f"/imports/{job}").text
    assert 'id="count-rejected">1<' in check
    assert '<td class="num">2</td><td><code>custom_fields.foo!bar</code></td>' in check
    said = _rule_zh("foo!bar") if locale == "zh_CN" else _rule("foo!bar").replace("'", "&#39;")
    assert said in check, check
    # The rejected rows' file words it the same way.
    rejects = web.get(f"/imports/{job}/rejects.csv").text
    assert (_rule_zh("foo!bar") if locale == "zh_CN" else _rule("foo!bar")) in rejects


def test_the_command_line_names_the_key_in_english_and_chinese(cli_db, tmp_path):  # noqa: F811
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "C1,Ann," + _cell('{"wallet_spend.中文": "12"}') + "\n")
    r = runner.invoke(app, ["import", "customers", str(path)])
    assert r.exit_code == 1
    line = f"line 2, column custom_fields.wallet_spend.中文: {_rule('wallet_spend.中文')}"
    assert _flat(line) in _flat(r.output), r.output
    r = runner.invoke(app, ["--lang", "zh_CN", "import", "customers", str(path)])
    assert r.exit_code == 1
    line = f"第 2 行，custom_fields.wallet_spend.中文 列：{_rule_zh('wallet_spend.中文')}"
    assert _flat(line) in _flat(r.output), r.output
    with cli_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0


# ------------------------------------------------------------------------- the API
@pytest.mark.parametrize("key", ["wallet_spend.Coffee Beans", "wallet_spend.中文", "Tier", ""])
def test_the_api_refuses_a_key_no_field_could_have(client, tokens, db, key):
    """Before, a breakdown of a defined field was stored whatever its part (``wallet_spend.中文``
    was kept); a key no definition names at all was refused as undefined."""
    h = tokens["admin"]
    body = {"name": "Api", "external_id": "API1", "custom_fields": {key: "12"}}
    r = client.post("/api/v1/customers?force=true", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == f"custom_fields.{key}"
    assert r.json()["detail"] == f"custom_fields.{key}: {_rule(key)}"
    assert _custom(db, "API1") is None


def test_the_api_types_breakdowns_and_keeps_a_stored_key_unchanged(client, tokens, db):
    h = tokens["admin"]
    body = {"name": "Api", "custom_fields": {"wallet_spend": "3,000", "wallet_spend.tea": "1,200"}}
    r = client.post("/api/v1/customers?force=true", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["custom_fields"] == {"wallet_spend": "3000", "wallet_spend.tea": "1200"}
    old = {"wallet_spend.Coffee Beans": "a lot", "foo!bar": 1}
    c = make_customer(db, external_id="API2", name="Old", custom_fields=old)
    db.commit()
    r = client.patch(f"/api/v1/customers/{c.id}", json={"custom_fields": old}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["custom_fields"] == old
    changed = {**old, "wallet_spend.Coffee Beans": "5"}
    r = client.patch(f"/api/v1/customers/{c.id}", json={"custom_fields": changed}, headers=h)
    assert r.status_code == 422
    assert r.json()["field"] == "custom_fields.wallet_spend.Coffee Beans"
    db.expire_all()
    assert _custom(db, "API2") == old


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_form_names_the_key_in_the_readers_language(client, db, users, locale):
    users["manager"].locale = locale
    c = make_customer(db, name="Form", custom_fields={"segment": "food"})
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{c.id}/edit").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = web.post(
        f"/customers/{c.id}/edit",
        {"version": version, "name": "Form",
         "custom_fields": "segment: food\nwallet_spend.Coffee Beans: 5"},
    )  # fmt: skip
    assert r.status_code == 422
    errors = re.findall(r'class="field-error"[^>]*>([^<]*)<', r.text)
    key = "wallet_spend.Coffee Beans"
    said = _rule_zh(key) if locale == "zh_CN" else _rule(key).replace("'", "&#39;")
    assert any(said in e for e in errors), errors
    db.expire_all()
    assert db.get(Customer, c.id).custom_fields == {"segment": "food"}
