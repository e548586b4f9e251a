"""Complaint JSON API, including the public form, its rate limit and honeypot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from retento.complaints.models import RateHit
from retento.complaints.public import RateLimiter
from tests.factories import make_customer
from tests.factories.complaints import only_policies
from tests.web.conftest import Browser

BASE = "/api/v1/complaints"
PUBLIC = "/api/v1/public/complaints"


def _create(client, headers, cust_id, **over):
    body = {
        "customer_id": cust_id,
        "category": "delivery",
        "channel": "phone",
        "subject": "Late delivery",
        "description": "Promised Monday, arrived Friday.",
        "severity": 2,
        "emotion": "cold",
        "purposes": ["heard", "compensated"],
    }
    body.update(over)
    return client.post(BASE, json=body, headers=headers)


def test_create_detail_and_workflow(client, db, users, tokens):
    cust = make_customer(db)
    db.commit()
    r = _create(client, tokens["agent"], cust.id)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["status"] == "accepted" and c["assignee_id"] == users["agent"].id
    assert c["severity_name"] == "moderate" and c["resolution_due_at"]
    cid = c["id"]
    r = client.post(f"{BASE}/{cid}/transitions", json={"action": "start"}, headers=tokens["agent"])
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    r = client.post(f"{BASE}/{cid}/transitions", json={"action": "close"}, headers=tokens["agent"])
    assert r.status_code == 409
    assert r.json()["field"] == "action" and "in_progress → closed" in r.json()["detail"]
    r = client.post(
        f"{BASE}/{cid}/notes",
        json={"body": "Courier confirmed", "kind": "note"},
        headers=tokens["agent"],
    )
    assert r.status_code == 201 and r.json()["internal"] is True
    r = client.post(
        f"{BASE}/{cid}/remedies",
        json={
            "kind": "compensation",
            "compensation_type": "voucher",
            "amount": "15.50",
            "cost": "5",
        },
        headers=tokens["agent"],
    )
    assert r.status_code == 201 and r.json()["amount"] == "15.50" and r.json()["cost"] == "5.00"
    r = client.post(
        f"{BASE}/{cid}/transitions",
        json={"action": "resolve", "note": "Voucher sent with apology"},
        headers=tokens["agent"],
    )
    assert r.status_code == 200
    detail = client.get(f"{BASE}/{cid}", headers=tokens["analyst"]).json()
    assert detail["allowed_actions"] == ["follow_up", "reopen"]
    assert [e["kind"] for e in detail["events"]][0] == "created"
    assert detail["remedies"][0]["compensation_type"] == "voucher"
    assert detail["sla"]["resolution"]["state"] == "met"
    r = client.post(f"{BASE}/{cid}/follow-up", json={"won_back": True}, headers=tokens["agent"])
    assert r.status_code == 200 and r.json()["status"] == "follow_up"
    timeline = client.get(f"{BASE}/timeline/{cust.id}", headers=tokens["analyst"]).json()
    assert len(timeline) == len(
        client.get(f"{BASE}/{cid}", headers=tokens["analyst"]).json()["events"]
    )
    totals = client.get(f"{BASE}/remedy-totals", headers=tokens["manager"]).json()
    assert totals[0]["cost"] == "5.00"


def test_patch_intake_fields(client, db, users, tokens):
    only_policies(
        db,
        {"name": "mild", "severity": 1, "resolution_minutes": 48 * 60},
        {"name": "serious", "severity": 4, "first_response_minutes": 30, "resolution_minutes": 240},
    )
    cust = make_customer(db)
    db.commit()
    c = _create(client, tokens["agent"], cust.id, severity=1).json()
    h = tokens["agent"]
    r = client.patch(f"{BASE}/{c['id']}", json={"channel": "fax"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "channel"
    r = client.patch(f"{BASE}/{c['id']}", json={"severity": None}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "severity"
    r = client.patch(
        f"{BASE}/{c['id']}",
        json={"severity": 4, "channel": "chat", "kind": "grumble", "purposes": ["heard"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["severity"], body["channel"], body["kind"]) == (4, "chat", "grumble")
    due = datetime.fromisoformat(body["resolution_due_at"])
    assert due == datetime.fromisoformat(body["received_at"]) + timedelta(hours=4)
    timeline = client.get(f"{BASE}/{c['id']}", headers=h).json()
    kinds = [e["kind"] for e in timeline["events"]]
    assert "severity" in kinds and "edited" in kinds
    r = client.patch(f"{BASE}/{c['id']}", json={"subject": "x"}, headers=tokens["analyst"])
    assert r.status_code == 403


def test_bad_input_is_4xx_naming_the_field(client, db, users, tokens):
    cust = make_customer(db)
    db.commit()
    cases = [
        ({"severity": 7}, "severity"),
        ({"emotion": "furious"}, "emotion"),
        ({"purposes": ["revenge"]}, "purposes.0"),
        ({"channel": "pigeon"}, "channel"),
        ({"category": "nope"}, "category"),
        ({"received_at": "2025-01-01T10:00:00"}, "received_at"),
        ({"customer_id": 987654}, "customer_id"),
        ({"subject": ""}, "subject"),
    ]
    for over, field in cases:
        r = _create(client, tokens["manager"], cust.id, **over)
        assert r.status_code == 422, (over, r.text)
        assert r.json()["field"] == field, (over, r.json())
    r = client.get(BASE, params={"sort": "nonsense"}, headers=tokens["agent"])
    assert r.status_code == 422 and r.json()["field"] == "sort"
    r = client.get(BASE, params={"limit": 0}, headers=tokens["agent"])
    assert r.status_code == 422 and r.json()["field"] == "limit"
    # The timeline's limit: one bound, the schema's (it said 1000 while the handler refused 501).
    timeline = f"{BASE}/timeline/{cust.id}"
    assert client.get(timeline, params={"limit": 500}, headers=tokens["agent"]).status_code == 200
    r = client.get(timeline, params={"limit": 501}, headers=tokens["agent"])
    assert r.status_code == 422 and r.json()["field"] == "limit"
    r = client.get(
        f"{BASE}/analytics", params={"since": "2025-01-01T00:00:00"}, headers=tokens["agent"]
    )
    assert r.status_code == 422 and r.json()["field"] == "since"
    r = client.post(
        f"{BASE}/sla-policies",
        json={"name": "x", "first_response_minutes": 0, "resolution_minutes": 10, "calendar_id": 1},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "first_response_minutes"
    r = client.post(
        f"{BASE}/calendars",
        json={"name": "c", "timezone": "Atlantis/Capital"},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "timezone"
    assert client.get(f"{BASE}/999999", headers=tokens["agent"]).status_code == 404
    assert client.get(BASE).status_code == 401


def test_permissions_over_http(client, db, users, tokens):
    cust = make_customer(db)
    db.commit()
    assert _create(client, tokens["analyst"], cust.id).status_code == 403
    cid = _create(client, tokens["manager"], cust.id).json()["id"]
    r = client.post(f"{BASE}/{cid}/transitions", json={"action": "start"}, headers=tokens["agent"])
    assert r.status_code == 403
    r = client.post(
        f"{BASE}/{cid}/assignment", json={"assignee_id": users["agent"].id}, headers=tokens["agent"]
    )
    assert r.status_code == 403
    r = client.post(
        f"{BASE}/{cid}/assignment",
        json={"assignee_id": users["agent"].id},
        headers=tokens["manager"],
    )
    assert r.status_code == 200 and r.json()["assignee_id"] == users["agent"].id
    r = client.post(f"{BASE}/{cid}/transitions", json={"action": "start"}, headers=tokens["agent"])
    assert r.status_code == 200


def test_queues(client, db, users, tokens):
    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 300})
    cust = make_customer(db)
    db.commit()
    old = (datetime.now(UTC) - timedelta(hours=4, minutes=30)).isoformat()
    a = _create(client, tokens["agent"], cust.id, received_at=old).json()["id"]
    b = _create(client, tokens["agent"], cust.id).json()["id"]
    mine = client.get(BASE, params={"queue": "mine", "sort": "due"}, headers=tokens["agent"]).json()
    assert [x["id"] for x in mine["items"]] == [a, b] and mine["total"] == 2
    soon = client.get(
        BASE, params={"queue": "breaching", "within_minutes": 10}, headers=tokens["agent"]
    ).json()
    assert [x["id"] for x in soon["items"]] == [a]
    none = client.get(BASE, params={"queue": "mine"}, headers=tokens["manager"]).json()
    assert none["total"] == 0
    tracking = client.get(f"{BASE}/{a}", headers=tokens["agent"]).json()["tracking_code"]
    found = client.get(BASE, params={"q": tracking.lower()}, headers=tokens["agent"]).json()
    assert [x["id"] for x in found["items"]] == [a]


def test_search_by_a_number_past_the_id_range_finds_nothing(client, db, users, tokens):
    """q=9223372036854775808 was compared with the complaint id: PostgreSQL refused the bigint
    (a field-less 'A value is outside what the database can store.'); it matches nothing."""
    cust = make_customer(db)
    db.commit()
    a = _create(client, tokens["agent"], cust.id).json()["id"]
    for q in ("9223372036854775808", "9" * 30, "0"):
        r = client.get(BASE, params={"q": q}, headers=tokens["agent"])
        assert r.status_code == 200 and r.json()["total"] == 0, (q, r.text)
    assert [
        x["id"]
        for x in client.get(BASE, params={"q": str(a)}, headers=tokens["agent"]).json()["items"]
    ] == [a]
    web = Browser(client)
    web.login("agent")
    assert web.get("/complaints", params={"q": "9223372036854775808"}).status_code == 200


def test_public_form_status_reply_and_followup(client, db, users, tokens):
    body = {
        "name": "Wang Fang",
        "email": "wang@example.com",
        "category": "product_quality",
        "subject": "Blender stopped",
        "description": "The blender stopped working after a week.",
        "purposes": ["resolved"],
        "website": "",
    }
    r = client.post(PUBLIC, json=body)
    assert r.status_code == 201, r.text
    code = r.json()["tracking_code"]
    status = client.get(f"{PUBLIC}/{code}").json()
    assert status["status"] == "accepted" and status["events"][0]["kind"] == "received"
    assert client.get(f"{PUBLIC}/RC-NOTACODE00").status_code == 404
    cid = client.get(BASE, params={"q": code}, headers=tokens["manager"]).json()["items"][0]["id"]
    h = tokens["manager"]
    client.post(f"{BASE}/{cid}/transitions", json={"action": "start"}, headers=h)
    client.post(f"{BASE}/{cid}/notes", json={"body": "Which model?", "kind": "message"}, headers=h)
    client.post(f"{BASE}/{cid}/transitions", json={"action": "await_customer"}, headers=h)
    r = client.post(f"{PUBLIC}/{code}/replies", json={"body": "Model B-200"})
    assert r.status_code == 201 and r.json()["status"] == "in_progress"
    r = client.post(
        f"{BASE}/{cid}/transitions", json={"action": "resolve", "note": "Replaced."}, headers=h
    )
    assert r.status_code == 200
    from retento.complaints.models import Complaint

    db.expire_all()
    token = db.get(Complaint, cid).followup_token
    q = client.get(f"{PUBLIC}/followup/{token}").json()
    assert q["feedback"] == "Replaced." and q["answered"] is False
    r = client.post(f"{PUBLIC}/followup/{token}", json={"csat": 6, "would_buy_again": True})
    assert r.status_code == 422 and r.json()["field"] == "csat"
    r = client.post(f"{PUBLIC}/followup/{token}", json={"csat": 5, "would_buy_again": True})
    assert r.status_code == 200
    assert client.get(f"{PUBLIC}/{code}").json()["survey_open"] is False


def test_public_form_rejects_spam_and_bad_fields(client, db):
    good = {
        "name": "Bot",
        "email": "bot@example.com",
        "subject": "Buy now",
        "description": "Cheap watches, visit us.",
    }
    r = client.post(PUBLIC, json={**good, "website": "http://spam.example"})
    assert r.status_code == 422 and r.json()["field"] == "website"
    r = client.post(PUBLIC, json={**good, "email": "not-an-email"})
    assert r.status_code == 422 and r.json()["field"] == "email"
    r = client.post(PUBLIC, json={**good, "category": "unknown"})
    assert r.status_code == 422 and r.json()["field"] == "category"
    r = client.post(PUBLIC, json={**good, "description": "short"})
    assert r.status_code == 422 and r.json()["field"] == "description"


def test_public_form_rate_limit_per_ip(client, app, db):
    app.state.complaint_rate_limiter = RateLimiter(max_events=3, window_seconds=3600)
    body = {
        "name": "Zhao",
        "email": "zhao@example.com",
        "subject": "Rude staff",
        "description": "The cashier shouted at me on Sunday.",
        "category": "staff_attitude",
    }
    codes = [client.post(PUBLIC, json=body).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    r = client.post(PUBLIC, json=body)
    assert r.json()["code"] == "rate_limited" and "try again" in r.json()["detail"]
    assert 3590 <= int(r.headers["Retry-After"]) <= 3601
    # A new limiter object (another worker) still sees the stored hits.
    app.state.complaint_rate_limiter = RateLimiter(max_events=3, window_seconds=3600)
    assert client.post(PUBLIC, json=body).status_code == 429


def test_rate_limiter_window(db):
    from retento.complaints.public import TooManyRequests

    rl = RateLimiter(max_events=2, window_seconds=10)
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    rl.hit(db, "1.2.3.4", now=t0)
    rl.hit(db, "1.2.3.4", now=t0 + timedelta(seconds=1))
    with pytest.raises(TooManyRequests) as exc:
        rl.hit(db, "1.2.3.4", now=t0 + timedelta(seconds=5))
    assert exc.value.status == 429 and exc.value.retry_after == 6
    assert exc.value.headers == {"Retry-After": "6"}
    rl.hit(db, "5.6.7.8", now=t0 + timedelta(seconds=5))  # other addresses are independent
    rl.hit(db, "1.2.3.4", now=t0 + timedelta(seconds=10.5))  # the first hit has left the window
    # The expired hit was pruned on the way; the window holds the two latest.
    assert db.scalar(select(func.count()).where(RateHit.key == "1.2.3.4")) == 2


def test_rate_limit_is_shared_between_workers(db):
    """Two limiter instances (two worker processes) see the same hits through the database."""
    from retento.complaints.public import TooManyRequests

    worker_a = RateLimiter(max_events=2, window_seconds=60)
    worker_b = RateLimiter(max_events=2, window_seconds=60)
    worker_a.hit(db, "9.9.9.9")
    worker_b.hit(db, "9.9.9.9")
    with pytest.raises(TooManyRequests):
        worker_a.hit(db, "9.9.9.9")
    with pytest.raises(TooManyRequests):
        worker_b.hit(db, "9.9.9.9")


def test_rejected_public_replies_still_count_and_old_hits_are_pruned(client, app, db):
    from retento.complaints.jobs import complaint_rate_hits_prune

    app.state.complaint_rate_limiter = RateLimiter(max_events=2, window_seconds=3600)
    bad = [client.post(f"{PUBLIC}/RC-NOSUCHCODE/replies", json={"body": "hi"}) for _ in range(3)]
    # A wrong tracking code rolls the request back, but the attempt is still counted.
    assert [r.status_code for r in bad] == [404, 404, 429]
    assert 3590 <= int(bad[2].headers["Retry-After"]) <= 3601
    db.add(RateHit(key="10.0.0.1", at=datetime.now(UTC) - timedelta(hours=1)))
    db.flush()
    assert complaint_rate_hits_prune(db) == {"deleted": 1}
    assert db.scalar(select(func.count()).select_from(RateHit)) == 2


def test_admin_endpoints(client, db, users, tokens):
    h = tokens["manager"]
    cal = client.post(
        f"{BASE}/calendars",
        json={
            "name": "Shanghai office",
            "timezone": "Asia/Shanghai",
            "hours": {str(d): [["09:00", "18:00"]] for d in range(5)},
            "holidays": ["2025-10-01"],
        },
        headers=h,
    )
    assert cal.status_code == 201 and cal.json()["holidays"] == ["2025-10-01"]
    p = client.post(
        f"{BASE}/sla-policies",
        json={
            "name": "VIP quality",
            "severity": 3,
            "value_class": "vip",
            "first_response_minutes": 30,
            "resolution_minutes": 240,
            "calendar_id": cal.json()["id"],
        },
        headers=h,
    )
    assert p.status_code == 201
    r = client.patch(f"{BASE}/sla-policies/{p.json()['id']}", json={"priority": 5}, headers=h)
    assert r.status_code == 200 and r.json()["priority"] == 5
    assert (
        client.post(f"{BASE}/calendars", json={"name": "x"}, headers=tokens["agent"]).status_code
        == 403
    )
    cats = client.get(f"{BASE}/categories", headers=tokens["agent"]).json()
    assert {c["code"] for c in cats} >= {
        "product_quality",
        "delivery",
        "price_billing",
        "staff_attitude",
        "service",
        "other",
    }
    parent = next(c for c in cats if c["code"] == "delivery")["id"]
    r = client.post(
        f"{BASE}/categories",
        json={
            "code": "delivery.damaged",
            "name": "Damaged in transit",
            "name_zh": "运输损坏",
            "parent_id": parent,
        },
        headers=h,
    )
    assert r.status_code == 201 and r.json()["parent_id"] == parent
    imp = client.post(
        f"{BASE}/improvements",
        json={"title": "Better packaging", "root_cause": "packaging", "plan": "Double boxes"},
        headers=h,
    )
    assert imp.status_code == 201
    r = client.patch(
        f"{BASE}/improvements/{imp.json()['id']}",
        json={"stage": "do", "do_note": "Ordered boxes"},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["stage"] == "do"
    assert (
        client.get(f"{BASE}/improvements", headers=tokens["analyst"]).json()[0]["title"]
        == "Better packaging"
    )


def test_attachment_upload_and_download(client, app, db, users, tokens, tmp_path):
    app.state.settings = app.state.settings.model_copy(update={"data_dir": str(tmp_path)})
    cust = make_customer(db)
    db.commit()
    cid = _create(client, tokens["manager"], cust.id).json()["id"]
    r = client.post(
        f"{BASE}/{cid}/attachments",
        files={"file": ("receipt.pdf", b"%PDF-1.4 test", "application/pdf")},
        headers=tokens["manager"],
    )
    assert r.status_code == 201, r.text
    att = r.json()
    assert att["size"] == 13 and att["content_type"] == "application/pdf"
    r = client.get(f"{BASE}/attachments/{att['id']}", headers=tokens["analyst"])
    assert r.status_code == 200 and r.content == b"%PDF-1.4 test"
    r = client.post(
        f"{BASE}/{cid}/attachments",
        files={"file": ("run.sh", b"rm -rf /", "application/x-sh")},
        headers=tokens["manager"],
    )
    assert r.status_code == 422 and r.json()["field"] == "file"


def test_notifications_api(client, db, users, tokens):
    from retento.complaints.jobs import escalate

    only_policies(db, {"first_response_minutes": 60, "resolution_minutes": 120})
    cust = make_customer(db)
    db.commit()
    old = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    _create(client, tokens["agent"], cust.id, received_at=old)
    escalate(db)
    db.commit()
    page = client.get(
        f"{BASE}/notifications", params={"unread": True}, headers=tokens["agent"]
    ).json()
    assert page["total"] == 2
    nid = page["items"][0]["id"]
    assert (
        client.post(f"{BASE}/notifications/{nid}/read", headers=tokens["agent"]).status_code == 204
    )
    page = client.get(
        f"{BASE}/notifications", params={"unread": True}, headers=tokens["agent"]
    ).json()
    assert page["total"] == 1
    assert (
        client.post(f"{BASE}/notifications/{nid}/read", headers=tokens["manager"]).status_code
        == 404
    )


def test_category_patch_renames_moves_deactivates_and_refuses_bad_input(client, db, tokens):
    h = tokens["manager"]
    cats = {c["code"]: c for c in client.get(f"{BASE}/categories", headers=h).json()}
    r = client.post(
        f"{BASE}/categories",
        json={"code": "service.wait", "name": "Waiting", "parent_id": cats["service"]["id"]},
        headers=h,
    )
    assert r.status_code == 201
    wait = r.json()["id"]
    dup = client.post(f"{BASE}/categories", json={"code": "service.wait", "name": "x"}, headers=h)
    assert dup.status_code == 409 and dup.json()["field"] == "code"
    r = client.patch(
        f"{BASE}/categories/{wait}",
        json={"name": "Waiting time", "name_zh": "等待时间", "parent_id": cats["other"]["id"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["name"], body["name_zh"], body["parent_id"], body["code"]) == (
        "Waiting time",
        "等待时间",
        cats["other"]["id"],
        "service.wait",
    )
    cycle = client.patch(
        f"{BASE}/categories/{cats['other']['id']}", json={"parent_id": wait}, headers=h
    )
    assert cycle.status_code == 422 and cycle.json()["field"] == "parent_id"
    blank = client.patch(f"{BASE}/categories/{wait}", json={"name": ""}, headers=h)
    assert blank.status_code == 422 and blank.json()["field"] == "name"
    r = client.patch(f"{BASE}/categories/{wait}", json={"parent_id": None}, headers=h)
    assert r.status_code == 200 and r.json()["parent_id"] is None
    r = client.patch(f"{BASE}/categories/{wait}", json={"is_active": False}, headers=h)
    assert r.status_code == 200 and r.json()["is_active"] is False
    cust = make_customer(db)
    db.commit()
    refused = _create(client, tokens["agent"], cust.id, category="service.wait")
    assert refused.status_code == 422 and refused.json()["field"] == "category"
    assert (
        client.patch(f"{BASE}/categories/999999", json={"name": "x"}, headers=h).status_code == 404
    )
    forbidden = client.patch(
        f"{BASE}/categories/{wait}", json={"name": "x"}, headers=tokens["agent"]
    )
    assert forbidden.status_code == 403


def test_a_category_chinese_name_is_checked_like_a_name_and_blank_still_clears(client, db, tokens):
    """POST {"name_zh": "\u202e中文"} was stored (it displays reversed); "" still clears it."""
    body = {"code": "qa.bidi", "name": "Bidi", "name_zh": "\u202e中文"}
    r = client.post("/api/v1/complaints/categories", json=body, headers=tokens["admin"])
    assert r.status_code == 422 and "name_zh" in r.text
    r = client.post(
        "/api/v1/complaints/categories", json={**body, "name_zh": "中文"}, headers=tokens["admin"]
    )
    assert r.status_code == 201, r.text
    cat = r.json()
    r = client.patch(
        f"/api/v1/complaints/categories/{cat['id']}",
        json={"name_zh": "", "version": cat["version"]},
        headers=tokens["admin"],
    )
    assert r.status_code == 200 and r.json()["name_zh"] is None, r.text


@pytest.mark.parametrize("value", ["9" * 400, "1" * 320 + "h", "9" * 21, "99999999999999999999h"])
def test_sla_targets_too_large_for_a_number_are_refused_not_a_500(client, tokens, value):
    """A minutes field of hundreds of digits overflowed a float (500, found by a QA pass)."""
    h = tokens["admin"]
    for field in ("first_response_minutes", "resolution_minutes"):
        body = {"name": "x", "severity": 1, "first_response_minutes": 30}
        body |= {"resolution_minutes": 60, "calendar_id": 1, field: value}
        r = client.post(f"{BASE}/sla-policies", json=body, headers=h)
        assert r.status_code == 422, r.text
        assert field in r.text
