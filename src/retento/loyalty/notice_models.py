"""Notices sent to members about their points (today: "points expiring soon").

One row per (lot, expiry date): the unique key makes the nightly job idempotent, so a member
is told about a lot's expiry once, never twice, however often the job runs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId

# queued: an e-mail is in the outbox; skipped: the customer cannot be e-mailed (no usable
# address or no e-mail consent), recorded so the job does not look at the lot again.
NOTICE_STATUSES = ("queued", "skipped")


class LoyaltyNotice(Base):
    __tablename__ = "loyalty_notices"
    __table_args__ = (
        UniqueConstraint("lot_id", "expires_at"),
        Index("ix_loyalty_notices_customer", "customer_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="expiring")
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    lot_id: Mapped[int] = mapped_column(BigId, ForeignKey("loyalty_lots.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("mail_outbox.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
