"""A large import's points are earned after it by a worker (``loyalty.earning_jobs``): queued in
the import's transaction, earned in short transactions with the inline path's results, once, and
safe against refunds of the orders made before their batch runs (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from retento.cli import app
from retento.core.config import get_settings
from retento.core.db import make_engine, make_session_factory, transaction, utcnow
from retento.core.migrate import upgrade
from retento.dataio.models import ImportJob
from retento.dataio.service import import_file
from retento.loyalty import earning_bulk, earning_jobs, ledger
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyLot
from retento.orders.models import Order
from retento.orders.schemas import RefundCreate
from retento.orders.service import add_refund
from retento.work.models import WorkItem
from retento.work.queue import WorkRunner
from tests.dataio.wizard_support import run, walk_to_check
from tests.factories import make_customer, make_product, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme, make_tiers
from tests.web.conftest import Browser

runner = CliRunner()


def _file(n_orders: int, n_customers: int, *, start: int = 0) -> bytes:
    day = (utcnow() - timedelta(days=2)).date()
    rows = ["order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
            "unit_price,status"]  # fmt: skip
    for k in range(start, start + n_orders):
        d = (day - timedelta(days=k % 90)).isoformat()
        status = "cancelled" if k % 13 == 4 else "completed"
        rows.append(f"O-{k},C-{k % n_customers},{d},P-TEA,{1 + k % 3},12.50,{status}")
        rows.append(f"O-{k},C-{k % n_customers},{d},P-CUP,{1 + k % 2},7.30,{status}")
    return ("\n".join(rows) + "\n").encode()


def _setup(s, n_customers: int) -> None:
    make_programme(s, rate="0.5")
    make_tiers(s, ("silver", 60, "1.5"), ("gold", 240, "2"))
    make_product(s, unit_price=Decimal("12.50"), category="tea", external_id="P-TEA")
    make_product(s, unit_price=Decimal("7.30"), category="cups", external_id="P-CUP")
    for i in range(n_customers):
        make_customer(s, external_id=f"C-{i}")


def _earned(s) -> dict:
    """Earn journals by reason (it names the order's external id): customer, points, basis."""
    J, L = LoyaltyJournal.__table__, LoyaltyLot.__table__
    return {
        r.reason: (r.customer_id, r.points, r.remaining, r.basis, r.expires_at)
        for r in s.execute(
            select(
                J.c.reason, J.c.customer_id, L.c.points, L.c.remaining, L.c.basis, L.c.expires_at
            )  # fmt: skip
            .join(L, L.c.journal_id == J.c.id)
            .where(J.c.kind == "earn")
        )
    }


def test_ranges_round_trip():
    ids = [5, 6, 7, 9, 3, 4, 10, 11, 2**40, 2**40 + 1]
    assert earning_jobs.to_ranges(ids) == [[5, 7], [9, 9], [3, 4], [10, 11], [2**40, 2**40 + 1]]
    assert earning_jobs.from_ranges(earning_jobs.to_ranges(ids)) == ids
    assert earning_jobs.to_ranges(range(1, 400_001)) == [[1, 400_000]]
    assert earning_jobs.from_ranges([]) == []


def test_small_import_earns_inline_large_import_queues(db, users, monkeypatch):
    _setup(db, 7)
    small = import_file(db, "orders", _file(20, 7), actor=users["admin"])
    assert small.work_item_ids == []
    assert len(_earned(db)) == 20 - 2  # two cancelled orders earn nothing
    monkeypatch.setattr(earning_jobs, "INLINE_MAX", 10)
    big = import_file(db, "orders", _file(30, 7, start=20), actor=users["admin"])
    assert big.created == 30 and len(big.work_item_ids) == 1
    item = db.get(WorkItem, big.work_item_ids[0])
    assert (item.kind, item.status, item.payload["orders"]) == ("loyalty.earn_import", "queued", 30)
    new_ids = db.scalars(
        select(Order.id).where(Order.external_id.in_([f"O-{k}" for k in range(20, 50)]))
    ).all()
    assert sorted(earning_jobs.from_ranges(item.payload["ranges"])) == sorted(new_ids)
    assert len(_earned(db)) == 18, "nothing of the large import is earned inside it"
    # An inactive programme queues nothing.
    ledger.programme(db).active = False
    db.flush()
    off = import_file(db, "orders", _file(30, 7, start=50), actor=users["admin"])
    assert off.created == 30 and off.work_item_ids == []


@pytest.mark.parametrize(
    ("locale", "words", "done"),
    [("en", ("Work after the import", "Loyalty points for imported orders", "In the queue",
             "keep redeeming"), "Completed"),
     ("zh_CN", ("导入后的后台任务", "导入订单的积分", "排队中", "期间会员仍可照常兑换"), "已完成")],
)  # fmt: skip
def test_the_wizard_result_shows_the_queued_points(
    client, db, users, monkeypatch, locale, words, done
):
    _setup(db, 7)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    monkeypatch.setattr(earning_jobs, "INLINE_MAX", 10)
    job = walk_to_check(web, "orders", "orders.csv", _file(30, 7))
    page = run(web, job, "all")
    assert page.status_code == 200
    card = page.text.split('id="import-follow-ups"', 1)[1].split("</div>", 1)[0]
    for w in words:
        assert w in card, (w, card)
    assert 'hx-get="/imports/' in page.text.split('id="import-follow-ups"', 1)[1][:120]  # polls
    assert 'href="/admin/work"' not in card  # the Background work page is the admins'
    # Once the worker is done, the card says so and stops polling.
    item = db.get(WorkItem, db.get(ImportJob, job).report["work_item_ids"][0])
    item.status = "done"
    db.commit()
    part = web.get(f"/imports/{job}/follow-ups").text
    assert done in part and "hx-get" not in part and words[-1] not in part
    # A small import earns at once: no such card.
    job = walk_to_check(web, "orders", "small.csv", _file(5, 7, start=100))
    assert 'id="import-follow-ups"' not in run(web, job, "all").text


@contextmanager
def _cli_db(tmp_path, monkeypatch, name: str, inline_max: int) -> Iterator[tuple[Any, Path]]:
    """A file database with members and an admin as ``RETENTO_DATABASE_URL``, and an order file
    of 120 orders; imports with more than ``inline_max`` new orders queue their earning."""
    url = f"sqlite:///{tmp_path / name}"
    upgrade(url)
    monkeypatch.setenv("RETENTO_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            _setup(s, 9)
            make_user(s, role="admin")
        path = tmp_path / f"{name}.csv"
        path.write_bytes(_file(120, 9))
        monkeypatch.setattr(earning_jobs, "INLINE_MAX", inline_max)
        monkeypatch.setattr(earning_jobs, "BATCH", 50)  # three transactions
        yield engine, path
    finally:
        engine.dispose()
        get_settings.cache_clear()


def _wallets(s) -> dict:
    return {
        a.customer_id: (a.balance, a.tier_id)
        for a in s.scalars(select(ledger.LoyaltyAccount).where(
            ledger.LoyaltyAccount.customer_id.is_not(None)))
    }  # fmt: skip


def _cli_import(tmp_path, monkeypatch, name: str, inline_max: int) -> tuple[dict, dict, str]:
    with _cli_db(tmp_path, monkeypatch, name, inline_max) as (engine, path):
        out = runner.invoke(app, ["import", "orders", str(path)])
        assert out.exit_code == 0, out.output
        with make_session_factory(engine)() as s:
            assert check_ledger(s).ok
            return _earned(s), _wallets(s), out.output


def test_cli_import_runs_the_queued_earning_with_the_inline_results(tmp_path, monkeypatch):
    ref, ref_wallets, out_inline = _cli_import(tmp_path, monkeypatch, "inline.db", 10_000)
    assert "Loyalty points for imported orders" not in out_inline
    got, wallets, out = _cli_import(tmp_path, monkeypatch, "queued.db", 10)
    assert "Loyalty points for imported orders: done" in out, out
    assert "orders 120" in out and f"earned {len(ref)}" in out
    assert len(ref) == 120 - 9 and got == ref  # 9 cancelled
    assert wallets == ref_wallets
    assert any(tier for _b, tier in wallets.values()), "members should have climbed tiers"


def test_cli_import_whose_earning_fails_is_run_again_from_the_shell(tmp_path, monkeypatch):
    """The import commits; its queued earning fails (the database went away, say): the command
    exits 1 naming the item and how to run it again, and `retento work retry` then `retento
    worker --once` earn exactly what an import earning inline would have."""
    ref, ref_wallets, _out = _cli_import(tmp_path, monkeypatch, "inline.db", 10_000)
    with _cli_db(tmp_path, monkeypatch, "failing.db", 10) as (engine, path):
        real = earning_bulk.earn_for_imported

        def broken(*a, **k):
            raise RuntimeError("server closed the connection")

        monkeypatch.setattr(earning_bulk, "earn_for_imported", broken)
        out = runner.invoke(app, ["import", "orders", str(path)])
        text = " ".join(out.output.split())
        assert out.exit_code == 1 and "server closed the connection" in text
        item_id = int(text.split("work item #")[1].split(")")[0])
        assert f"retento work retry {item_id}" in text
        with make_session_factory(engine)() as s:
            assert s.scalar(select(func.count()).select_from(Order)) == 120  # saved
            assert _earned(s) == {}
        monkeypatch.setattr(earning_bulk, "earn_for_imported", real)
        again = runner.invoke(app, ["work", "retry", str(item_id)])
        assert again.exit_code == 0, again.output
        ran = runner.invoke(app, ["worker", "--once", "--work-only"])
        assert ran.exit_code == 0, ran.output
        with make_session_factory(engine)() as s:
            assert check_ledger(s).ok and _earned(s) == ref
            assert _wallets(s) == ref_wallets


# --- PostgreSQL: the worker's batches, retries and refunds racing them -------------------------


def _queued_import(live_pg, n_orders: int, n_customers: int, monkeypatch) -> tuple[int, int]:
    with live_pg.session() as s:
        _setup(s, n_customers)
        admin = make_user(s, role="admin")
        s.commit()
        monkeypatch.setattr(earning_jobs, "INLINE_MAX", 5)
        report = import_file(s, "orders", _file(n_orders, n_customers), actor=admin)
        s.commit()
        assert len(report.work_item_ids) == 1
        return report.work_item_ids[0], admin.id


def test_worker_earns_in_batches_and_a_rerun_posts_nothing(live_pg, monkeypatch):
    item_id, _admin = _queued_import(live_pg, 90, 11, monkeypatch)
    monkeypatch.setattr(earning_jobs, "BATCH", 20)
    assert WorkRunner(live_pg.session_factory).run_once() == 1
    with live_pg.session() as s:
        item = s.get(WorkItem, item_id)
        assert item.status == "done", item.error
        assert item.result == {"orders": 90, "earned": 90 - 7}  # 7 cancelled
        first = _earned(s)
        assert len(first) == 83 and check_ledger(s).ok
        # A worker that died after some batches: the item runs again and posts nothing twice.
        item.status, item.claimed_by = "queued", None
        s.commit()
    assert WorkRunner(live_pg.session_factory).run_once() == 1
    with live_pg.session() as s:
        assert _earned(s) == first
        assert s.scalar(select(func.count()).select_from(LoyaltyJournal)) == 83
        assert check_ledger(s).ok


def test_refunds_racing_the_worker_leave_no_points(live_pg, monkeypatch):
    """Every order is refunded in full while the worker earns: whichever commits first, each
    order ends with no points (earned then clawed back, or never earned), and the ledger holds."""
    n = 40
    item_id, admin_id = _queued_import(live_pg, n, n, monkeypatch)  # one order per customer
    monkeypatch.setattr(earning_jobs, "BATCH", 10)
    with live_pg.session() as s:
        live = s.execute(
            select(Order.id, Order.revenue).where(Order.status != "cancelled").order_by(Order.id)
        ).all()

    def work(i: int):
        if i == 0:
            return WorkRunner(live_pg.session_factory).run_once()
        from retento.auth.models import User

        done = 0
        for oid, revenue in live[i - 1 :: 3]:
            with live_pg.session() as s:
                add_refund(s, oid, RefundCreate(amount=revenue), actor=s.get(User, admin_id))
                s.commit()
                done += 1
        return done

    results = run_parallel(4, work)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert results[0] == 1 and sum(results[1:]) == len(live)
    with live_pg.session() as s:
        assert s.get(WorkItem, item_id).status == "done"
        assert check_ledger(s).ok
        balances = s.scalars(
            select(ledger.LoyaltyAccount.balance).where(
                ledger.LoyaltyAccount.customer_id.is_not(None)
            )
        ).all()
        assert balances and all(b == 0 for b in balances), balances
        # Orders refunded before their batch earned nothing; the others earned and gave it back.
        lots = s.scalars(select(LoyaltyLot).where(LoyaltyLot.source_type == "order")).all()
        assert all(lot.remaining == 0 and lot.clawed == lot.points for lot in lots)


def test_api_import_returns_the_queued_work_and_the_web_process_runs_it(
    client, tokens, db, monkeypatch
):
    """POST /api/v1/imports/orders names the queued earning in work_item_ids; with
    RETENTO_RUN_WORK_IN_WEB (the default) the web process runs it after the response, and
    GET /api/v1/work/{id} shows it done."""
    _setup(db, 7)
    db.commit()
    monkeypatch.setattr(earning_jobs, "INLINE_MAX", 10)
    r = client.post(
        "/api/v1/imports/orders",
        headers=tokens["admin"],
        files={"file": ("orders.csv", _file(30, 7), "text/csv")},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] == 30 and len(body["work_item_ids"]) == 1
    item = client.get(f"/api/v1/work/{body['work_item_ids'][0]}", headers=tokens["admin"])
    assert item.status_code == 200 and item.json()["status"] == "done", item.text
    db.expire_all()
    assert len(_earned(db)) == 30 - 2  # k % 13 == 4: two cancelled orders earn nothing
    # A small import answers with no queued work and has earned already.
    small = client.post(
        "/api/v1/imports/orders",
        headers=tokens["admin"],
        files={"file": ("more.csv", _file(5, 7, start=200), "text/csv")},
    )
    assert small.status_code == 200 and small.json()["work_item_ids"] == []
    db.expire_all()
    assert len(_earned(db)) == 28 + 5
