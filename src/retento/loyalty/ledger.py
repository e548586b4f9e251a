"""The points ledger engine: accounts, journals, postings, lots and allocations.

Every change goes through ``Posting`` here so the invariants hold by construction:
- a journal's postings sum to zero; an account's ``balance`` is updated in the same transaction
  by exactly the posted amount (wallets under their row lock, system shards by an atomic
  ``balance = balance + x``);
- a wallet's balance equals its lots' remaining points minus its debt;
- a lot's remaining equals its points minus its allocations and stays within 0..points.

Lock order (to stay free of deadlocks): the wallet row first, then its lots, then system shards.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, case, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg
from retento.core.money import CENT
from retento.loyalty.models import (
    SHARDS,
    SYSTEM_KINDS,
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyHold,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
    LoyaltyProgramme,
)

MAX_POINTS = 1_000_000_000


def points_value(points: int, point_value: Decimal) -> Decimal:
    """Money value of ``points`` at ``point_value`` per point, rounded half up to the cent: the
    one valuation of points (the liability, a playbook's offer, a complaint remedy's cost)."""
    return (Decimal(int(points)) * Decimal(point_value)).quantize(CENT, rounding=ROUND_HALF_UP)


def programme(session: Session) -> LoyaltyProgramme:
    """The programme's settings row (created inactive with defaults on first use)."""
    p = session.info.get("loyalty_programme")
    if p is not None and p in session:
        return p
    p = session.scalar(select(LoyaltyProgramme).order_by(LoyaltyProgramme.id).limit(1))
    if p is None:
        p = LoyaltyProgramme()
        session.add(p)
        session.flush()
    session.info["loyalty_programme"] = p
    return p


def forget(session: Session) -> None:
    """Drop the session's cached programme and system account ids (after bulk deletes)."""
    session.info.pop("loyalty_programme", None)
    session.info.pop("loyalty_sys", None)


def shard_of(customer_id: int | None) -> int:
    return (customer_id or 0) % SHARDS


def system_account_id(session: Session, kind: str, shard: int = 0) -> int:
    """The id of a system account shard, created on first use (unique ``system_key``)."""
    assert kind in SYSTEM_KINDS
    cache: dict[str, int] = session.info.setdefault("loyalty_sys", {})
    key = f"{kind}:{shard}"
    if key in cache:
        return cache[key]
    acc_id = session.scalar(select(LoyaltyAccount.id).where(LoyaltyAccount.system_key == key))
    if acc_id is None:
        ensure_system_accounts(session)
        acc_id = session.scalar(select(LoyaltyAccount.id).where(LoyaltyAccount.system_key == key))
    cache[key] = acc_id
    return acc_id


def ensure_system_accounts(session: Session) -> None:
    """Create every system account shard that is missing (safe under concurrency)."""
    have = set(
        session.scalars(
            select(LoyaltyAccount.system_key).where(LoyaltyAccount.customer_id.is_(None))
        )
    )
    for kind in SYSTEM_KINDS:
        for shard in range(SHARDS):
            key = f"{kind}:{shard}"
            if key in have:
                continue
            try:
                with session.begin_nested():
                    session.add(LoyaltyAccount(kind=kind, shard=shard, system_key=key, balance=0))
                    session.flush()
            except IntegrityError:
                pass  # another transaction made it first


def get_wallet(session: Session, customer_id: int, *, lock: bool = False) -> LoyaltyAccount | None:
    """The member's wallet (None if not enrolled); with ``lock`` locked for this transaction,
    and refused (409 naming ``customer_id``) when the customer was merged into another.

    The check reads the customer after the wallet lock: a merge locks the duplicate's wallet
    before it moves the points, so either this posting commits first and the merge moves it,
    or the merge commits first and this sees the customer merged. (No customer row lock here:
    the caller may hold an order row the merge will update; see ``customers.guard``.)"""
    stmt = select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id)
    if lock:
        stmt = stmt.with_for_update(of=LoyaltyAccount)
    w = session.scalar(stmt.execution_options(populate_existing=True))
    if lock and w is not None:
        from retento.customers.guard import check_not_merged

        check_not_merged(session, customer_id)
    return w


