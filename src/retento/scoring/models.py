"""Scoring runs and per-customer scores (history kept: one row per customer per run)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
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
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, MoneyColumn, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column

MODELS = ("bgnbd", "mbgnbd", "pareto")
VALUE_CLASSES = ("vip", "major", "ordinary", "small", "below_zero")
LABELS = ("mvc", "mgc", "bz", "other")
STAGES = ("potential", "new", "regular", "old", "loyal")


class ScoreRun(Base):
    __tablename__ = "score_runs"
    # At most one run in progress, on every backend: a second start, even one sent at the very
    # same moment, fails on this index (``service.start_run``: 409) instead of computing twice.
    __table_args__ = (
        Index(
            "uq_score_runs_running",
            "status",
            unique=True,
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model: Mapped[str] = mapped_column(String(20), default="bgnbd")
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    triggered_by: Mapped[str] = mapped_column(String(80), default="system")
    customers_scored: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    log_likelihood: Mapped[float | None] = mapped_column(Float)
    # Fit quality, pyramid summary, Pareto curve, cohort matrix and holdout tracking for dashboards.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


CENT = Decimal("0.01")
REASON_CODE_LENGTH = 40


def value_at_risk(clv: Any, churn_risk: Any) -> Decimal | None:
    """CLV × churn risk rounded to cents (half up, in Decimal); None when either is missing."""
    if clv is None or churn_risk is None:
        return None
    risk = Decimal(repr(float(churn_risk)))
    if not risk.is_finite():
        return None
    amount = clv if isinstance(clv, Decimal) else Decimal(repr(float(clv)))
    return (amount * risk).quantize(CENT, rounding=ROUND_HALF_UP)


def top_reason(reasons: Any) -> str | None:
    """The code of the strongest churn reason (the first one), or None."""
    if not reasons or not isinstance(reasons, list | tuple):
        return None
    first = reasons[0]
    code = first.get("code") if isinstance(first, dict) else None
    return str(code)[:REASON_CODE_LENGTH] if code else None


def _default_value_at_risk(context: Any) -> Decimal | None:
    params = context.get_current_parameters()
    return value_at_risk(params.get("clv"), params.get("churn_risk"))


def _default_top_reason(context: Any) -> str | None:
    return top_reason(context.get_current_parameters().get("churn_reasons"))


class CustomerScore(Base):
    __tablename__ = "customer_scores"
    __table_args__ = (
        Index("ix_customer_scores_run_customer", "run_id", "customer_id", unique=True),
        Index("ix_customer_scores_customer", "customer_id", "run_id"),
        Index("ix_customer_scores_run_class", "run_id", "value_class"),
        Index("ix_customer_scores_run_risk", "run_id", "churn_risk"),
        # The at-risk list: sorted by value at risk within a run, optionally for one top reason.
        Index("ix_customer_scores_run_var", "run_id", "value_at_risk"),
        Index("ix_customer_scores_run_reason_var", "run_id", "churn_top_reason", "value_at_risk"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(BigId, ForeignKey("score_runs.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    order_count: Mapped[int] = mapped_column(Integer, default=0)
    first_order_on: Mapped[date | None] = mapped_column(Date)
    last_order_on: Mapped[date | None] = mapped_column(Date)
    revenue: Mapped[Decimal] = mapped_column(MoneyColumn)
    profit: Mapped[Decimal] = mapped_column(MoneyColumn)
    frequency: Mapped[int] = mapped_column(Integer, default=0)
    recency_weeks: Mapped[float] = mapped_column(Float, default=0.0)
    t_weeks: Mapped[float] = mapped_column(Float, default=0.0)
    monetary: Mapped[Decimal] = mapped_column(MoneyColumn)
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases: Mapped[float | None] = mapped_column(Float)
    expected_spend: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    clv: Mapped[Decimal | None] = mapped_column(MoneyColumn)
    rfm_r: Mapped[int | None] = mapped_column(Integer)
    rfm_f: Mapped[int | None] = mapped_column(Integer)
    rfm_m: Mapped[int | None] = mapped_column(Integer)
    rfm_cell: Mapped[str | None] = mapped_column(String(8))
    value_class: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(10))
    loyalty_stage: Mapped[str] = mapped_column(String(20))
    lapsed: Mapped[bool] = mapped_column(default=False)
    # Churn risk from the risk model (analytics.churn.ChurnRiskModel): the probability (0-1) of no
    # purchase within the run's horizon (ScoreRun.params["churn"]["horizon_days"]). None when the
    # run had too little history to train the model (the run report says why).
    churn_risk: Mapped[float | None] = mapped_column(Float)
    # Up to 3 language-neutral reasons, strongest first: [{"code": str, "params": {...}}], rendered
    # in English or Chinese at display time with analytics.churn_reasons.
    churn_reasons: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    # Stored so the at-risk list sorts and filters on an index instead of computing CLV × risk
    # and reading the JSON of every score row of the run. Written by the scoring store step
    # (scoring.service._store); an insert that leaves them out gets them computed from the row's
    # clv, churn_risk and churn_reasons (the defaults below).
    value_at_risk: Mapped[Decimal | None] = mapped_column(
        MoneyColumn, default=_default_value_at_risk
    )
    churn_top_reason: Mapped[str | None] = mapped_column(
        String(REASON_CODE_LENGTH), default=_default_top_reason
    )


class ValueSettings(Base):
    """The one value-settings row (id 1): pyramid cut-offs, loyalty-stage rules, wallet window.

    Cut-offs are cumulative percentages of all customers ranked by profit: VIP are the top
    ``vip_top_pct`` %, major up to ``major_top_pct`` %, ordinary up to ``ordinary_top_pct`` %
    (the rest, when below 100, are small). The next scoring run applies them
    (``scoring.value_settings.rules_for_run``); each run's report keeps the values it used.
    """

    __tablename__ = "value_settings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vip_top_pct: Mapped[float] = mapped_column(Float, default=5.0)
    major_top_pct: Mapped[float] = mapped_column(Float, default=20.0)
    ordinary_top_pct: Mapped[float] = mapped_column(Float, default=100.0)
    small_profit_threshold: Mapped[Decimal] = mapped_column(MoneyColumn, default=Decimal("0.00"))
    new_days: Mapped[int] = mapped_column(Integer, default=90)
    regular_per_year: Mapped[float] = mapped_column(Float, default=2.0)
    loyal_per_year: Mapped[float] = mapped_column(Float, default=4.0)
    long_tenure_days: Mapped[int] = mapped_column(Integer, default=730)
    recent_days: Mapped[int] = mapped_column(Integer, default=180)
    frequency_window_days: Mapped[int] = mapped_column(Integer, default=365)
    lapsed_days: Mapped[int] = mapped_column(Integer, default=365)
    # Share of wallet compares our sales over this many days with the recorded category spend.
    wallet_window_days: Mapped[int] = mapped_column(Integer, default=365)
    # "Profiling needs the customer's consent": when on, customers without consent_profiling
    # are neither scored nor kept in scores (scoring.consent). Off by default.
    profiling_needs_consent: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    updated_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}
