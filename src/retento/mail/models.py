"""The e-mail outbox: one row per message, queued by a domain and sent by the ``mail_outbox`` job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId

# queued → sending (claimed by one job run) → sent | queued again (retry later) | failed;
# cancelled when the link it carries no longer works (answered or expired before sending).
MAIL_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")
# The kinds of e-mail are registered by the domains: see kinds.py.


class OutboxMessage(Base):
    """One e-mail to one recipient; the one-time link inside is filled in only when sending."""

    __tablename__ = "mail_outbox"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_mail_outbox_due", "status", "next_attempt_at"),
        Index("ix_mail_outbox_related", "related_type", "related_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(10), default="en")
    kind: Mapped[str] = mapped_column(String(30), index=True)
    related_type: Mapped[str | None] = mapped_column(String(40))
    related_id: Mapped[int | None] = mapped_column(BigId)  # the id of a row of related_type
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Which job run holds the message while it is being sent (see service.claim_batch).
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
