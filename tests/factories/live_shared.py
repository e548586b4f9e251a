"""One real-commit database per test module, put back to its migrated state before each test.

``live_pg`` (tests/conftest.py) copies the migrated template into a new PostgreSQL database for
each test and drops it afterwards: on the shared CI machine the ``CREATE DATABASE`` and the
``DROP DATABASE ... WITH (FORCE)`` took more time than most race tests themselves (a file of 25
race tests spent 150 of its 275 s in them). A module importing ``live_pg`` from here gets the
same thing for one database per module instead: before each test every row written since is
deleted and the rows the migrations seeded (categories, SLA policies, ...) are written back, so
each test starts from the migrated state as before, with real commits, a real connection pool
and a new app (``LivePG``). Sequences are not reset: ids go on counting, as in any database.

    from tests.factories.live_shared import live_pg, live_pg_module  # noqa: F401 (fixtures)

``live_sqlite_module`` and ``ResettableLive`` do the same for a migrated SQLite file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from tests.conftest import LivePG, scratch_pg_database

KEEP = frozenset({"alembic_version"})


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ResettableLive(LivePG):
    """A ``LivePG`` (either backend) that ``reset()`` puts back to the state it had when made."""

    def __init__(self, url: str, seed_file: Path | None = None):
        super().__init__(url)
        self._sqlite = url.startswith("sqlite")
        self._seed_file = seed_file
        names = inspect(self.engine).get_table_names()
        self._tables = sorted(n for n in names if n not in KEEP)
        self._seeded = self._non_empty()
        self._copies: dict[str, bytes] = {}
        if self._sqlite:
            assert seed_file is not None, "a SQLite database is reset from a copy of its file"
            with self.engine.connect() as conn:  # everything in the file, none in the WAL
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            self.engine.dispose()
            shutil.copy(url.removeprefix("sqlite:///"), seed_file)
        else:
            raw = self.engine.raw_connection()
            try:
                with raw.driver_connection.cursor() as cur:
                    for name in self._seeded:
                        with cur.copy(f"COPY {_quote(name)} TO STDOUT (FORMAT BINARY)") as copy:
                            self._copies[name] = b"".join(bytes(block) for block in copy)
                raw.commit()
            finally:
                raw.close()

    def _non_empty(self) -> list[str]:
        """The tables holding at least one row (one query)."""
        probe = " UNION ALL ".join(
            f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM {_quote(n)})" for n in self._tables
        )
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(text(probe))]

    def dispose_app(self) -> None:
        """End this test's app (its pool) so the next test gets a new one, as a new LivePG."""
        if self._app is not None:
            self._app.state.engine.dispose()
            self._app = None

    def reset(self) -> None:
        """Delete every row written since, write the seeded rows back (foreign keys are not
        checked meanwhile: the end state is the migrated one, which satisfies them)."""
        self.dispose_app()
        self.engine.dispose()
        dirty = sorted(set(self._non_empty()) | set(self._seeded))
        if self._sqlite:
            self._reset_sqlite(dirty)
        else:
            self._reset_pg(dirty)

    def _reset_pg(self, dirty: list[str]) -> None:
        raw = self.engine.raw_connection()
        try:
            with raw.driver_connection.cursor() as cur:
                # Connections a test left behind (a thread that timed out) would hold locks.
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                cur.execute("SET LOCAL session_replication_role = replica")
                for name in dirty:
                    cur.execute(f"DELETE FROM {_quote(name)}")
                for name, data in self._copies.items():
                    with cur.copy(f"COPY {_quote(name)} FROM STDIN (FORMAT BINARY)") as copy:
                        copy.write(data)
            raw.commit()
        finally:
            raw.close()
        self.engine.dispose()

    def _reset_sqlite(self, dirty: list[str]) -> None:
        raw = self.engine.raw_connection()
        try:
            cur = raw.driver_connection.cursor()
            cur.execute("ATTACH DATABASE ? AS seed", (str(self._seed_file),))
            cur.execute("BEGIN IMMEDIATE")
            cur.execute("PRAGMA defer_foreign_keys = ON")
            for name in dirty:
                cur.execute(f"DELETE FROM main.{_quote(name)}")
            for name in self._seeded:
                cur.execute(f"INSERT INTO main.{_quote(name)} SELECT * FROM seed.{_quote(name)}")
            cur.execute("COMMIT")
            cur.execute("DETACH DATABASE seed")
            cur.close()
        finally:
            raw.close()
        self.engine.dispose()


@pytest.fixture(scope="module")
def live_pg_module(pg_template: str) -> Iterator[ResettableLive]:
    """The module's PostgreSQL database (a copy of the migrated template), dropped after it."""
    with scratch_pg_database(prefix="retento_live", template=pg_template) as url:
        live = ResettableLive(url)
        try:
            yield live
        finally:
            live.dispose()


@pytest.fixture
def live_pg(live_pg_module: ResettableLive) -> Iterator[ResettableLive]:
    """``live_pg`` on the module's database: in the migrated state, with a new app."""
    live_pg_module.reset()
    yield live_pg_module
    live_pg_module.dispose_app()


@pytest.fixture(scope="module")
def live_sqlite_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResettableLive]:
    """The module's migrated SQLite file with real transactions (reset it before use)."""
    from retento.core.migrate import upgrade

    folder = tmp_path_factory.mktemp("live_sqlite")
    url = f"sqlite:///{folder / 'live.db'}"
    upgrade(url)
    live = ResettableLive(url, seed_file=folder / "seed.db")
    try:
        yield live
    finally:
        live.dispose()


@pytest.fixture
def migrated_db_url(backend: str, tmp_path: Path, request) -> Iterator[str]:
    """A database of the test's backend at the head revision, its own to walk down and up
    (``conftest.scratch_db_url`` migrated): on PostgreSQL a copy of the migrated template,
    not a second migration from nothing; dropped after the test."""
    if backend == "sqlite":
        from retento.core.migrate import upgrade

        url = f"sqlite:///{tmp_path / 'migrated.db'}"
        upgrade(url)
        yield url
        return
    template = request.getfixturevalue("pg_template")
    with scratch_pg_database(prefix="retento_scratch", template=template) as url:
        yield url