def wallet(session: Session, customer_id: int, *, create: bool = True) -> LoyaltyAccount:
    """The member's wallet, locked for this transaction (enrolled on first use if ``create``)."""
    w = get_wallet(session, customer_id, lock=True)
    if w is not None:
        return w
    if not create:
        raise InvalidInput(
            Msg("Customer %(id)s is not a member.", id=customer_id), field="customer_id"
        )
    from retento.customers.guard import lock_customer

    # No wallet for the merge to lock yet: the customer row's shared lock stands in for it (a
    # merge waits for this enrolment, or this waits for the merge and is refused).
    if lock_customer(session, customer_id) is None:
        raise InvalidInput(
            Msg("Customer %(id)s does not exist.", id=customer_id), field="customer_id"
        )
    try:
        with session.begin_nested():
            session.add(
                LoyaltyAccount(
                    kind="wallet", shard=shard_of(customer_id), customer_id=customer_id, balance=0
                )
            )
            session.flush()
    except IntegrityError:
        pass  # enrolled concurrently
    w = get_wallet(session, customer_id, lock=True)
    assert w is not None
    return w


def request_hash(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()


def find_journal(session: Session, idem_key: str | None) -> LoyaltyJournal | None:
    if not idem_key:
        return None
    return session.scalar(select(LoyaltyJournal).where(LoyaltyJournal.idem_key == idem_key))


def _same_request(existing: LoyaltyJournal, req_hash: str | None) -> LoyaltyJournal:
    if req_hash and existing.request_hash and existing.request_hash != req_hash:
        raise Conflict(
            "This Idempotency-Key was already used for a different request.",
            field="Idempotency-Key",
        )
    return existing


class Replay(Exception):
    """Raised inside a posting when its idempotency key already has a journal."""

    def __init__(self, journal: LoyaltyJournal):
        self.journal = journal


# The usual journal on PostgreSQL: wallet and system shard balances and both postings in one
# round trip (the wallet is already locked by this transaction; the shard is locked here).
_PG_PAIR = text(
    """
    WITH u AS (
        UPDATE loyalty_accounts
        SET balance = balance + CASE WHEN id = :w THEN :n ELSE :m END,
            last_activity_at = CASE WHEN id = :w THEN :at ELSE last_activity_at END
        WHERE id = :w OR system_key = :k
        RETURNING id, system_key
    ),
    p AS (
        INSERT INTO loyalty_postings (journal_id, account_id, amount)
        SELECT :j, u.id, CASE WHEN u.id = :w THEN :n ELSE :m END FROM u
    )
    SELECT id, system_key FROM u
    """
)


def move_system(session: Session, moves: dict[str, int]) -> dict[str, int]:
    """``balance += n`` on each system shard (key order = lock order); returns key -> id.

    A shard that does not exist yet is created first (``ensure_system_accounts``)."""
    accounts = LoyaltyAccount.__table__
    ids: dict[str, int] = {}
    for key, n in sorted(moves.items()):
        stmt = (
            update(accounts)
            .where(accounts.c.system_key == key)
            .values(balance=accounts.c.balance + n)
            .returning(accounts.c.id)
        )
        acc_id = session.execute(stmt).scalar()
        if acc_id is None:
            ensure_system_accounts(session)
            acc_id = session.execute(stmt).scalar_one()
        ids[key] = acc_id
    return ids


@dataclass
class Posting:
    """A journal being built: postings, lots and allocations, written by ``commit()``.

    System accounts are addressed by their ``system_key`` and resolved to ids by the balance
    UPDATE's RETURNING clause, so a posting needs no look-up query and no cache that could go
    stale (demo resets, rolled-back set-ups).
    """

    session: Session
    journal: LoyaltyJournal
    entries: dict[int, int] = field(default_factory=dict)
    wallet: LoyaltyAccount | None = None
    system: dict[str, int] = field(default_factory=dict)

    def add(self, account_id: int, amount: int) -> None:
        if amount:
            self.entries[account_id] = self.entries.get(account_id, 0) + amount

    def to_wallet(self, amount: int) -> None:
        assert self.wallet is not None
        self.add(self.wallet.id, amount)

    def to_system(self, kind: str, amount: int, customer_id: int | None = None) -> None:
        assert kind in SYSTEM_KINDS
        cid = customer_id if customer_id is not None else self.journal.customer_id
        if amount:
            key = f"{kind}:{shard_of(cid)}"
            self.system[key] = self.system.get(key, 0) + amount

    def _move_system(self, moves: dict[str, int], accounts: Any) -> dict[str, int]:
        return move_system(self.session, moves)

    def _move_pair(
        self, w: LoyaltyAccount, n: int, moves: dict[str, int], accounts: Any
    ) -> tuple[dict[str, int], set[int]]:
        """``balance += n`` on the (already locked) wallet and ``+= m`` on one system shard in
        a single statement (on PostgreSQL it also inserts their two postings); returns
        (key -> id of the shard, ids of the accounts already posted)."""
        ((key, m),) = moves.items()
        at = self.journal.created_at
        s = self.session
        if s.get_bind().dialect.name == "postgresql":
            rows = s.execute(
                _PG_PAIR, {"w": w.id, "n": n, "m": m, "k": key, "at": at, "j": self.journal.id}
            ).all()
            done = {i for i, _k in rows}
        else:
            is_w = accounts.c.id == w.id
            rows = s.execute(
                update(accounts)
                .where(or_(is_w, accounts.c.system_key == key))
                .values(
                    balance=accounts.c.balance + case((is_w, n), else_=m),
                    last_activity_at=case((is_w, at), else_=accounts.c.last_activity_at),
                )
                .returning(accounts.c.id, accounts.c.system_key)
            ).all()
            done = set()
        set_committed_value(w, "balance", w.balance + n)
        set_committed_value(w, "last_activity_at", at)
        ids = {k: i for i, k in rows if k == key}
        if not ids:  # the shard did not exist yet: create it, then move it alone
            ids = self._move_system(moves, accounts)
        return ids, done

    def commit(self) -> LoyaltyJournal:
        """Write the postings and move the balances; refuses anything that does not sum to zero.

        Statements: one UPDATE ... RETURNING per system shard, one for the wallet, one
        multi-row INSERT of the postings (plus the flush of anything else still pending).
        """
        total = sum(self.entries.values()) + sum(self.system.values())
        if total != 0:
            raise AssertionError(f"journal {self.journal.kind} does not balance ({total})")
        s = self.session
        accounts = LoyaltyAccount.__table__
        s.flush()  # the journal, lots and allocations built so far, before the balances move
        w = self.wallet
        moves = {k: n for k, n in self.system.items() if n}
        posted = {a: n for a, n in self.entries.items() if n}
        if w is not None and len(moves) == 1 and set(posted) == {w.id}:
            # The usual journal (one wallet, one system shard): both balances in one UPDATE.
            sys_ids, done = self._move_pair(w, posted[w.id], moves, accounts)
        else:
            done = set()
            sys_ids = self._move_system(moves, accounts) if moves else {}
            for acc_id, n in sorted(posted.items()):
                if w is not None and acc_id == w.id:
                    # The wallet row is locked by this transaction: move it in SQL and give
                    # the ORM object its new committed value (no second UPDATE at flush).
                    at = self.journal.created_at
                    s.execute(
                        update(accounts)
                        .where(accounts.c.id == acc_id)
                        .values(balance=accounts.c.balance + n, last_activity_at=at)
                    )
                    set_committed_value(w, "balance", w.balance + n)
                    set_committed_value(w, "last_activity_at", at)
                else:
                    s.execute(
                        update(accounts)
                        .where(accounts.c.id == acc_id)
                        .values(balance=accounts.c.balance + n)
                    )
        entries = dict(posted)
        for key, n in moves.items():
            entries[sys_ids[key]] = entries.get(sys_ids[key], 0) + n
        rows = [
            {"journal_id": self.journal.id, "account_id": a, "amount": n}
            for a, n in sorted(entries.items())
            if n and a not in done
        ]
        if rows:
            s.execute(insert(LoyaltyPosting.__table__).values(rows))
        s.flush()
        return self.journal


_JOURNAL_INSERTS: dict[tuple[str, bool], Any] = {}


def _journal_insert(session: Session, keyed: bool) -> Any:
    """The journal INSERT ... RETURNING id, built once per (dialect, keyed) so every call reuses
    the compiled statement; keyed: ON CONFLICT (idem_key) DO NOTHING."""
    dialect = session.get_bind().dialect.name
    stmt = _JOURNAL_INSERTS.get((dialect, keyed))
    if stmt is None:
        table = LoyaltyJournal.__table__
        if not keyed:
            stmt = insert(table)
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(table).on_conflict_do_nothing(index_elements=["idem_key"])
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=["idem_key"])
        stmt = stmt.returning(table.c.id)
        _JOURNAL_INSERTS[(dialect, keyed)] = stmt
    return stmt


