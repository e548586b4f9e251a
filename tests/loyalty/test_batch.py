"""Batch postings (``loyalty.batch``, ``POST /api/v1/loyalty/batch``, the CSV import): the same
ledger invariants as the single operations, idempotent items, all-or-nothing validation, and
parallel batches on PostgreSQL."""

from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from retento.core.db import utcnow
from retento.core.errors import InvalidInput
from retento.loyalty import ledger, service
from retento.loyalty.batch import BatchInvalid, BatchOp, post_batch
from retento.loyalty.check import check_ledger
from retento.loyalty.models import (
    LoyaltyAllocation,
    LoyaltyJournal,
    LoyaltyLot,
    LoyaltyPosting,
    LoyaltyRedemption,
)
from retento.loyalty.transfer import import_adjustments
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme, make_tiers


def _bal(s, cid) -> int:
    return ledger.get_wallet(s, cid).balance


def _count(s, model) -> int:
    return s.scalar(select(func.count()).select_from(model))


def test_batch_posts_every_kind_and_the_books_balance(db, users):
    make_programme(db)
    make_tiers(db, ("silver", 0, "1"), ("gold", 150, "1"))
    mgr = users["manager"]
    a, b, c = make_customer(db), make_customer(db), make_customer(db)
    service.adjust(db, a.id, 100, actor=mgr, reason="opening")
    res = post_batch(
        db,
        [
            BatchOp("earn", a.id, 200, "k1", "promo"),
            BatchOp("adjust", b.id, 50, "k2", "goodwill"),
            BatchOp("adjust", a.id, -30, "k3", "correction"),
            BatchOp("redeem", a.id, 120, "k4"),
            BatchOp("earn", c.id, 7, "k5", "new member"),  # enrols c
            BatchOp("redeem", b.id, 50, "k6"),
        ],
        actor=mgr,
    )
    assert [r.index for r in res] == list(range(6))
    assert not any(r.replayed for r in res)
    assert len({r.journal_id for r in res}) == 6
    assert _bal(db, a.id) == 100 + 200 - 30 - 120
    assert _bal(db, b.id) == 0 and _bal(db, c.id) == 7
    j = {r.index: db.get(LoyaltyJournal, r.journal_id) for r in res}
    assert [j[i].kind for i in range(6)] == ["earn", "adjust", "adjust", "redeem", "earn", "redeem"]
    for r in res:
        assert (
            db.scalar(
                select(func.sum(LoyaltyPosting.amount)).where(
                    LoyaltyPosting.journal_id == r.journal_id
                )
            )
            == 0
        )
    # The redemptions are real redemption rows, found by journal.
    red = db.scalar(
        select(LoyaltyRedemption).where(LoyaltyRedemption.journal_id == res[3].journal_id)
    )
    assert red is not None and red.points == 120 and res[3].redemption_id == red.id
    # Earnings make qualifying lots (and upgrade at once); adjustments do not qualify.
    lot = db.scalar(select(LoyaltyLot).where(LoyaltyLot.journal_id == res[0].journal_id))
    assert lot.qualifying and lot.points == 200
    assert not db.scalar(
        select(LoyaltyLot).where(LoyaltyLot.journal_id == res[1].journal_id)
    ).qualifying
    assert ledger.get_wallet(db, a.id).tier.code == "gold"
    # Every journal and redemption is in the audit log, as with the single operations.
    from retento.audit.models import AuditEntry

    entry = db.scalar(
        select(AuditEntry).where(
            AuditEntry.entity == "loyalty_journal", AuditEntry.entity_id == str(res[2].journal_id)
        )
    )
    assert entry.actor_id == mgr.id and entry.after["points"] == -30
    assert entry.after["reason"] == "correction"
    assert (
        db.scalar(
            select(AuditEntry.after).where(
                AuditEntry.entity == "loyalty_redemption", AuditEntry.entity_id == str(red.id)
            )
        )["points"]
        == 120
    )
    # Spends took the oldest expiry first: the opening lot (earlier expiry) is used up first.
    assert check_ledger(db).ok, check_ledger(db).problems


