"""Experience records (客户体验): how a customer experienced one moment of the journey."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column

# SPEC §7, Schmitt's strategic experiential modules: sense (感官), feel (情感), think (思考),
# act (行为), relate (关联).
MODES = ("sense", "feel", "think", "act", "relate")
# A record's rating: 1 (very poor experience) … 5 (excellent). Survey answers of other scales
# are mapped linearly onto 1–5 for the dashboard (see ``dashboard.py``).
RATING_MIN, RATING_MAX = 1, 5


class ExperienceRecord(Base):
    __tablename__ = "experience_records"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_experience_records_customer_time", "customer_id", "occurred_at"),
        Index("ix_experience_records_mode_stage", "mode", "stage"),
        CheckConstraint("rating >= 1 AND rating <= 5", name="rating_range"),
        CheckConstraint("mode IN ('sense', 'feel', 'think', 'act', 'relate')", name="mode_known"),
        Index("uq_experience_records_idempotency_key", "idempotency_key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The key of the create request (form key, Idempotency-Key header): a retry returns this row.
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    touchpoint_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("touchpoints.id", ondelete="SET NULL"), index=True
    )
    survey_response_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("survey_responses.id", ondelete="SET NULL"), index=True
    )
    survey_answer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("survey_answers.id", ondelete="SET NULL"), index=True
    )
    mode: Mapped[str] = mapped_column(String(10))
    # The journey stage (touchpoints.STAGES) the experience belongs to: the touchpoint's stage
    # unless another is chosen.
    stage: Mapped[str] = mapped_column(String(20))
    rating: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    customer = relationship("Customer")
    touchpoint = relationship("Touchpoint")
    created_by = relationship("User", lazy="joined")
