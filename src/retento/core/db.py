"""Engine, declarative base, column types and the transaction scope."""

from __future__ import annotations

import select as selectmod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Numeric, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

SQLITE_IMMEDIATE = "retento_sqlite_immediate"  # execution option: BEGIN IMMEDIATE

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


MoneyColumn = Numeric(14, 2, asdecimal=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Retento stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def postgres_options(url: str, lock_timeout_ms: int | None) -> dict[str, Any]:
    """``connect_args`` setting ``lock_timeout`` on every connection (PostgreSQL ``options``),
    kept with any ``options`` the URL already has; a URL that sets ``lock_timeout`` itself wins.
    """
    if not lock_timeout_ms:
        return {}
    given = make_url(url).query.get("options") or ""
    if not isinstance(given, str):  # the parameter repeated in the URL
        given = " ".join(given)
    if "lock_timeout" in given:
        return {}
    return {"options": f"{given} -c lock_timeout={int(lock_timeout_ms)}".strip()}


def make_engine(
    url: str,
    *,
    echo: bool = False,
    lock_timeout_ms: int | None = None,
    pool_size: int = 10,
    max_overflow: int = 5,
) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and a busy timeout.

    ``lock_timeout_ms`` (PostgreSQL; the app passes ``RETENTO_DB_LOCK_TIMEOUT_MS``) bounds every
    wait for a lock: the statement then fails with ``LockNotAvailable``, answered 503 ``busy``.
    ``pool_size`` and ``max_overflow`` (PostgreSQL; ``RETENTO_DB_POOL_SIZE``,
    ``RETENTO_DB_MAX_OVERFLOW``): connections kept open, and how many more a burst may open.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, emit BEGIN so SAVEPOINTs and rollbacks behave.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A deferred transaction that read first and writes later fails at once with
            # "database is locked" (SQLITE_BUSY_SNAPSHOT, no busy wait) when another writer
            # committed in between. A short unit of work that must write (the login's session
            # row) starts IMMEDIATE instead (core.db.will_write): it queues for the lock first.
            # Not the request's own unit of work: a request also writes through other
            # connections (throttles, last use), which would then wait on its lock.
            immediate = conn.get_execution_options().get(SQLITE_IMMEDIATE)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    engine = create_engine(
        url,
        echo=echo,
        connect_args=postgres_options(url, lock_timeout_ms),
        pool_size=pool_size,
        max_overflow=max_overflow,
    )
    event.listen(engine, "checkout", _checkout_alive(engine.dialect))
    return engine


def _has_input(fd: int) -> bool:
    """True when the socket ``fd`` has something to read, or hung up (no wait)."""
    if hasattr(selectmod, "poll"):
        poller = selectmod.poll()
        poller.register(fd, selectmod.POLLIN | selectmod.POLLERR | selectmod.POLLHUP)
        return bool(poller.poll(0))
    readable, _, broken = selectmod.select([fd], [], [fd], 0)
    return bool(readable or broken)


def _checkout_alive(dialect: Any) -> Any:
    """A pool ``checkout`` listener that hands out only live PostgreSQL connections, without a
    round trip per checkout (``pool_pre_ping`` cost a ``SELECT 1`` on every checkout, two per
    request).

    A pooled connection is idle (its transaction ended at check-in), so its socket has nothing
    to read. When PostgreSQL restarts, or a backend is terminated or times out, the server says
    goodbye (an error message, then the socket closes) and the socket becomes readable: only
    then is the server pinged, and a connection that fails the ping is replaced by a new one
    (a ``DisconnectionError`` raised here makes the pool discard it and connect again). Anything
    else waiting on an idle connection (a notice) is consumed by that ping.
    """

    def check(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_conn.closed or getattr(dbapi_conn, "broken", False):
            raise DisconnectionError("the connection is closed")
        try:
            fd = dbapi_conn.fileno()
        except Exception as exc:  # closed underneath
            raise DisconnectionError("the connection has no socket") from exc
        if not _has_input(fd):
            return
        try:
            alive = dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"the server closed the connection: {exc}") from exc
        if not alive:
            raise DisconnectionError("the server closed the connection")

    return check


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def will_write(session: Session) -> Session:
    """Mark ``session``'s unit of work as one that writes (call before its first statement):
    on SQLite it begins ``IMMEDIATE``, taking its place in the queue for the write lock before
    it reads; on PostgreSQL nothing changes."""
    if session.get_bind().dialect.name == "sqlite":
        session.connection(execution_options={SQLITE_IMMEDIATE: True})
    return session


def writing_factory(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """``factory`` for background work whose units of work read and then write: on SQLite each
    of its transactions begins ``IMMEDIATE`` (it waits for the write lock, up to the busy
    timeout, instead of failing with "database is locked" when another writer commits between
    its reads and its first write); on PostgreSQL ``factory`` itself. Not for web requests:
    see ``will_write``."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return factory  # PostgreSQL, or sessions bound to one connection (the tests' rollback)
    return sessionmaker(
        **{**factory.kw, "bind": bind.execution_options(**{SQLITE_IMMEDIATE: True})}
    )


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """The one unit of work: commit if the block succeeds, roll back everything if it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
