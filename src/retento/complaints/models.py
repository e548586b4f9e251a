"""Complaints (投诉) and grumbles (抱怨): intake, timeline, remedies, SLA policies, PDCA log."""

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
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retento.core.db import Base, MoneyColumn, UTCDateTime, utcnow
from retento.core.money import ZERO
from retento.core.types import BigId
from retento.core.versioning import version_column

KINDS = ("complaint", "grumble")
CHANNELS = ("phone", "email", "web_form", "store", "chat", "social", "api")
# 1 inconvenience … 4 serious loss.
SEVERITIES = {1: "inconvenience", 2: "moderate", 3: "major", 4: "serious_loss"}
EMOTIONS = ("calm", "cold", "intense")
PURPOSES = ("heard", "respected", "resolved", "compensated")
REMEDY_KINDS = ("apology", "explanation", "compensation", "thanks")
COMPENSATION_TYPES = ("voucher", "refund", "gift", "loyalty_points")
EVENT_KINDS = (
    "created",
    "edited",
    "transition",
    "note",
    "message",
    "customer_reply",
    "assignment",
    "remedy",
    "severity",
    "escalation",
    "feedback",
    "attachment",
)
SLA_FLAGS = ("ok", "near_breach", "breached")
OPEN_STATUSES = ("accepted", "in_progress", "awaiting_customer")
# Partial-index predicate: only open complaints sit in a queue (≈15 % of a mature table).
_OPEN_SQL = text("status IN ('accepted', 'in_progress', 'awaiting_customer')")
PDCA_STAGES = ("plan", "do", "check", "act", "done")
DEFAULT_CATEGORIES = (
    ("product_quality", "Product quality", "产品质量"),
    ("delivery", "Delivery", "配送"),
    ("price_billing", "Price and billing", "价格与账单"),
    ("staff_attitude", "Staff attitude", "服务态度"),
    ("service", "Service", "服务"),
    ("other", "Other", "其他"),
)


class ComplaintCategory(Base):
    """A node of the configurable category tree."""

    __tablename__ = "complaint_categories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_zh: Mapped[str | None] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("complaint_categories.id", ondelete="RESTRICT")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class BusinessCalendarRow(Base):
    """Working hours per weekday, holidays and a time zone (see ``sla.BusinessCalendar``)."""

    __tablename__ = "business_calendars"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class SlaPolicy(Base):
    """First-response and resolution targets for complaints matching severity × value class."""

    __tablename__ = "sla_policies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    severity: Mapped[int | None] = mapped_column(Integer)
    value_class: Mapped[str | None] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    warn_fraction: Mapped[float] = mapped_column(Float, default=0.8)
    calendar_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("business_calendars.id", ondelete="RESTRICT")
    )
    auto_reassign_to_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    calendar: Mapped[BusinessCalendarRow] = relationship(lazy="joined")


class Complaint(Base):
    __tablename__ = "complaints"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_complaints_assignee_status_due", "assignee_id", "status", "resolution_due_at"),
        Index("ix_complaints_team_status_due", "team_manager_id", "status", "resolution_due_at"),
        Index("ix_complaints_status_due", "status", "resolution_due_at"),
        Index("ix_complaints_customer_received", "customer_id", "received_at"),
        Index("ix_complaints_warn", "status", "resolution_warn_at"),
        Index("ix_complaints_fr_warn", "first_responded_at", "first_response_warn_at"),
        # Queue tabs walk these in due order and stop after one page.
        Index(
            "ix_complaints_open_assignee_due",
            "assignee_id",
            "resolution_due_at",
            "id",
            postgresql_where=_OPEN_SQL,
            sqlite_where=_OPEN_SQL,
        ),
        Index(
            "ix_complaints_open_team_due",
            "team_manager_id",
            "resolution_due_at",
            "id",
            postgresql_where=_OPEN_SQL,
            sqlite_where=_OPEN_SQL,
        ),
        Index(
            "ix_complaints_open_due",
            "resolution_due_at",
            "id",
            postgresql_where=_OPEN_SQL,
            sqlite_where=_OPEN_SQL,
        ),
        Index("uq_complaints_idempotency_key", "idempotency_key", unique=True),
        Index(
            "ix_complaints_next_warn",
            "next_warn_at",
            postgresql_where=_OPEN_SQL,
            sqlite_where=_OPEN_SQL,
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    tracking_code: Mapped[str] = mapped_column(String(20), unique=True)
    # A form's key drawn with the page or the API's Idempotency-Key (migration 0039).
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    # RESTRICT: complaints (remedies, compensation) outlive the customer record (archived instead).
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20), default="complaint")
    channel: Mapped[str] = mapped_column(String(20), index=True)
    category_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("complaint_categories.id", ondelete="RESTRICT"), index=True
    )
    root_cause: Mapped[str | None] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="SET NULL")
    )
    product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="SET NULL")
    )
    severity: Mapped[int] = mapped_column(Integer, default=1)
    emotion: Mapped[str] = mapped_column(String(10), default="calm")
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="accepted")
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    # A team is a manager and the users reporting to them (User.manager_id).
    team_manager_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    value_class: Mapped[str] = mapped_column(String(20), default="ordinary")
    sla_policy_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Earliest warning time of a running clock while open (kept by ``_set_next_warn``), so
    # "breaching soon" is one indexed range instead of an OR over two clocks.
    next_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The resolution clock restarts on reopen; pauses are kept per clock start.
    clock_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    # The two above follow the current clocks (a reopen or a longer target clears them); these
    # keep that a deadline was ever missed, for the reports' breach counts (migration 0058).
    first_response_ever_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution_ever_breached: Mapped[bool] = mapped_column(Boolean, default=False)
    # Escalation level reached per clock (ok → near_breach → breached), set by the job.
    first_response_flag: Mapped[str] = mapped_column(String(20), default="ok")
    sla_flag: Mapped[str] = mapped_column(String(20), default="ok")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    feedback: Mapped[str | None] = mapped_column(Text)
    followup_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    csat: Mapped[int | None] = mapped_column(Integer)
    would_buy_again: Mapped[bool | None] = mapped_column(Boolean)
    survey_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    won_back: Mapped[bool | None] = mapped_column(Boolean)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    customer = relationship("Customer")
    category: Mapped[ComplaintCategory] = relationship(lazy="joined")
    assignee = relationship("User", foreign_keys=[assignee_id])
    sla_policy: Mapped[SlaPolicy | None] = relationship()
    pauses: Mapped[list[SlaPause]] = relationship(
        back_populates="complaint", cascade="all, delete-orphan", order_by="SlaPause.started_at"
    )
    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint",
        cascade="all, delete-orphan",
        order_by="(ComplaintEvent.at, ComplaintEvent.id)",
    )
    remedies: Mapped[list[Remedy]] = relationship(
        back_populates="complaint", cascade="all, delete-orphan", order_by="Remedy.id"
    )
    attachments: Mapped[list[ComplaintAttachment]] = relationship(
        back_populates="complaint", cascade="all, delete-orphan", order_by="ComplaintAttachment.id"
    )

    @property
    def severity_name(self) -> str:
        return SEVERITIES.get(self.severity, str(self.severity))


