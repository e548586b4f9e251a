"""Each warning rule, fired by its event where one exists: complaint, survey, tier, points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from retento.core.db import utcnow
from retento.loyalty import service as loyalty
from retento.loyalty import tiers
from retento.loyalty.models import LoyaltyAccount, LoyaltyLot, LoyaltyTier
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate
from retento.retention import service
from retento.retention.models import RetentionAlert, RetentionCase
from retento.retention.reasons import render_reason
from retento.surveys import responses as survey_responses
from retento.surveys import service as surveys
from retento.surveys.schemas import AnswerIn, ResponseCreate, SurveyUpdate
from tests.factories import make_customer, make_product
from tests.factories.complaints import make_complaint
from tests.factories.loyalty import make_programme, make_tiers
from tests.retention.helpers import make_run
from tests.surveys.conftest import small_survey_data


def _alerts(db, customer_id, rule=None):
    stmt = select(RetentionAlert).where(RetentionAlert.customer_id == customer_id)
    if rule:
        stmt = stmt.where(RetentionAlert.rule == rule)
    return db.scalars(stmt).all()


def test_open_complaint_of_a_valuable_customer_only(db, users):
    vip, small = make_customer(db), make_customer(db)
    make_run(db, {vip.id: {"value_class": "major"}, small.id: {"value_class": "small"}})
    make_complaint(db, users["admin"], customer_id=vip.id, severity=3)
    make_complaint(db, users["admin"], customer_id=small.id, severity=3)
    make_complaint(db, users["admin"], customer_id=vip.id, severity=1)  # below the threshold
    rep = service.evaluate(db, rules=["complaint"])
    assert rep.created == 1
    (a,) = _alerts(db, vip.id)
    assert (a.reason_code, a.severity, a.value_class) == ("complaint_open", "high", "key")
    assert _alerts(db, small.id) == []
    assert "open for 0 days (severity 3)" in render_reason(a.reason_code, a.reason_params)


def test_detractor_answer_raises_an_alert_through_the_survey_event(db, users):
    s = surveys.create_survey(db, small_survey_data(), actor=users["manager"])
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    fan, critic = make_customer(db), make_customer(db)
    for c, score in ((fan, 9), (critic, 3)):
        survey_responses.record_response(
            db,
            s.id,
            ResponseCreate(
                customer_id=c.id,
                answers=[
                    AnswerIn(question="sat", number=4),
                    AnswerIn(question="rec", number=score),
                ],
            ),
            actor=users["agent"],
        )
    assert _alerts(db, fan.id) == []
    (a,) = _alerts(db, critic.id, "survey")
    assert a.reason_code == "detractor" and a.reason_params == {"score": 3}
    assert (
        render_reason(a.reason_code, a.reason_params, "zh_CN")
        == "贬损者：推荐意愿评分 3（满分 10）"
    )
    assert service.evaluate(db, rules=["survey"]).created == 0


def test_tier_downgrade_raises_an_alert_through_the_tier_event(db, users):
    make_programme(db)
    make_tiers(db, ("basic", 0, "1"), ("gold", 1000, "1.5"))
    c = make_customer(db)
    ids = {t.code: t.id for t in db.scalars(select(LoyaltyTier))}
    tiers.set_tier(db, c.id, ids["gold"], actor_id=users["manager"].id)
    assert _alerts(db, c.id, "tier_downgrade") == []  # an upgrade is no warning
    tiers.set_tier(db, c.id, ids["basic"], actor_id=users["manager"].id)
    (a,) = _alerts(db, c.id, "tier_downgrade")
    assert a.reason_params == {
        "from_tier": "Gold",
        "to_tier": "Basic",
        "from_tier_zh": None,
        "to_tier_zh": None,
        "from_tier_id": ids["gold"],
        "to_tier_id": ids["basic"],
    }
    assert (
        render_reason(a.reason_code, a.reason_params) == "Loyalty tier dropped from Gold to Basic"
    )


def test_only_a_downgrade_evaluates_the_customer(db, users, monkeypatch):
    """An upgrade or a first tier (most tier changes of an order import) cannot raise a
    tier_downgrade alert: the tier event no longer evaluates the customer for it."""
    make_programme(db)
    make_tiers(db, ("basic", 0, "1"), ("gold", 1000, "1.5"))
    c = make_customer(db)
    ids = {t.code: t.id for t in db.scalars(select(LoyaltyTier))}
    calls = []
    real = service.evaluate
    monkeypatch.setattr(service, "evaluate", lambda *a, **k: calls.append(k) or real(*a, **k))
    tiers.set_tier(db, c.id, ids["basic"], actor_id=users["manager"].id)  # first tier
    tiers.set_tier(db, c.id, ids["gold"], actor_id=users["manager"].id)  # upgrade
    assert calls == []
    tiers.set_tier(db, c.id, ids["basic"], actor_id=users["manager"].id)  # downgrade
    tiers.set_tier(db, c.id, None, actor_id=users["manager"].id)  # out of every tier
    assert [k["customer_ids"] for k in calls] == [[c.id], [c.id]]
    assert len(_alerts(db, c.id, "tier_downgrade")) == 2


def test_points_expiring_unused(db, users):
    make_programme(db)
    c = make_customer(db)
    loyalty.adjust(db, c.id, 300, actor=users["manager"], reason="welcome")
    soon = utcnow() + timedelta(days=10)
    acc = db.scalar(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == c.id))
    for lot in db.scalars(select(LoyaltyLot).where(LoyaltyLot.account_id == acc.id)):
        lot.expires_at = soon
    db.flush()
    rep = service.evaluate(db, rules=["points_expiring"])
    assert rep.created == 1
    (a,) = _alerts(db, c.id)
    assert a.reason_params == {"points": 300, "date": soon.date().isoformat()}
    assert a.severity == "low"


def test_a_new_order_closes_lapse_alerts_and_settles_cases(db, users):
    c = make_customer(db, owner_id=users["agent"].id)
    p = make_product(db)
    now = utcnow()
    for d in (200, 170, 140, 110):
        orders.create_order(
            db,
            OrderCreate(
                customer_id=c.id,
                ordered_at=now - timedelta(days=d),
                lines=[{"product_id": p.id, "quantity": 1}],
            ),
            actor=users["manager"],
        )
    make_run(db, {c.id: {"value_class": "ordinary"}})
    service.evaluate(db, rules=["rhythm"])
    (a,) = _alerts(db, c.id)
    case = db.scalar(select(RetentionCase).where(RetentionCase.alert_id == a.id))
    o = orders.create_order(
        db,
        OrderCreate(
            customer_id=c.id, ordered_at=utcnow(), lines=[{"product_id": p.id, "quantity": 3}]
        ),
        actor=users["manager"],
    )
    assert a.status == "closed" and a.close_note == "customer ordered again"
    assert case.outcome == "came_back" and case.revenue == o.revenue
    assert case.came_back_at == o.ordered_at
    assert datetime.now(UTC) - case.assigned_at < timedelta(minutes=5)


def test_a_failing_evaluation_never_undoes_the_event_and_the_job_catches_up(db, users, monkeypatch):
    from retento.retention import service as retention_service

    s = surveys.create_survey(db, small_survey_data(), actor=users["manager"])
    surveys.update_survey(db, s.id, SurveyUpdate(status="active"), actor=users["manager"])
    critic = make_customer(db)
    real = retention_service.evaluate

    def broken(*a, **k):
        raise RuntimeError("rules unavailable")

    monkeypatch.setattr(retention_service, "evaluate", broken)
    resp = survey_responses.record_response(
        db,
        s.id,
        ResponseCreate(
            customer_id=critic.id,
            answers=[AnswerIn(question="sat", number=4), AnswerIn(question="rec", number=2)],
        ),
        actor=users["agent"],
    )
    assert resp.status == "completed" and _alerts(db, critic.id) == []
    monkeypatch.setattr(retention_service, "evaluate", real)
    from retento.jobs import load_jobs

    assert load_jobs()["retention_evaluate"].func(db)["created"] >= 1
    assert [a.reason_code for a in _alerts(db, critic.id, "survey")] == ["detractor"]
