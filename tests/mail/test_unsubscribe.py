"""Marketing mail carries an unsubscribe link; it works (once, twice, after erasure, in the
customer's language), cannot be forged, and mail queued before an unsubscribe is not sent."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.customers.models import Customer
from retento.mail.models import OutboxMessage
from retento.mail.service import Email, queue_email, send_queued
from retento.mail.unsubscribe import customer_of, unsubscribe_token
from tests.factories import make_customer
from tests.web.conftest import Browser

URL = re.compile(r"https://shop\.example/unsubscribe/([^?\s\"<>]+)\?lang=(\w+)")


def _marketing(db, customer: Customer, *, locale: str = "en", kind: str = "retention_winback"):
    return queue_email(
        db,
        Email(
            recipient=customer.email or "",
            subject="We miss you",
            body_text="Dear <Ann & Bob>,\n\nCome back.\n",
            body_html="<!DOCTYPE html><html><body><p>Dear &lt;Ann&gt;</p></body></html>",
            kind=kind,
            locale=locale,
            customer_id=customer.id,
        ),
        actor=None,
    )


def _customer(db, **over) -> Customer:
    values = {"email": "ann@example.com", "consent_email": True}
    values.update(over)
    c = make_customer(db, **values)
    db.commit()
    return c


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("en", "To stop receiving these emails, unsubscribe here:"),
        ("zh_CN", "如不想再收到此类邮件"),
    ],
)
def test_marketing_mail_carries_a_working_unsubscribe_link(db, smtp, locale, note):
    recorder, settings = smtp
    c = _customer(db)
    _marketing(db, c, locale=locale)
    assert send_queued(db, settings=settings).sent == 1
    sent = recorder.messages[0]
    text = sent.get_body(("plain",)).get_content()
    html = sent.get_body(("html",)).get_content()
    assert note in text and note in html
    token, lang = URL.search(text).groups()
    assert lang == locale and customer_of(token, settings.secret_key) == c.id
    assert sent["List-Unsubscribe"] == f"<{URL.search(text).group(0)}>"
    # The footer sits inside the HTML body, the link escaped as an attribute.
    assert html.index("unsubscribe/") < html.index("</body>")
    # Nothing usable is stored: the outbox keeps the body as queued.
    stored = db.scalars(select(OutboxMessage)).one()
    assert "unsubscribe" not in stored.body_text


def test_transactional_mail_has_no_unsubscribe_link_and_ignores_consent(db, smtp):
    recorder, settings = smtp
    c = _customer(db, consent_email=False)
    _marketing(db, c, kind="complaint_ack")
    assert send_queued(db, settings=settings).sent == 1
    assert "unsubscribe" not in recorder.messages[0].get_body(("plain",)).get_content()
    assert recorder.messages[0]["List-Unsubscribe"] is None


def test_mail_queued_before_consent_was_withdrawn_is_not_sent(db, smtp, client, users):
    recorder, settings = smtp
    c = _customer(db)
    msg = _marketing(db, c)
    c.consent_email = False
    db.commit()
    report = send_queued(db, settings=settings)
    assert (report.sent, report.cancelled) == (0, 1) and recorder.messages == []
    db.refresh(msg)
    assert msg.status == "cancelled"
    assert msg.last_error == "Not sent: the customer no longer agrees to receive these emails."
    # The administrator reads the reason in their language.
    users["admin"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    assert web.login("admin").status_code == 303
    page = client.get("/admin/mail")
    assert "未发送：该客户已不再同意接收此类邮件。" in page.text


@pytest.mark.parametrize(
    ("lang", "confirm", "done"),
    [
        ("en", "Unsubscribe from our emails", "You are unsubscribed"),
        ("zh_CN", "退订我们的邮件", "您已成功退订"),
    ],
)
def test_unsubscribe_page_works_once_and_when_clicked_twice(db, smtp, client, lang, confirm, done):
    recorder, settings = smtp
    c = _customer(db)
    queued = _marketing(db, c, locale=lang)
    url = f"/unsubscribe/{unsubscribe_token(c.id, 'test')}?lang={lang}"
    page = client.get(url)
    assert page.status_code == 200 and confirm in page.text
    # Opening the link (a mail scanner does) changes nothing: a button confirms.
    db.refresh(c)
    assert c.consent_email is True
    answer = client.post(url, data={"csrf_token": _csrf(page.text)})
    assert answer.status_code == 200 and done in answer.text
    db.refresh(c)
    assert c.consent_email is False
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "customer", AuditEntry.entity_id == str(c.id))
    ).all()
    assert [
        (e.actor_name, e.before["consent_email"], e.after["consent_email"]) for e in entries
    ] == [("system", True, False)]
    # Clicked again: says it is done, changes nothing more.
    again = client.get(url)
    assert again.status_code == 200 and done in again.text and "csrf_token" not in again.text
    client.post(url, data={"csrf_token": _csrf(page.text)})
    assert len(
        db.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "customer", AuditEntry.entity_id == str(c.id)
            )
        ).all()
    ) == len(entries)
    # The mail queued before the click is not sent.
    assert send_queued(db, settings=settings).cancelled == 1 and recorder.messages == []
    db.refresh(queued)
    assert queued.status == "cancelled"


def test_unsubscribe_link_cannot_be_guessed_or_forged(db, client):
    a = _customer(db)
    b = _customer(db, email="bob@example.com")
    token_a = unsubscribe_token(a.id, "test")
    sig = token_a.partition(".")[2]
    for bad in (f"{b.id}.{sig}", f"{a.id}.{sig[:-1]}x", str(a.id), f"{a.id}.", "x.y"):
        page = client.get(f"/unsubscribe/{bad}?lang=zh_CN")
        assert page.status_code == 404 and "此退订链接无效" in page.text
        page = client.get(f"/unsubscribe/{bad}?lang=en")
        assert "This unsubscribe link is not valid" in page.text
    # Another installation's key makes another link.
    assert unsubscribe_token(a.id, "other") != token_a
    db.refresh(b)
    assert b.consent_email is True


def test_unsubscribe_link_after_erasure_or_deletion_says_done(db, client):
    c = _customer(db)
    token = unsubscribe_token(c.id, "test")
    c.consent_email = False
    c.name = "[erased]"
    c.email = None
    from retento.core.db import utcnow

    c.erased_at = utcnow()
    db.commit()
    page = client.get(f"/unsubscribe/{token}?lang=en")
    assert page.status_code == 200 and "You are unsubscribed" in page.text
    assert "[erased]" not in page.text
    gone = unsubscribe_token(10**9, "test")
    page = client.get(f"/unsubscribe/{gone}?lang=zh_CN")
    assert page.status_code == 200 and "您已成功退订" in page.text


def test_unsubscribing_a_merged_duplicate_unsubscribes_the_survivor(db, client, users):
    from retento.customers import merge

    keep = _customer(db, email="keep@example.com")
    dup = _customer(db, email="dup@example.com")
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    # Whatever the merge left on the duplicate, the survivor now gets the mail.
    dup.consent_email = False
    db.commit()
    # A link from an e-mail sent before the merge.
    url = f"/unsubscribe/{unsubscribe_token(dup.id, 'test')}?lang=en"
    page = client.get(url)
    assert "Unsubscribe from our emails" in page.text
    assert "You are unsubscribed" in client.post(url, data={"csrf_token": _csrf(page.text)}).text
    db.refresh(keep)
    db.refresh(dup)
    assert keep.consent_email is False and dup.consent_email is False