def test_credit_pays_debt_and_debit_expires_due_lots_first(db, users):
    make_programme(db, refund_policy="negative")
    mgr = users["manager"]
    a, b = make_customer(db), make_customer(db)
    old = utcnow() - timedelta(days=1)
    service.adjust(db, a.id, 40, actor=mgr, reason="due", expires_at=old)
    service.adjust(db, a.id, 60, actor=mgr, reason="fresh")
    service.adjust(db, b.id, 10, actor=mgr, reason="x")
    w = ledger.get_wallet(db, b.id, lock=True)
    # a refund clawback beyond the lots left debt: simulate it the way clawback does
    from retento.loyalty.earning import clawback

    clawback(
        db,
        w,
        None,
        25,
        source_type="manual",
        source_id=None,
        reason="t",
        actor_id=mgr.id,
        idem_key=None,
        now=utcnow(),
    )
    db.flush()
    assert ledger.get_wallet(db, b.id).debt == 15
    res = post_batch(
        db,
        [BatchOp("adjust", a.id, -50, "d1", "fix"), BatchOp("adjust", b.id, 20, "c1", "bonus")],
        actor=mgr,
    )
    assert _bal(db, a.id) == 10  # 40 expired first, 60 - 50 left
    assert (
        db.scalar(
            select(func.count()).select_from(LoyaltyJournal).where(LoyaltyJournal.kind == "expire")
        )
        == 1
    )
    wb = ledger.get_wallet(db, b.id)
    assert wb.debt == 0 and wb.balance == -15 + 20
    settled = db.scalar(
        select(func.sum(LoyaltyAllocation.points)).where(
            LoyaltyAllocation.journal_id == res[1].journal_id
        )
    )
    assert settled == 15
    assert check_ledger(db).ok, check_ledger(db).problems


def test_retried_batch_and_single_items_return_the_originals(db, users):
    make_programme(db)
    mgr = users["manager"]
    a, b = make_customer(db), make_customer(db)
    items = [
        BatchOp("adjust", a.id, 100, "r1", "x"),
        BatchOp("adjust", b.id, 80, "r2", "y"),
        BatchOp("redeem", a.id, 30, "r3"),
    ]
    first = post_batch(db, items, actor=mgr)
    journals = _count(db, LoyaltyJournal)
    again = post_batch(db, items, actor=mgr)
    assert all(r.replayed for r in again)
    assert [r.journal_id for r in again] == [r.journal_id for r in first]
    assert again[2].redemption_id == first[2].redemption_id is not None
    assert _count(db, LoyaltyJournal) == journals
    # One item retried alone (plus a new one) posts only the new one.
    mixed = post_batch(db, [items[1], BatchOp("adjust", b.id, 5, "r4", "z")], actor=mgr)
    assert mixed[0].replayed and mixed[0].journal_id == first[1].journal_id
    assert not mixed[1].replayed
    assert _bal(db, a.id) == 70 and _bal(db, b.id) == 85
    # Same name space as the Idempotency-Key header of the single operations, both ways.
    assert service.adjust(db, a.id, 100, actor=mgr, reason="x", idempotency_key="r1").id == (
        first[0].journal_id
    )
    single = service.adjust(db, b.id, 9, actor=mgr, reason="w", idempotency_key="s1")
    back = post_batch(db, [BatchOp("adjust", b.id, 9, "s1", "w")], actor=mgr)
    assert back[0].replayed and back[0].journal_id == single.id
    # The same key for different content is refused, naming the item.
    with pytest.raises(BatchInvalid) as e:
        post_batch(
            db,
            [BatchOp("adjust", b.id, 1, "r9", "ok"), BatchOp("adjust", a.id, 101, "r1", "x")],
            actor=mgr,
        )
    assert e.value.status == 422 and e.value.errors[0].field == "items.1.key"
    assert check_ledger(db).ok


