"""`retento loyalty check` passes on a consistent ledger and exits 1 on any mismatch."""

from __future__ import annotations

from sqlalchemy import text
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory, transaction
from retento.core.migrate import upgrade
from retento.loyalty import service
from tests.factories import make_customer, make_user
from tests.factories.loyalty import make_programme

runner = CliRunner()


def test_check_passes_then_catches_a_tampered_balance(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        make_programme(s)
        admin = make_user(s, role="admin")
        c = make_customer(s)
        service.adjust(s, c.id, 120, actor=admin, reason="welcome")
        service.redeem(s, c.id, points=20, actor=admin)
    ok = runner.invoke(app, ["loyalty", "check"])
    assert ok.exit_code == 0, ok.output
    assert "Ledger OK" in ok.output
    bal = runner.invoke(app, ["loyalty", "balance", str(c.id)])
    assert bal.exit_code == 0 and "balance 100" in bal.output
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE loyalty_accounts SET balance = balance + 5 WHERE customer_id IS NOT NULL")
        )
    bad = runner.invoke(app, ["loyalty", "check"])
    assert bad.exit_code == 1
    engine.dispose()
    get_settings.cache_clear()
