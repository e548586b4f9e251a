"""An out-of-office answer to a complaint e-mail is not the customer's reply: it is not filed
on the timeline and does not restart the SLA clock of a complaint waiting for the customer."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select

from retento.complaints import (
    emails,  # noqa: F401  (registers the inbound route)
    service,
)
from retento.complaints.models import ComplaintEvent
from retento.complaints.schemas import TransitionIn
from retento.mail import inbound
from tests.factories import make_customer
from tests.factories.complaints import make_complaint


def _mail(subject: str, body: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Dee <dee@example.com>"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash((subject, body)))}@example.com>"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_an_out_of_office_reply_is_not_filed_and_the_clock_stays_stopped(
    session_factory, db, users
):
    agent = users["agent"]
    cust = make_customer(db, name="Dee", email="dee@example.com")
    c = make_complaint(db, agent, customer_id=cust.id, assignee_id=agent.id)
    service.apply_transition(db, c.id, TransitionIn(action="start"), actor=agent)
    service.apply_transition(db, c.id, TransitionIn(action="await_customer"), actor=agent)
    db.commit()
    waiting = c.status
    for subject, headers in [
        (
            f"Automatic reply: About your complaint {c.tracking_code}",
            {"Auto-Submitted": "auto-replied"},
        ),
        (f"自动回复：关于您的投诉 {c.tracking_code}", {"X-Autoreply": "yes"}),
    ]:
        answer = inbound.accept(
            session_factory, _mail(subject, "I am away until Monday.", **headers)
        )
        assert answer.startswith("250")
    db.expire_all()
    db.refresh(c)
    assert c.status == waiting == "awaiting_customer"
    # A person's reply still lands.
    assert inbound.accept(
        session_factory, _mail(f"Re: {c.tracking_code}", "Here is the photo.")
    ).startswith("250")
    db.expire_all()
    replies = db.scalars(
        select(ComplaintEvent.body).where(
            ComplaintEvent.complaint_id == c.id, ComplaintEvent.kind == "customer_reply"
        )
    ).all()
    assert replies == ["Here is the photo."]
    db.refresh(c)
    assert c.status == "in_progress"
