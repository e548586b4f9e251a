"""A deleted record's id is never handed to the next record of its kind (migration 0054).

On SQLite an ``INTEGER PRIMARY KEY`` without AUTOINCREMENT numbered a new row max(id) + 1, so
after the newest record was deleted the next one took its id, and with it everything that names
records by id without a foreign key: the audit trail, notifications and their dedupe keys,
queued mails and the links they are sent with, the loyalty ledger's idempotency keys. Each test
deletes the newest record of a kind, makes a new one, and checks it got a new id and inherited
nothing; PostgreSQL (a sequence) behaves the same.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.dataio.jobs import purge_import_jobs
from retento.dataio.models import ImportJob
from retento.dataio.notifications import on_import_finished
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyJournal
from retento.mail.models import OutboxMessage
from retento.mail.service import send_queued
from retento.notifications.models import Notification
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate
from retento.surveys import distributions
from retento.surveys import service as surveys
from retento.surveys.models import SurveyInvitation
from retento.surveys.schemas import DistributionCreate, SegmentIn, SurveyUpdate
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme
from tests.mail.conftest import smtp_fixture, smtp_server_fixture  # noqa: F401 (fixtures)
from tests.surveys.conftest import small_survey_data


def _ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def _trail(client, headers, entity: str, entity_id: int) -> list[str]:
    """The actions the audit log shows for one record, newest first (as the audit page)."""
    page = client.get(
        "/api/v1/audit", params={"entity": entity, "entity_id": entity_id}, headers=headers
    )
    return [a["action"] for a in _ok(page)["items"]]


def test_a_purged_customers_id_and_audit_trail_go_to_nobody_else(client, tokens):
    h = tokens["admin"]
    old = _ok(
        client.post(
            "/api/v1/customers",
            json={"name": "Typo Person", "email": "typo@example.com"},
            headers=h,
        ),
        201,
    )
    _ok(
        client.patch(
            f"/api/v1/customers/{old['id']}",
            json={"name": "Typo Persson", "version": old["version"]},
            headers=h,
        )
    )
    r = client.delete(f"/api/v1/customers/{old['id']}", params={"purge": "true"}, headers=h)
    assert r.status_code == 204, r.text
    assert client.get(f"/api/v1/customers/{old['id']}", headers=h).status_code == 404

    new = _ok(client.post("/api/v1/customers", json={"name": "Nina New"}, headers=h), 201)
    assert new["id"] > old["id"]
    assert _trail(client, h, "customer", new["id"]) == ["create"]
    # The purged customer's trail stays where it was, with nobody to show it on.
    assert _trail(client, h, "customer", old["id"]) == ["delete", "update", "create"]


def test_a_deleted_products_id_and_audit_trail_go_to_nobody_else(client, tokens):
    h = tokens["admin"]
    old = _ok(
        client.post(
            "/api/v1/products",
            json={"name": "Misspelt Tea", "unit_price": "9.00", "unit_cost": "4.00"},
            headers=h,
        ),
        201,
    )
    assert client.delete(f"/api/v1/products/{old['id']}", headers=h).status_code == 204
    new = _ok(
        client.post(
            "/api/v1/products",
            json={"name": "Green Tea", "unit_price": "9.00", "unit_cost": "4.00"},
            headers=h,
        ),
        201,
    )
    assert new["id"] > old["id"]
    assert _trail(client, h, "product", new["id"]) == ["create"]
    assert _trail(client, h, "product", old["id"]) == ["delete", "create"]


def _order(db, user, customer, amount: str):
    p = make_product(db, unit_price=Decimal(amount))
    return orders.create_order(
        db,
        OrderCreate(
            customer_id=customer.id,
            ordered_at=utcnow() - timedelta(days=1),
            lines=[{"product_id": p.id, "quantity": 1}],
        ),
        actor=user,
    )


def test_the_order_after_a_deleted_one_earns_its_own_points(db, users, client, tokens):
    """The ledger keys an order's points by its id (``order:<id>:earn``): an order numbered
    like the deleted one found them "already earned" and earned nothing."""
    make_programme(db)
    c = make_customer(db)
    old = _order(db, users["admin"], c, "80.00")
    old_id = old.id
    orders.delete_order(db, old_id, actor=users["admin"])
    db.expire_all()
    assert ledger.get_wallet(db, c.id).balance == 0  # its 80 points were taken back

    new = _order(db, users["admin"], c, "50.00")
    assert new.id > old_id
    db.expire_all()
    assert ledger.get_wallet(db, c.id).balance == 50
    earned = db.scalars(
        select(LoyaltyJournal).where(LoyaltyJournal.idem_key == f"order:{new.id}:earn")
    ).one()
    assert earned.source_id == str(new.id) and earned.kind == "earn"
    db.commit()
    assert _trail(client, tokens["admin"], "order", new.id) == ["create"]


def _active_survey(db, users):
    s = surveys.create_survey(db, small_survey_data(), actor=users["admin"])
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["admin"])
    return s


def _invite(db, users, survey, customer):
    distributions.create_distribution(
        db,
        survey.id,
        DistributionCreate(
            channel="online",
            send=True,
            segment=SegmentIn(kind="customers", customer_ids=[customer.id]),
        ),
        actor=users["manager"],
    )
    return db.scalars(
        select(SurveyInvitation).where(
            SurveyInvitation.survey_id == survey.id, SurveyInvitation.customer_id == customer.id
        )
    ).one()


def test_a_mail_for_a_deleted_surveys_invitation_never_carries_a_newer_invitations_link(
    db, users, smtp
):
    """The invitation mail is queued with the invitation's id and gets its personal link when
    sent. Deleting the survey deletes the invitation but not the queued mail: had the next
    invitation (someone else's) taken the id, Ann's mail would have gone out with Bob's link."""
    recorder, settings = smtp
    ann = make_customer(db, name="Ann", email="ann@example.com", consent_email=True)
    old = _active_survey(db, users)
    old_inv = _invite(db, users, old, ann).id
    (queued,) = db.scalars(
        select(OutboxMessage).where(OutboxMessage.related_type == "survey_invitation")
    ).all()
    assert queued.related_id == old_inv and queued.status == "queued"
    surveys.delete_survey(db, old.id, actor=users["admin"])
    assert db.get(SurveyInvitation, old_inv) is None

    bob = make_customer(db, name="Bob", email="bob@example.com", consent_email=True)
    new_inv = _invite(db, users, _active_survey(db, users), bob).id
    assert new_inv > old_inv
    report = send_queued(db, settings=settings)
    assert (report.sent, report.cancelled) == (1, 1)
    assert [m["X-Envelope-To"] for m in recorder.messages] == ["bob@example.com"]
    db.refresh(queued)
    assert queued.status == "cancelled"


def test_the_import_after_a_cleaned_up_one_is_notified(db, users):
    """Import notifications are deduplicated by the job's id (``import_finished:job:<id>``):
    a job numbered like one the 30-day clean-up deleted notified nobody."""
    manager = users["manager"]

    def job(**over) -> ImportJob:
        j = ImportJob(
            entity="customers",
            filename="customers.csv",
            content=b"name\nAnn\n",
            status="done",
            rows=1,
            created_by_id=manager.id,
            **over,
        )
        db.add(j)
        db.flush()
        return j

    def notices() -> list[str]:
        return list(
            db.scalars(
                select(Notification.link)
                .where(Notification.user_id == manager.id, Notification.kind == "import_finished")
                .order_by(Notification.id)
            )
        )

    long_ago = utcnow() - timedelta(days=40)
    old = job(created_at=long_ago, updated_at=long_ago)
    on_import_finished(db, old)
    assert notices() == [f"/imports/{old.id}"]
    old_id = old.id
    assert purge_import_jobs(db) == 1
    assert db.scalar(select(func.count()).select_from(ImportJob)) == 0

    new = job()
    assert new.id > old_id
    on_import_finished(db, new)
    assert notices() == [f"/imports/{old_id}", f"/imports/{new.id}"]
