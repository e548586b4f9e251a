"""Merging two customers: history and points move, the duplicate is archived pointing at the
survivor, versions are checked, the ledger stays balanced; on committed PostgreSQL too."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.complaints.models import Complaint
from retento.core.db import utcnow
from retento.core.errors import Conflict, Forbidden, InvalidInput
from retento.core.versioning import VersionConflict
from retento.customers import merge, privacy, service
from retento.customers.models import Contact, Customer
from retento.customers.schemas import ContactIn, CustomerCreate
from retento.loyalty import ledger
from retento.loyalty import service as loyalty
from retento.loyalty.check import check_ledger
from retento.orders import service as orders
from retento.orders.models import Order
from retento.orders.schemas import OrderCreate, RefundCreate
from retento.surveys.models import Survey, SurveyResponse
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_product, make_touchpoint
from tests.factories.complaints import make_complaint
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _order(db, user, customer, amount="100.00"):
    p = make_product(db, unit_price=Decimal(amount))
    return orders.create_order(
        db,
        OrderCreate(
            customer_id=customer.id,
            ordered_at=utcnow(),
            lines=[{"product_id": p.id, "quantity": 1}],
        ),
        actor=user,
    )


def _pair(db, users):
    mk = lambda **kw: service.create_customer(db, CustomerCreate(**kw), actor=users["manager"])  # noqa: E731
    keep = mk(
        name="Ava Clark",
        email="ava@example.com",
        tags=["vip"],
        contacts=[ContactIn(name="Assistant", is_primary=True)],
    )
    dup = mk(
        name="Ava Clark (old)",
        phone="+44 7000 000584",
        tags=["vip", "north"],
        contacts=[ContactIn(name="Old assistant", is_primary=True)],
    )
    return keep, dup


def _survey_response(db, customer):
    s = Survey(name="After sale", status="active")
    db.add(s)
    db.flush()
    r = SurveyResponse(survey_id=s.id, customer_id=customer.id, channel="phone", status="partial")
    db.add(r)
    db.flush()
    return r


def test_merge_moves_history_points_contacts_tags_and_archives(db, users):
    make_programme(db)
    keep, dup = _pair(db, users)
    admin = users["admin"]
    _order(db, admin, keep, "40")
    o1 = _order(db, admin, dup, "100")
    _order(db, admin, dup, "25")
    complaint = make_complaint(db, actor=users["manager"], customer_id=dup.id)
    tp = make_touchpoint(db, dup)
    resp = _survey_response(db, dup)
    assert ledger.get_wallet(db, dup.id).balance == 125
    before_total = db.scalar(select(func.count()).select_from(Order))

    survivor, moved = merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])

    assert survivor.id == keep.id
    assert moved["orders"] == 2 and moved["complaints"] == 1 and moved["touchpoints"] == 1
    assert moved["survey_responses"] == 1 and moved["loyalty_points"] == 125
    db.expire_all()
    assert db.scalar(select(func.count()).where(Order.customer_id == keep.id)) == 3
    assert db.scalar(select(func.count()).select_from(Order)) == before_total
    assert db.get(Complaint, complaint.id).customer_id == keep.id
    assert db.get(Touchpoint, tp.id).customer_id == keep.id
    assert db.get(SurveyResponse, resp.id).customer_id == keep.id
    kept = db.get(Customer, keep.id)
    assert kept.tags == ["north", "vip"]
    names = sorted((k.name, k.is_primary) for k in kept.contacts)
    assert names == [("Assistant", True), ("Old assistant", False)]
    gone = db.get(Customer, dup.id)
    assert gone.archived_at is not None and gone.custom_fields["merged_into"] == keep.id
    assert (
        db.scalar(select(func.count()).select_from(Contact).where(Contact.customer_id == dup.id))
        == 0
    )
    # Points: 40 + 125 on the survivor, nothing left on the duplicate, the books balance.
    assert ledger.get_wallet(db, keep.id).balance == 165
    assert ledger.get_wallet(db, dup.id).balance == 0
    assert check_ledger(db).ok, check_ledger(db).problems
    # A refund of a moved order claws back from the survivor.
    orders.add_refund(db, o1.id, RefundCreate(amount=Decimal("100")), actor=admin)
    assert ledger.get_wallet(db, keep.id).balance == 65
    assert check_ledger(db).ok, check_ledger(db).problems
    # Audited on both records; search now finds the survivor by the duplicate's contact.
    actions = {
        (e.entity_id, e.action)
        for e in db.query(AuditEntry).filter(AuditEntry.entity == "customer")
    }
    assert (str(keep.id), "merge") in actions and (str(dup.id), "archive") in actions
    rows, _ = service.list_customers(db, actor=users["manager"], q="old assistant")
    assert [c.id for c in rows] == [keep.id]


def test_merge_moves_debt_and_keeps_the_books(db, users):
    make_programme(db, refund_policy="negative", negative_limit=30)
    keep, dup = _pair(db, users)
    admin = users["admin"]
    _order(db, admin, keep, "50")
    o = _order(db, admin, dup, "100")
    loyalty.redeem(db, dup.id, points=100, actor=users["agent"])
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("100")), actor=admin)
    assert ledger.get_wallet(db, dup.id).balance == -30
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    w = ledger.get_wallet(db, keep.id)
    assert w.balance == 20 and w.debt == 0  # the debt was settled from the survivor's points
    assert ledger.get_wallet(db, dup.id).balance == 0
    assert check_ledger(db).ok, check_ledger(db).problems


def test_open_hold_refuses_merge(db, users):
    make_programme(db)
    keep, dup = _pair(db, users)
    _order(db, users["admin"], dup, "100")
    loyalty.reserve(db, dup.id, points=10, actor=users["agent"])
    with pytest.raises(Conflict):
        merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])


def test_merge_checks_roles_versions_and_states(db, users):
    keep, dup = _pair(db, users)
    with pytest.raises(Forbidden):
        merge.merge_customers(db, keep.id, dup.id, actor=users["agent"])
    with pytest.raises(InvalidInput):
        merge.merge_customers(db, keep.id, keep.id, actor=users["manager"])
    with pytest.raises(VersionConflict):
        merge.merge_customers(
            db, keep.id, dup.id, actor=users["manager"], merged_version=dup.version + 5
        )
    other = make_customer(db)
    service.archive_customer(db, other.id, actor=users["manager"])
    with pytest.raises(Conflict):
        merge.merge_customers(db, keep.id, other.id, actor=users["manager"])
    v = keep.version
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"], survivor_version=v)
    assert db.get(Customer, keep.id).version > v
    with pytest.raises(Conflict):  # the duplicate is archived now
        merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])


def _merge_entry(db, customer_id):
    return db.scalar(
        select(AuditEntry).where(
            AuditEntry.entity == "customer",
            AuditEntry.entity_id == str(customer_id),
            AuditEntry.action == "merge",
        )
    )


def test_merge_fills_an_empty_date_of_birth_and_never_overwrites_one(db, users):
    """The survivor without a date of birth takes the duplicate's (audited as before/after);
    one with its own keeps it; the duplicate keeps its own, restored too. Organisations have
    none, so nothing passes to or from one."""
    manager = users["manager"]
    keep = make_customer(db, name="Ava")
    dup = make_customer(db, name="Ava (old)", birth_date=date(1988, 2, 29))
    survivor, _ = merge.merge_customers(db, keep.id, dup.id, actor=manager)
    assert survivor.birth_date == date(1988, 2, 29)
    entry = _merge_entry(db, keep.id)
    assert entry.before == {"birth_date": None}
    assert entry.after["birth_date"] == "1988-02-29" and entry.after["merged_id"] == dup.id
    service.restore_customer(db, dup.id, actor=manager)
    db.expire_all()
    assert db.get(Customer, dup.id).birth_date == date(1988, 2, 29)
    assert db.get(Customer, keep.id).birth_date == date(1988, 2, 29)
    # An erasure of the survivor blanks it in the merge's audit entry too.
    privacy.erase_customer(db, keep.id, actor=manager, reason="DSR")
    db.flush()
    db.expire_all()
    assert "1988-02-29" not in str(_merge_entry(db, keep.id).after)

    own = make_customer(db, birth_date=date(1990, 1, 2))
    other = make_customer(db, birth_date=date(1991, 3, 4))
    org = make_customer(db, party_type="organisation", kind="business")
    person = make_customer(db, birth_date=date(1992, 5, 6))
    merge.merge_customers(db, own.id, other.id, actor=manager)
    merge.merge_customers(db, org.id, person.id, actor=manager)
    db.expire_all()
    assert db.get(Customer, own.id).birth_date == date(1990, 1, 2)
    assert db.get(Customer, org.id).birth_date is None
    for cid in (own.id, org.id):
        entry = _merge_entry(db, cid)
        assert entry.before is None and "birth_date" not in entry.after


def test_api_merge_and_stale_version(client, tokens, db, users):
    keep, dup = _pair(db, users)
    make_touchpoint(db, dup)
    db.flush()
    url = f"/api/v1/customers/{keep.id}/merge"
    r = client.post(url, json={"merge_id": dup.id}, headers=tokens["agent"])
    assert r.status_code == 403
    r = client.post(
        url, json={"merge_id": dup.id, "merge_version": dup.version + 1}, headers=tokens["manager"]
    )
    assert r.status_code == 409 and r.json()["code"] == "version_conflict"
    r = client.post(
        url,
        json={"merge_id": dup.id},
        headers={**tokens["manager"], "If-Match": f'"{keep.version + 3}"'},
    )
    assert r.status_code == 409
    r = client.post(
        url,
        json={"merge_id": dup.id, "version": keep.version, "merge_version": dup.version},
        headers=tokens["manager"],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["merged_id"] == dup.id and body["moved"]["touchpoints"] == 1
    assert body["customer"]["tags"] == ["north", "vip"]
    r = client.get(f"/api/v1/customers/{dup.id}", headers=tokens["manager"])
    assert r.json()["archived_at"] and r.json()["custom_fields"]["merged_into"] == keep.id
    r = client.post(url, json={"merge_id": 10**6}, headers=tokens["manager"])
    assert r.status_code == 404


def test_web_merge_for_managers(client, users, db):
    keep, dup = _pair(db, users)
    db.flush()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{keep.id}")
    assert 'id="merge-link"' in page.text
    page = web.get(f"/customers/{keep.id}/merge", params={"q": "7000000584"})
    assert page.status_code == 200 and f"/customers/{keep.id}/merge?other={dup.id}" in page.text
    page = web.get(f"/customers/{keep.id}/merge", params={"other": dup.id})
    assert 'id="merge-review"' in page.text
    stale = web.post(
        f"/customers/{keep.id}/merge",
        {"merge_id": str(dup.id), "version": str(keep.version), "merge_version": "99"},
    )
    assert stale.status_code == 409
    r = web.post(
        f"/customers/{keep.id}/merge",
        {"merge_id": str(dup.id), "version": str(keep.version), "merge_version": str(dup.version)},
    )
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Customer, dup.id).custom_fields["merged_into"] == keep.id
    page = web.get(f"/customers/{dup.id}")
    assert 'id="merged-into"' in page.text


def test_web_merge_hidden_from_agents(client, users, db):
    keep, dup = _pair(db, users)
    db.flush()
    web = Browser(client)
    web.login("agent")
    assert web.get(f"/customers/{keep.id}/merge").status_code == 403


def test_merge_on_committed_postgres_with_parallel_merges(live_pg):
    """Two merges of the same duplicate into two survivors at once: one wins, one gets 409;
    the points exist once and the ledger balances (rows locked in id order, no deadlock)."""
    from retento.auth.models import User
    from tests.factories.concurrency import run_parallel

    with live_pg.session() as s:
        boss = User(username="boss", role="manager", password_hash="x", is_active=True)
        s.add(boss)
        s.flush()
        make_programme(s)
        a = make_customer(s, name="Survivor A")
        b = make_customer(s, name="Survivor B")
        dup = make_customer(s, name="Duplicate")
        _order(s, boss, dup, "300")
        s.commit()
        ids = (a.id, b.id, dup.id, boss.id)

    def attempt(i):
        with live_pg.session() as s:
            actor = s.get(User, ids[3])
            try:
                merge.merge_customers(s, ids[i], ids[2], actor=actor)
                s.commit()
                return "ok"
            except Conflict:
                s.rollback()
                return "conflict"

    results = run_parallel(2, attempt)
    assert sorted(results) == ["conflict", "ok"]
    with live_pg.session() as s:
        wallets = {cid: ledger.get_wallet(s, cid) for cid in ids[:3]}
        balances = {cid: (w.balance if w else 0) for cid, w in wallets.items()}
        assert sorted(balances.values()) == [0, 0, 300]
        winner = ids[0] if balances[ids[0]] == 300 else ids[1]
        assert s.scalar(select(func.count()).where(Order.customer_id == winner)) == 1
        assert s.get(Customer, ids[2]).custom_fields["merged_into"] == winner
        assert check_ledger(s).ok, check_ledger(s).problems


@pytest.mark.parametrize(
    ("locale", "note"), [("en", "taken from the merged customer"), ("zh_CN", "取自被合并的客户")]
)
def test_web_review_shows_the_date_of_birth_the_survivor_takes(client, users, db, locale, note):
    keep, dup = _pair(db, users)
    dup.birth_date = date(1988, 2, 29)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/customers/{keep.id}/merge", params={"other": dup.id}).text
    row = page.split('id="merge-birth-date"', 1)[1].split("</tr>", 1)[0]
    assert note in row and row.count("1988") == 2  # the survivor's cell and the duplicate's
    keep.birth_date = date(1990, 1, 2)  # a survivor's own date stays: nothing is taken
    db.commit()
    page = web.get(f"/customers/{keep.id}/merge", params={"other": dup.id}).text
    row = page.split('id="merge-birth-date"', 1)[1].split("</tr>", 1)[0]
    assert note not in row and "1990" in row and "1988" in row
