"""Relationship metrics (SPEC §1): retention and repeat-purchase rates by month or quarter, share
of wallet and customer delivered value, computed by SQL aggregation in the database.

- **Retention rate** of period t: of the customers who bought in period t−1, the share who
  bought again in t.
- **Repeat-purchase rate** of period t: of the customers who bought in t, the share who have
  bought on at least two different days by the end of t (before t, or twice within it).
- **Share of wallet** (SoW, 顾客份额): our sales to a customer over the wallet window divided by
  the customer's total spend on what we sell, as the business recorded it in the customer's
  custom fields: ``wallet_spend`` (all our categories together) and ``wallet_spend.<category>``
  (one product category). Import them with columns ``custom.wallet_spend`` and
  ``custom.wallet_spend.<category>`` (docs/value-settings.md).
- **Customer delivered value** (CDV, 客户让渡价值) = total customer value (product, service,
  personnel, image) − total customer cost (money, time, energy, physical), from survey rating
  questions tagged with a delivered-value dimension: per customer the latest answer per
  dimension, 0–100; per segment the mean of the customers' scores; the weakest dimension named
  (``surveys.metrics.delivered_value``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    distinct,
    func,
    literal,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.orm import Session, aliased

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import UTCDateTime
from retento.core.errors import InvalidInput, NotFound, choice_error, range_error
from retento.core.money import number_text
from retento.customers.models import Customer
from retento.orders.models import Order, OrderLine
from retento.products.models import Product
from retento.scoring import queries
from retento.scoring.models import VALUE_CLASSES, CustomerScore, ValueSettings
from retento.surveys import metrics as survey_metrics
from retento.surveys.models import (
    COST_DIMENSIONS,
    DELIVERED_VALUE_DIMENSIONS,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from retento.web.i18n import N_

GRAINS = ("month", "quarter")
# The rates' buttons on the Value page ("By month", "By quarter"), naming a bad ``grain``.
GRAIN_LABEL = N_("Period length")
GRAIN_LABELS = {"month": N_("By month"), "quarter": N_("By quarter")}
DEFAULT_PERIODS = {"month": 24, "quarter": 8}
MAX_PERIODS = 60  # periods + 1 bits of a BIGINT activity mask
WALLET_FIELD = "wallet_spend"
WALLET_PREFIX = WALLET_FIELD + "."
#: Share-of-wallet histogram bins (the last one collects recorded spends below our own sales).
SOW_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


# --- periods --------------------------------------------------------------------------------


def _index_of(day: datetime, grain: str) -> int:
    """The period index of an instant: months or quarters since year 0."""
    if grain == "month":
        return day.year * 12 + day.month - 1
    return day.year * 4 + (day.month - 1) // 3


def _start_of(index: int, grain: str) -> datetime:
    """The first instant (UTC) of period ``index``."""
    if grain == "month":
        return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
    return datetime(index // 4, (index % 4) * 3 + 1, 1, tzinfo=UTC)


def period_label(index: int, grain: str) -> str:
    """``2026-03`` or ``2026-Q1``."""
    if grain == "month":
        return f"{index // 12}-{index % 12 + 1:02d}"
    return f"{index // 4}-Q{index % 4 + 1}"


def _period_expr(session: Session, grain: str):
    """SQL for an order's period index (UTC), the same arithmetic as ``_index_of``."""
    if session.get_bind().dialect.name == "postgresql":
        local = func.timezone("UTC", Order.ordered_at)
        year = cast(func.extract("year", local), Integer)
        month = cast(func.extract("month", local), Integer)
    else:
        year = cast(func.strftime("%Y", Order.ordered_at), Integer)
        month = cast(func.strftime("%m", Order.ordered_at), Integer)
    if grain == "month":
        return year * 12 + month - 1
    return year * 4 + (month - 1) // 3


