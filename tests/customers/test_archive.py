"""Deleting a customer archives it: hidden from lists, search, scoring and surveys, history kept,
restorable and audited; a hard delete is refused while financial records exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from retento.audit.models import AuditEntry
from retento.core.errors import Conflict, Forbidden, NotFound
from retento.customers import privacy, service
from retento.customers.models import Customer
from retento.orders import service as orders
from retento.orders.models import Order, Refund
from retento.orders.schemas import RefundCreate
from retento.scoring.queries import customer_summary
from retento.surveys import distributions as survey_distributions
from retento.surveys import service as surveys
from retento.surveys.jobs import send_reminders
from retento.surveys.models import SurveyInvitation
from retento.surveys.schemas import DistributionCreate, SegmentIn
from retento.touchpoints.models import Touchpoint
from tests.factories import make_customer, make_order, make_product, make_touchpoint
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    """A logged-out browser-like client (tests/web/conftest.py)."""
    return Browser(client)


def _audit(db, cid, action):
    return db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "customer",
            AuditEntry.entity_id == str(cid),
            AuditEntry.action == action,
        )
    ).all()


def _listed(db, users, **filters):
    rows, total = service.list_customers(db, actor=users["analyst"], **filters)
    return {r.id for r in rows}, total


def test_archive_hides_from_list_and_search_and_restore_brings_back(db, users):
    keep = make_customer(db, name="Wang Fang", email="wf@example.com")
    gone = make_customer(db, name="Wang Lei", email="wl@example.com")
    service.archive_customer(db, gone.id, actor=users["manager"])
    assert _listed(db, users, q="wang") == ({keep.id}, 1)
    assert _listed(db, users, q="wl@example.com") == (set(), 0)
    assert _listed(db, users, q="wang", archived=True) == ({gone.id}, 1)
    assert _listed(db, users, q="wang", archived=None) == ({keep.id, gone.id}, 2)
    # Still readable by id, with who and when.
    got = service.get_customer(db, gone.id, actor=users["agent"])
    assert got.archived_at is not None and got.archived_by_id == users["manager"].id

    service.restore_customer(db, gone.id, actor=users["admin"])
    assert _listed(db, users, q="wang") == ({keep.id, gone.id}, 2)
    assert got.archived_at is None and got.archived_by_id is None
    (archived,) = _audit(db, gone.id, "archive")
    (restored,) = _audit(db, gone.id, "restore")
    assert (
        archived.actor_name == "manager" and archived.after["archived_by_id"] == users["manager"].id
    )
    assert restored.before["archived_at"] == archived.after["archived_at"]
    assert restored.after == {"archived_at": None, "archived_by_id": None}


def test_archive_is_idempotent_and_keeps_orders_complaints_and_touchpoints(db, users):
    c = make_customer(db)
    order = make_order(db, c, lines=[(make_product(db), 2)])
    tp = make_touchpoint(db, c)
    complaint = make_complaint(db, users["admin"], customer_id=c.id)
    revenue_before = db.scalar(select(func.sum(Order.revenue)))
    service.archive_customer(db, c.id, actor=users["manager"])
    first = service.get_customer(db, c.id, actor=users["manager"]).archived_at
    service.archive_customer(db, c.id, actor=users["admin"])  # a retried request
    assert service.get_customer(db, c.id, actor=users["manager"]).archived_at == first
    assert len(_audit(db, c.id, "archive")) == 1
    assert db.get(Order, order.id) is not None and db.get(Touchpoint, tp.id) is not None
    assert db.get(type(complaint), complaint.id) is not None
    # Revenue reports over orders still count the archived customer's orders.
    assert db.scalar(select(func.sum(Order.revenue))) == revenue_before


def test_archive_and_restore_need_manager_or_admin(db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    for role in ("agent", "analyst"):
        with pytest.raises(Forbidden):
            service.archive_customer(db, c.id, actor=users[role])
    service.archive_customer(db, c.id, actor=users["manager"])
    with pytest.raises(Forbidden):
        service.restore_customer(db, c.id, actor=users["agent"])
    with pytest.raises(NotFound):
        service.archive_customer(db, 99_999_999, actor=users["manager"])


def test_erased_customer_cannot_be_restored_or_edited(db, users):
    from retento.customers.schemas import CustomerUpdate

    c = make_customer(db)
    privacy.erase_customer(db, c.id, actor=users["admin"])
    with pytest.raises(Conflict):
        service.restore_customer(db, c.id, actor=users["admin"])
    with pytest.raises(Conflict):
        service.update_customer(db, c.id, CustomerUpdate(name="Back"), actor=users["admin"])
    assert _listed(db, users, archived=True)[0] >= {c.id}


def test_purge_is_refused_while_financial_records_exist(db, users):
    c = make_customer(db, name="Dup Record", email="dup@example.com")
    make_order(db, c, lines=[(make_product(db), 1)])
    with pytest.raises(Conflict) as exc:
        service.purge_customer(db, c.id, actor=users["admin"])
    assert "1 orders" in exc.value.message
    assert db.get(Customer, c.id) is not None
    other = make_customer(db)
    make_complaint(db, users["admin"], customer_id=other.id)
    with pytest.raises(Conflict) as exc:
        service.purge_customer(db, other.id, actor=users["admin"])
    assert "1 complaints" in exc.value.message


def test_purge_of_a_mistaken_record_deletes_it_and_keeps_no_personal_data(db, users):
    c = make_customer(db, name="Typo Person", email="typo@example.com", phone="13800000000")
    make_touchpoint(db, c)
    cid = c.id
    with pytest.raises(Forbidden):
        service.purge_customer(db, cid, actor=users["agent"])
    service.purge_customer(db, cid, actor=users["manager"])
    assert db.get(Customer, cid) is None
    assert db.scalar(select(func.count()).where(Touchpoint.customer_id == cid)) == 0
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "customer", AuditEntry.entity_id == str(cid))
    ).all()
    dumped = repr([(e.before, e.after) for e in entries])
    assert "typo@example.com" not in dumped and "Typo Person" not in dumped
    (deleted,) = [e for e in entries if e.action == "delete"]
    assert deleted.before["personal_data"] == "not kept"


def test_a_purged_customer_s_waiting_mail_is_not_sent_and_keeps_no_address(db, users):
    """The outbox rows of a purged customer outlived it (customer_id set to null) still
    queued: a loyalty notice, a win-back e-mail went out to the deleted customer's address."""
    import retento.loyalty.emails  # noqa: F401 - registers the loyalty mail kinds
    from retento.mail.models import OutboxMessage
    from retento.mail.service import Email, queue_email

    c = make_customer(db, name="Typo Person", email="typo@example.com")
    other = make_customer(db, email="stays@example.com")
    mails = [
        queue_email(
            db,
            Email(
                recipient=who.email, subject="Your points", body_text=f"Dear {who.name}",
                kind="loyalty_expiring", customer_id=who.id,
            ),
            actor=None,
        ).id
        for who in (c, other)
    ]  # fmt: skip
    service.purge_customer(db, c.id, actor=users["manager"])
    db.expire_all()
    gone, kept = (db.get(OutboxMessage, i) for i in mails)
    assert (gone.status, gone.recipient, gone.body_text) == ("cancelled", "[erased]", "")
    assert "Typo Person" not in repr((gone.subject, gone.last_error))
    assert (kept.status, kept.recipient) == ("queued", "stays@example.com")


