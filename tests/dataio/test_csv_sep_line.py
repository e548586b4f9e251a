"""Excel's ``sep=;`` first line (written on "CSV (semicolon)" exports in some locales, and read by
Excel, which takes the separator from it and hides the line): every import (the web wizard,
the API, the command line) takes the separator from it and skips it; lines keep their place
in the file."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from retento.core.errors import InvalidInput
from retento.customers.models import Customer
from retento.dataio import service
from retento.dataio.readers import declared_delimiter, open_table
from tests.dataio.test_cli import _output, cli_db  # noqa: F401 - the CLI's database fixture
from tests.dataio.wizard_support import run, walk_to_check
from tests.web.conftest import Browser

# As Excel writes it: BOM, "sep=;", CRLF; the first line of a semicolon file with a comma inside
# a value, so a separator guessed from the first line would be wrong.
SEP_FILE = (
    "\ufeffsep=;\r\nexternal_id;name;city\r\nS-1;Smith, Ann;Lyon\r\nS-2;Dupont;Paris, 15e\r\n"
).encode()


def _names(db) -> dict[str, tuple[str, str]]:
    rows = db.execute(
        select(Customer.external_id, Customer.name, Customer.city).where(
            Customer.external_id.in_(["S-1", "S-2"])
        )
    ).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_the_line_is_recognised_and_nothing_else_is():
    assert declared_delimiter("sep=;") == ";" and declared_delimiter("sep=,\r\n") == ","
    assert declared_delimiter("SEP=|") == "|" and declared_delimiter('"sep=\t"') == "\t"
    for line in ("external_id;name", "sep=", "sep=;;", "separator=;", "a,sep=;"):
        assert declared_delimiter(line) is None, line


def test_the_reader_takes_the_separator_and_skips_the_line():
    table = open_table(SEP_FILE, "excel.csv")
    assert table.header == ["external_id", "name", "city"] and table.header_line == 2
    assert list(table.rows) == [
        (3, ["S-1", "Smith, Ann", "Lyon"]),
        (4, ["S-2", "Dupont", "Paris, 15e"]),
    ]
    # A separator given explicitly (a mapping's "delimiter") still wins; the line is skipped.
    table = open_table(b"sep=,\nexternal_id;name\nA;B\n", "x.csv", delimiter=";")
    assert table.header == ["external_id", "name"] and list(table.rows) == [(3, ["A", "B"])]
    # Without the line, nothing changes.
    table = open_table(b"external_id;name\nA;B\n", "x.csv")
    assert table.header_line == 1 and list(table.rows) == [(2, ["A", "B"])]


def test_the_service_imports_it_and_names_lines_as_they_are_in_the_file(db, users):
    report = service.import_file(db, "customers", SEP_FILE, name="excel.csv", actor=users["admin"])
    assert report.created == 2
    assert _names(db) == {"S-1": ("Smith, Ann", "Lyon"), "S-2": ("Dupont", "Paris, 15e")}
    bad = b"sep=;\nexternal_id;name\nT-1;Tea\nT-2;\n"
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "customers", bad, name="bad.csv", actor=users["admin"])
    assert [(e.row, e.field) for e in exc.value.errors] == [(4, "name")]
    # A header problem names the header's line.
    with pytest.raises(InvalidInput) as exc:
        service.import_file(db, "customers", b"sep=;\nname;city\nA;B\n", name="h.csv",
                            actor=users["admin"])  # fmt: skip
    assert {e.row for e in exc.value.errors} == {2}


def test_the_api_imports_it(client, tokens, db):
    r = client.post(
        "/api/v1/imports/customers",
        headers=tokens["admin"],
        files={"file": ("excel.csv", SEP_FILE, "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    db.expire_all()
    assert _names(db)["S-1"] == ("Smith, Ann", "Lyon")


def test_the_browser_wizard_imports_it(client, db, users):
    web = Browser(client)
    web.login("manager")
    job = walk_to_check(web, "customers", "excel.csv", SEP_FILE)
    result = run(web, job, "all")
    assert "Created: 2, updated: 0" in result.text
    db.expire_all()
    assert _names(db) == {"S-1": ("Smith, Ann", "Lyon"), "S-2": ("Dupont", "Paris, 15e")}


def test_the_command_line_imports_it(cli_db, tmp_path):  # noqa: F811
    from retento.cli import app

    path = tmp_path / "excel.csv"
    path.write_bytes(SEP_FILE)
    r = CliRunner().invoke(app, ["import", "customers", str(path)])
    assert r.exit_code == 0, _output(r)
    assert "2 created, 0 updated" in _output(r)
    with cli_db.connect() as conn:
        names = conn.execute(select(Customer.name).order_by(Customer.external_id)).scalars().all()
        assert names == ["Smith, Ann", "Dupont"]
        assert conn.execute(select(func.count()).select_from(Customer)).scalar_one() == 2
