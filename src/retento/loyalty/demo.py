"""Demo step: a running loyalty programme with tiers, earnings, redemptions, refunds, expiries.

Runs after the core demo data (``retento.demo.generator.domain_steps``). Members' orders earn
through the path of a file import (``earning_bulk.earn_for_imported``: the rules, caps and tiers
of ``earn_for_order``, set-based); a bounded set of members keeps the demo fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from retento.auth.models import User
from retento.core.config import get_settings
from retento.core.errors import Conflict, NotFound
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyReward, LoyaltyRule, LoyaltyTier
from retento.mail.compose import customer_locale
from retento.web.i18n import Formatter

MEMBERS = 200
DEMO_RETURN = ("Demo return", "演示退货")  # a refund's reason (English, Chinese)
# code: (name, Chinese name)
TIER_NAMES = {
    "silver": ("Silver", "银卡"),
    "gold": ("Gold", "金卡"),
    "platinum": ("Platinum", "白金卡"),
    "black": ("Black card", "黑卡"),
}


# Earning rules have no code: name: Chinese name. The orders are in the installation's
# currency, whatever it is, so the spend rule says "currency unit", not 元.
RULE_NAMES = {
    "1 point per unit spent": "每消费一个货币单位积1分",
    "Big basket bonus": "大单奖励",
    "Birthday": "生日礼分",
    "Survey thank-you": "问卷答谢",
    "Referral bonus": "推荐奖励",
}


def _reward_names(currency: str) -> dict[str, tuple[str, str]]:
    """code: (name, Chinese name); the voucher is named by its money (1,000 points at 0.01)."""
    ten = Decimal(10)
    en, zh = Formatter("en", currency=currency), Formatter("zh_CN", currency=currency)
    return {
        "V10": (f"{en.money(ten)} voucher", f"{zh.money(ten)} 代金券"),
        "MUG": ("Tea mug", "茶杯"),
        "CARE": ("Free care service", "免费茶具保养"),
    }


def _fill_chinese_names(session: Session, model, names: dict[str, tuple[str, str]]) -> None:
    """Give the demo's tiers or rewards kept from an earlier run (``--reset`` keeps the
    programme's configuration) their Chinese names, unless someone renamed or named them."""
    rows = session.scalars(select(model).where(model.code.in_(names), model.name_zh.is_(None)))
    for row in rows:
        en, zh = names[row.code]
        if row.name == en:
            row.name_zh = zh


def _fill_rule_chinese_names(session: Session) -> None:
    """The same for earning rules, found by their (English) name: a renamed rule or one
    someone named in Chinese is left alone."""
    rows = session.scalars(
        select(LoyaltyRule).where(LoyaltyRule.name.in_(RULE_NAMES), LoyaltyRule.name_zh.is_(None))
    )
    for row in rows:
        row.name_zh = RULE_NAMES[row.name]


