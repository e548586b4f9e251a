"""Expensive starting data built once per test module and backend; each test in a SAVEPOINT.

Tests that start from the same costly data (a population and a scoring run over it, a
generated demo) share it instead of building it each: a :class:`World` builds it once in a
transaction on a connection of its own that stays open, and a test that uses it gets sessions
bound to that connection inside a SAVEPOINT, rolled back after the test. What a test writes is
undone, the next one starts from the same data, and the world is rolled back when the module
ends (or the tests switch backend).

Wiring, in a test module::

    # the fixtures ``session_factory`` and ``users``, world-aware, for this module
    from tests.shared_world import World, session_factory_fixture, users_fixture  # noqa: F401

    @pytest.fixture(scope="module")
    def world_scored():
        with World.for_module(build) as world:  # build(session) -> data; the users it
            yield world                          # makes with ``make_users`` are ``users``

    @pytest.fixture
    def scored(world_scored, db):
        return db.get(ScoreRun, world_scored.data["run_id"])

A test takes part when one of its fixtures is named ``world_*``; its ``session_factory`` (so
``db``, ``client``, ``users``, ``tokens``) is then the world's. A test that does not must not
run while a world is open: on SQLite the world's transaction holds the write lock, on
PostgreSQL its uncommitted rows (user "manager", ...) make inserts of the same keys wait. Its
``session_factory`` therefore closes any open world first, so a world is only rebuilt if its
tests are not kept together in the module: keep them together (pytest runs a module's tests
in their order, all on SQLite, then all on PostgreSQL).

Objects in ``World.data`` belong to the closed session that built them: keep ids there and
load the rows in the test's ``db``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

ROLES = ("admin", "manager", "agent", "analyst")

_open: list[World] = []


def make_users(session: Session) -> dict[str, Any]:
    """One active user per role, as the ``users`` fixture of tests/conftest.py makes them."""
    from tests.factories import make_user

    return {role: make_user(session, username=role, role=role) for role in ROLES}


class World:
    """The data ``build(session) -> data`` leaves, kept in an open transaction per backend."""

    def __init__(self, build: Callable[[Session], Any]):
        self._build = build
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._outer = None
        self.data: Any = None

    @classmethod
    @contextmanager
    def for_module(cls, build: Callable[[Session], Any]) -> Iterator[World]:
        world = cls(build)
        try:
            yield world
        finally:
            world.close()

    def _open_on(self, engine: Engine) -> Connection:
        if self._conn is not None and self._engine is engine:
            return self._conn
        for other in list(_open):
            other.close()
        conn = engine.connect()
        outer = conn.begin()
        try:
            session = Session(
                bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
            try:
                data = self._build(session)
                session.commit()
            finally:
                session.close()
        except BaseException:
            outer.rollback()
            conn.close()
            raise
        self._engine, self._conn, self._outer, self.data = engine, conn, outer, data
        _open.append(self)
        return conn

    @contextmanager
    def savepoint(self, engine: Engine) -> Iterator[sessionmaker[Session]]:
        """Sessions inside a SAVEPOINT on the world's connection, rolled back afterwards."""
        conn = self._open_on(engine)
        nested = conn.begin_nested()
        try:
            yield sessionmaker(
                bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
        finally:
            if nested.is_active:
                nested.rollback()

    def close(self) -> None:
        if self in _open:
            _open.remove(self)
        if self._conn is not None:
            try:
                self._outer.rollback()
            finally:
                self._conn.close()
        self._engine = self._conn = self._outer = self.data = None


def world_of(request: pytest.FixtureRequest) -> World | None:
    names = [n for n in request.fixturenames if n.startswith("world_")]
    assert len(names) <= 1, f"a test can use one world, not {names}"
    return request.getfixturevalue(names[0]) if names else None


@pytest.fixture(name="session_factory")
def session_factory_fixture(request: pytest.FixtureRequest, engine: Engine):
    """tests/conftest.py's ``session_factory``, or the world's when the test uses one."""
    world = world_of(request)
    if world is not None:
        with world.savepoint(engine) as factory:
            yield factory
        return
    for other in list(_open):
        other.close()
    conn = engine.connect()
    outer = conn.begin()
    factory = sessionmaker(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield factory
    outer.rollback()
    conn.close()


@pytest.fixture(name="users")
def users_fixture(request: pytest.FixtureRequest, db: Session):
    """tests/conftest.py's ``users``; in a world, the users its build made with ``make_users``."""
    from retento.auth.models import User

    if world_of(request) is not None:
        return {r: db.scalars(select(User).where(User.username == r)).one() for r in ROLES}
    out = make_users(db)
    db.commit()
    return out
