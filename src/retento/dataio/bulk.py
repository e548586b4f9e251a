"""Bulk writes of already-checked rows: ``COPY`` on PostgreSQL, prepared ``executemany`` on SQLite.

Callers validate in Python first (row numbers and fields are known there), then hand this module
plain tuples. Both paths run inside the caller's transaction on the session's own connection, so
an import stays all-or-nothing: a failure anywhere (a unique key taken by a concurrent writer, a
foreign key) rolls back every row.

* PostgreSQL: psycopg 3 ``cursor.copy()`` streams rows in the text COPY format (no per-row
  statement, no per-row parameter binding in SQLAlchemy). Ids that other rows must point at are
  taken from the table's sequence in one round trip (:func:`next_ids`), so parent and child rows
  can both be copied.
* SQLite: prepared multi-row ``INSERT … VALUES (…), (…)`` statements over tuples,
  converted with the same bind processors SQLAlchemy would use (same stored values as the ORM).
  A load that is large for its table rebuilds the plain secondary indexes once afterwards
  (:func:`_indexes_rebuilt`) instead of inserting into them row by row. Ids come from
  :func:`next_ids` on both backends, so no caller reads its new rows back.

Python-side column defaults (``default=`` in the models) are filled in here, because ``COPY`` and
raw ``executemany`` skip SQLAlchemy's default machinery.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, Integer, Table, TypeDecorator, text
from sqlalchemy.engine import Connection

from retento.core.errors import Conflict, Msg
from retento.core.handlers import key_field

BATCH = 50_000  # rows per progress report
REBUILD_MIN = 20_000  # SQLite: rows from which rebuilding the secondary indexes can pay off


def _default_value(col: Any) -> tuple[bool, Any]:
    d = col.default
    if d is None:
        return False, None
    if getattr(d, "is_scalar", False):
        return True, d.arg
    if getattr(d, "is_callable", False):
        try:
            return True, d.arg(None)
        except Exception:  # noqa: BLE001 - a default that reads the other parameters
            return False, None
    return False, None


def with_defaults(table: Table, columns: Sequence[str]) -> tuple[list[str], tuple[Any, ...]]:
    """The columns to write: ``columns`` plus every column that has a Python-side default
    (``version``, timestamps …) and is not given; and the values of those extra columns."""
    given = set(columns)
    extra_cols, extra_vals = [], []
    for col in table.columns:
        if col.name in given or col.primary_key:
            continue
        has, value = _default_value(col)
        if has:
            extra_cols.append(col.name)
            extra_vals.append(value)
    return [*columns, *extra_cols], tuple(extra_vals)


def _pg_converter(col: Any, dialect: Any) -> Callable[[Any], Any] | None:
    typ = col.type
    if isinstance(typ, JSON):
        return lambda v: None if v is None else json.dumps(v, default=str, ensure_ascii=False)
    if isinstance(typ, TypeDecorator):
        proc = typ.process_bind_param
        return lambda v: proc(v, dialect)
    if isinstance(typ, Integer):
        return _to_int
    return None


def _to_int(v: Any) -> int | None:
    # pandas hands nullable integer columns over as floats (4.0, NaN).
    return None if v is None or v != v else int(v)


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    progress: Callable[[int], None] | None = None,
    count: int | None = None,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; returns the count.

    Columns with a Python-side default that are not in ``columns`` get that default. ``count``
    (how many rows are coming, when the caller knows) lets SQLite rebuild the table's secondary
    indexes once instead of updating them row by row for a load that is large for the table."""
    cols, extra = with_defaults(table, columns)
    try:
        if conn.dialect.name == "postgresql":
            return _copy(conn, table, cols, extra, rows, progress)
        if count is not None and count >= REBUILD_MIN:
            with _indexes_rebuilt(conn, table, count):
                return _executemany(conn, table, cols, extra, rows, progress)
        return _executemany(conn, table, cols, extra, rows, progress)
    except Exception as exc:
        conflict = conflict_of(exc)
        if conflict is not None:
            raise conflict from exc
        raise