def test_database_refuses_to_cascade_customer_deletes_into_orders_and_complaints(db, users):
    c = make_customer(db)
    make_order(db, c, lines=[(make_product(db), 1)])
    db.flush()
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(text("DELETE FROM customers WHERE id = :id"), {"id": c.id})
    other = make_customer(db)
    make_complaint(db, users["admin"], customer_id=other.id)
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(text("DELETE FROM customers WHERE id = :id"), {"id": other.id})
    assert db.scalar(select(func.count()).where(Order.customer_id == c.id)) == 1


def test_an_order_with_refunds_cannot_be_deleted(db, users, client, tokens):
    c = make_customer(db)
    o = make_order(db, c, lines=[(make_product(db), 2)])
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("5.00")), actor=users["admin"])
    db.commit()
    r = client.delete(f"/api/v1/orders/{o.id}", headers=tokens["admin"])
    assert r.status_code == 409, r.text
    assert db.scalar(select(func.count()).where(Refund.order_id == o.id)) == 1
    # Without refunds an order entered by mistake can still be deleted.
    o2 = make_order(db, c, lines=[(make_product(db), 1)])
    db.commit()
    assert client.delete(f"/api/v1/orders/{o2.id}", headers=tokens["admin"]).status_code == 204


def test_scoring_leaves_archived_customers_out(db, users):
    a, b = make_customer(db), make_customer(db)
    for c in (a, b):
        make_order(
            db, c, lines=[(make_product(db), 1)], ordered_at=datetime(2024, 1, 5, tzinfo=UTC)
        )
    service.archive_customer(db, b.id, actor=users["manager"])
    ids = set(customer_summary(db, datetime(2025, 1, 1, tzinfo=UTC))["customer_id"])
    assert a.id in ids and b.id not in ids


