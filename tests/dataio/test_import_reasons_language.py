"""Every reason the importer gives for a row, and every refusal of a file, reads in the reader's
language: the wizard's check step and rejects file, and the CLI (``retento --lang zh_CN import``).
The importer words its row reasons in English with the values inside; ``dataio.messages`` knows
each one's shape and rebuilds it from a translated msgid. A new reason without a shape (or without
Chinese) fails ``test_every_row_reason_written_in_the_importers_has_a_chinese_shape``."""

from __future__ import annotations

import ast
import importlib
import io
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from retento.cli import app
from retento.core.errors import InvalidInput, Msg
from retento.core.limits import check_custom_fields, check_json_depth, current_limits
from retento.core.validation import check_day, check_phone, not_after_tomorrow
from retento.customers.field_values import key_problem
from retento.customers.models import Customer
from retento.dataio import messages, service
from retento.dataio.mapping import Converter, Mapping
from retento.dataio.messages import FORMULA_PROBLEM, as_msg
from retento.dataio.readers import open_table
from retento.web.i18n import gettext, message_text
from tests.dataio.test_cli import cli_db  # noqa: F401 - the CLI's own database
from tests.dataio.wizard_support import run, walk_to_check
from tests.web.conftest import Browser

SRC = Path(__file__).resolve().parents[2] / "src" / "retento" / "dataio"
IMPORTERS = ("import_base", "import_records", "import_orders", "import_complaints")
HAN = re.compile(r"[\u4e00-\u9fff]")

# Reasons the importers pass on from elsewhere (a converter's or a validator's ValueError, a
# limit's InvalidInput, a custom field's conversion, pydantic's for complaints): checked below by
# producing them (``DYNAMIC_SAMPLES``), or left to their own catalogue.
DYNAMIC = {
    "str(exc)",
    "p.message",
    "why",
    "key_problem(key)",  # customers.field_values.KEY_RULE (customer_fields.po)
    "str(why)",
    "exc.message.split(': ', 1)[-1]",
    "message",  # _reject_order's parameter: its callers' texts are collected
    "str(exc.message)",  # complaints: the complaint service's own refusal (its catalogue)
    "str(first['msg'])",  # complaints: pydantic's message of the service's own schema
}


def _zh(text_: str) -> str:
    return messages.translate(text_, lambda m: gettext("zh_CN", m))


def _en(text_: str) -> str:
    return messages.translate(text_, lambda m: gettext("en", m))


