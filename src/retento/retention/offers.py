"""Offer playbooks: bonus points posted through the loyalty programme for a treated case.

When a treated case of an ``offer`` playbook with ``offer_points`` opens, the points go to the
customer's loyalty account through the loyalty domain's own event path
(:func:`retento.loyalty.earning.award_event`), keyed by the case: a re-run never posts twice.
Control cases never reach this code. Only members get points (a customer without a loyalty
account is not enrolled by a retention offer); otherwise the task and the case say why nothing
was posted. The points' money value (points × the programme's point value, rounded to the cent)
is added to the case's cost, so the uplift report's "incremental revenue minus cost" counts it.

An offer playbook may also name a voucher from the loyalty rewards catalogue
(``offer_reward_id``): :func:`issue_offer_reward` has the loyalty domain grant it free of points
(:func:`retento.loyalty.grants.grant_reward`, key ``retention_case:<case id>:reward``), once per
case, stock decremented under the reward's row lock. Its money value (the reward's points cost ×
the point value, to the cent) is added to the case's cost. Out of stock, not a member, programme
inactive, reward withdrawn or above the member's tier: nothing is issued and the task says why.

The case's ``note`` records what happened in a fixed English form, one line per offer (parsed
back by :func:`offer_state` and :func:`voucher_state` to show it in the reader's language).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from retento.core.money import ZERO

EVENT = "retention_offer"
SOURCE = "retention_case"
POSTED = "loyalty points posted: {points}"
NOT_MEMBER = "not a loyalty member: no points posted"
INACTIVE = "loyalty programme inactive: no points posted"
_POSTED_RE = re.compile(r"loyalty points posted: (\d+)")
VOUCHER_ISSUED = "loyalty voucher issued: reward {reward}"
VOUCHER_NOT = "loyalty voucher not issued ({state}): reward {reward}"
_VOUCHER_RE = re.compile(r"loyalty voucher (?:issued|not issued \((\w+)\)): reward (\d+)")
VOUCHER_STATES = ("issued", "not_member", "inactive", "out_of_stock", "unavailable", "tier")


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
    """Money value of ``points`` at ``point_value`` per point (``loyalty.ledger.points_value``,
    the one valuation of points, also a complaint remedy's cost)."""
    from retento.loyalty.ledger import points_value as value

    return value(points, point_value)


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
        qualifying=False,  # goodwill: never a tier (a downgraded member is not put back)
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
    """The offer's own lines of a case note (kept when someone records an outcome note)."""
    lines = []
    state = offer_state(note)
    if state is not None:
        kind, points = state
        lines.append(OfferResult(kind, points, ZERO).note)
    voucher = voucher_state(note)
    if voucher is not None:
        lines.append(VoucherResult(voucher[0], voucher[1], None, ZERO).note)
    return "\n".join(lines) or None


@dataclass(frozen=True)
class VoucherResult:
    """What the playbook's voucher did; ``state`` is one of :data:`VOUCHER_STATES`."""

    state: str
    reward_id: int
    reward_name: str | None
    value: Decimal

    @property
    def note(self) -> str:
        if self.state == "issued":
            return VOUCHER_ISSUED.format(reward=self.reward_id)
        return VOUCHER_NOT.format(state=self.state, reward=self.reward_id)


def issue_offer_reward(
    session: Session,
    case_id: int,
    customer_id: int,
    reward_id: int,
    *,
    reason: str,
    now: datetime | None = None,
) -> VoucherResult:
    """Issue the playbook's voucher for treated case ``case_id`` (members only, once per case).

    The value is the reward's points cost at the programme's point value (money, to the cent),
    zero when nothing was issued.
    """
    from retento.loyalty import ledger
    from retento.loyalty.grants import grant_reward

    g = grant_reward(
        session,
        customer_id,
        reward_id,
        source_type=SOURCE,
        source_id=case_id,
        reason=reason,
        now=now,
    )
    value = ZERO
    if g.issued:
        value = points_value(g.points_cost, ledger.programme(session).point_value)
    return VoucherResult(g.state, reward_id, g.reward_name, value)


def voucher_state(note: str | None) -> tuple[str, int] | None:
    """``(state, reward id)`` from a case note written by :class:`VoucherResult`, else None."""
    if not note:
        return None
    m = _VOUCHER_RE.search(note)
    if m is None:
        return None
    return (m.group(1) or "issued"), int(m.group(2))


_VOUCHER_TEXT = {
    "issued": (
        "Offer: voucher “{name}” issued to the loyalty account (worth {money})",
        "优惠：已向会员账户发放礼券“{name}”（价值 {money}）",
    ),
    "not_member": (
        "Offer: voucher “{name}” not issued: the customer is not a loyalty member",
        "优惠：礼券“{name}”未发放：客户不是会员，请另行提供优惠",
    ),
    "inactive": (
        "Offer: voucher “{name}” not issued: the loyalty programme is not active",
        "优惠：礼券“{name}”未发放：会员计划未启用",
    ),
    "out_of_stock": (
        "Offer: voucher “{name}” not issued: out of stock",
        "优惠：礼券“{name}”未发放：库存不足",
    ),
    "unavailable": (
        "Offer: voucher “{name}” not issued: the reward is no longer offered",
        "优惠：礼券“{name}”未发放：该奖励已停用",
    ),
    "tier": (
        "Offer: voucher “{name}” not issued: it is for a higher tier",
        "优惠：礼券“{name}”未发放：仅限更高等级会员",
    ),
}


def voucher_line(state: str, name: str | None, value: Decimal | None, zh: bool) -> str:
    """The task's voucher line in English or Chinese (written into the task's script)."""
    en, cn = _VOUCHER_TEXT.get(state, _VOUCHER_TEXT["unavailable"])
    money = f"{value:,.2f}" if value is not None else ""
    return (cn if zh else en).format(name=name or "?", money=money)


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


def _line_pattern(template: str) -> str:
    """A regular expression matching ``template`` with any ``{name}``/``{money}``/``{points}``."""
    out = re.escape(template)
    for key, part in (("name", ".+?"), ("money", "[0-9,.]*"), ("points", "[0-9]+")):
        out = out.replace(re.escape("{" + key + "}"), part)
    return out


_OFFER_TEMPLATES = (
    "Offer: {points} bonus points posted to the loyalty account",
    "Offer: {points} bonus points posted to the loyalty account (worth {money})",
    "优惠：已向会员积分账户发放 {points} 奖励积分",
    "优惠：已向会员积分账户发放 {points} 奖励积分（价值 {money}）",
    "Offer: {points} points not posted: the customer is not a loyalty member",
    "优惠：{points} 积分未发放：客户不是会员，请另行提供优惠",
    "Offer: {points} points not posted: the loyalty programme is not active",
    "优惠：{points} 积分未发放：会员计划未启用",
    *(text for pair in _VOUCHER_TEXT.values() for text in pair),
)
_OFFER_LINE_RE = re.compile("|".join(f"(?:{_line_pattern(t)})" for t in _OFFER_TEMPLATES))


def is_offer_line(text: str) -> bool:
    """Whether ``text`` is a line ``offer_line``/``voucher_line`` wrote into a task's script
    (in either language): the task pages show what the offer did in the reader's language
    from the case instead."""
    return _OFFER_LINE_RE.fullmatch(text.strip()) is not None


def voucher_texts(request: Any, session: Session, rows: list, notes: dict) -> dict[int, str]:
    """Per task (id): what the playbook's voucher did, in the reader's language."""
    from sqlalchemy import select

    from retento.loyalty.models import LoyaltyReward
    from retento.web.i18n import N_
    from retento.web.render import request_locale, tr

    states = {}
    for t in rows:
        st = voucher_state(notes.get(t.case_id)) if t.case_id in notes else None
        if st is not None:
            states[t.id] = st
    if not states:
        return {}
    ids = {rid for _s, rid in states.values()}
    locale = request_locale(request)
    names = {
        r.id: r.name_in(locale)
        for r in session.scalars(select(LoyaltyReward).where(LoyaltyReward.id.in_(ids)))
    }
    texts = {
        "issued": N_("Voucher “%(name)s” issued to the loyalty account"),
        "not_member": N_(
            "Voucher “%(name)s” not issued: not a loyalty member; make the offer another way"
        ),
        "inactive": N_("Voucher “%(name)s” not issued: the loyalty programme is not active"),
        "out_of_stock": N_("Voucher “%(name)s” not issued: out of stock"),
        "unavailable": N_("Voucher “%(name)s” not issued: the reward is no longer offered"),
        "tier": N_("Voucher “%(name)s” not issued: it is for a higher tier"),
    }
    return {
        t_id: tr(request, texts.get(st, texts["unavailable"]), name=names.get(rid, f"#{rid}"))
        for t_id, (st, rid) in states.items()
    }
