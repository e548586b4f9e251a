"""A failed work item of a kind safe to repeat (a large import's loyalty points) can be run
again: the API and the Background work page (administrators), once per failure, in English and
Chinese; other kinds and other statuses are refused with 409 and nothing changes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.core.db import utcnow
from retento.work import queue
from retento.work.models import WorkItem
from tests.factories.concurrency import run_parallel
from tests.web.conftest import Browser, csrf_of


def _failed(db, kind: str = "loyalty.earn_import") -> WorkItem:
    queue.load_kinds()
    item = WorkItem(
        kind=kind,
        payload={"ranges": [], "orders": 0, "actor_id": None},
        status="failed",
        error="OperationalError: server closed the connection",
        attempts=3,
        progress=0.4,
        stage="earning",
        created_at=utcnow(),
        finished_at=utcnow(),
        claimed_by="worker:1",
    )
    db.add(item)
    db.commit()
    return item


def test_api_runs_a_failed_item_again_once(client, tokens, db):
    item = _failed(db)
    r = client.post(f"/api/v1/work/{item.id}/retry", headers=tokens["admin"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["attempts"], body["error"]) == ("queued", 0, None)
    again = client.post(f"/api/v1/work/{item.id}/retry", headers=tokens["admin"])
    assert again.status_code == 409 and again.json()["field"] == "status"
    # Audited once, like retrying a failed e-mail: who ran it again, from which failure.
    db.expire_all()
    entries = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "work_item", AuditEntry.entity_id == str(item.id)
        )
    ).all()
    assert len(entries) == 1
    assert entries[0].before["status"] == "failed" and entries[0].after["status"] == "queued"
    assert entries[0].before["error"].startswith("OperationalError")
    # It runs to the end like any queued item (no orders: nothing to earn).
    assert queue.WorkRunner(client.app.state.session_factory).run_once() == 1
    db.expire_all()
    assert db.get(WorkItem, item.id).status == "done"


def test_kinds_not_safe_to_repeat_and_other_roles_are_refused(client, tokens, db):
    scoring = _failed(db, "scoring.run")
    r = client.post(f"/api/v1/work/{scoring.id}/retry", headers=tokens["admin"])
    assert r.status_code == 409 and r.json()["field"] == "kind"
    item = _failed(db)
    assert client.post(f"/api/v1/work/{item.id}/retry", headers=tokens["manager"]).status_code in (
        403,
        404,
    )
    db.expire_all()
    assert db.get(WorkItem, scoring.id).status == "failed"
    assert db.get(WorkItem, item.id).status == "failed"


@pytest.mark.parametrize(
    ("locale", "button", "flash"),
    [("en", "Run again", "is queued again"), ("zh_CN", "重新运行", "已重新排队")],
)
def test_the_page_offers_run_again_for_safe_failed_items(client, db, users, locale, button, flash):
    item, scoring = _failed(db), _failed(db, "scoring.run")
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("admin")
    page = web.get("/admin/work").text
    row = page.split(f'id="work-{item.id}"', 1)[1].split("</tr>", 1)[0]
    assert button in row and f'action="/admin/work/{item.id}/retry"' in row
    other = page.split(f'id="work-{scoring.id}"', 1)[1].split("</tr>", 1)[0]
    assert "/retry" not in other
    r = web.client.post(
        f"/admin/work/{item.id}/retry",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=True,
    )
    assert r.status_code == 200 and flash in r.text
    db.expire_all()
    assert db.get(WorkItem, item.id).status == "queued"


def test_two_clicks_at_once_queue_it_once(live_pg):
    with live_pg.session() as s:
        item = _failed(s)
        item_id = item.id

    def click(_i: int) -> bool:
        with live_pg.session() as s:
            ok = queue.requeue_failed(s, item_id)
            s.commit()
            return ok

    assert sorted(run_parallel(4, click)) == [False, False, False, True]
    with live_pg.session() as s:
        assert s.get(WorkItem, item_id).status == "queued"
