"""A saved segment that something refers to by its id is not deleted, and ids are not reused.

QA: a playbook limited to cluster 0 of segment 1; segment 1 deleted without a word (nor an
audit entry); the next segment saved got id 1 again and the playbook silently targeted its
cluster. Now the delete is refused (409 on the API, an error on the page, naming the playbooks
in the reader's language, the page saying so beforehand), a survey distribution not sent yet
holds its segment too, a new segment never gets a deleted one's id, saving, renaming and
deleting are audited, and a playbook saved while the segment is being deleted either holds it
or is refused (PostgreSQL). On both backends, in both languages."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.auth.models import User
from retento.core.errors import Conflict, InvalidInput
from retento.insights import segments_service as svc
from retento.insights.models import InsightSegment, InsightSegmentMember
from retento.retention import playbooks
from retento.retention.models import RetentionPlaybook
from retento.retention.service import get_config
from retento.surveys.models import Survey, SurveyDistribution
from tests.factories import make_customer, make_user
from tests.insights.data import build_shop
from tests.web.conftest import Browser

BODY = {
    "value_class": "key",
    "reason": "survey",
    "action": "call",
    "name_en": "Bargain hunters: call",
    "name_zh": "精打细算型：致电",
}

FIGURES = {
    "size": 1,
    "share": 0.5,
    "revenue_share": 0.5,
    "mean": {"recency": 10.0, "frequency": 2.0},
    "median": {"recency": 10.0, "frequency": 2.0},
    "level": {"recency": "low", "frequency": "high"},
}


def _segment(db, name: str = "Spring segments", members: dict[int, int] | None = None):
    seg = InsightSegment(
        name=name,
        method="kmeans",
        k=2,
        features=["recency", "frequency"],
        profile={
            "profiles": [
                {"segment": 0, "name_en": "Bargain hunters", "name_zh": "精打细算型", **FIGURES},
                {"segment": 1, "name_en": "Loyal regulars", "name_zh": "忠实常客", **FIGURES},
            ],
            "chosen_by": "silhouette",
        },
        customers=len(members or {}),
    )
    db.add(seg)
    db.flush()
    for cid, cluster in (members or {}).items():
        db.add(InsightSegmentMember(segment_id=seg.id, customer_id=cid, cluster=cluster))
    db.flush()
    return seg


def _members(db, seg_id: int) -> int:
    return db.scalar(
        select(func.count()).where(InsightSegmentMember.segment_id == seg_id)
    )  # fmt: skip


def test_api_refuses_to_delete_a_segment_a_playbook_uses(client, tokens, db, users):
    get_config(db)
    c = make_customer(db)
    seg = _segment(db, members={c.id: 0})
    pb = playbooks.create_playbook(db, {**BODY, "segment": f"{seg.id}:0"}, actor=users["manager"])
    db.commit()
    h = tokens["analyst"]
    r = client.delete(f"/api/v1/insights/segments/{seg.id}", headers=h)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "conflict" and body["field"] == "id"
    assert body["playbooks"] == [pb.id] and body["survey_distributions"] == []
    assert "'Spring segments'" in body["detail"]
    assert f"Bargain hunters: call (#{pb.id})" in body["detail"]
    assert "Choose another segment (or none)" in body["detail"]
    # Nothing was deleted, nothing audited as deleted.
    assert client.get(f"/api/v1/insights/segments/{seg.id}", headers=h).status_code == 200
    assert _members(db, seg.id) == 1
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "delete")) is None

    # Once the playbook targets every customer again, the segment goes (audited).
    r = client.patch(
        f"/api/v1/retention/playbooks/{pb.id}",
        json={"segment": "", "version": pb.version},
        headers=tokens["manager"],
    )
    assert r.status_code == 200, r.text
    assert client.delete(f"/api/v1/insights/segments/{seg.id}", headers=h).status_code == 204
    entry = db.scalar(select(AuditEntry).where(AuditEntry.entity == "insight_segment"))
    assert entry.action == "delete" and entry.entity_id == str(seg.id)
    assert entry.before["name"] == "Spring segments" and entry.after is None
    assert entry.before["clusters"] == [
        "0: Bargain hunters / 精打细算型",
        "1: Loyal regulars / 忠实常客",
    ]
    assert "profile" not in entry.before


def test_a_distribution_not_sent_yet_holds_its_segment(db, users):
    seg = _segment(db)
    other = _segment(db, name="Other")
    survey = Survey(name="NPS", status="active", created_by_id=users["manager"].id)
    db.add(survey)
    db.flush()
    dist = SurveyDistribution(
        survey_id=survey.id,
        channel="online",
        segment_kind="insight",
        segment_value=f"{seg.id}:1",
        expires_at=datetime.now(UTC) + timedelta(days=7),
        status="queued",
    )
    # Another segment's distribution, and a value that names no segment, hold nothing.
    db.add_all(
        [
            SurveyDistribution(
                survey_id=survey.id,
                channel="online",
                segment_kind="insight",
                segment_value=v,
                expires_at=datetime.now(UTC),
                status="queued",
            )
            for v in (f"{other.id}:0", "junk")
        ]
    )
    db.add(dist)
    db.flush()
    with pytest.raises(Conflict) as refused:
        svc.delete_segment(db, seg.id, actor=users["analyst"])
    assert f"survey distributions not sent yet use it (#{dist.id})" in refused.value.message
    assert refused.value.extensions == {"playbooks": [], "survey_distributions": [dist.id]}

    # With a playbook too, both are named in one message.
    get_config(db)
    pb = playbooks.create_playbook(db, {**BODY, "segment": f"{seg.id}:0"}, actor=users["manager"])
    with pytest.raises(Conflict) as both:
        svc.delete_segment(db, seg.id, actor=users["analyst"])
    assert f"retention playbooks (Bargain hunters: call (#{pb.id}))" in both.value.message
    assert f"survey distributions not sent yet (#{dist.id})" in both.value.message

    # Sent (or failed) distributions are history: the segment may go.
    db.delete(pb)
    dist.status = "done"
    db.flush()
    svc.delete_segment(db, seg.id, actor=users["analyst"])
    assert db.get(InsightSegment, seg.id) is None


def test_a_deleted_segments_id_is_never_given_again(client, tokens, db, users):
    """The QA steps: save, point a playbook at it, (the delete now refused; here the playbook
    row is left behind as before the fix), save another: a new id, the playbook matches
    nobody."""
    get_config(db)
    c = make_customer(db)
    first = _segment(db, name="First", members={c.id: 0})
    pb = playbooks.create_playbook(db, {**BODY, "segment": f"{first.id}:0"}, actor=users["manager"])
    old_id = first.id
    db.execute(InsightSegmentMember.__table__.delete())
    db.delete(first)
    db.flush()
    second = _segment(db, name="Second", members={c.id: 0})
    assert second.id > old_id
    assert playbooks.in_segment(db, pb, c.id) is False
    # The model says so to databases created from it, too (SQLite: AUTOINCREMENT).
    assert InsightSegment.__table__.dialect_options["sqlite"]["autoincrement"] is True


def test_saving_renaming_and_deleting_are_audited(client, tokens, db, users):
    build_shop(db)
    db.commit()
    h = tokens["analyst"]
    r = client.post("/api/v1/insights/segments/runs", json={"k_max": 3}, headers=h)
    run = r.json()
    seg = client.post(
        "/api/v1/insights/segments", json={"run_id": run["id"], "name": "Spring"}, headers=h
    ).json()
    # A retried save creates nothing, and audits nothing more.
    client.post(
        "/api/v1/insights/segments", json={"run_id": run["id"], "name": "Spring"}, headers=h
    )
    client.patch(f"/api/v1/insights/segments/{seg['id']}", json={"name": "Summer"}, headers=h)
    client.patch(f"/api/v1/insights/segments/{seg['id']}", json={"name": "Summer"}, headers=h)
    assert client.delete(f"/api/v1/insights/segments/{seg['id']}", headers=h).status_code == 204
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "insight_segment").order_by(AuditEntry.id)
    ).all()
    assert [e.action for e in entries] == ["create", "update", "delete"]
    created, renamed, deleted = entries
    assert {e.actor_name for e in entries} == {users["analyst"].username}
    assert created.after["name"] == "Spring" and created.after["run_id"] == run["id"]
    assert created.after["k"] == run["result"]["k"] and created.after["customers"] == 40
    assert len(created.after["clusters"]) == run["result"]["k"]
    assert renamed.before == {"name": "Spring", "version": 1}
    assert renamed.after == {"name": "Summer", "version": 2}
    assert deleted.before["name"] == "Summer"


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_page_warns_and_refuses_in_both_languages(web, db, users, lang):
    get_config(db)
    seg = _segment(db)
    pb = playbooks.create_playbook(db, {**BODY, "segment": f"{seg.id}:0"}, actor=users["manager"])
    db.commit()
    web.login("analyst")
    web.post("/locale", {"lang": lang, "next": "/"})
    zh = lang == "zh_CN"
    named = f"精打细算型：致电（#{pb.id}）" if zh else f"Bargain hunters: call (#{pb.id})"
    page = web.get(f"/insights/segments/{seg.id}")
    assert page.status_code == 200
    note = page.text.split('id="segment-used-by">', 1)[1].split("</div>", 1)[0]
    assert named in note
    assert ("挽回策略正在使用它" in note) if zh else ("retention playbooks use it" in note)

    r = web.post(f"/insights/segments/{seg.id}/delete", {"version": str(seg.version)})
    assert r.status_code == 409
    error = r.text.split('id="segment-delete-error">', 1)[1].split("</div>", 1)[0]
    assert named in error
    if zh:
        assert "无法删除已保存的分群" in error and "cannot be deleted" not in error
    else:
        assert "cannot be deleted" in error
    assert db.get(InsightSegment, seg.id) is not None

    # Unused, it is deleted as before; its page no longer warns before that.
    db.delete(db.get(RetentionPlaybook, pb.id))
    db.commit()
    page = web.get(f"/insights/segments/{seg.id}")
    assert 'id="segment-used-by"' not in page.text
    r = web.post(f"/insights/segments/{seg.id}/delete", {"version": str(seg.version)})
    assert r.status_code == 303 and r.headers["location"].endswith("/insights/segments")
    seg_id = seg.id
    db.expire_all()
    assert db.get(InsightSegment, seg_id) is None


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_audit_log_names_the_segments_fields(web, db, users, lang):
    seg = _segment(db)
    svc.rename_segment(db, seg.id, "Autumn segments", actor=users["analyst"])
    svc.delete_segment(db, seg.id, actor=users["analyst"])
    db.commit()
    web.login("admin")
    web.post("/locale", {"lang": lang, "next": "/"})
    page = web.get("/admin/audit?entity=insight_segment")
    assert page.status_code == 200
    table = page.text.split('id="audit-table"', 1)[1]
    if lang == "zh_CN":
        for text in ("已保存的分群", "分群名称", "分群数（k）", "特征", "k 均值"):
            assert text in table, text
    else:
        for text in ("Saved segment", "Segment names", "Number of segments (k)", "k-means"):
            assert text in table, text


# --- PostgreSQL: a playbook saved while its segment is deleted ---------------------------------


def _live_setup(live_pg):
    with live_pg.session() as s:
        get_config(s)
        seg = _segment(s)
        manager = make_user(s, role="manager")
        analyst = make_user(s, role="analyst")
        pb = playbooks.create_playbook(s, dict(BODY), actor=manager)
        s.commit()
        return seg.id, pb.id, manager.id, analyst.id


def _delete_in_thread(live_pg, seg_id: int, analyst_id: int, outcome: list) -> threading.Thread:
    """Delete the segment in another session and thread; ``outcome`` gets "deleted" or the
    Conflict that refused it."""

    def delete() -> None:
        with live_pg.session() as s:
            try:
                svc.delete_segment(s, seg_id, actor=s.get(User, analyst_id))
                s.commit()
                outcome.append("deleted")
            except Conflict as exc:
                s.rollback()
                outcome.append(exc)

    t = threading.Thread(target=delete)
    t.start()
    return t


def test_a_playbook_saved_first_holds_the_segment(live_pg):
    """The playbook's save holds the segment (FOR KEY SHARE); the delete waits, then sees the
    playbook and refuses."""
    seg_id, pb_id, manager_id, analyst_id = _live_setup(live_pg)
    saver = live_pg.session()
    manager = saver.get(User, manager_id)
    playbooks.update_playbook(saver, pb_id, {"segment": f"{seg_id}:0"}, actor=manager)
    saver.flush()
    outcome: list = []
    t = _delete_in_thread(live_pg, seg_id, analyst_id, outcome)
    t.join(1.0)
    assert t.is_alive() and outcome == []  # waiting for the playbook's transaction
    saver.commit()
    saver.close()
    t.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert outcome[0].extensions["playbooks"] == [pb_id]
    with live_pg.session() as s:
        assert s.get(InsightSegment, seg_id) is not None
        assert s.get(RetentionPlaybook, pb_id).segment_id == seg_id


def test_a_delete_first_makes_the_playbook_save_fail(live_pg):
    """The delete holds the segment (FOR UPDATE); the playbook's save waits, then finds no
    segment and is refused (422 naming the field): no playbook left pointing at nothing."""
    seg_id, pb_id, manager_id, analyst_id = _live_setup(live_pg)
    deleter = live_pg.session()
    svc.delete_segment(deleter, seg_id, actor=deleter.get(User, analyst_id))
    outcome: list = []

    def save() -> None:
        with live_pg.session() as s:
            try:
                playbooks.update_playbook(
                    s, pb_id, {"segment": f"{seg_id}:0"}, actor=s.get(User, manager_id)
                )
                s.commit()
                outcome.append("saved")
            except InvalidInput as exc:
                s.rollback()
                outcome.append(exc)

    t = threading.Thread(target=save)
    t.start()
    t.join(1.0)
    assert t.is_alive() and outcome == []
    deleter.commit()
    deleter.close()
    t.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], InvalidInput), outcome
    assert outcome[0].field == "segment" and "does not exist" in outcome[0].message
    with live_pg.session() as s:
        assert s.get(RetentionPlaybook, pb_id).segment_id is None


def test_a_distribution_recorded_first_holds_the_segment(live_pg):
    """A survey distribution to the segment, recorded while the segment is being deleted: its
    check holds the segment (FOR KEY SHARE), so the delete waits, then sees the queued
    distribution and refuses; the distribution's audience still exists when the worker runs."""
    from retento.surveys.distributions import start_distribution
    from retento.surveys.schemas import DistributionCreate, SegmentIn

    seg_id, _pb_id, manager_id, analyst_id = _live_setup(live_pg)
    with live_pg.session() as s:
        survey = Survey(name="NPS", status="active", created_by_id=manager_id)
        s.add(survey)
        s.commit()
        survey_id = survey.id
    sender = live_pg.session()
    data = DistributionCreate(segment=SegmentIn(kind="insight", value=f"{seg_id}:0"))
    dist = start_distribution(sender, survey_id, data, actor=sender.get(User, manager_id))
    outcome: list = []
    t = _delete_in_thread(live_pg, seg_id, analyst_id, outcome)
    t.join(1.0)
    assert t.is_alive() and outcome == []  # waiting for the distribution's transaction
    sender.commit()
    dist_id = dist.id
    sender.close()
    t.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert outcome[0].extensions["survey_distributions"] == [dist_id]
    with live_pg.session() as s:
        assert s.get(InsightSegment, seg_id) is not None