def _date_of(session: Session, instant):
    """The UTC calendar day of a timestamp expression."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", instant), Date)
    return func.date(instant)


def _segment_ids(session: Session, segment: tuple[str, str] | None):
    """Customers of a segment in the latest run (a subquery), or None for everyone."""
    if segment is None:
        return None
    # Every registered segment kind (value class, stage, a saved Insights segment, ...).
    return queries.segment_customers(queries.latest_run_id(session) or 0, *segment)


@dataclass
class RatePoint:
    period: str
    buyers: int
    repeat_buyers: int
    repeat_rate: float | None
    base: int
    retained: int
    retention_rate: float | None
    partial: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _slope(values: list[float | None]) -> float | None:
    """Least-squares slope per period of the known values (None with fewer than 3)."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 3:
        return None
    n = len(pts)
    mx = sum(i for i, _ in pts) / n
    my = sum(v for _, v in pts) / n
    sxx = sum((i - mx) ** 2 for i, _ in pts)
    return sum((i - mx) * (v - my) for i, v in pts) / sxx if sxx else None


def _next_midnight(session: Session, instant):
    """The first instant of the UTC day after ``instant``."""
    if session.get_bind().dialect.name == "postgresql":
        day = func.date_trunc("day", func.timezone("UTC", instant))
        return func.timezone("UTC", day + literal_column("interval '1 day'"))
    return func.datetime(instant, "start of day", "+1 day")


