from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from retento.core.errors import InvalidInput
from retento.surveys import fileio, responses
from retento.surveys.models import SurveyResponse
from retento.surveys.schemas import AnswerIn, ResponseCreate
from tests.factories import make_customer

HEADER = "response_id,customer_external_id,completed_at,sat,rec,speed.expectation,speed.perception,where,what,note\n"


def _csv(text: str) -> bytes:
    return text.encode("utf-8")


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(SurveyResponse)) or 0


def test_good_csv_imports_and_reimport_updates(db, users, small_survey):
    make_customer(db, external_id="K1")
    make_customer(db, external_id="K2")
    body = HEADER + (
        "P-1,K1,2025-03-01,5,10,4,5,store,a|b,Great\n"
        "P-2,K2,2025-03-02T10:00:00+08:00,2,3,5,2,Web,c;a,\n"
        ",,,,,,,,,\n"
    )
    rep = fileio.import_responses(
        db, small_survey.id, _csv(body), "paper.csv", actor=users["manager"]
    )
    assert (rep["created"], rep["updated"], rep["skipped"], rep["errors"]) == (2, 0, 0, [])
    p2 = db.scalar(select(SurveyResponse).where(SurveyResponse.external_id == "P-2"))
    assert p2.completed_at == datetime(2025, 3, 2, 2, tzinfo=UTC) and p2.channel == "mail"
    assert p2.source == "import"
    codes = {q.id: q.code for q in small_survey.questions}
    got = {codes[a.question_id]: a for a in p2.answers}
    assert got["where"].choices == ["web"] and got["what"].choices == ["c", "a"]
    assert (got["speed"].expectation, got["speed"].number) == (5, 2)
    rep = fileio.import_responses(
        db,
        small_survey.id,
        _csv(HEADER + "P-2,K2,2025-03-02,3,3,5,2,web,,\n"),
        "again.csv",
        actor=users["manager"],
    )
    assert (rep["created"], rep["updated"]) == (0, 1) and _count(db) == 2
    db.refresh(p2)
    assert {codes[a.question_id]: a.number for a in p2.answers}["sat"] == 3


def test_broken_rows_name_line_and_column_and_nothing_is_saved(db, users, small_survey):
    make_customer(db, external_id="K1")
    body = HEADER + (
        "A,K1,2025-03-01,5,10,4,5,store,,\n"  # line 2: fine
        "B,K404,2025-03-01,9,10,4,5,store,,\n"  # line 3: unknown customer, sat 9 > 5
        "C,,yesterday,x,10,4,,moon,a|zz,\n"  # line 4: date, number, pair, choices
        "A,K1,2025-03-01,4,8,4,5,,,\n"  # line 5: duplicate id
        "D,,2025-03-01,,10,,,,,\n"  # line 6: required 'sat' missing
    )
    with pytest.raises(InvalidInput) as e:
        fileio.import_responses(db, small_survey.id, _csv(body), "bad.csv", actor=users["manager"])
    got = {(x.row, x.field) for x in e.value.errors}
    assert got == {
        (3, "customer_external_id"),
        (3, "sat"),
        (4, "completed_at"),
        (4, "sat"),
        (4, "speed.perception"),
        (4, "where"),
        (4, "what"),
        (5, "response_id"),
        (6, "sat"),
    }, e.value.errors
    assert "nothing was saved" in e.value.message and _count(db) == 0
    msg = {(x.row, x.field): x.message for x in e.value.errors}
    assert "from 1 to 5" in msg[(3, "sat")] and "'x' is not a number" == msg[(4, "sat")]
    rep = fileio.import_responses(
        db, small_survey.id, _csv(body), "bad.csv", actor=users["manager"], skip_invalid=True
    )
    assert (rep["created"], rep["skipped"]) == (1, 4) and len(rep["errors"]) == 9
    assert rep["errors"][0]["row"] == 3 and _count(db) == 1


def test_nul_characters_and_ids_past_2_63_are_cell_errors(db, users, small_survey):
    """A NUL in a customer's external id (or a note) and a customer id past 2^63 reached the
    database, which refused them field-less ('A value is outside what the database can
    store.'); each is its row's error naming the column, and nothing is saved."""
    make_customer(db, external_id="K1")
    header = "response_id,customer_id,customer_external_id,sat,rec,note\n"
    body = header + ("A,,K1\x00,5,10,\nB,9223372036854775808,,5,10,\nC,,K1,5,10,fine\x00\n")
    with pytest.raises(InvalidInput) as e:
        fileio.import_responses(db, small_survey.id, _csv(body), "nul.csv", actor=users["manager"])
    got = {(x.row, x.field): x.message for x in e.value.errors}
    assert got == {
        (2, "customer_external_id"): "contains a NUL character",
        (3, "customer_id"): "'9223372036854775808' is not a customer id",
        (4, "note"): "contains a NUL character",
    }, e.value.errors
    assert _count(db) == 0


def test_choice_errors_after_the_row_parses(db, users, small_survey):
    body = HEADER + "C,,,4,10,4,5,moon,a|zz,\n"
    with pytest.raises(InvalidInput) as e:
        fileio.import_responses(db, small_survey.id, _csv(body), "c.csv", actor=users["manager"])
    assert {(x.row, x.field) for x in e.value.errors} == {(2, "where"), (2, "what")}
    assert "'moon' is not an option" in e.value.errors[0].message


