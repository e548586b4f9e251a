"""Warning rules raise one alert per cause; playbooks split treated and control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from retento.retention import service
from retento.retention.models import RetentionAlert, RetentionCase, RetentionTask
from tests.factories import make_customer, make_order, make_user
from tests.retention.helpers import make_run, run_queued_work

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _orders(db, customer, days_ago: list[int]):
    for d in days_ago:
        make_order(db, customer, ordered_at=NOW - timedelta(days=d))


def test_rhythm_rule_raises_one_alert_per_cause(db, users, session_factory):
    owner = make_user(db, role="agent", email="owner@example.com")
    slow = make_customer(db, owner_id=owner.id)
    steady = make_customer(db)
    _orders(db, slow, [200, 170, 140, 110])  # every 30 days, silent for 110 > 2 × 30
    _orders(db, steady, [70, 40, 10])
    make_run(db, {slow.id: {"value_class": "vip"}, steady.id: {"value_class": "vip"}})
    first = service.evaluate(db, rules=["rhythm"], now=NOW)
    assert first.created == 1
    again = service.evaluate(db, rules=["rhythm"], now=NOW + timedelta(hours=1))
    assert again.created == 0
    alerts = db.scalars(select(RetentionAlert)).all()
    assert [(a.customer_id, a.rule, a.value_class, a.owner_id) for a in alerts] == [
        (slow.id, "rhythm", "key", owner.id)
    ]
    a = alerts[0]
    assert a.reason_code == "rhythm" and a.reason_params["gap"] == 30
    from retento.retention.reasons import render_reason

    assert "usually buys every 30 days" in render_reason(a.reason_code, a.reason_params, "en")
    assert "30" in render_reason(a.reason_code, a.reason_params, "zh_CN")
    case = db.scalar(select(RetentionCase).where(RetentionCase.alert_id == a.id))
    assert case is not None and case.value_class == "key"
    # A treated case's task is queued for the worker, not created by the evaluation.
    treated = case.arm == "treated"
    assert first.actions_queued == int(treated) and case.action_status == (
        "queued" if treated else "done"
    )
    assert db.scalar(select(func.count()).select_from(RetentionTask)) == 0
    assert run_queued_work(db, session_factory) == int(treated)
    tasks = db.scalar(select(func.count()).select_from(RetentionTask))
    assert tasks == (1 if case.arm == "treated" else 0)
