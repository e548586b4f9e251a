"""Nightly expiry: each due lot's remainder goes to breakage, in set-based SQL batches.

Expiry is recorded on the lot itself (``expired += remaining``, ``expired_journal_id``,
``remaining = 0``): one new row version per lot and no allocation row. Each wallet gets one
posting (a wallet's balance is the sum of its postings). On PostgreSQL every one of these updates
is HOT (no indexed column changes, and the pages have room: migration 0021), so no index entry
is written for a lot or a wallet; the postings are the only new index entries.

Batches: the wallets are cut into id ranges of ``batch`` ids; each range is one transaction with
its own ``expire`` journal (the wallets' postings plus one breakage posting: it sums to zero) and
is committed on its own, so a run never holds a million row locks or a million-row transaction,
and a run stopped half-way leaves whole batches behind. Idempotent: a lot's ``remaining`` drops to
zero in the same transaction that posts it, so a second run finds nothing.

Lock order (the same as every other posting): the batch's wallets (in id order), then their lots,
then one breakage shard, last. On PostgreSQL with an engine (not one connection) ``workers``
connections take id ranges from a shared queue in parallel: disjoint wallets, and each worker
posts to its own breakage shard, so they never wait on each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, literal, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.batch_sql import unprepared
from retento.loyalty.models import (
    SHARDS,
    LoyaltyAccount,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
)

BATCH = 10_000
WORKERS = 2

# Statement 1 of a PostgreSQL batch: lock the range's wallets that have due lots, in id order.
# The lots are read again by statement 2, in a new snapshot taken after these locks: a member
# posting that committed while we waited for its wallet is seen there.
_PG_LOCK = text(
    """
    SELECT a.id FROM loyalty_accounts a
    WHERE a.id BETWEEN :lo AND :hi AND a.id IN (
        SELECT l.account_id FROM loyalty_lots l
        WHERE l.account_id BETWEEN :lo AND :hi AND l.remaining > 0 AND l.expires_at <= :now
    )
    ORDER BY a.id
    FOR UPDATE OF a
    """
)

# Statement 2: the whole batch in one statement. The due lots of the locked wallets are read
# once into ``d``; the journal, the lots, the per-wallet postings, the wallet balances and the
# breakage posting and shard are all written from it, so the writes cannot disagree. Every
# sub-statement sees the same snapshot. ``account_id + 0`` keeps the long id array out of the
# index condition: the lots are read by one range scan of the (account_id, expires_at) index
# with a hashed filter (as an index condition the planner chose a full scan, or one probe per
# wallet: 10x slower). Neither the wallets' nor the lots' updates change an indexed column and
# both tables keep half of each page free (migration 0021), so they are HOT updates.
_PG_BATCH = text(
    """
    WITH d AS MATERIALIZED (
        SELECT l.id, l.account_id, l.remaining FROM loyalty_lots l
        WHERE l.account_id BETWEEN :lo AND :hi AND l.remaining > 0 AND l.expires_at <= :now
          AND (l.account_id + 0) = ANY(CAST(:ids AS bigint[]))
    ),
    g AS MATERIALIZED (
        SELECT d.account_id, sum(d.remaining) AS s FROM d GROUP BY d.account_id
    ),
    t AS MATERIALIZED (SELECT sum(g.s) AS s FROM g),
    j AS (
        INSERT INTO loyalty_journals (kind, source_type, source_id, reason, created_at)
        SELECT 'expire', 'system', :day, 'Points expired', :now FROM t WHERE t.s > 0
        RETURNING id
    ),
    z AS (
        UPDATE loyalty_lots
        SET remaining = 0, expired = loyalty_lots.expired + d.remaining, expired_journal_id = j.id
        FROM d, j WHERE loyalty_lots.id = d.id
    ),
    p AS (
        INSERT INTO loyalty_postings (journal_id, account_id, amount)
        SELECT j.id, g.account_id, -g.s FROM g, j
        UNION ALL
        SELECT j.id, :breakage, t.s FROM t, j
    ),
    u AS (
        UPDATE loyalty_accounts SET balance = loyalty_accounts.balance - g.s
        FROM g WHERE loyalty_accounts.id = g.account_id
    ),
    b AS (
        UPDATE loyalty_accounts SET balance = loyalty_accounts.balance + t.s
        FROM t, j WHERE loyalty_accounts.id = :breakage
    )
    SELECT coalesce(t.s, 0) FROM t
    """
)

# Per batch transaction: room to sort and hash a batch in memory (the default 4 MB spills it to
# disk); and compressed full-page images, which are most of the WAL after a checkpoint (only a
# superuser may set ``wal_compression``: other roles keep the server's setting).
_SETTINGS = text(
    """
    SELECT set_config('work_mem', '64MB', true),
           (SELECT set_config('wal_compression',
                              CASE WHEN 'lz4' = ANY(enumvals) THEN 'lz4' ELSE 'on' END, true)
            FROM pg_settings
            WHERE name = 'wal_compression' AND current_setting('is_superuser') = 'on')
    """
)


def _ranges(lo: int, hi: int, size: int) -> Iterator[tuple[int, int]]:
    while lo <= hi:
        yield lo, min(lo + size - 1, hi)
        lo += size


def _pg_worker(
    execute: Callable[..., Any],
    commit: Callable[[], None],
    ranges: Callable[[], tuple[int, int] | None],
    breakage: int,
    now: datetime,
) -> int:
    """Expire range after range (``ranges()`` returns None when none is left), one transaction
    each; returns the points expired."""
    total = 0
    day = now.date().isoformat()
    while (r := ranges()) is not None:
        lo, hi = r
        execute(_SETTINGS)
        ids = [row[0] for row in execute(_PG_LOCK, {"lo": lo, "hi": hi, "now": now})]
        if ids:
            total += int(
                execute(
                    _PG_BATCH,
                    {
                        "ids": ids,
                        "lo": ids[0],
                        "hi": ids[-1],
                        "now": now,
                        "day": day,
                        "breakage": breakage,
                    },
                ).scalar_one()
            )
        commit()
    return total


def _committer(session: Session) -> Callable[[], None]:
    """Commit each batch, unless the caller holds a savepoint (``begin_nested``): then the
    caller owns the transaction, and the batches stay in it (on one connection)."""
    if session.in_nested_transaction():
        return session.flush
    return session.commit


def _run_pg(session: Session, now: datetime, batch: int, workers: int) -> int:
    lots = LoyaltyLot.__table__
    lo, hi = session.execute(select(func.min(lots.c.account_id), func.max(lots.c.account_id))).one()
    if lo is None:
        return 0
    queue = _ranges(lo, hi, batch)
    guard = threading.Lock()

    def take() -> tuple[int, int] | None:
        with guard:
            return next(queue, None)

    bind = session.get_bind()
    workers = max(1, min(workers, SHARDS, (hi - lo) // batch + 1))
    shards = [ledger.system_account_id(session, "breakage", k) for k in range(workers)]
    commit = _committer(session)
    # The shards may just have been created: commit, so the workers' connections see them.
    commit()
    if workers == 1 or not isinstance(bind, Engine) or session.in_nested_transaction():
        # One connection (e.g. a session joined to an outer transaction): batches in sequence.
        with unprepared(session.connection()):
            return _pg_worker(session.execute, commit, take, shards[0], now)

    results: list[int] = [0] * workers
    errors: list[BaseException] = []

    def work(k: int) -> None:
        def stopping_take() -> tuple[int, int] | None:
            return None if errors else take()

        try:
            with bind.connect() as conn, unprepared(conn):
                results[k] = _pg_worker(conn.execute, conn.commit, stopping_take, shards[k], now)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,), name=f"expiry-{k}") for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return sum(results)


def _journal(session: Session, now: datetime) -> int:
    return session.execute(
        insert(LoyaltyJournal)
        .values(
            kind="expire",
            customer_id=None,
            source_type="system",
            source_id=now.date().isoformat(),
            reason="Points expired",
            created_at=now,
        )
        .returning(LoyaltyJournal.id)
    ).scalar_one()


def _expire_batch(
    session: Session, ids: list[int], now: datetime, due: ColumnElement[bool], breakage: int
) -> int:
    """``_PG_BATCH`` in portable statements (SQLite, for development); returns the points."""
    lots = LoyaltyLot.__table__
    mine = and_(due, lots.c.account_id.in_(ids))
    points = int(session.scalar(select(func.coalesce(func.sum(lots.c.remaining), 0)).where(mine)))
    if not points:
        return 0
    j = _journal(session, now)
    per_wallet = (
        select(literal(j), lots.c.account_id, -func.sum(lots.c.remaining))
        .where(mine)
        .group_by(lots.c.account_id)
    )
    session.execute(
        insert(LoyaltyPosting).from_select(["journal_id", "account_id", "amount"], per_wallet)
    )
    # Balances move by exactly what was posted to each wallet of this batch.
    postings = LoyaltyPosting.__table__
    accounts = LoyaltyAccount.__table__
    moved = (
        select(postings.c.account_id, postings.c.amount)
        .where(postings.c.journal_id == j, postings.c.account_id.in_(ids))
        .subquery()
    )
    session.execute(
        update(accounts)
        .where(accounts.c.id == moved.c.account_id)
        .values(balance=accounts.c.balance + moved.c.amount)
    )
    # After the postings: their sums read the lots' remaining points before they are zeroed.
    session.execute(
        update(lots)
        .where(mine)
        .values(remaining=0, expired=lots.c.expired + lots.c.remaining, expired_journal_id=j)
    )
    # Last, the breakage shard (lock order: wallets, lots, system shard).
    session.execute(insert(LoyaltyPosting).values(journal_id=j, account_id=breakage, amount=points))
    session.execute(
        update(accounts)
        .where(accounts.c.id == breakage)
        .values(balance=accounts.c.balance + points)
    )
    return points


def _run_portable(session: Session, now: datetime, batch: int) -> int:
    lots = LoyaltyLot.__table__
    due = and_(lots.c.remaining > 0, lots.c.expires_at <= now)
    breakage = ledger.system_account_id(session, "breakage", 0)
    commit = _committer(session)
    total = 0
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(LoyaltyAccount.id)
                .where(
                    LoyaltyAccount.id.in_(
                        select(lots.c.account_id).where(due, lots.c.account_id > last)
                    )
                )
                .order_by(LoyaltyAccount.id)
                .limit(batch)
                .with_for_update()
            )
        )
        if not ids:
            break
        last = ids[-1]
        total += _expire_batch(session, ids, now, due, breakage)
        commit()
    return total


def run_expiry(
    session: Session,
    now: datetime | None = None,
    batch: int = BATCH,
    workers: int = WORKERS,
) -> int:
    """Expire every lot due at ``now``; returns the points moved to breakage.

    Commits each batch (and whatever the session held before), unless the caller holds a
    savepoint: then everything stays in the caller's transaction. One ``expire`` journal per
    batch: one posting per wallet and one to a breakage shard, summing to zero. On PostgreSQL
    ``workers`` connections run the batches in parallel when the session is bound to an engine
    (and holds no savepoint).
    """
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        total = _run_pg(session, now, batch, workers)
    else:
        total = _run_portable(session, now, batch)
    session.expire_all()
    return total
