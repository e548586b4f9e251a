"""Demo complaints with realistic SLA outcomes (met and breached), remedies and follow-ups,
written in the customer's language (English or Chinese).

Hook for ``retento.demo.generator``: append ``step_complaints`` to ``STEPS``; it reads customer
ids and users from the demo context. ``generate_complaints`` can also be called on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.complaints import followup, remedies, service
from retento.complaints.jobs import escalate
from retento.complaints.schemas import (
    ComplaintCreate,
    FollowUpIn,
    NoteIn,
    RemedyCreate,
    SurveyAnswerIn,
    TransitionIn,
)
from retento.customers.models import Customer
from retento.mail.compose import customer_locale

# A bilingual text: (English, Simplified Chinese). A complaint is written in its customer's
# language (``customer_locale``: the stated language, else Chinese for customers in China), as a
# service desk records it; root causes are the business's own codes in every language, so the
# Pareto groups them, and the pages show them translated (complaints.pages.labels).
T = tuple[str, str]
CATEGORIES: dict[str, tuple[float, list[str], list[tuple[T, T]]]] = {
    # code: (weight, root causes, [(subject, what happened)])
    "delivery": (0.30, ["courier delay", "packaging", "wrong address"], [
        (("Parcel arrived late", "包裹迟迟才到"),
         ("The order was promised within two days and arrived after a week.",
          "订单承诺两天内送达，结果一周后才收到。")),
        (("Box crushed in transit", "外箱在运输中被压坏"),
         ("The outer box was crushed and the tea tin inside is dented.",
          "外箱被压扁了，里面的茶叶罐也被压凹了。")),
        (("Delivered to the wrong door", "包裹送错了地址"),
         ("The courier left the parcel with a neighbour two floors down.",
          "快递员把包裹放到了楼下两层的邻居家。")),
    ]),
    "product_quality": (0.25, ["supplier batch", "packaging", "storage humidity"], [
        (("Tea tasted stale", "茶叶有陈味"),
         ("The tea tastes flat and stale although it is well within its date.",
          "茶叶还在保质期内，但喝起来寡淡、有陈味。")),
        (("Teapot lid cracked", "茶壶盖裂了"),
         ("The lid of the clay teapot cracked the first time hot water went in.",
          "紫砂壶第一次注入热水，壶盖就裂了。")),
        (("Cookies past their date", "饼干已过保质期"),
         ("The cookies in the gift box were past their best-before date.",
          "礼盒里的饼干已经过了保质期。")),
    ]),
    "price_billing": (0.15, ["promotion rules", "double charge"], [
        (("Charged twice", "同一笔订单被扣款两次"),
         ("The card was charged twice for the same order.",
          "同一笔订单在银行卡上被扣了两次款。")),
        (("Discount not applied", "优惠没有生效"),
         ("The member discount shown in the shop was not applied at checkout.",
          "店内标明的会员折扣在结账时没有生效。")),
        (("Invoice missing", "没有收到发票"),
         ("The company needs the invoice for this order and none was sent.",
          "公司报销需要这笔订单的发票，但一直没有收到。")),
    ]),
    "staff_attitude": (0.12, ["training", "understaffing"], [
        (("Rude cashier", "收银员态度恶劣"),
         ("The cashier was impatient and rude when asked about the offer.",
          "询问优惠活动时，收银员很不耐烦，态度恶劣。")),
        (("Nobody answered the phone", "电话一直无人接听"),
         ("Called the shop several times over two days and nobody picked up.",
          "两天里给门店打了好几次电话，都没有人接。")),
        (("Ignored at the counter", "在柜台前无人理睬"),
         ("Waited at the counter for fifteen minutes while the staff chatted.",
          "在柜台前等了十五分钟，店员只顾着聊天。")),
    ]),
    "service": (0.13, ["booking system", "training"], [
        (("Tasting session cancelled", "品鉴会被临时取消"),
         ("The booked tasting session was cancelled on the day without notice.",
          "预约好的品鉴会当天被取消，事先没有任何通知。")),
        (("Repair took weeks", "维修拖了好几周"),
         ("The teaware repair promised within a week has taken over a month.",
          "承诺一周内修好的茶具，一个多月了还没修好。")),
        (("Gift wrapping forgotten", "忘了做礼品包装"),
         ("Gift wrapping was paid for but the present arrived unwrapped.",
          "付了礼品包装费，礼物送到时却没有包装。")),
    ]),
    "other": (0.05, ["other"], [
        (("Website would not load", "网站打不开"),
         ("The online shop would not load on the phone for a whole evening.",
          "整个晚上用手机都打不开网上商店。")),
        (("Newsletter after unsubscribing", "退订后仍收到推送邮件"),
         ("The newsletter still arrives two weeks after unsubscribing.",
          "退订两周后仍然在收到推送邮件。")),
    ]),
}  # fmt: skip
# What the agent writes: an internal note, and the feedback the customer gets on resolution.
NOTE: T = ("Internal: checked the order history.", "内部备注：已核对订单记录。")
FEEDBACK: T = (
    "We apologised and fixed the cause; thank you for telling us.",
    "我们已向您致歉并解决了问题的根源，感谢您的反馈。",
)
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
        _, causes, texts = CATEGORIES[code]
        severity = int(rng.choice(4, p=SEVERITY_P)) + 1
        age_days = float(rng.uniform(0.05, 200))
        received = min(_business(now - timedelta(days=age_days)), now - timedelta(minutes=30))
        agent = agents[i % len(agents)]
        purposes = sorted(
            set(rng.choice(PURPOSES, size=int(rng.integers(1, 3)), replace=False).tolist())
        )
        # Random draws in their historical order, so a seed still gives the same complaints.
        customer_id = int(ids[rng.integers(len(ids))])
        complaint_kind = "grumble" if rng.random() < 0.25 else "complaint"
        channel = str(rng.choice(CHANNELS, p=CHANNEL_P))
        subject, description = texts[int(rng.choice(len(texts)))]
        lang = _language(session, customer_id)
        c = service.create_complaint(
            session,
            ComplaintCreate(
                customer_id=customer_id,
                kind=complaint_kind,
                channel=channel,
                category=code,
                subject=subject[lang],
                description=description[lang],
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
        service.add_note(session, c.id, NoteIn(body=NOTE[lang]), actor=agent)
        if rng.random() < 0.3:
            if not step("await_customer", received + respond):
                continue
            if not step("customer_replied", received + respond + (resolve - respond) / 3):
                continue
        remedies.add_remedy(
            session, c.id, RemedyCreate(kind="apology", given_at=received + respond), actor=agent
        )
        if severity >= 3 or (rng.random() < 0.2 and "compensated" in purposes):
            amount = float(rng.choice([10, 20, 30, 50, 100])) * severity / 2
            kind = str(rng.choice(["voucher", "refund", "gift"], p=[0.5, 0.3, 0.2]))
            remedies.add_remedy(
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
        if not step("resolve", received + resolve, FEEDBACK[lang]):
            continue
        if c.resolution_ever_breached:
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


def _language(session: Session, customer_id: int) -> int:
    """The customer's language as an index into a ``T``: 1 for Chinese, else 0 (English)."""
    customer = session.get(Customer, customer_id)
    return int(customer is not None and customer_locale(customer, "en") == "zh_CN")


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
