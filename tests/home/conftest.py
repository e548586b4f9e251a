"""The shop the home dashboard tests look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from retento.retention.models import RetentionAlert, RetentionTask
from retento.scoring.models import CustomerScore, ScoreRun
from retento.surveys import service as survey_service
from retento.surveys.models import SurveyAnswer, SurveyResponse
from retento.surveys.schemas import SurveyFromTemplate
from tests.factories import make_customer, make_order
from tests.factories.complaints import make_complaint

NOW = datetime.now(UTC)


@pytest.fixture
def shop(db, users):
    """Three customers (VIP, small, ordinary) with orders 5, 60 and 400 days ago, a scoring run,
    a breaching complaint assigned to the agent, NPS answers, an open alert and a task."""
    vip = make_customer(db, name="Vera Vip")
    small = make_customer(db, name="Sam Small")
    old = make_customer(db, name="Olga Old")
    make_order(db, vip, ordered_at=NOW - timedelta(days=5))  # 2 × 10.00 = 20.00
    make_order(db, vip, ordered_at=NOW - timedelta(days=3))
    make_order(db, small, ordered_at=NOW - timedelta(days=60))
    make_order(db, old, ordered_at=NOW - timedelta(days=400))
    run = ScoreRun(
        model="bgnbd",
        status="succeeded",
        as_of=NOW,
        started_at=NOW - timedelta(seconds=12),
        finished_at=NOW,
        customers_scored=3,
        report={
            "holdout": {"weeks": 26, "mae": 0.1234},
            "churn": {
                "status": "scored",
                "holdout": {"metrics": {"roc_auc": 0.812}, "baseline": {"roc_auc": 0.7}},
            },
        },
    )
    db.add(run)
    db.flush()
    for c, vc, clv, risk in (
        (vip, "vip", "100.00", 0.8),
        (small, "small", "50.00", 0.2),
        (old, "ordinary", "30.00", 0.6),
    ):
        db.add(
            CustomerScore(
                run_id=run.id,
                customer_id=c.id,
                revenue=Decimal("0"),
                profit=Decimal("0"),
                monetary=Decimal("0"),
                clv=Decimal(clv),
                churn_risk=risk,
                value_class=vc,
                label="other",
                loyalty_stage="regular",
            )
        )
    complaint = make_complaint(db, actor=users["manager"], customer_id=vip.id)
    complaint.assignee_id = users["agent"].id
    complaint.resolution_due_at = NOW - timedelta(hours=2)
    calm = make_complaint(db, actor=users["manager"], customer_id=small.id, subject="Late reply")
    calm.assignee_id = users["agent"].id
    calm.resolution_due_at = NOW + timedelta(days=2)
    calm.first_response_due_at = NOW + timedelta(days=1)
    calm.sla_flag = "ok"
    survey = survey_service.create_from_template(
        db, SurveyFromTemplate(template="standard"), actor=users["manager"]
    )
    nps_q = next(q for q in survey.questions if q.qtype == "nps")
    for customer, score, days in ((vip, 10, 2), (small, 3, 2), (old, 9, 40)):
        r = SurveyResponse(
            survey_id=survey.id,
            customer_id=customer.id,
            channel="phone",
            status="completed",
            completed_at=NOW - timedelta(days=days),
        )
        db.add(r)
        db.flush()
        db.add(SurveyAnswer(response_id=r.id, question_id=nps_q.id, number=score))
    db.add(
        RetentionAlert(
            customer_id=vip.id,
            rule="lapsed",
            cause_key="x",
            severity="high",
            reason_code="lapsed",
            value_class="vip",
            status="open",
        )
    )
    db.add(
        RetentionTask(
            customer_id=small.id,
            owner_id=users["agent"].id,
            title="Call Sam about the late parcel",
            due_on=(NOW - timedelta(days=1)).date(),
        )
    )
    db.commit()
    return {"vip": vip, "small": small, "old": old, "run": run, "complaint": complaint}
