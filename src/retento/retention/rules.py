"""Warning rules: which customers a rule flags now, each with a cause key and a reason.

Every rule returns ``Candidate`` rows; ``alerts.raise_alerts`` inserts them with insert-or-ignore on
(customer, rule, cause key), so a cause seen again (next job run, another event) changes nothing.
The cause key names the thing that caused the warning: the last order date for risk and rhythm
(a new order and a new lapse is a new cause), the complaint, the survey response, the tier
change, the earliest expiry date of the points.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from retento.complaints.models import OPEN_STATUSES, Complaint
from retento.core.config import get_settings
from retento.customers.models import Customer
from retento.orders.models import Order
from retento.retention.models import RetentionRule
from retento.scoring.consent import profiled_condition
from retento.scoring.models import CustomerScore, ScoreRun

# scoring's value classes → retention classes (SPEC §6).
CLASS_OF_VALUE = {
    "vip": "key",
    "major": "key",
    "ordinary": "ordinary",
    "small": "small",
    "below_zero": "bad",
}
# A customer not scored yet is treated as ordinary: tried, not ignored, not escalated.
UNSCORED_CLASS = "ordinary"
SEVERITY_ORDER = ("low", "medium", "high")


@dataclass
class Candidate:
    customer_id: int
    rule: str
    cause_key: str
    reason_code: str
    params: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None  # None: the rule's severity


@dataclass
class Profile:
    """What the rules need to know about a customer from the latest scoring run."""

    value_class: str = UNSCORED_CLASS
    risk: float | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    last_order_on: date | None = None


def bump(severity: str) -> str:
    i = SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else 1
    return SEVERITY_ORDER[min(i + 1, len(SEVERITY_ORDER) - 1)]


def latest_run_id(session: Session) -> int | None:
    return session.scalar(
        select(ScoreRun.id)
        .where(ScoreRun.status == "succeeded")
        .order_by(ScoreRun.id.desc())
        .limit(1)
    )


def _risk_columns() -> tuple[Any, Any]:
    # churn_risk / churn_reasons come with migration 0015; read them only if the model has them.
    return getattr(CustomerScore, "churn_risk", None), getattr(CustomerScore, "churn_reasons", None)


def profiles(session: Session, customer_ids: list[int] | None = None) -> dict[int, Profile]:
    """Value class, churn risk and model reasons per customer from the latest succeeded run
    (only customers who may be profiled, see ``scoring.consent``)."""
    run_id = latest_run_id(session)
    if run_id is None:
        return {}
    risk_col, reasons_col = _risk_columns()
    cols = [CustomerScore.customer_id, CustomerScore.value_class, CustomerScore.last_order_on]
    if risk_col is not None:
        cols += [risk_col, reasons_col]
    # Customers who may not be profiled (scoring.consent) have no profile: no churn-risk warning,
    # and the other rules treat them as unscored.
    stmt = select(*cols).where(
        CustomerScore.run_id == run_id, profiled_condition(session, CustomerScore.customer_id)
    )
    if customer_ids is not None:
        stmt = stmt.where(CustomerScore.customer_id.in_(customer_ids))
    out: dict[int, Profile] = {}
    for row in session.execute(stmt):
        risk = row[3] if len(row) > 3 else None
        if risk is not None and not math.isfinite(risk):
            risk = None  # a run that could not score a customer leaves NaN
        out[row[0]] = Profile(
            value_class=CLASS_OF_VALUE.get(row[1], UNSCORED_CLASS),
            risk=risk,
            reasons=list(row[4] or []) if len(row) > 4 else [],
            last_order_on=row[2],
        )
    return out


def _scope(stmt, column, customer_ids: list[int] | None):
    return stmt if customer_ids is None else stmt.where(column.in_(customer_ids))


def _active_customers(session: Session, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    found: set[int] = set()
    id_list = sorted(ids)
    for i in range(0, len(id_list), 1000):
        chunk = id_list[i : i + 1000]
        found.update(
            session.scalars(
                select(Customer.id).where(Customer.id.in_(chunk), Customer.archived_at.is_(None))
            )
        )
    return found


def churn_risk(
    session: Session, rule: RetentionRule, prof: dict[int, Profile], ids: list[int] | None, now
) -> list[Candidate]:
    out = []
    wanted = set(ids) if ids is not None else None
    for cid, p in prof.items():
        if wanted is not None and cid not in wanted:
            continue
        if p.risk is None or p.risk <= rule.threshold:
            continue
        # Someone who stopped buying long before the window is lost, not at risk.
        if rule.window_days and (
            p.last_order_on is None or (now.date() - p.last_order_on).days > rule.window_days
        ):
            continue
        out.append(
            Candidate(
                cid,
                "churn_risk",
                f"risk:{p.last_order_on.isoformat() if p.last_order_on else 'none'}",
                "churn_risk",
                {"risk": round(100 * p.risk), "model": p.reasons[:3]},
            )
        )
    return out


def rhythm(
    session: Session, rule: RetentionRule, prof: dict[int, Profile], ids: list[int] | None, now
) -> list[Candidate]:
    """Days since the last order > k × the customer's median gap between orders."""
    repeat = (
        select(Order.customer_id)
        .where(Order.status != "cancelled")
        .group_by(Order.customer_id)
        .having(func.count() >= 2)
    )
    repeat = _scope(repeat, Order.customer_id, ids)
    stmt = (
        select(Order.customer_id, Order.ordered_at)
        .where(Order.status != "cancelled", Order.customer_id.in_(repeat))
        .order_by(Order.customer_id, Order.ordered_at)
    )
    days: dict[int, list[date]] = defaultdict(list)
    for cid, at in session.execute(stmt):
        d = at.date()
        if not days[cid] or days[cid][-1] != d:
            days[cid].append(d)
    today = now.date()
    out = []
    for cid, ds in days.items():
        if len(ds) < 2:
            continue
        gap = median((b - a).days for a, b in zip(ds, ds[1:], strict=False))
        since = (today - ds[-1]).days
        overdue = since - rule.threshold * gap
        # A lapse that began more than window_days ago is old news, not a warning.
        if gap >= 1 and overdue > 0 and not (rule.window_days and overdue > rule.window_days):
            out.append(
                Candidate(
                    cid,
                    "rhythm",
                    f"rhythm:{ds[-1].isoformat()}",
                    "rhythm",
                    {"days": since, "gap": round(gap), "k": rule.threshold},
                )
            )
    return out