def next_warning(c: Complaint) -> datetime | None:
    """The earliest warning time among the complaint's running clocks (``None`` when closed)."""
    if c.status not in OPEN_STATUSES:
        return None
    times = [c.resolution_warn_at]
    if c.first_responded_at is None:
        times.append(c.first_response_warn_at)
    present = [t for t in times if t is not None]
    return min(present) if present else None


@event.listens_for(Complaint, "before_insert")
@event.listens_for(Complaint, "before_update")
def _set_next_warn(_mapper: Any, _conn: Any, c: Complaint) -> None:
    c.next_warn_at = next_warning(c)


class SlaPause(Base):
    """The resolution clock stood still (awaiting the customer) from ``started_at`` to ``ended_at``."""

    __tablename__ = "complaint_sla_pauses"
    __table_args__ = (
        # At most one open pause per complaint, whatever the interleaving of requests.
        Index(
            "ux_complaint_sla_pauses_one_open",
            "complaint_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    complaint: Mapped[Complaint] = relationship(back_populates="pauses")


class ComplaintEvent(Base):
    """One line of the complaint's timeline (also shown on the customer's 360 timeline)."""

    __tablename__ = "complaint_events"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_complaint_events_complaint_at", "complaint_id", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("complaints.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    # Internal notes are never shown to the customer; messages and replies are.
    internal: Mapped[bool] = mapped_column(Boolean, default=True)
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200), default="system")
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    complaint: Mapped[Complaint] = relationship(back_populates="events")


class Remedy(Base):
    """What was done to recover the customer: apology, explanation, compensation or thanks."""

    __tablename__ = "complaint_remedies"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index(
            "uq_complaint_remedies_idempotency_key",
            "complaint_id",
            "idempotency_key",
            unique=True,
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    compensation_type: Mapped[str | None] = mapped_column(String(20))
    # Value to the customer and cost to the business (a voucher's face value vs its margin cost).
    amount: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    cost: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    points: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    # The form's (or the API's Idempotency-Key) key: a repeated request returns this remedy.
    idempotency_key: Mapped[str | None] = mapped_column(String(120))

    complaint: Mapped[Complaint] = relationship(back_populates="remedies")


class ComplaintAttachment(Base):
    """A file stored under ``data_dir/complaints/``; only metadata lives in the database."""

    __tablename__ = "complaint_attachments"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )

    complaint: Mapped[Complaint] = relationship(back_populates="attachments")


class ComplaintNotification(Base):
    """An escalation notice for a user; ``dedupe_key`` makes the escalation job idempotent."""

    __tablename__ = "complaint_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    complaint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(String(20))
    clock: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(500))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateHit(Base):
    """One rate-limited request (public form) by a client key; shared by all workers."""

    __tablename__ = "complaint_rate_hits"
    __table_args__ = (Index("ix_complaint_rate_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ImprovementAction(Base):
    """PDCA log: an improvement linked to a root cause, with owner, plan and check result."""

    __tablename__ = "complaint_improvements"
    __table_args__ = (UniqueConstraint("title", "root_cause", name="uq_improvement_title_cause"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    root_cause: Mapped[str] = mapped_column(String(100), index=True)
    category_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("complaint_categories.id", ondelete="SET NULL")
    )
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    stage: Mapped[str] = mapped_column(String(10), default="plan")
    plan: Mapped[str] = mapped_column(Text)
    do_note: Mapped[str | None] = mapped_column(Text)
    check_result: Mapped[str | None] = mapped_column(Text)
    act_note: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
