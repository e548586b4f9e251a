"""Transactional mail to complainants: the acknowledgement on intake, each message to the
customer, the resolution with the follow-up link — to every complainant with an address, in the
customer's language, through the outbox, once each; the complaint page shows what went out."""

from __future__ import annotations

import re

from sqlalchemy import select

from retento.complaints import emails, outbound, service
from retento.complaints.schemas import NoteIn, TransitionIn
from retento.mail.kinds import email_modules, known_kinds
from retento.mail.models import OutboxMessage
from retento.mail.service import send_queued
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.mail.conftest import smtp_fixture, smtp_server_fixture  # noqa: F401 (fixtures)
from tests.web.conftest import Browser


def _outbox(db, kind=None):
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    db.expire_all()
    return list(db.scalars(stmt))


def test_every_domain_registers_its_kinds_and_mail_imports_none():
    assert {
        "retento.surveys.emails",
        "retento.complaints.emails",
        "retento.loyalty.emails",
        "retento.retention.emails",
    } <= set(email_modules())
    assert {
        "survey_invitation",
        "survey_reminder",
        "complaint_ack",
        "complaint_message",
        "complaint_followup",
        "loyalty_tier",
        "loyalty_expiring",
        "retention_alert",
        "retention_winback",
        "test",
    } <= set(known_kinds())
    from pathlib import Path

    import retento.mail

    domains = ("surveys", "complaints", "customers", "loyalty", "retention", "orders")
    pattern = re.compile(r"retento\.(" + "|".join(domains) + r")\b")
    for path in Path(retento.mail.__file__).parent.glob("*.py"):
        assert not pattern.search(path.read_text()), path.name


def test_intake_acknowledgement_without_consent_once_in_chinese(db, users, smtp):
    recorder, settings = smtp
    cust = make_customer(
        db, name="李雷", email="lilei@example.cn", consent_email=False, country="CN"
    )
    c = make_complaint(db, users["agent"], customer_id=cust.id)
    [ack] = _outbox(db, "complaint_ack")
    assert ack.recipient == "lilei@example.cn" and ack.locale == "zh_CN"
    assert outbound.queue_acknowledgement(db, c, actor=None) is None  # one per complaint
    assert len(_outbox(db, "complaint_ack")) == 1
    assert send_queued(db, settings=settings).sent == 1
    [mail] = recorder.messages
    assert mail["Subject"] == f"我们已收到您的投诉 {c.tracking_code}"
    text = mail.get_body(("plain",)).get_content()
    assert c.tracking_code in text
    assert f"https://shop.example/complain/status/{c.tracking_code}" in text
    assert "同意" not in text  # no marketing-consent note on transactional mail


def test_contact_address_of_the_complaint_wins_and_no_address_means_no_mail(db, users):
    cust = make_customer(db, email="old@example.com", consent_email=False)
    c = make_complaint(db, users["agent"], customer_id=cust.id, contact_email="new@example.com")
    assert [m.recipient for m in _outbox(db, "complaint_ack")] == ["new@example.com"]
    silent = make_customer(db, email=None)
    c2 = make_complaint(db, users["agent"], customer_id=silent.id)
    service.add_note(db, c2.id, NoteIn(body="We called you.", kind="message"), actor=users["agent"])
    assert [m.related_id for m in _outbox(db, "complaint_ack")] == [c.id]
    assert _outbox(db, "complaint_message") == []


def test_imported_complaints_get_no_acknowledgement(db, users):
    from retento.complaints.schemas import ComplaintCreate

    cust = make_customer(db, email="hist@example.com")
    data = ComplaintCreate(
        customer_id=cust.id,
        subject="Old case",
        description="Recorded from the old system.",
        category="delivery",
        channel="phone",
    )
    service.create_complaint(db, data, actor=users["agent"], source="import")
    assert _outbox(db, "complaint_ack") == []


