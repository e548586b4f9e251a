"""A note, a message to the customer or a customer's reply of nothing but spaces was recorded:
a blank message was e-mailed to the customer and counted as the first response, so the SLA
clock was met by nothing. The API refuses it (422 naming ``body``, in the reader's language),
nothing is recorded, queued or answered; text with spaces around it is kept trimmed.
SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from retento.complaints.models import Complaint, ComplaintEvent
from retento.mail.models import OutboxMessage
from tests.factories.complaints import make_complaint


@pytest.fixture
def complaint(db, users):
    comp = make_complaint(db, actor=users["manager"], contact_email="kim@example.com")
    db.commit()
    return comp


def _entries(db, complaint_id: int) -> int:
    db.expire_all()
    return db.scalar(
        select(func.count()).where(
            ComplaintEvent.complaint_id == complaint_id,
            ComplaintEvent.kind.in_(("note", "message", "customer_reply")),
        )
    )


@pytest.mark.parametrize("kind", ["note", "message", "customer_reply"])
@pytest.mark.parametrize(("locale", "said"), [("en", "must not be blank"), ("zh-CN", "不能为空")])
def test_a_blank_entry_is_refused_and_nothing_is_sent(
    client, tokens, db, complaint, kind, locale, said
):
    mails = db.scalar(select(func.count()).select_from(OutboxMessage))
    r = client.post(
        f"/api/v1/complaints/{complaint.id}/notes",
        json={"body": "  \n\t ", "kind": kind},
        headers={**tokens["manager"], "Accept-Language": locale},
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "body"
    assert said in r.json()["detail"]
    assert _entries(db, complaint.id) == 0
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == mails
    assert db.get(Complaint, complaint.id).first_responded_at is None


def test_a_message_is_kept_trimmed_and_answers_first(client, tokens, db, complaint):
    r = client.post(
        f"/api/v1/complaints/{complaint.id}/notes",
        json={"body": "  We are sending a new vase.\n", "kind": "message"},
        headers=tokens["manager"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["body"] == "We are sending a new vase."
    db.expire_all()
    assert db.get(Complaint, complaint.id).first_responded_at is not None


def test_the_customer_s_blank_reply_is_refused(client, db, complaint):
    r = client.post(
        f"/api/v1/public/complaints/{complaint.tracking_code}/replies", json={"body": "   "}
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "body"
    assert _entries(db, complaint.id) == 0


def test_a_blank_description_or_plan_is_refused(client, tokens, db, users, complaint):
    """The forms refuse them; the API kept a complaint described by spaces and an improvement
    planned with spaces."""
    r = client.post(
        "/api/v1/complaints",
        json={
            "customer_id": complaint.customer_id,
            "category": "delivery",
            "subject": "Spaces",
            "description": "   ",
        },
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "description", r.text
    r = client.patch(
        f"/api/v1/complaints/{complaint.id}",
        json={"description": " \n "},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "description", r.text
    db.expire_all()
    assert db.get(Complaint, complaint.id).description.strip()
    r = client.post(
        "/api/v1/complaints/improvements",
        json={"title": "Pack better", "root_cause": "packaging", "plan": "   "},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "plan", r.text
    r = client.post(
        "/api/v1/complaints/improvements",
        json={"title": "Pack better", "root_cause": "packaging", "plan": " Double boxes. "},
        headers=tokens["manager"],
    )
    assert r.status_code == 201 and r.json()["plan"] == "Double boxes.", r.text


@pytest.mark.parametrize("path", ["/complaints/new", "/complaints/{id}/edit"])
def test_the_forms_mark_the_description_as_required(client, db, complaint, path):
    """The intake and edit forms refuse an empty description ("This field is required.") but
    showed no required mark on it, as they do on the subject."""
    from tests.web.conftest import Browser

    web = Browser(client)
    assert web.login("manager").status_code == 303
    page = web.get(path.format(id=complaint.id)).text
    label = page[page.index('<label for="f-description">') :].split("</label>")[0]
    assert '<span class="req" aria-hidden="true">*</span>' in label
