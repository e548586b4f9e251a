"""Loyalty CSV exports go through the one export writer: UTF-8 with BOM (Excel reads Chinese),
formulas neutralised, like every other list export."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from retento.loyalty import service
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

BOM = b"\xef\xbb\xbf"


def _members(db, users):
    make_programme(db)
    a = make_customer(db, external_id="会员-1", email="li@example.com")
    b = make_customer(db, external_id="=HYPERLINK(1)")
    for c in (a, b):
        service.adjust(db, c.id, 120, actor=users["manager"], reason="welcome")
    db.commit()
    return a, b


def _rows(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(BOM), body[:20]
    return list(csv.DictReader(io.StringIO(body[len(BOM) :].decode("utf-8"))))


def test_web_members_csv_has_the_bom_like_the_other_list_exports(db, client, users):
    _members(db, users)
    web = Browser(client)
    web.login("manager")
    r = web.get("/loyalty/members/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="loyalty-members.csv"' in r.headers["content-disposition"]
    rows = _rows(r.content)
    assert [x["customer_external_id"] for x in rows] == ["会员-1", "'=HYPERLINK(1)"]
    assert rows[0]["balance"] == "120" and rows[0]["email"] == "li@example.com"
    # The same writer as the customer list's export.
    assert web.get("/customers/export.csv").content.startswith(BOM)
    x = web.get("/loyalty/members/export.xlsx")
    assert x.status_code == 200
    sheet = list(load_workbook(io.BytesIO(x.content)).active.values)
    assert sheet[1][0] == "会员-1" and sheet[1][5] == 120
    # An unknown format is a 4xx, not a CSV.
    assert web.get("/loyalty/members/export.pdf").status_code == 422


def test_web_members_export_needs_the_export_permission(db, client, users):
    _members(db, users)
    web = Browser(client)
    web.login("agent")
    assert web.get("/loyalty/members/export.csv").status_code == 403


def test_api_member_and_ledger_exports_have_the_bom(db, client, users, tokens):
    _members(db, users)
    r = client.get("/api/v1/loyalty/members/export?format=csv", headers=tokens["manager"])
    assert r.status_code == 200
    assert _rows(r.content)[0]["customer_external_id"] == "会员-1"
    r = client.get("/api/v1/loyalty/members/export?format=csv", headers=tokens["agent"])
    assert r.status_code == 403
    for what, first in (
        ("members", "customer_external_id"),
        ("postings", "journal_id"),
        ("liability", "figure"),
    ):
        r = client.get(f"/api/v1/loyalty/export/{what}", headers=tokens["manager"])
        assert r.status_code == 200, (what, r.text)
        rows = _rows(r.content)
        assert first in rows[0], what
    members = _rows(client.get("/api/v1/loyalty/export/members", headers=tokens["manager"]).content)
    assert members[0]["customer_external_id"] == "会员-1" and members[0]["balance"] == "120"
    liability = {
        x["figure"]: x["value"]
        for x in _rows(
            client.get("/api/v1/loyalty/export/liability", headers=tokens["analyst"]).content
        )
    }
    assert liability["outstanding_points"] == "240"
    assert client.get("/api/v1/loyalty/export/nope", headers=tokens["manager"]).status_code == 404


def test_cli_exports_have_the_bom(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from retento.cli import app
    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory, transaction
    from retento.core.migrate import upgrade
    from tests.factories import make_user

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            make_programme(s)
            admin = make_user(s, role="admin")
            c = make_customer(s, external_id="会员-1")
            service.adjust(s, c.id, 75, actor=admin, reason="welcome")
        runner = CliRunner()
        out = tmp_path / "members.csv"
        r = runner.invoke(app, ["loyalty", "export-members", "-o", str(out)])
        assert r.exit_code == 0, r.output
        assert _rows(out.read_bytes())[0]["customer_external_id"] == "会员-1"
        out = tmp_path / "postings.csv"
        r = runner.invoke(app, ["loyalty", "export", "postings", "-o", str(out)])
        assert r.exit_code == 0 and "Wrote 2 rows" in r.output, r.output
        assert {x["amount"] for x in _rows(out.read_bytes())} == {"75", "-75"}
    finally:
        engine.dispose()
        get_settings.cache_clear()
