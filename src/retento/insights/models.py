"""Insights tables: analysis runs (their result kept for the pages and the cross-sell panels),
saved customer segmentations and their members (usable as filters elsewhere)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column

RUN_KINDS = ("segments", "basket", "sequences")
RUN_STATUSES = ("running", "succeeded", "failed")


class InsightRun(Base):
    """One run of an analysis on the database: its parameters, progress outcome and result.

    ``result`` holds what the page shows (profiles and members of a segmentation, the top rules
    of a basket run, the patterns and the next-product evaluation of a sequence run)."""

    __tablename__ = "insight_runs"
    __table_args__ = (Index("ix_insight_runs_kind_status", "kind", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="running")
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InsightSegment(Base):
    """A saved segmentation: ``k`` named clusters of customers, fitted by ``method`` on
    ``features``; ``profile`` is the list of cluster profiles (name in English and Chinese, size,
    shares, means, medians, levels) plus the k-choice scores."""

    __tablename__ = "insight_segments"
    # Ids are never reused (SQLite would hand a deleted segment's id to the next one saved):
    # playbooks, distributions and links refer to a segment by its id (migration 0053).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    method: Mapped[str] = mapped_column(String(20))
    k: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSON)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("insight_runs.id", ondelete="SET NULL")
    )
    customers: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}


class InsightSegmentMember(Base):
    """Customer ``customer_id`` is in cluster ``cluster`` of saved segmentation ``segment_id``."""

    __tablename__ = "insight_segment_members"
    __table_args__ = (
        UniqueConstraint("segment_id", "customer_id"),
        Index("ix_insight_segment_members_cluster", "segment_id", "cluster", "customer_id"),
        Index("ix_insight_segment_members_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    segment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("insight_segments.id", ondelete="CASCADE")
    )
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    cluster: Mapped[int] = mapped_column(Integer)
