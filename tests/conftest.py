"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

``--db sqlite|postgres|both`` (default both). Under ``CI=true`` an unreachable PostgreSQL fails
the run instead of skipping. Each test runs inside one transaction that is rolled back.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from retento.core.db import make_engine
from retento.core.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "RETENTO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


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


@pytest.fixture(scope="session")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database of the given backend, created for this test run and dropped after."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "retento.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        eng = make_engine(url)
        yield eng
        eng.dispose()
        return
    name = f"retento_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
    name = f"retento_tpl_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    upgrade(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def live_pg(pg_template: str) -> Iterator[LivePG]:
    """A fresh migrated PostgreSQL database with real transactions, for concurrency tests."""
    name = f"retento_live_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    live = LivePG(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield live
    finally:
        live.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
