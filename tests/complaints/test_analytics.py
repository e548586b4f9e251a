"""Dashboard figures computed in SQL against a small data set with known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from retento.complaints import analytics, followup, remedies, service
from retento.complaints.schemas import FollowUpIn, RemedyCreate, TransitionIn
from retento.core.errors import Forbidden
from tests.factories import make_customer, make_order
from tests.factories.complaints import make_complaint, only_policies

H = timedelta(hours=1)
T0 = datetime(2024, 3, 4, 9, tzinfo=UTC)


def _act(db, c, action, at, actor, note=None):
    service.apply_transition(db, c.id, TransitionIn(action=action, note=note), actor=actor, at=at)


def _respond_and_resolve(db, c, respond_after, resolve_after, actor):
    t = c.received_at
    _act(db, c, "start", t + respond_after / 2, actor)
    _act(db, c, "await_customer", t + respond_after, actor)
    _act(db, c, "customer_replied", t + respond_after + timedelta(minutes=1), actor)
    _act(db, c, "resolve", t + resolve_after, actor, note="Sorted out")


@pytest.fixture
def dataset(db, users):
    only_policies(db, {"first_response_minutes": 90, "resolution_minutes": 24 * 60})
    m = users["manager"]
    a, b, cc, d = (make_customer(db) for _ in range(4))
    c1 = make_complaint(
        db,
        m,
        customer_id=a.id,
        category="delivery",
        severity=1,
        root_cause="Packaging",
        received_at=T0,
    )
    c2 = make_complaint(
        db,
        m,
        customer_id=b.id,
        category="delivery",
        severity=3,
        root_cause="packaging",
        received_at=T0 + H,
    )
    c3 = make_complaint(
        db,
        m,
        customer_id=cc.id,
        category="product_quality",
        channel="email",
        severity=4,
        root_cause="courier",
        received_at=T0 + 2 * H,
    )
    c4 = make_complaint(
        db,
        m,
        customer_id=d.id,
        category="price_billing",
        severity=2,
        kind="grumble",
        received_at=T0 + 3 * H,
    )
    _respond_and_resolve(db, c1, H, 10 * H, m)
    _respond_and_resolve(db, c2, 2 * H, 48 * H, m)
    _respond_and_resolve(db, c3, 3 * H, 200 * H, m)
    _act(db, c3, "reopen", c3.received_at + 300 * H, m)
    followup.record_follow_up(db, c1.id, FollowUpIn(won_back=True), actor=m)
    followup.record_follow_up(db, c2.id, FollowUpIn(won_back=False), actor=m)
    remedies.add_remedy(
        db,
        c1.id,
        RemedyCreate(kind="compensation", compensation_type="refund", amount="12.00", cost="12.00"),
        actor=m,
    )
    remedies.add_remedy(db, c2.id, RemedyCreate(kind="apology"), actor=m)
    make_order(db, a, ordered_at=T0 + timedelta(days=30))
    make_order(db, b, ordered_at=T0 + timedelta(days=100))  # outside the 90 days
    make_order(db, d, ordered_at=T0 + timedelta(days=10))
    make_order(db, cc, ordered_at=T0 - timedelta(days=10))  # before the complaint
    make_order(db, cc, ordered_at=T0 + timedelta(days=20), status="cancelled")
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4}


def test_volume_and_pareto(db, users, dataset):
    d = analytics.dashboard(db, actor=users["analyst"], as_of=datetime(2025, 1, 1, tzinfo=UTC))
    by_cat = {r["category"]: r["count"] for r in d["volume"]["by_category"]}
    assert by_cat == {"delivery": 2, "product_quality": 1, "price_billing": 1}
    assert d["volume"]["by_category"][0]["category"] == "delivery"
    assert {r["channel"]: r["count"] for r in d["volume"]["by_channel"]} == {"phone": 3, "email": 1}
    assert d["volume"]["by_kind"] == {"complaint": 3, "grumble": 1}
    assert d["pareto"][0] == {
        "root_cause": "packaging",
        "count": 2,
        "share": 0.5,
        "cumulative": 0.5,
    }
    assert [r["root_cause"] for r in d["pareto"]] == ["packaging", "courier", "unclassified"]
    assert d["pareto"][-1]["cumulative"] == 1.0
    assert d["monthly"] == [{"month": "2024-03", "count": 4}]


def test_times_against_sla(db, users, dataset):
    t = analytics.dashboard(db, actor=users["analyst"])["times"]
    assert t["first_response"]["median_hours"] == pytest.approx(2.0, abs=0.01)
    assert t["first_response"]["p90_hours"] == pytest.approx(2.8, abs=0.01)
    assert t["first_response"]["target_hours_avg"] == 1.5
    assert t["first_response"]["breached"] == 2 and t["first_response"]["breach_rate"] == 0.5
    assert t["resolution"]["median_hours"] == pytest.approx(48.0, abs=0.01)
    assert t["resolution"]["p90_hours"] == pytest.approx(169.6, abs=0.01)
    assert t["resolution"]["breached"] == 2
    assert t["resolved"] == 3 and t["reopened"] == 1
    assert t["reopen_rate"] == pytest.approx(0.3333, abs=1e-4)


def test_remedies_recovery_silent(db, users, dataset):
    d = analytics.dashboard(db, actor=users["analyst"])
    assert d["remedies"]["total_cost"] == "12.00"
    assert {r["kind"]: r["count"] for r in d["remedies"]["by_kind"]} == {
        "apology": 1,
        "compensation": 1,
    }
    assert d["recovery"]["followed_up"] == 2 and d["recovery"]["recovery_rate"] == 0.5
    assert d["silent_dissatisfied"]["estimate"] == 100
    # 4 complaining customers × 25 = 100 > the 4 customers on record: capped at the base.
    assert d["silent_dissatisfied"]["estimate_uncapped"] == 100
    assert d["silent_dissatisfied"]["estimate_customers"] == 4
    assert d["silent_dissatisfied"]["capped"] is True


def test_repurchase_by_severity_and_speed(db, users, dataset):
    r = analytics.dashboard(db, actor=users["analyst"], as_of=datetime(2025, 1, 1, tzinfo=UTC))[
        "repurchase"
    ]
    by_sev = {x["group"]: (x["complaints"], x["repurchased"]) for x in r["by_severity"]}
    assert by_sev == {1: (1, 1), 2: (1, 1), 3: (1, 0), 4: (1, 0)}
    speed = [(x["group"], x["rate"]) for x in r["by_resolution_speed"]]
    assert speed == [
        ("within_1_day", 1.0),
        ("1_to_7_days", 0.0),
        ("over_7_days", 0.0),
        ("unresolved", 1.0),
    ]
    comp = {x["key"]: x for x in r["comparison"]}
    assert comp["major_problem"]["own"] == 0.0 and comp["major_problem"]["rate"] == 0.04
    assert comp["minor_problem"]["own"] == 1.0 and comp["minor_problem"]["rate"] == 0.53
    assert comp["solved_fast"]["own"] == 1.0 and comp["solved_fast"]["rate_low"] == 0.52


def test_repurchase_ignores_complaints_whose_window_is_open(db, users, dataset):
    r = analytics.repurchase(db, as_of=T0 + timedelta(days=30))
    assert r["by_severity"] == []


def test_window_and_permissions(db, users, dataset):
    d = analytics.dashboard(db, actor=users["analyst"], since=T0 + 2 * H, until=T0 + 4 * H)
    assert d["silent_dissatisfied"]["complaints"] == 2
    assert (
        analytics.dashboard(db, actor=users["analyst"], since=T0 + 999 * H)["times"][
            "first_response"
        ]["median_hours"]
        is None
    )
    with pytest.raises(Forbidden):
        analytics.dashboard(
            db, actor=type(users["agent"])(role="nobody", is_active=True, username="x")
        )


def test_dashboard_api(client, db, users, tokens, dataset):
    db.commit()
    r = client.get("/api/v1/complaints/analytics", headers=tokens["analyst"])
    assert r.status_code == 200
    body = r.json()
    assert body["silent_dissatisfied"]["estimate"] == 100
    assert body["repurchase"]["comparison"][2]["label"] == "52–95 % when solved fast"
