"""Demo complaints with realistic SLA outcomes (met and breached), remedies and follow-ups.

Hook for ``retento.demo.generator``: append ``step_complaints`` to ``STEPS``; it reads customer
ids and users from the demo context. ``generate_complaints`` can also be called on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.complaints import followup, service
from retento.complaints.jobs import escalate
from retento.complaints.schemas import (
    ComplaintCreate,
    FollowUpIn,
    NoteIn,
    RemedyCreate,
    SurveyAnswerIn,
    TransitionIn,
)

CATEGORIES = {
    # code: (weight, root causes, subjects)
    "delivery": (0.30, ["courier delay", "packaging", "wrong address"],
                 ["Parcel arrived late", "Box crushed in transit", "Delivered to the wrong door"]),
    "product_quality": (0.25, ["supplier batch", "packaging", "storage humidity"],
                        ["Tea tasted stale", "Teapot lid cracked", "Cookies past their date"]),
    "price_billing": (0.15, ["promotion rules", "double charge"],
                      ["Charged twice", "Discount not applied", "Invoice missing"]),
    "staff_attitude": (0.12, ["training", "understaffing"],
                       ["Rude cashier", "Nobody answered the phone", "Ignored at the counter"]),
    "service": (0.13, ["booking system", "training"],
                ["Tasting session cancelled", "Repair took weeks", "Gift wrapping forgotten"]),
    "other": (0.05, ["other"], ["Website would not load", "Newsletter after unsubscribing"]),
}  # fmt: skip
CHANNELS = ["phone", "email", "web_form", "store", "chat", "social"]
CHANNEL_P = [0.3, 0.2, 0.15, 0.2, 0.1, 0.05]
SEVERITY_P = [0.45, 0.3, 0.17, 0.08]
EMOTIONS = ["calm", "cold", "intense"]
PURPOSES = ["heard", "respected", "resolved", "compensated"]


def _business(t: datetime) -> datetime:
    """Move a time into 09:00–18:00 on a weekday (where the demo's office calendar works)."""
    day = t.date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    hour = min(max(t.hour, 9), 17)
    return datetime.combine(day, time(hour, t.minute), tzinfo=UTC)


def generate_complaints(
    session: Session,
    rng: np.random.Generator,
    customer_ids: np.ndarray | list[int],
    users: dict[str, User],
    now: datetime,
    n: int | None = None,
) -> dict[str, int]:
    """Create ``n`` complaints over the last 200 days and run them through the workflow."""
    ids = np.asarray(customer_ids)
    if len(ids) == 0 or "manager" not in users:
        return {"complaints": 0}
    n = n or int(min(400, max(12, len(ids) // 15)))
    manager = users["manager"]
    agents = [users[k] for k in ("agent", "agent2") if k in users] or [manager]
    codes = list(CATEGORIES)
    weights = np.asarray([CATEGORIES[c][0] for c in codes])
    made = breached = 0
    for i in range(n):
        code = codes[rng.choice(len(codes), p=weights / weights.sum())]
        _, causes, subjects = CATEGORIES[code]
        severity = int(rng.choice(4, p=SEVERITY_P)) + 1
        age_days = float(rng.uniform(0.05, 200))
        received = min(_business(now - timedelta(days=age_days)), now - timedelta(minutes=30))
        agent = agents[i % len(agents)]
        purposes = sorted(
            set(rng.choice(PURPOSES, size=int(rng.integers(1, 3)), replace=False).tolist())
        )
        c = service.create_complaint(
            session,
            ComplaintCreate(
                customer_id=int(ids[rng.integers(len(ids))]),
                kind="grumble" if rng.random() < 0.25 else "complaint",
                channel=str(rng.choice(CHANNELS, p=CHANNEL_P)),
                category=code,
                subject=str(rng.choice(subjects)),
                description="Customer report recorded by the service desk (demo).",
                severity=severity,
                emotion=str(rng.choice(EMOTIONS, p=[0.5, 0.3, 0.2])),
                purposes=purposes,
                root_cause=str(rng.choice(causes)),
                received_at=received,
                assignee_id=agent.id,
                team_manager_id=manager.id,
            ),
            actor=manager,
            source="demo",
        )
        made += 1
        # A slow minority makes the dashboards show both met and breached SLAs.
        slow = rng.random() < 0.25
        respond = timedelta(hours=float(rng.gamma(2.0, 1.5 if slow else 0.25)))
        resolve = respond + timedelta(hours=float(rng.gamma(2.0, 60 if slow else 4)))
        step = _stepper(session, c.id, agent, now)
        if not step("start", received + respond / 2):
            continue
        service.add_note(
            session, c.id, NoteIn(body="Internal: checked the order history."), actor=agent
        )
        if rng.random() < 0.3:
            if not step("await_customer", received + respond):
                continue
            if not step("customer_replied", received + respond + (resolve - respond) / 3):
                continue
        service.add_remedy(
            session, c.id, RemedyCreate(kind="apology", given_at=received + respond), actor=agent
        )
        if severity >= 3 or (rng.random() < 0.2 and "compensated" in purposes):
            amount = float(rng.choice([10, 20, 30, 50, 100])) * severity / 2
            kind = str(rng.choice(["voucher", "refund", "gift"], p=[0.5, 0.3, 0.2]))
            service.add_remedy(
                session,
                c.id,
                RemedyCreate(
                    kind="compensation",
                    compensation_type=kind,
                    amount=f"{amount:.2f}",
                    cost=f"{amount * (1.0 if kind == 'refund' else 0.4):.2f}",
                    given_at=received + resolve,
                ),
                actor=agent,
            )
        if not step(
            "resolve",
            received + resolve,
            "We apologised and fixed the cause; thank you for telling us.",
        ):
            continue
        if c.resolution_breached:
            breached += 1
        if received + resolve + timedelta(days=3) < now and rng.random() < 0.7:
            fast = resolve < timedelta(hours=24)
            csat = int(np.clip(rng.normal(4.3 if fast else 3.0, 0.9), 1, 5))
            followup.answer_survey(
                session,
                c.followup_token,
                SurveyAnswerIn(
                    csat=csat, would_buy_again=bool(rng.random() < (0.8 if fast else 0.45))
                ),
            )
            if c.status == "resolved" and received + resolve + timedelta(days=7) < now:
                followup.record_follow_up(
                    session, c.id, FollowUpIn(won_back=csat >= 4), actor=agent
                )
                if rng.random() < 0.8:
                    step("close", received + resolve + timedelta(days=7))
    escalation = escalate(session, now)
    return {
        "complaints": made,
        "complaints_resolution_breached": breached,
        "complaint_notifications": escalation.notifications,
    }


def _stepper(session: Session, complaint_id: int, actor: User, now: datetime):
    """Apply a transition at ``at`` unless that lies in the future (the complaint stays open)."""

    def step(action: str, at: datetime, note: str | None = None) -> bool:
        if at >= now:
            return False
        service.apply_transition(
            session, complaint_id, TransitionIn(action=action, note=note), actor=actor, at=at
        )
        return True

    return step


def step_complaints(session: Session, rng: np.random.Generator, ctx: Any) -> None:
    """Demo pipeline step (``retento.demo.generator.STEPS``): complaints after orders."""
    if ctx.customer_ids is None or "manager" not in ctx.user_ids:
        return
    users = {name: session.get(User, uid) for name, uid in ctx.user_ids.items()}
    noon = datetime.combine(ctx.today, time(12), tzinfo=UTC)
    now = min(noon, datetime.now(UTC))
    ctx.summary.update(generate_complaints(session, rng, ctx.customer_ids, users, now))
    ctx.progress("complaints", 1.0)
