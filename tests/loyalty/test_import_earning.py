"""Imported orders earn set-based (``earning_bulk``) with the results of ``earn_for_order`` one
by one: the same journals, lots, allocations, postings, rule uses, balances, debts, tier changes
with their touchpoints and e-mails; once per order; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.core.errors import Conflict
from retento.loyalty import earning, earning_bulk, ledger, service, tiers
from retento.loyalty.check import check_ledger
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
    LoyaltyRedemption,
    LoyaltyRule,
    LoyaltyRuleUse,
    LoyaltyTier,
    LoyaltyTierChange,
)
from retento.mail.models import OutboxMessage
from retento.orders.models import Order, OrderLine
from retento.orders.service import recompute
from retento.touchpoints.models import Touchpoint
from tests.factories import live_shared, make_customer, make_product, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme, make_tiers

# The race tests' PostgreSQL database: one for the module, put back to its migrated state
# before each test (tests/factories/live_shared.py).
live_pg_module, live_pg = live_shared.live_pg_module, live_shared.live_pg

# --- a varied programme, members and orders ----------------------------------------------------


def _programme(db, **settings) -> dict:
    now = utcnow()
    # debt (policy "negative", no longer the default) so that new points pay some of it off
    settings.setdefault("refund_policy", "negative")
    make_programme(db, rate="0.5", expiry_days=200, **settings)
    tea = make_product(db, unit_price=Decimal("12.50"), category="tea")
    cups = make_product(db, unit_price=Decimal("7.30"), category="cups")
    big = make_product(db, unit_price=Decimal("199.99"), category="tea")
    odd = make_product(db, unit_price=Decimal("0.33"), category=None)
    db.add_all(
        [
            LoyaltyRule(
                name="Tea", kind="category", category="tea", rate=Decimal("0.5"), fixed_points=3
            ),
            LoyaltyRule(
                name="Cup",
                kind="product",
                product_id=cups.id,
                rate=Decimal("1.25"),
                apply_multiplier=False,
            ),
            LoyaltyRule(
                name="Big basket",
                kind="spend",
                fixed_points=40,
                min_spend=Decimal("150"),
                cap_points=100,
                cap_period_days=30,
            ),
            LoyaltyRule(name="Lifetime", kind="spend", rate=Decimal("0.1"), cap_points=60),
            LoyaltyRule(
                name="Last spring",
                kind="spend",
                rate=Decimal("0.3"),
                valid_from=now - timedelta(days=200),
                valid_until=now - timedelta(days=100),
            ),
            LoyaltyRule(name="Off", kind="spend", rate=Decimal("10"), active=False),
            LoyaltyRule(name="Survey", kind="event", event="survey_answered", fixed_points=9),
        ]
    )
    silver, gold, plat = make_tiers(
        db, ("silver", 150, "1.25"), ("gold", 600, "1.5"), ("plat", 2000, "2")
    )
    gold.grace_days = 0  # below gold's threshold: lowered at the next evaluation
    vip = LoyaltyTier(code="vip", name="Vip", rank=10, threshold=0, multiplier=Decimal("3"))
    vip.invite_only = True
    db.add(vip)
    db.flush()
    return {"products": [tea, cups, big, odd], "tiers": [silver, gold, plat, vip]}


def _order(db, c, rnd: random.Random, products, at, status="completed", lines=None) -> Order:
    o = Order(
        external_id=f"IMP-{rnd.randrange(10**12)}",
        customer_id=c.id,
        ordered_at=at,
        status=status,
        discount=Decimal("0.00"),
    )
    o.lines = []
    for i in range(len(lines) if lines else rnd.randint(1, 3)):
        p, q = lines[i] if lines else (rnd.choice(products), rnd.randint(1, 4))
        disc = Decimal("0.00")
        if not lines and rnd.random() < 0.2:
            disc = (p.unit_price * q * Decimal("0.15")).quantize(Decimal("0.01"))
        o.lines.append(
            OrderLine(
                line_no=i + 1,
                product_id=p.id,
                quantity=q,
                unit_price=p.unit_price,
                unit_cost=p.unit_cost,
                discount=disc,
            )
        )
    gross = sum(ln.quantity * ln.unit_price - ln.discount for ln in o.lines)
    r = rnd.random() if not lines else 1
    if r < 0.05:
        o.discount = gross  # paid nothing: earns nothing
    elif r < 0.2:
        o.discount = (gross * Decimal("0.1")).quantize(Decimal("0.01"))
    recompute(o)
    db.add(o)
    return o


def _world(db, users, *, seed: int = 7, n_orders: int = 240, **settings) -> list[int]:
    """Members in every state, then new orders written as an import writes them (no hooks);
    returns the new orders' ids."""
    rnd = random.Random(seed)
    setup = _programme(db, **settings)
    products, (silver, gold, _plat, vip) = setup["products"], setup["tiers"]
    now = utcnow()
    manager = users["manager"]
    customers = []
    for i in range(24):
        mail = {"email": f"m{i}@example.com", "consent_email": True} if i % 3 == 0 else {}
        customers.append(make_customer(db, **mail))
    # Members: plain, in debt, placed above their points (silver: grace; gold: no grace), invited.
    for c in customers[:14]:
        ledger.wallet(db, c.id)
    for c in customers[2:5]:
        w = ledger.wallet(db, c.id)
        earning.clawback(
            db, w, None, 80 + c.id % 50, source_type="manual", source_id=None, reason="test",
            actor_id=None, idem_key=None, now=now,
        )  # fmt: skip
    tiers.set_tier(db, customers[5].id, silver.id, actor_id=manager.id)
    tiers.set_tier(db, customers[6].id, gold.id, actor_id=manager.id)
    tiers.set_tier(db, customers[7].id, vip.id, actor_id=manager.id)
    service.adjust(db, customers[8].id, 500, actor=manager, reason="opening")
    # Earlier orders through the live path: uses that caps count, lots that count for tiers.
    for c in customers[9:12]:
        o = _order(db, c, rnd, products, now - timedelta(days=rnd.randint(1, 20)))
        db.flush()
        earning.earn_for_order(db, o, actor_id=None)
    # In silver below its threshold: its grace starts, then ends as it earns enough; another
    # whose grace is over: lowered at its first earning.
    tiers.set_tier(db, customers[12].id, silver.id, actor_id=manager.id)
    tiers.set_tier(db, customers[13].id, silver.id, actor_id=manager.id)
    ledger.wallet(db, customers[13].id).grace_until = now - timedelta(days=1)
    low = make_customer(db)  # stays below silver: its grace starts and is still on after
    tiers.set_tier(db, low.id, silver.id, actor_id=manager.id)
    tea, cups = products[0], products[1]
    day = now - timedelta(days=1)
    new = [
        _order(db, low, rnd, products, day, lines=[(tea, 1)]),
        _order(db, customers[12], rnd, products, day, lines=[(tea, 1)]),
        _order(db, customers[13], rnd, products, day, lines=[(tea, 1)]),
        _order(db, customers[12], rnd, products, day, lines=[(cups, 10)]),
    ]
    for _k in range(n_orders):
        c = rnd.choice(customers)
        if rnd.random() < 0.04:
            at = now + timedelta(days=rnd.randint(1, 5))  # dated ahead: earns, not in the window
        else:
            at = now - timedelta(days=rnd.randint(0, 420), minutes=rnd.randint(0, 1440))
        status = "cancelled" if rnd.random() < 0.06 else "completed"
        new.append(_order(db, c, rnd, products, at, status))
    db.flush()
    earning.earn_for_order(db, new[3], actor_id=None)  # one of them earned already
    db.flush()
    return sorted(o.id for o in new)