def _survey(db, users):
    from retento.surveys.schemas import SurveyUpdate
    from tests.surveys.conftest import small_survey_data

    s = surveys.create_survey(db, small_survey_data(), actor=users["admin"])
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["admin"])
    return s


def _invited(db, dist):
    return set(
        db.scalars(
            select(SurveyInvitation.customer_id).where(SurveyInvitation.distribution_id == dist.id)
        )
    )


def test_survey_distributions_skip_archived_erased_and_unconsenting_customers(db, users):
    def customer(**consent):
        given = {"consent_email": False, "consent_sms": False, "consent_phone": False}
        return make_customer(db, email=f"c{len(consent)}@example.com", **(given | consent))

    email_ok = customer(consent_email=True)
    sms_ok = customer(consent_sms=True)
    phone_ok = customer(consent_phone=True)
    none = customer(consent_profiling=True)
    archived = customer(consent_email=True, consent_phone=True)
    erased = customer(consent_email=True, consent_phone=True)
    service.archive_customer(db, archived.id, actor=users["manager"])
    privacy.erase_customer(db, erased.id, actor=users["manager"])
    everyone = [email_ok, sms_ok, phone_ok, none, archived, erased]

    def distribute(channel):
        # A fresh survey each time: an open invitation to the same survey is not repeated.
        dist, links = survey_distributions.create_distribution(
            db,
            _survey(db, users).id,
            DistributionCreate(
                channel=channel,
                segment=SegmentIn(kind="customers", customer_ids=[c.id for c in everyone]),
            ),
            actor=users["manager"],
        )
        return dist, links

    dist, links = distribute("online")
    assert _invited(db, dist) == {email_ok.id, sms_ok.id} == {lk.customer_id for lk in links}
    entry = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "survey_distribution", AuditEntry.entity_id == str(dist.id)
        )
    ).one()
    assert entry.after["skipped_archived"] == 2 and entry.after["skipped_no_consent"] == 2
    dist, _ = distribute("phone")
    assert _invited(db, dist) == {phone_ok.id}
    dist, _ = distribute("mail")
    assert _invited(db, dist) == {email_ok.id, sms_ok.id, phone_ok.id}
    # The "all" segment obeys the same rules.
    dist, _ = survey_distributions.create_distribution(
        db,
        _survey(db, users).id,
        DistributionCreate(channel="onsite", segment=SegmentIn(kind="all")),
        actor=users["manager"],
    )
    invited = _invited(db, dist)
    assert not invited & {none.id, archived.id, erased.id}


def test_reminders_skip_customers_archived_after_the_invitation(db, users):
    s = _survey(db, users)
    stays = make_customer(db, email="s@example.com", consent_email=True)
    leaves = make_customer(db, email="l@example.com", consent_email=True)
    sent = datetime.now(UTC) - timedelta(days=10)
    dist, _ = survey_distributions.create_distribution(
        db,
        s.id,
        DistributionCreate(
            channel="online",
            send=True,
            segment=SegmentIn(kind="customers", customer_ids=[stays.id, leaves.id]),
        ),
        actor=users["manager"],
        now=sent,
    )
    service.archive_customer(db, leaves.id, actor=users["manager"])
    assert send_reminders(db, now=sent + timedelta(days=5)) == 1
    reminded = db.scalars(
        select(SurveyInvitation.customer_id).where(SurveyInvitation.reminder_count > 0)
    ).all()
    assert reminded == [stays.id]


