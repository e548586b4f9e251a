"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

``--db sqlite|postgres|both`` (default both). Under ``CI=true`` an unreachable PostgreSQL fails
the run instead of skipping. Each test runs inside one transaction that is rolled back.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from retento.core.db import make_engine
from retento.core.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "RETENTO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# Messages the tests read are the English ones, whatever the machine's locale says (the command
# line follows LANG/LC_ALL: core.cli_language; the tests of that choice set these themselves).
os.environ.setdefault("RETENTO_LANG", "en")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection left alive (every imported module: SQLAlchemy, pandas,
    scikit-learn, the app's routes and mappers) out of the cyclic collector's reach, and make
    its collections rarer, as ``retento.app.freeze_startup_heap`` does for a server process.
    With CPython's defaults the collector ran ~8,700 times over ``tests/complaints``, its full
    collections walking that heap each time: 16-19 s of a 134 s run; frozen, 5 s (115 s).
    Objects the tests create are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        default="both",
        choices=("sqlite", "postgres", "both"),
        help="Which databases the storage tests run against.",
    )


def _backends(config: pytest.Config) -> list[str]:
    choice = config.getoption("--db")
    return ["sqlite", "postgres"] if choice == "both" else [choice]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under ``pytest -n N`` (``make test``) each test file runs whole on one worker, so its
    module fixtures (live servers, throw-away databases, a story told step by step) are built
    once and in order; the Spark tests share one worker and so one JVM. (xdist's own
    ``loadgroup`` marks do not reach the scheduler with pytest 9, whose node ids are computed.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "spark" if path.startswith("tests/analytics/spark/") else path

    return FileScheduling(config, log)


class _RunCount:
    """Tests the xdist workers collected, and tests that reported an outcome (controller only)."""

    collected: int | None = None
    reported = 0


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    _RunCount.collected = max(_RunCount.collected or 0, len(ids))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # One outcome per test: its call, or its setup when that failed or skipped.
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _RunCount.reported += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a green ``pytest -n N`` run in which fewer tests ran than were collected.

    xdist schedules by node id, so tests sharing one id (schemathesis gives its generated tests
    one) run once and the run still ends green. This turns that into a failure."""
    if hasattr(session.config, "workerinput") or _RunCount.collected is None:
        return
    if exitstatus == 0 and _RunCount.reported != _RunCount.collected:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        msg = (
            f"{_RunCount.collected} tests were collected but {_RunCount.reported} reported an "
            "outcome: tests sharing a node id ran once under xdist (run them with -p no:xdist)"
        )
        if reporter is not None:
            reporter.write_line(msg, red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", _backends(metafunc.config), scope="session")


class _Databases:
    """The migrated databases of this test process, one per backend, made on first use.

    ``engine`` is parametrized by backend at session scope, so pytest tears it down whenever the
    next test uses the other backend, which under ``--dist loadfile`` is at every file (each
    file's SQLite tests run before its PostgreSQL ones). The databases live here instead, for
    the whole process: a switch of backend costs nothing, not a fresh migrated database."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self._tmp = tmp_path_factory
        self._engines: dict[str, Engine] = {}
        self._pg_names: list[str] = []

    def engine(self, backend: str) -> Engine:
        if backend not in self._engines:
            self._engines[backend] = self._create(backend)
        return self._engines[backend]

    def _create(self, backend: str) -> Engine:
        if backend == "sqlite":
            url = f"sqlite:///{self._tmp.mktemp('db') / 'retento.db'}"
            upgrade(url)
            return make_engine(url)
        name = f"retento_test_{uuid.uuid4().hex[:10]}"
        _pg_admin_execute(f'CREATE DATABASE "{name}"')
        self._pg_names.append(name)
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        return make_engine(url)

    def close(self) -> None:
        for eng in self._engines.values():
            eng.dispose()
        for name in self._pg_names:
            _pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_admin_execute(sql: str) -> None:
    """One statement on the PostgreSQL server's admin connection (CREATE/DROP DATABASE).

    A server that cannot be reached fails the test under ``CI=true`` and skips it elsewhere; a
    statement that fails on a reachable server is an error either way."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        try:
            conn = admin.connect()
        except Exception as exc:  # pragma: no cover - depends on the machine
            if os.environ.get("CI") == "true":
                pytest.fail(f"PostgreSQL is required under CI but unreachable: {exc}")
            pytest.skip(f"PostgreSQL unreachable: {exc}")
        with conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Databases]:
    dbs = _Databases(tmp_path_factory)
    yield dbs
    dbs.close()


@pytest.fixture(scope="session")
def engine(backend: str, _databases: _Databases) -> Engine:
    """A migrated database of the given backend, created for this test run and dropped after."""
    return _databases.engine(backend)


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions bound to one outer transaction; their commits become savepoints, all undone after."""
    conn = engine.connect()
    outer = conn.begin()
    factory = sessionmaker(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield factory
    outer.rollback()
    conn.close()


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def app(session_factory: sessionmaker[Session]):
    from retento.app import create_app
    from retento.core.config import Settings

    application = create_app(
        Settings(database_url="sqlite://", run_scheduler=False, secret_key="test")
    )
    application.state.session_factory = session_factory
    return application


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def users(db: Session):
    """One active user per role, committed to the test transaction."""
    from tests.factories import make_user

    out = {
        role: make_user(db, username=role, role=role)
        for role in ("admin", "manager", "agent", "analyst")
    }
    db.commit()
    return out


@pytest.fixture
def tokens(db: Session, users):
    """A bearer header per role."""
    from retento.auth.service import issue_token

    out = {}
    for role, user in users.items():
        _, plain = issue_token(db, user, name="test", actor=None)
        out[role] = {"Authorization": f"Bearer {plain}"}
    db.commit()
    return out


# --- Live PostgreSQL for concurrency tests -------------------------------------------------
# The ``db``/``client`` fixtures above share one rolled-back connection, so they cannot show a
# race. ``live_pg`` gives a test its own database (copied from a migrated template, ~0.3 s) with
# real commits, a real connection pool and an app bound to it; it is dropped afterwards.


class LivePG:
    """One throw-away PostgreSQL database: ``url``, ``engine``, ``session_factory``, ``app``."""

    def __init__(self, url: str):
        from retento.core.db import make_session_factory

        self.url = url
        self.engine = make_engine(url)
        self.session_factory = make_session_factory(self.engine)
        self._app = None

    @property
    def app(self):
        if self._app is None:
            from retento.app import create_app
            from retento.core.config import Settings

            self._app = create_app(
                Settings(database_url=self.url, run_scheduler=False, secret_key="test-" + "x" * 32)
            )
        return self._app

    def client(self):
        """A TestClient; use one per thread (``with live_pg.client() as c:``)."""
        from fastapi.testclient import TestClient

        return TestClient(self.app)

    def session(self) -> Session:
        return self.session_factory()

    def dispose(self) -> None:
        if self._app is not None:
            self._app.state.engine.dispose()
        self.engine.dispose()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database used only as a CREATE DATABASE template."""
    with scratch_pg_database(prefix="retento_tpl") as url:
        upgrade(url)
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def live_pg(pg_template: str) -> Iterator[LivePG]:
    """A fresh migrated PostgreSQL database with real transactions, for concurrency tests."""
    with scratch_pg_database(prefix="retento_live", template=pg_template) as url:
        live = LivePG(url)
        try:
            yield live
        finally:
            live.dispose()


# --- Empty throw-away databases for migration tests ------------------------------------------
# A migration test walks a database up and down step by step from nothing, so it needs its own
# empty database rather than the migrated ``engine`` or a copy of ``pg_template``.


@contextmanager
def scratch_pg_database(
    *, prefix: str = "retento_scratch", template: str | None = None
) -> Iterator[str]:
    """Create a PostgreSQL database, yield its URL, and drop it ``WITH (FORCE)`` afterwards.

    Empty unless ``template`` names a database to copy. The code behind ``scratch_db_url``,
    there for PostgreSQL-only fixtures of any scope too. An unreachable server fails the test
    under ``CI=true`` and skips it elsewhere (``_pg_admin_execute``)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    _pg_admin_execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def scratch_db_url(backend: str, tmp_path) -> Iterator[str]:
    """The URL of an empty database (no tables, not migrated) of the test's backend.

    SQLite: a file in ``tmp_path``. PostgreSQL: a fresh database, dropped ``WITH (FORCE)`` after
    the test (so an engine the test forgot to dispose does not block the drop). For tests that
    migrate step by step: ``upgrade(scratch_db_url, "0012")``, ``downgrade(...)``, ..."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    with scratch_pg_database() as url:
        yield url