# --- what the ledger and the tiers hold --------------------------------------------------------


def _snapshot(db) -> dict:
    db.flush()
    key = {
        jid: k or f"id:{jid}"
        for jid, k in db.execute(select(LoyaltyJournal.id, LoyaltyJournal.idem_key))
    }
    acc = {
        aid: (sk or f"w{cid}")
        for aid, sk, cid in db.execute(
            select(LoyaltyAccount.id, LoyaltyAccount.system_key, LoyaltyAccount.customer_id)
        )
    }
    J, L, A, P, U = (
        LoyaltyJournal.__table__,
        LoyaltyLot.__table__,
        LoyaltyAllocation.__table__,
        LoyaltyPosting.__table__,
        LoyaltyRuleUse.__table__,
    )
    journals = {
        key[r.id]: (r.kind, r.customer_id, r.source_type, r.source_id, r.reason, r.actor_id)
        for r in db.execute(select(J))
    }
    lots = sorted(
        (
            key[r.journal_id],
            acc[r.account_id],
            r.points,
            r.remaining,
            r.clawed,
            r.expired,
            r.qualifying,
            r.source_type,
            r.source_id,
            r.earned_at,
            r.expires_at,
            r.available_at,
            r.basis,
        )  # fmt: skip
        for r in db.execute(select(L))
    )
    lot_key = {r.id: key[r.journal_id] for r in db.execute(select(L.c.id, L.c.journal_id))}
    allocations = sorted(
        (key[r.journal_id], lot_key[r.lot_id], r.points) for r in db.execute(select(A))
    )
    postings = sorted(
        (key[r.journal_id], acc[r.account_id], r.amount) for r in db.execute(select(P))
    )
    uses = sorted(
        (r.rule_id, r.customer_id, key[r.journal_id], r.points, r.at) for r in db.execute(select(U))
    )
    wallets = {
        (sk or f"w{cid}"): (bal, debt, tier, grace is not None, last is not None)
        for sk, cid, bal, debt, tier, grace, last in db.execute(
            select(
                LoyaltyAccount.system_key,
                LoyaltyAccount.customer_id,
                LoyaltyAccount.balance,
                LoyaltyAccount.debt,
                LoyaltyAccount.tier_id,
                LoyaltyAccount.grace_until,
                LoyaltyAccount.last_activity_at,
            )
        )
    }
    changes: dict[int, list] = {}
    for r in db.execute(select(LoyaltyTierChange.__table__).order_by(LoyaltyTierChange.id)):
        changes.setdefault(r.customer_id, []).append(
            (r.from_tier_id, r.to_tier_id, r.reason, r.qualifying, r.actor_id)
        )
    touches: dict[int, list] = {}
    for cid, note, outcome in db.execute(
        select(Touchpoint.customer_id, Touchpoint.note, Touchpoint.outcome).order_by(Touchpoint.id)
    ):
        touches.setdefault(cid, []).append((note, outcome))
    mails: dict[int, list] = {}
    for rid, kind, subject in db.execute(
        select(OutboxMessage.related_id, OutboxMessage.kind, OutboxMessage.subject).order_by(
            OutboxMessage.id
        )
    ):
        mails.setdefault(rid, []).append((kind, subject))
    return {
        "journals": journals,
        "lots": lots,
        "allocations": allocations,
        "postings": postings,
        "uses": uses,
        "wallets": wallets,
        "changes": changes,
        "touches": touches,
        "mails": mails,
    }


