"""Archive, restore and erase under concurrency (PostgreSQL, real commits): the customer row is
locked first, so parallel requests give one state change and one audit entry."""

from __future__ import annotations

from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.customers.models import Contact, Customer
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import bearer_headers, post_each, statuses

N = 12


def _setup(live_pg):
    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        c = make_customer(s, name="Race Person", email="race@example.com")
        c.contacts = [Contact(name="Race Contact", email="rc@example.com")]
        headers = bearer_headers(s, admin, N)
        s.commit()
        return c.id, headers


def _entries(live_pg, cid: int, action: str) -> int:
    with live_pg.session() as s:
        return s.scalar(
            select(func.count()).where(
                AuditEntry.entity == "customer",
                AuditEntry.entity_id == str(cid),
                AuditEntry.action == action,
            )
        )


def test_parallel_erasures_erase_once(live_pg):
    cid, headers = _setup(live_pg)
    codes = statuses(
        run_parallel(
            N,
            post_each(live_pg, f"/api/v1/customers/{cid}/erase", lambda i: {"headers": headers[i]}),
        )
    )
    assert codes == {200: 1, 409: N - 1}, codes
    assert _entries(live_pg, cid, "erase") == 1
    with live_pg.session() as s:
        c = s.get(Customer, cid)
        assert c.erased_at is not None and c.email is None and c.contacts == []


def test_parallel_archives_write_one_audit_entry(live_pg):
    cid, headers = _setup(live_pg)
    codes = statuses(
        run_parallel(
            N,
            post_each(
                live_pg, f"/api/v1/customers/{cid}/archive", lambda i: {"headers": headers[i]}
            ),
        )
    )
    assert codes == {200: N}, codes
    assert _entries(live_pg, cid, "archive") == 1


def test_erase_racing_restores_leaves_the_customer_erased_and_archived(live_pg):
    cid, headers = _setup(live_pg)
    with live_pg.client() as client:
        assert (
            client.post(f"/api/v1/customers/{cid}/archive", headers=headers[0]).status_code == 200
        )

    def call(i: int) -> int:
        url = f"/api/v1/customers/{cid}/" + ("erase" if i == 0 else "restore")
        with live_pg.client() as client:
            return client.post(url, headers=headers[i]).status_code

    codes = statuses(run_parallel(N, call))
    assert codes[200] >= 1 and set(codes) <= {200, 409}, codes
    with live_pg.session() as s:
        c = s.get(Customer, cid)
        # Whatever the order, erasure wins in the end: erased customers stay archived.
        assert c.erased_at is not None and c.archived_at is not None