def open_journal(
    session: Session,
    *,
    kind: str,
    customer_id: int | None,
    source_type: str,
    source_id: Any = None,
    reason: str,
    actor_id: int | None,
    idem_key: str | None = None,
    req_hash: str | None = None,
    wallet_account: LoyaltyAccount | None = None,
    at: datetime | None = None,
) -> Posting:
    """Insert the journal row (its unique key guards against a second one) and start posting.

    Raises ``Replay`` with the original journal when ``idem_key`` was used before (also when a
    concurrent transaction inserts it first: ON CONFLICT waits for it, then inserts nothing).
    """
    values = {
        "kind": kind,
        "customer_id": customer_id,
        "source_type": source_type,
        "source_id": None if source_id is None else str(source_id)[:64],
        "idem_key": idem_key,
        "request_hash": req_hash,
        "reason": (reason or kind)[:300],
        "actor_id": actor_id,
        "reverses_id": None,
        "created_at": at or utcnow(),
    }
    # One Core INSERT (no look-up first, no unit-of-work flush, no savepoint): a key used before,
    # or inserted meanwhile by another transaction (ON CONFLICT waits for it), inserts nothing,
    # and the journal that has the key is replayed.
    jid = session.execute(_journal_insert(session, bool(idem_key)), values).scalar()
    if jid is None:
        existing = find_journal(session, idem_key)
        if existing is None:  # pragma: no cover - journals are never deleted
            raise Conflict("This Idempotency-Key is in use; retry.", field="Idempotency-Key")
        raise Replay(_same_request(existing, req_hash))
    # The ORM object of the row just written, persistent without reading it back.
    j = LoyaltyJournal(id=jid, **values)
    make_transient_to_detached(j)
    session.add(j)
    return Posting(session, j, wallet=wallet_account)