@pytest.mark.parametrize(
    ("content", "name", "field", "text"),
    [
        (b"", "empty.csv", "file", "empty"),
        (HEADER.encode(), "header-only.csv", "file", "no data rows"),
        (b"sat,colour\n4,red\n", "unknown.csv", "colour", "Unknown column"),
        (b"sat,sat\n4,4\n", "twice.csv", "sat", "twice"),
        (b"sat,speed\n4,4\n", "pair.csv", "speed", "expectation/perception"),
        (b"sat,speed.expectation\n4,4\n", "half.csv", "speed", "Both"),
        (b"customer_id,channel\n1,phone\n", "noq.csv", None, "no question"),
        (b"\x00\x01garbage", "x.xlsx", "file", "Excel workbook (.xlsx)"),
        (b"sat\n4\n", "x.pdf", "file", ".csv or .xlsx"),
        # (Not opening with FF FE: that is UTF-16's BOM, which the shared reader reads.)
        (b"\x81\xff\xfa\x00\x00\x81", "bin.csv", "file", "neither UTF-8"),
    ],
)
def test_broken_files_are_rejected_with_the_reason(
    db, users, small_survey, content, name, field, text
):
    with pytest.raises(InvalidInput) as e:
        fileio.import_responses(db, small_survey.id, content, name, actor=users["manager"])
    assert text in e.value.message or any(text in x.message for x in e.value.errors)
    assert e.value.field == field
    assert _count(db) == 0


def test_xlsx_with_chinese_labels_and_native_dates(db, users, small_survey):
    c = make_customer(db)
    wb = Workbook()
    ws = wb.active
    ws.append(["customer_id", "channel", "completed_at", "sat", "rec", "where", "note"])
    ws.append([c.id, "onsite", datetime(2025, 4, 1, 9, 30), 4, 9, "Store", "很好"])
    ws.append(["abc", "fax", None, 4, 9, "store", None])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(InvalidInput) as e:
        fileio.import_responses(
            db, small_survey.id, buf.getvalue(), "onsite.xlsx", actor=users["manager"]
        )
    assert {(x.row, x.field) for x in e.value.errors} == {(3, "customer_id"), (3, "channel")}
    rep = fileio.import_responses(
        db,
        small_survey.id,
        buf.getvalue(),
        "onsite.xlsx",
        actor=users["manager"],
        skip_invalid=True,
    )
    assert rep["created"] == 1
    r = db.scalar(select(SurveyResponse))
    assert r.channel == "onsite" and r.customer_id == c.id
    assert r.completed_at == datetime(2025, 4, 1, 9, 30, tzinfo=UTC)


def test_export_round_trips_through_import(db, users, small_survey):
    c = make_customer(db, external_id="RT1")
    responses.record_response(
        db,
        small_survey.id,
        ResponseCreate(
            customer_id=c.id,
            answers=[
                AnswerIn(question="sat", number=4),
                AnswerIn(question="speed", expectation=3, number=4),
                AnswerIn(question="what", choices=["a", "c"]),
                AnswerIn(question="note", text="ok, fine"),
            ],
        ),
        actor=users["agent"],
    )
    for fmt, name in (("csv", "out.csv"), ("xlsx", "out.xlsx")):
        data = fileio.export_bytes(db, small_survey.id, actor=users["analyst"], fmt=fmt)
        rep = fileio.import_responses(db, small_survey.id, data, name, actor=users["manager"])
        assert (rep["created"], rep["updated"], rep["errors"]) == (0, 1, [])
    assert _count(db) == 1
    header, rows = fileio.export_rows(db, small_survey.id, actor=users["analyst"])
    row = dict(zip(header, rows[0], strict=True))
    assert (
        row["customer_external_id"] == "RT1" and row["what"] == "a|c" and row["note"] == "ok, fine"
    )
    assert (row["speed.expectation"], row["speed.perception"]) == (3, 4)


def test_import_permissions(db, users, small_survey):
    from retento.core.errors import Forbidden

    with pytest.raises(Forbidden):
        fileio.import_responses(db, small_survey.id, b"sat\n4\n", "a.csv", actor=users["agent"])


def test_import_through_the_api(client, tokens, db):
    r = client.post(
        "/api/v1/surveys",
        headers=tokens["manager"],
        json={
            "name": "Paper",
            "sections": [
                {
                    "code": "s",
                    "title": "S",
                    "questions": [{"code": "sat", "text": "?", "qtype": "rating"}],
                }
            ],
        },
    )
    sid = r.json()["id"]
    client.patch(f"/api/v1/surveys/{sid}", json={"status": "active"}, headers=tokens["manager"])
    files = {"file": ("p.csv", b"sat\n4\n7\n", "text/csv")}
    r = client.post(f"/api/v1/surveys/{sid}/import", files=files, headers=tokens["manager"])
    assert r.status_code == 422
    assert r.json()["errors"][0]["row"] == 3 and r.json()["errors"][0]["field"] == "sat"
    r = client.post(
        f"/api/v1/surveys/{sid}/import",
        files=files,
        data={"skip_invalid": "true"},
        headers=tokens["manager"],
    )
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["skipped"] == 1
