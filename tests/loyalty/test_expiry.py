"""Expiry recorded on the lot: ``expired`` and ``expired_journal_id`` instead of allocation
rows; ``loyalty check`` verifies them; migration 0013 moves old expiry allocations onto the
lots; the job keeps every invariant while members redeem at the same time (PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory, transaction, utcnow
from retento.core.migrate import downgrade, upgrade
from retento.loyalty import ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.expiry import run_expiry
from retento.loyalty.models import (
    LoyaltyAccount,
    LoyaltyAllocation,
    LoyaltyJournal,
    LoyaltyLot,
)
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.loyalty.programme_world import programme_world, world_programme  # noqa: F401
from tests.shared_world import session_factory_fixture, users_fixture  # noqa: F401

runner = CliRunner()


def _lots(db, customer_id: int) -> list[LoyaltyLot]:
    w = ledger.get_wallet(db, customer_id)
    return list(
        db.scalars(select(LoyaltyLot).where(LoyaltyLot.account_id == w.id).order_by(LoyaltyLot.id))
    )


def _allocated(db, lot_id: int) -> int:
    return int(
        db.scalar(
            select(func.coalesce(func.sum(LoyaltyAllocation.points), 0)).where(
                LoyaltyAllocation.lot_id == lot_id
            )
        )
    )


def _expire_allocations(db) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(LoyaltyAllocation)
            .join(LoyaltyJournal, LoyaltyJournal.id == LoyaltyAllocation.journal_id)
            .where(LoyaltyJournal.kind == "expire")
        )
    )


def test_expiry_is_recorded_on_the_lot_not_as_allocations(db, users):
    old = utcnow() - timedelta(days=400)
    c = make_customer(db)
    service.adjust(db, c.id, 100, actor=users["admin"], reason="due", expires_at=old)
    service.adjust(db, c.id, 40, actor=users["admin"], reason="fresh")
    service.redeem(db, c.id, points=30, actor=users["agent"], now=old - timedelta(days=1))
    breakage = db.get(LoyaltyAccount, ledger.system_account_id(db, "breakage", 0)).balance
    assert run_expiry(db) == 70
    db.expire_all()
    due, fresh = _lots(db, c.id)
    assert (due.remaining, due.expired, _allocated(db, due.id)) == (0, 70, 30)
    assert due.points == due.remaining + _allocated(db, due.id) + due.expired
    j = db.get(LoyaltyJournal, due.expired_journal_id)
    assert j.kind == "expire"
    assert sorted(p.amount for p in j.postings) == [-70, 70]
    assert (fresh.remaining, fresh.expired, fresh.expired_journal_id) == (40, 0, None)
    assert _expire_allocations(db) == 0
    assert db.get(LoyaltyAccount, ledger.system_account_id(db, "breakage", 0)).balance == (
        breakage + 70
    )
    assert ledger.get_wallet(db, c.id).balance == 40
    assert run_expiry(db) == 0
    assert (
        db.scalar(
            select(func.count()).select_from(LoyaltyJournal).where(LoyaltyJournal.kind == "expire")
        )
        == 1
    )  # the empty second run left no journal behind
    assert check_ledger(db).ok


def test_expiry_is_not_member_activity(db, users):
    # An expiry means the member did nothing: it must not make them count as active.
    old = utcnow() - timedelta(days=400)
    c = make_customer(db)
    service.adjust(db, c.id, 50, actor=users["admin"], reason="due", expires_at=old)
    w = ledger.get_wallet(db, c.id)
    w.last_activity_at = old
    db.flush()
    assert run_expiry(db) == 50
    db.expire_all()
    assert ledger.get_wallet(db, c.id).last_activity_at == old


def test_the_members_history_shows_the_nightly_expiry(db, users):
    # The run's journal belongs to nobody in particular; the member still sees its effect.
    old = utcnow() - timedelta(days=400)
    a, b = make_customer(db), make_customer(db)
    for c in (a, b):
        service.adjust(db, c.id, 30, actor=users["admin"], reason="due", expires_at=old)
    assert run_expiry(db) == 60
    rows = service.history(db, a.id, actor=users["agent"])
    assert [(j.kind, n) for j, n in rows][0] == ("expire", -30)
    assert len(rows) == 2  # the adjustment and the expiry, nothing of the other member


def test_each_batch_commits_its_own_journal_that_sums_to_zero(db, users):
    old = utcnow() - timedelta(days=400)
    members = [make_customer(db) for _ in range(5)]
    for i, c in enumerate(members):
        service.adjust(db, c.id, 10 + i, actor=users["admin"], reason="due", expires_at=old)
        service.adjust(db, c.id, 3, actor=users["admin"], reason="due 2", expires_at=old)
    assert run_expiry(db, batch=2) == sum(13 + i for i in range(5))
    journals = list(db.scalars(select(LoyaltyJournal).where(LoyaltyJournal.kind == "expire")))
    # Batches of two wallets (SQLite) or of two wallet ids (PostgreSQL): at least 3 journals.
    assert len(journals) >= 3
    wallet_amounts = []
    for j in journals:
        amounts = [p.amount for p in j.postings]
        assert sum(amounts) == 0
        assert len([a for a in amounts if a > 0]) == 1  # one breakage posting per batch
        wallet_amounts += [a for a in amounts if a < 0]
    assert sorted(wallet_amounts) == [-17, -16, -15, -14, -13]
    for c in members:
        lots = _lots(db, c.id)
        assert len({lot.expired_journal_id for lot in lots}) == 1  # a wallet's lots: one batch
        assert all(lot.remaining == 0 for lot in lots)
    assert run_expiry(db, batch=2) == 0
    assert check_ledger(db).ok


def test_a_lot_given_back_after_its_expiry_expires_again_and_adds_up(db, users):
    """A reversed redemption gives points back to a lot that already expired: the next run
    expires them too; ``expired`` adds up and points the last expiry journal."""
    now = utcnow()
    c = make_customer(db)
    service.adjust(
        db, c.id, 100, actor=users["admin"], reason="soon", expires_at=now + timedelta(days=5)
    )
    red = service.redeem(db, c.id, points=30, actor=users["agent"])
    later = now + timedelta(days=10)
    assert run_expiry(db, later) == 70
    (lot,) = _lots(db, c.id)
    first = lot.expired_journal_id
    service.reverse(db, red.journal_id, actor=users["admin"], reason="returned")
    db.expire_all()
    (lot,) = _lots(db, c.id)
    assert (lot.remaining, lot.expired) == (30, 70)
    assert check_ledger(db).ok
    assert run_expiry(db, later) == 30
    db.expire_all()
    (lot,) = _lots(db, c.id)
    assert (lot.remaining, lot.expired, _allocated(db, lot.id)) == (0, 100, 0)
    assert lot.expired_journal_id not in (None, first)
    assert ledger.get_wallet(db, c.id).balance == 0
    assert check_ledger(db).ok


def test_a_redemption_expires_the_due_lots_on_the_lot_too(db, users):
    """``expire_wallet_now`` (run by redeem, adjust and holds) records expiry like the job."""
    c = make_customer(db)
    service.adjust(
        db, c.id, 50, actor=users["admin"], reason="due", expires_at=utcnow() - timedelta(days=1)
    )
    service.adjust(db, c.id, 20, actor=users["admin"], reason="fresh")
    service.redeem(db, c.id, points=10, actor=users["agent"])
    db.expire_all()
    due, fresh = _lots(db, c.id)
    assert (due.remaining, due.expired, _allocated(db, due.id)) == (0, 50, 0)
    j = db.get(LoyaltyJournal, due.expired_journal_id)
    assert (j.kind, j.customer_id) == ("expire", c.id)
    assert (fresh.remaining, fresh.expired) == (10, 0)
    assert _expire_allocations(db) == 0
    assert run_expiry(db) == 0
    assert check_ledger(db).ok


@pytest.mark.parametrize(
    "tamper, expect",
    [
        ("UPDATE loyalty_lots SET expired = expired - 5 WHERE id = :lot", "lot "),
        (
            "UPDATE loyalty_lots SET expired = expired - 5, remaining = remaining + 5 "
            "WHERE id = :lot",
            "expire journals took",
        ),
        ("UPDATE loyalty_lots SET expired_journal_id = :earn WHERE id = :lot", "not an expiry"),
        ("UPDATE loyalty_lots SET expired_journal_id = NULL WHERE id = :lot", "not an expiry"),
        (
            "UPDATE loyalty_lots SET expired = expired + 5, remaining = remaining - 5 "
            "WHERE id = :fresh",
            "expire journals took",
        ),
    ],
)
def test_check_catches_a_tampered_expiry_record(db, users, tamper, expect):
    c = make_customer(db)
    earn = service.adjust(
        db, c.id, 60, actor=users["admin"], reason="due", expires_at=utcnow() - timedelta(days=3)
    )
    service.adjust(db, c.id, 25, actor=users["admin"], reason="fresh")
    assert run_expiry(db) == 60
    assert check_ledger(db).ok
    due, fresh = _lots(db, c.id)
    db.execute(text(tamper), {"lot": due.id, "fresh": fresh.id, "earn": earn.id})
    db.expire_all()
    rep = check_ledger(db)
    assert not rep.ok
    assert any(expect in p for p in rep.problems), rep.problems


def test_cli_check_exits_1_on_a_tampered_expired_amount(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'expiry.db'}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            make_programme(s)
            admin = make_user(s, role="admin")
            c = make_customer(s)
            old = utcnow() - timedelta(days=2)
            service.adjust(s, c.id, 80, actor=admin, reason="due", expires_at=old)
            service.adjust(s, c.id, 20, actor=admin, reason="fresh")
        assert runner.invoke(app, ["loyalty", "expire"]).exit_code == 0
        ok = runner.invoke(app, ["loyalty", "check"])
        assert ok.exit_code == 0, ok.output
        assert "Ledger OK" in ok.output
        with engine.begin() as conn:
            conn.execute(text("UPDATE loyalty_lots SET expired = 79 WHERE expired = 80"))
        bad = runner.invoke(app, ["loyalty", "check"])
        assert bad.exit_code == 1
    finally:
        engine.dispose()
        get_settings.cache_clear()


# --- migration 0013 ---------------------------------------------------------------------------


def _old_ledger(conn) -> dict[str, int]:
    """A ledger in the 0012 layout: a lot spent 30 and expired 70 (allocations), a lot that
    expired twice (20, then 10), a lot never expired."""
    now = utcnow()

    def journal(kind: str) -> int:
        return conn.execute(
            text(
                "INSERT INTO loyalty_journals (kind, source_type, reason, created_at) "
                "VALUES (:k, 'system', :k, :at) RETURNING id"
            ),
            {"k": kind, "at": now},
        ).scalar_one()

    acc = conn.execute(
        text(
            "INSERT INTO loyalty_accounts (kind, shard, balance, debt, joined_at) "
            "VALUES ('wallet', 0, 0, 0, :at) RETURNING id"
        ),
        {"at": now},
    ).scalar_one()
    ids = {k: journal(k) for k in ("earn", "redeem", "expire", "expire2")}
    conn.execute(
        text("UPDATE loyalty_journals SET kind = 'expire' WHERE id = :j"), {"j": ids["expire2"]}
    )

    def lot(points: int, remaining: int) -> int:
        return conn.execute(
            text(
                "INSERT INTO loyalty_lots (account_id, journal_id, points, remaining, clawed, "
                "qualifying, source_type, earned_at, expires_at) VALUES (:a, :j, :p, :r, 0, "
                ":q, 'manual', :at, :at) RETURNING id"
            ),
            {"a": acc, "j": ids["earn"], "p": points, "r": remaining, "q": True, "at": now},
        ).scalar_one()

    ids["spent"], ids["twice"], ids["open"] = lot(100, 0), lot(50, 20), lot(40, 40)
    for j, lot_id, n in (
        ("redeem", "spent", 30),
        ("expire", "spent", 70),
        ("expire", "twice", 20),
        ("expire2", "twice", 10),
    ):
        conn.execute(
            text(
                "INSERT INTO loyalty_allocations (journal_id, lot_id, points) VALUES (:j, :l, :n)"
            ),
            {"j": ids[j], "l": ids[lot_id], "n": n},
        )
    return ids


def _lot_rows(conn) -> dict[int, tuple]:
    return {
        r[0]: tuple(r[1:])
        for r in conn.execute(
            text("SELECT id, remaining, expired, expired_journal_id FROM loyalty_lots")
        )
    }


def _allocation_rows(conn) -> list[tuple]:
    return sorted(
        tuple(r)
        for r in conn.execute(text("SELECT journal_id, lot_id, points FROM loyalty_allocations"))
    )


def test_migration_0013_moves_expiry_allocations_onto_the_lots(scratch_db_url):
    url = scratch_db_url
    upgrade(url, "0012")
    eng = create_engine(url)
    with eng.begin() as conn:
        ids = _old_ledger(conn)
        before = _allocation_rows(conn)
    upgrade(url, "0013")
    with eng.begin() as conn:
        lots = _lot_rows(conn)
        assert lots[ids["spent"]] == (0, 70, ids["expire"])
        assert lots[ids["twice"]] == (20, 30, ids["expire2"])
        assert lots[ids["open"]] == (40, 0, None)
        assert _allocation_rows(conn) == [(ids["redeem"], ids["spent"], 30)]
    downgrade(url, "0012")
    with eng.begin() as conn:
        after = _allocation_rows(conn)
    # Back to allocation rows (the lot that expired twice gets one row, on its last journal).
    assert after == sorted(
        [
            (ids["redeem"], ids["spent"], 30),
            (ids["expire"], ids["spent"], 70),
            (ids["expire2"], ids["twice"], 30),
        ]
    )
    assert sum(r[2] for r in after) == sum(r[2] for r in before)
    eng.dispose()


# --- PostgreSQL: expiry while members redeem --------------------------------------------------


def test_expiry_while_members_redeem_keeps_every_invariant(live_pg):
    """The job (batches of 4 wallets, one transaction) runs while 7 threads redeem from the
    same wallets: no deadlock, every redemption spends unexpired points or is refused, each
    due point expires exactly once (on its lot), and the ledger checks out."""
    from retento.auth.models import User
    from retento.core.errors import Conflict

    wallets = 28
    with live_pg.session() as s:
        make_programme(s)
        agent = make_user(s, role="manager")
        old = utcnow() - timedelta(days=400)
        cids = []
        for _ in range(wallets):
            c = make_customer(s)
            service.adjust(s, c.id, 50, actor=agent, reason="due", expires_at=old)
            service.adjust(s, c.id, 30, actor=agent, reason="fresh")
            cids.append(c.id)
        uid = agent.id
        breakage_before = int(
            s.scalar(
                select(func.coalesce(func.sum(LoyaltyAccount.balance), 0)).where(
                    LoyaltyAccount.kind == "breakage"
                )
            )
        )
        s.commit()

    def work(i: int):
        if i == 0:
            with live_pg.session() as s:
                n = run_expiry(s, batch=4)
                s.commit()
                return ("expiry", n)
        spent = 0
        # Each redeemer walks all wallets from its own starting point, 4 points at a time.
        for k in range(wallets):
            cid = cids[(i * 4 + k) % wallets]
            with live_pg.session() as s:
                try:
                    service.redeem(s, cid, points=4, actor=s.get(User, uid))
                    s.commit()
                    spent += 4
                except Conflict:
                    s.rollback()
        return ("redeem", spent)

    results = run_parallel(8, work, timeout=120)
    assert all(isinstance(r, tuple) for r in results), results
    spent = sum(n for kind, n in results if kind == "redeem")
    assert spent == 7 * wallets * 4  # 30 fresh points per wallet cover 7 x 4
    with live_pg.session() as s:
        balances = [ledger.get_wallet(s, c).balance for c in cids]
        assert sum(balances) == wallets * 30 - spent
        expired = int(s.scalar(select(func.sum(LoyaltyLot.expired))))
        assert expired == wallets * 50  # by the job or by the redeemers, each point once
        breakage = int(
            s.scalar(
                select(func.sum(LoyaltyAccount.balance)).where(LoyaltyAccount.kind == "breakage")
            )
        )
        assert breakage - breakage_before == expired
        assert _expire_allocations(s) == 0
        assert run_expiry(s) == 0
        rep = check_ledger(s)
        assert rep.ok, rep.problems