# --- lots -------------------------------------------------------------------------------------


_LOT_INSERT = insert(LoyaltyLot.__table__).returning(LoyaltyLot.__table__.c.id)


def new_lot(
    p: Posting,
    points: int,
    *,
    expires_at: datetime,
    qualifying: bool = True,
    earned_at: datetime | None = None,
    available_at: datetime | None = None,
    basis: Any = None,
) -> int:
    """Credit ``points`` to the wallet as a new lot (returns its id); an outstanding debt is
    paid off first. One Core INSERT, no ORM object: nothing on the hot path reads it back.
    ``available_at``: pending (not spendable) until then; ``basis``: the order amount earned on."""
    assert p.wallet is not None and points > 0
    w = p.wallet
    settle = min(points, w.debt) if w.debt > 0 else 0
    lot_id = p.session.execute(
        _LOT_INSERT,  # built once: the compiled statement is reused
        {
            "account_id": w.id,
            "journal_id": p.journal.id,
            "points": points,
            "remaining": points - settle,
            "clawed": 0,
            "qualifying": qualifying,
            "source_type": p.journal.source_type,
            "source_id": p.journal.source_id,
            "earned_at": earned_at or p.journal.created_at,
            "expires_at": expires_at,
            "available_at": available_at,
            "basis": basis,
        },
    ).scalar_one()
    if settle:
        w.debt -= settle
        p.session.execute(
            insert(LoyaltyAllocation.__table__).values(
                journal_id=p.journal.id, lot_id=lot_id, points=settle
            )
        )
    p.to_wallet(points)
    return lot_id


def live_lots(session: Session, account_id: int) -> list[LoyaltyLot]:
    """All of the wallet's lots with points left (due or not), oldest expiry first, in one
    query: ``split_lots`` divides them into due and spendable (caller holds the wallet lock)."""
    return list(
        session.scalars(
            select(LoyaltyLot)
            .where(LoyaltyLot.account_id == account_id, LoyaltyLot.remaining > 0)
            .order_by(LoyaltyLot.expires_at, LoyaltyLot.id)
        )
    )


def split_lots(
    lots: Iterable[LoyaltyLot], now: datetime
) -> tuple[list[LoyaltyLot], list[LoyaltyLot]]:
    """(due at ``now``, still open) lots, each in ``live_lots`` order; pending lots (return
    window not over, ``available_at > now``) are in neither: they cannot be spent yet."""
    due, live = [], []
    for lot in lots:
        if lot.remaining > 0:
            if lot.expires_at <= now:
                due.append(lot)
            elif lot.available_at is None or lot.available_at <= now:
                live.append(lot)
    return due, live


def _available(now: datetime):
    """Lots whose return window is over (or that never had one)."""
    return or_(LoyaltyLot.available_at.is_(None), LoyaltyLot.available_at <= now)


