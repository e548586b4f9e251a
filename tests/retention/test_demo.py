"""The demo data holds a settled win-back campaign, today's alerts and owners' tasks."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from retento.demo import generator
from retento.retention.demo import step_retention
from retento.retention.models import RetentionAlert, RetentionCase, RetentionTask
from retento.retention.report import uplift_report
from tests.retention.helpers import run_queued_work


def test_demo_has_alerts_tasks_and_a_report(db, users, session_factory):
    # The core steps and this one (scoring, complaints, surveys, loyalty have their own tests).
    summary = generator.generate(
        db,
        customers=400,
        seed=11,
        today=date(2026, 6, 30),
        steps=[*generator.STEPS, step_retention],
    )
    assert summary["retention_history_cases"] > 100
    assert summary["retention_settled"] == summary["retention_history_cases"]
    assert summary["retention_alerts"] > 0
    # Today's win-back actions are queued; `retento demo` runs the queue once the data is in.
    assert summary["retention_actions_queued"] > 0
    assert run_queued_work(db, session_factory) >= 1
    assert (
        db.scalar(select(func.count()).select_from(RetentionAlert)) >= summary["retention_alerts"]
    )
    tasks = dict(
        db.execute(select(RetentionTask.status, func.count()).group_by(RetentionTask.status)).all()
    )
    assert tasks.get("open", 0) > 0 and tasks.get("done", 0) > 0
    outcomes = dict(
        db.execute(
            select(RetentionCase.outcome, func.count()).group_by(RetentionCase.outcome)
        ).all()
    )
    assert outcomes.get("came_back", 0) > 0 and outcomes.get("lost", 0) > 0
    rep = uplift_report(db, actor=users["analyst"])
    measured = [r for r in rep if r["estimate"] is not None]
    assert measured, rep
    assert all(
        r["estimate"]["ci_low"] <= r["estimate"]["uplift"] <= r["estimate"]["ci_high"]
        for r in measured
    )
