"""Earning for imported orders, set-based: the results of ``earn_for_order`` order by order.

A file import hands over thousands of new orders at once. Earning them one by one cost ~9 ms an
order on PostgreSQL (a dozen statements each), so this module earns a batch of orders with a few
statements: the orders, their lines, the members, the keys already used, the rule uses caps
count and the tier bases are read per batch; points are computed in Python with ``Decimal``
exactly as ``earning.order_points`` does; journals, lots, allocations (debt settlement),
postings and rule uses are written in bulk (COPY on PostgreSQL, multi-row INSERTs on SQLite,
``dataio.bulk``); each wallet and system shard moves by one statement per batch.

Equivalence with the per-order path (``earn_for_order`` in processing order):
- the processing order is the one ``earn_for_imported`` had: the ids in chunks of 1,000 as
  given, each chunk in id order; per member everything is sequential (debt paid off first,
  caps counting the uses of the member's earlier orders, the tier multiplier of the moment);
- a member's tier is re-evaluated after each of its earning orders, in Python on the same
  qualifying figure ``tiers.qualifying`` reads (points earned in the window, or money spent);
  grace periods start and end as ``tiers.evaluate`` does. An upgrade (almost every change of an
  import: the window's points only grow) takes effect at once for the member's next order (its
  multiplier) and is written with the round by ``tiers.change_tiers``: the history rows,
  touchpoints and notices ``change_tier`` writes, one UPDATE per tier for the wallets, then
  ``loyalty.tier_changed`` for each change in order. A downgrade (a member placed above its
  points, grace over) is what a subscriber acts on (retention raises an alert, a playbook may
  post points): the member's orders so far are written, ``tiers.change_tier`` runs as after a
  single order, and the member's further orders continue in the next round;
- keys (``order:<id>:earn``) are checked under the wallets' row locks (taken in account id
  order), so an order earns once; cancelled orders never earn; a customer who is not a member
  is enrolled first when the programme enrols automatically (also when the order earns nothing).

Ids of rows differ in their interleaving across members (one member's later orders may be
written in a later round); their content is the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.loyalty import batch_sql, ledger
from retento.loyalty import tiers as tier_rules
from retento.loyalty.earning import NO_PRODUCT, uncapped_points
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
    LoyaltyRule,
    LoyaltyRuleUse,
    LoyaltyTier,
)

CHUNK = 1000  # the per-order path's chunks: they define the processing order
BATCH = 5000  # orders per set-based batch
IN = 1000  # values per IN list
ZERO = Decimal(0)
ONE = Decimal(1)
_NO_RANK = -(10**9)
JOURNAL_COLUMNS = ["id", "kind", "customer_id", "source_type", "source_id", "idem_key",
                   "request_hash", "reason", "actor_id", "reverses_id", "created_at"]  # fmt: skip
LOT_COLUMNS = ["id", "journal_id", "account_id", "points", "remaining", "clawed", "expired",
               "qualifying", "source_type", "source_id", "earned_at", "expires_at",
               "available_at", "basis"]  # fmt: skip


def _floor(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_FLOOR))


def _chunks(values: list[Any], n: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), n):
        yield values[start : start + n]


def processing_order(order_ids: list[int]) -> list[int]:
    """The order ``earn_for_imported`` earned in: chunks of 1,000 as given, each by id."""
    out: list[int] = []
    for chunk in _chunks(list(order_ids), CHUNK):
        out += sorted(chunk)
    return out


@dataclass(frozen=True)
class _Rule:
    """A rule's fields as plain values (read once, used for every order)."""

    id: int
    kind: str
    rate: Decimal
    fixed_points: int
    product_id: int | None
    category: str | None
    min_spend: Decimal
    valid_from: datetime | None
    valid_until: datetime | None
    cap_points: int | None
    cap_period_days: int | None
    apply_multiplier: bool

    def valid(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (
            self.valid_until is None or at < self.valid_until
        )


@dataclass
class _Member:
    wallet_id: int
    customer_id: int
    debt: int
    tier_id: int | None
    grace: datetime | None
    grace0: datetime | None = None
    q: int = 0  # the tier basis now (qualifying points or spend)
    delta: int = 0  # points credited in the current round
    blocked: bool = False  # its tier changes: later orders wait for the next round


@dataclass
class _Order:
    id: int
    customer_id: int
    ordered_at: datetime
    revenue: Decimal
    refunded: Decimal
    external_id: str | None
    lines: list[tuple[Decimal, int, int]] = field(default_factory=list)  # net, product, qty


@dataclass
class _Round:
    journals: list[tuple] = field(default_factory=list)
    lots: list[tuple] = field(default_factory=list)  # (journal index, wallet id, points, ...)
    settles: list[tuple[int, int]] = field(default_factory=list)  # (lot index, points)
    uses: list[tuple[int, int, int, int, datetime]] = field(default_factory=list)
    moves: list[tier_rules.TierMove] = field(default_factory=list)  # upgrades, written in bulk
    changes: list[tuple[_Member, LoyaltyTier | None, str]] = field(default_factory=list)


class _Context:
    """What every batch of one call shares: programme, rules, tiers, the actor, ``now``."""

    def __init__(self, session: Session, actor_id: int | None):
        from retento.loyalty.tiers import tiers

        self.session = session
        self.actor_id = actor_id
        self.lock_orders = False
        self.prog = ledger.programme(session)
        self.rules = [
            _Rule(
                r.id,
                r.kind,
                r.rate,
                r.fixed_points,
                r.product_id,
                r.category,
                r.min_spend,
                r.valid_from,
                r.valid_until,
                r.cap_points,
                r.cap_period_days,
                r.apply_multiplier,
            )
            for r in session.scalars(
                select(LoyaltyRule)
                .where(
                    LoyaltyRule.active.is_(True),
                    LoyaltyRule.kind.in_(("spend", "product", "category")),
                )
                .order_by(LoyaltyRule.id)
            )
        ]
        self.need_lines = any(r.kind != "spend" for r in self.rules)
        self.categories = {r.category for r in self.rules if r.kind == "category"}
        self.capped = [r for r in self.rules if r.cap_points is not None]
        self.tiers: list[LoyaltyTier] = tiers(session)
        self.tier_by_id = {t.id: t for t in self.tiers}


def earn_for_imported(
    session: Session, order_ids: list[int], *, actor_id: int | None, lock_orders: bool = False
) -> int:
    """Earn for ``order_ids`` (new orders of a file import) as ``earn_for_order`` would one by
    one; returns the number of orders that have an earn journal (posted now or before).

    ``lock_orders``: the orders are committed and others may refund, cancel or change them
    meanwhile (the import's earning run later by a worker, ``earning_jobs``). They are then read
    ``FOR SHARE`` before the wallets are locked (the lock order of a refund: the order, then the
    wallet), so a refund either waits until these points are posted, and then claws them back,
    or commits first, and the points are computed on what is left of the order."""
    if not order_ids or not ledger.programme(session).active:
        return 0
    session.flush()  # ORM changes made before go first: the batch reads and writes in SQL
    ctx = _Context(session, actor_id)
    ctx.lock_orders = lock_orders and batch_sql.is_pg(session)
    seq = processing_order(order_ids)
    n = 0
    touched: set[int] = set()
    with batch_sql.unprepared(session.connection()):
        for batch in _chunks(seq, BATCH):
            n += _earn_batch(ctx, batch, touched)
    if touched:
        # The ORM copies of the wallets are stale after the set-based UPDATEs.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, LoyaltyAccount) and obj.id in touched:
                session.expire(obj)
    return n


def _load_orders(session: Session, ids: list[int], *, lock: bool = False) -> dict[int, tuple]:
    from retento.orders.models import Order

    t = Order.__table__
    out: dict[int, tuple] = {}
    for chunk in _chunks(sorted(ids) if lock else ids, IN):
        stmt = select(
            t.c.id,
            t.c.customer_id,
            t.c.ordered_at,
            t.c.status,
            t.c.revenue,
            t.c.refunded,
            t.c.external_id,
        ).where(t.c.id.in_(chunk))
        if lock:  # id order: two runs over overlapping orders take the locks in one order
            stmt = stmt.order_by(t.c.id).with_for_update(read=True)
        for row in session.execute(stmt):
            out[row[0]] = tuple(row)
    return out


def _lock_members(session: Session, cids: list[int]) -> dict[int, _Member]:
    """Lock the wallets of ``cids`` (account id order, the ledger's lock order); by customer."""
    A = LoyaltyAccount.__table__
    out: dict[int, _Member] = {}
    for chunk in _chunks(sorted(cids), IN):
        for aid, cid, debt, tier_id, grace in session.execute(
            select(A.c.id, A.c.customer_id, A.c.debt, A.c.tier_id, A.c.grace_until)
            .where(A.c.customer_id.in_(chunk))
            .order_by(A.c.id)
            .with_for_update()
        ):
            out[cid] = _Member(aid, cid, debt, tier_id, grace, grace)
    return out


def _enrol(session: Session, cids: list[int], now: datetime) -> None:
    """Create the wallets of ``cids`` in that order, as ``ledger.wallet`` does (a wallet made
    meanwhile by another transaction wins quietly)."""
    accounts = LoyaltyAccount.__table__
    rows = [
        {
            "kind": "wallet",
            "shard": ledger.shard_of(c),
            "customer_id": c,
            "balance": 0,
            "debt": 0,
            "joined_at": now,
        }
        for c in cids
    ]
    if batch_sql.is_pg(session):
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    for chunk in _chunks(rows, IN):
        session.execute(
            dialect_insert(accounts).on_conflict_do_nothing(index_elements=["customer_id"]), chunk
        )


def _done_keys(session: Session, keys: list[str]) -> set[str]:
    J = LoyaltyJournal.__table__
    out: set[str] = set()
    for chunk in _chunks(keys, IN):
        out.update(session.scalars(select(J.c.idem_key).where(J.c.idem_key.in_(chunk))))
    return out


def _load_lines(ctx: _Context, orders: dict[int, _Order]) -> dict[int, str | None]:
    """Fill each order's lines (net amount, product, quantity); the products' categories."""
    from retento.orders.models import OrderLine
    from retento.products.models import Product

    L = OrderLine.__table__
    products: set[int] = set()
    for chunk in _chunks(sorted(orders), IN):
        for oid, pid, qty, price, disc in ctx.session.execute(
            select(L.c.order_id, L.c.product_id, L.c.quantity, L.c.unit_price, L.c.discount)
            .where(L.c.order_id.in_(chunk))
            .order_by(L.c.order_id, L.c.line_no)
        ):
            orders[oid].lines.append((qty * price - disc, pid, qty))
            products.add(pid)
    cats: dict[int, str | None] = {}
    if ctx.categories and products:
        P = Product.__table__
        for chunk in _chunks(sorted(products), IN):
            cats.update(
                ctx.session.execute(select(P.c.id, P.c.category).where(P.c.id.in_(chunk))).all()
            )
    return cats


def _load_uses(
    ctx: _Context, cids: list[int], earliest: datetime
) -> dict[tuple[int, int], list[tuple[datetime | None, int]]]:
    """Per (capped rule, customer): the uses a cap may count, as (at, points); a cap without a
    period counts them all (one summed row, ``at`` None)."""
    U = LoyaltyRuleUse.__table__
    out: dict[tuple[int, int], list[tuple[datetime | None, int]]] = {}
    for rule in ctx.capped:
        for chunk in _chunks(sorted(cids), IN):
            if rule.cap_period_days:
                rows = ctx.session.execute(
                    select(U.c.customer_id, U.c.at, U.c.points).where(
                        U.c.rule_id == rule.id,
                        U.c.customer_id.in_(chunk),
                        U.c.at > earliest - timedelta(days=rule.cap_period_days),
                    )
                ).all()
            else:
                rows = ctx.session.execute(
                    select(U.c.customer_id, None, func.sum(U.c.points))
                    .where(U.c.rule_id == rule.id, U.c.customer_id.in_(chunk))
                    .group_by(U.c.customer_id)
                ).all()
            for cid, at, pts in rows:
                out.setdefault((rule.id, cid), []).append((at, int(pts or 0)))
    return out


def _tier_basis(ctx: _Context, members: list[_Member], now: datetime) -> None:
    """Each member's ``q`` as ``tiers.qualifying`` computes it at ``now`` (one grouped query)."""
    from retento.loyalty.tiers import QUALIFYING_POINTS, qualifying_lots

    s = ctx.session
    start = now - timedelta(days=ctx.prog.tier_window_days)
    if ctx.prog.tier_basis == "spend":
        from retento.orders.models import Order

        by_c = {m.customer_id: m for m in members}
        for chunk in _chunks(sorted(by_c), IN):
            for cid, total in s.execute(
                select(Order.customer_id, func.coalesce(func.sum(Order.revenue), 0))
                .where(
                    Order.customer_id.in_(chunk),
                    Order.ordered_at > start,
                    Order.ordered_at <= now,
                    Order.status != "cancelled",
                )
                .group_by(Order.customer_id)
            ):
                by_c[cid].q = int(total or 0)
        return
    by_w = {m.wallet_id: m for m in members}
    for chunk in _chunks(sorted(by_w), IN):
        for aid, total in s.execute(
            select(LoyaltyLot.account_id, func.coalesce(func.sum(QUALIFYING_POINTS), 0))
            .where(LoyaltyLot.account_id.in_(chunk), *qualifying_lots(start, now))
            .group_by(LoyaltyLot.account_id)
        ):
            by_w[aid].q = int(total or 0)


def _order_points(
    ctx: _Context,
    o: _Order,
    mult: Decimal,
    cats: dict[int, str | None],
    uses: dict[tuple[int, int], list[tuple[datetime | None, int]]],
) -> list[tuple[_Rule, int]]:
    """``earning.order_points`` on plain values: the same ``uncapped_points``, with the caps
    counted from the uses read for the batch."""
    at = o.ordered_at
    paid = o.revenue
    if paid <= 0:
        return []
    rules = [r for r in ctx.rules if r.valid(at)]
    if not rules:
        return []
    lines = [(net, pid, qty, cats.get(pid, NO_PRODUCT)) for net, pid, qty in o.lines]
    out = []
    for rule, pts in uncapped_points(rules, paid, lines, mult):
        if rule.cap_points is not None and pts > 0:
            past = uses.get((rule.id, o.customer_id), ())
            if rule.cap_period_days:
                since = at - timedelta(days=rule.cap_period_days)
                used = sum(n for u_at, n in past if u_at > since)
            else:
                used = sum(n for _a, n in past)
            pts = max(0, min(pts, rule.cap_points - used))
        if pts > 0:
            out.append((rule, pts))
    return out


def _tier_changes(
    ctx: _Context, m: _Member, now: datetime
) -> tuple[LoyaltyTier | None, str] | None:
    """``tiers.evaluate`` on the member's state: the (tier, reason) it would change the member
    to, or None after applying its grace-period bookkeeping."""
    from retento.loyalty.tiers import eligible_tier

    cur = ctx.tier_by_id.get(m.tier_id) if m.tier_id is not None else None
    if cur is not None and cur.invite_only:
        return None
    best = eligible_tier(ctx.tiers, m.q)
    cur_rank = cur.rank if cur is not None else _NO_RANK
    best_rank = best.rank if best is not None else _NO_RANK
    if best_rank > cur_rank:
        return best, "upgrade"
    if best_rank == cur_rank:
        m.grace = None
        return None
    grace = m.grace
    if grace is None:
        grace = now + timedelta(days=cur.grace_days if cur is not None else 0)
        if grace > now:
            m.grace = grace
            return None
    return (best, "downgrade") if now >= grace else None


def _earn_batch(ctx: _Context, ids: list[int], touched: set[int]) -> int:
    s = ctx.session
    prog = ctx.prog
    rows = _load_orders(s, ids, lock=ctx.lock_orders)
    live = [rows[i] for i in ids if i in rows and rows[i][3] != "cancelled"]
    if not live:
        return 0
    cids = list(dict.fromkeys(r[1] for r in live))  # first appearance first
    members = _lock_members(s, cids)
    done = _done_keys(s, [f"order:{r[0]}:earn" for r in live])
    n = sum(1 for r in live if f"order:{r[0]}:earn" in done)
    live = [r for r in live if f"order:{r[0]}:earn" not in done]
    if not live:
        return n
    now = utcnow()
    new = [c for c in dict.fromkeys(r[1] for r in live) if c not in members]
    if new:
        if prog.auto_enrol:
            _enrol(s, new, now)
            members.update(_lock_members(s, new))
        live = [r for r in live if r[1] in members]
    if not live or not ctx.rules:
        return n
    orders = [_Order(r[0], r[1], r[2], Decimal(r[4]), Decimal(r[5]), r[6]) for r in live]
    cats: dict[int, str | None] = {}
    if ctx.need_lines:
        cats = _load_lines(ctx, {o.id: o for o in orders})
    active = {o.customer_id: members[o.customer_id] for o in orders}
    uses: dict[tuple[int, int], list[tuple[datetime | None, int]]] = {}
    if ctx.capped:
        uses = _load_uses(ctx, sorted(active), min(o.ordered_at for o in orders))
    if ctx.tiers:
        _tier_basis(ctx, list(active.values()), now)
    todo = orders
    while todo:
        todo, posted = _round(ctx, todo, members, cats, uses, now, touched)
        n += posted
    return n


def _round(
    ctx: _Context,
    orders: list[_Order],
    members: dict[int, _Member],
    cats: dict[int, str | None],
    uses: dict[tuple[int, int], list[tuple[datetime | None, int]]],
    now: datetime,
    touched: set[int],
) -> tuple[list[_Order], int]:
    """Plan and write ``orders`` up to each member's next tier change; returns the orders left
    for the next round and the number of journals written."""
    prog = ctx.prog
    plan = _Round()
    later: list[_Order] = []
    start = now - timedelta(days=prog.tier_window_days)
    points_basis = prog.tier_basis != "spend"
    expiry = timedelta(days=prog.expiry_days)
    pending = timedelta(days=prog.pending_days) if prog.pending_days else None
    for o in orders:
        m = members[o.customer_id]
        if m.blocked:
            later.append(o)
            continue
        tier = ctx.tier_by_id.get(m.tier_id) if m.tier_id is not None else None
        mult = tier.multiplier if tier is not None else ONE
        parts = _order_points(ctx, o, mult, cats, uses)
        total = sum(p for _r, p in parts)
        if total <= 0:
            continue
        j = len(plan.journals)
        plan.journals.append(
            (
                "earn",
                o.customer_id,
                "order",
                str(o.id)[:64],
                f"order:{o.id}:earn",
                None,
                f"Order {o.external_id or o.id}"[:300],
                ctx.actor_id,
                None,
                now,
            )
        )
        settle = min(total, m.debt) if m.debt > 0 else 0
        if settle:
            m.debt -= settle
            plan.settles.append((len(plan.lots), settle))
        plan.lots.append(
            (
                j,
                m.wallet_id,
                total,
                total - settle,
                str(o.id)[:64],
                o.ordered_at,
                o.ordered_at + expiry,
                o.ordered_at + pending if pending is not None else None,
                o.revenue + o.refunded,
            )
        )
        for rule, pts in parts:
            plan.uses.append((rule.id, o.customer_id, j, pts, o.ordered_at))
            if rule.cap_points is not None:
                uses.setdefault((rule.id, o.customer_id), []).append((o.ordered_at, pts))
        m.delta += total
        if ctx.tiers:
            if points_basis and start < o.ordered_at <= now:
                m.q += total
            change = _tier_changes(ctx, m, now)
            if change is None:
                pass
            elif change[1] == "upgrade":
                # As change_tier leaves the wallet: the new tier (its multiplier for the member's
                # next order), no grace; written with the round by change_tiers.
                tier = change[0]
                plan.moves.append(
                    tier_rules.TierMove(m.wallet_id, m.customer_id, m.tier_id, tier, "upgrade", m.q)
                )
                m.tier_id = tier.id if tier is not None else None
                m.grace = m.grace0 = None
                touched.add(m.wallet_id)
            else:
                m.blocked = True
                plan.changes.append((m, *change))
    _write(ctx, plan, members, now, touched)
    tier_rules.change_tiers(ctx.session, plan.moves, now, actor_id=ctx.actor_id)
    for m, tier, reason in plan.changes:
        _change_tier(ctx, m, tier, reason, now)
    return later, len(plan.journals)


def _write(
    ctx: _Context, plan: _Round, members: dict[int, _Member], now: datetime, touched: set[int]
) -> None:
    from retento.dataio.bulk import insert_rows, next_ids

    s = ctx.session
    conn = s.connection()
    if plan.journals:
        J = LoyaltyJournal.__table__
        jids = next_ids(conn, J, len(plan.journals))
        insert_rows(
            conn,
            J,
            JOURNAL_COLUMNS,
            ((jid, *row) for jid, row in zip(jids, plan.journals, strict=True)),
        )
        L = LoyaltyLot.__table__
        lids = next_ids(conn, L, len(plan.lots))
        insert_rows(
            conn,
            L,
            LOT_COLUMNS,
            (
                (lid, jids[j], aid, pts, rem, 0, 0, True, "order", src, earned, exp, avail, basis)
                for lid, (j, aid, pts, rem, src, earned, exp, avail, basis) in zip(
                    lids, plan.lots, strict=True
                )
            ),
        )
        if plan.settles:
            insert_rows(
                conn,
                LoyaltyAllocation.__table__,
                ["journal_id", "lot_id", "points"],
                ((jids[plan.lots[k][0]], lids[k], n) for k, n in plan.settles),
            )
        # Each journal: the wallet +points, its customer's expense shard -points.
        postings = [(jids[j], aid, pts) for j, aid, pts, *_rest in plan.lots]
        moves: dict[str, int] = {}
        keyed: list[tuple[int, str, int]] = []
        for j, _aid, pts, *_rest in plan.lots:
            key = f"expense:{ledger.shard_of(plan.journals[j][1])}"
            moves[key] = moves.get(key, 0) - pts
            keyed.append((jids[j], key, -pts))
        sys_ids = batch_sql.move_system(s, moves)  # shards locked in key order, after wallets
        postings += [(jid, sys_ids[key], n) for jid, key, n in keyed]
        insert_rows(
            conn, LoyaltyPosting.__table__, ["journal_id", "account_id", "amount"], postings
        )
        if plan.uses:
            insert_rows(
                conn,
                LoyaltyRuleUse.__table__,
                ["rule_id", "customer_id", "journal_id", "points", "at"],
                ((r, c, jids[j], n, at) for r, c, j, n, at in plan.uses),
            )
    moved = sorted((m.wallet_id, m.delta, m.debt) for m in members.values() if m.delta)
    batch_sql.move_wallets(s, moved, now)
    for m in members.values():
        if m.delta:
            touched.add(m.wallet_id)
        m.delta = 0
    graced = [m for m in members.values() if m.grace != m.grace0]
    if graced:
        A = LoyaltyAccount.__table__
        s.execute(
            update(A)
            .where(A.c.id == bindparam("b_id"))
            .values(grace_until=bindparam("b_grace"))
            .execution_options(synchronize_session=False),
            [{"b_id": m.wallet_id, "b_grace": m.grace} for m in graced],
        )
        for m in graced:
            m.grace0 = m.grace
            touched.add(m.wallet_id)


def _change_tier(
    ctx: _Context, m: _Member, tier: LoyaltyTier | None, reason: str, now: datetime
) -> None:
    """The downgrade ``tiers.evaluate`` makes for the member at this point (its orders so far
    are written): ``tiers.change_tier`` with its tier change, touchpoint, e-mail and hooks, as
    after a single order; then the member's state is read back for its next orders (a hook may
    have posted to the wallet)."""
    from retento.loyalty.tiers import change_tier

    s = ctx.session
    w = ledger.get_wallet(s, m.customer_id, lock=True)
    assert w is not None
    change_tier(s, w, tier, reason, m.q, now, actor_id=ctx.actor_id)
    s.flush()
    m.tier_id = w.tier_id
    m.grace = m.grace0 = w.grace_until
    m.debt = w.debt
    m.blocked = False