def conflict_of(exc: BaseException) -> Conflict | None:
    """The ``Conflict`` to raise for a failed bulk write, or None when it was something else.

    A unique key taken by another writer between our check and our write (two imports of one
    file at once), or a parent deleted meanwhile. The caller's transaction is rolled back as a
    whole, so nothing of this run stays; a retry sees the other writer's rows and counts them as
    unchanged. The message names the column (``core.handlers.key_field``), never the value,
    which may be personal data, and never the database's own words."""
    if not _is_integrity_error(exc):
        return None
    diag = getattr(exc, "diag", None)
    text = " ".join(
        t
        for t in (getattr(diag, "message_primary", None), getattr(diag, "message_detail", None))
        if t
    ) or str(exc)
    text = text.lower()
    field = key_field(text) or ("external_id" if "external_id" in text else None)
    if "foreign key" in text:
        return Conflict(
            Msg(
                "A record this file refers to was deleted at the same time (%(field)s); nothing "
                "from this file was written. Run the import again.",
                field=field or "id",
            ),
            field=field,
        )
    return Conflict(
        Msg(
            "Another import or change saved records with the same %(field)s at the same time; "
            "nothing from this file was written. Run the import again.",
            field=field or "external_id",
        ),
        field=field or "external_id",
    )


@contextmanager
def _indexes_rebuilt(conn: Connection, table: Table, count: int) -> Iterator[None]:
    """SQLite: drop ``table``'s plain secondary indexes for the block and create them again
    after it, when ``count`` new rows are at least a quarter of the rows already there.

    One sorted build per index is several times cheaper than inserting a large load into each
    B-tree at random places (1M order lines: most of the write time). Unique indexes and those
    behind constraints stay, so keys are still checked as rows arrive. DDL is transactional in
    SQLite: it runs in the caller's transaction, a failure rolls the drop back with the rows,
    and other connections see the indexes throughout (WAL readers keep their snapshot)."""
    pk = next(iter(table.primary_key.columns)).name
    rows = conn.exec_driver_sql(f'SELECT MAX("{pk}") FROM "{table.name}"').scalar() or 0
    ddl: list[tuple[str, str]] = []
    if count * 4 >= rows:
        ddl = list(
            conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND sql LIKE 'CREATE INDEX %'",
                (table.name,),
            ).tuples()
        )
    for name, _sql in ddl:
        conn.exec_driver_sql('DROP INDEX "{}"'.format(name.replace('"', '""')))
    yield
    for _name, sql in ddl:
        conn.exec_driver_sql(sql)


def _is_integrity_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("23")


