"""Offer playbooks: bonus points posted through the loyalty programme for a treated case.

When a treated case of an ``offer`` playbook with ``offer_points`` opens, the points go to the
customer's loyalty account through the loyalty domain's own event path
(:func:`retento.loyalty.earning.award_event`), keyed by the case: a re-run never posts twice.
Control cases never reach this code. Only members get points (a customer without a loyalty
account is not enrolled by a retention offer); otherwise the task and the case say why nothing
was posted. The points' money value (points × the programme's point value, rounded to the cent)
is added to the case's cost, so the uplift report's "incremental revenue minus cost" counts it.

The case's ``note`` records what happened in a fixed English form (parsed back by
:func:`offer_state` to show it in the reader's language).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from retento.core.money import CENT, ZERO

EVENT = "retention_offer"
SOURCE = "retention_case"
POSTED = "loyalty points posted: {points}"
NOT_MEMBER = "not a loyalty member: no points posted"
INACTIVE = "loyalty programme inactive: no points posted"
_POSTED_RE = re.compile(r"loyalty points posted: (\d+)")


@dataclass(frozen=True)
class OfferResult:
    """What an offer did: ``state`` is ``posted``, ``not_member`` or ``inactive``."""

    state: str
    points: int
    value: Decimal
    journal_id: int | None = None

    @property
    def note(self) -> str:
        if self.state == "posted":
            return POSTED.format(points=self.points)
        return NOT_MEMBER if self.state == "not_member" else INACTIVE


def points_value(points: int, point_value: Decimal) -> Decimal:
    """Money value of ``points`` at ``point_value`` per point, rounded half up to the cent."""
    return (Decimal(int(points)) * Decimal(point_value)).quantize(CENT, rounding=ROUND_HALF_UP)


def post_offer_points(
    session: Session,
    case_id: int,
    customer_id: int,
    points: int,
    *,
    reason: str,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> OfferResult:
    """Post ``points`` bonus points for retention case ``case_id`` (members only, once).

    The idempotency key is the loyalty event key ``retention_case:<case id>:retention_offer``:
    calling this again for the same case returns the journal posted the first time.
    """
    from retento.loyalty import ledger
    from retento.loyalty.earning import award_event

    prog = ledger.programme(session)
    if not prog.active:
        return OfferResult("inactive", int(points), ZERO)
    if ledger.get_wallet(session, customer_id) is None:
        return OfferResult("not_member", int(points), ZERO)
    journal = award_event(
        session,
        customer_id,
        EVENT,
        source_type=SOURCE,
        source_id=case_id,
        actor_id=actor_id,
        points=int(points),
        reason=reason,
        at=now,
    )
    if journal is None:  # the programme declined (e.g. switched off meanwhile)
        return OfferResult("inactive", int(points), ZERO)
    return OfferResult(
        "posted", int(points), points_value(points, prog.point_value), journal_id=journal.id
    )


def programme_point_value(session: Session) -> tuple[bool, Decimal]:
    """Whether the loyalty programme is active, and its money value of one point (read only)."""
    from sqlalchemy import select

    from retento.loyalty.models import LoyaltyProgramme

    prog = session.scalar(select(LoyaltyProgramme).order_by(LoyaltyProgramme.id).limit(1))
    if prog is None:
        return False, Decimal("0.01")
    return bool(prog.active), Decimal(prog.point_value)


def offer_state(note: str | None) -> tuple[str, int] | None:
    """``(state, points)`` from a case note written by :class:`OfferResult`, else None."""
    if not note:
        return None
    m = _POSTED_RE.search(note)
    if m:
        return "posted", int(m.group(1))
    if NOT_MEMBER in note:
        return "not_member", 0
    if INACTIVE in note:
        return "inactive", 0
    return None


def offer_note(note: str | None) -> str | None:
    """The offer's own line of a case note (kept when someone records an outcome note)."""
    state = offer_state(note)
    if state is None:
        return None
    kind, points = state
    return OfferResult(kind, points, ZERO).note


def offer_line(state: str, points: int, value: Decimal | None, zh: bool) -> str:
    """The task's offer line in English or Chinese."""
    if state == "posted":
        money = f"{value:,.2f}" if value is not None else ""
        if zh:
            return f"优惠：已向会员积分账户发放 {points} 奖励积分" + (
                f"（价值 {money}）" if money else ""
            )
        return f"Offer: {points} bonus points posted to the loyalty account" + (
            f" (worth {money})" if money else ""
        )
    if state == "not_member":
        if zh:
            return f"优惠：{points} 积分未发放：客户不是会员，请另行提供优惠"
        return f"Offer: {points} points not posted: the customer is not a loyalty member"
    if zh:
        return f"优惠：{points} 积分未发放：会员计划未启用"
    return f"Offer: {points} points not posted: the loyalty programme is not active"
