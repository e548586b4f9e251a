"""Set-based statements for batch postings (``loyalty.batch``), per database.

PostgreSQL gets one short statement per table whatever the batch size: rows travel as one array
per column (``INSERT ... SELECT * FROM unnest(...)``, ``UPDATE ... FROM unnest(...)``), so the
SQL text is the same for every batch (no multi-row VALUES text of thousands of placeholders to
build and parse) and new ids are taken from the table's sequence up front, so rows that refer to
each other need no RETURNING round trip. SQLite, which has no arrays, gets SQLAlchemy Core
``executemany`` (one prepared statement, many parameter sets).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table, bindparam, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from retento.loyalty.models import LoyaltyAccount, LoyaltyLot


def is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def unprepared(conn: Connection) -> Iterator[None]:
    """Plan each statement of a long batch run for its own values. psycopg prepares a statement
    run five times on a connection, and the server then switches to a generic plan made once.
    - Expiry batches over id ranges: the generic plan, blind to the range, cost 3x the CPU in
      batches of 10,000.
    - Earning an import: the key look-up (``idem_key IN (1,000 parameters)``) was first planned
      on an empty journal table, as a sequential scan comparing every row with each of the
      1,000 parameters. At 230,000 journals that took ~3 s a query, 80 % of a 400,000-order run.
    ``plan_cache_mode`` would also re-plan every foreign-key check (three per lot). The
    connection's setting is restored for the pool."""
    raw = conn.connection.dbapi_connection
    if not hasattr(raw, "prepare_threshold"):
        yield
        return
    before = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = before


def _array_type(session: Session, table: Table, col: str) -> str:
    return f"{table.c[col].type.compile(dialect=session.get_bind().dialect)}[]"


def insert_rows(
    session: Session, table: Table, rows: list[dict[str, Any]], *, ids: bool = False
) -> list[int]:
    """Insert ``rows`` (all with the same keys); with ``ids`` return their new ids in row order."""
    if not rows:
        return []
    if not is_pg(session):
        if ids:
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(session.execute(stmt, rows).scalars())
        session.execute(insert(table), rows)
        return []
    cols = [c for c in rows[0] if any(r[c] is not None for r in rows)]  # all-NULL: left out
    params: dict[str, Any] = {}
    for k, c in enumerate(cols):
        values = [r[c] for r in rows]
        if isinstance(table.c[c].type, JSON):
            values = [None if v is None else json.dumps(v) for v in values]
        params[f"c{k}"] = values
    new_ids: list[int] = []
    if ids:
        new_ids = sorted(
            session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"
                ),
                {"t": table.name, "n": len(rows)},
            ).scalars()
        )
        params["cid"] = new_ids
    arrays = [f"CAST(:c{k} AS {_array_type(session, table, c)})" for k, c in enumerate(cols)]
    names = list(cols)
    if ids:
        arrays.insert(0, "CAST(:cid AS BIGINT[])")
        names.insert(0, "id")
    session.execute(
        text(
            f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"SELECT * FROM unnest({', '.join(arrays)})"
        ),
        params,
    )
    return new_ids


def set_lot_remaining(session: Session, pairs: list[tuple[int, int]]) -> None:
    """``remaining = r`` for each (lot id, r)."""
    if not pairs:
        return
    L = LoyaltyLot.__table__
    if is_pg(session):
        session.execute(
            text(
                "UPDATE loyalty_lots AS l SET remaining = v.r FROM unnest(CAST(:i AS BIGINT[]), "
                "CAST(:r AS BIGINT[])) AS v(i, r) WHERE l.id = v.i"
            ),
            {"i": [p[0] for p in pairs], "r": [p[1] for p in pairs]},
        )
        return
    session.execute(
        update(L)
        .where(L.c.id == bindparam("b_id"))
        .values(remaining=bindparam("b_rem"))
        .execution_options(synchronize_session=False),
        [{"b_id": i, "b_rem": r} for i, r in pairs],
    )


def expire_lots(session: Session, pairs: list[tuple[int, int]]) -> None:
    """Record expiry on each (lot id, expire journal id): ``expired += remaining``,
    ``remaining = 0`` (as ``ledger.expire_wallet_now`` and the expiry job do)."""
    if not pairs:
        return
    L = LoyaltyLot.__table__
    if is_pg(session):
        session.execute(
            text(
                "UPDATE loyalty_lots AS l SET expired = l.expired + l.remaining, remaining = 0, "
                "expired_journal_id = v.j FROM unnest(CAST(:i AS BIGINT[]), "
                "CAST(:j AS BIGINT[])) AS v(i, j) WHERE l.id = v.i"
            ),
            {"i": [p[0] for p in pairs], "j": [p[1] for p in pairs]},
        )
        return
    session.execute(
        update(L)
        .where(L.c.id == bindparam("b_id"))
        .values(
            expired=L.c.expired + L.c.remaining, remaining=0, expired_journal_id=bindparam("b_j")
        )
        .execution_options(synchronize_session=False),
        [{"b_id": i, "b_j": j} for i, j in pairs],
    )


