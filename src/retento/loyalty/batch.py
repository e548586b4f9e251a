"""Batch postings: up to 1,000 earn / adjust / redeem operations in one transaction.

The same ledger as the single operations (``service.adjust`` / ``service.redeem``), written
set-based: one locking SELECT for every wallet of the batch (account id order, the lock order of
everything else), one SELECT for the keys already used, one for the lots the debits spend from,
then multi-row INSERTs of journals, lots, allocations, postings and redemptions, one UPDATE per
touched lot and wallet (an executemany) and one per system shard (key order). All or nothing:
any bad item raises ``BatchInvalid`` (422) naming every bad item's index and field, and the
caller's transaction rolls back, so nothing is written.

Each item carries its own idempotency key, in the same name space as the ``Idempotency-Key``
header of the single operations: a retried batch (or a single item retried alone, or the same
operation sent singly before) returns the original journal instead of posting again; the same
key for different content is refused.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.audit.models import AuditEntry
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, FieldError, InvalidInput, Msg
from retento.core.types import ID_MAX
from retento.customers.guard import lock_customers
from retento.loyalty import batch_sql, ledger
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
    LoyaltyRedemption,
)

MAX_ITEMS = 1000
OPS = ("earn", "adjust", "redeem")


@dataclass(frozen=True)
class BatchOp:
    """One operation: ``earn`` (a qualifying credit), ``adjust`` (credit or debit, not
    qualifying) or ``redeem`` (spend points); ``key`` is its idempotency key."""

    op: str
    customer_id: int
    points: int
    key: str
    reason: str | None = None
    expires_at: datetime | None = None


@dataclass
class BatchResult:
    index: int
    journal_id: int
    replayed: bool
    redemption_id: int | None = None


class BatchInvalid(InvalidInput):
    """422 listing every bad item; ``items`` holds (index, field, message)."""

    def __init__(self, items: list[tuple[int, str, str]]):
        items = sorted(items)
        errors = [FieldError(f"items.{i}.{f}", m) for i, f, m in items]
        first = errors[0]
        super().__init__(
            Msg(
                "%(n)s item(s) rejected, nothing posted; %(field)s: %(message)s",
                n=len(items),
                field=first.field,
                # A fixed reason is a msgid too: translated with the sentence around it.
                message=first.message if isinstance(first.message, Msg) else Msg(first.message),
            ),
            field=first.field,
            errors=errors,
        )
        self.items = items


@dataclass
class _Lot:
    """A lot as the batch sees it: existing (``id`` known) or created by an item of the batch."""

    id: int | None
    expires_at: datetime
    remaining: int
    order: tuple
    loaded: int = 0  # remaining when read (existing lots): changed lots are written back
    insert: dict[str, Any] | None = None
    pending: bool = False  # return window not over (``available_at > now``): not spendable


@dataclass
class _Wallet:
    id: int
    customer_id: int
    debt: int
    debt0: int = 0
    delta: int = 0
    lots: list[_Lot] | None = None  # loaded only for wallets with a debit
    expired: bool = False


@dataclass
class _Plan:
    journals: list[dict[str, Any]] = field(default_factory=list)
    # (journal index, wallet id or system key, amount)
    postings: list[tuple[int, Any, int]] = field(default_factory=list)
    lots: list[tuple[int, _Lot]] = field(default_factory=list)
    allocations: list[tuple[int, _Lot, int]] = field(default_factory=list)
    expired: list[tuple[int, _Lot]] = field(default_factory=list)  # (expire journal, lot)
    redemptions: list[tuple[int, int, int]] = field(default_factory=list)  # (journal, cid, pts)
    audit: list[tuple[int, int, str]] = field(default_factory=list)  # (journal, points, entity)


def _hash(item: BatchOp) -> str:
    """The request hash the single operation computes for the same request (so a key used by
    ``service.adjust`` / ``service.redeem`` replays here and the other way round)."""
    if item.op == "redeem":
        payload = {"op": "redeem", "c": item.customer_id, "p": item.points, "r": None, "o": None}
    else:
        payload = {"op": item.op, "c": item.customer_id, "p": item.points, "r": item.reason}
    return ledger.request_hash(payload)


def _validate(items: list[BatchOp]) -> list[tuple[int, str, str]]:
    bad: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for i, it in enumerate(items):
        if it.op not in OPS:
            bad.append((i, "op", "must be earn, adjust or redeem"))
            continue
        cid = it.customer_id
        if not isinstance(cid, int) or isinstance(cid, bool) or not 1 <= cid <= ID_MAX:
            bad.append(
                (i, "customer_id", Msg("must be a whole number from 1 to %(max)s", max=ID_MAX))
            )
        pts = it.points
        if not isinstance(pts, int) or isinstance(pts, bool) or abs(pts) > ledger.MAX_POINTS:
            bad.append(
                (i, "points", Msg("must be a whole number up to %(max)s", max=ledger.MAX_POINTS))
            )
        elif pts == 0 or (pts < 0 and it.op != "adjust"):
            bad.append((i, "points", "must be positive" if pts else "must not be zero"))
        if it.op != "redeem" and not (it.reason and it.reason.strip()):
            bad.append((i, "reason", "give a reason"))
        elif it.reason is not None and len(it.reason) > 300:
            bad.append((i, "reason", "at most 300 characters"))
        if it.expires_at is not None and (it.op == "redeem" or (isinstance(pts, int) and pts < 0)):
            bad.append((i, "expires_at", "applies to credits only"))
        key = (it.key or "").strip()
        if not key or len(key) > 120 or not key.isprintable():
            bad.append((i, "key", "must be 1 to 120 printable characters"))
        elif key in seen:
            bad.append((i, "key", Msg("is also used by item %(item)s", item=seen[key])))
        else:
            seen[key] = i
    return bad


def post_batch(
    session: Session,
    items: list[BatchOp],
    *,
    actor: User,
    source_type: str = "manual",
    now: datetime | None = None,
) -> list[BatchResult]:
    """Post ``items`` in the caller's transaction (all or nothing); results in item order."""
    if any(it.op == "redeem" for it in items):
        require(actor, "loyalty:redeem")
    if any(it.op != "redeem" for it in items):
        require(actor, "loyalty:adjust")
    if not items:
        raise InvalidInput("Give at least one item.", field="items")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(Msg("At most %(max)s items per batch.", max=MAX_ITEMS), field="items")
    bad = _validate(items)
    if bad:
        raise BatchInvalid(bad)
    now = now or utcnow()
    keys = [f"api:{actor.id}:{it.key.strip()}" for it in items]
    journals = LoyaltyJournal.__table__

    # 1. Lock every wallet of the batch, in account id order (the one lock order), after the
    # customers' guard (``customers.guard``: shared row locks, as a merge locks customers first).
    cids = sorted({it.customer_id for it in items})
    merged = lock_customers(session, cids)
    if merged:
        raise BatchInvalid(
            [
                (
                    i,
                    "customer_id",
                    Msg(
                        "customer %(id)s was merged into customer %(to)s", id=it.customer_id, to=to
                    ),
                )
                for i, it in enumerate(items)
                if (to := merged.get(it.customer_id)) is not None
            ]
        )
    wallets = _lock_wallets(session, cids)

    # 2. Keys used before (checked under the locks: a parallel retry waits above, then sees them).
    done: dict[str, tuple[int, str | None]] = {}
    for start in range(0, len(keys), 1000):
        for jid, k, h in session.execute(
            select(journals.c.id, journals.c.idem_key, journals.c.request_hash).where(
                journals.c.idem_key.in_(keys[start : start + 1000])
            )
        ):
            done[k] = (jid, h)
    fresh = [i for i, k in enumerate(keys) if k not in done]
    for i, k in enumerate(keys):
        if k in done and done[k][1] and done[k][1] != _hash(items[i]):
            bad.append((i, "key", "was already used for a different request"))

    # 3. Members: credits enrol the customer, debits need a wallet.
    need = sorted({items[i].customer_id for i in fresh} - set(wallets))
    if need:
        from retento.customers.models import Customer

        credit = {
            items[i].customer_id for i in fresh if items[i].op != "redeem" and items[i].points > 0
        }
        known = set(session.scalars(select(Customer.id).where(Customer.id.in_(need))))
        for i in fresh:
            cid = items[i].customer_id
            if cid in wallets:
                continue
            if cid not in known:
                bad.append((i, "customer_id", Msg("customer %(id)s does not exist", id=cid)))
            elif cid not in credit:
                bad.append((i, "customer_id", Msg("customer %(id)s is not a member", id=cid)))
        enrol = sorted(c for c in need if c in known and c in credit)
        if enrol and not bad:
            wallets.update(_enrol(session, enrol))
    if bad:
        raise BatchInvalid(bad)

    # 4. Plan every journal in item order, spending from lots oldest expiry first.
    plan = _plan(session, items, keys, fresh, wallets, actor, source_type, now, bad)
    if bad:
        raise BatchInvalid(bad)

    # 5. Write it.
    ids = _write(session, plan, wallets, actor, now)
    out: list[BatchResult] = []
    red_of = dict(zip([j for j, _c, _p in plan.redemptions], ids["redemptions"], strict=True))
    item_journal = {j["_item"]: n for n, j in enumerate(plan.journals) if j["_item"] is not None}
    replayed_reds = _replayed_redemptions(
        session,
        [done[keys[i]][0] for i, it in enumerate(items) if keys[i] in done and it.op == "redeem"],
    )
    for i in range(len(items)):
        if keys[i] in done:
            jid = done[keys[i]][0]
            out.append(BatchResult(i, jid, True, replayed_reds.get(jid)))
        else:
            n = item_journal[i]
            out.append(BatchResult(i, ids["journals"][n], False, red_of.get(n)))
    earners = sorted({wallets[items[i].customer_id].id for i in fresh if items[i].op == "earn"})
    if earners:
        _evaluate_tiers(session, earners, now, actor)
    return out


