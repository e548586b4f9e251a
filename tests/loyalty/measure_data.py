"""Hand-made customers for the loyalty measurement tests: one per rule of the decision table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from retento.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
    SurveySection,
)
from tests.factories import make_customer, make_order

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)


def buy(db, customer, *, n: int, every: int, last_days_ago: int, discount: bool = False):
    """``n`` orders ``every`` days apart, the last one ``last_days_ago`` days before AS_OF."""
    for i in range(n):
        at = AS_OF - timedelta(days=last_days_ago + every * (n - 1 - i)) + timedelta(hours=3)
        make_order(
            db, customer, ordered_at=at, discount=Decimal("1.00") if discount else Decimal("0")
        )


def make_survey(db, name: str, *, scale: tuple[int, int] = (1, 5)) -> Survey:
    s = Survey(name=name, status="active")
    sec = SurveySection(code="main", title="Main", position=0)
    s.sections = [sec]
    db.add(s)
    db.flush()
    specs = [
        ("sat", "rating", "overall", "Satisfaction", scale),
        ("quality", "rating", "overall", "Quality", scale),
        ("again", "rating", "intent.repurchase", "Loyalty", scale),
        ("rec", "nps", "intent.recommend", "Loyalty", (0, 10)),
    ]
    for pos, (code, qtype, dim, latent, (lo, hi)) in enumerate(specs):
        db.add(
            SurveyQuestion(
                survey_id=s.id,
                section_id=sec.id,
                position=pos,
                code=code,
                text=code,
                qtype=qtype,
                scale_min=lo,
                scale_max=hi,
                satisfaction_dimension=dim,
                csi_latent=latent,
            )
        )
    db.flush()
    db.refresh(s)
    return s


def answer(db, survey: Survey, customer, days_ago: int, status: str = "completed", **numbers):
    at = AS_OF - timedelta(days=days_ago)
    r = SurveyResponse(
        survey_id=survey.id,
        customer_id=customer.id,
        channel="phone",
        source="agent",
        status=status,
        started_at=at,
        completed_at=at if status == "completed" else None,
    )
    db.add(r)
    db.flush()
    by_code = {q.code: q for q in survey.questions}
    for code, value in numbers.items():
        db.add(SurveyAnswer(response_id=r.id, question_id=by_code[code].id, number=value))
    db.flush()
    return r


def build_base(db) -> dict:
    """Hand-made customers, one per rule, plus edge cases."""
    survey = make_survey(db, "Main")
    c: dict[str, object] = {}
    c["trust"] = make_customer(db, name="Trust")
    buy(db, c["trust"], n=12, every=28, last_days_ago=10)
    answer(db, survey, c["trust"], 30, sat=5, rec=9, again=5)

    c["inertia"] = make_customer(
        db, name="Inertia", acquired_on=(AS_OF - timedelta(days=2200)).date()
    )
    buy(db, c["inertia"], n=12, every=28, last_days_ago=10)
    answer(db, survey, c["inertia"], 30, sat=2)

    c["interest"] = make_customer(db, name="Interest")
    buy(db, c["interest"], n=12, every=28, last_days_ago=10, discount=True)

    c["monopoly"] = make_customer(db, name="Monopoly", custom_fields={"no_alternative": "yes"})
    buy(db, c["monopoly"], n=12, every=28, last_days_ago=10)
    answer(db, survey, c["monopoly"], 30, sat=2)

    c["kinship"] = make_customer(db, name="Branch", kind="branch")
    buy(db, c["kinship"], n=12, every=28, last_days_ago=10)

    c["kinship_flag"] = make_customer(db, name="Relative", custom_fields={"affiliated": True})
    buy(db, c["kinship_flag"], n=12, every=28, last_days_ago=10)

    c["trap"] = make_customer(db, name="Trap")
    buy(db, c["trap"], n=8, every=14, last_days_ago=120)
    answer(db, survey, c["trap"], 200, sat=1)  # an old, unhappy answer ...
    answer(db, survey, c["trap"], 100, sat=5, rec=10)  # ... superseded by the latest one
    answer(db, survey, c["trap"], 5, status="partial", sat=1)  # unfinished: ignored

    c["potential"] = make_customer(db, name="No orders yet")
    answer(db, survey, c["potential"], 10, sat=5, rec=10)

    c["one_time"] = make_customer(db, name="Once")
    buy(db, c["one_time"], n=1, every=1, last_days_ago=40)

    c["nothing"] = make_customer(db, name="Nothing")

    c["cancelled"] = make_customer(db, name="Cancelled only")
    make_order(db, c["cancelled"], ordered_at=AS_OF - timedelta(days=5), status="cancelled")

    c["archived"] = make_customer(db, name="Archived", archived_at=AS_OF - timedelta(days=1))
    buy(db, c["archived"], n=3, every=10, last_days_ago=5)

    c["future"] = make_customer(db, name="After as-of")
    make_order(db, c["future"], ordered_at=AS_OF + timedelta(days=3))
    db.flush()
    return c