def _reference(db, ids: list[int]) -> tuple[dict, int]:
    """The ledger after the per-order path, then rolled back."""
    sp = db.begin_nested()
    n_ref = earning.earn_one_by_one(db, ids, actor_id=None)
    ref = _snapshot(db)
    sp.rollback()
    ledger.forget(db)
    db.expire_all()
    return ref, n_ref


def _assert_same(ref: dict, got: dict) -> None:
    for part in ref:
        assert got[part] == ref[part], part


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "n_orders"),
    [
        ({}, 240),
        # Half the orders: the spend basis and the pending points take the same branches.
        ({"tier_basis": "spend", "tier_window_days": 200}, 120),
        ({"auto_enrol": False, "pending_days": 14}, 120),
    ],
    ids=["points", "spend", "no-auto-enrol"],
)
def test_batched_earning_equals_one_by_one(db, users, monkeypatch, settings, n_orders):
    """In many batches (members across them) and in one batch (members lowered mid-batch
    split it into rounds), the set-based path writes what the per-order one writes: both
    compared with one run of the per-order path, the slow part."""
    ids = _world(db, users, n_orders=n_orders, **settings)
    ref, n_ref = _reference(db, ids)
    assert ref["changes"], "the scenario should change tiers"
    assert any(a for a in ref["allocations"]), "the scenario should pay off debt"
    rounds: list[int] = []
    real_round = earning_bulk._round
    monkeypatch.setattr(
        earning_bulk, "_round", lambda ctx, *a: rounds.append(len(a[0])) or real_round(ctx, *a)
    )
    for batch in (37, 10_000):
        monkeypatch.setattr(earning_bulk, "BATCH", batch)
        rounds.clear()
        sp = db.begin_nested()
        n = earning_bulk.earn_for_imported(db, ids, actor_id=None)
        _assert_same(ref, _snapshot(db))
        assert n == n_ref
        assert check_ledger(db).ok
        sp.rollback()
        ledger.forget(db)
        db.expire_all()
    if not settings:  # members lowered mid-batch: their later orders wait for the next round
        assert len(rounds) > 1, "one batch, many rounds"


