"""Touchpoints (客户触点): every interaction, with channel, journey stage, direction and outcome."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column

CHANNELS = ("ads", "phone", "web", "store", "email", "chat", "other")
# SPEC §2: desire → information → product cognition → selection → order and deposit →
# receipt and trial → payment → after-sales service.
STAGES = (
    "desire",
    "information",
    "cognition",
    "selection",
    "order",
    "receipt",
    "payment",
    "after_sales",
)
DIRECTIONS = ("inbound", "outbound")
OUTCOMES = ("positive", "neutral", "negative", "no_response", "purchase", "resolved", "escalated")


class Touchpoint(Base):
    __tablename__ = "touchpoints"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_touchpoints_customer_time", "customer_id", "occurred_at"),
        Index("uq_touchpoints_idempotency_key", "idempotency_key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The key of the create request (form key, Idempotency-Key header): a retry returns this row.
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    channel: Mapped[str] = mapped_column(String(20), index=True)
    stage: Mapped[str] = mapped_column(String(20), index=True)
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    outcome: Mapped[str] = mapped_column(String(20), default="neutral")
    owner_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    customer = relationship("Customer")
    owner = relationship("User", lazy="joined")