def step_loyalty(session: Session, rng: np.random.Generator, ctx: Any) -> None:
    """Configure the programme, earn on members' orders, redeem, refund, expire, review tiers."""
    if ctx.customer_ids is None or "manager" not in ctx.user_ids or len(ctx.customer_ids) == 0:
        return
    from retento.customers.models import Customer
    from retento.loyalty import events, service
    from retento.loyalty.earning import award_event
    from retento.loyalty.earning_bulk import earn_for_imported
    from retento.loyalty.expiry import run_expiry
    from retento.loyalty.tiers import review_all
    from retento.orders import service as orders
    from retento.orders.models import Order
    from retento.orders.schemas import RefundCreate

    ledger.forget(session)  # the demo reset deleted the ledger's accounts
    manager = session.get(User, ctx.user_ids["manager"])
    agent = session.get(User, ctx.user_ids.get("agent", ctx.user_ids["manager"]))
    p = ledger.programme(session)
    p.name, p.active, p.expiry_days, p.tier_window_days = "Retento Rewards", True, 365, 365
    # The demo's orders are in the installation's currency: so are its points' value and the
    # liability (a programme kept from an earlier run may still hold another currency).
    p.point_value, p.currency = Decimal("0.01"), get_settings().currency
    ledger.ensure_system_accounts(session)
    if session.scalar(select(LoyaltyTier.id).limit(1)) is None:
        session.add_all(
            [
                LoyaltyTier(
                    code="silver",
                    name=TIER_NAMES["silver"][0],
                    name_zh=TIER_NAMES["silver"][1],
                    rank=0,
                    threshold=0,
                    multiplier=Decimal("1"),
                    sla_class=None,
                    grace_days=30,
                ),
                LoyaltyTier(
                    code="gold",
                    name=TIER_NAMES["gold"][0],
                    name_zh=TIER_NAMES["gold"][1],
                    rank=1,
                    threshold=1500,
                    multiplier=Decimal("1.25"),
                    sla_class="major",
                    grace_days=60,
                ),
                LoyaltyTier(
                    code="platinum",
                    name=TIER_NAMES["platinum"][0],
                    name_zh=TIER_NAMES["platinum"][1],
                    rank=2,
                    threshold=5000,
                    multiplier=Decimal("1.5"),
                    sla_class="vip",
                    grace_days=90,
                ),
                LoyaltyTier(
                    code="black",
                    name=TIER_NAMES["black"][0],
                    name_zh=TIER_NAMES["black"][1],
                    rank=3,
                    threshold=0,
                    multiplier=Decimal("2"),
                    sla_class="vip",
                    invite_only=True,
                    grace_days=365,
                ),
            ]
        )
        session.flush()
    _fill_chinese_names(session, LoyaltyTier, TIER_NAMES)
    gold = session.scalar(select(LoyaltyTier).where(LoyaltyTier.code == "gold"))
    if session.scalar(select(LoyaltyRule.id).limit(1)) is None:
        session.add_all(
            [
                LoyaltyRule(
                    name="1 point per unit spent",
                    name_zh=RULE_NAMES["1 point per unit spent"],
                    kind="spend",
                    rate=Decimal("1"),
                ),
                LoyaltyRule(
                    name="Big basket bonus",
                    name_zh=RULE_NAMES["Big basket bonus"],
                    kind="spend",
                    fixed_points=100,
                    min_spend=Decimal("300"),
                    cap_points=300,
                    cap_period_days=90,
                ),
                LoyaltyRule(
                    name="Birthday",
                    name_zh=RULE_NAMES["Birthday"],
                    kind="event",
                    event="birthday",
                    fixed_points=200,
                ),
                LoyaltyRule(
                    name="Survey thank-you",
                    name_zh=RULE_NAMES["Survey thank-you"],
                    kind="event",
                    event="survey_answered",
                    fixed_points=50,
                    cap_points=200,
                    cap_period_days=365,
                ),
                LoyaltyRule(
                    name="Referral bonus",
                    name_zh=RULE_NAMES["Referral bonus"],
                    kind="event",
                    event="referral",
                    fixed_points=300,
                ),
            ]
        )
    _fill_rule_chinese_names(session)
    rewards = _reward_names(p.currency)
    if session.scalar(select(LoyaltyReward.id).limit(1)) is None:
        session.add_all(
            [
                LoyaltyReward(
                    code="V10",
                    name=rewards["V10"][0],
                    name_zh=rewards["V10"][1],
                    kind="voucher",
                    points_cost=1000,
                ),
                LoyaltyReward(
                    code="MUG",
                    name=rewards["MUG"][0],
                    name_zh=rewards["MUG"][1],
                    kind="gift",
                    points_cost=600,
                    stock=80,
                ),
                LoyaltyReward(
                    code="CARE",
                    name=rewards["CARE"][0],
                    name_zh=rewards["CARE"][1],
                    kind="service",
                    points_cost=2500,
                    min_tier_id=gold.id if gold else None,
                ),
            ]
        )
    _fill_chinese_names(session, LoyaltyReward, rewards)
    session.flush()
    noon = datetime.combine(ctx.today, time(12), tzinfo=UTC)
    now = min(noon, datetime.now(UTC))
    members = [
        int(c)
        for c in rng.choice(
            ctx.customer_ids, size=min(MEMBERS, len(ctx.customer_ids)), replace=False
        )
    ]
    order_list = list(
        session.scalars(
            select(Order)
            .where(Order.customer_id.in_(members), Order.ordered_at > now - timedelta(days=540))
            .options(selectinload(Order.lines))
            .order_by(Order.ordered_at)
        )
    )
    # Set-based, as a file import earns (same journals, lots and tiers as one by one, tested
    # in tests/loyalty/test_import_earning.py); by id, which is each member's order in time.
    earn_for_imported(session, sorted(o.id for o in order_list), actor_id=None)
    ctx.progress("loyalty", 0.7)
    # Birthday points as the daily job gave them (loyalty.events): to the members whose
    # birthday this year was in the last 200 days, at noon on the day, keyed as the job keys.
    born = dict(
        session.execute(
            select(Customer.id, Customer.birth_date).where(
                Customer.id.in_(members), Customer.birth_date.is_not(None)
            )
        ).all()
    )
    for cid in sorted(born):
        day = events.birthday_in(born[cid], ctx.today.year)
        if not ctx.today - timedelta(days=200) < day <= ctx.today or born[cid] > day:
            continue
        award_event(
            session,
            cid,
            "birthday",
            source_type="birthday",
            source_id=events.birthday_source_id(cid, day.year),
            actor_id=None,
            reason=f"Birthday {day.year}",
            at=min(now, datetime.combine(day, time(12), tzinfo=UTC)),
        )
    rewards = list(session.scalars(select(LoyaltyReward).order_by(LoyaltyReward.points_cost)))
    redeemed = refunded = 0
    for cid in members:
        if rng.random() < 0.5:
            reward = rewards[int(rng.integers(0, len(rewards)))]
            try:
                service.redeem(session, cid, reward_id=reward.id, actor=agent, now=now)
                redeemed += 1
            except (Conflict, NotFound):
                pass  # not enough points, out of stock, or never bought: not a member
    paid = [o for o in order_list if o.status != "cancelled" and o.revenue > 0]
    for o in (
        (paid[int(i)] for i in rng.choice(len(paid), size=min(15, len(paid)), replace=False))
        if paid
        else ()
    ):
        amount = (o.revenue * Decimal(str(round(float(rng.uniform(0.2, 1.0)), 2)))).quantize(
            Decimal("0.01")
        )
        if amount > 0:
            # The reason in the customer's language, as the demo's other refunds.
            reason = DEMO_RETURN[int(customer_locale(o.customer, "en") == "zh_CN")]
            orders.add_refund(
                session, o.id, RefundCreate(amount=amount, reason=reason), actor=manager
            )
            refunded += 1
    expired = run_expiry(session, now)
    review_all(session, now)
    ctx.summary.update(
        {
            "loyalty_members": len(members),
            "loyalty_redemptions": redeemed,
            "loyalty_refunds": refunded,
            "loyalty_points_expired": expired,
        }
    )
    ctx.progress("loyalty", 1.0)