def test_rerun_posts_nothing(db, users):
    ids = _world(db, users, seed=3, n_orders=120)
    first = earning_bulk.earn_for_imported(db, ids, actor_id=None)
    before = _snapshot(db)
    again = earning_bulk.earn_for_imported(db, ids, actor_id=None)
    assert again == first
    _assert_same(before, _snapshot(db))
    # The per-order path finds the same keys: nothing either.
    assert earning.earn_one_by_one(db, ids, actor_id=None) == first
    _assert_same(before, _snapshot(db))
    assert check_ledger(db).ok


def test_inactive_programme_and_cancelled_orders_earn_nothing(db, users):
    ids = _world(db, users, seed=5, n_orders=40)
    ledger.programme(db).active = False
    db.flush()
    before = _snapshot(db)
    assert earning_bulk.earn_for_imported(db, ids, actor_id=None) == 0
    _assert_same(before, _snapshot(db))
    ledger.programme(db).active = True
    db.flush()
    earning_bulk.earn_for_imported(db, ids, actor_id=None)
    cancelled = [o.id for o in db.scalars(select(Order).where(Order.status == "cancelled"))]
    assert cancelled
    assert not db.scalars(
        select(LoyaltyJournal).where(
            LoyaltyJournal.idem_key.in_([f"order:{i}:earn" for i in cancelled])
        )
    ).all()


def test_file_import_earns_like_one_by_one(db, users, monkeypatch):
    from retento.dataio.service import import_file

    setup = _programme(db)
    tea, cups = setup["products"][:2]
    tea.external_id, cups.external_id = "P-TEA", "P-CUP"
    for i in range(6):
        make_customer(db, external_id=f"C-{i}")
    db.commit()
    day = (utcnow() - timedelta(days=3)).date()
    rows = ["order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
            "unit_price,status"]  # fmt: skip
    for k in range(60):
        d = (day - timedelta(days=k * 3)).isoformat()
        status = "cancelled" if k % 17 == 5 else "completed"
        rows.append(f"O-{k},C-{k % 6},{d},P-TEA,{1 + k % 3},12.50,{status}")
        rows.append(f"O-{k},C-{k % 6},{d},P-CUP,{1 + k % 2},7.30,{status}")
    data = ("\n".join(rows) + "\n").encode()
    sp = db.begin_nested()
    monkeypatch.setattr(earning_bulk, "earn_for_imported", earning.earn_one_by_one)
    import_file(db, "orders", data, actor=users["admin"])
    monkeypatch.undo()
    ref, ref_wallets = _by_reason(db), _snapshot(db)["wallets"]
    sp.rollback()
    ledger.forget(db)
    db.expire_all()
    report = import_file(db, "orders", data, actor=users["admin"])
    assert report.created == 60
    # Order ids differ between the two runs (sequences are not rolled back): compare by the
    # journals' reasons, which name the orders' external ids.
    got = _by_reason(db)
    assert got == ref and len(got) == 56
    assert _snapshot(db)["wallets"] == ref_wallets
    assert check_ledger(db).ok
    # Re-importing the same file earns nothing more.
    import_file(db, "orders", data, actor=users["admin"])
    assert _by_reason(db) == got


