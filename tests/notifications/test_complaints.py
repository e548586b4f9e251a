"""Complaint notifications: assigned to me, new in my team or queue, the customer replied —
each raised once, for the right people, on the channel each chose."""

from __future__ import annotations

from retento.complaints import public_intake, service
from retento.complaints.schemas import AssignIn, NoteIn, PublicComplaintIn
from retento.core.hooks import emit
from retento.notifications.service import save_preferences
from tests.factories import make_customer, make_user
from tests.factories.complaints import make_complaint
from tests.notifications.helpers import got, outbox, team


def test_new_assigned_complaint_tells_the_assignee_and_the_team_once(db, users):
    lead, ann, bob = team(db, users)
    c = make_complaint(db, users["admin"], assignee_id=ann.id, subject="Late parcel")
    db.commit()
    mine = got(db, ann)
    assert [n.kind for n in mine] == ["complaint_assigned"]
    assert mine[0].message == f"Complaint {c.tracking_code} was assigned to you."
    assert mine[0].params == {"code": c.tracking_code}  # no customer text kept
    assert mine[0].link == f"/complaints/{c.id}" and mine[0].delivery == "email"  # agent default
    assert [n.kind for n in got(db, bob)] == ["complaint_new"]
    assert [n.kind for n in got(db, lead)] == ["complaint_new"]
    assert got(db, users["admin"]) == [] and got(db, users["agent"]) == []  # actor; other team
    # The agent's default is "e-mail at once": one message, to ann.
    mails = outbox(db, "notification")
    assert [m.recipient for m in mails] == ["ann@example.com"]
    assert c.tracking_code in mails[0].subject
    # The same event delivered again notifies nobody twice.
    emit("complaint.created", db, complaint=c, actor=users["admin"])
    assert len(got(db, ann)) == 1 and len(got(db, bob)) == 1 and len(got(db, lead)) == 1
    assert len(outbox(db, "notification")) == 1


def test_reassignment_follows_preferences_and_never_tells_the_actor(db, users):
    lead, ann, bob = team(db, users)
    c = make_complaint(db, users["admin"], assignee_id=ann.id)
    save_preferences(db, {"complaint_assigned": "off"}, actor=bob)
    service.assign(db, c.id, AssignIn(assignee_id=bob.id), actor=lead)
    assert got(db, bob, "complaint_assigned") == []  # bob turned it off
    service.assign(db, c.id, AssignIn(assignee_id=ann.id), actor=lead)
    assert len(got(db, ann, "complaint_assigned")) == 2  # assigned again: told again
    # A manager taking a complaint themselves is not told about it.
    c2 = make_complaint(db, users["admin"])
    service.assign(db, c2.id, AssignIn(assignee_id=lead.id), actor=lead)
    assert got(db, lead, "complaint_assigned") == []
    # Analysts never work complaints: a new unassigned complaint goes to the managers' queue.
    assert got(db, users["analyst"]) == []
    assert [n.kind for n in got(db, lead)].count("complaint_new") == 2


def test_customer_reply_reaches_the_assignee_on_their_channel(db, users):
    lead, ann, _ = team(db, users)
    save_preferences(db, {"complaint_reply": "digest"}, actor=ann)
    c = make_complaint(db, users["admin"], assignee_id=ann.id)
    n_mails = len(outbox(db, "notification"))
    ev = service.public_reply(db, c.tracking_code, "It is still broken.")
    replies = got(db, ann, "complaint_reply")
    assert len(replies) == 1 and replies[0].delivery == "digest"
    assert len(outbox(db, "notification")) == n_mails  # digest: nothing e-mailed now
    emit("complaint.customer_replied", db, complaint=c, reply=ev, actor=None)
    assert len(got(db, ann, "complaint_reply")) == 1
    # An agent who logs a phone reply is not told of what they typed.
    service.add_note(db, c.id, NoteIn(body="Called back", kind="customer_reply"), actor=ann)
    assert len(got(db, ann, "complaint_reply")) == 1
    assert got(db, lead, "complaint_reply") == []


def test_public_form_complaint_goes_to_the_owner_and_their_team(db, users):
    lead, ann, bob = team(db, users)
    customer = make_customer(db, email="kim@example.com", owner_id=ann.id)
    c = public_intake.submit_public(
        db,
        PublicComplaintIn(
            name="Kim",
            email="kim@example.com",
            category="delivery",
            subject="Never arrived",
            description="The order never arrived at my door.",
        ),
    )
    assert c.customer_id == customer.id and c.assignee_id == ann.id
    assert [n.kind for n in got(db, ann)] == ["complaint_assigned"]
    assert [n.kind for n in got(db, bob)] == ["complaint_new"]
    assert [n.kind for n in got(db, lead)] == ["complaint_new"]


def test_imported_complaints_raise_nothing(db, users):
    lead, ann, _ = team(db, users)
    other = make_user(db, role="manager")
    from retento.complaints.schemas import ComplaintCreate

    service.create_complaint(
        db,
        ComplaintCreate(
            customer_id=make_customer(db).id,
            subject="Old case",
            description="From last year's system.",
            category="delivery",
            channel="phone",
            severity=2,
            assignee_id=ann.id,
        ),
        actor=users["admin"],
        source="import",
    )
    assert got(db, ann) == [] and got(db, lead) == [] and got(db, other) == []