def _lock_wallets(session: Session, cids: list[int]) -> dict[int, _Wallet]:
    accounts = LoyaltyAccount.__table__
    out: dict[int, _Wallet] = {}
    for start in range(0, len(cids), 1000):
        chunk = cids[start : start + 1000]
        for aid, cid, debt in session.execute(
            select(accounts.c.id, accounts.c.customer_id, accounts.c.debt)
            .where(accounts.c.customer_id.in_(chunk))
            .order_by(accounts.c.id)
            .with_for_update()
        ):
            out[cid] = _Wallet(aid, cid, debt, debt)
    return out


def _enrol(session: Session, cids: list[int]) -> dict[int, _Wallet]:
    """Create the wallets of new members (customer id order; a concurrent enrolment wins
    quietly) and lock them."""
    accounts = LoyaltyAccount.__table__
    rows = [
        {"kind": "wallet", "shard": ledger.shard_of(c), "customer_id": c, "balance": 0, "debt": 0}
        for c in cids
    ]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(
            pg_insert(accounts).on_conflict_do_nothing(index_elements=["customer_id"]), rows
        )
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(
            sqlite_insert(accounts).on_conflict_do_nothing(index_elements=["customer_id"]), rows
        )
    return _lock_wallets(session, cids)


def _load_lots(session: Session, need: dict[int, int], now: datetime) -> dict[int, list[_Lot]]:
    out: dict[int, list[_Lot]] = {w: [] for w in need}
    for lid, aid, rem, exp, avail in batch_sql.load_lots(session, need, now):
        pending = avail is not None and avail > now
        out[aid].append(_Lot(lid, exp, rem, (exp, 0, lid), loaded=rem, pending=pending))
    return out