def complaint(
    session: Session, rule: RetentionRule, prof: dict[int, Profile], ids: list[int] | None, now
) -> list[Candidate]:
    """An open complaint of severity ≥ threshold, or an SLA breach, received within the window."""
    breached = or_(Complaint.resolution_breached.is_(True), Complaint.first_response_breached)
    stmt = select(Complaint).where(
        or_(
            and_(Complaint.status.in_(OPEN_STATUSES), Complaint.severity >= rule.threshold),
            and_(breached, Complaint.status.in_(OPEN_STATUSES)),
        )
    )
    if rule.window_days:
        stmt = stmt.where(Complaint.received_at >= now - timedelta(days=rule.window_days))
    stmt = _scope(stmt, Complaint.customer_id, ids)
    out = []
    for c in session.scalars(stmt):
        code = c.tracking_code
        if c.resolution_breached or c.first_response_breached:
            due = c.resolution_due_at if c.resolution_breached else c.first_response_due_at
            ago = max(0, (now - due).days) if due else 0
            out.append(
                Candidate(
                    c.customer_id,
                    "complaint",
                    f"complaint:{c.id}",
                    "complaint_breached",
                    {"code": code, "days": ago, "severity": c.severity},
                    severity=bump(rule.severity),
                )
            )
        else:
            out.append(
                Candidate(
                    c.customer_id,
                    "complaint",
                    f"complaint:{c.id}",
                    "complaint_open",
                    {"code": code, "days": (now - c.received_at).days, "severity": c.severity},
                )
            )
    return out


def survey(
    session: Session, rule: RetentionRule, prof: dict[int, Profile], ids: list[int] | None, now
) -> list[Candidate]:
    """An NPS answer ≤ threshold (detractor) or a rating in the lowest 30 % of its scale."""
    from retento.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse

    stmt = (
        select(
            SurveyResponse.id,
            SurveyResponse.customer_id,
            SurveyQuestion.qtype,
            SurveyQuestion.scale_min,
            SurveyQuestion.scale_max,
            SurveyAnswer.number,
        )
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(
            SurveyResponse.customer_id.is_not(None),
            SurveyResponse.status == "completed",
            SurveyQuestion.qtype.in_(("nps", "rating")),
            SurveyAnswer.number.is_not(None),
            or_(SurveyQuestion.value_dimension.is_(None), SurveyQuestion.qtype == "nps"),
        )
        .order_by(SurveyResponse.id, SurveyQuestion.qtype)
    )
    if rule.window_days:
        stmt = stmt.where(SurveyResponse.completed_at >= now - timedelta(days=rule.window_days))
    stmt = _scope(stmt, SurveyResponse.customer_id, ids)
    seen: set[int] = set()
    out = []
    for rid, cid, qtype, lo, hi, number in session.execute(stmt):
        if rid in seen:
            continue
        if qtype == "nps" and number <= rule.threshold:
            seen.add(rid)
            out.append(
                Candidate(cid, "survey", f"survey:{rid}", "detractor", {"score": _num(number)})
            )
        elif qtype == "rating" and lo is not None and hi is not None and hi > lo:
            if (number - lo) / (hi - lo) <= 0.3:
                seen.add(rid)
                out.append(
                    Candidate(
                        cid,
                        "survey",
                        f"survey:{rid}",
                        "low_survey",
                        {"score": _num(number), "min": lo, "max": hi},
                    )
                )
    return out


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(float(v), 1)


