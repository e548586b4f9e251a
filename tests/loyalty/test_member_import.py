"""Member import and export: CSV/XLSX, row and column errors, all or nothing, idempotent."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from retento.core.errors import InvalidInput
from retento.loyalty import ledger
from retento.loyalty.check import check_ledger
from retento.loyalty.members_io import export_members, import_members
from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal, LoyaltyTierChange
from tests.factories import make_customer
from tests.factories.loyalty import make_programme, make_tiers
from tests.web.conftest import Browser

CSV = (
    "customer_external_id,email,tier,opening_balance,key,joined_at\n"
    "M-1,,gold,500,row-1,2024-05-01\n"
    ",bo@example.com,,120,row-2,\n"
    "M-3,,vip,,,\n"
)


def _setup(db):
    make_programme(db)
    gold, vip = make_tiers(db, ("gold", 1000, "1.5"), ("vip", 10**9, "2"))
    vip.invite_only = True
    a = make_customer(db, external_id="M-1")
    b = make_customer(db, email="Bo@example.com")
    c = make_customer(db, external_id="M-3")
    db.commit()
    return a, b, c, gold, vip


def _journals(db):
    return db.scalar(select(func.count()).select_from(LoyaltyJournal))


def test_import_enrols_places_credits_and_reimport_posts_nothing(db, users):
    a, b, c, gold, vip = _setup(db)
    rep = import_members(db, CSV.encode(), "members.csv", actor=users["manager"])
    assert (rep.rows, rep.enrolled, rep.posted, rep.points) == (3, 3, 2, 620)
    assert rep.tier_changes == 2
    wa = ledger.get_wallet(db, a.id)
    assert wa.balance == 500 and wa.tier_id == gold.id and wa.joined_at.year == 2024
    assert ledger.get_wallet(db, b.id).balance == 120
    assert ledger.get_wallet(db, c.id).tier_id == vip.id  # invite-only allowed
    n, changes = _journals(db), db.query(LoyaltyTierChange).count()
    again = import_members(db, CSV.encode(), "members.csv", actor=users["manager"])
    assert (again.posted, again.replayed, again.enrolled, again.tier_changes) == (0, 2, 0, 0)
    assert _journals(db) == n and db.query(LoyaltyTierChange).count() == changes
    assert check_ledger(db).ok


def test_errors_name_row_and_column_and_nothing_is_written(db, users):
    _setup(db)
    bad = (
        "customer_external_id,tier,opening_balance,key,joined_at\n"
        "M-1,gold,500,k1,\n"
        "NOPE,,,,\n"
        "M-3,platinum,,,\n"
        "M-3,,-5,,\n"
        "M-1,,10,k1,2024-13-01\n"
    )
    with pytest.raises(InvalidInput) as e:
        import_members(db, bad.encode(), "m.csv", actor=users["manager"])
    got = {(x.row, x.field) for x in e.value.errors}
    assert (3, "customer_external_id") in got  # unknown customer
    assert (4, "tier") in got  # unknown tier
    assert (5, "opening_balance") in got and (5, "key") not in got
    assert (6, "key") in got and (6, "joined_at") in got  # key used twice, bad date
    assert (
        db.scalar(
            select(func.count())
            .select_from(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id.is_not(None))
        )
        == 0
    )


def test_nul_characters_are_row_errors_not_a_database_refusal(db, users):
    """A NUL in a customer number, an e-mail or a key reached the customer lookup and the
    database refused it field-less ('A value is outside what the database can store.')."""
    _setup(db)
    bad = (
        "customer_external_id,email,tier,opening_balance,key\n"
        "M-1\x00,,gold,,\n"
        ",bo\x00@example.com,,,\n"
        "M-3,,,100,k\x001\n"
    )
    with pytest.raises(InvalidInput) as e:
        import_members(db, bad.encode(), "m.csv", actor=users["manager"])
    got = {(x.row, x.field): x.message for x in e.value.errors}
    assert got == {
        (2, "customer_external_id"): "contains a NUL character",
        (3, "email"): "contains a NUL character",
        (4, "key"): "contains a NUL character",
    }
    assert _journals(db) == 0


def test_missing_columns_and_key_reused_for_another_balance(db, users):
    _setup(db)
    with pytest.raises(InvalidInput) as e:
        import_members(db, b"tier,opening_balance\ngold,5\n", "m.csv", actor=users["manager"])
    assert e.value.field == "customer_external_id"
    import_members(
        db, b"customer_external_id,opening_balance,key\nM-1,5,k\n", "m.csv", actor=users["manager"]
    )
    with pytest.raises(InvalidInput) as e:
        import_members(
            db,
            b"customer_external_id,opening_balance,key\nM-3,7,z\nM-1,9,k\n",
            "m.csv",
            actor=users["manager"],
        )
    assert [(x.row, x.field) for x in e.value.errors] == [(3, "key")]
    assert ledger.get_wallet(db, _cid(db, "M-3")) is None  # the good row was undone too


def _cid(db, ext):
    from retento.customers.models import Customer

    return db.scalar(select(Customer.id).where(Customer.external_id == ext))


def test_xlsx_import_and_export_round_trip(db, users):
    _setup(db)
    wb = Workbook()
    ws = wb.active
    ws.append(["customer_external_id", "tier", "opening_balance", "key"])
    ws.append(["M-1", "gold", 300, "x1"])
    buf = io.BytesIO()
    wb.save(buf)
    rep = import_members(db, buf.getvalue(), "members.xlsx", actor=users["manager"])
    assert rep.posted == 1
    _ctype, name, chunks = export_members(db, actor=users["manager"], fmt="xlsx")
    assert name.endswith(".xlsx")
    rows = list(load_workbook(io.BytesIO(b"".join(chunks))).active.values)
    assert rows[0][0] == "customer_external_id" and rows[1][0] == "M-1" and rows[1][5] == 300
    _ctype, _name, chunks = export_members(db, actor=users["manager"], fmt="csv")
    text = "".join(chunks)
    # The export re-imports without posting anything (balance columns are ignored).
    again = import_members(db, text.encode(), "members.csv", actor=users["manager"])
    assert again.posted == 0 and "balance" in again.ignored_columns
    with pytest.raises(InvalidInput):
        export_members(db, actor=users["manager"], fmt="pdf")


def test_api_and_web_import_export(db, client, users, tokens):
    _setup(db)
    files = {"file": ("members.csv", CSV.encode(), "text/csv")}
    r = client.post("/api/v1/loyalty/members/import", files=files, headers=tokens["agent"])
    assert r.status_code == 403
    r = client.post("/api/v1/loyalty/members/import", files=files, headers=tokens["manager"])
    assert r.status_code == 200 and r.json()["posted"] == 2, r.text
    r = client.post("/api/v1/loyalty/members/import", files=files, headers=tokens["manager"])
    assert r.json()["replayed"] == 2 and r.json()["posted"] == 0
    bad = {"file": ("m.csv", b"customer_external_id\nNOPE\n", "text/csv")}
    r = client.post("/api/v1/loyalty/members/import", files=bad, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 2
    r = client.get("/api/v1/loyalty/members/export?format=csv", headers=tokens["manager"])
    assert r.status_code == 200 and "M-1" in r.text
    r = client.get("/api/v1/loyalty/members?tier=gold", headers=tokens["analyst"])
    assert r.status_code == 200 and r.json()["total"] == 1
    assert (
        client.get("/api/v1/loyalty/members?tier=nope", headers=tokens["analyst"]).status_code
        == 422
    )
    web = Browser(client)
    web.login("manager")
    page = web.get("/loyalty/members")
    assert page.status_code == 200 and 'id="import-form"' in page.text and "export.csv" in page.text
    assert web.get("/loyalty/members/export.csv").status_code == 200
    bad_file = {"file": ("m.csv", b"customer_external_id\nNOPE\n", "text/csv")}
    r = web.post("/loyalty/members/import", {}, files=bad_file)
    assert r.status_code == 422 and 'id="import-errors"' in r.text and "NOPE" in r.text


def _flat(result) -> str:
    return " ".join(result.output.split())


def test_cli_import_and_export_members(tmp_path, monkeypatch):
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
    with transaction(make_session_factory(engine)) as s:
        make_programme(s)
        make_user(s, role="admin")
        make_customer(s, external_id="M-1")
    src = tmp_path / "members.csv"
    src.write_text("customer_external_id,opening_balance,key\nM-1,250,k-1\n", encoding="utf-8")
    runner = CliRunner()
    r = runner.invoke(app, ["loyalty", "import-members", str(src)])
    assert r.exit_code == 0 and "1 opening balances posted (250 points)" in _flat(r), r.output
    r = runner.invoke(app, ["loyalty", "import-members", str(src)])
    assert r.exit_code == 0 and "1 already imported" in _flat(r), r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_external_id\nNOPE\n", encoding="utf-8")
    r = runner.invoke(app, ["loyalty", "import-members", str(bad)])
    assert r.exit_code == 1 and "line 2" in _flat(r)
    out = tmp_path / "out.xlsx"
    r = runner.invoke(app, ["loyalty", "export-members", "-o", str(out), "--format", "xlsx"])
    assert r.exit_code == 0, r.output
    rows = list(load_workbook(out).active.values)
    assert rows[1][0] == "M-1" and rows[1][5] == 250
    engine.dispose()
    get_settings.cache_clear()
