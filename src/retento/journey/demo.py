"""Demo data for the journey and experience pages: experience records on a sample of the demo
touchpoints, and experience modes on the standard survey's questions (their answers then feed
the experience dashboard). Run as the last demo step with its own random stream, so the other
steps' data do not change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from retento.customers.models import Customer
from retento.journey.models import MODES, ExperienceRecord
from retento.mail.compose import customer_locale
from retento.surveys.models import NUMERIC_TYPES, SurveyQuestion
from retento.touchpoints.models import STAGES, Touchpoint

# One touchpoint in SAMPLE_EVERY (by id) gets an experience record.
SAMPLE_EVERY = 16
CHUNK = 20_000
# Standard survey question code → the experience mode it measures.
QUESTION_MODES = {
    "product_packaging": "sense",
    "product_quality": "sense",
    "service_staff_attitude": "feel",
    "overall_satisfaction": "feel",
    "communication_proactive": "think",
    "product_value_for_money": "think",
    "service_ces": "act",
    "service_response_time": "act",
    "intent_recommend": "relate",
    "competition_reputation": "relate",
}
# Which modes a stage's experiences are about (probabilities in MODES order).
STAGE_MODES = {
    "desire": (0.35, 0.2, 0.25, 0.05, 0.15),
    "information": (0.2, 0.1, 0.5, 0.1, 0.1),
    "cognition": (0.35, 0.1, 0.4, 0.1, 0.05),
    "selection": (0.15, 0.15, 0.4, 0.2, 0.1),
    "order": (0.05, 0.2, 0.15, 0.5, 0.1),
    "receipt": (0.45, 0.3, 0.05, 0.15, 0.05),
    "payment": (0.05, 0.2, 0.1, 0.6, 0.05),
    "after_sales": (0.05, 0.45, 0.1, 0.15, 0.25),
}
# Mean rating by outcome, then a shift per (stage, mode) so the heatmap shows weak spots:
# paying is clumsy (act at payment) and after-sales calls leave people cold (feel).
OUTCOME_MEAN = {"positive": 4.3, "purchase": 4.2, "resolved": 3.9, "neutral": 3.5,
                "no_response": 3.0, "negative": 2.2, "escalated": 1.9}  # fmt: skip
SHIFT = {("payment", "act"): -1.0, ("after_sales", "feel"): -0.7, ("receipt", "sense"): 0.4,
         ("information", "think"): 0.3, ("desire", "relate"): -0.4}  # fmt: skip
# Notes in the customer's language (``customer_locale``), as (English, Simplified Chinese);
# choosing the language draws nothing, so a seed still gives the same records.
T = tuple[str, str]
NOTES: dict[str, tuple[T, T, T]] = {
    "sense": (("Liked the showroom", "喜欢展厅"),
              ("Packaging looked cheap", "包装看起来很廉价"),
              ("Clear product photos", "产品照片清晰")),
    "feel": (("Felt welcome", "感到宾至如归"),
             ("Was kept waiting and annoyed", "等了很久，很恼火"),
             ("Reassured by the agent", "客服的解释让人放心")),
    "think": (("Comparison sheet was useful", "对比表很有用"),
              ("Terms were confusing", "条款令人困惑"),
              ("Curious about new range", "对新品系列很好奇")),
    "act": (("Checkout took too many steps", "结账步骤太多"),
            ("Easy to book delivery", "预约送货很方便"),
            ("Had to call twice", "打了两次电话才办成")),
    "relate": (("Recommended us to a friend", "把我们推荐给了朋友"),
               ("Joined the user group", "加入了用户群"),
               ("Friends use a rival", "朋友们用的是竞争对手的产品")),
}  # fmt: skip


def tag_survey_questions(session: Session) -> int:
    """Give the standard survey's numeric questions their experience mode; returns how many."""
    n = 0
    for code, mode in QUESTION_MODES.items():
        result = session.execute(
            update(SurveyQuestion)
            .where(
                SurveyQuestion.code == code,
                SurveyQuestion.qtype.in_(NUMERIC_TYPES),
                SurveyQuestion.experience_mode.is_(None),
            )
            .values(experience_mode=mode)
        )
        n += result.rowcount or 0
    return n


def step_journey(session: Session, rng: np.random.Generator, ctx: Any) -> None:
    # ctx: the generator's DemoContext (not imported: the generator imports this step).
    """Experience records on one touchpoint in SAMPLE_EVERY, and modes on survey questions."""
    del rng  # own stream: adding this step must not change the other steps' data
    rng = np.random.default_rng(ctx.seed + 7024)
    ctx.summary["survey questions with an experience mode"] = tag_survey_questions(session)
    # Every SAMPLE_EVERY-th touchpoint in (time, external id) order: the same sample for the
    # same seed, whatever ids the database hands out.
    ranked = select(
        Touchpoint.id,
        Touchpoint.customer_id,
        Touchpoint.stage,
        Touchpoint.outcome,
        Touchpoint.occurred_at,
        func.row_number()
        .over(order_by=(Touchpoint.occurred_at, Touchpoint.external_id))
        .label("rn"),
    ).subquery()
    rows = session.execute(
        select(
            ranked.c.id,
            ranked.c.customer_id,
            ranked.c.stage,
            ranked.c.outcome,
            ranked.c.occurred_at,
            Customer.owner_id,
            Customer.country,
            Customer.custom_fields,
        )
        .join(Customer, Customer.id == ranked.c.customer_id)
        .where(ranked.c.rn % SAMPLE_EVERY == 0)
        .order_by(ranked.c.rn)
    ).all()
    k = len(rows)
    if k == 0:
        ctx.summary["experience records"] = 0
        return
    stage_idx = np.asarray([STAGES.index(r[2]) for r in rows])
    probs = np.asarray([STAGE_MODES[s] for s in STAGES])
    cum = probs.cumsum(axis=1)[stage_idx]
    mode_idx = (rng.random(k)[:, None] > cum).sum(axis=1).clip(0, len(MODES) - 1)
    base = np.asarray([OUTCOME_MEAN.get(r[3], 3.5) for r in rows])
    shift = np.asarray(
        [SHIFT.get((r[2], MODES[m]), 0.0) for r, m in zip(rows, mode_idx, strict=True)]
    )
    rating = np.clip(np.rint(base + shift + rng.normal(0, 0.8, k)), 1, 5).astype(int)
    note_pick = rng.integers(0, 3, k)
    with_note = rng.random(k) < 0.4
    now = datetime.now(UTC)
    values = []
    for j, (tp_id, customer_id, stage, _outcome, at, owner, *_) in enumerate(rows):
        mode = MODES[int(mode_idx[j])]
        lang = int(customer_locale(rows[j], "en") == "zh_CN")  # type: ignore[arg-type]
        values.append(
            {
                "customer_id": customer_id,
                "touchpoint_id": tp_id,
                "mode": mode,
                "stage": stage,
                "rating": int(rating[j]),
                "note": NOTES[mode][int(note_pick[j])][lang] if with_note[j] else None,
                "occurred_at": at,
                "created_by_id": owner,
                "created_at": now,
                "updated_at": now,
            }
        )
    from sqlalchemy import insert

    conn = session.connection()
    for i in range(0, k, CHUNK):
        conn.execute(insert(ExperienceRecord.__table__), values[i : i + CHUNK])
        ctx.progress("experience records", min(1.0, (i + CHUNK) / k))
    ctx.summary["experience records"] = k