def _is_text(node: ast.AST | None) -> bool:
    """Whether ``node`` is text written in the source (a string, an f-string, a choice of them)."""
    if isinstance(node, ast.IfExp):
        return _is_text(node.body) and _is_text(node.orelse)
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _samples(node: ast.AST, consts: dict[str, ast.AST], where: str) -> list[str]:
    """The texts an argument can be, its placeholders filled with "7"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for v in node.values:
            if isinstance(v, ast.Constant):
                options = [v.value]
            elif isinstance(v.value, ast.Name) and _is_text(consts.get(v.value.id)):
                options = _samples(consts[v.value.id], consts, where)  # a text made before
            else:
                options = ["7"]
            texts = [t + o for t in texts for o in options]
        return texts
    if isinstance(node, ast.IfExp):
        return _samples(node.body, consts, where) + _samples(node.orelse, consts, where)
    if isinstance(node, ast.Name) and node.id in consts:
        return _samples(consts[node.id], consts, where)
    imported = (
        getattr(
            importlib.import_module(f"retento.dataio.{where.split('.')[0]}"),
            ast.unparse(node),
            None,
        )
        if isinstance(node, ast.Name)
        else None
    )
    if isinstance(imported, str):
        return [imported]
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "Msg" and node.args:
        return _samples(node.args[0], consts, where)
    source = ast.unparse(node)
    assert source in DYNAMIC, f"{where}: a reason the test cannot read: {source}"
    return []


def _reasons() -> list[tuple[str, str]]:
    """(where, text) of every reason the importers write: the message of each RowProblem,
    FieldError, _reject_order and ValueError they make."""
    found = []
    for name in IMPORTERS:
        tree = ast.parse((SRC / f"{name}.py").read_text(encoding="utf-8"))
        consts: dict[str, ast.AST] = {}
        for node in ast.walk(tree):  # module constants and local names given one text
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    consts.setdefault(target.id, node.value)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            where = f"{name}.py:{node.lineno}"
            if func in ("RowProblem", "FieldError", "self._reject_order") and len(node.args) > 1:
                arg = node.args[1]
            elif func == "ValueError" and node.args:
                arg = node.args[0]
            else:
                continue
            found += [(where, t) for t in _samples(arg, consts, where)]
    return found


REASONS = _reasons()


def test_the_collector_finds_the_reasons():
    texts = {t for _w, t in REASONS}
    assert "is empty" in texts
    assert "'7' already appears on line 7 of this file" in texts
    assert messages.FORMULA_PROBLEM  # said in place of any problem of such a cell
    assert len(texts) > 25


@pytest.mark.parametrize(("where", "reason"), REASONS, ids=[w for w, _t in REASONS])
def test_every_row_reason_written_in_the_importers_has_a_chinese_shape(where, reason):
    zh = _zh(reason)
    assert zh != reason and HAN.search(zh), f"{where}: no Chinese for {reason!r}"
    # Rebuilt in English, the shape gives the very same text back (its groups are right).
    assert _en(reason) == reason, where
    assert str(as_msg(reason)) == reason, where


def _dynamic_samples() -> list[str]:
    conv = Converter(Mapping())
    out: list[str] = []
    calls = [
        lambda: conv.date("31/02/2025"),
        lambda: conv.timestamp("yesterday"),
        lambda: conv.timestamp(""),
        lambda: conv.cents(""),
        lambda: conv.cents("abc"),
        lambda: conv.cents("12,50"),
        lambda: conv.cents("1,2,3"),
        lambda: conv.cents("1.234"),
        lambda: conv.cents("1e30"),
        lambda: conv.boolean("maybe"),
        lambda: check_day(date(1800, 1, 1)),
        lambda: not_after_tomorrow(datetime.now(UTC).date() + timedelta(days=30)),
        lambda: check_phone("call me"),
    ]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        out.append(str(info.value))
    # The custom_fields column over its limits: the part after "custom_fields: ".
    lim = current_limits()
    deep: dict = {}
    for _ in range(lim.json_depth + 1):
        deep = {"a": deep}
    for call in (
        lambda: check_custom_fields({f"k{i}": 1 for i in range(lim.custom_fields_keys + 1)}),
        lambda: check_custom_fields(deep),
        lambda: check_json_depth('{"a":' * 60 + "1" + "}" * 60, "custom_fields"),
        lambda: check_custom_fields({"a": "x" * (lim.custom_fields_bytes + 1)}),
    ):
        with pytest.raises(InvalidInput) as exc:
            call()
        out.append(exc.value.message.split(": ", 1)[-1])
    # A custom field's value not of its type (customers.field_values.convert).
    out += [
        str(Msg("At most %(max)s characters.", max=500)),
        str(Msg("Must be a number, like 12.50.")),
        str(Msg("Must be a date like 2026-12-31.")),
        str(Msg("Must be yes or no.")),
        str(Msg("'%(value)s' is not one of: %(options)s.", value="XL", options="s, m, l")),
        str(Msg("This field is retired: its value can be kept or removed only.")),
        str(key_problem("Gift Wrap!")),
    ]
    return out


@pytest.mark.parametrize("reason", _dynamic_samples())
def test_reasons_passed_on_from_converters_and_validators_have_chinese(reason):
    zh = _zh(reason)
    assert zh != reason and HAN.search(zh), reason
    assert _en(reason) == reason


# --------------------------------------------------------------------------- the CLI
runner = CliRunner()


def _cli(lang: str, *args: str) -> str:
    r = runner.invoke(app, ["--lang", lang, "import", *args])
    assert r.exit_code == 1, r.output
    return " ".join(r.output.split())


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_the_cli_says_the_first_bad_row_in_its_language(cli_db, tmp_path, lang):  # noqa: F811
    path = tmp_path / "dup.csv"
    path.write_text(
        "external_id,name,birth_date\nQA020,A,2000-01-01\nQA020,B,2000-01-01\n", encoding="utf-8"
    )
    out = _cli(lang, "customers", str(path))
    if lang == "zh_CN":
        assert "（第一处：第 3 行，external_id：'QA020' 已出现在本文件第 2 行）" in out, out
        assert "already appears" not in out
    else:
        assert "(first: line 3, external_id: 'QA020' already appears on line 2 of this file)" in out
    path.write_text("external_id,name,birth_date\nQA1,A,1800-01-01\n", encoding="utf-8")
    out = _cli(lang, "customers", str(path))
    if lang == "zh_CN":
        assert "birth_date：日期必须在 1900-01-01 到 2200-12-31 之间" in out, out
        assert "must be between" not in out
    else:
        assert "birth_date: date must be between 1900-01-01 and 2200-12-31" in out


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_header_without_the_required_columns_names_the_entity_by_its_label(
    cli_db,  # noqa: F811
    tmp_path,
    lang,
):
    path = tmp_path / "missing_cols.csv"
    path.write_text("nm,x\na,b\n", encoding="utf-8")
    out = _cli(lang, "customers", str(path))
    if lang == "zh_CN":
        assert "missing_cols.csv：表头缺少导入客户所需的列。" in out, out
    else:
        assert "missing_cols.csv: the header lacks required columns for Customers." in out, out


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_an_xlsx_that_is_not_a_zip_is_refused_in_words_not_the_library_s(cli_db, tmp_path, lang):  # noqa: F811
    path = tmp_path / "fake.xlsx"
    path.write_text("external_id,name\nA,B\n", encoding="utf-8")
    out = _cli(lang, "customers", str(path))
    assert "zip" not in out.lower()
    if lang == "zh_CN":
        assert "fake.xlsx 不是 Excel 工作簿（.xlsx）" in out and "CSV" in out, out
    else:
        assert "fake.xlsx is not an Excel workbook (.xlsx)" in out and "renamed" in out, out


# ------------------------------------------------------------------- unreadable workbooks
def _workbook(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _rewrite(data: bytes, part: str, change) -> bytes:
    """``data`` (a zip) with ``part`` passed through ``change`` (None: left out)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == part:
                body = change(body)
                if body is None:
                    continue
            z.writestr(info, body)
    return out.getvalue()


