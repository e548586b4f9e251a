"""Hostile files: XLSX bombs, oversized sheets, unterminated CSV quotes, bad bytes, streaming."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from retento.core.errors import InvalidInput, RetentoError
from retento.core.limits import current_limits, use_limits
from retento.customers.models import Customer
from retento.dataio import service
from retento.dataio.readers import open_table

SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def _small_xlsx() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["external_id", "name"])
    ws.append(["X1", "Xavier"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _with_sheet(write_sheet) -> bytes:
    """A copy of a real workbook whose first sheet's XML is produced by ``write_sheet(fh)``."""
    src = zipfile.ZipFile(io.BytesIO(_small_xlsx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if info.filename == SHEET:
                with dst.open(SHEET, "w", force_zip64=True) as fh:
                    write_sheet(fh)
            else:
                dst.writestr(info, src.read(info.filename))
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A few hundred KB that inflate to ~300 MB of sheet XML (5 million one-cell rows)."""

    def sheet(fh):
        fh.write(SHEET_HEAD + b"<sheetData>")
        row = b'<row><c t="inlineStr"><is><t>bomb</t></is></c></row>' * 10_000
        for _ in range(600):
            fh.write(row)
        fh.write(b"</sheetData></worksheet>")

    return _with_sheet(sheet)


def _count(db) -> int:
    return db.scalar(select(func.count()).select_from(Customer))


def test_an_xlsx_bomb_is_refused_quickly_with_bounded_memory(db, users, bomb):
    assert len(bomb) < 1024 * 1024
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(RetentoError) as info:
        service.import_file(db, "customers", bomb, actor=users["admin"], name="bomb.xlsx")
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 2, seconds
    assert peak < 20 * 1024 * 1024, peak
    err = info.value
    assert (err.status, err.code, err.field) == (413, "payload_too_large", "file")
    assert "inflate" in err.message and "xl/worksheets/sheet1.xml" in err.message
    assert _count(db) == 0


def test_the_bomb_is_refused_over_the_api(client, tokens, bomb):
    client.get("/api/v1/customers", headers=tokens["admin"])  # warm up (imports, first query)
    t0 = time.perf_counter()
    r = client.post(
        "/api/v1/imports/customers",
        headers=tokens["admin"],
        files={"file": ("bomb.xlsx", bomb, "application/octet-stream")},
    )
    assert time.perf_counter() - t0 < 2
    assert r.status_code == 413, r.text
    assert r.json()["field"] == "file"


def test_a_survey_import_refuses_the_bomb(client, tokens, db, users, bomb):
    from retento.surveys import service as surveys
    from retento.surveys.schemas import SurveyUpdate
    from tests.surveys.conftest import small_survey_data

    s = surveys.create_survey(db, small_survey_data(), actor=users["manager"])
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    db.commit()
    client.get("/api/v1/customers", headers=tokens["manager"])  # warm up
    t0 = time.perf_counter()
    r = client.post(
        f"/api/v1/surveys/{s.id}/import",
        headers=tokens["manager"],
        files={"file": ("bomb.xlsx", bomb, "application/octet-stream")},
    )
    assert time.perf_counter() - t0 < 2
    assert r.status_code == 413, r.text


def test_a_huge_declared_dimension_is_not_padded():
    """One cell, but the sheet claims A1:XFD1048576: openpyxl would pad 17 billion cells."""

    def sheet(fh):
        fh.write(SHEET_HEAD + b'<dimension ref="A1:XFD1048576"/><sheetData>')
        fh.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>external_id</t></is></c>')
        fh.write(b'<c r="B1" t="inlineStr"><is><t>name</t></is></c></row>')
        fh.write(b'<row r="2"><c r="A2" t="inlineStr"><is><t>D1</t></is></c>')
        fh.write(b'<c r="B2" t="inlineStr"><is><t>Dee</t></is></c></row>')
        fh.write(b"</sheetData></worksheet>")

    t0 = time.perf_counter()
    table = open_table(_with_sheet(sheet), "dim.xlsx")
    assert (table.header, list(table.rows)) == (["external_id", "name"], [(2, ["D1", "Dee"])])
    assert time.perf_counter() - t0 < 2


def test_rows_beyond_the_limit_are_refused(db, users):
    def sheet(fh):
        fh.write(SHEET_HEAD + b"<sheetData>")
        fh.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>external_id</t></is></c>')
        fh.write(b'<c r="B1" t="inlineStr"><is><t>name</t></is></c></row>')
        fh.write(b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>Z</t></is></c>')
        fh.write(b'<c r="B1048576" t="inlineStr"><is><t>Zed</t></is></c></row>')
        fh.write(b"</sheetData></worksheet>")

    data = _with_sheet(sheet)
    with use_limits(replace(current_limits(), xlsx_rows=1000)):
        t0 = time.perf_counter()
        with pytest.raises(RetentoError) as info:
            service.import_file(db, "customers", data, actor=users["admin"], name="far.xlsx")
        assert time.perf_counter() - t0 < 2
    assert info.value.status == 413
    assert "1,000 rows" in info.value.message
    assert _count(db) == 0


def test_columns_beyond_the_limit_are_refused():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([f"c{i}" for i in range(30)])
    buf = io.BytesIO()
    wb.save(buf)
    with use_limits(replace(current_limits(), xlsx_columns=20)):
        with pytest.raises(RetentoError) as info:
            list(open_table(buf.getvalue(), "wide.xlsx").rows)
    assert info.value.status == 413
    assert "20 columns" in info.value.message


def test_a_normal_workbook_still_imports(db, users):
    report = service.import_file(
        db, "customers", _small_xlsx(), actor=users["admin"], name="ok.xlsx"
    )
    assert report.created == 1


def test_a_part_read_whole_into_memory_has_its_own_limit():
    """Shared strings, styles … are loaded whole by openpyxl; worksheets are streamed."""
    import random

    rnd = random.Random(3)
    strings = "".join(f"<si><t>{rnd.getrandbits(64):x}</t></si>" for _ in range(3000))
    src = zipfile.ZipFile(io.BytesIO(_small_xlsx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        dst.writestr("xl/sharedStrings.xml", f"<sst>{strings}</sst>")
    small = replace(current_limits(), xlsx_part_bytes=20_000)
    with use_limits(small):
        with pytest.raises(RetentoError) as info:
            open_table(out.getvalue(), "strings.xlsx")
        assert "xl/sharedStrings.xml" in info.value.message
        assert "read whole into memory" in info.value.message
        # the same limit does not apply to a worksheet, which is streamed
        big_sheet = _with_sheet(
            lambda fh: fh.write(
                SHEET_HEAD
                + b"<sheetData>"
                + b"".join(
                    b'<row><c t="inlineStr"><is><t>%x</t></is></c></row>' % rnd.getrandbits(64)
                    for _ in range(2000)
                )
                + b"</sheetData></worksheet>"
            )
        )
        table = open_table(big_sheet, "sheet.xlsx")
        assert sum(1 for _ in table.rows) == 1999


def test_a_zip_that_is_not_a_workbook_is_a_clear_422():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(InvalidInput) as info:
        open_table(buf.getvalue(), "fake.xlsx")
    assert info.value.field == "file"
    assert "is not an Excel workbook (.xlsx): it is a zip archive" in info.value.message


# --- CSV ---------------------------------------------------------------------------------------


def test_an_unterminated_quote_is_refused_with_row_and_column(db, users):
    data = b'external_id,name,city\nC1,Alice,Paris\nC2,"Bob,Lyon\nC3,Carol,Nice\nC4,Dan,Metz\n'
    with pytest.raises(InvalidInput) as info:
        service.import_file(db, "customers", data, actor=users["admin"], name="q.csv")
    err = info.value
    assert [(e.row, e.field) for e in err.errors] == [(3, "name")]
    assert "quote" in err.message and "line 3" in err.message
    assert _count(db) == 0


def test_an_unterminated_quote_in_the_last_column_and_with_semicolons():
    data = b'external_id;name\nC1;"Alice\n'
    with pytest.raises(InvalidInput) as info:
        list(open_table(data, "q.csv").rows)
    assert [(e.row, e.field) for e in info.value.errors] == [(2, "name")]


def test_text_after_a_closing_quote_is_refused():
    data = b'external_id,name\nC1,"Alice" Smith\n'
    with pytest.raises(InvalidInput) as info:
        list(open_table(data, "q.csv").rows)
    assert info.value.errors[0].row == 2


def test_quoted_multiline_values_still_read():
    data = b'external_id,name,note\nC1,Alice,"two\nlines"\nC2,Bob,x\n'
    rows = list(open_table(data, "ok.csv").rows)
    assert rows == [(2, ["C1", "Alice", "two\nlines"]), (4, ["C2", "Bob", "x"])]


def test_bad_bytes_deep_in_a_file_name_their_line(db, users, tmp_path: Path):
    lines = [b"external_id,name"] + [b"C%d,Name %d" % (i, i) for i in range(2, 9000)]
    lines[6000 - 1] = b"C6000,Caf\xe9"  # Latin-1, not UTF-8
    path = tmp_path / "latin.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(InvalidInput) as info:
        service.import_file(db, "customers", path, actor=users["admin"])
    err = info.value
    assert err.errors[0].row == 6000
    assert "Line 6000 is not valid utf-8" in err.message
    assert "gb18030" in err.message
    assert _count(db) == 0


def test_a_named_encoding_still_reads(db, users):
    data = "external_id,name\nG1,张三\n".encode("gb18030")
    from retento.dataio.mapping import Mapping

    report = service.import_file(
        db,
        "customers",
        data,
        actor=users["admin"],
        name="g.csv",
        mapping=Mapping(encoding="gb18030"),
    )
    assert report.created == 1


class _Spy(io.RawIOBase):
    """A readable binary file that remembers how much each read asked for."""

    def __init__(self, data: bytes):
        self._buf = io.BytesIO(data)
        self.asks: list[int] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        return self._buf.seek(pos, whence)

    def tell(self) -> int:
        return self._buf.tell()

    def readinto(self, b) -> int:
        self.asks.append(len(b))
        return self._buf.readinto(b)

    def read(self, size: int = -1) -> bytes:
        self.asks.append(size)
        return self._buf.read(size)


def test_csv_is_read_in_pieces_not_all_at_once():
    data = b"external_id,name\n" + b"".join(b"S%07d,Some name\n" % i for i in range(300_000))
    spy = _Spy(data)
    tracemalloc.start()
    table = open_table(spy, "big.csv")
    n = sum(1 for _ in table.rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 300_000
    assert all(0 < a <= 1024 * 1024 for a in spy.asks), max(spy.asks)
    assert peak < len(data) / 2, (peak, len(data))


def test_xlsx_uploads_are_read_from_the_file_not_copied(tmp_path: Path):
    path = tmp_path / "ok.xlsx"
    path.write_bytes(_small_xlsx())
    with path.open("rb") as fh:
        table = open_table(fh, "ok.xlsx")
        assert list(table.rows) == [(2, ["X1", "Xavier"])]


def test_custom_fields_limits_apply_to_imports(db, users):
    import json

    wide = json.dumps({f"k{i}": i for i in range(101)}).replace('"', '""')
    deep = ("[" * 40 + "]" * 40).replace('"', '""')
    many = ",".join(f"custom.c{i}" for i in range(101))
    data = (
        "external_id,name,custom_fields\n"
        f'W1,Wide,"{wide}"\n'
        f'D1,Deep,"{{""a"": {deep}}}"\n'
        'OK1,Fine,"{""size"": ""L""}"\n'
    )
    with pytest.raises(InvalidInput) as info:
        service.import_file(db, "customers", data.encode(), actor=users["admin"], name="c.csv")
    got = [(e.row, e.field, e.message) for e in info.value.errors]
    assert got[0][:2] == (2, "custom_fields") and "at most 100 keys" in got[0][2]
    assert got[1][:2] == (3, "custom_fields") and "nested deeper than 32" in got[1][2]
    assert len(got) == 2
    cols = "external_id,name," + many + "\n" + "M1,Many," + ",".join("v" * 101) + "\n"
    with pytest.raises(InvalidInput) as info:
        service.import_file(db, "customers", cols.encode(), actor=users["admin"], name="m.csv")
    assert info.value.errors[0].field == "custom_fields"
    assert _count(db) == 0


def test_the_apps_settings_reach_the_readers(session_factory, tokens, db):
    """The middleware hands the app's limits to the import service (a worker thread)."""
    from fastapi.testclient import TestClient

    from retento.app import create_app
    from retento.core.config import Settings

    app = create_app(
        Settings(database_url="sqlite://", run_scheduler=False, secret_key="test", max_xlsx_rows=1)
    )
    app.state.session_factory = session_factory
    with TestClient(app) as c:
        r = c.post(
            "/api/v1/imports/customers",
            headers=tokens["admin"],
            files={"file": ("ok.xlsx", _small_xlsx(), "application/octet-stream")},
        )
    assert r.status_code == 413, r.text
    assert "more than 1 rows" in r.json()["detail"]
    assert _count(db) == 0
