"""SQL aggregation that feeds the models: one row per customer, computed in the database.

The definitions are the BTYD ones used by ``retento.analytics.summarize``: purchases on the same
(UTC) day are one transaction; frequency = repeat purchase days; recency = last − first purchase
day; T = as-of − first purchase day; monetary = mean revenue of the repeat days. A test checks
that this SQL and ``summarize`` agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Date, Select, case, cast, func, select
from sqlalchemy.orm import Session, defer

from retento.customers.models import Customer
from retento.orders.models import Order
from retento.scoring.consent import profiled_condition, profiled_sql
from retento.scoring.models import LABELS, STAGES, VALUE_CLASSES, CustomerScore, ScoreRun


def _day(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", Order.ordered_at), Date)
    return func.date(Order.ordered_at)


def _month(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", Order.ordered_at), "YYYY-MM")
    return func.strftime("%Y-%m", Order.ordered_at)


def _to_date(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="raise").dt.normalize()


def _consenting() -> Select:
    """``SELECT id`` of the customers who agreed to profiling."""
    return select(Customer.id).where(Customer.consent_profiling.is_(True))


def customer_summary(
    session: Session, as_of: datetime, *, consent_only: bool = False
) -> pd.DataFrame:
    """Per-customer RFM/BTYD inputs and money totals, for every customer (buyers or not);
    with ``consent_only`` only the customers who agreed to profiling (``scoring.consent``)."""
    valid = (Order.status != "cancelled") & (Order.ordered_at < as_of)
    day = _day(session).label("day")
    daily = (
        select(Order.customer_id.label("cid"), day, func.sum(Order.revenue).label("v"))
        .where(valid)
        .group_by(Order.customer_id, day)
        .subquery()
    )
    ranked = select(
        daily.c.cid,
        daily.c.day,
        daily.c.v,
        func.row_number().over(partition_by=daily.c.cid, order_by=daily.c.day).label("rn"),
    ).subquery()
    btyd = (
        select(
            ranked.c.cid,
            func.min(ranked.c.day).label("first_day"),
            func.max(ranked.c.day).label("last_day"),
            (func.count() - 1).label("frequency"),
            func.avg(case((ranked.c.rn > 1, ranked.c.v))).label("monetary"),
        )
        .group_by(ranked.c.cid)
        .subquery()
    )
    money = (
        select(
            Order.customer_id.label("cid"),
            func.count().label("order_count"),
            func.sum(Order.revenue).label("revenue"),
            func.sum(Order.profit).label("profit"),
        )
        .where(valid)
        .group_by(Order.customer_id)
        .subquery()
    )
    stmt = (
        select(
            Customer.id.label("customer_id"),
            Customer.created_at,
            btyd.c.first_day,
            btyd.c.last_day,
            btyd.c.frequency,
            btyd.c.monetary,
            money.c.order_count,
            money.c.revenue,
            money.c.profit,
        )
        .outerjoin(btyd, btyd.c.cid == Customer.id)
        .outerjoin(money, money.c.cid == Customer.id)
        # Archived (and erased) customers are not scored: no one works them any more.
        .where(Customer.archived_at.is_(None))
        .order_by(Customer.id)
    )
    if consent_only:
        stmt = stmt.where(Customer.consent_profiling.is_(True))
    rows = session.execute(stmt).all()
    df = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "created_at",
            "first_day",
            "last_day",
            "frequency",
            "monetary",
            "order_count",
            "revenue",
            "profit",
        ],
    )
    as_of_day = pd.Timestamp(as_of.date())
    first = _to_date(df["first_day"])
    last = _to_date(df["last_day"])
    df["first_day"], df["last_day"] = first.dt.date, last.dt.date
    df["frequency"] = df["frequency"].fillna(0).astype(np.int64)
    df["order_count"] = df["order_count"].fillna(0).astype(np.int64)
    df["recency_days"] = (last - first).dt.days.fillna(0).astype(float)
    df["T_days"] = (as_of_day - first).dt.days.astype(float)
    df["days_since_last"] = (as_of_day - last).dt.days.astype(float)
    df["tenure_days"] = df["T_days"]
    for col in ("monetary", "revenue", "profit"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float).fillna(0.0)
    return df


def monthly_activity(
    session: Session, as_of: datetime, *, consent_only: bool = False
) -> pd.DataFrame:
    """Distinct (customer, month) pairs with purchases: the input of cohort retention."""
    month = _month(session).label("month")
    stmt = (
        select(Order.customer_id, month)
        .where(Order.status != "cancelled", Order.ordered_at < as_of)
        .group_by(Order.customer_id, month)
    )
    if consent_only:
        stmt = stmt.where(Order.customer_id.in_(_consenting()))
    df = pd.DataFrame(session.execute(stmt).all(), columns=["customer_id", "month"])
    df["date"] = pd.to_datetime(df["month"] + "-01")
    return df


def daily_transactions(
    session: Session, since: date, until: datetime, *, consent_only: bool = False
) -> pd.DataFrame:
    """Day-merged transactions between two dates (for holdout tracking and the churn model)."""
    day = _day(session).label("day")
    stmt = (
        select(Order.customer_id, day, func.sum(Order.revenue))
        .where(Order.status != "cancelled", Order.ordered_at < until)
        .group_by(Order.customer_id, day)
    )
    if consent_only:
        stmt = stmt.where(Order.customer_id.in_(_consenting()))
    df = pd.DataFrame(session.execute(stmt).all(), columns=["customer_id", "date", "amount"])
    df["date"] = pd.to_datetime(df["date"])
    df["amount"] = pd.to_numeric(df["amount"]).astype(float)
    return df[df["date"] >= pd.Timestamp(since)]


# --- dashboards: segments, the latest run, filtered score frames ------------------------------

# The segments scoring stores per customer and run: ``kind`` → allowed values.
SEGMENTS: dict[str, tuple[str, ...]] = {
    "value_class": VALUE_CLASSES,
    "stage": STAGES,
    "label": LABELS,
}
_SEGMENT_COLUMNS = {
    "value_class": CustomerScore.value_class,
    "stage": CustomerScore.loyalty_stage,
    "label": CustomerScore.label,
}
_SEGMENT_LABEL_KINDS = {
    "value_class": "value_class",
    "stage": "loyalty_stage",
    "label": "value_label",
}


# Segment kinds other domains add to the dashboards' filter (Insights' saved segments):
# kind → (title msgid, options(session, locale) → [(value, label)], members(value) →
# ``SELECT customer_id``). Their values are checked against the options when parsed.
SegmentOptions = Callable[[Session, str], list[tuple[str, str]]]
EXTRA_SEGMENTS: dict[str, tuple[str, SegmentOptions, Callable[[str], Select]]] = {}


def register_segment_kind(
    kind: str, title: str, options: SegmentOptions, members: Callable[[str], Select]
) -> None:
    """Add a segment kind to the dashboards' ``?segment=<kind>:<value>`` filter."""
    EXTRA_SEGMENTS[kind] = (title, options, members)


