"""What leaves over SMTP: the language header, one-line subjects and escaped names whatever a
customer's name holds."""

from __future__ import annotations

import pytest

from retento.mail.compose import customer_email
from retento.mail.service import queue_email, send_queued
from tests.factories import make_customer

NAME = 'Ann <b>&amp;</b>\r\nBcc: evil@example.com\n"Boss"'


@pytest.mark.parametrize(("locale", "header"), [("en", "en"), ("zh_CN", "zh-CN")])
def test_content_language_survives_the_content(db, smtp, locale, header):
    recorder, settings = smtp
    c = make_customer(db, email="ann@example.com", consent_email=True)
    queue_email(
        db,
        customer_email(c, locale, "Hi", ["Hello", "Bye"], kind="loyalty_tier"),
        actor=None,
    )
    assert send_queued(db, settings=settings).sent == 1
    assert recorder.messages[0]["Content-Language"] == header


def test_a_name_with_line_breaks_and_markup_stays_text(db, smtp):
    recorder, settings = smtp
    c = make_customer(db, name=NAME, email="ann@example.com", consent_email=True)
    queue_email(
        db,
        customer_email(c, "en", f"We miss you, {c.name}", [f"Dear {c.name},"], kind="loyalty_tier"),
        actor=None,
    )
    assert send_queued(db, settings=settings).sent == 1
    sent = recorder.messages[0]
    assert sent["Bcc"] is None and sent["X-Envelope-To"] == "ann@example.com"
    assert sent["Subject"] == 'We miss you, Ann <b>&amp;</b> Bcc: evil@example.com "Boss"'
    html = sent.get_body(("html",)).get_content()
    assert "<b>" not in html and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in html
    # In the body the name is only text: the line break is there, no header came of it.
    assert "Bcc: evil@example.com" in sent.get_body(("plain",)).get_content()
