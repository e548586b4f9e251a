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
