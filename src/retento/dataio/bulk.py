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

Python-side column defaults (``default=`` in the models) are filled in here, because ``COPY`` and
raw ``executemany`` skip SQLAlchemy's default machinery.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Integer, Table, TypeDecorator, text
from sqlalchemy.engine import Connection

from retento.core.errors import Conflict

BATCH = 50_000  # rows per executemany call on SQLite


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
        # pandas hands nullable integer columns over as floats (4.0, NaN).
        return lambda v: None if v is None or v != v else int(v)
    return None


def insert_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; returns the count.

    Columns with a Python-side default that are not in ``columns`` get that default."""
    cols, extra = with_defaults(table, columns)
    try:
        if conn.dialect.name == "postgresql":
            return _copy(conn, table, cols, extra, rows, progress)
        return _executemany(conn, table, cols, extra, rows, progress)
    except Exception as exc:
        if _is_integrity_error(exc):
            # A unique key taken by another writer between our check and our write (two imports
            # of one file at once), or a parent deleted meanwhile. The caller's transaction is
            # rolled back as a whole, so nothing of this run stays; a retry sees the other
            # writer's rows and counts them as unchanged.
            detail = getattr(getattr(exc, "diag", None), "message_detail", None) or str(exc)
            raise Conflict(
                f"Another change wrote some of the same {table.name} at the same time "
                f"({detail.splitlines()[0][:200]}); nothing from this file was written. "
                "Run the import again.",
                field="external_id",
            ) from exc
        raise


def _is_integrity_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("23")


def _copy(conn, table, cols, extra, rows, progress) -> int:
    convs = [_pg_converter(table.c[name], conn.dialect) for name in cols]
    active = [(i, f) for i, f in enumerate(convs) if f is not None]
    raw = conn.connection.driver_connection  # psycopg.Connection, same transaction
    n = 0
    names = ", ".join(f'"{c}"' for c in cols)
    with raw.cursor() as cur:
        with cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            write = copy.write_row
            for row in rows:
                rec = (*row, *extra) if extra else row
                if active:
                    rec = list(rec)
                    for i, f in active:
                        rec[i] = f(rec[i])
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
                for p, v in zip(procs, rec, strict=True):
                    flat.append(v if p is None or v is None else p(v))
            else:
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
    """``count`` fresh primary keys for ``table`` from its PostgreSQL sequence (one round trip).

    Nobody else can be handed the same values, so rows can be copied with these ids and children
    can point at them before the parents exist in the table."""
    if count <= 0:
        return []
    pk = next(iter(table.primary_key.columns)).name
    return list(
        conn.execute(
            text("SELECT nextval(pg_get_serial_sequence(:t, :c)) FROM generate_series(1, :n)"),
            {"t": table.name, "c": pk, "n": count},
        ).scalars()
    )


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


__all__ = ["BATCH", "insert_rows", "is_postgresql", "next_ids", "with_defaults"]