def segment_condition(kind: str, value: str):
    """The ``WHERE`` condition on ``customer_scores`` rows of segment ``kind:value``."""
    if kind in EXTRA_SEGMENTS:
        return CustomerScore.customer_id.in_(EXTRA_SEGMENTS[kind][2](value))
    return _SEGMENT_COLUMNS[kind] == value


def segment_label_kind(kind: str) -> str:
    """The ``web.labels`` kind that names the values of segment ``kind``."""
    return _SEGMENT_LABEL_KINDS[kind]


def latest_run_id(session: Session) -> int | None:
    """The id of the latest successful run, without loading its report."""
    return session.scalar(
        select(ScoreRun.id)
        .where(ScoreRun.status == "succeeded")
        .order_by(ScoreRun.id.desc())
        .limit(1)
    )


def segment_customers(run_id: int, kind: str, value: str) -> Select:
    """``SELECT customer_id`` of the customers in a segment of run ``run_id`` (without those
    who may not be profiled now: ``scoring.consent``)."""
    return select(CustomerScore.customer_id).where(
        CustomerScore.run_id == run_id,
        segment_condition(kind, value),
        profiled_sql(CustomerScore.customer_id),
    )


def buyers_between(start: datetime, end: datetime) -> Select:
    """``SELECT customer_id`` of customers with a (not cancelled) order in ``[start, end)``."""
    return (
        select(Order.customer_id)
        .where(Order.status != "cancelled", Order.ordered_at >= start, Order.ordered_at < end)
        .distinct()
    )


