from __future__ import annotations

import pytest

from retento.core.errors import Forbidden, InvalidInput
from retento.scoring import service
from retento.scoring.models import CustomerScore
from retento.scoring.schemas import ScoreRunCreate
from tests.scoring.conftest import AS_OF


def test_scoring_run_scores_everyone_and_keeps_history(db, users, population):
    run = service.run_scoring(
        db, ScoreRunCreate(as_of=AS_OF, holdout_weeks=26), actor=users["manager"]
    )
    assert run.status == "succeeded", run.error
    assert run.customers_scored == db.query(CustomerScore).filter_by(run_id=run.id).count() >= 120
    assert set(run.params) == {"r", "alpha", "a", "b", "churn"}
    assert run.log_likelihood < 0
    report = run.report
    for part in (
        "pyramid",
        "pareto",
        "cohorts",
        "fit",
        "holdout",
        "distribution",
        "stages",
        "labels",
    ):
        assert part in report, part
    shares = [row["profit_share"] for row in report["pyramid"]["classes"]]
    assert sum(shares) == pytest.approx(1.0, abs=1e-6)
    scores = db.query(CustomerScore).filter_by(run_id=run.id).all()
    assert all(0.0 <= s.p_alive <= 1.0 for s in scores if s.p_alive is not None)
    assert {s.value_class for s in scores} >= {"vip", "major", "below_zero"}
    bz = [s for s in scores if s.customer_id in population["ids"][:3]]
    assert all(s.value_class == "below_zero" and s.label == "bz" for s in bz)
    again = service.run_scoring(
        db, ScoreRunCreate(as_of=AS_OF, model="pareto", holdout_weeks=0), actor=users["admin"]
    )
    assert again.status == "succeeded", again.error
    assert set(again.params) == {"r", "alpha", "s", "beta", "churn"}
    history = service.customer_scores(db, population["ids"][10], actor=users["analyst"])
    assert [h.run_id for h in history] == [again.id, run.id]


def test_filters_vip_with_low_p_alive(db, users, population):
    service.run_scoring(db, ScoreRunCreate(as_of=AS_OF), actor=users["admin"])
    _, rows, total = service.list_scores(
        db, actor=users["analyst"], value_class="vip", p_alive_lt=0.5, sort="-clv"
    )
    assert all(r.value_class == "vip" and r.p_alive < 0.5 for r in rows)
    assert total == len(rows)
    with pytest.raises(InvalidInput) as exc:
        service.list_scores(db, actor=users["analyst"], value_class="gold")
    assert exc.value.field == "value_class"


def test_agents_may_not_run_scoring(db, users, population):
    """Admins, managers and analysts (SPEC §9: analyst = models) run it; agents do not."""
    with pytest.raises(Forbidden):
        service.run_scoring(db, ScoreRunCreate(as_of=AS_OF), actor=users["agent"])


def test_too_little_data_is_a_clear_error(db, users):
    with pytest.raises(InvalidInput) as exc:
        service.run_scoring(db, ScoreRunCreate(as_of=AS_OF), actor=users["admin"])
    assert "10 customers" in exc.value.message


def test_report_without_holdout_purchases_is_stored_on_every_backend(db, users, population):
    from datetime import timedelta

    later = AS_OF + timedelta(days=400)  # nobody buys after AS_OF: the holdout window is empty
    run = service.run_scoring(
        db, ScoreRunCreate(as_of=later, holdout_weeks=26), actor=users["admin"]
    )
    db.flush()
    assert run.status == "succeeded", run.error
    db.expire(run)
    assert run.report["fit"]["model"] == "bgnbd"