@contextmanager
def _jit_off(session: Session) -> Iterator[None]:
    """PostgreSQL's JIT compiles this statement's expressions for seconds (it looks expensive
    to the planner) while running it takes about as long without; off for it, then restored."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.scalar(text("SELECT current_setting('jit')"))
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    try:
        yield
    finally:
        session.execute(text("SELECT set_config('jit', :v, true)"), {"v": before})


def _offset_expr(
    session: Session, grain: str, first: int, last: int, period_start: dict[int, datetime]
):
    """An order's period as an offset from the period before the first (0 … last − first + 1).

    PostgreSQL: ``width_bucket`` over the periods' first instants (a binary search per row,
    several times cheaper than extracting the year and month in UTC); SQLite: the arithmetic of
    ``_period_expr``."""
    if session.get_bind().dialect.name == "postgresql":
        bounds = pg_array(
            [literal(period_start[p], UTCDateTime) for p in range(first - 1, last + 1)]
        )
        return func.width_bucket(Order.ordered_at, bounds) - 1
    return _period_expr(session, grain) - (first - 1)


def _bit_or(session: Session, bits):
    """OR of powers of two over a group: ``bit_or`` on PostgreSQL (hash-aggregable; a DISTINCT
    aggregate would force a sort or an index scan of the orders by customer); SQLite has no
    ``bit_or``, and the sum of the distinct powers of two is the same number."""
    if session.get_bind().dialect.name == "postgresql":
        return func.bit_or(bits)
    return cast(func.sum(distinct(bits)), BigInteger)


def _period_counts(
    session: Session,
    grain: str,
    first: int,
    last: int,
    lo: datetime,
    end: datetime,
    segment: tuple[str, str] | None,
    period_start: dict[int, datetime],
) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
    """Per period: (buyers, repeat buyers) and (buyers the period before, of them bought again).

    Each customer's activity in the window becomes a bit mask (bit k = bought in period
    ``first − 1 + k``; ``bit_or``) plus a flag: 1 = had
    ordered before the window, 2 = bought on two different days in their first period (an
    index probe on ``(customer_id, ordered_at)``, only for customers without the first). The
    database returns one row per distinct (mask, flag) with its customer count; the per-period
    counts are bit tests on those few rows. One hash aggregation over the orders by customer,
    instead of one row per customer and period joined with itself.
    """
    offset = _offset_expr(session, grain, first, last, period_start)
    one = literal(1, BigInteger)
    valid = [Order.status != "cancelled", Order.ordered_at >= lo, Order.ordered_at < end]
    ids = _segment_ids(session, segment)
    if ids is not None:
        valid.append(Order.customer_id.in_(ids))
    masks = (
        select(
            Order.customer_id.label("cid"),
            _bit_or(session, one.op("<<")(offset)).label("m"),
            func.min(Order.ordered_at).label("f"),
            (func.min(offset) + (first - 1)).label("fp"),
        )
        .where(*valid)
        .group_by(Order.customer_id)
        .subquery("masks")
    )
    older = aliased(Order, name="older")
    before = (
        select(older.id)
        .where(older.customer_id == masks.c.cid, older.status != "cancelled", older.ordered_at < lo)
        .exists()
    )
    period_end = case(
        *(
            (masks.c.fp == p, literal(period_start[p + 1], UTCDateTime))
            for p in range(first - 1, last + 1)
        ),
        else_=literal(end, UTCDateTime),
    )
    later = aliased(Order, name="later")
    twice = (
        select(later.id)
        .where(
            later.customer_id == masks.c.cid,
            later.status != "cancelled",
            later.ordered_at >= _next_midnight(session, masks.c.f),
            later.ordered_at < period_end,
        )
        .exists()
    )
    flag = case((before, 1), (twice, 2), else_=0).label("flag")
    per = select(masks.c.m, flag).subquery("per")
    with _jit_off(session):
        rows = session.execute(
            select(per.c.m, per.c.flag, func.count()).group_by(per.c.m, per.c.flag)
        ).all()
    m = np.array([int(r[0]) for r in rows], dtype=np.int64)
    flags = np.array([int(r[1]) for r in rows], dtype=np.int64)
    n = np.array([int(r[2]) for r in rows], dtype=np.int64)
    buyers: dict[int, tuple[int, int]] = {}
    kept: dict[int, tuple[int, int]] = {}
    for k in range(1, last - first + 2):
        active = (m >> k) & 1 == 1
        earlier = (m & ((1 << k) - 1)) != 0
        prev = (m >> (k - 1)) & 1 == 1
        p = first - 1 + k
        buyers[p] = (int(n[active].sum()), int(n[active & (earlier | (flags != 0))].sum()))
        kept[p] = (int(n[prev].sum()), int(n[prev & active].sum()))
    return buyers, kept


def rate_series(
    session: Session,
    *,
    grain: str = "month",
    end: datetime | None = None,
    start: datetime | None = None,
    periods: int | None = None,
    segment: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Retention and repeat-purchase rate per period up to ``end`` (default now).

    The periods are those overlapping ``[start, end)``, or the last ``periods`` (24 months or 8
    quarters by default). The period containing ``end`` is marked ``partial`` when it is not
    over. ``segment`` (kind, value) keeps the customers of that segment in the latest run.
    One pass over the window's orders grouped by customer (see ``_period_counts``); at most
    ``MAX_PERIODS`` periods (the latest ones).
    """
    if grain not in GRAINS:
        raise choice_error("grain", GRAIN_LABEL, GRAIN_LABELS.items()).refuse()
    end = end or datetime.now(UTC)
    last = _index_of(end - timedelta(microseconds=1), grain)
    if start is not None:
        first = _index_of(start, grain)
    else:
        count = periods or DEFAULT_PERIODS[grain]
        if not 1 <= count <= MAX_PERIODS:
            raise range_error("periods", N_("Number of periods"), 1, MAX_PERIODS).refuse()
        first = last - count + 1
    first = max(first, last - MAX_PERIODS + 1)
    lo = _start_of(first - 1, grain)  # the period before the first, for its retention base
    period_start = {p: _start_of(p, grain) for p in range(first - 1, last + 2)}
    buyers, kept = _period_counts(session, grain, first, last, lo, end, segment, period_start)
    points: list[RatePoint] = []
    for p in range(first, last + 1):
        n, r = buyers.get(p, (0, 0))
        base, k = kept.get(p, (0, 0))
        points.append(
            RatePoint(
                period_label(p, grain),
                n,
                r,
                r / n if n else None,
                base,
                k,
                k / base if base else None,
                partial=period_start[p + 1] > end,
            )
        )
    complete = [pt for pt in points if not pt.partial]
    return {
        "grain": grain,
        "end": end.isoformat(),
        "segment": f"{segment[0]}:{segment[1]}" if segment else None,
        "points": [pt.as_dict() for pt in points],
        "trend": {
            "retention_slope": _slope([pt.retention_rate for pt in complete]),
            "repeat_slope": _slope([pt.repeat_rate for pt in complete]),
            "retention_last": complete[-1].retention_rate if complete else None,
            "retention_previous": complete[-2].retention_rate if len(complete) > 1 else None,
            "repeat_last": complete[-1].repeat_rate if complete else None,
            "repeat_previous": complete[-2].repeat_rate if len(complete) > 1 else None,
        },
    }