def run_scores_frame(
    session: Session,
    run_id: int,
    *,
    segment: tuple[str, str] | None = None,
    bought: tuple[datetime, datetime] | None = None,
) -> pd.DataFrame:
    """The scores of one run as a frame (one row per customer), optionally only a segment and
    only customers who bought in a period."""
    cols = (
        CustomerScore.customer_id,
        CustomerScore.profit,
        CustomerScore.clv,
        CustomerScore.p_alive,
        CustomerScore.churn_risk,
        CustomerScore.value_at_risk,
        CustomerScore.value_class,
        CustomerScore.label,
        CustomerScore.loyalty_stage,
        CustomerScore.order_count,
    )
    stmt = select(*cols).where(
        CustomerScore.run_id == run_id, profiled_condition(session, CustomerScore.customer_id)
    )
    if segment is not None:
        stmt = stmt.where(segment_condition(segment[0], segment[1]))
    if bought is not None:
        stmt = stmt.where(CustomerScore.customer_id.in_(buyers_between(*bought)))
    df = pd.DataFrame(session.execute(stmt).all(), columns=[c.key for c in cols])
    for col in ("profit", "clv", "p_alive", "churn_risk", "value_at_risk"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def runs_overview(session: Session, limit: int) -> tuple[list[ScoreRun], int]:
    """The latest ``limit`` runs without their (large) reports, and how many runs exist."""
    runs = session.scalars(
        select(ScoreRun).options(defer(ScoreRun.report)).order_by(ScoreRun.id.desc()).limit(limit)
    ).all()
    total = int(session.scalar(select(func.count()).select_from(ScoreRun)) or 0)
    return list(runs), total


def orders_mark(session: Session) -> int:
    """The highest order id: changes when an order is added (part of a filtered view's key)."""
    return int(session.scalar(select(func.max(Order.id))) or 0)


# --- home dashboards ---------------------------------------------------------------------------


def home_value(
    session: Session, run_id: int, *, customers: Select | None = None, limit: int = 5
) -> dict:
    """Value at risk of run ``run_id`` (CLV × churn risk, stored per score row): the total, the
    customers at 50 % risk or more, and the largest amounts at risk."""
    where = [CustomerScore.run_id == run_id, profiled_condition(session, CustomerScore.customer_id)]
    if customers is not None:
        where.append(CustomerScore.customer_id.in_(customers))
    scored, var, at_risk, risk = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(CustomerScore.value_at_risk), 0),
            func.coalesce(func.sum(case((CustomerScore.churn_risk >= 0.5, 1), else_=0)), 0),
            func.avg(CustomerScore.churn_risk),
        ).where(*where)
    ).one()
    top = session.execute(
        select(
            CustomerScore.customer_id,
            Customer.name,
            CustomerScore.value_at_risk,
            CustomerScore.churn_risk,
            CustomerScore.value_class,
        )
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .where(*where, CustomerScore.value_at_risk.is_not(None))
        .order_by(CustomerScore.value_at_risk.desc(), CustomerScore.customer_id)
        .limit(limit)
    ).all()
    return {
        "customers": int(scored or 0),
        "value_at_risk": Decimal(str(var or 0)).quantize(Decimal("0.01")),
        "at_risk": int(at_risk or 0),
        "mean_risk": float(risk) if risk is not None else None,
        "top": [
            {
                "customer_id": cid,
                "name": name,
                "value_at_risk": v,
                "churn_risk": r,
                "value_class": vc,
            }
            for cid, name, v, r, vc in top
        ],
    }


def home_model_health(session: Session) -> dict:
    """The latest scoring run (any outcome) and the latest successful one: when, how long, how
    many customers, holdout error and churn-model AUC (with its interval and the paired test
    against BG/NBD) where the run stored them."""
    last = session.scalar(
        select(ScoreRun).options(defer(ScoreRun.report)).order_by(ScoreRun.id.desc()).limit(1)
    )
    ok_id = latest_run_id(session)
    ok = session.get(ScoreRun, ok_id) if ok_id is not None else None
    out: dict = {"last": last, "run": ok, "runs": 0}
    out["runs"] = int(session.scalar(select(func.count()).select_from(ScoreRun)) or 0)
    if ok is not None:
        report = ok.report or {}
        holdout = report.get("holdout") or {}
        churn = report.get("churn") or {}
        churn_holdout = churn.get("holdout") or {}
        metrics = churn_holdout.get("metrics") or {}
        mae = holdout.get("mae")
        if mae is None:
            mae = (holdout.get("metrics") or {}).get("mae")
        out |= {
            "seconds": (ok.finished_at - ok.started_at).total_seconds()
            if ok.finished_at and ok.started_at
            else None,
            "holdout_weeks": holdout.get("weeks"),
            "holdout_mae": mae,
            "churn_status": churn.get("status"),
            "churn_auc": metrics.get("roc_auc"),
            "churn_baseline_auc": (churn_holdout.get("baseline") or {}).get("roc_auc"),
            # The 95 % interval and DeLong's paired test against BG/NBD alone, as the value
            # dashboard shows them; None for a run stored before they were computed.
            "churn_auc_ci95": metrics.get("roc_auc_ci95"),
            "churn_comparison": churn_holdout.get("comparison"),
            "log_likelihood": ok.log_likelihood,
        }
    return out