def test_each_message_to_the_customer_is_emailed_once_notes_never(db, users, smtp):
    recorder, settings = smtp
    agent = users["agent"]
    cust = make_customer(db, name="Ann", email="ann@example.com", consent_email=False)
    c = make_complaint(db, agent, customer_id=cust.id)
    service.add_note(db, c.id, NoteIn(body="Internal: check stock.", kind="note"), actor=agent)
    ev = service.add_note(
        db, c.id, NoteIn(body="A new vase is on its way.", kind="message"), actor=agent
    )
    service.add_note(db, c.id, NoteIn(body="Tracking: 123.", kind="message"), actor=agent)
    msgs = _outbox(db, "complaint_message")
    assert len(msgs) == 2 and msgs[0].related_type == "complaint_event"
    assert msgs[0].related_id == ev.id
    assert outbound.queue_message(db, c, ev, actor=agent) is None  # one e-mail per message
    assert send_queued(db, settings=settings).sent == 3
    bodies = [m.get_body(("plain",)).get_content() for m in recorder.messages]
    assert not any("Internal" in b for b in bodies)
    [vase] = [m for m in recorder.messages if "vase" in m.get_body(("plain",)).get_content()]
    assert vase["Subject"] == f"About your complaint {c.tracking_code}"


def test_resolution_text_and_follow_up_link_reach_a_customer_without_consent(db, users, smtp):
    recorder, settings = smtp
    agent = users["agent"]
    cust = make_customer(db, name="Bo", email="bo@example.com", consent_email=False)
    c = make_complaint(db, agent, customer_id=cust.id)
    service.apply_transition(db, c.id, TransitionIn(action="start"), actor=agent)
    service.apply_transition(
        db, c.id, TransitionIn(action="resolve", note="We refunded the vase."), actor=agent
    )
    send_queued(db, settings=settings)
    [mail] = [m for m in recorder.messages if "How did we handle" in m["Subject"]]
    text = mail.get_body(("plain",)).get_content()
    assert "We refunded the vase." in text
    assert f"/complain/followup/{c.followup_token}?lang=en" in text


def test_the_complaint_page_lists_the_emails_and_the_follow_up_link(client, db, users):
    agent = users["agent"]
    cust = make_customer(db, name="Cy", email="cy@example.com", consent_email=False)
    c = make_complaint(db, agent, customer_id=cust.id, assignee_id=agent.id)
    service.add_note(db, c.id, NoteIn(body="On its way.", kind="message"), actor=agent)
    service.apply_transition(db, c.id, TransitionIn(action="start"), actor=agent)
    service.apply_transition(
        db, c.id, TransitionIn(action="resolve", note="Replaced."), actor=agent
    )
    db.flush()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/complaints/{c.id}")
    assert page.status_code == 200
    section = page.text.split('id="emails"', 1)[1].split("</section>", 1)[0]
    for kind in ("Complaint acknowledgement", "Message about a complaint"):
        assert kind in section
    assert "Complaint resolution and follow-up" in section and "Queued" in section
    assert "cy@example.com" in section
    assert f"/complain/followup/{c.followup_token}?lang=en" in section
    assert 'data-copy="#followup-link"' in section and "<script" not in section
    agent.locale = "zh_CN"
    db.flush()
    zh = web.get(f"/complaints/{c.id}").text
    assert "发给客户的邮件" in zh and "复制链接" in zh


# --- replies by e-mail through a real local SMTP receiver ---------------------------------------


def _reply(port: int, subject: str, body: str, size: int | None = None) -> None:
    import smtplib
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "Dee <dee@example.com>"
    msg["To"] = "service@shop.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{abs(hash((subject, body)))}@example.com>"
    msg.set_content(body + ("x" * size if size else ""))
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(msg)