def open_lots(session: Session, account_id: int, now: datetime) -> list[LoyaltyLot]:
    """The wallet's unexpired, spendable (not pending) lots with points left, oldest expiry
    first (caller holds the lock)."""
    return list(
        session.scalars(
            select(LoyaltyLot)
            .where(
                LoyaltyLot.account_id == account_id,
                LoyaltyLot.remaining > 0,
                LoyaltyLot.expires_at > now,
                _available(now),
            )
            .order_by(LoyaltyLot.expires_at, LoyaltyLot.id)
        )
    )


def consume(p: Posting, points: int, lots: Iterable[LoyaltyLot]) -> int:
    """Allocate up to ``points`` from ``lots`` in order; returns how many were allocated.

    The lots' ``remaining`` is lowered in SQL (one statement per lot, guarded by
    ``remaining >= take``) and the ORM objects get the new value as committed state.
    """
    if p.session.dirty:
        p.session.flush()  # a lot changed through the ORM (e.g. ``restore``) is written first
    left = points
    rows = []
    for lot in lots:
        if left <= 0:
            break
        take = min(left, lot.remaining)
        if take <= 0:
            continue
        left -= take
        rows.append({"journal_id": p.journal.id, "lot_id": lot.id, "points": take})
        done = p.session.execute(
            update(LoyaltyLot.__table__)
            .where(LoyaltyLot.__table__.c.id == lot.id)
            .values(remaining=LoyaltyLot.__table__.c.remaining - take)
            .returning(LoyaltyLot.__table__.c.remaining)
        ).scalar_one()
        set_committed_value(lot, "remaining", done)
    if rows:
        p.session.execute(insert(LoyaltyAllocation.__table__).values(rows))
    return points - left


def restore(p: Posting, journal_id: int, points: int) -> int:
    """Give back up to ``points`` to the lots ``journal_id`` consumed (latest expiry first)."""
    s = p.session
    used = s.execute(
        select(LoyaltyAllocation.lot_id, func.sum(LoyaltyAllocation.points))
        .where(LoyaltyAllocation.journal_id == journal_id)
        .group_by(LoyaltyAllocation.lot_id)
    ).all()
    if not used:
        return 0
    lots = {
        lot.id: lot
        for lot in s.scalars(select(LoyaltyLot).where(LoyaltyLot.id.in_([u[0] for u in used])))
    }
    left = points
    rows = []
    for lot_id, n in sorted(used, key=lambda u: (lots[u[0]].expires_at, u[0]), reverse=True):
        if left <= 0:
            break
        lot = lots[lot_id]
        give = min(left, int(n), lot.points - lot.remaining)
        if give <= 0:
            continue
        lot.remaining += give
        left -= give
        rows.append({"journal_id": p.journal.id, "lot_id": lot_id, "points": -give})
    if rows:
        s.execute(LoyaltyAllocation.__table__.insert(), rows)
    return points - left


def expire_wallet_now(
    session: Session,
    w: LoyaltyAccount,
    now: datetime,
    *,
    actor_id: int | None = None,
    due: list[LoyaltyLot] | None = None,
) -> int:
    """Post the remainder of the (locked) wallet's due lots to breakage; returns points expired.

    ``due``: the due lots if the caller already loaded them (``split_lots``)."""
    if due is not None:
        due = [lot for lot in due if lot.remaining > 0]
    else:
        due = list(
            session.scalars(
                select(LoyaltyLot)
                .where(
                    LoyaltyLot.account_id == w.id,
                    LoyaltyLot.remaining > 0,
                    LoyaltyLot.expires_at <= now,
                )
                .order_by(LoyaltyLot.expires_at, LoyaltyLot.id)
            )
        )
    if not due:
        return 0
    p = open_journal(
        session,
        kind="expire",
        customer_id=w.customer_id,
        source_type="system",
        reason="Points expired",
        actor_id=actor_id,
        wallet_account=w,
        at=now,
    )
    total = sum(lot.remaining for lot in due)
    # Expiry is recorded on the lots (``expired``, ``expired_journal_id``), not as allocations.
    if session.dirty:
        session.flush()
    lots = LoyaltyLot.__table__
    session.execute(
        update(lots)
        .where(lots.c.id.in_([lot.id for lot in due]))
        .values(
            remaining=0,
            expired=lots.c.expired + lots.c.remaining,
            expired_journal_id=p.journal.id,
        )
    )
    for lot in due:
        set_committed_value(lot, "expired", lot.expired + lot.remaining)
        set_committed_value(lot, "expired_journal_id", p.journal.id)
        set_committed_value(lot, "remaining", 0)
    p.to_wallet(-total)
    p.to_system("breakage", total)
    p.commit()
    return total


