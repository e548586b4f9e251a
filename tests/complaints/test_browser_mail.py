"""Issue 14's walk-through in the browser: an agent answers a complaint, the customer receives
the e-mail (a real local SMTP server), the customer's e-mailed reply comes back through the
inbound receiver (aiosmtpd) onto the complaint's timeline; and the customer search finds a
surname fragment and a phone fragment typed with punctuation."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from retento.core.db import make_engine, make_session_factory
from retento.mail import inbound
from retento.mail.service import send_queued
from tests.mail.conftest import Recorder, free_port, mail_settings
from tests.web.live import wait_js
from tests.web.test_browser import browser, login, page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


@pytest.fixture()
def outbound():
    from aiosmtpd.controller import Controller

    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield recorder, controller.port
    finally:
        controller.stop()


def test_agent_message_reaches_the_customer_and_the_reply_lands_on_the_timeline(
    page,  # noqa: F811
    server,  # noqa: F811
    outbound,
):
    recorder, smtp_port = outbound
    engine = make_engine(server.url_db)
    factory = make_session_factory(engine)
    login(page, server, "agent")
    # Li Wei (li.wei@example.com) files a complaint by phone; the agent takes it.
    page.goto(f"{server.base_url}/complaints/new?customer_id={server.ids['Li Wei']}")
    page.select_option("#f-kind", "complaint")
    page.select_option("#f-channel", "phone")
    page.select_option("#f-category_id", label="Delivery")
    page.select_option("#f-severity", "2")
    page.fill("#f-subject", "Walk-through: the kettle leaks")
    page.fill("#f-description", "Water on the counter after each use.")
    page.check("input[name=purposes][value=resolved]")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_selector("#complaint-subject")
    complaint_url = page.url
    page.click("#action-start")
    wait_js(page, "document.getElementById('complaint-status').innerText === 'In progress'")
    page.fill("#note-form #f-body", "A new kettle ships tomorrow; please keep the old one.")
    page.check("#note-form input[value=message]")
    page.click("#note-form button[type=submit]")
    wait_js(page, "document.getElementById('complaint-timeline').innerText.includes('ships')")

    # The outbox job hands the mail to the (local) SMTP server.
    with factory() as s:
        report = send_queued(s, settings=mail_settings(smtp_port))
        s.commit()
    assert report.sent >= 2  # the acknowledgement of the intake and the agent's message
    to_li = [m for m in recorder.messages if "li.wei@example.com" in m["X-Envelope-To"]]
    [message] = [m for m in to_li if "ships tomorrow" in m.get_body(("plain",)).get_content()]
    subject = message["Subject"]
    code = subject.rsplit(" ", 1)[-1]
    assert code.startswith("RC-") and code in page.inner_text("body")

    # The customer answers by e-mail; the receiver files the reply under the tracking code.
    port = free_port()
    receiver = inbound.make_controller(factory, "127.0.0.1", port)
    receiver.start()
    try:
        reply = EmailMessage()
        reply["From"] = "Li Wei <li.wei@example.com>"
        reply["To"] = "service@shop.example"
        reply["Subject"] = f"Re: {subject}"
        reply["Message-ID"] = "<walkthrough-reply@example.com>"
        reply.set_content("Thank you, the old one goes back in its box.\n\n> A new kettle ships")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(reply)
    finally:
        receiver.stop()
        engine.dispose()
    page.goto(complaint_url)
    timeline = page.inner_text("#complaint-timeline")
    assert "the old one goes back in its box" in timeline
    assert "> A new kettle ships" not in timeline  # the quoted text is trimmed


def test_search_finds_a_surname_fragment_and_a_phone_fragment(page, server):  # noqa: F811
    login(page, server, "agent")
    page.goto(f"{server.base_url}/customers")
    page.fill("#f-q", "ossi")  # part of "Maria Rossi"
    wait_js(page, "document.getElementById('customer-table').innerText.includes('Maria Rossi')")
    # Phones are stored as "+86 21 5555 10NN"; typed with other punctuation and only in part.
    page.fill("#f-q", "5555-1006")
    page.wait_for_url("**q=5555-1006*")  # htmx pushed the new filter: the table is the new one
    wait_js(page, "document.querySelectorAll('#customer-table tbody tr').length === 1")
    assert "Maria Rossi" in page.inner_text("#customer-table")
