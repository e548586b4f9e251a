"""The customer import's custom keys, one rule for ``retento import``, the API and the wizard:

* a ``custom.<key>`` column whose key no custom field could have (the rule of a definition's
  key: ``customers.field_values.is_key``) is refused before any row is read, the column and the
  reason named, in English and Chinese;
* a breakdown key ``<key>.<part>`` of a defined field takes that field's type, as the field's
  own column does and as the API's customer create/update does (``custom_field_values``): a bad
  value is a row error naming the line and the column, and nothing is written.

Service and API on both backends; the command line on SQLite (``cli_db``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from retento.cli import app
from retento.core.cli_support import error_lines
from retento.core.errors import InvalidInput
from retento.customers.field_defs import FieldDefinitionUpdate, update_definition
from retento.customers.models import Customer
from retento.customers.service import custom_field_values
from retento.dataio import service
from retento.dataio.mapping import Mapping
from retento.web.i18n import message_text
from tests.customers.test_custom_fields import FIELDS, define
from tests.dataio.test_cli import cli_db  # noqa: F401
from tests.factories import make_customer

runner = CliRunner()


def _import(db, users, content: str, **kw):
    return service.import_file(
        db, "customers", content.encode("utf-8"), actor=users["admin"], name="c.csv", **kw
    )


def _custom(db, ext: str) -> dict | None:
    return db.scalar(select(Customer.custom_fields).where(Customer.external_id == ext))


def _flat(output: str) -> str:
    """Without whitespace: Rich wraps long lines (Chinese ones anywhere)."""
    return "".join(output.split())


def _refused(db, users, content: str, **kw) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        _import(db, users, content, **kw)
    return info.value


# ----------------------------------------------------------------------- keys
@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("custom.foo!bar", "foo!bar"),
        ("custom.9x", "9x"),
        ("custom.a..b", "a..b"),
        ("custom.中文", "中文"),
        ("custom.", ""),
        ("custom.tier.", "tier."),
        ("custom." + "k" * 51, "k" * 51),
    ],
)
def test_a_column_whose_key_no_field_could_have_is_refused_before_any_row(db, users, header, key):
    problem = _refused(db, users, f"external_id,name,{header}\nK1,Ann,x\nK2,Bob,\n")
    assert problem.field == header
    assert problem.message == (
        f"Column '{header}': '{key}' is not a custom field key (lower-case letters, digits and "
        "_, starting with a letter, parts separated by a dot, at most 50 characters)."
    )
    assert message_text("zh_CN", problem.message) == (
        f"列“{header}”：“{key}”不是有效的自定义字段键（小写字母、数字和 _，以字母开头，"
        "各部分以点分隔，最多 50 个字符）。"
    )
    assert _custom(db, "K1") is None and _custom(db, "K2") is None


def test_headers_are_loosened_first_and_every_refused_column_is_named(db, users):
    # custom.Gift-Wrap is gift_wrap, a key a field could have: stored as an other field.
    _import(db, users, "external_id,name,custom.Gift-Wrap,custom.Loyalty Card\nG1,Ann,yes,LC\n")
    assert _custom(db, "G1") == {"gift_wrap": "yes", "loyalty_card": "LC"}
    # Two refused columns: both listed (line 1, the header), the first in the message.
    problem = _refused(db, users, "external_id,name,custom.9x,ok,custom.中文\nG2,Bob,1,2,3\n")
    assert [(e.row, e.field) for e in problem.errors] == [(1, "custom.9x"), (1, "custom.中文")]
    assert problem.field == "custom.9x" and "'9x' is not a custom field key" in problem.message
    # A mapping's target is taken as written; the column it maps is the one named.
    card = Mapping(columns={"Card": "custom.Card No"})
    problem = _refused(db, users, "external_id,name,Card\nG3,Cid,C-1\n", mapping=card)
    assert problem.field == "Card"
    assert problem.message.startswith("Column 'Card': 'Card No' is not a custom field key")
    # A refused column dropped by the mapping does not stop the import.
    dropped = Mapping(columns={"custom.9x": None, "custom.中文": None})
    _import(db, users, "external_id,name,custom.9x,custom.中文\nG4,Dan,1,2\n", mapping=dropped)
    assert _custom(db, "G4") == {}
    assert _custom(db, "G2") is None and _custom(db, "G3") is None


# ---------------------------------------------------------------- breakdowns
def test_a_breakdown_of_a_number_field_is_stored_as_the_field_stores_numbers(db, users):
    """wallet_spend is a number field (migration 0049): its breakdown cells are parsed as its
    own column's are, and stored as the API stores the same value."""
    report = _import(
        db,
        users,
        "external_id,name,wallet_spend,custom.wallet_spend.coffee,custom_fields\n"
        'N1,Ann,"3,000","1,200","{""wallet_spend.tea"": ""2,000.5""}"\n'
        "N2,Bob,,300,\n",
    )
    assert (report.created, report.rejected) == (2, 0)
    assert _custom(db, "N1") == {
        "wallet_spend": "3000",
        "wallet_spend.coffee": "1200",
        "wallet_spend.tea": "2000.5",
    }
    assert _custom(db, "N2") == {"wallet_spend.coffee": "300"}
    api, problems = custom_field_values(db, {"wallet_spend.coffee": "1,200"}, None)
    assert problems == [] and api == {
        "wallet_spend.coffee": _custom(db, "N1")["wallet_spend.coffee"]
    }