def _plan(
    session: Session,
    items: list[BatchOp],
    keys: list[str],
    fresh: list[int],
    wallets: dict[int, _Wallet],
    actor: User,
    source_type: str,
    now: datetime,
    bad: list[tuple[int, str, str]],
) -> _Plan:
    plan = _Plan()
    # Points each wallet's debits need (plus its debt): the lots that can cover them are read.
    need: dict[int, int] = {}
    for i in fresh:
        if items[i].op == "redeem" or items[i].points < 0:
            w = wallets[items[i].customer_id]
            need[w.id] = need.get(w.id, w.debt) + abs(items[i].points)
    by_id = {w.id: w for w in wallets.values()}
    for aid, lots in _load_lots(session, need, now).items():
        by_id[aid].lots = lots
    expiry_days = None
    new_seq = 0

    def journal(i: int | None, kind: str, w: _Wallet, src: str, reason: str, **kw) -> int:
        plan.journals.append(
            {
                "_item": i,
                "kind": kind,
                "customer_id": w.customer_id,
                "source_type": src,
                "source_id": kw.get("source_id"),
                "idem_key": kw.get("idem_key"),
                "request_hash": kw.get("request_hash"),
                "reason": reason[:300],
                "actor_id": actor.id,
                "reverses_id": None,
                "created_at": now,
            }
        )
        return len(plan.journals) - 1

    def spend(j: int, w: _Wallet, points: int, lots: list[_Lot]) -> None:
        left = points
        for lot in lots:
            if left <= 0:
                break
            take = min(left, lot.remaining)
            if take <= 0:
                continue
            lot.remaining -= take
            left -= take
            plan.allocations.append((j, lot, take))
        assert left == 0

    for i in fresh:
        it = items[i]
        w = wallets[it.customer_id]
        src_id = it.key.strip()[:64] if source_type == "import" else None
        common = {"idem_key": keys[i], "request_hash": _hash(it), "source_id": src_id}
        if it.op != "redeem" and it.points > 0:
            if it.expires_at is None and expiry_days is None:
                expiry_days = ledger.programme(session).expiry_days
            kind = "earn" if it.op == "earn" else "adjust"
            j = journal(i, kind, w, source_type, it.reason.strip(), **common)
            settle = min(it.points, w.debt) if w.debt > 0 else 0
            new_seq += 1
            exp = it.expires_at or now + timedelta(days=expiry_days or 0)
            lot = _Lot(None, exp, it.points - settle, (exp, 1, new_seq))
            lot.insert = {
                "account_id": w.id,
                "points": it.points,
                "clawed": 0,
                "qualifying": it.op == "earn",
                "source_type": source_type,
                "source_id": src_id,
                "earned_at": now,
                "expires_at": exp,
            }
            plan.lots.append((j, lot))
            if settle:  # an outstanding debt is paid off first (as ``ledger.new_lot`` does)
                w.debt -= settle
                plan.allocations.append((j, lot, settle))
            if w.lots is not None:
                bisect.insort(w.lots, lot, key=lambda x: x.order)
            w.delta += it.points
            plan.postings += [
                (j, w.id, it.points),
                (j, f"expense:{ledger.shard_of(w.customer_id)}", -it.points),
            ]
            plan.audit.append((j, it.points, "loyalty_journal"))
            continue
        # A debit: the wallet's due lots expire first (as the single operations do).
        points = abs(it.points)
        assert w.lots is not None
        if not w.expired:
            w.expired = True
            due = [lot for lot in w.lots if lot.expires_at <= now and lot.remaining > 0]
            if due:
                total = sum(lot.remaining for lot in due)
                j = journal(None, "expire", w, "system", "Points expired")
                for lot in due:  # recorded on the lot (``expired``), not as an allocation
                    plan.expired.append((j, lot))
                    lot.remaining = 0
                w.delta -= total
                plan.postings += [
                    (j, w.id, -total),
                    (j, f"breakage:{ledger.shard_of(w.customer_id)}", total),
                ]
        live = [
            lot for lot in w.lots if lot.expires_at > now and lot.remaining > 0 and not lot.pending
        ]
        available = sum(lot.remaining for lot in live) - w.debt
        if points > available:
            bad.append(
                (
                    i,
                    "points",
                    Msg(
                        "not enough points: %(available)s available, %(needed)s needed",
                        available=max(available, 0),
                        needed=points,
                    ),
                )
            )
            continue
        if it.op == "redeem":
            j = journal(
                i,
                "redeem",
                w,
                "manual",
                (it.reason or "").strip() or "Points redeemed",
                **{**common, "source_id": None},
            )
            system = "redemption"
            plan.redemptions.append((j, w.customer_id, points))
        else:
            j = journal(i, "adjust", w, source_type, it.reason.strip(), **common)
            system = "expense"
            plan.audit.append((j, -points, "loyalty_journal"))
        spend(j, w, points, live)
        w.delta -= points
        plan.postings += [
            (j, w.id, -points),
            (j, f"{system}:{ledger.shard_of(w.customer_id)}", points),
        ]
    return plan