def _by_reason(db) -> dict:
    J, L = LoyaltyJournal.__table__, LoyaltyLot.__table__
    return {
        r.reason: (r.kind, r.customer_id, r.points, r.remaining, r.earned_at, r.expires_at, r.basis)
        for r in db.execute(
            select(
                J.c.reason,
                J.c.kind,
                J.c.customer_id,
                L.c.points,
                L.c.remaining,
                L.c.earned_at,
                L.c.expires_at,
                L.c.basis,
            )
            .join(L, L.c.journal_id == J.c.id)
            .where(J.c.kind == "earn")
        )
    }


# --- PostgreSQL races --------------------------------------------------------------------------


def _live_world(live_pg, n_orders: int = 60):
    with live_pg.session() as s:
        make_programme(s)
        make_tiers(s, ("silver", 200, "1.5"))
        agent = make_user(s, role="manager")
        p = make_product(s, unit_price=Decimal("10.00"))
        a, b = make_customer(s), make_customer(s)
        service.adjust(s, a.id, 100, actor=agent, reason="opening")
        rnd = random.Random(1)
        ids = []
        for k in range(n_orders):
            o = _order(s, a if k % 2 else b, rnd, [p], utcnow() - timedelta(days=k))
            s.flush()
            ids.append(o.id)
        s.commit()
        return a.id, b.id, agent.id, sorted(ids)


# Why the race below is built as it is. Every balance and lot moves by an atomic ``x = x + n``
# and a lot's ``remaining`` has a CHECK (0..points), so one earning run racing redemptions that
# all fit in the first lot passed with both wallet locks removed: nothing a redemption writes
# (lots, balance) is read by the earning run, and the redemptions never ran short. What the
# locks guard is a read followed by a write: the earning run reads the keys already used (and the
# debt, the tier) before it posts; a redemption reads the lots (due ones to expire, open ones to
# spend) before it takes them. So here the same orders are earned twice at once (an import and
# its retry), the redemptions ask for more than the opening points, one lot is due, and each
# group meets inside that window (``_meet``): without the lock they all read before any of them
# writes (a key posted twice, a lot spent or expired twice); with it only one is ever inside,
# which waits ``MEET_WAIT`` for the others and goes on alone.
MEET_WAIT = 1.0


def _meet(parties: int, real):
    """``real``, then wait for ``parties`` callers to be there together (or ``MEET_WAIT``)."""
    meet = threading.Barrier(parties, timeout=MEET_WAIT)

    def inside(*args, **kwargs):
        out = real(*args, **kwargs)
        try:
            meet.wait()
        except threading.BrokenBarrierError:
            pass  # the others wait for the lock this caller holds: go on alone
        return out

    return inside


