"""Retention tables (客户流失与预警): warning rules, alerts, playbooks, win-back cases, tasks.

An alert is unique per (customer, rule, cause key): the evaluation job and the event hooks insert
with "insert or ignore", so one cause never raises two alerts, however often or concurrently it is
seen. Applying a playbook to an alert opens one case (``retention_cases``), assigned to treatment
or to the held-out control group; only treated cases get the action (task, offer, e-mail).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, MoneyColumn, UTCDateTime, utcnow
from retento.core.money import ZERO
from retento.core.types import BigId
from retento.core.versioning import version_column

# Retention classes (SPEC §6): key customers (scoring's vip + major) → strive to win back;
# ordinary → try; small → opportunistic, automated; bad (below zero) → let go.
CLASSES = ("key", "ordinary", "small", "bad")
RULE_CODES = (
    "churn_risk",
    "rhythm",
    "complaint",
    "survey",
    "tier_downgrade",
    "points_expiring",
)
SEVERITIES = ("low", "medium", "high")
ALERT_STATUSES = ("open", "acknowledged", "closed")
ACTIONS = ("task", "call", "offer", "email", "let_go")
ARMS = ("treated", "control")
OUTCOMES = ("pending", "came_back", "lost")
TASK_KINDS = ("task", "call", "offer")
TASK_STATUSES = ("open", "done", "cancelled")
TASK_RESULTS = ("reached", "offer_accepted", "not_reached", "declined")
ANY_REASON = "*"


class RetentionConfig(Base):
    """The one settings row (id 1): default owner, control share, came-back window."""

    __tablename__ = "retention_config"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    default_owner_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    auto_apply: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_owner: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class RetentionRule(Base):
    """One warning rule; ``threshold`` means what the rule's code says (see rules.RULES)."""

    __tablename__ = "retention_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    threshold: Mapped[float] = mapped_column(Float)
    window_days: Mapped[int] = mapped_column(Integer, default=30)
    severity: Mapped[str] = mapped_column(String(10), default="medium")
    # Retention classes the rule watches (empty list: all).
    classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class RetentionAlert(Base):
    __tablename__ = "retention_alerts"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        UniqueConstraint("customer_id", "rule", "cause_key", name="uq_retention_alerts_cause"),
        Index("ix_retention_alerts_status_created", "status", "created_at"),
        Index("ix_retention_alerts_owner_status", "owner_id", "status"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(30))
    cause_key: Mapped[str] = mapped_column(String(120))
    severity: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str] = mapped_column(String(40))
    reason_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value_class: Mapped[str] = mapped_column(String(20))
    risk: Mapped[float | None] = mapped_column(Float)
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    close_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class RetentionPlaybook(Base):
    """(retention class × reason) → action, with its control share and came-back window."""

    __tablename__ = "retention_playbooks"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        UniqueConstraint("value_class", "reason", name="uq_retention_playbooks_class_reason"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    value_class: Mapped[str] = mapped_column(String(20))
    # A rule code, or "*" for every reason without a playbook of its own.
    reason: Mapped[str] = mapped_column(String(30), default=ANY_REASON)
    action: Mapped[str] = mapped_column(String(20))
    name_en: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    script_en: Mapped[str] = mapped_column(Text, default="")
    script_zh: Mapped[str] = mapped_column(Text, default="")
    due_days: Mapped[int] = mapped_column(Integer, default=3)
    control_share: Mapped[float] = mapped_column(Float, default=0.1)
    window_days: Mapped[int] = mapped_column(Integer, default=60)
    cost: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    offer_points: Mapped[int] = mapped_column(Integer, default=0)
    # A voucher from the loyalty rewards catalogue, issued free of points to treated members.
    offer_reward_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("loyalty_rewards.id", ondelete="SET NULL")
    )
    # Optional filter: only customers in cluster ``segment_cluster`` of the saved segmentation
    # ``segment_id`` (Insights). No foreign key on purpose: if the segmentation is deleted the
    # filter matches nobody (fails closed) instead of silently widening to every customer.
    segment_id: Mapped[int | None] = mapped_column(BigId)
    segment_cluster: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class RetentionCase(Base):
    """One alert worked by one playbook: treated or control, its action, outcome and cost."""

    __tablename__ = "retention_cases"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_retention_cases_playbook_class", "playbook_id", "value_class"),
        Index("ix_retention_cases_customer_outcome", "customer_id", "outcome"),
        Index("ix_retention_cases_outcome_window", "outcome", "window_ends_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("retention_alerts.id", ondelete="CASCADE"), unique=True
    )
    playbook_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("retention_playbooks.id", ondelete="RESTRICT")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    value_class: Mapped[str] = mapped_column(String(20))
    # Position in the (playbook, class) stratum: decides treated/control by a permuted block.
    seq: Mapped[int] = mapped_column(Integer)
    arm: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(20))
    risk: Mapped[float | None] = mapped_column(Float)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reached: Mapped[bool | None] = mapped_column(Boolean)
    offer_accepted: Mapped[bool | None] = mapped_column(Boolean)
    email_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(20), default="pending")
    came_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revenue: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    cost: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    note: Mapped[str | None] = mapped_column(Text)
    # The treated case's action (e-mail, offer, task), carried out by a worker: queued →
    # running → done | failed (migration 0031). Control and let-go cases are 'done' at once.
    action_status: Mapped[str] = mapped_column(String(20), default="done", server_default="done")
    action_error: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class RetentionSeq(Base):
    """The next case number of one stratum (playbook × retention class), for the permuted blocks
    of ``playbook_apply.arm_for``.

    Numbers are reserved one at a time by ``playbook_apply.reserve_seq`` (an upsert that adds one), on
    PostgreSQL in a short transaction of its own: an evaluation opening hundreds of cases under
    a playbook then holds no lock that a manager applying the same playbook waits for. No
    foreign key: the reservation commits on its own and must not wait for, or fail on, the
    playbook's own uncommitted transaction; ``delete_playbook`` deletes the row with the
    playbook. A transaction that rolls back after reserving leaves a gap in its stratum (the
    arms stay random; that block is only less exactly balanced)."""

    __tablename__ = "retention_seqs"
    # Deleted with the cases it numbers when the demo's business data is reset.
    __table_args__ = {"info": {"business_data": True}}

    playbook_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    value_class: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_seq: Mapped[int] = mapped_column(Integer)


class RetentionOpenCase(Base):
    """The customer's one open (pending) win-back case: the primary key makes a second
    concurrent case for the same customer fail to claim, so a customer with several alerts
    (causes) gets one case, one task and one treated/control arm at a time. The row is
    released when the case settles (came back or lost) and deleted with the case."""

    __tablename__ = "retention_open_cases"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    case_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("retention_cases.id", ondelete="CASCADE"), unique=True
    )
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RetentionTask(Base):
    """A win-back task for the customer's owner: due date, suggested script, result."""

    __tablename__ = "retention_tasks"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_retention_tasks_owner_status_due", "owner_id", "status", "due_on"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("retention_cases.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), default="task")
    title: Mapped[str] = mapped_column(String(200))
    script: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    result: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}