def tier_downgrade(
    session: Session, rule: RetentionRule, prof: dict[int, Profile], ids: list[int] | None, now
) -> list[Candidate]:
    from retento.loyalty.models import LoyaltyTier, LoyaltyTierChange

    frm, to = aliased(LoyaltyTier), aliased(LoyaltyTier)
    stmt = (
        select(
            LoyaltyTierChange.id,
            LoyaltyTierChange.customer_id,
            frm.id,
            frm.name,
            frm.name_zh,
            to.id,
            to.name,
            to.name_zh,
        )
        .join(frm, frm.id == LoyaltyTierChange.from_tier_id)
        .outerjoin(to, to.id == LoyaltyTierChange.to_tier_id)
        .where(or_(to.id.is_(None), to.rank < frm.rank))
    )
    if rule.window_days:
        stmt = stmt.where(LoyaltyTierChange.at >= now - timedelta(days=rule.window_days))
    stmt = _scope(stmt, LoyaltyTierChange.customer_id, ids)
    # The tiers by id and by name in both languages: the reason is rendered in the reader's
    # language when shown (``reasons.render_reason``), not stored in words.
    return [
        Candidate(
            cid,
            "tier_downgrade",
            f"tier:{ch}",
            "tier_downgrade",
            {
                "from_tier": a,
                "to_tier": b,
                "from_tier_zh": a_zh,
                "to_tier_zh": b_zh,
                "from_tier_id": a_id,
                "to_tier_id": b_id,
            },
        )
        for ch, cid, a_id, a, a_zh, b_id, b, b_zh in session.execute(stmt)
    ]


def points_expiring(
    session: Session, rule: RetentionRule, prof: dict[int, Profile], ids: list[int] | None, now
) -> list[Candidate]:
    """Members with at least ``threshold`` points expiring within the window, counted by the
    loyalty ledger (``ledger.expiring_select``), as the member card counts them. The reason holds
    the points and the first (and last) expiry day in the installation's time zone, the days the
    pages write; the cause key the first expiry's UTC day (what it always was)."""
    from zoneinfo import ZoneInfo

    from retento.loyalty import ledger
    from retento.loyalty.models import LoyaltyAccount, LoyaltyLot

    tz = ZoneInfo(get_settings().timezone)
    stmt = ledger.expiring_select(now, now + timedelta(days=rule.window_days or 30)).having(
        func.sum(LoyaltyLot.remaining) >= rule.threshold
    )
    stmt = _scope(stmt, LoyaltyAccount.customer_id, ids)
    out = []
    for row in session.execute(stmt):
        e = ledger.expiring_row(row)
        out.append(
            Candidate(
                row.customer_id,
                "points_expiring",
                points_cause_key(e),
                "points_expiring",
                points_params(e, tz),
            )
        )
    return out


def points_cause_key(e: Any) -> str:
    """The cause key of ``points_expiring`` for ``e`` (a ``ledger.Expiring``): the first
    expiry's UTC day. A later first expiry is a new cause (``points_now.follow_ledger``)."""
    return f"points:{e.first.astimezone(UTC).date().isoformat()}"


def points_params(e: Any, tz: Any) -> dict[str, Any]:
    """The reason values of ``points_expiring`` for ``e`` (a ``ledger.Expiring``): points, the
    first expiry day and, when the points expire over several days, the last one."""
    params: dict[str, Any] = {"points": e.points, "date": e.first_day(tz).isoformat()}
    if e.last_day(tz) != e.first_day(tz):
        params["last"] = e.last_day(tz).isoformat()
    return params


RULES = {
    "churn_risk": churn_risk,
    "rhythm": rhythm,
    "complaint": complaint,
    "survey": survey,
    "tier_downgrade": tier_downgrade,
    "points_expiring": points_expiring,
}


def candidates(
    session: Session,
    rules: list[RetentionRule],
    *,
    customer_ids: list[int] | None = None,
    now: datetime,
) -> tuple[list[Candidate], dict[int, Profile]]:
    """What the enabled ``rules`` flag now (for all customers, or only ``customer_ids``)."""
    prof = profiles(session, customer_ids)
    found: list[Candidate] = []
    for rule in rules:
        if not rule.enabled or rule.code not in RULES:
            continue
        got = RULES[rule.code](session, rule, prof, customer_ids, now)
        if rule.classes:
            allowed = set(rule.classes)
            got = [c for c in got if prof.get(c.customer_id, Profile()).value_class in allowed]
        found.extend(got)
    active = _active_customers(session, {c.customer_id for c in found})
    return [c for c in found if c.customer_id in active], prof