def _write(
    session: Session, plan: _Plan, wallets: dict[int, _Wallet], actor: User, now: datetime
) -> dict[str, list[int]]:
    """The planned rows, set-based; returns the new journal and redemption ids in plan order."""
    out: dict[str, list[int]] = {"journals": [], "redemptions": []}
    if not plan.journals:
        return out
    session.flush()  # anything the caller left pending goes first
    J = LoyaltyJournal.__table__
    rows = [{k: v for k, v in j.items() if k != "_item"} for j in plan.journals]
    try:
        with session.begin_nested():
            jids = batch_sql.insert_rows(session, J, rows, ids=True)
    except IntegrityError:
        raise Conflict(
            "An item's key was used by a request running at the same time; retry the batch.",
            field="items",
        ) from None
    out["journals"] = jids

    if plan.lots:
        # New lots are written with what is left of them after the batch's own spends.
        lot_rows = [
            {**lot.insert, "journal_id": jids[j], "remaining": lot.remaining, "expired": 0}
            for j, lot in plan.lots
        ]
        lids = batch_sql.insert_rows(session, LoyaltyLot.__table__, lot_rows, ids=True)
        for (_j, lot), lid in zip(plan.lots, lids, strict=True):
            lot.id = lid
    changed = {id(lot): lot for _j, lot, _n in plan.allocations if lot.loaded}
    batch_sql.set_lot_remaining(session, [(lot.id, lot.remaining) for lot in changed.values()])
    batch_sql.expire_lots(session, [(lot.id, jids[j]) for j, lot in plan.expired])
    batch_sql.insert_rows(
        session,
        LoyaltyAllocation.__table__,
        [{"journal_id": jids[j], "lot_id": lot.id, "points": n} for j, lot, n in plan.allocations],
    )
    moved = sorted(
        (w.id, w.delta, w.debt) for w in wallets.values() if w.delta or w.debt != w.debt0
    )
    batch_sql.move_wallets(session, moved, now)
    moves: dict[str, int] = {}
    for _j, acc, n in plan.postings:
        if isinstance(acc, str):
            moves[acc] = moves.get(acc, 0) + n
    sys_ids = batch_sql.move_system(session, moves)
    postings = [
        {
            "journal_id": jids[j],
            "account_id": sys_ids[acc] if isinstance(acc, str) else acc,
            "amount": n,
        }
        for j, acc, n in plan.postings
        if n
    ]
    batch_sql.insert_rows(session, LoyaltyPosting.__table__, postings)
    if plan.redemptions:
        out["redemptions"] = batch_sql.insert_rows(
            session,
            LoyaltyRedemption.__table__,
            [
                {
                    "customer_id": cid,
                    "reward_id": None,
                    "order_id": None,
                    "points": pts,
                    "returned": 0,
                    "journal_id": jids[j],
                    "agent_id": actor.id,
                    "created_at": now,
                }
                for j, cid, pts in plan.redemptions
            ],
            ids=True,
        )
    audit = []
    red_ids = dict(zip([j for j, _c, _p in plan.redemptions], out["redemptions"], strict=True))
    for j, _c, pts in plan.redemptions:
        audit.append(
            _audit_row(
                actor,
                "loyalty_redemption",
                red_ids[j],
                {
                    "id": red_ids[j],
                    "customer_id": plan.journals[j]["customer_id"],
                    "points": pts,
                    "journal_id": jids[j],
                    "agent_id": actor.id,
                    "created_at": now.isoformat(),
                },
            )
        )
    for j, pts, entity in plan.audit:
        row = plan.journals[j]
        audit.append(
            _audit_row(
                actor,
                entity,
                jids[j],
                {
                    "id": jids[j],
                    **{
                        k: row[k]
                        for k in (
                            "kind",
                            "customer_id",
                            "source_type",
                            "source_id",
                            "idem_key",
                            "reason",
                            "actor_id",
                        )
                    },
                    "created_at": now.isoformat(),
                    "points": pts,
                },
            )
        )
    batch_sql.insert_rows(session, AuditEntry.__table__, audit)
    session.expire_all()  # ORM copies of the wallets and lots are stale now
    return out


def _audit_row(actor: User, entity: str, entity_id: int, after: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "actor_id": actor.id,
        "actor_name": actor.username,
        "action": "create",
        "entity": entity,
        "entity_id": str(entity_id),
        "before": None,
        "after": after,
    }


def _replayed_redemptions(session: Session, journal_ids: list[int]) -> dict[int, int]:
    if not journal_ids:
        return {}
    R = LoyaltyRedemption.__table__
    return {
        j: r
        for r, j in session.execute(
            select(R.c.id, R.c.journal_id).where(R.c.journal_id.in_(journal_ids))
        )
    }


def _evaluate_tiers(session: Session, wallet_ids: list[int], now: datetime, actor: User) -> None:
    """Upgrades happen at once after an earning, as for orders (one pass per earning member)."""
    from retento.loyalty.tiers import evaluate, tiers

    if not tiers(session):
        return
    for w in session.scalars(
        select(LoyaltyAccount).where(LoyaltyAccount.id.in_(wallet_ids)).order_by(LoyaltyAccount.id)
    ):
        evaluate(session, w, now, actor_id=actor.id)
    session.flush()
