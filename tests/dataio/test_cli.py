from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.migrate import upgrade

runner = CliRunner()


@pytest.fixture
def cli_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    monkeypatch.delenv("RETENTO_LANG", raising=False)  # the language each test asks for
    get_settings.cache_clear()
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash, is_active, locale,"
                " created_at, updated_at) VALUES ('admin', 'Admin', 'admin', 'x', 1, 'en',"
                " '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
            )
        )
    yield eng
    eng.dispose()
    get_settings.cache_clear()


def _count(eng, table: str) -> int:
    with eng.connect() as conn:
        return conn.execute(select(func.count()).select_from(text(table))).scalar_one()


def _output(result) -> str:
    # Rich wraps long lines at the terminal width; compare with whitespace collapsed.
    return " ".join(result.output.split())


def test_import_reports_counts_and_upserts(cli_db, data_dir):
    r = runner.invoke(app, ["import", "customers", str(data_dir / "customers.csv")])
    assert r.exit_code == 0, _output(r)
    assert "3 created, 0 updated" in _output(r)
    runner.invoke(app, ["import", "products", str(data_dir / "products.csv")])
    r = runner.invoke(app, ["import", "orders", str(data_dir / "orders.csv")])
    assert r.exit_code == 0 and "2 created" in _output(r) and "3 line(s) written" in _output(r)
    r = runner.invoke(app, ["import", "orders", str(data_dir / "orders.csv")])
    assert "0 created, 0 updated, 2 unchanged" in _output(r)
    assert _count(cli_db, "orders") == 2 and _count(cli_db, "order_lines") == 3
    with cli_db.connect() as conn:
        after = conn.execute(text("SELECT after FROM audit_log WHERE entity = 'import'")).all()
    assert len(after) == 4  # one entry per run, not per row


def test_bad_file_prints_lines_and_exits_1(cli_db, data_dir):
    runner.invoke(app, ["import", "customers", str(data_dir / "customers.csv")])
    runner.invoke(app, ["import", "products", str(data_dir / "products.csv")])
    r = runner.invoke(app, ["import", "orders", str(data_dir / "orders_bad_dates.csv")])
    out = _output(r)
    assert r.exit_code == 1
    assert "line 3, column ordered_at: '31/02/2025' is not a valid timestamp" in out
    assert "line 4, column ordered_at" in out and "Traceback" not in out
    assert _count(cli_db, "orders") == 0


def test_skip_invalid_writes_rejects_next_to_the_input(cli_db, data_dir, tmp_path):
    runner.invoke(app, ["import", "customers", str(data_dir / "customers.csv")])
    runner.invoke(app, ["import", "products", str(data_dir / "products.csv")])
    src = tmp_path / "in.csv"
    shutil.copy(data_dir / "orders_unknown_customer.csv", src)
    r = runner.invoke(app, ["import", "orders", str(src), "--skip-invalid"])
    assert r.exit_code == 0, _output(r)
    assert "1 created" in _output(r) and "2 rejected" in _output(r)
    rejects = (tmp_path / "in.rejects.csv").read_text(encoding="utf-8-sig")
    assert "NOBODY" in rejects and "NOPRODUCT" in rejects and "IO1" not in rejects
    custom = tmp_path / "bad.csv"
    r = runner.invoke(
        app, ["import", "orders", str(src), "--skip-invalid", "--rejects", str(custom)]
    )
    assert custom.exists()


def test_map_flags_encoding_and_export(cli_db, data_dir, tmp_path):
    src = tmp_path / "k.csv"
    src.write_text("Nr,Name,Stadt\nK1,Eins,Berlin\n")
    r = runner.invoke(
        app, ["import", "customers", str(src), "--map", "Nr=external_id", "--map", "Stadt=city"]
    )
    assert r.exit_code == 0, _output(r)
    r = runner.invoke(
        app,
        ["import", "customers", str(data_dir / "customers_gb18030.csv"), "--encoding", "gb18030"],
    )
    assert r.exit_code == 0 and "2 created" in _output(r)
    out = tmp_path / "out.csv"
    r = runner.invoke(app, ["export", "customers", "--output", str(out), "--q", "eins"])
    assert r.exit_code == 0, _output(r)
    body = out.read_text(encoding="utf-8-sig").splitlines()
    assert len(body) == 2 and body[1].startswith("K1,Eins,") and ",Berlin," in body[1]
    r = runner.invoke(app, ["export", "orders", "--output", str(out), "--tag", "x"])
    assert r.exit_code == 1 and "--tag do not apply to orders" in _output(r)


def test_missing_file_and_unknown_entity(cli_db, tmp_path):
    r = runner.invoke(app, ["import", "customers", str(tmp_path / "nope.csv")])
    assert r.exit_code == 1 and "does not exist" in _output(r)
    r = runner.invoke(app, ["import", "planets", str(tmp_path / "nope.csv")])
    assert r.exit_code == 1 and "Cannot import 'planets'" in _output(r)
