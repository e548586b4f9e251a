"""What the load mix's pages cost in SQL round trips (issue 15, point 4), with what they show.

The customer 360 page reads its customer, tags, contacts and assignments in one query and each
panel in one or two; the complaint queue reads its rows with their customers and assignees in
one query and the categories once. These tests pin those counts (as upper bounds) next to the
content the pages must still show, so a later change cannot quietly bring the round trips back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from retento.complaints.models import ComplaintCategory
from retento.complaints.pages.common import category_options
from retento.complaints.settings import category_tree
from retento.customers.models import Contact, CustomerTag
from tests.factories import make_customer, make_order, make_product, make_touchpoint
from tests.factories.complaints import make_complaint


class Statements:
    """Counts the SQL statements sent through ``engine`` while active (not the savepoints the
    test's outer transaction turns each commit into)."""

    def __init__(self, engine):
        self.engine = engine
        self.n = 0
        self.seen: list[str] = []

    def _count(self, _conn, _cursor, statement: str, *_a, **_kw) -> None:
        if statement.split(None, 1)[0].upper() in ("SAVEPOINT", "RELEASE", "ROLLBACK"):
            return
        self.n += 1
        self.seen.append(statement[:80])

    def __enter__(self) -> Statements:
        self.n = 0
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.fixture
def rich_customer(db, users):
    """An agent's customer with tags, two contacts, 12 orders, a touchpoint and a complaint."""
    c = make_customer(db, name="Costly Co", owner_id=users["agent"].id)
    db.add_all([CustomerTag(customer_id=c.id, tag=t) for t in ("gold", "north")])
    db.add_all(
        [
            Contact(customer_id=c.id, name="Ada Contact", email="ada@example.com"),
            Contact(customer_id=c.id, name="Bo Contact", phone="+15550001"),
        ]
    )
    p = make_product(db, unit_price=Decimal("10.00"), unit_cost=Decimal("4.00"))
    start = datetime(2025, 1, 1, 12, tzinfo=UTC)
    for i in range(12):
        make_order(db, c, lines=[(p, 1)], ordered_at=start + timedelta(days=7 * i))
    make_touchpoint(db, c, occurred_at=start + timedelta(days=3), note="Asked about prices")
    db.commit()
    make_complaint(db, customer_id=c.id, subject="Late parcel for Costly Co")
    db.commit()
    return c


def test_customer_360_shows_every_part_in_few_round_trips(web, engine, rich_customer):
    c = rich_customer
    web.login("agent")
    web.get(f"/customers/{c.id}")  # templates compiled, session row touched
    with Statements(engine) as sql:
        r = web.get(f"/customers/{c.id}")
    html = r.text
    assert r.status_code == 200
    # Profile: tags and contacts (read by the first query, no lazy load in the template).
    assert 'href="/customers?tag=gold"' in html and 'href="/customers?tag=north"' in html
    assert "Ada Contact" in html and "Bo Contact" in html
    # Orders panel: ten rows and the count of all twelve, from one query.
    assert html.count('href="/orders/') >= 10
    assert "The 10 most recent of 12 orders." in html
    assert "Late parcel for Costly Co" in html and "Asked about prices" in html
    assert "Record a touchpoint" in html  # the owner may change the customer
    # 20 today: the session row and its user in one statement; the loyalty-type panel's row,
    # run and "ever measured" in one (three before), the relationship panel's value settings
    # with the delivered value (three statements, now two). 37 before this work (one query per
    # panel part, lazy loads in the template). 25 since the timeline merges the other domains'
    # records: one bounded statement each for this customer's complaints, survey responses,
    # loyalty wallet, retention records (one probe) and e-mails.
    assert sql.n <= 25, sql.seen


def test_customer_360_of_a_missing_customer_is_404(web, users):
    web.login("agent")
    assert web.get("/customers/987654").status_code == 404


def test_complaint_queue_reads_rows_people_and_categories_once(web, engine, db, users):
    for i in range(3):
        make_complaint(db, subject=f"Queue item {i}", assignee_id=users["agent"].id)
    db.commit()
    web.login("agent")
    web.get("/complaints")
    with Statements(engine) as sql:
        html = web.get("/complaints").text
    for i in range(3):
        assert f"Queue item {i}" in html
    assert "Agent" in html or "agent" in html  # the assignee's name, joined in
    # session row with its user, complaints with customers and assignees, categories: 7 before.
    assert sql.n <= 3, sql.seen


def test_category_options_offer_only_fully_active_paths(db, users, monkeypatch):
    import retento.complaints.pages.common as common

    root = ComplaintCategory(code="h3root", name="H3 root", is_active=False)
    db.add(root)
    db.flush()
    child = ComplaintCategory(code="h3child", name="H3 child", parent_id=root.id, is_active=True)
    live = ComplaintCategory(code="h3live", name="H3 live", is_active=True)
    db.add_all([child, live])
    db.flush()
    # Labels need the page's language only; the ids are what this test is about.
    monkeypatch.setattr(common, "tree_label", lambda _request, path: "/".join(p.code for p in path))
    offered = {cid for cid, _ in category_options(None, db, users["agent"])}
    kept = {cid for cid, _ in category_options(None, db, users["agent"], keep=child.id)}
    # "Offered" is what the intake forms always offered: the active-only tree.
    assert offered == {str(c.id) for c, _, _ in category_tree(db, active_only=True)}
    assert str(live.id) in offered
    assert str(root.id) not in offered and str(child.id) not in offered  # inactive parent
    assert kept == offered | {str(child.id)}


def test_server_entry_point_freezes_the_startup_heap(tmp_path):
    """``retento.asgi`` (what ``retento serve`` runs) moves the start-up objects out of the
    collector's reach, so full collections scan only what requests allocate."""
    import os
    import subprocess
    import sys

    code = "import gc, retento.asgi; print(gc.get_freeze_count())"
    env = {
        **os.environ,
        "RETENTO_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "RETENTO_SECRET_KEY": "a-test-key-that-is-long-enough-0123456789abcdef",
        "RETENTO_RUN_SCHEDULER": "false",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    frozen = int(out[0])
    assert frozen > 100_000, frozen  # modules, mappers, routes: hundreds of thousands of objects
