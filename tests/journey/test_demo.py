"""The demo fills the journey and experience pages: records on sampled touchpoints, modes on
the standard survey's questions, the same data for the same seed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from retento.demo import generator
from retento.journey.dashboard import experience_summary
from retento.journey.funnel import journey_funnel
from retento.journey.models import ExperienceRecord
from retento.surveys.models import SurveyQuestion


def _fingerprint(db):
    return db.execute(
        select(
            func.count(ExperienceRecord.id),
            func.sum(ExperienceRecord.rating),
            func.count(ExperienceRecord.note),
        )
    ).one()


def test_demo_experience_and_funnel(db):
    summary = generator.generate(db, customers=60, seed=7, today=date(2026, 6, 30))
    assert summary["experience records"] > 0
    assert summary["survey questions with an experience mode"] >= 5
    first = _fingerprint(db)
    modes = set(db.scalars(select(SurveyQuestion.experience_mode).distinct()))
    assert {"sense", "feel", "think", "act", "relate"} <= modes
    exp = experience_summary(db)
    assert exp.n > first[0]  # records plus survey answers
    assert all(m["n"] > 0 for m in exp.by_mode)
    assert all(1 <= c["mean"] <= 5 for c in exp.cells)
    fun = journey_funnel(db)
    assert fun.customers > 0 and fun.stages[0].reached == fun.customers
    assert [s.reached for s in fun.stages] == sorted((s.reached for s in fun.stages), reverse=True)
    generator.reset_business_data(db)
    generator.generate(db, customers=60, seed=7, today=date(2026, 6, 30))
    assert _fingerprint(db) == first
