"""A deadlock PostgreSQL breaks is a 503 ``busy`` with Retry-After, never a 500.

Two requests that take the same rows' locks in opposite orders (a customer merge and a refund
can: the wallet, then the order, against the order, then the wallet) deadlock; PostgreSQL aborts
one. That one wrote nothing and may simply be sent again, like a lock wait that ran out."""

from __future__ import annotations

import threading

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from retento.core.handlers import is_lock_timeout
from retento.customers import service
from tests.conftest import scratch_pg_database


def _real_deadlock() -> OperationalError:
    """Two transactions updating rows 1 and 2 in opposite orders: PostgreSQL's own error."""
    with scratch_pg_database(prefix="retento_deadlock") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (id int PRIMARY KEY, n int)"))
                conn.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def run(first: int, second: int) -> None:
                try:
                    with engine.begin() as conn:
                        conn.execute(text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": first})
                        barrier.wait(10)
                        conn.execute(text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": second})
                except OperationalError as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=p) for p in ((1, 2), (2, 1))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            engine.dispose()
    assert len(errors) == 1, errors
    return errors[0]  # type: ignore[return-value]


def test_a_deadlock_is_busy_not_an_internal_error(client, tokens, monkeypatch):
    err = _real_deadlock()
    assert err.orig.sqlstate == "40P01" and is_lock_timeout(err)

    def deadlocked(*args, **kwargs):
        raise err

    monkeypatch.setattr(service, "list_customers_page", deadlocked)
    r = client.get("/api/v1/customers", headers=tokens["analyst"])
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["code"] == "busy"