def _memo(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``f`` remembering its answers: imports repeat values (one ``now`` in every row's
    ``created_at``, an order's time on each of its lines), and the decorated types convert in
    Python."""
    seen: dict[Any, Any] = {}

    def conv(v: Any) -> Any:
        key = (v.__class__, v)  # 1 and True are equal keys, but not the same value
        try:
            return seen[key]
        except KeyError:
            out = seen[key] = f(v)
            if len(seen) > 100_000:
                seen.clear()
            return out
        except TypeError:  # an unhashable value (a JSON document)
            return f(v)

    return conv


def _copy(conn, table, cols, extra, rows, progress) -> int:
    convs = [_pg_converter(table.c[name], conn.dialect) for name in cols]
    ints = tuple(i for i, name in enumerate(cols) if isinstance(table.c[name].type, Integer))
    active = [
        (i, _memo(f) if isinstance(table.c[cols[i]].type, TypeDecorator) else f)
        for i, f in enumerate(convs)
        if f is not None and i not in ints
    ]
    raw = conn.connection.driver_connection  # psycopg.Connection, same transaction
    n = 0
    names = ", ".join(f'"{c}"' for c in cols)
    with raw.cursor() as cur:
        with cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            write = copy.write_row
            for row in rows:
                rec = (*row, *extra) if extra else row
                if active or ints:
                    rec = list(rec)
                    for i, f in active:
                        rec[i] = f(rec[i])
                    for i in ints:  # plain ints pass as they are (no call per value)
                        v = rec[i]
                        if v.__class__ is not int and v is not None:
                            rec[i] = _to_int(v)
                write(rec)
                n += 1
                if progress is not None and not n % BATCH:
                    progress(n)
    if progress is not None:
        progress(n)
    return n


def _executemany(conn, table, cols, extra, rows, progress) -> int:
    dialect = conn.dialect
    procs = [table.c[name].type._cached_bind_processor(dialect) for name in cols]
    procs = [
        _memo(p) if p is not None and isinstance(table.c[name].type, TypeDecorator) else p
        for p, name in zip(procs, cols, strict=True)
    ]
    active = [(i, p) for i, p in enumerate(procs) if p is not None]
    names = ", ".join(f'"{c}"' for c in cols)
    # Multi-row VALUES statements (as SQLAlchemy's insertmanyvalues does): far fewer statement
    # executions than one executemany step per row, within SQLite's bound-parameter limit.
    per = max(1, min(500, 30_000 // len(cols)))
    one = "(" + ", ".join("?" * len(cols)) + ")"
    head = f'INSERT INTO "{table.name}" ({names}) VALUES '
    full_sql = head + ", ".join([one] * per)
    cur = conn.connection.driver_connection.cursor()
    n = 0
    flat: list[Any] = []
    count = 0

    def flush(k: int, params: list[Any]) -> None:
        cur.execute(full_sql if k == per else head + ", ".join([one] * k), params)

    try:
        for row in rows:
            rec = (*row, *extra) if extra else row
            if active:
                rec = list(rec)
                for i, p in active:
                    v = rec[i]
                    if v is not None:
                        rec[i] = p(v)
            flat.extend(rec)
            count += 1
            if count == per:
                flush(count, flat)
                n += count
                flat, count = [], 0
                if progress is not None and not n % BATCH:
                    progress(n)
        if count:
            flush(count, flat)
            n += count
    finally:
        cur.close()
    if progress is not None:
        progress(n)
    return n


def next_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys for ``table``, so rows can be written with these ids and
    children can point at them before the parents exist in the table (no read-back).

    PostgreSQL: from the table's sequence in one round trip; nobody else can be handed the same
    values. SQLite: the ids after the largest one in use (or ever handed out, for an
    ``AUTOINCREMENT`` table). SQLite has one writer at a time, and in WAL mode a transaction
    whose snapshot is older than another writer's commit cannot write at all, so a clash can only
    end in an error that rolls the whole import back, never in shared ids."""
    if count <= 0:
        return []
    pk = next(iter(table.primary_key.columns)).name
    if conn.dialect.name != "postgresql":
        top = conn.execute(text(f'SELECT MAX("{pk}") FROM "{table.name}"')).scalar() or 0
        has_seq = conn.execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'")
        ).scalar()
        if has_seq:
            seq = conn.execute(
                text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table.name}
            ).scalar()
            top = max(top, seq or 0)
        return list(range(top + 1, top + 1 + count))
    return list(
        conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, :c)) FROM generate_series(1, :n)"),
            {"t": table.name, "c": pk, "n": count},
        ).scalars()
    )


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escape(value: str) -> str:
    """``value`` as a field of PostgreSQL's text ``COPY`` format (backslash, tab and line breaks
    escaped). Callers refuse NUL characters beforehand: PostgreSQL text cannot hold them."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def copy_text(cursor: Any, table: str, columns: Sequence[str], data: str) -> None:
    """``COPY`` rows already in the text format (``data``: lines ending in ``\\n``) into
    ``table`` through a psycopg cursor. The fastest way in: no call per value or row."""
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        copy.write(data)


_GC_LOCK = threading.Lock()
_GC_PAUSES = 0
_GC_WAS_ENABLED = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (back on when the last of several
    overlapping blocks ends, if it was on before the first).

    An import makes millions of small lists and tuples that live until it ends, and the collector
    walks all of them again and again as they pile up: a third of the CPU of a 1M-line import.
    Reference counting still frees everything the import drops; only objects in reference cycles
    made meanwhile wait until the block ends."""
    global _GC_PAUSES, _GC_WAS_ENABLED
    with _GC_LOCK:
        if _GC_PAUSES == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_PAUSES += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES -= 1
            if _GC_PAUSES == 0 and _GC_WAS_ENABLED:
                gc.enable()


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


__all__ = [
    "BATCH",
    "conflict_of",
    "copy_escape",
    "copy_text",
    "insert_rows",
    "is_postgresql",
    "next_ids",
    "paused_gc",
    "with_defaults",
]
