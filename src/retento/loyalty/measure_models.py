"""Stored loyalty measurements: one row per customer (the latest successful run, replaced as a
whole by each run) and the history of runs (status, counts, weights, frequency reference)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId

RUN_STATUSES = ("running", "succeeded", "failed")


class LoyaltyMeasurementRun(Base):
    """One computation of every customer's loyalty measurement."""

    __tablename__ = "loyalty_measurement_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    # True while the run is in progress, NULL afterwards: the unique constraint lets at most one
    # run be in progress on every backend (NULLs never collide).
    running: Mapped[bool | None] = mapped_column(Boolean, unique=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    triggered_by: Mapped[str] = mapped_column(String(80), default="system")
    customers: Mapped[int] = mapped_column(BigInteger, default=0)
    trap: Mapped[int] = mapped_column(BigInteger, default=0)
    # LoyaltyMeasure hyper-parameters (weights, thresholds), so stored dimension scores can be
    # re-weighted with the same thresholds and reasons written with the same factors.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The fitted frequency reference: [[segment, purchases a year], ...] and the overall median.
    reference: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Type counts and timings of the run.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class LoyaltyMeasurement(Base):
    """A customer's loyalty dimensions, index, type, trap flag and the inputs behind them, as of
    the run that wrote it. The reasons in words are not stored: they are written from these
    columns for the rows shown (``LoyaltyMeasure.describe``), which keeps the rows narrow and
    the reasons in step with re-weighted decisions."""

    __tablename__ = "loyalty_measurements"
    __table_args__ = (
        Index("ix_loyalty_measurements_type_index", "loyalty_type", "loyalty_index", "customer_id"),
        Index(
            "ix_loyalty_measurements_trap_index",
            "satisfaction_trap",
            "loyalty_index",
            "customer_id",
        ),
        Index("ix_loyalty_measurements_index", "loyalty_index", "customer_id"),
    )

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    run_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("loyalty_measurement_runs.id", ondelete="CASCADE"), index=True
    )
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    segment: Mapped[str | None] = mapped_column(String(40))
    loyalty_type: Mapped[str] = mapped_column(String(12))
    rule: Mapped[str] = mapped_column(String(4))
    loyalty_index: Mapped[float | None] = mapped_column(Float)
    behavioural: Mapped[float | None] = mapped_column(Float)
    intentional: Mapped[float | None] = mapped_column(Float)
    emotional: Mapped[float | None] = mapped_column(Float)
    attitude: Mapped[float | None] = mapped_column(Float)
    satisfaction_trap: Mapped[bool] = mapped_column(Boolean, default=False)
    trap_signal: Mapped[str] = mapped_column(String(8), default="")
    price_sensitivity: Mapped[float | None] = mapped_column(Float)
    switching_cost: Mapped[float | None] = mapped_column(Float)
    no_alternative: Mapped[bool] = mapped_column(Boolean, default=False)
    affiliated: Mapped[bool] = mapped_column(Boolean, default=False)
    orders_per_year: Mapped[float | None] = mapped_column(Float)
    frequency_ratio: Mapped[float | None] = mapped_column(Float)
    # The inputs (features) the reasons quote.
    n_orders: Mapped[int] = mapped_column(Integer, default=0)
    orders_recent: Mapped[int] = mapped_column(Integer, default=0)
    days_since_first_order: Mapped[float | None] = mapped_column(Float)
    days_since_last_order: Mapped[float | None] = mapped_column(Float)
    median_gap_days: Mapped[float | None] = mapped_column(Float)
    discount_share: Mapped[float | None] = mapped_column(Float)
    points_redeemed_share: Mapped[float | None] = mapped_column(Float)
    tier_rank: Mapped[float | None] = mapped_column(Float)
    tier_name: Mapped[str | None] = mapped_column(String(100))
    tier_name_zh: Mapped[str | None] = mapped_column(String(100))  # the Chinese reasons quote it
    tenure_days: Mapped[float | None] = mapped_column(Float)
    satisfaction: Mapped[float | None] = mapped_column(Float)
    repurchase_intent: Mapped[float | None] = mapped_column(Float)
    recommend: Mapped[float | None] = mapped_column(Float)
    complaints: Mapped[int] = mapped_column(Integer, default=0)
    complaints_open: Mapped[int] = mapped_column(Integer, default=0)
    complaints_breached: Mapped[int] = mapped_column(Integer, default=0)
    followup_csat: Mapped[float | None] = mapped_column(Float)
