"""Default warning rules and playbooks (SPEC §6: key → strive to win back, ordinary → try,
small → opportunistic, bad → let go), created on first use and editable by managers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.retention.models import RetentionConfig, RetentionPlaybook, RetentionRule
from retento.retention.sql import insert_ignore

# code -> (threshold, window_days, severity, classes)
#   churn_risk: risk (0-1) above threshold, last order within window_days
#   rhythm: days since last order > threshold × the customer's median gap (≥ 2 orders), the
#     lapse (days beyond threshold × gap) not older than window_days
#   complaint: open complaint of severity ≥ threshold, or any SLA breach, received within window
#   survey: NPS answer ≤ threshold (detractor), or a rating in the lowest 30 % of its scale
#   tier_downgrade: a tier drop within the window (threshold unused)
#   points_expiring: ≥ threshold points expire within window_days
DEFAULT_RULES: dict[str, tuple[float, int, str, list[str]]] = {
    "churn_risk": (0.7, 365, "medium", []),
    "rhythm": (2.0, 180, "medium", ["key", "ordinary", "small"]),
    "complaint": (2.0, 90, "high", ["key", "ordinary"]),
    "survey": (6.0, 30, "medium", []),
    "tier_downgrade": (0.0, 30, "medium", []),
    "points_expiring": (100.0, 30, "low", []),
}

DEFAULT_PLAYBOOKS: list[dict[str, Any]] = [
    {
        "value_class": "key",
        "action": "task",
        "name_en": "Key customer: strive to win back",
        "name_zh": "重要客户：全力挽回",
        "script_en": (
            "Call the customer personally within the due date. Thank them for their business, "
            "ask what went wrong and listen without interrupting. Apologise for what we got wrong, "
            "say what has been fixed, and agree one concrete next step (a visit, a replacement, a "
            "dedicated contact). Record what they said in the task."
        ),
        "script_zh": (
            "请在截止日期前亲自致电客户。感谢客户一直以来的支持，询问问题所在并耐心倾听。"
            "对我们的失误诚恳道歉，说明已做出的改进，并约定一个具体的下一步（拜访、更换或专人对接）。"
            "把客户的反馈记录在任务中。"
        ),
        "due_days": 2,
        "control_share": 0.1,
        "window_days": 90,
        "cost": Decimal("40.00"),
    },
    {
        "value_class": "key",
        "reason": "complaint",
        "action": "call",
        "name_en": "Key customer complaint: service recovery call",
        "name_zh": "重要客户投诉：服务补救回访",
        "script_en": (
            "Call today. Apologise for the delay in resolving the complaint, tell the customer "
            "who now owns it and by when it will be solved, and offer a goodwill gesture if the "
            "delay cost them. No control group: a key customer's breached complaint is always "
            "followed up."
        ),
        "script_zh": (
            "今天致电。为投诉处理延误致歉，告知客户现在由谁负责以及何时解决；如延误给客户造成损失，"
            "可提供补偿。无对照组：重要客户超时的投诉必须跟进。"
        ),
        "due_days": 1,
        "control_share": 0.0,
        "window_days": 90,
        "cost": Decimal("40.00"),
    },
    {
        "value_class": "ordinary",
        "action": "offer",
        "name_en": "Ordinary customer: try with an offer",
        "name_zh": "普通客户：以优惠尝试挽回",
        "script_en": (
            "Call or message the customer, ask how we can do better, and offer a thank-you voucher "
            "(loyalty points) for their next purchase."
        ),
        "script_zh": "致电或留言询问客户我们可以如何改进，并赠送下次购物可用的感谢券（积分）。",
        "due_days": 5,
        "control_share": 0.2,
        "window_days": 60,
        "cost": Decimal("10.00"),
        "offer_points": 500,
    },
    {
        "value_class": "small",
        "action": "email",
        "name_en": "Small customer: opportunistic email",
        "name_zh": "小客户：自动邮件",
        "script_en": "We miss you. Here is what is new since your last visit.",
        "script_zh": "好久不见，这是自您上次光临以来的新品和活动。",
        "due_days": 0,
        "control_share": 0.2,
        "window_days": 60,
        "cost": Decimal("0.05"),
    },
    {
        "value_class": "bad",
        "action": "let_go",
        "name_en": "Below zero: let go",
        "name_zh": "负值客户：放弃",
        "script_en": "No action: serving this customer costs more than it earns.",
        "script_zh": "不采取行动：服务该客户的成本高于收益。",
        "due_days": 0,
        "control_share": 0.1,
        "window_days": 60,
        "cost": Decimal("0.00"),
    },
]


def ensure_defaults(session: Session) -> RetentionConfig:
    """Create the settings row, the rules and (on first use) the playbooks; idempotent and safe
    when two processes start at once (insert-or-ignore on their unique keys)."""
    config = session.get(RetentionConfig, 1)
    rules = session.scalar(select(func.count()).select_from(RetentionRule))
    if config is not None and rules >= len(DEFAULT_RULES):
        return config
    insert_ignore(
        session,
        RetentionConfig,
        [{"id": 1, "auto_apply": True, "notify_owner": True, "updated_at": utcnow(), "version": 1}],
        ["id"],
        [RetentionConfig.id],
    )
    insert_ignore(
        session,
        RetentionRule,
        [
            {
                "code": code,
                "enabled": True,
                "threshold": threshold,
                "window_days": window,
                "severity": severity,
                "classes": list(classes),
                "updated_at": utcnow(),
                "version": 1,
            }
            for code, (threshold, window, severity, classes) in DEFAULT_RULES.items()
        ],
        ["code"],
        [RetentionRule.id],
    )
    if session.scalar(select(RetentionPlaybook.id).limit(1)) is None:
        insert_ignore(
            session,
            RetentionPlaybook,
            [
                {
                    "enabled": True,
                    "reason": "*",
                    "offer_points": 0,
                    "updated_at": utcnow(),
                    "version": 1,
                    **pb,
                }
                for pb in DEFAULT_PLAYBOOKS
            ],
            ["value_class", "reason"],
            [RetentionPlaybook.id],
        )
    return session.get_one(RetentionConfig, 1)
