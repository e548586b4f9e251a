"""The expiry job in committed batches on parallel connections (PostgreSQL), a run stopped
half-way, and the storage settings of migration 0021 that make its updates HOT."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from retento.core.db import utcnow
from retento.core.migrate import downgrade, upgrade
from retento.loyalty import ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.expiry import run_expiry
from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal, LoyaltyLot, LoyaltyPosting
from tests.factories import make_customer, make_user
from tests.factories.loyalty import make_programme


def _members(s, n: int, due: int = 50, fresh: int = 20) -> list[int]:
    make_programme(s)
    agent = make_user(s, role="manager")
    old = utcnow() - timedelta(days=400)
    cids = []
    for _ in range(n):
        c = make_customer(s)
        service.adjust(s, c.id, due, actor=agent, reason="due", expires_at=old)
        service.adjust(s, c.id, fresh, actor=agent, reason="fresh")
        cids.append(c.id)
    return cids


def _expire_journals(s) -> list[LoyaltyJournal]:
    return list(s.scalars(select(LoyaltyJournal).where(LoyaltyJournal.kind == "expire")))


def test_parallel_connections_expire_every_wallet_once_in_balanced_batches(live_pg):
    with live_pg.session() as s:
        cids = _members(s, 30)
        s.commit()
    with live_pg.session() as s:
        # Batches of 4 wallet ids on 2 connections: about 8 transactions, each its own journal.
        assert run_expiry(s, batch=4, workers=2) == 30 * 50
    with live_pg.session() as s:
        journals = _expire_journals(s)
        assert len(journals) >= 8
        breakage = {ledger.system_account_id(s, "breakage", k) for k in (0, 1)}
        wallets: list[int] = []
        for j in journals:
            amounts = {p.account_id: p.amount for p in j.postings}
            assert sum(amounts.values()) == 0
            (shard,) = [a for a, n in amounts.items() if n > 0]
            assert shard in breakage  # each connection posts to its own breakage shard
            wallets += [a for a, n in amounts.items() if n < 0]
        assert len(wallets) == len(set(wallets)) == 30  # every wallet in exactly one batch
        for cid in cids:
            assert ledger.get_wallet(s, cid).balance == 20
        assert int(s.scalar(select(func.sum(LoyaltyLot.expired)))) == 30 * 50
        rep = check_ledger(s)
        assert rep.ok, rep.problems
        assert run_expiry(s, batch=4, workers=2) == 0
        assert len(_expire_journals(s)) == len(journals)  # an empty run writes no journal


def test_a_run_stopped_half_way_leaves_whole_batches_and_the_next_run_finishes(live_pg):
    """A lot tampered so that expiring it breaks its CHECK constraint stops the run: the error
    reaches the caller; the batches committed before are whole (each journal sums to zero, every
    other wallet matches its postings); once the lot is repaired, the next run expires the rest."""
    with live_pg.session() as s:
        cids = _members(s, 24)
        bad_wallet = ledger.get_wallet(s, cids[12]).id
        bad_lot = s.scalar(
            select(LoyaltyLot.id).where(
                LoyaltyLot.account_id == bad_wallet, LoyaltyLot.points == 50
            )
        )
        s.execute(text("UPDATE loyalty_lots SET expired = 10 WHERE id = :l"), {"l": bad_lot})
        s.commit()
    with live_pg.session() as s:
        with pytest.raises(IntegrityError, match="expired_in_range"):
            run_expiry(s, batch=3, workers=2)
    with live_pg.session() as s:
        journals = _expire_journals(s)
        assert journals, "the batches before the broken one were committed"
        for j in journals:
            assert sum(p.amount for p in j.postings) == 0
        rep = check_ledger(s)
        # Only the tampered lot (and so its wallet) is out of line; every committed batch adds up.
        assert rep.problems
        assert all(str(bad_lot) in p or str(bad_wallet) in p for p in rep.problems), rep.problems
        s.execute(text("UPDATE loyalty_lots SET expired = 0 WHERE id = :l"), {"l": bad_lot})
        s.commit()
    with live_pg.session() as s:
        done = int(s.scalar(select(func.coalesce(func.sum(LoyaltyLot.expired), 0))))
        assert run_expiry(s, batch=3, workers=2) == 24 * 50 - done
        rep = check_ledger(s)
        assert rep.ok, rep.problems
        posted = -int(
            s.scalar(
                select(func.sum(LoyaltyPosting.amount))
                .join(LoyaltyAccount, LoyaltyAccount.id == LoyaltyPosting.account_id)
                .join(LoyaltyJournal, LoyaltyJournal.id == LoyaltyPosting.journal_id)
                .where(LoyaltyAccount.kind == "wallet", LoyaltyJournal.kind == "expire")
            )
        )
        assert posted == 24 * 50


def _lot_indexes(eng) -> dict[str, tuple]:
    return {
        ix["name"]: (
            tuple(ix["column_names"]),
            (ix.get("dialect_options") or {}).get("postgresql_where")
            or (ix.get("dialect_options") or {}).get("sqlite_where"),
        )
        for ix in inspect(eng).get_indexes("loyalty_lots")
    }


def _fillfactor(eng, table: str) -> str | None:
    if eng.dialect.name != "postgresql":
        return None
    with eng.connect() as conn:
        opts = conn.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = :t"), {"t": table}
        ).scalar()
    return next((o for o in opts or [] if o.startswith("fillfactor")), None)


def test_migration_0021_makes_lot_and_wallet_updates_hot_and_goes_back(backend, scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0021")
    eng = create_engine(url)
    ix = _lot_indexes(eng)
    assert ix["ix_loyalty_lots_due"] == (("expires_at",), None)  # no predicate on remaining
    assert "ix_loyalty_lots_source" not in ix
    # No lot index covers a column that spending or expiring a lot changes.
    changed = {"remaining", "expired", "expired_journal_id", "clawed"}
    assert not changed & {c for cols, _ in ix.values() for c in cols}
    if backend == "postgres":
        assert _fillfactor(eng, "loyalty_lots") == "fillfactor=50"
        assert _fillfactor(eng, "loyalty_accounts") == "fillfactor=50"
    eng.dispose()
    downgrade(url, "0020")
    eng = create_engine(url)
    ix = _lot_indexes(eng)
    assert ix["ix_loyalty_lots_source"][0] == ("source_type", "source_id")
    assert "remaining > 0" in str(ix["ix_loyalty_lots_due"][1])
    assert _fillfactor(eng, "loyalty_accounts") is None
    eng.dispose()
    upgrade(url, "0021")


def _update_stats(live_pg) -> dict[str, tuple[int, int]]:
    """(updates, HOT updates) per table, once every backend of the test has exited (a backend
    flushes its statistics when it exits) and the numbers stand still."""
    live_pg.engine.dispose()
    last = None
    for _ in range(50):
        with live_pg.engine.connect() as conn:
            now = {
                r[0]: (int(r[1]), int(r[2]))
                for r in conn.execute(
                    text(
                        "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                        "WHERE relname IN ('loyalty_lots', 'loyalty_accounts')"
                    )
                )
            }
        live_pg.engine.dispose()
        if now == last:
            return now
        last = now
        time.sleep(0.2)
    return last


def test_the_job_updates_lots_and_wallets_hot_on_postgresql(live_pg):
    """After migration 0021 every lot and wallet version the job writes is a HOT update (no
    index entry), though every row of their pages changes in the same batch."""
    with live_pg.session() as s:
        _members(s, 12)
        s.commit()
    before = _update_stats(live_pg)
    with live_pg.session() as s:
        assert run_expiry(s, batch=100, workers=1) == 12 * 50
    after = _update_stats(live_pg)
    delta = {t: (after[t][0] - before[t][0], after[t][1] - before[t][1]) for t in after}
    assert delta["loyalty_lots"] == (12, 12)
    assert delta["loyalty_accounts"] == (13, 13)  # 12 wallets and one breakage shard


def test_inside_a_callers_savepoint_the_batches_stay_in_the_callers_transaction(db, users):
    make_programme(db)
    old = utcnow() - timedelta(days=400)
    cids = []
    for _ in range(3):
        c = make_customer(db)
        service.adjust(db, c.id, 40, actor=users["admin"], reason="due", expires_at=old)
        cids.append(c.id)
    db.flush()
    nested = db.begin_nested()
    assert run_expiry(db, batch=1) == 120
    assert check_ledger(db).ok
    nested.rollback()  # the caller's savepoint is still open: the whole run rolls back
    db.expire_all()
    assert [ledger.get_wallet(db, cid).balance for cid in cids] == [40, 40, 40]
    assert not _expire_journals(db)
    assert run_expiry(db) == 120
    assert check_ledger(db).ok