def test_a_bad_breakdown_value_is_a_row_error_and_nothing_is_written(db, users):
    content = "external_id,name,custom.wallet_spend.coffee\nW1,Ann,12.50\nW2,Bob,a lot\n"
    problem = _refused(db, users, content)
    assert [(e.row, e.field, e.message) for e in problem.errors] == [
        (3, "custom.wallet_spend.coffee", "Must be a number, like 12.50.")
    ]
    assert "line 3, custom.wallet_spend.coffee: Must be a number" in problem.message
    assert message_text("zh_CN", problem.errors[0].message) == "必须是数字，例如 12.50。"
    assert _custom(db, "W1") is None and _custom(db, "W2") is None
    # The API refuses the same value for the same key.
    assert custom_field_values(db, {"wallet_spend.coffee": "a lot"}, None)[1]
    # --skip-invalid imports the good row only.
    report = _import(db, users, content, skip_invalid=True)
    assert (report.created, report.rejected) == (1, 1)
    assert _custom(db, "W1") == {"wallet_spend.coffee": "12.50"}


def test_breakdowns_of_choice_yes_no_and_date_fields_take_their_type(db, users):
    define(db, users["admin"], [FIELDS[0], FIELDS[1], FIELDS[3]])  # tier, vip, first_visit
    header = "external_id,name,custom.tier.online,custom.vip.extra,custom.first_visit.web\n"
    report = _import(db, users, header + "T1,Ann,金卡,是,2024-02-29\nT2,Bob,silver,no,\n")
    assert (report.created, report.rejected) == (2, 0)
    assert _custom(db, "T1") == {
        "tier.online": "Gold",
        "vip.extra": True,
        "first_visit.web": "2024-02-29",
    }
    assert _custom(db, "T2") == {"tier.online": "Silver", "vip.extra": False}
    problem = _refused(db, users, header + "T3,Cid,Platinum,maybe,31/12/2024\nT4,Dan,Gold,,\n")
    got = {(e.row, e.field): e.message for e in problem.errors}
    assert got == {
        (2, "custom.tier.online"): "'Platinum' is not one of: Gold, Silver.",
        (2, "custom.vip.extra"): "Must be yes or no.",
        (2, "custom.first_visit.web"): "Must be a date like 2026-12-31.",
    }
    # As the command line and the wizard word them for a Chinese reader.
    zh = _flat("".join(error_lines(problem, "zh_CN")))
    for line in (
        "第 2 行，custom.tier.online 列：'Platinum' 不在可选值中：Gold, Silver.",
        "第 2 行，custom.vip.extra 列：必须是“是”或“否”。",
        "第 2 行，custom.first_visit.web 列：必须是日期，例如 2026-12-31。",
    ):
        assert _flat(line) in zh, zh
    assert _custom(db, "T3") is None and _custom(db, "T4") is None


