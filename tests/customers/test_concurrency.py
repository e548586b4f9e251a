"""Lost updates under real concurrency (PostgreSQL, real commits, 20 threads at once).

Each thread has its own TestClient and bearer token; the invariants are checked in the database:
one primary contact and exactly one requested contact set, a tag set equal to one request's,
and two editors of the same version get one 200 and one 409 with nothing reverted.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from retento.auth.service import issue_token
from retento.customers.models import Contact, Customer, CustomerTag
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel

N = 20


def _setup(live_pg, n_tokens: int = N, **customer):
    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        c = make_customer(s, **customer)
        headers = []
        for i in range(n_tokens):
            # One token per thread: the token row's last_used_at would otherwise queue them.
            _, plain = issue_token(s, admin, name=f"t{i}", actor=None)
            headers.append({"Authorization": f"Bearer {plain}"})
        s.commit()
        return c.id, headers


def _patch_each(live_pg, url: str, bodies, headers):
    def call(i: int) -> int:
        with live_pg.client() as client:
            return client.patch(url, json=bodies(i), headers=headers[i]).status_code

    return call


def _codes(results) -> Counter:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[0]
    return Counter(results)


def test_parallel_contact_replaces_leave_one_requested_set_and_one_primary(live_pg):
    customer_id, headers = _setup(live_pg)

    def contacts(i: int) -> dict:
        return {
            "contacts": [
                {"name": f"req{i}-a", "email": f"a{i}@example.com", "is_primary": True},
                {"name": f"req{i}-b", "is_primary": False},
            ]
        }

    url = f"/api/v1/customers/{customer_id}"
    codes = _codes(run_parallel(N, _patch_each(live_pg, url, contacts, headers)))
    assert codes == {200: N}, codes

    with live_pg.session() as s:
        rows = s.scalars(select(Contact).where(Contact.customer_id == customer_id)).all()
        names = sorted(k.name for k in rows)
        assert len(rows) == 2, names
        winner = names[0].split("-")[0]
        assert names == [f"{winner}-a", f"{winner}-b"]  # one request's set, not a mix
        assert [k.name for k in rows if k.is_primary] == [f"{winner}-a"]
        assert s.get(Customer, customer_id).version == N + 1


def test_parallel_tag_replaces_leave_exactly_one_requests_set(live_pg):
    customer_id, headers = _setup(live_pg)
    wanted = [[f"t{i}", f"shared-{i % 3}", "common"] for i in range(N)]
    url = f"/api/v1/customers/{customer_id}"
    codes = _codes(
        run_parallel(N, _patch_each(live_pg, url, lambda i: {"tags": wanted[i]}, headers))
    )
    assert codes == {200: N}, codes

    with live_pg.session() as s:
        tags = sorted(
            s.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id))
        )
        assert tags in [sorted(w) for w in wanted], tags


def test_parallel_edits_of_one_version_one_wins_the_others_get_409(live_pg):
    customer_id, headers = _setup(live_pg, phone="100")
    url = f"/api/v1/customers/{customer_id}"
    codes = _codes(
        run_parallel(
            N,
            _patch_each(
                live_pg,
                url,
                lambda i: {"phone": f"{200 + i}", "tags": [f"by-{i}"], "version": 1},
                headers,
            ),
        )
    )
    assert codes == {200: 1, 409: N - 1}, codes
    with live_pg.session() as s:
        c = s.get(Customer, customer_id)
        winner = int(c.phone) - 200
        assert c.tags == [f"by-{winner}"]  # the winner's whole edit, nobody else's
        assert c.version == 2


def test_two_clients_same_version_one_200_one_409_and_no_silent_revert(live_pg):
    customer_id, headers = _setup(live_pg, n_tokens=2, name="Acme", city="Old city")
    url = f"/api/v1/customers/{customer_id}"
    with live_pg.client() as alice, live_pg.client() as bob:
        seen_a = alice.get(url, headers=headers[0])
        seen_b = bob.get(url, headers=headers[1])
        assert seen_a.headers["etag"] == seen_b.headers["etag"] == '"1"'

        r_a = alice.patch(
            url, json={"city": "Alice city"}, headers={**headers[0], "If-Match": '"1"'}
        )
        # Bob's form still shows "Old city"; he only meant to change the name.
        r_b = bob.patch(
            url,
            json={"name": "Acme Ltd", "city": seen_b.json()["city"]},
            headers={**headers[1], "If-Match": seen_b.headers["etag"]},
        )
        assert (r_a.status_code, r_b.status_code) == (200, 409)
        assert r_b.json()["current_version"] == 2

        # Bob reloads, re-applies his change on version 2: Alice's city survives.
        fresh = bob.get(url, headers=headers[1])
        r_b2 = bob.patch(
            url,
            json={"name": "Acme Ltd"},
            headers={**headers[1], "If-Match": fresh.headers["etag"]},
        )
        assert r_b2.status_code == 200
    with live_pg.session() as s:
        c = s.get(Customer, customer_id)
        assert (c.name, c.city, c.version) == ("Acme Ltd", "Alice city", 3)


def test_parallel_primary_switches_never_leave_two_primaries(live_pg):
    """Half the requests make contact A primary, half contact B: always exactly one primary."""
    customer_id, headers = _setup(live_pg)

    def body(i: int) -> dict:
        return {
            "contacts": [
                {"name": "A", "is_primary": i % 2 == 0},
                {"name": "B", "is_primary": i % 2 == 1},
            ]
        }

    url = f"/api/v1/customers/{customer_id}"
    codes = _codes(run_parallel(N, _patch_each(live_pg, url, body, headers)))
    assert codes == {200: N}, codes
    with live_pg.session() as s:
        rows = s.scalars(select(Contact).where(Contact.customer_id == customer_id)).all()
        assert sorted(k.name for k in rows) == ["A", "B"]
        assert sum(k.is_primary for k in rows) == 1


def _app(live_pg, **settings):
    from retento.app import create_app
    from retento.core.config import Settings

    return create_app(Settings(run_scheduler=False, secret_key="test-" + "x" * 32, **settings))


def _editor(live_pg, n_tokens: int):
    from tests.factories.race import bearer_headers

    with live_pg.session() as s:
        admin = make_user(s, role="admin")
        c = make_customer(s, name="Before")
        headers = bearer_headers(s, admin, n_tokens)
        s.commit()
        return c.id, c.version, headers, admin.username


def _web_edit(name: str) -> dict[str, str]:
    return {"name": name, "party_type": "person", "kind": "consumer"}


def test_web_and_api_customer_edits_on_one_event_loop_do_not_deadlock(live_pg):
    """One process, one event loop (like one uvicorn worker): web edit forms and API PATCHes of
    one customer at once. Both take the row lock (``lock_for_edit``); the page handler is a
    plain ``def`` run in the thread pool, so while it waits the loop stays free for the request
    holding the lock to commit. Had it waited on the loop, the process would hang (the lock
    timeout turns such a regression into failures instead of a hung run)."""
    from fastapi.testclient import TestClient

    from tests.factories.race import statuses
    from tests.web.conftest import Browser

    cid, version, headers, username = _editor(live_pg, N)
    app = _app(live_pg, database_url=live_pg.url + "?options=-c%20lock_timeout%3D15000")
    with TestClient(app) as client:  # one portal: every request runs on the same loop
        web = Browser(client)
        assert web.login(username).status_code == 303

        def edit(i: int) -> int:
            if i % 2:
                return web.post(f"/customers/{cid}/edit", _web_edit(f"Web {i}")).status_code
            url = f"/api/v1/customers/{cid}"
            return client.patch(url, json={"name": f"API {i}"}, headers=headers[i]).status_code

        codes = statuses(run_parallel(N, edit))
    # No version sent: the edits run one after the other on the row lock, the last one wins.
    assert codes == {200: N // 2, 303: N // 2}, codes
    with live_pg.session() as s:
        c = s.get(Customer, cid)
        assert c.version == version + N
        assert c.name in {f"Web {i}" for i in range(1, N, 2)} | {f"API {i}" for i in range(0, N, 2)}


def test_a_lock_held_past_the_lock_timeout_answers_503_busy(live_pg):
    """RETENTO_DB_LOCK_TIMEOUT_MS: a request that cannot get a row lock in time gives up with
    503 ``busy`` and Retry-After (a page for the web), writes nothing, and the next try works."""
    from fastapi.testclient import TestClient

    from tests.web.conftest import Browser

    cid, version, headers, username = _editor(live_pg, 1)
    app = _app(live_pg, database_url=live_pg.url, db_lock_timeout_ms=300)
    url = f"/api/v1/customers/{cid}"
    holder = live_pg.session()
    try:
        holder.execute(select(Customer.id).where(Customer.id == cid).with_for_update())
        with TestClient(app) as client:
            r = client.patch(url, json={"name": "Blocked"}, headers=headers[0])
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "1"
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "busy"
            web = Browser(client)
            assert web.login(username).status_code == 303
            page = web.post(f"/customers/{cid}/edit", _web_edit("Blocked too"))
            assert page.status_code == 503 and page.headers["retry-after"] == "1"
            assert page.headers["content-type"].startswith("text/html")
            assert "Try again in a moment" in page.text
    finally:
        holder.rollback()
        holder.close()
    with live_pg.session() as s:
        c = s.get(Customer, cid)
        assert c.name == "Before" and c.version == version  # nothing half-written
    with TestClient(app) as client:
        r = client.patch(url, json={"name": "After"}, headers=headers[0])
        assert r.status_code == 200 and r.json()["name"] == "After"


def test_the_lock_timeout_joins_the_urls_own_options():
    from retento.core.db import postgres_options

    pg = "postgresql+psycopg://u@h/db"
    assert postgres_options(pg, 10_000) == {"options": "-c lock_timeout=10000"}
    assert postgres_options(pg, 0) == {}  # 0: wait for ever
    assert postgres_options(pg + "?options=-c%20statement_timeout%3D5000", 250) == {
        "options": "-c statement_timeout=5000 -c lock_timeout=250"
    }
    assert postgres_options(pg + "?options=-c%20lock_timeout%3D15000", 250) == {}