def test_bad_items_are_named_by_index_and_nothing_is_written(db, users):
    make_programme(db)
    mgr = users["manager"]
    a = make_customer(db)
    service.adjust(db, a.id, 50, actor=mgr, reason="opening")
    db.flush()
    before = (_count(db, LoyaltyJournal), _count(db, LoyaltyPosting), _bal(db, a.id))
    cases = [
        ([BatchOp("adjust", a.id, 0, "z", "r")], "items.0.points"),
        ([BatchOp("adjust", a.id, 5, "z", " ")], "items.0.reason"),
        ([BatchOp("redeem", a.id, -5, "z")], "items.0.points"),
        ([BatchOp("grant", a.id, 5, "z", "r")], "items.0.op"),
        (
            [BatchOp("adjust", a.id, 5, "z", "r"), BatchOp("adjust", a.id, 6, "z", "r")],
            "items.1.key",
        ),
        (
            [BatchOp("adjust", a.id, 5, "ok", "r"), BatchOp("redeem", a.id, 60, "z")],
            "items.1.points",
        ),
        ([BatchOp("adjust", 2**31 - 7, 5, "z", "r")], "items.0.customer_id"),
        ([BatchOp("adjust", a.id, 2 * ledger.MAX_POINTS, "z", "r")], "items.0.points"),
    ]
    for items, where in cases:
        with pytest.raises(BatchInvalid) as e:
            with db.begin_nested():
                post_batch(db, items, actor=mgr)
        assert e.value.status == 422
        assert where in [x.field for x in e.value.errors], (where, e.value.errors)
        assert (_count(db, LoyaltyJournal), _count(db, LoyaltyPosting), _bal(db, a.id)) == before
    # A debit for a customer who is not a member, and several bad items at once.
    b = make_customer(db)
    with pytest.raises(BatchInvalid) as e:
        with db.begin_nested():
            post_batch(
                db,
                [
                    BatchOp("adjust", a.id, 1, "ok1", "r"),
                    BatchOp("redeem", b.id, 1, "x1"),
                    BatchOp("adjust", a.id, -51, "x2", "r"),
                ],
                actor=mgr,
            )
    assert [x.field for x in e.value.errors] == ["items.1.customer_id"]
    with pytest.raises(InvalidInput):
        post_batch(db, [], actor=mgr)
    assert (_count(db, LoyaltyJournal), _bal(db, a.id)) == before[::2]
    assert check_ledger(db).ok