# --- share of wallet --------------------------------------------------------------------------


def parse_spend(raw: Any) -> Decimal | None:
    """A recorded category spend as money, or None when missing, unreadable or not positive."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(number_text(str(raw)))  # "1,250" is 1250; "12,50" is unreadable
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() and value > 0 else None


def _share(ours: Decimal, wallet: Decimal | None) -> float | None:
    if wallet is None:
        return None
    return float(max(ours, Decimal(0)) / wallet)


def _wallet_valid() -> tuple[Any, ...]:
    """The customer's valid orders in the window; the customer and the window are parameters."""
    return (
        Order.customer_id == bindparam("customer_id", type_=Order.customer_id.type),
        Order.status != "cancelled",
        Order.ordered_at >= bindparam("since", type_=Order.ordered_at.type),
        Order.ordered_at < bindparam("as_of", type_=Order.ordered_at.type),
    )


@cache
def _wallet_ours_stmt() -> Any:
    """Our revenue from the customer in the window (built once: the 360 page reads it on every
    view, and building the statement and its cache key cost about as much as running it)."""
    return select(func.sum(Order.revenue)).where(*_wallet_valid())


def customer_wallet(
    session: Session, customer: Customer, *, window_days: int, as_of: datetime | None = None
) -> dict[str, Any]:
    """Share of wallet of one customer: overall and per recorded product category."""
    as_of = as_of or datetime.now(UTC)
    since = as_of - timedelta(days=window_days)
    fields = customer.custom_fields or {}
    recorded = {
        k[len(WALLET_PREFIX) :]: v for k, v in fields.items() if k.startswith(WALLET_PREFIX)
    }
    valid = _wallet_valid()
    params = {"customer_id": customer.id, "since": since, "as_of": as_of}
    ours = Decimal(session.scalar(_wallet_ours_stmt(), params) or 0)
    rows: list[dict[str, Any]] = []
    if recorded:
        amount = OrderLine.quantity * OrderLine.unit_price - OrderLine.discount
        by_cat = dict(
            session.execute(
                select(Product.category, func.sum(amount))
                .join(Order, Order.id == OrderLine.order_id)
                .join(Product, Product.id == OrderLine.product_id)
                .where(*valid, Product.category.in_(list(recorded)))
                .group_by(Product.category),
                params,
            ).all()
        )
        for cat in sorted(recorded):
            wallet = parse_spend(recorded[cat])
            mine = Decimal(by_cat.get(cat) or 0)
            rows.append(
                {
                    "category": cat,
                    "recorded": recorded[cat],
                    "wallet": wallet,
                    "ours": mine,
                    "share": _share(mine, wallet),
                }
            )
    wallet = parse_spend(fields.get(WALLET_FIELD))
    return {
        "window_days": window_days,
        "recorded": fields.get(WALLET_FIELD),
        "wallet": wallet,
        "ours": ours,
        "share": _share(ours, wallet),
        "categories": rows,
        "has_data": WALLET_FIELD in fields or bool(recorded),
    }


