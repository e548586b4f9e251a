"""Complaint web pages through the ASGI app (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from retento.complaints.models import Complaint, ComplaintEvent, ImprovementAction, SlaPolicy
from retento.complaints.pages import sla_flag
from retento.complaints.public import RateLimiter
from tests.factories import make_customer
from tests.factories.complaints import make_complaint, only_policies
from tests.web.conftest import Browser


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def category_id(db, code: str = "delivery") -> int:
    from retento.complaints.service import category_by_code

    return category_by_code(db, code).id


def new_form(customer_id: int, cat: int, **over) -> dict:
    data = {
        "kind": "complaint",
        "customer_id": str(customer_id),
        "channel": "phone",
        "category_id": str(cat),
        "subject": "Coffee machine leaks",
        "description": "Water runs out under the machine after two days.",
        "severity": "3",
        "emotion": "cold",
        "purposes": ["resolved", "compensated"],
    }
    data.update(over)
    return data


def test_queue_tabs_filters_and_sla_colours(client, db, users):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 120})
    cust = make_customer(db, name="Queue Customer")
    mine = make_complaint(db, users["agent"], customer_id=cust.id, subject="Mine and urgent")
    other = make_complaint(
        db, users["manager"], customer_id=cust.id, subject="Someone else's", severity=4
    )
    db.commit()
    web = Browser(client)
    web.login("agent")
    r = web.get("/complaints")
    assert r.status_code == 200
    assert "Mine and urgent" in r.text and "Someone else&#39;s" not in r.text
    assert f'href="/complaints/{mine.id}"' in r.text
    assert "badge-green" in r.text  # received 5 minutes ago: on time
    r = web.get("/complaints?tab=open&severity=4")
    assert "Someone else&#39;s" in r.text and "Mine and urgent" not in r.text
    r = web.get(
        "/complaints?tab=open&sort=-due", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert r.text.index("Someone else") < r.text.index("Mine and urgent")
    assert web.get("/complaints?severity=9").status_code == 422
    assert web.get("/complaints/export.csv").status_code == 403
    boss = Browser(client)
    boss.client.cookies.clear()
    boss.login("admin")
    csv_text = boss.get("/complaints/export.csv?tab=open").text
    assert csv_text.startswith("\ufeffid,") and other.tracking_code in csv_text
    # Colours: a complaint past its due time is breached, near its warning time near breach.
    c = db.get(Complaint, mine.id)
    assert sla_flag(c, c.resolution_due_at) == "resolution_late"
    assert sla_flag(c, c.first_response_warn_at) == "near_breach"


def test_create_with_bad_value_shows_error_and_saves_nothing(client, db, users):
    cust = make_customer(db)
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/complaints/new?customer_id={cust.id}")
    assert page.status_code == 200 and cust.name in page.text
    before = count(db, Complaint)
    r = web.post("/complaints/new", new_form(cust.id, category_id(db), severity="7", subject=""))
    assert r.status_code == 422
    assert 'id="e-subject"' in r.text and "This field is required." in r.text
    assert 'aria-invalid="true"' in r.text
    assert count(db, Complaint) == before
    r = web.post("/complaints/new", new_form(99999, category_id(db)))
    assert r.status_code == 422 and "Customer 99999 does not exist." in r.text
    assert count(db, Complaint) == before
    r = web.post(
        "/complaints/new",
        new_form(cust.id, category_id(db)),
        files={"file": ("virus.exe", b"MZ", "application/x-msdownload")},
    )
    assert r.status_code == 422 and "are not accepted" in r.text
    assert count(db, Complaint) == before


@pytest.mark.parametrize("typed", ["9223372036854775808", "99999999999999999999", "0"])
def test_intake_with_a_customer_number_past_the_id_range(client, db, users, typed):
    """?customer_id=9223372036854775808 (a link, or the form coming back with what was typed)
    looked the customer up by it: PostgreSQL refused the bigint (a field-less 'A value is
    outside what the database can store.' instead of the form), SQLite raised OverflowError."""
    make_customer(db)
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/complaints/new?customer_id={typed}")
    assert page.status_code == 200 and 'name="subject"' in page.text
    before = count(db, Complaint)
    r = web.post("/complaints/new", new_form(typed, category_id(db)))  # type: ignore[arg-type]
    assert r.status_code == 422 and 'id="e-customer_id"' in r.text
    assert "outside what the database" not in r.text
    assert count(db, Complaint) == before


def test_create_then_work_through_the_workflow(client, db, users, tmp_path):
    client.app.state.settings.data_dir = str(tmp_path)
    cust = make_customer(db)
    db.commit()
    web = Browser(client)
    web.login("agent")
    r = web.post(
        "/complaints/new",
        new_form(cust.id, category_id(db)),
        files={"file": ("photo.png", b"\x89PNG\r\n\x1a\nfake", "image/png")},
    )
    assert r.status_code == 303, r.text
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    c = db.get(Complaint, cid)
    assert c.assignee_id == users["agent"].id and c.purposes == ["resolved", "compensated"]
    assert len(c.attachments) == 1
    page = web.get(f"/complaints/{cid}")
    assert page.status_code == 200
    assert 'value="start"' in page.text and 'value="close"' not in page.text
    assert "photo.png" in page.text
    # An illegal transition is refused with the workflow's message.
    r = web.post(f"/complaints/{cid}/transition", {"action": "close"})
    assert r.status_code == 409 and "Accepted → Closed" in r.text  # labels, not codes
    assert "allowed from Accepted: Start handling" in r.text
    assert web.post(f"/complaints/{cid}/transition", {"action": "start"}).status_code == 303
    r = web.post(f"/complaints/{cid}/transition", {"action": "resolve", "feedback": ""})
    assert r.status_code == 422 and "feedback" in r.text
    r = web.post(f"/complaints/{cid}/notes", {"note_kind": "message", "body": "We are on it."})
    assert r.status_code == 303
    r = web.post(f"/complaints/{cid}/remedies", {"remedy_kind": "compensation", "amount": "20"})
    assert r.status_code == 422 and "compensation_type" in r.text
    r = web.post(
        f"/complaints/{cid}/remedies",
        {
            "remedy_kind": "compensation",
            "compensation_type": "voucher",
            "amount": "20",
            "cost": "8",
        },
    )
    assert r.status_code == 303
    r = web.post(
        f"/complaints/{cid}/transition", {"action": "resolve", "feedback": "Replaced the machine."}
    )
    assert r.status_code == 303
    r = web.post(f"/complaints/{cid}/follow-up", {"won_back": "yes", "followup_note": "Happy"})
    assert r.status_code == 303
    assert web.post(f"/complaints/{cid}/transition", {"action": "close"}).status_code == 303
    db.expire_all()
    c = db.get(Complaint, cid)
    assert c.status == "closed" and c.won_back is True and c.first_responded_at is not None
    page = web.get(f"/complaints/{cid}")
    assert "Replaced the machine." in page.text and 'value="reopen"' in page.text
    kinds = [e.kind for e in c.events]
    assert {"created", "transition", "message", "remedy", "feedback", "attachment"} <= set(kinds)
    assert (
        web.get(f"/complaints/attachments/{c.attachments[0].id}").content
        == b"\x89PNG\r\n\x1a\nfake"
    )


def test_manager_reassigns_and_agent_cannot(client, db, users):
    cust = make_customer(db)
    c = make_complaint(db, users["manager"], customer_id=cust.id)
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post(f"/complaints/{c.id}/assign", {"assignee_id": str(users["agent"].id)})
    assert r.status_code == 303
    db.expire_all()
    assert db.get(Complaint, c.id).assignee_id == users["agent"].id
    agent = Browser(client)
    agent.client.cookies.clear()
    agent.login("agent")
    # Theirs already: no "Take it" (the button offered to take what they had).
    page = agent.get(f"/complaints/{c.id}")
    assert 'id="assign-form"' not in page.text and "Take it" not in page.text
    r = agent.post(f"/complaints/{c.id}/assign", {"assignee_id": str(users["manager"].id)})
    assert r.status_code == 403
    # Nobody's, of a customer the agent owns: the agent may take it, and only take it.
    web.client.cookies.clear()
    web.login("manager")
    r = web.post(f"/complaints/{c.id}/assign", {"assignee_id": ""})
    assert r.status_code == 303
    db.get(type(cust), cust.id).owner_id = users["agent"].id
    db.commit()
    agent.client.cookies.clear()
    agent.login("agent")
    page = agent.get(f"/complaints/{c.id}")
    assert 'name="assignee_id"' in page.text and '<select id="f-assignee_id"' not in page.text
    assert "Take it" in page.text


def test_public_form_status_page_and_reply(client, db):
    before = count(db, Complaint)
    page = client.get("/complain")
    assert page.status_code == 200 and 'name="website"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {
        "csrf_token": token,
        "name": "Visitor Vera",
        "email": "vera@example.com",
        "category": "delivery",
        "subject": "Parcel lost",
        "description": "The parcel never arrived at my door.",
        "purposes": ["resolved"],
    }
    bad = client.post("/complain", data={**form, "description": "short"})
    assert bad.status_code == 422 and "Write at least 10 characters." in bad.text
    # The public form never shows pydantic's own English.
    bad = client.post("/complain", data={**form, "email": "vera-at-example"})
    assert bad.status_code == 422
    assert "Enter an email address such as name@example.com." in bad.text
    assert "String should" not in bad.text and "Value error" not in bad.text
    bot = client.post("/complain", data={**form, "website": "http://spam"})
    assert bot.status_code == 422 and "could not be accepted" in bot.text
    assert count(db, Complaint) == before
    r = client.post("/complain", data=form, follow_redirects=False)
    assert r.status_code == 303
    code = r.headers["location"].rsplit("/", 1)[1]
    status = client.get(f"/complain/status/{code}")
    assert status.status_code == 200 and code in status.text and 'id="receipt"' in status.text
    assert "Accepted" in status.text
    again = client.get(f"/complain/status/{code.lower()}")
    assert 'id="receipt"' not in again.text
    r = client.post(
        f"/complain/status/{code}/reply",
        data={"csrf_token": token, "body": "Any news?"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Any news?" in client.get(f"/complain/status/{code}").text
    db.expire_all()
    c = db.scalar(select(Complaint).where(Complaint.tracking_code == code))
    assert c.channel == "web_form" and c.customer.email == "vera@example.com"
    assert client.get("/complain/status/RC-NOSUCHCODE").status_code == 404
    assert client.get(f"/complain/status?code={code}", follow_redirects=False).status_code == 303


def test_public_pages_speak_the_visitors_language_and_are_rate_limited(client, db):
    zh = client.get("/complain", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "投诉" in zh.text and "配送" in zh.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', zh.text).group(1)
    client.post("/locale", data={"csrf_token": token, "lang": "zh_CN", "next": "/complain"})
    assert "告诉我们" in client.get("/complain").text
    client.app.state.complaint_rate_limiter = RateLimiter(max_events=1)
    form = {
        "csrf_token": token,
        "name": "Spammy",
        "email": "s@example.com",
        "subject": "Again and again",
        "description": "Sending this one twice in a row.",
    }
    assert client.post("/complain", data=form, follow_redirects=False).status_code == 303
    again = client.post("/complain", data=form)
    assert again.status_code == 429 and 590 <= int(again.headers["Retry-After"]) <= 601
    # The form comes back as typed, with the reason in the visitor's language.
    assert "请在" in again.text and "Again and again" in again.text
    assert count(db, Complaint) == 1


def test_sla_admin_is_for_managers_only(client, db, users):
    web = Browser(client)
    web.login("agent")
    assert web.get("/complaints/sla").status_code == 403
    before = count(db, SlaPolicy)
    r = web.post("/complaints/sla/policies", {"name": "Sneaky", "first_response_minutes": "1"})
    assert r.status_code == 403
    assert count(db, SlaPolicy) == before
    assert "/complaints/sla" not in web.get("/complaints").text


def test_sla_admin_creates_and_edits_policies_and_calendars(client, db, users):
    web = Browser(client)
    web.login("manager")
    page = web.get("/complaints/sla")
    assert page.status_code == 200 and "Office hours" in page.text and "Moderate" in page.text
    r = web.post(
        "/complaints/sla/calendars",
        {"name": "Shanghai desk", "timezone": "Asia/Shanghai", "hours_0": "09:00-12:00, 13:00-18:00",
         "holidays": "2025-10-01\n2025-10-02"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    r = web.post("/complaints/sla/calendars", {"name": "Bad", "timezone": "Mars/Base"})
    assert r.status_code == 422
    r = web.post("/complaints/sla/calendars", {"name": "Bad", "holidays": "someday"})
    assert r.status_code == 422 and "is not a date" in r.text
    from retento.complaints.models import BusinessCalendarRow

    cal = db.scalar(select(BusinessCalendarRow).where(BusinessCalendarRow.name == "Shanghai desk"))
    assert cal.hours == {"0": [["09:00", "12:00"], ["13:00", "18:00"]]}
    assert cal.holidays == ["2025-10-01", "2025-10-02"]
    form = {
        "name": "VIP fast lane", "severity": "", "value_class": "vip", "priority": "10",
        "first_response_minutes": "30", "resolution_minutes": "240", "warn_fraction": "0.75",
        "calendar_id": str(cal.id), "is_active": "1",
    }  # fmt: skip
    bad = web.post("/complaints/sla/policies", {**form, "resolution_minutes": "10"})
    assert bad.status_code == 422 and "must not be shorter" in bad.text
    assert web.post("/complaints/sla/policies", form).status_code == 303
    db.expire_all()
    p = db.scalar(select(SlaPolicy).where(SlaPolicy.name == "VIP fast lane"))
    assert p.value_class == "vip" and p.first_response_minutes == 30
    assert web.get(f"/complaints/sla/policies/{p.id}").status_code == 200
    r = web.post(f"/complaints/sla/policies/{p.id}", {**form, "resolution_minutes": "300"})
    assert r.status_code == 303
    db.expire_all()
    assert db.get(SlaPolicy, p.id).resolution_minutes == 300
    assert web.get(f"/complaints/sla/calendars/{cal.id}").status_code == 200


def test_sla_targets_in_hours_as_well_as_minutes(client, db, users):
    web = Browser(client)
    web.login("manager")
    cal_id = db.scalar(select(SlaPolicy.calendar_id).limit(1))
    form = {
        "name": "Hours policy", "priority": "20", "first_response_minutes": "1h30m",
        "resolution_minutes": "2 h", "warn_fraction": "0.8", "calendar_id": str(cal_id),
        "is_active": "1",
    }  # fmt: skip
    assert web.post("/complaints/sla/policies", form).status_code == 303
    p = db.scalar(select(SlaPolicy).where(SlaPolicy.name == "Hours policy"))
    assert (p.first_response_minutes, p.resolution_minutes) == (90, 120)
    page = web.get("/complaints/sla").text
    assert "1 h 30 min" in page and "2 h" in page
    assert 'value="1h30m"' in web.get(f"/complaints/sla/policies/{p.id}").text
    bad = web.post(
        "/complaints/sla/policies", {**form, "name": "Bad", "resolution_minutes": "soon"}
    )
    assert bad.status_code == 422 and "write minutes (90), hours (4h) or both (1h30m)" in bad.text
    assert db.scalar(select(SlaPolicy).where(SlaPolicy.name == "Bad")) is None
    from retento.complaints.schemas import parse_minutes

    assert [parse_minutes(v) for v in (90, "90", "45m", "30 min", "4h", "1.5h", "2小时")] == [
        90, 90, 45, 30, 240, 90, 120,
    ]  # fmt: skip
    for bad_text in ("", "h", "1.01h", "4 days", "-5"):
        with pytest.raises(ValueError):
            parse_minutes(bad_text)


def test_silent_dissatisfied_never_exceeds_the_customer_base(client, db, users):
    from retento.customers.models import Customer

    for c in db.scalars(select(Customer)):
        c.archived_at = None
    base = count(db, Customer)
    for _ in range(2):
        make_complaint(db, users["agent"], customer_id=make_customer(db).id)
    db.commit()
    base += 2
    web = Browser(client)
    web.login("manager")
    page = web.get("/complaints/dashboard").text
    shown = int(re.search(r'id="kpi-silent">([\d,]+)<', page).group(1).replace(",", ""))
    assert base < 2 * 25  # a small database: the one-in-25 rule overshoots, and says so
    assert shown == base and 'id="silent-capped"' in page and "50" in page


def test_dashboard_charts_and_pdca_log(client, db, users):
    cust = make_customer(db)
    c = make_complaint(db, users["agent"], customer_id=cust.id, root_cause="courier")
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get("/complaints/dashboard")
    assert page.status_code == 200
    for chart in ("chart-category", "chart-channel", "chart-pareto", "chart-times"):
        assert f'id="{chart}"' in page.text
    assert "× 25" in page.text and "53 %" in page.text
    assert c.category.name in page.text
    # Every field the server requires is marked: title, root cause and plan.
    for name in ("title", "root_cause", "plan"):
        assert re.search(rf'<label for="f-{name}">[^<]*<span class="req"', page.text), name
    r = web.post("/complaints/dashboard/improvements", {"title": "", "root_cause": "courier"})
    assert r.status_code == 422 and count(db, ImprovementAction) == 0
    r = web.post(
        "/complaints/dashboard/improvements",
        {"title": "Switch courier", "root_cause": "courier", "plan": "Tender for a new courier."},
    )
    assert r.status_code == 303
    assert "Switch courier" in web.get("/complaints/dashboard").text
    agent = Browser(client)
    agent.client.cookies.clear()
    agent.login("agent")
    assert agent.get("/complaints/dashboard").status_code == 200
    r = agent.post(
        "/complaints/dashboard/improvements",
        {"title": "x", "root_cause": "y", "plan": "z"},
    )
    assert r.status_code == 403


def test_customer_360_panel_lists_complaints_and_events(client, db, users):
    cust = make_customer(db, owner_id=users["agent"].id)
    c = make_complaint(db, users["agent"], customer_id=cust.id, subject="Panel complaint")
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/customers/{cust.id}")
    assert page.status_code == 200
    assert 'id="panel-complaints"' in page.text and "Panel complaint" in page.text
    assert f'href="/complaints/new?customer_id={cust.id}"' in page.text
    assert count(db, ComplaintEvent) >= 1 and f"/complaints/{c.id}" in page.text
    assert 'href="/complaints"' in page.text and 'href="/complaints/dashboard"' in page.text


def edit_form(c, **over) -> dict:
    data = {
        "kind": c.kind,
        "channel": c.channel,
        "category_id": str(c.category_id),
        "subject": c.subject,
        "description": c.description,
        "severity": str(c.severity),
        "emotion": c.emotion,
        "order_id": "",
        "product_id": "",
        "root_cause": "",
        "purposes": list(c.purposes),
    }
    data.update(over)
    return data


def test_edit_intake_recomputes_due_times_and_is_on_timeline_and_audit(client, db, users):
    from retento.audit.models import AuditEntry

    only_policies(
        db,
        {"name": "mild", "severity": 1, "resolution_minutes": 48 * 60},
        {"name": "serious", "severity": 4, "first_response_minutes": 30, "resolution_minutes": 240},
    )
    c = make_complaint(db, users["agent"], severity=1, channel="phone")
    other = make_complaint(db, users["manager"], severity=1)
    db.commit()
    web = Browser(client)
    web.login("agent")
    detail = web.get(f"/complaints/{c.id}")
    assert f'href="/complaints/{c.id}/edit"' in detail.text
    page = web.get(f"/complaints/{c.id}/edit")
    assert page.status_code == 200 and "mild" in page.text and c.subject in page.text
    # Someone else's complaint: no edit link, and the page and the post are refused.
    assert f'href="/complaints/{other.id}/edit"' not in web.get(f"/complaints/{other.id}").text
    assert web.get(f"/complaints/{other.id}/edit").status_code == 403
    assert web.post(f"/complaints/{other.id}/edit", edit_form(other)).status_code == 403
    # Bad input: the field is named, nothing changes.
    r = web.post(f"/complaints/{c.id}/edit", edit_form(c, severity="9", order_id="abc"))
    assert r.status_code == 422
    assert 'id="e-order_id"' in r.text and "Enter a whole number." in r.text
    r = web.post(f"/complaints/{c.id}/edit", edit_form(c, subject=""))
    assert r.status_code == 422 and 'id="e-subject"' in r.text
    db.expire_all()
    assert db.get(Complaint, c.id).severity == 1
    old_due = db.get(Complaint, c.id).resolution_due_at
    r = web.post(
        f"/complaints/{c.id}/edit",
        edit_form(
            c,
            severity="4",
            channel="email",
            kind="grumble",
            emotion="intense",
            purposes=["heard"],
            description="The vase was broken and the courier was rude.",
            root_cause="Courier damage",
        ),
    )
    assert r.status_code == 303, r.text
    db.expire_all()
    fresh = db.get(Complaint, c.id)
    assert (fresh.severity, fresh.channel, fresh.kind, fresh.emotion) == (
        4,
        "email",
        "grumble",
        "intense",
    )
    assert fresh.purposes == ["heard"] and fresh.root_cause == "courier damage"
    assert fresh.sla_policy.name == "serious"
    assert fresh.resolution_due_at == fresh.received_at + timedelta(hours=4) < old_due
    kinds = [e.kind for e in fresh.events]
    assert "severity" in kinds and "edited" in kinds
    edited = next(e for e in fresh.events if e.kind == "edited")
    assert set(edited.data["fields"]) >= {"channel", "kind", "emotion", "description"}
    audit = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "complaint", AuditEntry.action == "update")
    ).all()
    assert any(a.before["severity"] == 1 and a.after["severity"] == 4 for a in audit)
    shown = web.get(f"/complaints/{c.id}")
    assert "SLA due times were recomputed" in shown.text
    assert "Intake edited" in shown.text and "1 · Inconvenience → 4 · Serious loss" in shown.text
    # The analyst reads but may not edit.
    analyst = Browser(client)
    analyst.client.cookies.clear()
    analyst.login("analyst")
    assert f'href="/complaints/{c.id}/edit"' not in analyst.get(f"/complaints/{c.id}").text
    assert analyst.get(f"/complaints/{c.id}/edit").status_code == 403


def test_edit_page_in_chinese(client, db, users):
    c = make_complaint(db, users["manager"])
    db.commit()
    web = Browser(client)
    web.login("manager")
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/complaints").text).group(1)
    web.client.post("/locale", data={"csrf_token": token, "lang": "zh_CN", "next": "/"})
    page = web.get(f"/complaints/{c.id}/edit")
    assert page.status_code == 200 and "编辑投诉" in page.text and "保存修改" in page.text
    assert "编辑受理信息" in web.get(f"/complaints/{c.id}").text


def test_pdca_steps_are_recorded_in_the_browser(client, db, users):
    from retento.audit.models import AuditEntry

    make_complaint(db, users["agent"], root_cause="courier")
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post(
        "/complaints/dashboard/improvements",
        {"title": "Switch courier", "root_cause": "Courier", "plan": "Tender for a new courier."},
    )
    assert r.status_code == 303
    a = db.scalar(select(ImprovementAction).where(ImprovementAction.title == "Switch courier"))
    assert r.headers["location"] == f"/complaints/improvements/{a.id}"
    assert f'href="/complaints/improvements/{a.id}"' in web.get("/complaints/dashboard").text
    page = web.get(f"/complaints/improvements/{a.id}")
    assert page.status_code == 200 and 'value="do"' in page.text
    assert "in the 90 days before the improvement was logged: 1." in page.text
    url = f"/complaints/improvements/{a.id}"
    base = {"title": "Switch courier", "plan": "Tender for a new courier.", "owner_id": ""}
    # Do needs its note; the error names the field and nothing moves.
    r = web.post(url, {**base, "step": "do", "do_note": ""})
    assert r.status_code == 422 and "Describe this step before recording it." in r.text
    assert 'name="do_note" rows="4" aria-invalid="true"' in r.text
    # Skipping ahead is refused.
    r = web.post(url, {**base, "step": "check", "check_result": "Better"})
    assert r.status_code == 422 and "not the next one" in r.text
    db.expire_all()
    assert db.get(ImprovementAction, a.id).stage == "plan"
    owner = str(users["agent"].id)
    r = web.post(
        url, {**base, "owner_id": owner, "step": "do", "do_note": "Signed with FastShip in May."}
    )
    assert r.status_code == 303
    page = web.get(url)
    assert "Step recorded" in page.text and 'value="check"' in page.text
    r = web.post(
        url,
        {**base, "owner_id": owner, "do_note": "Signed with FastShip in May.", "step": "check",
         "check_result": "Breakage complaints down from 12 to 3 a month."},
    )  # fmt: skip
    assert r.status_code == 303
    r = web.post(
        url,
        {**base, "owner_id": owner, "do_note": "Signed with FastShip in May.", "step": "act",
         "check_result": "Breakage complaints down from 12 to 3 a month.",
         "act_note": "FastShip is the standard courier; packing guide updated."},
    )  # fmt: skip
    assert r.status_code == 303
    r = web.post(
        url,
        {**base, "owner_id": owner, "do_note": "Signed with FastShip in May.", "step": "done",
         "check_result": "Breakage complaints down from 12 to 3 a month.",
         "act_note": "FastShip is the standard courier; packing guide updated."},
    )  # fmt: skip
    assert r.status_code == 303
    db.expire_all()
    done = db.get(ImprovementAction, a.id)
    assert done.stage == "done" and done.owner_id == users["agent"].id
    assert done.act_note.startswith("FastShip is the standard")
    page = web.get(url)
    assert "improvement-edit-form" not in page.text and "packing guide updated" in page.text
    stages = [
        e.after["stage"]
        for e in db.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "complaint_improvement", AuditEntry.action == "update")
            .order_by(AuditEntry.id)
        )
    ]
    assert stages == ["do", "check", "act", "done"]
    # Agents read the log but cannot change it.
    agent = Browser(client)
    agent.client.cookies.clear()
    agent.login("agent")
    assert agent.get(url).status_code == 200
    assert agent.post(url, {**base, "step": "save"}).status_code == 403


def test_pdca_page_in_chinese(client, db, users):
    from retento.complaints import improvements
    from retento.complaints.schemas import ImprovementCreate

    a = improvements.create_improvement(
        db,
        ImprovementCreate(title="Stronger boxes", root_cause="packaging", plan="New supplier"),
        actor=users["manager"],
    )
    db.commit()
    web = Browser(client)
    web.login("manager")
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/complaints").text).group(1)
    web.client.post("/locale", data={"csrf_token": token, "lang": "zh_CN", "next": "/"})
    page = web.get(f"/complaints/improvements/{a.id}")
    assert page.status_code == 200 and "记录执行" in page.text and "证据" in page.text


def _resolved(db, users, **customer):
    from retento.complaints import service
    from retento.complaints.schemas import TransitionIn

    agent = users["agent"]
    cust = make_customer(db, **customer)
    c = make_complaint(db, agent, customer_id=cust.id, subject="Broken kettle")
    for action, note in (("start", None), ("resolve", "We sent a new kettle.")):
        service.apply_transition(db, c.id, TransitionIn(action=action, note=note), actor=agent)
    db.commit()
    return c


def test_public_follow_up_page_answers_once_and_reopens_when_unhappy(client, db, users):
    c = _resolved(db, users, name="Ann", country="GB")
    url = f"/complain/followup/{c.followup_token}"
    page = client.get(url)
    assert page.status_code == 200
    assert c.tracking_code in page.text and "Broken kettle" in page.text
    assert "We sent a new kettle." in page.text and 'name="website"' not in page.text
    assert page.text.count('type="radio" name="csat"') == 5 and "Very dissatisfied" in page.text
    assert 'name="viewport"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    # No CSRF token: refused, nothing recorded.
    assert client.post(url, data={"csat": "5", "would_buy_again": "yes"}).status_code == 403
    bad = client.post(url, data={"csrf_token": token, "csat": "9"})
    assert bad.status_code == 422
    assert "from 1 to 5" in bad.text and "Choose yes or no." in bad.text
    db.expire_all()
    assert db.get(Complaint, c.id).survey_answered_at is None
    r = client.post(
        url,
        data={"csrf_token": token, "csat": "2", "would_buy_again": "no", "comment": "Still leaks."},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}/thanks"
    thanks = client.get(f"{url}/thanks")
    assert thanks.status_code == 200 and 'id="followup-reopened"' in thanks.text
    db.expire_all()
    done = db.get(Complaint, c.id)
    assert (done.csat, done.would_buy_again, done.status) == (2, False, "in_progress")
    reply = db.scalar(
        select(ComplaintEvent).where(
            ComplaintEvent.complaint_id == c.id, ComplaintEvent.kind == "customer_reply"
        )
    )
    assert reply.body == "Still leaks." and reply.data == {"csat": 2, "would_buy_again": False}
    # A used link: 410 with a clear page, also when posted again; an unknown one: 404.
    used = client.get(url)
    assert used.status_code == 410 and "already been answered" in used.text
    again = client.post(url, data={"csrf_token": token, "csat": "5", "would_buy_again": "yes"})
    assert again.status_code == 410
    unknown = client.get("/complain/followup/not-a-token")
    assert unknown.status_code == 404 and "not valid" in unknown.text
    assert client.get("/complain/followup/not-a-token/thanks").status_code == 404
    # The agent sees the answer on the complaint page.
    web = Browser(client)
    web.login("agent")
    detail = web.get(f"/complaints/{c.id}").text
    assert re.search(r'id="complaint-csat">2 / 5<', detail)
    assert re.search(r'id="complaint-would-buy-again">No<', detail)


def test_public_follow_up_page_speaks_the_customers_language(client, db, users):
    c = _resolved(db, users, name="王芳", country="CN")
    url = f"/complain/followup/{c.followup_token}"
    zh = client.get(url)
    assert zh.status_code == 200 and "您对解决结果满意吗" in zh.text and "非常不满意" in zh.text
    en = client.get(f"{url}?lang=en")
    assert "How satisfied are you with the resolution?" in en.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', zh.text).group(1)
    r = client.post(
        f"{url}?lang=zh_CN",
        data={"csrf_token": token, "csat": "5", "would_buy_again": "yes"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"{url}/thanks?lang=zh_CN"
    thanks = client.get(r.headers["location"])
    assert "感谢您的回答" in thanks.text and 'id="followup-reopened"' not in thanks.text
    db.expire_all()
    assert db.get(Complaint, c.id).status == "resolved"
    assert "已经回答" in client.get(url).text


def test_header_language_switch_wins_over_the_links_language(client, db, users):
    c = _resolved(db, users, name="王芳", country="CN")
    url = f"/complain/followup/{c.followup_token}"
    page = client.get(f"{url}?lang=zh_CN")
    assert "您对解决结果满意吗" in page.text
    assert page.text.count('class="langswitch"') == 1  # only the header's switch
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/locale",
        data={"csrf_token": token, "lang": "en", "next": f"{url}?lang=zh_CN"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == url  # the stale ?lang= is dropped
    assert "How satisfied are you with the resolution?" in client.get(url).text


def test_category_admin_tree_create_edit_deactivate(client, db, users):
    from retento.audit.models import AuditEntry
    from retento.complaints.models import ComplaintCategory

    agent = Browser(client)
    agent.login("agent")
    assert agent.get("/complaints/categories").status_code == 403
    assert agent.post("/complaints/categories", {"code": "x", "name": "X"}).status_code == 403
    client.cookies.clear()
    web = Browser(client)
    web.login("manager")
    assert 'href="/complaints/categories"' in web.get("/complaints/sla").text
    page = web.get("/complaints/categories")
    assert page.status_code == 200 and "Staff attitude" in page.text
    delivery = category_id(db, "delivery")
    r = web.post(
        "/complaints/categories",
        {"code": "delivery.late", "name": "Late", "name_zh": "延迟", "parent_id": str(delivery)},
    )
    assert r.status_code == 303
    late = db.scalar(select(ComplaintCategory).where(ComplaintCategory.code == "delivery.late"))
    assert late.parent_id == delivery
    tree = web.get("/complaints/categories").text
    assert re.search(rf'id="category-{late.id}"\s*>\s*<td style="padding-left:32px">', tree)
    dup = web.post("/complaints/categories", {"code": "delivery.late", "name": "Again"})
    assert dup.status_code == 409
    assert re.search(r'has-error">\s*<label for="f-code"', dup.text)
    assert "A category with this code exists already." in dup.text
    bad = web.post("/complaints/categories", {"code": "Bad Code!", "name": ""})
    assert bad.status_code == 422 and "Use lower-case letters" in bad.text
    # Moving delivery under its own child is refused next to the field.
    cycle = web.post(
        f"/complaints/categories/{delivery}",
        {"name": "Delivery", "parent_id": str(late.id), "is_active": "1"},
    )
    assert cycle.status_code == 422 and "cannot move under itself" in cycle.text
    r = web.post(
        f"/complaints/categories/{late.id}",
        {
            "name": "Late delivery",
            "name_zh": "延迟送达",
            "parent_id": str(delivery),
            "is_active": "1",
        },
    )
    assert r.status_code == 303
    # The intake forms show the tree as Parent › Child.
    assert "Delivery › Late delivery" in web.get("/complaints/new").text
    assert "Delivery › Late delivery" in client.get("/complain").text
    r = web.post(f"/complaints/categories/{delivery}/active", {"active": "0"})
    assert r.status_code == 303
    db.expire_all()
    assert db.get(ComplaintCategory, delivery).is_active is False
    assert "No (a category above is deactivated)" in web.get("/complaints/categories").text
    assert "Late delivery" not in web.get("/complaints/new").text
    public_form = client.get("/complain").text
    assert 'value="delivery"' not in public_form and 'value="delivery.late"' not in public_form
    assert 'value="other"' in public_form
    web.post(f"/complaints/categories/{delivery}/active", {"active": "1"})
    db.expire_all()
    assert db.get(ComplaintCategory, delivery).is_active is True
    actions = db.scalars(
        select(AuditEntry.action).where(AuditEntry.entity == "complaint_category")
    ).all()
    assert actions.count("create") == 1 and actions.count("update") == 3


def test_escalations_on_the_timeline_are_named_in_the_reader_s_language(client, db, users):
    """The timeline showed the stored English body "first response breached" in Chinese too."""
    from datetime import UTC, datetime

    from retento.complaints.jobs import escalate

    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 600})
    t0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
    c = make_complaint(db, users["admin"], received_at=t0, assignee_id=users["agent"].id)
    escalate(db, now=t0 + timedelta(hours=2))
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/complaints/{c.id}")
    assert page.status_code == 200 and "First response · Breached" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    web.client.post("/locale", data={"csrf_token": token, "lang": "zh_CN", "next": "/"})
    page = web.get(f"/complaints/{c.id}")
    assert "首次响应 · 已超时" in page.text
    assert "first response breached" not in page.text
    panel = web.get(f"/customers/{c.customer_id}")
    assert "首次响应 · 已超时" in panel.text and "first response breached" not in panel.text


def test_remedy_amounts_read_like_every_money_field_and_errors_name_their_field(client, db, users):
    """ "1,000" was recorded as 1.00 (the comma read as a decimal point); a negative amount was
    reported in English under the remedy type; a missing compensation type likewise."""
    from decimal import Decimal

    from retento.complaints.models import Remedy

    c = make_complaint(db, users["agent"], assignee_id=users["agent"].id)
    db.commit()
    web = Browser(client)
    web.login("agent")
    url = f"/complaints/{c.id}/remedies"
    comp = {"remedy_kind": "compensation", "compensation_type": "voucher"}

    def field_errors(r) -> dict[str, str]:
        return dict(re.findall(r'<p class="field-error" id="e-([^"]+)">([^<]*)<', r.text))

    r = web.post(url, {**comp, "amount": "-5"})
    assert r.status_code == 422 and field_errors(r) == {"amount": "must not be negative"}
    r = web.post(url, {**comp, "cost": "1,000.005"})
    assert r.status_code == 422
    assert field_errors(r) == {"cost": "amount must have at most 2 decimal places"}
    r = web.post(url, {**comp, "amount": "abc"})
    assert r.status_code == 422 and field_errors(r) == {"amount": "Enter a number."}
    r = web.post(url, {"remedy_kind": "compensation", "amount": "20"})
    assert r.status_code == 422
    flagged = re.findall(r'<div class="field has-error">\s*<label for="f-([^"]+)"', r.text)
    assert flagged == ["compensation_type"]
    assert count(db, Remedy) == 0
    r = web.post(url, {**comp, "amount": "1,000", "cost": "1,250.50"})
    assert r.status_code == 303
    db.expire_all()
    remedy = db.scalars(select(Remedy).where(Remedy.complaint_id == c.id)).one()
    assert (remedy.amount, remedy.cost) == (Decimal("1000.00"), Decimal("1250.50"))
    users["agent"].locale = "zh_CN"
    db.commit()
    r = web.post(url, {**comp, "amount": "-5"})
    assert r.status_code == 422 and field_errors(r) == {"amount": "不能为负数"}


def test_an_empty_intake_form_names_every_missing_field_at_once(client, db, users):
    """Sent empty, the form flagged customer and category, and the subject only on the retry."""
    web = Browser(client)
    web.login("agent")
    before = count(db, Complaint)
    r = web.post("/complaints/new", {"kind": "complaint", "channel": "phone", "subject": ""})
    assert r.status_code == 422
    flagged = re.findall(r'class="field[^"]*has-error[^"]*"[^>]*>\s*<label for="f-([^"]+)"', r.text)
    assert {"customer_id", "category_id", "subject"} <= set(flagged)
    assert count(db, Complaint) == before


def test_sla_policy_duration_error_in_chinese(client, db, users):
    """ "write minutes (90), hours (4h) or both (1h30m)" was shown in English on the Chinese page."""
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    form = {
        "name": "Typo lane", "priority": "10", "first_response_minutes": "abc",
        "resolution_minutes": "240", "warn_fraction": "0.8", "is_active": "1",
    }  # fmt: skip
    r = web.post("/complaints/sla/policies", form)
    assert r.status_code == 422 and "write minutes" not in r.text
    assert "请填写分钟数（90）、小时数（4h）或两者（1h30m）" in r.text
    assert db.scalar(select(func.count()).where(SlaPolicy.name == "Typo lane")) == 0


def test_public_form_sent_empty_names_every_required_field(client, db):
    """Blank subject and description read "Input should be a valid string" (pydantic's English)."""
    page = client.get("/complain")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    blank = {"name": "", "email": "", "category": "other", "subject": "", "description": ""}
    r = client.post("/complain", data={"csrf_token": token, **blank, "website": ""})
    assert r.status_code == 422 and "Input should be" not in r.text
    errors = re.findall(r'class="field-error"[^>]*>([^<]*)<', r.text)
    assert errors.count("This field is required.") == 3  # name, subject, description
    assert "Enter an email address such as name@example.com." in errors
    assert count(db, Complaint) == 0


def test_sla_policy_without_a_name_says_it_is_required(client, db, users):
    """A blank policy name read "Input should be a valid string" (pydantic's English)."""
    web = Browser(client)
    web.login("manager")
    form = {"name": "", "first_response_minutes": "30", "resolution_minutes": "4h"}
    r = web.post("/complaints/sla/policies", form)
    assert r.status_code == 422 and "Input should be" not in r.text
    assert "This field is required." in r.text


def test_queue_filters_outside_the_choices_are_named_in_the_readers_language(client, db, users):
    """/complaints?channel=fax and ?kind=zzz listed every open complaint as if filtered, and
    ?status=zzz answered "unknown status" in English on the Chinese page."""
    from retento.web.i18n import gettext

    cust = make_customer(db, name="Filter Customer")
    make_complaint(db, users["manager"], customer_id=cust.id, subject="Listed anyway")
    db.commit()
    web = Browser(client)
    web.login("manager")
    assert "Listed anyway" in web.get("/complaints?tab=open&channel=phone&kind=complaint").text
    for query in ("channel=fax", "kind=zzz", "status=zzz", "severity=9", "category=x"):
        r = web.get(f"/complaints?tab=open&{query}")
        assert r.status_code == 422, query
        assert "Choose one of the listed values." in r.text and "Listed anyway" not in r.text
    r = web.get("/complaints?tab=open&sort=salary")
    assert r.status_code == 422 and "Choose one of the listed orders." in r.text
    users["manager"].locale = "zh_CN"
    db.commit()
    r = web.get("/complaints?tab=open&status=zzz")
    assert r.status_code == 422 and "unknown status" not in r.text
    assert gettext("zh_CN", "Choose one of the listed values.") in r.text


@pytest.mark.parametrize(
    ("lang", "past"),
    [
        ("en", "154 hours past the target (business time)"),
        ("zh_CN", "已超出目标 154小时（按工作时间计）"),
    ],
)
def test_a_clock_long_past_its_target_says_how_far_not_a_percentage(client, db, users, lang, past):
    """An overdue complaint's page said "7339 %" of the target used; it says how far past it is,
    in business hours (a 24/7 calendar here: 6 days and 10 hours past a 1-hour target; business
    time is counted in hours, never in 24-hour days: tests/complaints/test_sla_flags.py)."""
    from datetime import UTC, datetime

    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 7 * 24 * 60})
    received = datetime.now(UTC) - timedelta(days=6, hours=11)
    c = make_complaint(db, users["agent"], received_at=received)
    db.commit()
    web = Browser(client)
    web.login("agent")
    web.post("/locale", {"lang": lang, "next": "/"})
    page = web.get(f"/complaints/{c.id}").text
    used = re.findall(r'<span class="muted sla-used">([^<]*)</span>', page)
    assert used[0] == past, used  # first response: 1 hour target, 6 days 11 hours ago
    assert re.fullmatch(r"9\d %", used[1]), used  # resolution: 7 days, not past yet
    assert "%" not in used[0]