def test_an_emailed_reply_lands_on_the_timeline_and_unknown_codes_are_refused(
    session_factory, db, users, client
):
    import smtplib

    import pytest

    from retento.complaints.models import ComplaintEvent
    from retento.mail import inbound
    from tests.mail.conftest import free_port

    agent = users["agent"]
    cust = make_customer(db, name="Dee", email="dee@example.com")
    c = make_complaint(db, agent, customer_id=cust.id, assignee_id=agent.id)
    service.apply_transition(db, c.id, TransitionIn(action="start"), actor=agent)
    service.apply_transition(db, c.id, TransitionIn(action="await_customer"), actor=agent)
    db.commit()
    port = free_port()
    receiver = inbound.make_controller(session_factory, "127.0.0.1", port)
    receiver.start()
    boom = inbound.InboundRoute("boom", lambda s: "x" if "BOOM" in s else None, lambda *a: 1 / 0)
    try:
        _reply(
            port,
            f"Re: About your complaint {c.tracking_code.lower()}",
            "The photo is attached now.\n\nOn Tue, Shop wrote:\n> Please send a photo.",
        )
        with pytest.raises(smtplib.SMTPDataError) as unknown:
            _reply(port, "Re: About your complaint RC-ZZZZZZZZZZ", "Hello?")
        assert unknown.value.smtp_code == 550
        with pytest.raises(smtplib.SMTPDataError) as nocode:
            _reply(port, "Hello there", "No code at all.")
        assert nocode.value.smtp_code == 550
        with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as big:
            _reply(port, f"Re: {c.tracking_code}", "big", size=inbound.MAX_BYTES + 10)
        assert big.value.smtp_code == 552
        inbound.register_inbound(boom)
        with pytest.raises(smtplib.SMTPDataError) as failing:
            _reply(port, "BOOM", "A route that fails.")
        assert failing.value.smtp_code == 451  # a temporary failure, never a crash
    finally:
        inbound.ROUTES[:] = [r for r in inbound.ROUTES if r.name != "boom"]
        receiver.stop()
    db.expire_all()
    replies = list(
        db.scalars(
            select(ComplaintEvent).where(
                ComplaintEvent.complaint_id == c.id, ComplaintEvent.kind == "customer_reply"
            )
        )
    )
    assert [r.body for r in replies] == ["The photo is attached now."]
    assert replies[0].data["channel"] == "email" and replies[0].data["from"] == "dee@example.com"
    assert not replies[0].internal
    db.refresh(c)
    assert c.status == "in_progress"  # the customer answered: the clock runs again
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/complaints/{c.id}").text
    assert "The photo is attached now." in page and "By email from dee@example.com" in page


def test_a_reply_to_a_closed_complaint_or_an_empty_reply_is_refused(db, users):
    import pytest

    from retento.mail.inbound import InboundMail, Rejected

    agent = users["agent"]
    c = make_complaint(db, agent, customer_id=make_customer(db, email="e@example.com").id)
    with pytest.raises(Rejected):
        emails.file_reply(db, c.tracking_code, InboundMail("e@example.com", "Re", "", None))
    mail = InboundMail("e@example.com", "Re", "Thanks!", "<m1@example.com>")
    emails.file_reply(db, c.tracking_code, mail)
    emails.file_reply(db, c.tracking_code, mail)  # delivered twice: filed once
    db.expire_all()
    assert [e.body for e in c.events if e.kind == "customer_reply"] == ["Thanks!"]
    c.status = "closed"
    db.flush()
    with pytest.raises(Rejected):
        emails.file_reply(db, c.tracking_code, InboundMail("e@example.com", "Re", "More", None))


def test_the_public_form_in_chinese_gets_a_chinese_acknowledgement(client, db):
    page = client.get("/complain", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/complain",
        headers={"Accept-Language": "zh-CN,zh;q=0.9"},
        data={
            "csrf_token": token,
            "name": "王小明",
            "email": "xiaoming@example.cn",
            "category": "delivery",
            "subject": "包裹丢失",
            "description": "包裹一直没有送到我家门口。",
            "purposes": ["resolved"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    code = r.headers["location"].rsplit("/", 1)[1]
    [ack] = _outbox(db, "complaint_ack")
    assert ack.recipient == "xiaoming@example.cn" and ack.locale == "zh_CN"
    assert ack.subject == f"我们已收到您的投诉 {code}"