def move_wallets(session: Session, moves: list[tuple[int, int, int]], at: datetime) -> None:
    """``balance += delta``, ``debt = debt`` for each (wallet id, delta, debt); the wallets are
    locked by this transaction."""
    if not moves:
        return
    A = LoyaltyAccount.__table__
    if is_pg(session):
        session.execute(
            text(
                "UPDATE loyalty_accounts AS a SET balance = a.balance + v.d, debt = v.debt, "
                "last_activity_at = :at FROM unnest(CAST(:i AS BIGINT[]), CAST(:d AS BIGINT[]), "
                "CAST(:debt AS BIGINT[])) AS v(i, d, debt) WHERE a.id = v.i"
            ),
            {
                "i": [m[0] for m in moves],
                "d": [m[1] for m in moves],
                "debt": [m[2] for m in moves],
                "at": at,
            },
        )
        return
    session.execute(
        update(A)
        .where(A.c.id == bindparam("b_id"))
        .values(
            balance=A.c.balance + bindparam("b_delta"),
            debt=bindparam("b_debt"),
            last_activity_at=at,
        )
        .execution_options(synchronize_session=False),
        [{"b_id": i, "b_delta": d, "b_debt": debt} for i, d, debt in moves],
    )


# The lots a batch may touch, per wallet: every due lot (they expire first), then spendable lots
# in spending order (earliest expiry first) until they cover ``need`` (the wallet's debits in
# the batch plus its debt). Pending lots that are not due are never touched. A wallet with
# hundreds of small lots then sends only the few its debits reach.
_PG_LOTS = text(
    """
    SELECT id, account_id, remaining, expires_at, available_at FROM (
        SELECT l.id, l.account_id, l.remaining, l.expires_at, l.available_at, n.need,
               l.expires_at <= :now AS due,
               SUM(CASE WHEN l.expires_at > :now
                             AND (l.available_at IS NULL OR l.available_at <= :now)
                        THEN l.remaining ELSE 0 END)
                   OVER (PARTITION BY l.account_id ORDER BY l.expires_at, l.id
                         ROWS UNBOUNDED PRECEDING) AS upto
        FROM loyalty_lots l
        JOIN unnest(CAST(:a AS BIGINT[]), CAST(:n AS BIGINT[])) AS n(aid, need)
          ON l.account_id = n.aid
        WHERE l.remaining > 0
    ) x
    WHERE due OR ((available_at IS NULL OR available_at <= :now) AND upto - remaining < need)
    ORDER BY account_id, expires_at, id
    """
)


def load_lots(
    session: Session, need: dict[int, int], now: datetime
) -> list[tuple[int, int, int, datetime, datetime | None]]:
    """(lot id, wallet id, remaining, expires_at, available_at) of the lots with points left
    that spending ``need[wallet]`` points can reach (PostgreSQL), or all of them (SQLite)."""
    if not need:
        return []
    if is_pg(session):
        wallets = sorted(need)
        return [
            tuple(r)
            for r in session.execute(
                _PG_LOTS, {"a": wallets, "n": [need[w] for w in wallets], "now": now}
            )
        ]
    L = LoyaltyLot.__table__
    out = []
    ids = sorted(need)
    for start in range(0, len(ids), 500):
        out += [
            tuple(r)
            for r in session.execute(
                select(L.c.id, L.c.account_id, L.c.remaining, L.c.expires_at, L.c.available_at)
                .where(L.c.account_id.in_(ids[start : start + 500]), L.c.remaining > 0)
                .order_by(L.c.account_id, L.c.expires_at, L.c.id)
            )
        ]
    return out


def move_system(session: Session, moves: dict[str, int]) -> dict[str, int]:
    """``balance += n`` on each system shard; returns key -> account id.

    PostgreSQL: the shards are locked in key order (the order ``ledger.move_system`` updates
    them one by one in), then moved by one UPDATE; a missing shard falls back to the ledger's
    per-shard path, which creates it."""
    from retento.loyalty import ledger

    moves = {k: n for k, n in moves.items() if n}
    if not moves or not is_pg(session):
        return ledger.move_system(session, moves)
    keys = sorted(moves)
    A = LoyaltyAccount.__table__
    found = session.execute(
        select(A.c.system_key, A.c.id)
        .where(A.c.system_key.in_(keys))
        .order_by(A.c.system_key)
        .with_for_update()
    ).all()
    if len(found) < len(keys):
        return ledger.move_system(session, moves)
    session.execute(
        text(
            "UPDATE loyalty_accounts AS a SET balance = a.balance + v.n FROM "
            "unnest(CAST(:k AS VARCHAR[]), CAST(:n AS BIGINT[])) AS v(k, n) "
            "WHERE a.system_key = v.k"
        ),
        {"k": keys, "n": [moves[k] for k in keys]},
    )
    return dict(found)
