"""SQLite: a unit of work that writes begins IMMEDIATE, so a writer that commits meanwhile makes
it wait instead of failing with "database is locked" (seen as a 500 on the login page while
`retento serve --demo`'s jobs ran)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from retento.core.db import make_engine, make_session_factory, transaction, will_write


@pytest.fixture()
def factory(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (0)")
    yield make_session_factory(engine)
    engine.dispose()


def _job_commits_meanwhile(factory, started: threading.Event) -> threading.Thread:
    def job() -> None:
        started.wait()
        with transaction(factory) as s:
            s.execute(text("UPDATE t SET n = n + 1"))

    thread = threading.Thread(target=job)
    thread.start()
    return thread


def _read_then_write(session, started: threading.Event) -> None:
    session.execute(text("SELECT n FROM t")).scalar_one()
    started.set()
    time.sleep(0.3)  # the job tries to commit now
    session.execute(text("UPDATE t SET n = n + 10"))
    session.commit()


def test_a_writer_that_read_first_waits_its_turn_instead_of_failing(factory):
    started = threading.Event()
    job = _job_commits_meanwhile(factory, started)
    session = will_write(factory())
    try:
        _read_then_write(session, started)
    finally:
        session.close()
    job.join(10)
    with factory() as s:
        assert s.execute(text("SELECT n FROM t")).scalar_one() == 11  # both writes, in turn


def test_without_it_the_same_sequence_fails_at_once(factory):
    """Why will_write exists: a deferred transaction whose snapshot is stale cannot upgrade."""
    started = threading.Event()
    job = _job_commits_meanwhile(factory, started)
    session = factory()
    try:
        session.execute(text("SELECT n FROM t")).scalar_one()
        started.set()
        job.join(10)  # the job committed after our read
        with pytest.raises(OperationalError, match="database is locked"):
            session.execute(text("UPDATE t SET n = n + 10"))
    finally:
        session.rollback()
        session.close()
