"""The notifications page and header bell: an SLA escalation reaches the agent in the web UI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from retento.complaints.jobs import escalate
from retento.complaints.models import ComplaintNotification
from tests.factories import make_user
from tests.factories.complaints import make_complaint, only_policies
from tests.web.conftest import Browser

H = timedelta(hours=1)


def _escalated(db, users):
    """A complaint assigned to a new agent whose first-response clock has breached."""
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 600})
    agent = make_user(db, username="clerk", role="agent", manager_id=users["manager"].id)
    t0 = datetime.now(UTC) - 2 * H
    c = make_complaint(
        db, users["admin"], received_at=t0, assignee_id=agent.id, subject="Broken kettle"
    )
    report = escalate(db, now=datetime.now(UTC))
    db.commit()
    assert report.notifications >= 2  # the agent and their manager
    return agent, c


def test_escalation_shows_in_bell_and_list_and_opens_the_complaint(client, db, users):
    agent, c = _escalated(db, users)
    web = Browser(client)
    web.login("clerk")
    page = web.get("/customers").text
    assert 'href="/notifications"' in page and 'hx-get="/notifications/badge"' in page
    badge = web.get("/notifications/badge")
    # Two unread: "assigned to you" (notifications) and the first-response breach (SLA notice).
    assert badge.status_code == 200 and ">2<" in badge.text

    r = web.get("/notifications")
    assert r.status_code == 200
    assert f"First response for {c.tracking_code} is overdue: the SLA is breached." in r.text
    assert "Broken kettle" in r.text and 'class="unread"' in r.text

    notice = db.scalar(
        select(ComplaintNotification).where(ComplaintNotification.user_id == agent.id)
    )
    r = web.post(f"/notifications/{notice.id}/open")
    assert r.status_code == 303 and r.headers["location"] == f"/complaints/{c.id}"
    db.expire_all()
    assert db.get(ComplaintNotification, notice.id).read_at is not None
    assert ">1<" in web.get("/notifications/badge").text  # the assignment is still unread
    unread = web.get("/notifications?unread=1").text
    assert f"Complaint {c.tracking_code} was assigned to you." in unread
    assert "SLA is breached" not in unread
    web.post("/notifications/read-all")
    assert web.get("/notifications/badge").text.strip() == ""
    assert "No unread notifications." in web.get("/notifications?unread=1").text


def test_notices_are_private_and_read_all_marks_only_mine(client, db, users):
    agent, _ = _escalated(db, users)
    lead_notice = db.scalar(
        select(ComplaintNotification).where(ComplaintNotification.user_id == users["manager"].id)
    )
    web = Browser(client)
    web.login("clerk")
    # Someone else's notice is not found, and stays unread.
    assert web.post(f"/notifications/{lead_notice.id}/open").status_code == 404
    r = web.post("/notifications/read-all")
    assert r.status_code == 303 and r.headers["location"] == "/notifications"
    # The first-response notice and the "assigned to you" notification.
    assert "2 notifications marked read." in web.get("/notifications").text
    db.expire_all()
    assert db.get(ComplaintNotification, lead_notice.id).read_at is None
    mine = db.scalars(
        select(ComplaintNotification).where(ComplaintNotification.user_id == agent.id)
    ).all()
    assert mine and all(n.read_at is not None for n in mine)


def test_chinese_notice_text_and_csrf_checked(client, db, users):
    _, c = _escalated(db, users)
    web = Browser(client)
    web.login("manager")
    web.post("/locale", {"lang": "zh_CN", "next": "/notifications"})
    r = web.get("/notifications")
    assert f"投诉 {c.tracking_code} 的首次响应已超时" in r.text and "全部标为已读" in r.text
    assert web.post("/notifications/read-all", follow_redirects=True).status_code == 200
    assert "没有未读通知" in web.get("/notifications?unread=1").text
    # The form is checked for its CSRF token like every other.
    assert client.post("/notifications/read-all", data={}).status_code in (400, 403)