def test_api_delete_archives_and_archive_restore_endpoints(client, tokens, db):
    c = make_customer(db, name="Api Person")
    db.commit()
    h = tokens["manager"]
    assert client.delete(f"/api/v1/customers/{c.id}", headers=h).status_code == 204
    assert client.delete(f"/api/v1/customers/{c.id}", headers=h).status_code == 204
    r = client.get("/api/v1/customers", params={"archived": "true"}, headers=h)
    assert [x["id"] for x in r.json()["items"]] == [c.id]
    assert r.json()["items"][0]["archived_at"] is not None
    r = client.get("/api/v1/customers", headers=h)
    assert c.id not in [x["id"] for x in r.json()["items"]]
    r = client.post(f"/api/v1/customers/{c.id}/restore", headers=h)
    assert r.status_code == 200 and r.json()["archived_at"] is None
    r = client.post(f"/api/v1/customers/{c.id}/archive", headers=h)
    assert r.status_code == 200 and r.json()["archived_by_id"] is not None
    assert (
        client.post(f"/api/v1/customers/{c.id}/restore", headers=tokens["agent"]).status_code == 403
    )
    assert client.post("/api/v1/customers/99999999/archive", headers=h).status_code == 404


def test_api_purge_refused_with_orders_and_allowed_without(client, tokens, db):
    with_orders = make_customer(db)
    make_order(db, with_orders, lines=[(make_product(db), 1)])
    mistake = make_customer(db)
    db.commit()
    h = tokens["admin"]
    r = client.delete(f"/api/v1/customers/{with_orders.id}", params={"purge": "true"}, headers=h)
    assert r.status_code == 409 and "archive" in r.json()["detail"]
    assert (
        client.get(f"/api/v1/customers/{with_orders.id}", headers=h).json()["archived_at"] is None
    )
    r = client.delete(f"/api/v1/customers/{mistake.id}", params={"purge": "true"}, headers=h)
    assert r.status_code == 204
    assert client.get(f"/api/v1/customers/{mistake.id}", headers=h).status_code == 404


def test_web_archive_button_banner_restore_and_list_filter(web, db, users):
    c = make_customer(db, name="Zhou Web")
    db.commit()
    web.login("manager")
    page = web.get(f"/customers/{c.id}").text
    assert 'id="archive-button"' in page and 'id="archived-banner"' not in page
    assert 'data-confirm="Archive this customer?' in page
    r = web.post(f"/customers/{c.id}/archive")
    assert r.status_code == 303 and r.headers["location"] == f"/customers/{c.id}"
    page = web.get(f"/customers/{c.id}").text
    assert 'id="archived-banner"' in page and 'id="restore-button"' in page
    assert 'id="archive-button"' not in page
    assert "Zhou Web" not in web.get("/customers?q=zhou").text.split("customer-table")[1]
    listed = web.get("/customers?q=zhou&archived=1").text
    assert f'href="/customers/{c.id}"' in listed and "Archived" in listed
    assert web.post(f"/customers/{c.id}/restore").status_code == 303
    assert 'id="archived-banner"' not in web.get(f"/customers/{c.id}").text


def test_web_archive_is_forbidden_for_agents_and_shown_in_chinese(web, db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    users["manager"].locale = "zh_CN"
    db.commit()
    web.login("agent")
    page = web.get(f"/customers/{c.id}").text
    assert 'id="archive-button"' not in page and 'id="erase-link"' not in page
    assert web.post(f"/customers/{c.id}/archive").status_code == 403
    web.login("manager")
    assert web.post(f"/customers/{c.id}/archive").status_code == 303
    zh = web.get(f"/customers/{c.id}").text
    assert "已归档" in zh and ">恢复<" in zh and "个人信息" in zh


def test_full_csv_export_keeps_archived_customers_and_the_list_export_follows_the_filter(db, users):
    from retento.dataio.service import export_csv

    active = make_customer(db, external_id="KEEP-1")
    gone = make_customer(db, external_id="GONE-1")
    service.archive_customer(db, gone.id, actor=users["manager"])
    full = "".join(export_csv(db, "customers", actor=users["analyst"]))
    assert "KEEP-1" in full and "GONE-1" in full  # so the archived customer's orders re-import
    listed = "".join(
        export_csv(db, "customers", actor=users["analyst"], filters={"archived": False})
    )
    assert "KEEP-1" in listed and "GONE-1" not in listed
    assert active.id != gone.id
