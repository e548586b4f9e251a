"""A merge racing writers of the duplicate (PostgreSQL, real commits, threads on a barrier):
each writer either commits before the merge (and the merge moves what it wrote) or waits for it
and is refused (409); nothing is left on the archived duplicate, no points are stranded on its
wallet, and the ledger balances (customers/guard.py, loyalty/ledger.py ``get_wallet``)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select

from retento.auth.models import User
from retento.core.db import utcnow
from retento.customers.models import Customer
from retento.loyalty import ledger
from retento.loyalty import service as loyalty
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyPosting
from retento.orders import service as orders
from retento.orders.models import Order
from retento.orders.schemas import OrderCreate
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_product
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.factories.race import bearer_headers

N = 16  # one merge and 15 writers


def _setup(live_pg):
    with live_pg.session() as s:
        admin = User(username="boss", role="admin", password_hash="x", is_active=True)
        s.add(admin)
        s.flush()
        make_programme(s)
        keep = make_customer(s, name="Keep")
        dup = make_customer(s, name="Dup")
        p = make_product(s, unit_price=Decimal("100.00"))
        body = {"ordered_at": utcnow(), "lines": [{"product_id": p.id, "quantity": 1}]}
        orders.create_order(s, OrderCreate(customer_id=dup.id, **body), actor=admin)
        loyalty.adjust(s, dup.id, 200, actor=admin, reason="start")
        headers = bearer_headers(s, admin, N)
        s.commit()
        return keep.id, dup.id, p.id, headers


def _writer(i: int, dup: int, product: int) -> tuple[str, str, dict]:
    """(method, url, json) of writer ``i`` (1..N-1) on the duplicate."""
    at = "2026-01-05T10:00:00Z"
    kind = i % 4
    if kind == 0:
        return "post", "/api/v1/orders", {
            "customer_id": dup, "ordered_at": at,
            "lines": [{"product_id": product, "quantity": 1}],
        }  # fmt: skip
    if kind == 1:
        return "post", f"/api/v1/loyalty/members/{dup}/adjustments", {
            "points": 50, "reason": f"race {i}",
        }  # fmt: skip
    if kind == 2:
        return "post", f"/api/v1/loyalty/members/{dup}/redemptions", {"points": 3}
    return "post", "/api/v1/touchpoints", {
        "customer_id": dup, "occurred_at": at, "channel": "phone", "stage": "after_sales",
        "direction": "inbound", "note": f"race {i}",
    }  # fmt: skip


def test_writers_racing_a_merge_end_on_the_survivor_or_are_refused(live_pg):
    """One round: with the guard taken out (no customer lock, no merged check) each of six
    single rounds left writes on the duplicate, so repeating it found nothing more."""
    keep, dup, product, headers = _setup(live_pg)

    def call(i: int):
        with live_pg.client() as client:
            if i == 0:
                r = client.post(
                    f"/api/v1/customers/{keep}/merge", json={"merge_id": dup}, headers=headers[i]
                )
                return i, r.status_code, r.json()
            method, url, body = _writer(i, dup, product)
            h = {**headers[i], "Idempotency-Key": f"race-{uuid.uuid4()}"}
            r = getattr(client, method)(url, json=body, headers=h)
            return i, r.status_code, r.json()

    results = run_parallel(N, call)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    by_i = {i: (code, body) for i, code, body in results}
    assert by_i[0][0] == 200, by_i[0]
    for i in range(1, N):
        code, body = by_i[i]
        if code == 409:
            assert body["detail"] == f"Customer {dup} was merged into customer {keep}.", body
            assert body["field"] == "customer_id"
        else:
            assert code in (200, 201), (i, code, body)

    with live_pg.session() as s:
        duplicate = s.get(Customer, dup)
        assert duplicate.archived_at is not None
        assert duplicate.custom_fields["merged_into"] == keep
        # Nothing new on the duplicate: every order and touchpoint written is on the survivor.
        for model in (Order, Touchpoint):
            assert s.scalar(select(func.count()).where(model.customer_id == dup)) == 0
        for i in range(1, N):
            code, body = by_i[i]
            if code in (200, 201) and i % 4 in (0, 3):
                model = Order if i % 4 == 0 else Touchpoint
                assert s.get(model, body["id"]).customer_id == keep
        # No points stranded: the duplicate's wallet is empty and equals its postings.
        transfer = s.scalar(
            select(LoyaltyJournal).where(
                LoyaltyJournal.kind == "transfer", LoyaltyJournal.source_id == f"merge:{dup}"
            )
        )
        assert transfer is not None
        later = s.scalars(
            select(LoyaltyJournal.id).where(
                LoyaltyJournal.customer_id == dup, LoyaltyJournal.id > transfer.id
            )
        ).all()
        assert later == [], later
        for cid, want in ((dup, 0), (keep, None)):
            w = ledger.get_wallet(s, cid)
            posted = s.scalar(
                select(func.coalesce(func.sum(LoyaltyPosting.amount), 0)).where(
                    LoyaltyPosting.account_id == w.id
                )
            )
            assert w.balance == posted, (cid, w.balance, posted)
            if want is not None:
                assert w.balance == want
        report = check_ledger(s)
        assert report.ok, report.problems
    # Each writer got its 2xx or a 409; under the race, typically some of each.