GOOD = _workbook([["external_id", "name"], ["A1", "Ann"]])
BAD_FILES = {
    "text renamed": (b"external_id,name\nA,B\n", "its content is of another kind", "其他类型"),
    "old xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "97-2003", "97-2003"),
    "zip without a workbook": (
        _rewrite(GOOD, "xl/workbook.xml", lambda b: None),
        "without a workbook's parts",
        "缺少工作簿应有的组成部分",
    ),
    "damaged sheet": (
        _rewrite(GOOD, "xl/worksheets/sheet1.xml", lambda b: b[: len(b) // 2] + b"<<"),
        "is damaged",
        "已损坏",
    ),
}


# (A text file named .xls is read as the CSV it is: see the test after this one.)
@pytest.mark.parametrize(
    ("case", "name"),
    [
        (case, name)
        for case in BAD_FILES
        for name in ("book.xlsx", "book.xls")
        if not (case == "text renamed" and name == "book.xls")
    ],
)
def test_an_unreadable_workbook_is_said_in_words_in_both_languages(case, name):
    data, en, zh = BAD_FILES[case]
    with pytest.raises(InvalidInput) as info:
        table = open_table(data, name)
        list(table.rows)
    exc = info.value
    assert exc.field == "file"
    english = message_text("en", exc.message)
    chinese = message_text("zh_CN", exc.message)
    assert english.startswith(name) and en in english, english
    assert chinese.startswith(name) and zh in chinese, chinese
    for raw in ("zip file", "There is no item", "KeyError", "not well-formed"):
        assert raw not in english and raw not in chinese


def test_a_text_file_named_xls_is_read_as_the_csv_it_is():
    """Tab- or comma-separated exports are often named .xls: read as text, not refused."""
    table = open_table(BAD_FILES["text renamed"][0], "book.xls")
    assert list(table.rows)


# ------------------------------------------------------------ formulas without a saved value
def _with_formulas() -> bytes:
    """Customers: F1's name and F2's city are formulas openpyxl wrote without a value; F4's city
    is a formula saved with an empty text result (t="str"), which was calculated."""
    data = _workbook(
        [
            ["external_id", "name", "city"],
            ["F1", '="Ann"&""', "Paris"],
            ["F2", "Bob", '=UPPER("x")'],
            ["F3", "Cy", "Rome"],
            ["F4", "Di", '=IF(1,"","")'],
        ]
    )

    def saved_empty_text(body: bytes) -> bytes:
        return re.sub(rb'<c r="C5">(<f>.*?</f>)<v ?/>', rb'<c r="C5" t="str">\1<v></v>', body)

    return _rewrite(data, "xl/worksheets/sheet1.xml", saved_empty_text)


def test_a_formula_without_a_saved_value_is_said_to_be_one(db, users):
    report = service.import_file(
        db, "customers", _with_formulas(), name="f.xlsx", actor=users["admin"], skip_invalid=True
    )
    assert report.created == 2 and report.rejected == 2
    got = [(e.row, e.field, e.message) for e in report.errors]
    assert got == [(2, "name", FORMULA_PROBLEM), (3, "city", FORMULA_PROBLEM)]
    zh = _zh(FORMULA_PROBLEM)
    assert zh.startswith("含有公式，但没有保存计算结果") and "Excel" in zh
    assert _en(FORMULA_PROBLEM) == FORMULA_PROBLEM
    db.expire_all()
    kept = dict(db.execute(select(Customer.external_id, Customer.city)).tuples().all())
    assert kept == {"F3": "Rome", "F4": None}  # F2 was not imported without its city


def test_an_order_line_with_a_formula_without_a_value_is_refused(db, base):
    data = _workbook(
        [
            ["order_external_id", "customer_external_id", "ordered_at", "product_external_id",
             "quantity", "unit_price"],
            ["O1", "IC001", "2025-03-01 10:00", "IP01", "=1+1", "68.00"],
            ["O2", "IC001", "2025-03-02 10:00", "IP01", 1, "68.00"],
        ]
    )  # fmt: skip
    report = service.import_file(db, "orders", data, name="o.xlsx", actor=base, skip_invalid=True)
    assert report.created == 1 and report.rejected == 1
    assert [(e.row, e.field, e.message) for e in report.errors] == [
        (2, "quantity", FORMULA_PROBLEM)
    ]


# ---------------------------------------------------------------- the wizard, in Chinese
@pytest.fixture
def admin_zh(client, db, users) -> Browser:
    users["admin"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("admin")
    return web


def test_the_wizard_says_the_date_range_and_a_formula_in_chinese(admin_zh, db):
    content = b"external_id,name,birth_date\nW1,A,1800-01-01\nW2,B,2000-01-01\n"
    job = walk_to_check(admin_zh, "customers", "c.csv", content)
    check = admin_zh.get(f"/imports/{job}").text
    assert "日期必须在 1900-01-01 到 2200-12-31 之间" in check
    assert "must be between" not in check
    run(admin_zh, job, "skip")
    rejects = admin_zh.get(f"/imports/{job}/rejects.csv").content.decode("utf-8-sig")
    assert "birth_date: 日期必须在 1900-01-01 到 2200-12-31 之间" in rejects

    job = walk_to_check(admin_zh, "customers", "f.xlsx", _with_formulas())
    check = admin_zh.get(f"/imports/{job}").text
    assert "含有公式，但没有保存计算结果" in check
    assert "holds a formula" not in check


def test_importer_modules_still_import():
    for name in IMPORTERS:
        importlib.import_module(f"retento.dataio.{name}")
