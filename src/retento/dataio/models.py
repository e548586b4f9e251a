"""Import jobs of the browser wizard: the uploaded file, its mapping, progress phase and outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId

# uploaded → (mapped) validating → validated → running → done | failed. A failure while
# validating (a file that cannot be read to the end) is "failed" with ``phase`` "validating".
JOB_STATUSES = ("uploaded", "validating", "validated", "running", "done", "failed")


class ImportJob(Base):
    """One file going through the import wizard (kept so the rejects can be downloaded later)."""

    __tablename__ = "import_jobs"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    encoding: Mapped[str | None] = mapped_column(String(30))
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="uploaded", index=True)
    phase: Mapped[str | None] = mapped_column(String(20))
    skip_invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(Text)
    rejects: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
