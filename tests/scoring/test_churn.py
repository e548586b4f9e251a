"""Churn risk in scoring runs: stored risk and reasons, the too-little-history case, the
feature-provider registry and the Gamma-Gamma fit on logs with $0 repeat purchases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import insert, select

from retento.analytics.churn_reasons import REASONS, render_reason
from retento.customers.models import Customer
from retento.orders.models import Order
from retento.scoring import features, service
from retento.scoring.models import CustomerScore
from retento.scoring.schemas import ScoreRunCreate
from tests.scoring.conftest import AS_OF


def test_run_stores_churn_risk_and_reasons(db, users, population):
    run = service.run_scoring(db, ScoreRunCreate(as_of=AS_OF), actor=users["manager"])
    assert run.status == "succeeded", run.error
    churn = run.report["churn"]
    assert churn["status"] == "scored", churn
    assert run.params["churn"] == {"model": "ChurnRiskModel", "horizon_days": 90, "status": "scored"}
    scores = db.scalars(select(CustomerScore).where(CustomerScore.run_id == run.id)).all()
    buyers = [s for s in scores if s.order_count > 0]
    assert buyers and all(0.0 <= s.churn_risk <= 1.0 for s in buyers)
    assert all(s.churn_risk is None for s in scores if s.order_count == 0)
    assert churn["customers"] == len(buyers)
    with_reasons = [s for s in buyers if s.churn_reasons]
    assert with_reasons
    for s in with_reasons:
        assert len(s.churn_reasons) <= 3
        for r in s.churn_reasons:
            assert set(r) == {"code", "params"} and r["code"] in REASONS
            assert "{" not in render_reason(r["code"], r["params"], "en")
            assert "{" not in render_reason(r["code"], r["params"], "zh")
    print(churn)
