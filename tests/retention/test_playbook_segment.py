"""A playbook limited to one cluster of a saved segmentation (Insights): API, matching, the
fall-through to the class's "*" playbook, a deleted segmentation matching nobody, the editor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from retento.insights.models import InsightSegment, InsightSegmentMember
from retento.retention import playbook_apply, playbooks
from retento.retention.models import RetentionAlert, RetentionCase, RetentionPlaybook
from retento.retention.service import get_config
from tests.factories import make_customer
from tests.retention.test_pages import PLAYBOOK
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


BODY = {
    "value_class": "key",
    "reason": "survey",
    "action": "call",
    "name_en": "Bargain hunters: call",
    "name_zh": "精打细算型：致电",
}


def _segmentation(db, members: dict[int, int]) -> InsightSegment:
    """A saved segmentation with two clusters and ``{customer_id: cluster}`` members."""
    seg = InsightSegment(
        name="Spring segments",
        method="kmeans",
        k=2,
        features=["recency", "frequency"],
        profile={
            "profiles": [
                {"segment": 0, "name_en": "Bargain hunters", "name_zh": "精打细算型"},
                {"segment": 1, "name_en": "Loyal regulars", "name_zh": "忠实常客"},
            ]
        },
        customers=len(members),
    )
    db.add(seg)
    db.flush()
    for cid, cluster in members.items():
        db.add(InsightSegmentMember(segment_id=seg.id, customer_id=cid, cluster=cluster))
    db.flush()
    return seg


def _alert(db, customer, rule="survey", cls="key") -> RetentionAlert:
    alert = RetentionAlert(
        customer_id=customer.id,
        rule=rule,
        cause_key=f"test:{customer.id}:{rule}",
        severity="high",
        reason_code="detractor",
        reason_params={},
        value_class=cls,
        risk=0.7,
        owner_id=None,
        status="open",
        created_at=datetime.now(UTC),
    )
    db.add(alert)
    db.flush()
    return alert


def test_api_sets_checks_and_clears_the_segment(client, tokens, db, users):
    seg = _segmentation(db, {})
    db.commit()
    h = tokens["manager"]
    for bad, why in (
        ("abc", "segment"),
        (f"{seg.id}:7", "clusters 0 to 1"),
        ("999999:0", "999999"),
    ):
        r = client.post("/api/v1/retention/playbooks", json={**BODY, "segment": bad}, headers=h)
        assert r.status_code == 422, r.text
        assert "segment" in r.text and why in r.text
    r = client.post(
        "/api/v1/retention/playbooks", json={**BODY, "segment": f"{seg.id}:0"}, headers=h
    )
    assert r.status_code == 201, r.text
    pb = r.json()
    assert (pb["segment_id"], pb["segment_cluster"]) == (seg.id, 0)
    r = client.patch(
        f"/api/v1/retention/playbooks/{pb['id']}",
        json={"segment": "", "version": pb["version"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["segment_id"], r.json()["segment_cluster"]) == (None, None)


def test_customers_outside_the_cluster_fall_through_to_the_any_reason_playbook(db, users):
    get_config(db)  # the default playbooks, among them key × "*"
    inside, outside, unsegmented = (make_customer(db) for _ in range(3))
    seg = _segmentation(db, {inside.id: 0, outside.id: 1})
    pb = playbooks.create_playbook(db, {**BODY, "segment": f"{seg.id}:0"}, actor=users["manager"])
    general = db.scalar(  # the key class's "any other reason" playbook
        select(RetentionPlaybook).where(
            RetentionPlaybook.value_class == "key", RetentionPlaybook.reason == "*"
        )
    )
    assert general is not None

    assert playbooks.match_playbook(db, "key", "survey", inside.id).id == pb.id
    assert playbooks.match_playbook(db, "key", "survey", outside.id).id == general.id
    assert playbooks.match_playbook(db, "key", "survey", unsegmented.id).id == general.id

    cases = {}
    for c in (inside, outside):
        case = playbook_apply.apply_playbook(db, _alert(db, c))
        cases[c.id] = case.playbook_id
    assert cases == {inside.id: pb.id, outside.id: general.id}

    # A manager applying the limited playbook by hand to an outsider's alert: 422 naming it.
    alert = _alert(db, unsegmented)
    try:
        playbook_apply.apply_to_alert(db, alert.id, actor=users["manager"], playbook_id=pb.id)
    except Exception as exc:  # InvalidInput
        assert getattr(exc, "status", None) == 422 and exc.field == "playbook_id"
    else:
        raise AssertionError("applying a playbook outside its segment must be refused")


def test_a_deleted_segmentation_matches_nobody(db, users):
    get_config(db)
    c = make_customer(db)
    seg = _segmentation(db, {c.id: 0})
    pb = playbooks.create_playbook(db, {**BODY, "segment": f"{seg.id}:0"}, actor=users["manager"])
    db.delete(seg)
    db.flush()
    assert playbooks.in_segment(db, pb, c.id) is False
    matched = playbooks.match_playbook(db, "key", "survey", c.id)
    assert matched is not None and matched.id != pb.id  # never widened to everyone
    assert db.scalar(select(RetentionCase.id)) is None


def test_editor_offers_the_saved_clusters_in_both_languages(web, db, users):
    c = make_customer(db)
    seg = _segmentation(db, {c.id: 0})
    db.commit()
    web.login("manager")
    form = web.get("/retention/playbooks/new")
    assert form.status_code == 200
    assert f'value="{seg.id}:0"' in form.text and "Spring segments › Bargain hunters" in form.text
    web.post("/locale", {"lang": "zh_CN", "next": "/"})
    zh = web.get("/retention/playbooks/new")
    assert "仅限某一分群中的客户" in zh.text and "Spring segments › 精打细算型" in zh.text
    web.post("/locale", {"lang": "en", "next": "/"})
    r = web.post(
        "/retention/playbooks/new",
        {**PLAYBOOK, "value_class": "key", "reason": "survey", "segment": f"{seg.id}:1"},
    )
    assert r.status_code == 303, r.text
    pb = db.scalar(select(RetentionPlaybook).where(RetentionPlaybook.reason == "survey"))
    db.refresh(pb)
    assert (pb.segment_id, pb.segment_cluster) == (seg.id, 1)
    listing = web.get("/retention/playbooks")
    assert "Only: Spring segments › Loyal regulars" in listing.text
    bad = web.post(
        "/retention/playbooks/new",
        {**PLAYBOOK, "value_class": "small", "reason": "survey", "segment": "x"},
    )
    assert bad.status_code == 422