def test_import_earning_and_redemptions_race(live_pg, monkeypatch):
    cid, _other, uid, ids = _live_world(live_pg)
    with live_pg.session() as s:
        from retento.auth.models import User

        # Points the nightly expiry has not reached yet: the first redemption expires them.
        service.adjust(
            s,
            cid,
            30,
            actor=s.get(User, uid),
            reason="old",
            expires_at=utcnow() - timedelta(days=1),
        )
        s.commit()
    # Two earning runs over the same orders, five redemptions of 30 (100 spendable points at
    # first): four keys, the first sent twice (a client's retry).
    earners, keys = 2, ["r0", "r1", "r2", "r3", "r0"]
    monkeypatch.setattr(earning_bulk, "_done_keys", _meet(earners, earning_bulk._done_keys))
    monkeypatch.setattr(ledger, "split_lots", _meet(len(keys), ledger.split_lots))

    def work(i: int):
        with live_pg.session() as s:
            if i < earners:
                n = earning_bulk.earn_for_imported(s, ids, actor_id=None)
                s.commit()
                return n
            from retento.auth.models import User

            red = service.redeem(
                s, cid, points=30, actor=s.get(User, uid), idempotency_key=keys[i - earners]
            )
            out = (red.journal_id, red.points)
            s.commit()
            return out

    results = run_parallel(earners + len(keys), work)
    earned_runs, redeemed = results[:earners], results[earners:]
    # Earning: no run fails, both report every order earned (by itself or by the other).
    assert all(isinstance(n, int) for n in earned_runs), earned_runs
    # A redemption is applied in full or refused for want of points, nothing else.
    for r in redeemed:
        assert isinstance(r, tuple) or (isinstance(r, Conflict) and r.field == "points"), redeemed
    # The retry: the same redemption when both went through (one of them replayed).
    first, retry = redeemed[0], redeemed[4]
    assert not (isinstance(first, tuple) and isinstance(retry, tuple)) or first == retry
    with live_pg.session() as s:
        assert check_ledger(s).ok, check_ledger(s).problems
        w = ledger.get_wallet(s, cid)
        J, P = LoyaltyJournal, LoyaltyPosting
        earns = s.scalars(select(J.idem_key).where(J.kind == "earn")).all()
        assert len(earns) == len(set(earns)) == earned_runs[0] == earned_runs[1] > 0
        earned = sum(
            lot.points
            for lot in s.scalars(
                select(LoyaltyLot).where(
                    LoyaltyLot.account_id == w.id, LoyaltyLot.source_type == "order"
                )
            )
        )
        # Each key redeemed once, for 30 points off the wallet; every other attempt refused.
        moves = s.execute(
            select(J.kind, J.idem_key, P.amount)
            .join(P, P.journal_id == J.id)
            .where(P.account_id == w.id, J.kind.in_(("redeem", "expire")))
        ).all()
        spent = {k: n for kind, k, n in moves if kind == "redeem"}
        assert len(spent) == len([m for m in moves if m[0] == "redeem"])
        assert set(spent.values()) <= {-30}
        assert {k.rsplit(":", 1)[1] for k in spent} == {
            keys[i] for i, r in enumerate(redeemed) if isinstance(r, tuple)
        }
        got = {r[0] for r in redeemed if isinstance(r, tuple)}
        assert got == set(s.scalars(select(LoyaltyRedemption.journal_id)))
        # The opening points pay for three whatever the order; the earned points may pay more.
        assert len(spent) >= 3
        # The due lot expired once.
        assert [n for kind, _k, n in moves if kind == "expire"] == [-30]
        total = s.scalar(select(func.sum(P.amount)).where(P.account_id == w.id))
        assert w.balance == total == 130 + earned - 30 - 30 * len(spent) >= 0
        assert w.debt == 0


def test_two_runs_at_once_earn_once(live_pg):
    _a, _b, _uid, ids = _live_world(live_pg)

    def work(i: int):
        with live_pg.session() as s:
            n = earning_bulk.earn_for_imported(s, ids, actor_id=None)
            s.commit()
            return n

    results = run_parallel(3, work)
    assert not [r for r in results if isinstance(r, BaseException)], results
    with live_pg.session() as s:
        assert check_ledger(s).ok
        keys = s.scalars(select(LoyaltyJournal.idem_key).where(LoyaltyJournal.kind == "earn")).all()
        assert len(keys) == len(set(keys))
        # Every run reports every earning order (earned by itself or by the run before it).
        assert 0 < len(keys) <= len(ids) and results == [len(keys)] * 3


# --- tier changes in bulk: upgrades and downgrades in one batch ---------------------------------


def _climbers(db, users) -> list[int]:
    """One batch in which members climb several tiers (their multiplier changing between their
    orders), one is lowered at its first earning and climbs back, one in an invite-only tier stays;
    orders interleaved across members; returns the new orders' ids."""
    rnd = random.Random(23)
    setup = _programme(db)
    (tea, cups, big, _odd), (silver, gold, _plat, vip) = setup["products"], setup["tiers"]
    manager = users["manager"]
    climbers = [
        make_customer(db, email=f"up{i}@example.com", consent_email=i % 2 == 0) for i in range(4)
    ]
    fallen = make_customer(db, email="down@example.com", consent_email=True)
    invited = make_customer(db)
    for c in climbers[:2]:
        ledger.wallet(db, c.id)  # members already; the others are enrolled by their first order
    tiers.set_tier(db, climbers[1].id, silver.id, actor_id=manager.id)
    tiers.set_tier(db, fallen.id, gold.id, actor_id=manager.id)  # gold: no grace, lowered at once
    tiers.set_tier(db, invited.id, vip.id, actor_id=manager.id)
    day = utcnow() - timedelta(days=2)
    new = []
    for k in range(8):
        for c in [*climbers, fallen, invited]:
            basket = [(big, 1 + k % 3), (tea, 2)] if k else [(tea, 1)]
            at = day - timedelta(hours=rnd.randint(0, 300))
            new.append(_order(db, c, rnd, [tea, cups, big], at, lines=basket))
    db.flush()
    return sorted(o.id for o in new)