def wallet_distribution(
    session: Session,
    *,
    window_days: int,
    as_of: datetime | None = None,
    segment: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Histogram of the overall share of wallet of every customer with a recorded spend."""
    as_of = as_of or datetime.now(UTC)
    since = as_of - timedelta(days=window_days)
    ours = (
        select(Order.customer_id.label("cid"), func.sum(Order.revenue).label("ours"))
        .where(Order.status != "cancelled", Order.ordered_at >= since, Order.ordered_at < as_of)
        .group_by(Order.customer_id)
        .subquery()
    )
    raw = Customer.custom_fields[WALLET_FIELD].as_string()
    stmt = (
        select(Customer.id, raw, ours.c.ours)
        .outerjoin(ours, ours.c.cid == Customer.id)
        .where(Customer.archived_at.is_(None), raw.is_not(None))
    )
    ids = _segment_ids(session, segment)
    if ids is not None:
        stmt = stmt.where(Customer.id.in_(ids))
    counts = [0] * (len(SOW_EDGES) - 1)
    over = unreadable = 0
    shares: list[float] = []
    for _cid, recorded, mine in session.execute(stmt):
        wallet = parse_spend(recorded)
        if wallet is None:
            unreadable += 1
            continue
        share = _share(Decimal(mine or 0), wallet) or 0.0
        shares.append(share)
        if share > 1.0:
            over += 1
            continue
        counts[min(int(share * 10), len(counts) - 1)] += 1
    shares.sort()
    return {
        "window_days": window_days,
        "customers": len(shares),
        "edges": list(SOW_EDGES),
        "counts": counts,
        "over_100": over,
        "unreadable": unreadable,
        "mean": sum(min(s, 1.0) for s in shares) / len(shares) if shares else None,
        "median": shares[len(shares) // 2] if shares else None,
    }


# --- customer delivered value -----------------------------------------------------------------


def _dimension_scores(
    session: Session,
    *,
    customer_ids: Any = None,
    since: datetime | None = None,
    until: datetime | None = None,
):
    """Per (customer, dimension): the 0–100 score of the customer's latest completed response
    answering a question of that dimension (mean over its questions of that dimension)."""
    span = SurveyQuestion.scale_max - SurveyQuestion.scale_min
    score = 100.0 * (SurveyAnswer.number - SurveyQuestion.scale_min) / span
    rank = (
        func.dense_rank()
        .over(
            partition_by=(SurveyResponse.customer_id, SurveyQuestion.value_dimension),
            order_by=(SurveyResponse.completed_at.desc(), SurveyResponse.id.desc()),
        )
        .label("rk")
    )
    inner = (
        select(
            SurveyResponse.customer_id.label("cid"),
            SurveyQuestion.value_dimension.label("dim"),
            score.label("score"),
            rank,
        )
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(
            SurveyResponse.status == "completed",
            SurveyResponse.customer_id.is_not(None),
            SurveyQuestion.value_dimension.in_(DELIVERED_VALUE_DIMENSIONS),
            SurveyAnswer.number.is_not(None),
            SurveyQuestion.scale_max > SurveyQuestion.scale_min,
        )
    )
    if customer_ids is not None:
        inner = inner.where(SurveyResponse.customer_id.in_(customer_ids))
    if since is not None:
        inner = inner.where(SurveyResponse.completed_at >= since)
    if until is not None:
        inner = inner.where(SurveyResponse.completed_at < until)
    sub = inner.subquery()
    return (
        select(sub.c.cid, sub.c.dim, func.avg(sub.c.score).label("score"))
        .where(sub.c.rk == 1)
        .group_by(sub.c.cid, sub.c.dim)
        .subquery("dims")
    )


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def customer_delivered_value(session: Session, customer_id: int) -> dict[str, Any] | None:
    """One customer's delivered value from their latest survey answers, or None if never asked."""
    dims = _dimension_scores(session, customer_ids=[customer_id])
    scores = {d: float(s) for _cid, d, s in session.execute(select(dims))}
    if not scores:
        return None
    return _finite(survey_metrics.delivered_value(scores).as_dict())


_panel_read: Any = None


def _panel_statement() -> Any:
    """The configured wallet window and the customer's delivered-value dimension scores in one
    statement (the settings row outer-joined to the scores: one row with NULL scores when the
    customer never answered); built once, run with the customer's id bound as ``cids``."""
    global _panel_read
    if _panel_read is None:
        dims = _dimension_scores(None, customer_ids=bindparam("cids", expanding=True))  # type: ignore[arg-type]
        _panel_read = (
            select(ValueSettings.wallet_window_days, dims.c.dim, dims.c.score)
            .select_from(ValueSettings)
            .outerjoin(dims, true())
            .where(ValueSettings.id == 1)
        )
    return _panel_read


def customer_panel(session: Session, customer: Customer, *, actor: User) -> dict[str, Any]:
    """What :func:`customer_relationship` returns, with the configured wallet window, for the
    360 panel: the settings and the delivered value in one statement, the wallet in one more
    (two with recorded category spends)."""
    require(actor, "score:read")
    rows = session.execute(_panel_statement(), {"cids": [customer.id]}).all()
    if not rows:  # no settings row yet (a database made by create_all): the ordinary reads
        from retento.scoring import value_settings

        window = value_settings.get_settings(session).wallet_window_days
        cdv = customer_delivered_value(session, customer.id)
    else:
        window = rows[0][0]
        scores = {d: float(s) for _w, d, s in rows if d is not None}
        cdv = _finite(survey_metrics.delivered_value(scores).as_dict()) if scores else None
    return {
        "customer_id": customer.id,
        "share_of_wallet": customer_wallet(session, customer, window_days=window),
        "delivered_value": cdv,
    }


def delivered_value_by_class(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    segment: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Delivered value per value class of the latest run (and overall): the mean of the
    customers' dimension scores, totals, and the weakest dimension. One grouped query."""
    run_id = queries.latest_run_id(session)
    dims = _dimension_scores(
        session, customer_ids=_segment_ids(session, segment), since=since, until=until
    )
    klass = func.coalesce(CustomerScore.value_class, "unscored")
    rows = session.execute(
        select(klass, dims.c.dim, func.avg(dims.c.score), func.count())
        .select_from(dims)
        .outerjoin(
            CustomerScore,
            and_(CustomerScore.customer_id == dims.c.cid, CustomerScore.run_id == (run_id or 0)),
        )
        .group_by(klass, dims.c.dim)
    ).all()
    per_class: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    weighted: dict[str, list[float]] = {}
    for cls, dim, avg, n in rows:
        per_class.setdefault(cls, {})[dim] = float(avg)
        counts[cls] = max(counts.get(cls, 0), int(n))
        acc = weighted.setdefault(dim, [0.0, 0.0])
        acc[0] += float(avg) * int(n)
        acc[1] += int(n)
    customers = int(session.scalar(select(func.count(func.distinct(dims.c.cid)))) or 0)
    order = [*VALUE_CLASSES, "unscored"]
    segments = [
        {"segment": cls, "customers": counts[cls]}
        | _finite(survey_metrics.delivered_value(per_class[cls]).as_dict())
        for cls in order
        if cls in per_class
    ]
    overall = (
        _finite(
            survey_metrics.delivered_value({d: s / n for d, (s, n) in weighted.items()}).as_dict()
        )
        if weighted
        else None
    )
    return {
        "run_id": run_id,
        "customers": customers,
        "overall": overall,
        "by_segment": segments,
        "cost_dimensions": list(COST_DIMENSIONS),
    }


# --- API helpers --------------------------------------------------------------------------------


def parse_segment(raw: str | None) -> tuple[str, str] | None:
    """``value_class:vip`` → ``("value_class", "vip")``; 422 naming ``segment`` otherwise."""
    if not raw:
        return None
    kind, _, value = raw.partition(":")
    if kind not in queries.SEGMENTS or value not in queries.SEGMENTS[kind]:
        raise InvalidInput(
            "segment must look like value_class:vip, stage:loyal or label:mvc.", field="segment"
        )
    return kind, value


def customer_relationship(
    session: Session, customer_id: int, *, actor: User, window_days: int
) -> dict[str, Any]:
    """Share of wallet and delivered value of one customer (``score:read``)."""
    require(actor, "score:read")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("Customer", customer_id)
    return {
        "customer_id": customer_id,
        "share_of_wallet": customer_wallet(session, customer, window_days=window_days),
        "delivered_value": customer_delivered_value(session, customer_id),
    }
