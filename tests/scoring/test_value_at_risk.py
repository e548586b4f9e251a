"""The scoring store step writes, next to churn risk and reasons, the value at risk (CLV × risk in
Decimal cents, NULL without CLV or risk) and the strongest reason's code: the columns the
retention at-risk list sorts and filters on."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from retento.scoring import service
from retento.scoring.models import CustomerScore, ScoreRun, top_reason, value_at_risk
from retento.scoring.schemas import ScoreRunCreate
from tests.scoring.conftest import AS_OF


def test_value_at_risk_and_top_reason_helpers():
    assert value_at_risk(Decimal("5000.00"), 0.8) == Decimal("4000.00")
    assert value_at_risk(Decimal("10.01"), 0.5) == Decimal("5.01")  # 5.005 → half up
    assert value_at_risk(Decimal("1234.56"), 0.123457) == Decimal("152.42")
    assert value_at_risk(None, 0.5) is None and value_at_risk(Decimal("1.00"), None) is None
    assert value_at_risk(Decimal("1.00"), float("nan")) is None
    assert top_reason([{"code": "lapsed"}, {"code": "spend_falling"}]) == "lapsed"
    assert top_reason([]) is None and top_reason(None) is None
    assert top_reason([{"code": "x" * 60}]) == "x" * 40


def test_store_step_writes_value_at_risk_and_top_reason(db, users, population):
    run = service.run_scoring(db, ScoreRunCreate(as_of=AS_OF), actor=users["manager"])
    assert run.status == "succeeded", run.error
    scores = list(db.scalars(select(CustomerScore).where(CustomerScore.run_id == run.id)))
    with_var = [s for s in scores if s.value_at_risk is not None]
    assert len(with_var) >= 100
    for s in scores:
        assert s.value_at_risk == value_at_risk(s.clv, s.churn_risk)
        assert s.churn_top_reason == (s.churn_reasons[0]["code"] if s.churn_reasons else None)
    assert any(s.churn_top_reason for s in scores)


def test_orm_insert_without_the_columns_computes_them(db, population):
    run = ScoreRun(model="bgnbd", status="succeeded", as_of=AS_OF)
    db.add(run)
    db.flush()
    score = CustomerScore(
        run_id=run.id,
        customer_id=population["ids"][0],
        revenue=Decimal("1.00"),
        profit=Decimal("1.00"),
        monetary=Decimal("1.00"),
        clv=Decimal("900.00"),
        churn_risk=0.9,
        churn_reasons=[{"code": "lapsed_once", "params": {}}],
        value_class="ordinary",
        label="other",
        loyalty_stage="regular",
    )
    db.add(score)
    db.flush()
    db.expire(score)
    assert score.value_at_risk == Decimal("810.00") and score.churn_top_reason == "lapsed_once"