def spendable_lots(now: Any) -> tuple[Any, ...]:
    """Conditions on a wallet's lots whose points can be spent at ``now`` (a datetime or a bound
    parameter): points left, unexpired, past their return window."""
    return (LoyaltyLot.remaining > 0, LoyaltyLot.expires_at > now, _available(now))


def spendable(session: Session, w: LoyaltyAccount, now: datetime) -> int:
    """Points the member can spend now: unexpired lots past their return window minus debt."""
    n = session.scalar(
        select(func.coalesce(func.sum(LoyaltyLot.remaining), 0)).where(
            LoyaltyLot.account_id == w.id, *spendable_lots(now)
        )
    )
    return int(n or 0) - w.debt


# --- points expiring soon ---------------------------------------------------------------------
# One computation for every place that says which points expire soon and when: the member card
# on the 360 page and the member page, the "expiring soon" list, the retention rule
# ``points_expiring`` (the date it puts in an alert) and the alert's current state. Points
# expire by lot: a lot's ``expires_at`` is fixed when it is earned, but its ``remaining`` falls
# as the member spends (earliest expiry first) and rises again when a redemption is reversed, so
# what expires and the first date can change between two looks.


@dataclass(frozen=True)
class Expiring:
    """A member's points that expire unless spent: their sum and the first and last expiry."""

    points: int
    first: datetime
    last: datetime

    def first_day(self, tz: Any) -> date:
        """The first expiry's calendar day in ``tz`` (the installation's time zone), the day
        the pages write (``Formatter.date``)."""
        return _aware(self.first).astimezone(tz).date()

    def last_day(self, tz: Any) -> date:
        return _aware(self.last).astimezone(tz).date()


def _aware(at: datetime) -> datetime:
    # SQLite returns aggregates of a timestamp column (min, max) as naive UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def expiring_lots(now: Any, by: Any) -> tuple[Any, ...]:
    """Conditions on lots whose points expire in ``(now, by]`` unless spent: points left, not
    due yet (a due lot has expired already, whether or not the hourly job has posted it), pending
    ones included (they are in the balance and can expire before they are spent)."""
    return (LoyaltyLot.remaining > 0, LoyaltyLot.expires_at > now, LoyaltyLot.expires_at <= by)


def expiring_select(now: Any, by: Any) -> Select:
    """(customer id, points, first expiry, last expiry) per member with points expiring in
    ``(now, by]``: set-based, for lists and rules (add ``.where``/``.having`` to narrow it)."""
    points = func.sum(LoyaltyLot.remaining)
    return (
        select(
            LoyaltyAccount.customer_id,
            points.label("points"),
            func.min(LoyaltyLot.expires_at).label("first"),
            func.max(LoyaltyLot.expires_at).label("last"),
        )
        .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyLot.account_id)
        .where(LoyaltyAccount.customer_id.is_not(None), *expiring_lots(now, by))
        .group_by(LoyaltyAccount.customer_id)
    )


def expiring_row(row: Any) -> Expiring:
    """An ``expiring_select`` row's (points, first, last) as ``Expiring``."""
    return Expiring(int(row.points), _aware(row.first), _aware(row.last))


def expiring(
    session: Session, customer_ids: Iterable[int], now: datetime, by: datetime
) -> dict[int, Expiring]:
    """Customer id → the points of theirs that expire in ``(now, by]`` (members with none are
    left out)."""
    ids = sorted(set(customer_ids))
    out: dict[int, Expiring] = {}
    for i in range(0, len(ids), 1000):
        stmt = expiring_select(now, by).where(LoyaltyAccount.customer_id.in_(ids[i : i + 1000]))
        out.update({r.customer_id: expiring_row(r) for r in session.execute(stmt)})
    return out


def default_expiry(session: Session, at: datetime) -> datetime:
    """``at`` plus the programme's expiry days (one column read, not the programme object)."""
    p = session.info.get("loyalty_programme")
    if p is not None and p in session:
        return at + timedelta(days=p.expiry_days)
    days = session.scalar(
        select(LoyaltyProgramme.expiry_days).order_by(LoyaltyProgramme.id).limit(1)
    )
    if days is None:
        days = programme(session).expiry_days
    return at + timedelta(days=days)


def hold_total(session: Session) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LoyaltyHold.points), 0)).where(
                LoyaltyHold.status == "open"
            )
        )
        or 0
    )