def test_batch_api(db, client, tokens):
    make_programme(db)
    a, b = make_customer(db), make_customer(db)
    db.commit()
    url = "/api/v1/loyalty/batch"
    body = {
        "items": [
            {"op": "adjust", "customer_id": a.id, "points": 300, "key": "api-1", "reason": "x"},
            {"op": "earn", "customer_id": b.id, "points": 40, "key": "api-2", "reason": "y"},
            {"op": "redeem", "customer_id": a.id, "points": 100, "key": "api-3"},
        ]
    }
    r = client.post(url, json=body, headers=tokens["manager"])
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["posted"] == 3 and out["replayed"] == 0
    assert [x["index"] for x in out["items"]] == [0, 1, 2]
    assert out["items"][2]["redemption_id"] is not None
    r2 = client.post(url, json=body, headers=tokens["manager"])
    assert r2.json()["replayed"] == 3
    assert [x["journal_id"] for x in r2.json()["items"]] == [x["journal_id"] for x in out["items"]]
    m = client.get(f"/api/v1/loyalty/members/{a.id}", headers=tokens["agent"]).json()
    assert m["balance"] == 200
    # Schema errors and ledger errors both name the item; nothing is written.
    bad = {"items": [body["items"][0], {**body["items"][1], "points": "lots"}]}
    r = client.post(url, json=bad, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["field"] == "items.1.points"
    over = {"items": [{"op": "redeem", "customer_id": a.id, "points": 201, "key": "api-4"}]}
    r = client.post(url, json=over, headers=tokens["manager"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items.0.points"
    too_many = {"items": [{**body["items"][0], "key": f"m{i}"} for i in range(1001)]}
    assert client.post(url, json=too_many, headers=tokens["manager"]).status_code == 422
    # Agents may redeem in a batch but not adjust; analysts neither.
    assert client.post(url, json=body, headers=tokens["agent"]).status_code == 403
    redeem_only = {"items": [{"op": "redeem", "customer_id": a.id, "points": 5, "key": "ag-1"}]}
    assert client.post(url, json=redeem_only, headers=tokens["agent"]).status_code == 201
    assert client.post(url, json=redeem_only, headers=tokens["analyst"]).status_code == 403
    chk = client.get("/api/v1/loyalty/check", headers=tokens["manager"]).json()
    assert chk["ok"], chk


def test_csv_import_posts_through_the_batch_path(db, users):
    make_programme(db)
    admin = users["admin"]
    cs = [make_customer(db, external_id=f"IMP{i}") for i in range(3)]
    csv_text = "customer_external_id,points,reason,key\n" + "".join(
        f"IMP{i % 3},{10 + i},row {i},k{i}\n" for i in range(2500)
    )
    rep = import_adjustments(db, io.StringIO(csv_text), actor=admin)
    assert rep == {"posted": 2500, "replayed": 0}
    totals = [sum(10 + i for i in range(2500) if i % 3 == n) for n in range(3)]
    assert [_bal(db, c.id) for c in cs] == totals
    assert (
        db.scalar(
            select(func.count())
            .select_from(LoyaltyJournal)
            .where(LoyaltyJournal.source_type == "import")
        )
        == 2500
    )
    assert import_adjustments(db, io.StringIO(csv_text), actor=admin) == {
        "posted": 0,
        "replayed": 2500,
    }
    # A bad row names its line and nothing of the file is posted.
    n = _count(db, LoyaltyJournal)
    bad = (
        "customer_external_id,points,reason,key\n"
        "IMP0,5,ok,n1\n"
        "IMP1,-99999999,too much,n2\n"
        "NOPE,5,who,n3\n"
    )
    with pytest.raises(InvalidInput) as e:
        with db.begin_nested():
            import_adjustments(db, io.StringIO(bad), actor=admin)
    assert [(x.row, x.field) for x in e.value.errors] == [(4, "customer_external_id")]
    with pytest.raises(InvalidInput) as e:
        with db.begin_nested():
            import_adjustments(db, io.StringIO(bad.replace("NOPE", "IMP2")), actor=admin)
    assert [(x.row, x.field) for x in e.value.errors] == [(3, "points")]
    assert _count(db, LoyaltyJournal) == n
    assert check_ledger(db).ok


# --- PostgreSQL: real transactions --------------------------------------------------------------


def _live_members(live_pg, n: int, points: int):
    with live_pg.session() as s:
        make_programme(s)
        mgr = make_user(s, role="manager")
        cids = [make_customer(s).id for _ in range(n)]
        post_batch(
            s, [BatchOp("adjust", c, points, f"open{c}", "opening") for c in cids], actor=mgr
        )
        s.commit()
        return cids, mgr.id


def test_parallel_batches_on_overlapping_wallets_and_single_redemptions(live_pg):
    """8 threads: 5 batches touching the same wallets in different orders, 3 single-operation
    redemption loops on those wallets. No deadlock, and every balance is exactly what the
    successful operations add up to."""
    from retento.auth.models import User

    cids, uid = _live_members(live_pg, 12, 1000)
    expected = {c: 1000 for c in cids}
    plans = []
    rng = random.Random(7)
    for t in range(5):
        items = []
        for k in range(60):
            c = rng.choice(cids)
            if k % 3 == 2:
                items.append(BatchOp("redeem", c, 3, f"b{t}-{k}"))
            else:
                items.append(BatchOp("adjust", c, 5 + k % 4, f"b{t}-{k}", "batch"))
        plans.append(items)

    def work(i: int):
        with live_pg.session() as s:
            user = s.get(User, uid)
            if i < 5:
                res = post_batch(s, plans[i], actor=user)
                s.commit()
                return ("batch", i, len(res))
            done = []
            for k in range(15):
                c = cids[(i * 5 + k) % len(cids)]
                service.redeem(s, c, points=2, actor=user, idempotency_key=f"single-{i}-{k}")
                s.commit()
                done.append(c)
            return ("single", done)

    results = run_parallel(8, work, timeout=120)
    assert all(isinstance(r, tuple) for r in results), results
    for items in plans:
        for it in items:
            expected[it.customer_id] += -it.points if it.op == "redeem" else it.points
    for r in results:
        if r[0] == "single":
            for c in r[1]:
                expected[c] -= 2
    with live_pg.session() as s:
        assert {c: _bal(s, c) for c in cids} == expected
        n = s.scalar(select(func.count()).select_from(LoyaltyJournal))
        assert n == 12 + 5 * 60 + 3 * 15
        rep = check_ledger(s)
        assert rep.ok, rep.problems


def test_the_same_batch_sent_twice_at_once_posts_once(live_pg):
    from retento.auth.models import User

    cids, uid = _live_members(live_pg, 4, 100)
    items = [BatchOp("adjust", c, 10, f"twice-{c}", "x") for c in cids] + [
        BatchOp("redeem", cids[0], 50, "twice-r")
    ]

    def work(i: int):
        with live_pg.session() as s:
            res = post_batch(s, items, actor=s.get(User, uid))
            s.commit()
            return [(r.journal_id, r.replayed, r.redemption_id) for r in res]

    a, b = run_parallel(2, work)
    assert [x[0] for x in a] == [x[0] for x in b]
    assert [x[2] for x in a] == [x[2] for x in b]
    assert sorted([all(x[1] for x in a), all(x[1] for x in b)]) == [False, True]
    with live_pg.session() as s:
        assert [_bal(s, c) for c in cids] == [60, 110, 110, 110]
        assert check_ledger(s).ok


def test_ids_past_two_to_the_31(live_pg):
    """Ledger ids are 64-bit on PostgreSQL: the batch, the API and the journal routes keep them."""
    cids, uid = _live_members(live_pg, 2, 100)
    big = 2**31 + 1000
    with live_pg.engine.begin() as conn:
        for table in (
            "loyalty_journals",
            "loyalty_postings",
            "loyalty_lots",
            "loyalty_allocations",
            "loyalty_redemptions",
        ):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {big})"))
    from retento.auth.service import issue_token

    with live_pg.session() as s:
        from retento.auth.models import User

        _, tok = issue_token(s, s.get(User, uid), name="t", actor=None)
        s.commit()
    h = {"Authorization": f"Bearer {tok}"}
    body = {
        "items": [
            {"op": "adjust", "customer_id": cids[0], "points": 10**9, "key": "big0", "reason": "x"},
            {"op": "adjust", "customer_id": cids[0], "points": 10**9, "key": "big1", "reason": "x"},
            {"op": "adjust", "customer_id": cids[0], "points": 10**9, "key": "big3", "reason": "x"},
            {"op": "redeem", "customer_id": cids[0], "points": 150, "key": "big2"},
        ]
    }
    with live_pg.client() as c:
        r = c.post("/api/v1/loyalty/batch", json=body, headers=h)
        assert r.status_code == 201, r.text
        ids = [x["journal_id"] for x in r.json()["items"]]
        assert all(i > 2**31 for i in ids) and r.json()["items"][3]["redemption_id"] > 2**31
        j = c.get(f"/api/v1/loyalty/journals/{ids[3]}", headers=h)
        assert j.status_code == 200 and j.json()["id"] == ids[3]
        assert all(x["account_id"] > 0 for x in j.json()["postings"])
        single = c.post(
            f"/api/v1/loyalty/members/{cids[1]}/redemptions", json={"points": 5}, headers=h
        )
        assert single.status_code == 201 and single.json()["journal_id"] > 2**31
        assert c.get("/api/v1/loyalty/journals/9223372036854775808", headers=h).status_code == 404
    with live_pg.session() as s:
        # the balance itself is past 2**31 too (BigInteger)
        assert _bal(s, cids[0]) == 100 + 3 * 10**9 - 150 > 2**31
        assert s.scalar(select(func.min(LoyaltyLot.id)).where(LoyaltyLot.points == 10**9)) > 2**31
        assert check_ledger(s).ok