def test_a_retired_fields_breakdown_may_be_kept_not_changed(db, users):
    (tier,) = define(db, users["admin"], FIELDS[:1])
    make_customer(db, external_id="R1", name="Retired", custom_fields={"tier.online": "Gold"})
    update_definition(db, tier.id, FieldDefinitionUpdate(active=False), actor=users["admin"])
    db.commit()
    report = _import(db, users, "external_id,name,custom.tier.online\nR1,Retired,Gold\n")
    assert report.rejected == 0 and _custom(db, "R1") == {"tier.online": "Gold"}
    problem = _refused(db, users, "external_id,name,custom.tier.online\nR1,Retired,Silver\n")
    assert [(e.row, e.field) for e in problem.errors] == [(2, "custom.tier.online")]
    assert "retired" in problem.errors[0].message
    assert _custom(db, "R1") == {"tier.online": "Gold"}


# ----------------------------------------------------------------------- API
def _post(client, headers, content: str):
    return client.post(
        "/api/v1/imports/customers",
        headers=headers,
        files={"file": ("c.csv", content.encode(), "text/csv")},
    )


def test_the_api_answers_422_naming_the_column_or_the_row(client, tokens, db):
    r = _post(client, tokens["admin"], "external_id,name,custom.9x\nA1,Ann,1\n")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "custom.9x"
    assert body["detail"].startswith("Column 'custom.9x': '9x' is not a custom field key")
    r = _post(
        client, tokens["admin"], "external_id,name,custom.wallet_spend.coffee\nA2,Bob,a lot\n"
    )
    assert r.status_code == 422, r.text
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [
        (2, "custom.wallet_spend.coffee")
    ]
    assert db.scalar(select(Customer.id).where(Customer.external_id.in_(["A1", "A2"]))) is None
    r = _post(
        client, tokens["admin"], 'external_id,name,custom.wallet_spend.coffee\nA3,Cid,"1,200"\n'
    )
    assert r.status_code == 200 and r.json()["created"] == 1
    assert _custom(db, "A3") == {"wallet_spend.coffee": "1200"}


# ----------------------------------------------------------------------- CLI
def test_the_command_line_refuses_in_english_and_chinese(cli_db, tmp_path):  # noqa: F811
    bad_key = tmp_path / "keys.csv"
    bad_key.write_text("external_id,name,custom.9x\nC1,Ann,1\n")
    r = runner.invoke(app, ["import", "customers", str(bad_key)])
    assert r.exit_code == 1
    assert _flat(
        "Error: Column 'custom.9x': '9x' is not a custom field key (lower-case letters, digits "
        "and _, starting with a letter, parts separated by a dot, at most 50 characters). "
        "(field: custom.9x)"
    ) in _flat(r.output), r.output
    r = runner.invoke(app, ["--lang", "zh_CN", "import", "customers", str(bad_key)])
    assert r.exit_code == 1
    assert _flat("错误：列“custom.9x”：“9x”不是有效的自定义字段键") in _flat(r.output), r.output
    assert "（字段：custom.9x）" in _flat(r.output)

    bad_value = tmp_path / "values.csv"
    bad_value.write_text("external_id,name,custom.wallet_spend.coffee\nC2,Bob,1\nC3,Cid,a lot\n")
    r = runner.invoke(app, ["import", "customers", str(bad_value)])
    assert r.exit_code == 1
    assert _flat("line 3, column custom.wallet_spend.coffee: Must be a number, like 12.50.") in (
        _flat(r.output)
    ), r.output
    r = runner.invoke(app, ["--lang", "zh_CN", "import", "customers", str(bad_value)])
    assert r.exit_code == 1
    assert _flat("第 3 行，custom.wallet_spend.coffee 列：必须是数字，例如 12.50。") in (
        _flat(r.output)
    ), r.output
    with cli_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar_one() == 0

    good = tmp_path / "good.csv"
    good.write_text('external_id,name,custom.wallet_spend.coffee\nC4,Dan,"1,200"\n')
    r = runner.invoke(app, ["import", "customers", str(good)])
    assert r.exit_code == 0, r.output
    with cli_db.connect() as conn:
        stored = conn.execute(
            select(Customer.custom_fields).where(Customer.external_id == "C4")
        ).scalar_one()
    assert stored == {"wallet_spend.coffee": "1200"}
