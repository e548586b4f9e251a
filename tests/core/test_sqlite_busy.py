"""SQLite's "database is locked" (another connection is writing) is a 503 ``busy`` with
Retry-After, like PostgreSQL's lock timeout, never a 500: nothing was written and a retry may
pass. The demo runs on SQLite, where a background job writing while a page writes hit it."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from retento.core.handlers import is_lock_timeout
from retento.customers import service


def _locked_error(tmp_path) -> OperationalError:
    """A real "database is locked" from SQLite: a second connection writes while the first
    holds the write lock, without waiting."""
    path = tmp_path / "busy.db"
    first = sqlite3.connect(path, timeout=0, isolation_level=None)
    first.execute("CREATE TABLE t (x INTEGER)")
    first.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (1)")
    second = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as exc:
            second.execute("INSERT INTO t VALUES (2)")
    finally:
        second.close()
        first.execute("ROLLBACK")
        first.close()
    assert "locked" in str(exc.value)
    return OperationalError("INSERT INTO t VALUES (2)", {}, exc.value)


def test_sqlite_locked_is_a_lock_timeout_and_other_errors_are_not(tmp_path):
    assert is_lock_timeout(_locked_error(tmp_path))
    other = sqlite3.OperationalError("no such table: nothing")
    assert not is_lock_timeout(OperationalError("SELECT 1", {}, other))


def test_api_answers_503_busy(client, tokens, monkeypatch, tmp_path):
    err = _locked_error(tmp_path)

    def locked(*args, **kwargs):
        raise err

    monkeypatch.setattr(service, "list_customers_page", locked)
    r = client.get("/api/v1/customers", headers=tokens["analyst"])
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["code"] == "busy"
