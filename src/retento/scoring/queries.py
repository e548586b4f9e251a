"""SQL aggregation that feeds the models: one row per customer, computed in the database.

The definitions are the BTYD ones used by ``retento.analytics.summarize``: purchases on the same
(UTC) day are one transaction; frequency = repeat purchase days; recency = last − first purchase
day; T = as-of − first purchase day; monetary = mean revenue of the repeat days. A test checks
that this SQL and ``summarize`` agree.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Date, case, cast, func, select
from sqlalchemy.orm import Session

from retento.customers.models import Customer
from retento.orders.models import Order


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


def customer_summary(session: Session, as_of: datetime) -> pd.DataFrame:
    """Per-customer RFM/BTYD inputs and money totals, for every customer (buyers or not)."""
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


def monthly_activity(session: Session, as_of: datetime) -> pd.DataFrame:
    """Distinct (customer, month) pairs with purchases: the input of cohort retention."""
    month = _month(session).label("month")
    stmt = (
        select(Order.customer_id, month)
        .where(Order.status != "cancelled", Order.ordered_at < as_of)
        .group_by(Order.customer_id, month)
    )
    df = pd.DataFrame(session.execute(stmt).all(), columns=["customer_id", "month"])
    df["date"] = pd.to_datetime(df["month"] + "-01")
    return df


def daily_transactions(session: Session, since: date, until: datetime) -> pd.DataFrame:
    """Day-merged transactions between two dates (for holdout tracking)."""
    day = _day(session).label("day")
    stmt = (
        select(Order.customer_id, day, func.sum(Order.revenue))
        .where(Order.status != "cancelled", Order.ordered_at < until)
        .group_by(Order.customer_id, day)
    )
    df = pd.DataFrame(session.execute(stmt).all(), columns=["customer_id", "date", "amount"])
    df["date"] = pd.to_datetime(df["date"])
    df["amount"] = pd.to_numeric(df["amount"]).astype(float)
    return df[df["date"] >= pd.Timestamp(since)]
