"""The inbox lists every notification with the SLA notices, marks them read, opens their object;
the settings page and the API read and store each user's channel per kind; English and Chinese."""

from __future__ import annotations

from retento.notifications.models import Notification, NotificationPreference
from retento.notifications.service import notify
from tests.factories.complaints import make_complaint
from tests.notifications.helpers import got, team
from tests.web.conftest import Browser


def test_inbox_lists_opens_and_marks_read(client, db, users):
    lead, ann, _ = team(db, users)
    c = make_complaint(db, users["admin"], assignee_id=ann.id, subject="Torn sofa")
    db.commit()
    web = Browser(client)
    web.login("ann")
    assert ">1<" in web.get("/notifications/badge").text
    page = web.get("/notifications").text
    assert f"Complaint {c.tracking_code} was assigned to you." in page
    assert "<td>Torn sofa</td>" in page  # the subject, read from the complaint
    assert 'class="unread"' in page and "Notification settings" in page
    [n] = got(db, ann)
    r = web.post(f"/notifications/n/{n.id}/open")
    assert r.status_code == 303 and r.headers["location"] == f"/complaints/{c.id}"
    db.expire_all()
    assert db.get(Notification, n.id).read_at is not None
    assert web.get("/notifications/badge").text.strip() == ""
    # Someone else's notification is not found and stays unread.
    [theirs] = got(db, lead)
    assert web.post(f"/notifications/n/{theirs.id}/open").status_code == 404
    assert web.post(f"/notifications/n/{theirs.id}/read").status_code == 404
    db.expire_all()
    assert db.get(Notification, theirs.id).read_at is None


def test_mark_one_read_and_chinese_text(client, db, users):
    lead, ann, _ = team(db, users)
    c = make_complaint(db, users["admin"], assignee_id=ann.id)
    db.commit()
    web = Browser(client)
    web.login("manager")
    web.post("/locale", {"lang": "zh_CN", "next": "/notifications"})
    page = web.get("/notifications").text
    assert f"您的队列中有新投诉 {c.tracking_code}" in page and "标为已读" in page
    [n] = got(db, lead)
    r = web.post(f"/notifications/n/{n.id}/read")
    assert r.status_code == 303 and r.headers["location"] == "/notifications"
    assert "没有未读通知" in web.get("/notifications?unread=1").text
    prefs = web.get("/notifications/preferences").text
    assert "通知设置" in prefs and "每日摘要" in prefs and "有投诉分配给我" in prefs


def test_settings_page_saves_and_rejects_unknown_channels(client, db, users):
    web = Browser(client)
    web.login("agent")
    page = web.get("/notifications/preferences")
    assert page.status_code == 200
    # The agent's defaults: assignment by e-mail at once, team news in the app.
    assert (
        'name="complaint_assigned" value="email" id="pref-complaint_assigned-email" checked'
        in page.text
    )
    assert 'href="/notifications/preferences"' in web.get("/customers").text  # the user menu
    r = web.post(
        "/notifications/preferences",
        {"complaint_assigned": "digest", "complaint_new": "off", "scoring_failed": "email"},
    )
    assert r.status_code == 303
    saved = {
        p.kind: p.channel
        for p in db.query(NotificationPreference).filter_by(user_id=users["agent"].id)
    }
    # Scoring notifications never reach agents: not offered, not stored.
    assert saved == {"complaint_assigned": "digest", "complaint_new": "off"}
    page = web.get("/notifications/preferences").text
    assert "Notification settings saved." in page
    assert "A scoring run failed" not in page
    assert 'value="digest" id="pref-complaint_assigned-digest" checked' in page
    bad = web.post("/notifications/preferences", {"complaint_new": "pigeon"})
    assert bad.status_code == 422 and "Choose one of the listed channels." in bad.text
    # Preferences apply: "off" means nothing is raised.
    make_complaint(db, users["admin"], assignee_id=users["agent"].id)
    kinds = [n.kind for n in got(db, users["agent"])]
    assert kinds == ["complaint_assigned"]
    assert got(db, users["agent"])[0].delivery == "digest"


def test_api_list_read_and_preferences(client, db, users, tokens):
    h = tokens["manager"]
    for i in range(3):
        notify(
            db,
            "import_finished",
            [users["manager"]],
            key=f"api-{i}",
            params={"file": f"f{i}.csv", "rows": i, "rejected": 0},
            link="/imports",
        )
    db.commit()
    r = client.get("/api/v1/notifications?limit=2", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3 and len(body["items"]) == 2
    assert body["items"][0]["message"] == "Import of f2.csv finished: 2 rows, 0 rejected."
    first = body["items"][0]["id"]
    assert client.post(f"/api/v1/notifications/{first}/read", headers=h).status_code == 204
    assert client.get("/api/v1/notifications?unread=true", headers=h).json()["total"] == 2
    # Another user's notification is not found.
    assert (
        client.post(f"/api/v1/notifications/{first}/read", headers=tokens["agent"]).status_code
        == 404
    )
    assert client.post("/api/v1/notifications/read-all", headers=h).json() == {"marked": 2}

    prefs = client.get("/api/v1/notifications/preferences", headers=h).json()
    by_kind = {p["kind"]: p for p in prefs}
    assert (
        by_kind["complaint_new"]["channel"] == "in_app" and by_kind["complaint_new"]["is_default"]
    )
    r = client.put(
        "/api/v1/notifications/preferences",
        json={"channels": {"complaint_new": "digest"}},
        headers=h,
    )
    assert r.status_code == 200
    assert {p["kind"]: p["channel"] for p in r.json()}["complaint_new"] == "digest"
    bad = client.put(
        "/api/v1/notifications/preferences", json={"channels": {"nope": "email"}}, headers=h
    )
    assert bad.status_code == 422 and "nope" in bad.text
    bad = client.put(
        "/api/v1/notifications/preferences",
        json={"channels": {"complaint_new": "fax"}},
        headers=h,
    )
    assert bad.status_code == 422 and "complaint_new" in bad.text
    bad = client.put(
        "/api/v1/notifications/preferences",
        json={"channels": {"complaint_new": "email"}},
        headers=tokens["analyst"],
    )
    assert bad.status_code == 422 and "complaint_new" in bad.text
    kinds = {
        p["kind"]
        for p in client.get("/api/v1/notifications/preferences", headers=tokens["analyst"]).json()
    }
    assert kinds == {"scoring_finished", "scoring_failed"}
    assert client.get("/api/v1/notifications?limit=0", headers=h).status_code == 422
