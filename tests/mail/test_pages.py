"""The outbox page (administrators only): list, filter, paginate, retry, test email."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from retento.mail import pages, service
from retento.mail.models import OutboxMessage
from retento.mail.service import Email, queue_email
from tests.mail.conftest import mail_settings
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _queue(db, n: int, **over) -> list[OutboxMessage]:
    out = []
    for i in range(n):
        values = {
            "recipient": f"page{i}@example.com",
            "subject": f"Subject {i}",
            "body_text": f"Body {i}",
            "kind": "test",
        }
        values.update(over)
        out.append(queue_email(db, Email(**values), actor=None))
    db.commit()
    return out


def test_admin_sees_the_outbox_and_that_sending_is_disabled(web, db):
    _queue(db, 2)
    web.login("admin")
    page = web.get("/admin/mail")
    assert page.status_code == 200
    assert "page0@example.com" in page.text and "Subject 1" in page.text
    assert 'id="mail-disabled"' in page.text and "RETENTO_SMTP_HOST" in page.text
    assert 'href="/admin/mail"' in web.get("/customers").text  # in the admin menu


@pytest.mark.parametrize("role", ["manager", "agent", "analyst"])
def test_only_admins_see_the_outbox(web, db, role):
    _queue(db, 1)
    web.login(role)
    assert web.get("/admin/mail").status_code == 403
    assert 'href="/admin/mail"' not in web.get("/customers").text


def test_anonymous_visitors_are_sent_to_the_login(client):
    r = client.get("/admin/mail", follow_redirects=False)
    assert r.status_code in (303, 401) and "page0" not in r.text


def test_filters_and_pagination(web, db, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    msgs = _queue(db, 3)
    msgs[0].status = "failed"
    msgs[0].last_error = "SMTP 550: No such user"
    db.commit()
    web.login("admin")
    failed = web.get("/admin/mail?status=failed")
    assert "page0@example.com" in failed.text and "page1@example.com" not in failed.text
    assert "SMTP 550: No such user" in failed.text
    first = web.get("/admin/mail")
    assert "page2@example.com" in first.text and "page0@example.com" not in first.text
    assert "offset=2" in first.text
    second = web.get("/admin/mail?offset=2")
    assert "page0@example.com" in second.text and "page2@example.com" not in second.text
    assert "page1@" in web.get("/admin/mail?recipient=page1").text
    assert "page2@" not in web.get("/admin/mail?recipient=page1").text
    partial = web.get(
        "/admin/mail?status=queued", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert 'id="outbox-table"' in partial.text and "<html" not in partial.text


@pytest.mark.parametrize("query", ["status=lost", "kind=spam", "offset=-1", "offset=x"], ids=str)
def test_bad_filters_are_422_not_500(web, db, query):
    web.login("admin")
    assert web.get(f"/admin/mail?{query}").status_code == 422


def test_retry_a_failed_email(web, db):
    msg = _queue(db, 1)[0]
    msg.status = "failed"
    msg.attempts = 5
    db.commit()
    web.login("admin")
    page = web.get("/admin/mail")
    assert f'action="/admin/mail/{msg.id}/retry"' in page.text
    r = web.post(f"/admin/mail/{msg.id}/retry")
    assert r.status_code == 303
    db.refresh(msg)
    assert msg.status == "queued" and msg.attempts == 0
    assert web.post(f"/admin/mail/{msg.id}/retry").status_code == 409
    assert web.post("/admin/mail/999999/retry").status_code == 404


def test_managers_cannot_retry(web, db):
    msg = _queue(db, 1)[0]
    msg.status = "failed"
    db.commit()
    web.login("manager")
    assert web.post(f"/admin/mail/{msg.id}/retry").status_code == 403
    db.refresh(msg)
    assert msg.status == "failed"


def test_send_a_test_email_from_the_page(web, app, db, smtp):
    recorder, settings = smtp
    app.state.settings = settings
    web.login("admin")
    page = web.get("/admin/mail")
    assert 'id="mail-enabled"' in page.text
    r = web.post("/admin/mail/test", {"address": "ops@example.com"})
    assert r.status_code == 303
    assert [m["X-Envelope-To"] for m in recorder.messages] == ["ops@example.com"]
    assert "ops@example.com" in web.get("/admin/mail?status=sent").text
    bad = web.post("/admin/mail/test", {"address": "nope"})
    assert bad.status_code == 422 and "Enter an email address." in bad.text


def test_test_email_with_sending_disabled_waits_in_the_outbox(web, app, db):
    app.state.settings = mail_settings(25, smtp_host="")
    web.login("admin")
    r = web.post("/admin/mail/test", {"address": "ops@example.com"}, follow_redirects=True)
    assert r.status_code == 200 and "waits in the outbox" in r.text
    assert "ops@example.com" in web.get("/admin/mail?status=queued").text


def test_the_page_in_chinese(web, db, users):
    _queue(db, 1)
    users["admin"].locale = "zh_CN"
    db.commit()
    web.login("admin")
    page = web.get("/admin/mail")
    assert "发件箱" in page.text and "待发送" in page.text and "发送已停用" in page.text


def test_retry_refusal_names_the_status_in_the_users_language(web, db, users):
    """A Chinese administrator retrying an e-mail that is still queued read "e-mail 1 is
    queued": the status is now its label, 待发送, inside the translated sentence."""
    msg = _queue(db, 1)[0]
    users["admin"].locale = "zh_CN"
    db.commit()
    web.login("admin")
    r = web.post(f"/admin/mail/{msg.id}/retry")
    assert r.status_code == 409
    assert f"只有发送失败的邮件才能重试；邮件 {msg.id} 的状态为“待发送”。" in r.text


@pytest.mark.parametrize(
    ("locale", "placeholder"),
    [
        ("zh_CN", "［个人专属链接，发送邮件时填入］"),
        ("en", "[personal link, added when the email is sent]"),
    ],
)
def test_preview_shows_site_links_and_names_the_one_time_link(
    web, db, users, client, monkeypatch, locale, placeholder
):
    """QA saw the markers ``[[link]]`` and ``[[base]]`` in the outbox preview."""
    monkeypatch.setitem(service.LINK_RESOLVERS, "test_link", lambda session, rid, loc: "/s/x")
    body = "Your link:\n\n[[link]]\n\nStatus: [[base]]/complain/status/RC-1"
    _queue(db, 1, body_text=body, related_type="test_link", related_id=1)
    users["admin"].locale = locale
    db.commit()
    web.login("admin")
    m = re.search(r'<pre class="mail-body">(.*?)</pre>', web.get("/admin/mail").text, re.S)
    assert m is not None
    shown = html.unescape(m.group(1))
    base = client.app.state.settings.public_base_url.rstrip("/")
    assert shown == f"Your link:\n\n{placeholder}\n\nStatus: {base}/complain/status/RC-1"
    # what is stored (and sent) keeps the markers
    assert db.get(OutboxMessage, _last_id(db)).body_text == body


def _last_id(db) -> int:
    return db.scalar(select(func.max(OutboxMessage.id)))