def _alerts(db) -> list[tuple]:
    from retento.retention.models import RetentionAlert

    return sorted(
        (a.customer_id, a.rule, a.reason_code, sorted(a.reason_params.items()), a.status)
        for a in db.scalars(select(RetentionAlert))
    )


def test_upgrades_and_downgrades_in_one_batch_equal_one_by_one(db, users, monkeypatch):
    import retento.retention  # noqa: F401 - subscribes to loyalty.tier_changed (downgrades)

    ids = _climbers(db, users)
    monkeypatch.setattr(earning_bulk, "BATCH", 10_000)
    sp = db.begin_nested()
    earning.earn_one_by_one(db, ids, actor_id=None)
    ref, ref_alerts = _snapshot(db), _alerts(db)
    sp.rollback()
    ledger.forget(db)
    db.expire_all()
    bulk_calls = []
    real = tiers.change_tiers
    monkeypatch.setattr(
        tiers,
        "change_tiers",
        lambda s, m, *a, **k: bulk_calls.append(len(m)) or real(s, m, *a, **k),
    )
    earning_bulk.earn_for_imported(db, ids, actor_id=None)
    got = _snapshot(db)
    _assert_same(ref, got)
    assert _alerts(db) == ref_alerts
    reasons = [ch[2] for cs in ref["changes"].values() for ch in cs]
    assert reasons.count("downgrade") == 1 and reasons.count("upgrade") >= 8
    # The member lowered at its first earning climbs back in the same batch; the climbers pass
    # through several tiers (upgrades written by change_tiers, not one change_tier each).
    fallen = next(c for c, cs in ref["changes"].items() if any(ch[2] == "downgrade" for ch in cs))
    fallen_reasons = [ch[2] for ch in ref["changes"][fallen]]
    assert fallen_reasons[fallen_reasons.index("downgrade") + 1 :][:1] == ["upgrade"]
    assert max(len(cs) for cs in ref["changes"].values()) >= 3
    assert sum(bulk_calls) == reasons.count("upgrade")
    assert [a for a in ref_alerts if a[1] == "tier_downgrade" and a[0] == fallen]
    assert any(mails for mails in ref["mails"].values())
    assert check_ledger(db).ok


def test_change_tiers_writes_what_change_tier_writes(db, users):
    """The bulk tier change and the one-by-one one give the same history, wallets, touchpoints
    and notices (a member moving twice, into no tier, with and without e-mail consent)."""
    _programme(db)
    silver, gold = db.scalars(select(LoyaltyTier).order_by(LoyaltyTier.rank)).all()[:2]
    cs = [make_customer(db, email=f"t{i}@example.com", consent_email=i != 1) for i in range(3)]
    for c in cs:
        ledger.wallet(db, c.id)
    db.flush()
    now = utcnow()
    steps = [(cs[0], silver, "upgrade"), (cs[1], gold, "upgrade"), (cs[0], gold, "upgrade"),
             (cs[2], silver, "upgrade"), (cs[2], None, "downgrade")]  # fmt: skip

    sp = db.begin_nested()
    for c, t, reason in steps:
        tiers.change_tier(db, ledger.wallet(db, c.id), t, reason, 7, now, actor_id=None)
    ref = _snapshot(db)
    sp.rollback()
    db.expire_all()
    moves, cur = [], {}
    for c, t, reason in steps:
        w = ledger.wallet(db, c.id)
        moves.append(tiers.TierMove(w.id, c.id, cur.get(c.id), t, reason, 7))
        cur[c.id] = t.id if t is not None else None
    changes = tiers.change_tiers(db, moves, now, actor_id=None)
    got = _snapshot(db)
    _assert_same(ref, got)
    assert [ch.id is not None for ch in changes] == [True] * len(steps)
    w = ledger.wallet(db, cs[0].id)
    assert w.tier_id == gold.id and w.tier_since is not None and w.grace_until is None
