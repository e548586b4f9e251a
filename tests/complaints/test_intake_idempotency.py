"""A complaint is recorded once per submission (migration 0039): a double click on the public
form or the agent's intake form, or a client retrying, recorded it twice (two tracking codes,
two acknowledgement e-mails, two SLA clocks). Both forms carry a key drawn with the page, the
APIs take ``Idempotency-Key``; a repeat returns the first complaint, the same key with other
details is refused and the form then draws a new key."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from retento.complaints import public_intake, service
from retento.complaints.models import Complaint
from retento.complaints.public import RateLimiter
from retento.complaints.schemas import ComplaintCreate, PublicComplaintIn
from retento.core.errors import Conflict
from retento.core.migrate import downgrade, upgrade
from retento.customers.models import Customer
from retento.mail.models import OutboxMessage
from tests.complaints.test_pages import category_id, new_form
from tests.factories import live_shared, make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.race import statuses
from tests.factories.raw_rows import insert_customer

# One database for the module, put back to its migrated state before each test.
live_pg_module, live_pg = live_shared.live_pg_module, live_shared.live_pg
migrated_db_url = live_shared.migrated_db_url  # at head; on PostgreSQL a copy of the template

KEY = re.compile(r'name="complaint_key" value="([^"]*)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _count(db, *where) -> int:
    return db.scalar(select(func.count()).select_from(Complaint).where(*where))


def _acks(db) -> int:
    return db.scalar(select(func.count()).where(OutboxMessage.kind == "complaint_ack"))


def _public(**over) -> PublicComplaintIn:
    data = {
        "name": "Vera",
        "email": "vera@example.com",
        "category": "delivery",
        "subject": "Parcel lost",
        "description": "The parcel never arrived at my door.",
    }
    return PublicComplaintIn(**(data | over))


def test_service_retry_returns_the_first_complaint_and_acknowledges_once(db, users):
    c = make_customer(db, email="ava@example.com")
    data = ComplaintCreate(
        customer_id=c.id, category="delivery", subject="Late", description="Two weeks late."
    )
    first = service.create_complaint(
        db, data, actor=users["agent"], source="api", idempotency_key="k-1"
    )
    again, created = service.create_complaint_once(
        db, data, actor=users["agent"], source="api", idempotency_key="k-1"
    )
    assert again.id == first.id and not created
    assert _count(db) == 1 and _acks(db) == 1
    # The key with other details (another subject, another customer) is refused by name.
    for other in (
        data.model_copy(update={"subject": "Broken"}),
        data.model_copy(update={"customer_id": make_customer(db).id}),
    ):
        with pytest.raises(Conflict) as exc:
            service.create_complaint(db, other, actor=users["agent"], idempotency_key="k-1")
        assert exc.value.field == "Idempotency-Key"
    # Without a key each call is a complaint of its own.
    service.create_complaint(db, data, actor=users["agent"], source="api")
    assert _count(db) == 2


def test_public_retry_makes_one_complaint_and_one_customer(db):
    first = public_intake.submit_public(db, _public(), idempotency_key="form-1")
    again = public_intake.submit_public(db, _public(), idempotency_key="form-1")
    assert again.id == first.id and _count(db) == 1 and _acks(db) == 1
    assert db.scalar(select(func.count()).where(Customer.email == "vera@example.com")) == 1
    # Someone else's details with the key get no receipt of Vera's complaint.
    with pytest.raises(Conflict):
        public_intake.submit_public(db, _public(email="eve@example.com"), idempotency_key="form-1")
    with pytest.raises(Conflict):
        public_intake.submit_public(db, _public(subject="Other"), idempotency_key="form-1")


def test_api_idempotency_key(client, db, users, tokens):
    c = make_customer(db)
    db.commit()
    body = {"customer_id": c.id, "category": "delivery", "subject": "Late", "description": "x" * 12}
    h = {**tokens["agent"], "Idempotency-Key": "api-1"}
    r1 = client.post("/api/v1/complaints", json=body, headers=h)
    r2 = client.post("/api/v1/complaints", json=body, headers=h)
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] == r2.json()["id"]
    r = client.post("/api/v1/complaints", json={**body, "subject": "Other"}, headers=h)
    assert r.status_code == 409 and r.json()["field"] == "Idempotency-Key"
    r = client.post("/api/v1/complaints", json=body, headers={**h, "Idempotency-Key": "x" * 121})
    assert r.status_code == 422
    pub = {"name": "Vera", "email": "vera@example.com", "category": "delivery"}
    pub |= {"subject": "Parcel lost", "description": "The parcel never arrived."}
    codes = {
        client.post(
            "/api/v1/public/complaints", json=pub, headers={"Idempotency-Key": "pub-1"}
        ).json()["tracking_code"]
        for _ in range(2)
    }
    assert len(codes) == 1
    db.expire_all()
    assert _count(db) == 2


def test_public_form_sent_twice_records_once_and_back_with_new_details_gets_a_new_key(client, db):
    page = client.get("/complain")
    key = KEY.search(page.text).group(1)
    assert len(key) == 32
    form = {
        "csrf_token": CSRF.search(page.text).group(1),
        "complaint_key": key,
        "name": "Visitor Vera",
        "email": "vera@example.com",
        "category": "delivery",
        "subject": "Parcel lost",
        "description": "The parcel never arrived at my door.",
    }
    r1 = client.post("/complain", data=form, follow_redirects=False)
    r2 = client.post("/complain", data=form, follow_redirects=False)
    assert r1.status_code == r2.status_code == 303
    assert r1.headers["location"] == r2.headers["location"]
    db.expire_all()
    assert _count(db) == 1 and _acks(db) == 1
    # Back, a second complaint typed into the same page: refused once, with a fresh key.
    r = client.post("/complain", data={**form, "subject": "Wrong colour"})
    assert r.status_code == 422 and "already sent with other details" in r.text
    fresh = KEY.search(r.text).group(1)
    assert fresh and fresh != key and 'value="Wrong colour"' in r.text
    r = client.post(
        "/complain",
        data={**form, "subject": "Wrong colour", "complaint_key": fresh},
        follow_redirects=False,
    )
    assert r.status_code == 303
    db.expire_all()
    assert _count(db) == 2


def test_agent_intake_form_double_click_records_once(client, db, users):
    from tests.web.conftest import Browser

    c = make_customer(db)
    db.commit()
    b = Browser(client)
    b.login("agent")
    page = b.get("/complaints/new")
    key = KEY.search(page.text).group(1)
    form = new_form(c.id, category_id(db)) | {"complaint_key": key}
    r1 = b.post("/complaints/new", data=form, follow_redirects=False)
    r2 = b.post("/complaints/new", data=form, follow_redirects=False)
    assert r1.status_code == r2.status_code == 303
    assert r1.headers["location"] == r2.headers["location"]
    db.expire_all()
    assert _count(db, Complaint.customer_id == c.id) == 1


def test_parallel_public_submissions_with_one_key_record_one_complaint(live_pg):
    live_pg.app.state.complaint_rate_limiter = RateLimiter(max_events=100)
    body = {"name": "Nina", "email": "nina@example.com", "category": "delivery"}
    body |= {"subject": "Parcel lost", "description": "The parcel never arrived."}
    codes = []

    def submit(i: int) -> int:
        with live_pg.client() as client:
            r = client.post(
                "/api/v1/public/complaints", json=body, headers={"Idempotency-Key": "pub-race"}
            )
            if r.status_code == 201:
                codes.append(r.json()["tracking_code"])
            return r.status_code

    assert statuses(run_parallel(8, submit)) == {201: 8}
    assert len(set(codes)) == 1
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1
        # No second customer record for the new address from a losing submission.
        assert s.scalar(select(func.count()).where(Customer.email == "nina@example.com")) == 1
        assert s.scalar(select(func.count()).where(OutboxMessage.kind == "complaint_ack")) == 1


def test_parallel_api_creates_with_one_key_record_one_complaint(live_pg):
    from tests.factories.race import bearer_headers, post_each

    with live_pg.session() as s:
        agent = make_user(s, username="racer", role="agent")
        c = make_customer(s)
        s.commit()
        headers = bearer_headers(s, agent, 8)
        s.commit()
        cid = c.id
    body = {"customer_id": cid, "category": "delivery", "subject": "Late", "description": "x" * 12}
    codes = statuses(
        run_parallel(
            8,
            post_each(
                live_pg,
                "/api/v1/complaints",
                lambda i: {"json": body, "headers": {**headers[i], "Idempotency-Key": "k"}},
            ),
        )
    )
    assert codes == {201: 8}
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(Complaint)) == 1


def test_migration_0039_up_down(migrated_db_url):
    from datetime import UTC, datetime

    from sqlalchemy import create_engine

    eng = create_engine(migrated_db_url)
    try:
        cols = {c["name"] for c in inspect(eng).get_columns("complaints")}
        assert "idempotency_key" in cols
        now = datetime.now(UTC)
        with eng.begin() as conn:
            insert_customer(conn, 7, now)
            cat = conn.execute(text("SELECT min(id) FROM complaint_categories")).scalar()
            for i, key in enumerate(("a", None, None)):
                conn.execute(
                    text(
                        "INSERT INTO complaints (tracking_code, customer_id, kind, channel, "
                        "category_id, subject, description, severity, emotion, purposes, status, "
                        "value_class, received_at, clock_started_at, first_response_breached, "
                        "resolution_breached, first_response_flag, sla_flag, flagged, "
                        "reopen_count, created_at, updated_at, version, idempotency_key) "
                        "VALUES (:code, 7, 'complaint', 'phone', :cat, 's', 'd', 1, 'calm', "
                        "'[]', 'accepted', 'ordinary', :t, :t, false, false, 'green', 'green', "
                        "false, 0, :t, :t, 1, :key)"
                    ),
                    {"code": f"RC-{i}", "cat": cat, "t": now, "key": key},
                )
        with pytest.raises(IntegrityError), eng.begin() as conn:
            conn.execute(
                text("UPDATE complaints SET idempotency_key = 'a' WHERE tracking_code = 'RC-1'")
            )
    finally:
        eng.dispose()
    downgrade(migrated_db_url, "0038")
    eng = create_engine(migrated_db_url)
    try:
        cols = {c["name"] for c in inspect(eng).get_columns("complaints")}
        assert "idempotency_key" not in cols
    finally:
        eng.dispose()
    upgrade(migrated_db_url)


def _events(db, complaint_id, kind):
    from retento.complaints.models import ComplaintEvent

    return db.scalars(
        select(ComplaintEvent).where(
            ComplaintEvent.complaint_id == complaint_id, ComplaintEvent.kind == kind
        )
    ).all()


def _messages(db, event_id):
    return db.scalar(
        select(func.count()).where(
            OutboxMessage.kind == "complaint_message", OutboxMessage.related_id == event_id
        )
    )


def test_message_and_reply_sent_twice_are_recorded_and_emailed_once(db, users):
    from retento.complaints.schemas import NoteIn

    c = make_customer(db, email="ava@example.com")
    comp = service.create_complaint(
        db,
        ComplaintCreate(
            customer_id=c.id, category="delivery", subject="Late", description="x" * 12
        ),
        actor=users["agent"],
    )
    msg = NoteIn(kind="message", body="We are on it.")
    a = service.add_note(db, comp.id, msg, actor=users["agent"], idempotency_key="m-1")
    b = service.add_note(db, comp.id, msg, actor=users["agent"], idempotency_key="m-1")
    assert a.id == b.id and len(_events(db, comp.id, "message")) == 1
    assert _messages(db, a.id) == 1  # e-mailed to the customer once
    with pytest.raises(Conflict) as exc:
        service.add_note(
            db,
            comp.id,
            NoteIn(kind="message", body="Other"),
            actor=users["agent"],
            idempotency_key="m-1",
        )
    assert exc.value.field == "Idempotency-Key"
    r1 = service.public_reply(db, comp.tracking_code, "Thanks!", idempotency_key="r-1")
    r2 = service.public_reply(db, comp.tracking_code, "Thanks!", idempotency_key="r-1")
    assert r1.id == r2.id and len(_events(db, comp.id, "customer_reply")) == 1
    # The same key on another kind of entry is another entry.
    service.add_note(
        db,
        comp.id,
        NoteIn(kind="note", body="We are on it."),
        actor=users["agent"],
        idempotency_key="m-1",
    )
    assert len(_events(db, comp.id, "note")) == 1


def test_note_and_reply_forms_double_clicked_record_once(client, db, users):
    from tests.web.conftest import Browser

    c = make_customer(db, email="ava@example.com")
    comp = service.create_complaint(
        db,
        ComplaintCreate(
            customer_id=c.id,
            category="delivery",
            subject="Late",
            description="x" * 12,
            assignee_id=users["agent"].id,
        ),
        actor=users["manager"],
    )
    db.commit()
    b = Browser(client)
    b.login("agent")
    page = b.get(f"/complaints/{comp.id}")
    key = re.search(r'name="note_key" value="([^"]+)"', page.text).group(1)
    form = {"note_kind": "note", "body": "Called, no answer.", "note_key": key}
    for _ in range(2):
        r = b.post(f"/complaints/{comp.id}/notes", data=form, follow_redirects=False)
        assert r.status_code == 303
    db.expire_all()
    assert len(_events(db, comp.id, "note")) == 1
    # The same page sent back with another text: refused once, then a fresh key records it.
    r = b.post(f"/complaints/{comp.id}/notes", data={**form, "body": "Second call."})
    assert r.status_code == 409 and "already sent with other details" in r.text
    fresh = re.search(r'name="note_key" value="([^"]+)"', r.text).group(1)
    assert fresh != key
    r = b.post(
        f"/complaints/{comp.id}/notes",
        data={**form, "body": "Second call.", "note_key": fresh},
        follow_redirects=False,
    )
    assert r.status_code == 303

    status = client.get(f"/complain/status/{comp.tracking_code}")
    reply_key = re.search(r'name="reply_key" value="([^"]+)"', status.text).group(1)
    token = CSRF.search(status.text).group(1)
    for _ in range(2):
        r = client.post(
            f"/complain/status/{comp.tracking_code}/reply",
            data={"csrf_token": token, "body": "Any news?", "reply_key": reply_key},
            follow_redirects=False,
        )
        assert r.status_code == 303
    db.expire_all()
    assert len(_events(db, comp.id, "customer_reply")) == 1


def test_parallel_public_replies_with_one_key_record_one(live_pg):
    live_pg.app.state.complaint_rate_limiter = RateLimiter(max_events=100)
    with live_pg.session() as s:
        agent = make_user(s, username="replier", role="agent")
        c = make_customer(s, email="r@example.com")
        s.flush()
        comp = service.create_complaint(
            s,
            ComplaintCreate(
                customer_id=c.id, category="delivery", subject="Late", description="x" * 12
            ),
            actor=agent,
        )
        s.commit()
        code, cid = comp.tracking_code, comp.id

    def reply(i: int) -> int:
        with live_pg.client() as client:
            return client.post(
                f"/api/v1/public/complaints/{code}/replies",
                json={"body": "Any news?"},
                headers={"Idempotency-Key": "reply-race"},
            ).status_code

    assert statuses(run_parallel(8, reply)) == {201: 8}
    with live_pg.session() as s:
        assert len(_events(s, cid, "customer_reply")) == 1


def test_a_retried_submission_is_not_counted_against_the_rate_limit(app, client, db):
    app.state.complaint_rate_limiter = RateLimiter(max_events=2)
    body = {"name": "Vera", "email": "vera@example.com", "category": "delivery"}
    body |= {"subject": "Parcel lost", "description": "The parcel never arrived."}
    h = {"Idempotency-Key": "slow-network"}
    codes = [client.post("/api/v1/public/complaints", json=body, headers=h) for _ in range(5)]
    assert [r.status_code for r in codes] == [201] * 5
    assert len({r.json()["tracking_code"] for r in codes}) == 1
    # One hit was counted: one more new submission fits, the next is limited.
    other = {**body, "subject": "Second parcel"}
    assert client.post("/api/v1/public/complaints", json=other).status_code == 201
    assert client.post("/api/v1/public/complaints", json=other).status_code == 429
    # The same key with someone else's details is not a retry: counted, then limited.
    r = client.post(
        "/api/v1/public/complaints", json={**body, "email": "eve@example.com"}, headers=h
    )
    assert r.status_code == 429
