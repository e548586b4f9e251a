"""Loyalty measurement from the database: per-customer features by SQL aggregation, then
:class:`retento.analytics.LoyaltyMeasure` (three dimensions, index, type, satisfaction trap).

Every feature is aggregated in the database (one GROUP BY per source, window functions for the
median purchase gap), so the cost grows with the number of customers, not with Python loops over
orders. ``docs/analytics-loyalty.md`` documents where each column comes from.

The loyalty programme tables (tiers, lots, redemptions) are read only when they exist, so the
measurement works before the programme is set up and on databases migrated before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Date, and_, case, cast, func, inspect, literal, or_, select, text
from sqlalchemy.orm import Session

from retento.analytics.loyalty import DIMENSIONS, LoyaltyMeasure
from retento.complaints.models import OPEN_STATUSES, Complaint
from retento.core.errors import InvalidInput, Msg
from retento.customers.models import Customer
from retento.orders.models import Order, OrderLine
from retento.surveys.models import SurveyAnswer, SurveyQuestion, SurveyResponse

#: Custom fields (``customers.custom_fields``) read as yes/no context attributes.
NO_ALTERNATIVE_FIELD = "no_alternative"
AFFILIATED_FIELD = "affiliated"
#: Customer kinds that are part of the company (内涵客户 departments and branches): kinship.
AFFILIATED_KINDS = ("department", "branch")
RECENT_DAYS = 90

OUTPUT_COLUMNS = (
    "customer_id",
    "name",
    "segment",
    "loyalty_type",
    "rule",
    "loyalty_index",
    "behavioural",
    "intentional",
    "emotional",
    "satisfaction_trap",
    "trap_signal",
    "reason_en",
    "reason_zh",
    "n_orders",
    "orders_per_year",
    "median_gap_days",
    "days_since_last_order",
    "orders_recent",
    "discount_share",
    "points_redeemed_share",
    "tier_name",
    "tenure_days",
    "no_alternative",
    "affiliated",
    "satisfaction",
    "repurchase_intent",
    "recommend",
    "complaints",
    "complaints_open",
    "price_sensitivity",
    "switching_cost",
)


def parse_weights(raw: str | None) -> dict[str, float] | None:
    """``"0.5,0.25,0.25"`` or ``"behavioural=2,emotional=1"`` → index weights (None: default).

    Raises :class:`InvalidInput` (field ``weights``) for anything else.
    """
    if raw is None or not raw.strip():
        return None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    out: dict[str, float] = {}
    try:
        if all("=" in p or ":" in p for p in parts):
            for p in parts:
                key, _, value = p.replace(":", "=").partition("=")
                key = key.strip()
                if key not in DIMENSIONS:
                    raise InvalidInput(
                        Msg(
                            "unknown dimension %(key)s; use %(dims)s",
                            key=repr(key),
                            dims=", ".join(DIMENSIONS),
                        ),
                        field="weights",
                    )
                out[key] = float(value)
        elif len(parts) == len(DIMENSIONS):
            out = {d: float(v) for d, v in zip(DIMENSIONS, parts, strict=True)}
        else:
            raise InvalidInput(
                "weights are three numbers (behavioural, intentional, emotional) "
                "or name=value pairs",
                field="weights",
            )
    except ValueError:
        raise InvalidInput("weights must be numbers", field="weights") from None
    if any(not np.isfinite(v) or v < 0 for v in out.values()) or sum(out.values()) <= 0:
        raise InvalidInput("weights must be non-negative numbers, not all zero", field="weights")
    return out


# --- SQL pieces -------------------------------------------------------------------------------


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _day(session: Session, column: Any) -> Any:
    """The UTC calendar day of a timestamp column."""
    if _is_pg(session):
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _day_diff(session: Session, later: Any, earlier: Any) -> Any:
    """Whole days between two day expressions."""
    if _is_pg(session):
        return later - earlier
    return func.julianday(later) - func.julianday(earlier)


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.tz_localize(None).dt.normalize()


def _frame(session: Session, stmt: Any, columns: list[str]) -> pd.DataFrame:
    """Run ``stmt`` on the session's connection (Core rows, no ORM overhead) into a DataFrame."""
    rows = session.connection().execute(stmt).all()
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)


def _restrict(stmt: Any, column: Any, ids: list[int] | None) -> Any:
    return stmt if ids is None else stmt.where(column.in_(ids))


def _order_stmt_pg(daily: Any) -> Any:
    """PostgreSQL: one pass over the customers' purchase days sorted by (customer, day) — the
    gap to the previous day by ``lag`` and, in the same GROUP BY, the counts, first and last
    day and ``percentile_cont(0.5)`` of the gaps (NULL gaps are ignored)."""
    lagged = select(
        daily.c.cid,
        daily.c.day,
        daily.c.n,
        daily.c.recent,
        daily.c.disc,
        (
            daily.c.day - func.lag(daily.c.day).over(partition_by=daily.c.cid, order_by=daily.c.day)
        ).label("gap"),
    ).subquery()
    return select(
        lagged.c.cid,
        func.sum(lagged.c.n),
        func.min(lagged.c.day),
        func.max(lagged.c.day),
        func.sum(lagged.c.recent),
        func.sum(lagged.c.disc),
        func.percentile_cont(0.5).within_group(lagged.c.gap),
    ).group_by(lagged.c.cid)


def _order_stmt_portable(session: Session, daily: Any) -> Any:
    """Any backend: per-customer totals joined with the median gap from ranked gaps (the
    daily rows are a CTE used twice)."""
    agg = (
        select(
            daily.c.cid,
            func.sum(daily.c.n).label("n"),
            func.min(daily.c.day).label("first_day"),
            func.max(daily.c.day).label("last_day"),
            func.sum(daily.c.recent).label("recent"),
            func.sum(daily.c.disc).label("disc"),
        )
        .group_by(daily.c.cid)
        .subquery()
    )
    # Median gap between purchase days (same-day orders are one visit), portable SQL: rank the
    # gaps per customer and average the middle one or two.
    lagged = select(
        daily.c.cid,
        _day_diff(
            session,
            daily.c.day,
            func.lag(daily.c.day).over(partition_by=daily.c.cid, order_by=daily.c.day),
        ).label("gap"),
    ).subquery()
    ranked = (
        select(
            lagged.c.cid,
            lagged.c.gap,
            func.row_number().over(partition_by=lagged.c.cid, order_by=lagged.c.gap).label("rn"),
            func.count().over(partition_by=lagged.c.cid).label("cnt"),
        )
        .where(lagged.c.gap.is_not(None))
        .subquery()
    )
    med = (
        select(ranked.c.cid, func.avg(ranked.c.gap).label("gap"))
        # The middle gap (odd count: 2·rn = cnt + 1) or the middle two (even: 2·rn = cnt or
        # cnt + 2); integer arithmetic on every backend.
        .where(2 * ranked.c.rn >= ranked.c.cnt, 2 * ranked.c.rn <= ranked.c.cnt + 2)
        .group_by(ranked.c.cid)
        .subquery()
    )
    stmt = select(
        agg.c.cid, agg.c.n, agg.c.first_day, agg.c.last_day, agg.c.recent, agg.c.disc, med.c.gap
    ).outerjoin(med, med.c.cid == agg.c.cid)
    return stmt


def _order_features(
    session: Session, as_of: datetime, ids: list[int] | None, recent_days: int
) -> pd.DataFrame:
    """Orders per customer: count, first and last day, recent count, discounted share, gap."""
    valid = and_(Order.status != "cancelled", Order.ordered_at < as_of)
    line_disc = (
        select(OrderLine.order_id.label("oid"))
        .where(OrderLine.discount > 0)
        .group_by(OrderLine.order_id)
        .subquery()
    )
    recent_from = as_of - timedelta(days=recent_days)
    day = _day(session, Order.ordered_at).label("day")
    daily = _restrict(
        select(
            Order.customer_id.label("cid"),
            day,
            func.count().label("n"),
            func.sum(case((Order.ordered_at >= recent_from, 1), else_=0)).label("recent"),
            func.sum(
                case((or_(Order.discount > 0, line_disc.c.oid.is_not(None)), 1), else_=0)
            ).label("disc"),
        )
        .outerjoin(line_disc, line_disc.c.oid == Order.id)
        .where(valid),
        Order.customer_id,
        ids,
    ).group_by(Order.customer_id, day)
    if _is_pg(session):
        # The window sorts over every order: give them memory instead of spilling to disk
        # (SET LOCAL ends with the transaction).
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        stmt = _order_stmt_pg(daily.subquery("daily"))
    else:
        stmt = _order_stmt_portable(session, daily.cte("daily"))
    df = _frame(
        session,
        stmt,
        [
            "customer_id",
            "n_orders",
            "first_day",
            "last_day",
            "orders_recent",
            "disc",
            "median_gap_days",
        ],
    )
    for col in ("n_orders", "orders_recent", "disc", "median_gap_days"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["discount_share"] = np.where(df["n_orders"] > 0, df["disc"] / df["n_orders"], np.nan)
    return df.drop(columns=["disc"])


def _survey_features(session: Session, as_of: datetime, ids: list[int] | None) -> pd.DataFrame:
    """The latest satisfaction, repurchase intent and recommendation per customer, over all
    surveys; ratings are rescaled to 1–5, recommendation to 0–10."""
    q = SurveyQuestion
    lo = func.coalesce(q.scale_min, case((q.qtype == "nps", 0), else_=1))
    hi = func.coalesce(q.scale_max, case((q.qtype == "nps", 10), else_=5))
    span = case((hi > lo, hi - lo), else_=literal(1))
    unit = (SurveyAnswer.number - lo) * 1.0 / span
    kind = case(
        (or_(q.qtype == "nps", q.satisfaction_dimension == "intent.recommend"), "recommend"),
        (
            and_(q.qtype == "rating", q.satisfaction_dimension == "intent.repurchase"),
            "repurchase_intent",
        ),
        (
            and_(
                q.qtype == "rating",
                or_(
                    q.csi_latent == "Satisfaction",
                    and_(q.satisfaction_dimension == "overall", q.csi_latent.is_(None)),
                ),
            ),
            "satisfaction",
        ),
        else_=None,
    ).label("kind")
    value = case((kind == "recommend", unit * 10), else_=1 + unit * 4)
    per_response = _restrict(
        select(
            SurveyResponse.customer_id.label("cid"),
            SurveyResponse.id.label("rid"),
            SurveyResponse.completed_at.label("at"),
            kind,
            func.avg(value).label("v"),
        )
        .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
        .join(q, q.id == SurveyAnswer.question_id)
        .where(
            SurveyResponse.status == "completed",
            SurveyResponse.customer_id.is_not(None),
            SurveyResponse.completed_at < as_of,
            SurveyAnswer.number.is_not(None),
            kind.is_not(None),
        ),
        SurveyResponse.customer_id,
        ids,
    ).group_by(SurveyResponse.customer_id, SurveyResponse.id, SurveyResponse.completed_at, kind)
    per_response = per_response.subquery()
    latest = select(
        per_response.c.cid,
        per_response.c.kind,
        per_response.c.v,
        func.row_number()
        .over(
            partition_by=(per_response.c.cid, per_response.c.kind),
            order_by=(per_response.c.at.desc(), per_response.c.rid.desc()),
        )
        .label("rn"),
    ).subquery()
    long = _frame(
        session,
        select(latest.c.cid, latest.c.kind, latest.c.v).where(latest.c.rn == 1),
        ["customer_id", "kind", "v"],
    )
    cols = ["satisfaction", "repurchase_intent", "recommend"]
    if long.empty:
        return pd.DataFrame(columns=["customer_id", *cols])
    long["v"] = pd.to_numeric(long["v"], errors="coerce").astype(float)
    wide = long.pivot_table(index="customer_id", columns="kind", values="v", aggfunc="first")
    wide = wide.reindex(columns=cols)
    # Bad stored data (an answer outside its question's scale) must not break the whole page.
    wide["satisfaction"] = wide["satisfaction"].clip(1, 5)
    wide["repurchase_intent"] = wide["repurchase_intent"].clip(1, 5)
    wide["recommend"] = wide["recommend"].clip(0, 10)
    return wide.reset_index()


def _complaint_features(session: Session, as_of: datetime, ids: list[int] | None) -> pd.DataFrame:
    """Complaints (and grumbles) per customer: count, open, SLA-breached, follow-up rating."""
    c = Complaint
    stmt = _restrict(
        select(
            c.customer_id,
            func.count(),
            func.sum(case((c.status.in_(OPEN_STATUSES), 1), else_=0)),
            func.sum(
                case((or_(c.first_response_ever_breached, c.resolution_ever_breached), 1), else_=0)
            ),
            func.avg(c.csat),
        ).where(c.received_at < as_of),
        c.customer_id,
        ids,
    ).group_by(c.customer_id)
    df = _frame(
        session,
        stmt,
        [
            "customer_id",
            "complaints",
            "complaints_open",
            "complaints_breached",
            "followup_csat",
        ],
    )
    for col in df.columns[1:]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["followup_csat"] = df["followup_csat"].clip(1, 5)
    return df


def _has_tables(session: Session, *names: str) -> bool:
    insp = inspect(session.connection())
    return all(insp.has_table(n) for n in names)


def _programme_features(session: Session, ids: list[int] | None) -> pd.DataFrame | None:
    """Tier rank (0–1), the tier's name in English and Chinese (the reasons quote it in the
    reader's language) and share of earned points redeemed, when the programme tables exist."""
    try:
        from retento.loyalty import models as lm
    except ImportError:  # the programme is not installed
        return None
    needed = ("loyalty_accounts", "loyalty_tiers", "loyalty_lots", "loyalty_redemptions")
    if not _has_tables(session, *needed):
        return None
    acct, tier, lot, red = lm.LoyaltyAccount, lm.LoyaltyTier, lm.LoyaltyLot, lm.LoyaltyRedemption
    ranks = session.execute(select(func.min(tier.rank), func.max(tier.rank))).one()
    members = _frame(
        session,
        _restrict(
            select(acct.customer_id, tier.rank, tier.name, tier.name_zh)
            .outerjoin(tier, tier.id == acct.tier_id)
            .where(acct.customer_id.is_not(None)),
            acct.customer_id,
            ids,
        ),
        ["customer_id", "rank", "tier_name", "tier_name_zh"],
    )
    earned = _frame(
        session,
        _restrict(
            select(acct.customer_id, func.sum(lot.points - lot.clawed))
            .join(lot, lot.account_id == acct.id)
            .where(acct.customer_id.is_not(None)),
            acct.customer_id,
            ids,
        ).group_by(acct.customer_id),
        ["customer_id", "earned"],
    )
    spent = _frame(
        session,
        _restrict(
            select(red.customer_id, func.sum(red.points - red.returned)),
            red.customer_id,
            ids,
        ).group_by(red.customer_id),
        ["customer_id", "redeemed"],
    )
    df = members.merge(earned, on="customer_id", how="outer").merge(
        spent, on="customer_id", how="outer"
    )
    lo, hi = ranks
    rank = pd.to_numeric(df["rank"], errors="coerce").astype(float)
    if lo is None:
        df["tier_rank"] = np.nan
    elif hi == lo:
        df["tier_rank"] = np.where(rank.notna(), 1.0, 0.0)
    else:
        df["tier_rank"] = ((rank - lo) / (hi - lo)).fillna(0.0)
    earned_v = pd.to_numeric(df["earned"], errors="coerce").astype(float)
    redeemed_v = pd.to_numeric(df["redeemed"], errors="coerce").astype(float).fillna(0.0)
    df["points_redeemed_share"] = np.where(
        earned_v > 0, np.clip(redeemed_v / earned_v.where(earned_v > 0, 1.0), 0, 1), np.nan
    )
    df.attrs["tiers"] = lo is not None
    return df[["customer_id", "tier_rank", "tier_name", "tier_name_zh", "points_redeemed_share"]]


def _flag_values(values: pd.Series) -> pd.Series:
    """Custom-field values as booleans: yes/true/1/是 → True, anything else → False."""

    def one(v: Any) -> bool:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return False
        if isinstance(v, bool | int | float):  # SQLite's JSON_EXTRACT gives 1 for true
            return bool(v)
        return str(v).strip().lower() in {"1", "true", "t", "yes", "y", "on", "是", "x"}

    return pd.Series(
        [one(v) for v in values.astype(object).tolist()], index=values.index, dtype=bool
    )


def customer_features(
    session: Session,
    *,
    as_of: datetime | None = None,
    customer_ids: Iterable[int] | None = None,
    recent_days: int = RECENT_DAYS,
) -> pd.DataFrame:
    """The per-customer feature table of :class:`~retento.analytics.LoyaltyMeasure` (one row per
    non-archived customer, or per given id), with ``customer_id`` and ``name``."""
    as_of = as_of or datetime.now(UTC)
    ids = None if customer_ids is None else sorted({int(i) for i in customer_ids})
    stmt = _restrict(
        select(
            Customer.id,
            Customer.name,
            Customer.kind,
            Customer.acquired_on,
            Customer.custom_fields[NO_ALTERNATIVE_FIELD].as_string(),
            Customer.custom_fields[AFFILIATED_FIELD].as_string(),
        ).where(Customer.archived_at.is_(None)),
        Customer.id,
        ids,
    ).order_by(Customer.id)
    base = _frame(
        session,
        stmt,
        ["customer_id", "name", "segment", "acquired_on", "no_alt", "affil"],
    )
    base["no_alternative"] = _flag_values(base["no_alt"])
    base["affiliated"] = _flag_values(base["affil"]) | base["segment"].isin(AFFILIATED_KINDS)
    base = base.drop(columns=["no_alt", "affil"])
    df = base.merge(_order_features(session, as_of, ids, recent_days), on="customer_id", how="left")
    df = df.merge(_survey_features(session, as_of, ids), on="customer_id", how="left")
    df = df.merge(_complaint_features(session, as_of, ids), on="customer_id", how="left")
    programme = _programme_features(session, ids)
    if programme is not None:
        has_tiers = programme.attrs.get("tiers", False)
        df = df.merge(programme, on="customer_id", how="left")
        df["tier_rank"] = df["tier_rank"].fillna(0.0) if has_tiers else np.nan
    today = pd.Timestamp(as_of.astimezone(UTC).date())
    first, last = _dates(df["first_day"]), _dates(df["last_day"])
    df["n_orders"] = df["n_orders"].fillna(0.0)
    df["orders_recent"] = df["orders_recent"].fillna(0.0)
    df["days_since_first_order"] = (today - first).dt.days.astype(float)
    df["days_since_last_order"] = (today - last).dt.days.astype(float)
    since = pd.concat([first, _dates(df["acquired_on"])], axis=1).min(axis=1)
    df["tenure_days"] = (today - since).dt.days.astype(float).clip(lower=0)
    for col in ("complaints", "complaints_open", "complaints_breached"):
        df[col] = df[col].fillna(0.0)
    df = df.drop(columns=["first_day", "last_day", "acquired_on"])
    df.index = pd.Index(df["customer_id"].to_numpy())  # by id, unnamed (customer_id stays a column)
    return df


def _frequency_reference(session: Session, as_of: datetime) -> pd.DataFrame:
    """Every customer's segment, order count and first purchase: what ``fit`` needs."""
    # min(ordered_at), not min(day): no per-row cast, and the (customer, time) index serves it.
    orders = (
        select(
            Order.customer_id.label("cid"),
            func.count().label("n"),
            func.min(Order.ordered_at).label("f"),
        )
        .where(Order.status != "cancelled", Order.ordered_at < as_of)
        .group_by(Order.customer_id)
        .subquery()
    )
    df = _frame(
        session,
        select(Customer.kind, orders.c.n, orders.c.f)
        .join(orders, orders.c.cid == Customer.id)
        .where(Customer.archived_at.is_(None)),
        ["segment", "n_orders", "first"],
    )
    today = pd.Timestamp(as_of.astimezone(UTC).date())
    df["n_orders"] = pd.to_numeric(df["n_orders"]).astype(float)
    df["days_since_first_order"] = (today - _dates(df["first"])).dt.days.astype(float)
    return df.drop(columns=["first"])


def _measure(
    session: Session,
    *,
    as_of: datetime | None,
    customer_ids: Iterable[int] | None,
    weights: dict[str, float] | None,
    recent_days: int,
    explain: bool,
    reference: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, LoyaltyMeasure]:
    """Features, the output frame (``OUTPUT_COLUMNS``, same order) and the fitted measure.

    A subset is scored against ``reference`` (the frequency reference stored with a run) when
    given, else against the reference of the whole base computed now."""
    as_of = as_of or datetime.now(UTC)
    if as_of.tzinfo is None:
        raise InvalidInput("as_of must carry a time zone", field="as_of")
    features = customer_features(
        session, as_of=as_of, customer_ids=customer_ids, recent_days=recent_days
    )
    model = LoyaltyMeasure(weights=weights, recent_days=recent_days, explain=explain)
    try:
        if customer_ids is None:
            scores = model.fit_transform(features)
        elif reference is not None:
            segments = {seg: freq for seg, freq in reference.get("segment_frequency") or []}
            overall = reference.get("overall_frequency")
            model.use_reference(segments, np.nan if overall is None else overall)
            scores = model.transform(features)
        else:
            scores = model.fit(_frequency_reference(session, as_of)).transform(features)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="weights" if "weights" in str(exc) else None) from exc
    out = features.join(scores, how="left")
    for col in OUTPUT_COLUMNS:
        if col not in out.columns:
            out[col] = np.nan
    return features, out[list(OUTPUT_COLUMNS)], model


def loyalty_measurement(
    session: Session,
    *,
    as_of: datetime | None = None,
    customer_ids: Iterable[int] | None = None,
    weights: dict[str, float] | None = None,
    recent_days: int = RECENT_DAYS,
    explain: bool = True,
) -> pd.DataFrame:
    """Loyalty type, index, dimensions, trap flag and reasons per customer (``OUTPUT_COLUMNS``).

    With ``customer_ids`` only those customers are scored, against the frequency reference of
    the whole customer base (so a customer's result does not depend on who else is asked).
    ``explain=False`` leaves the reasons empty (faster when only counts are needed).
    """
    _, out, _ = _measure(
        session,
        as_of=as_of,
        customer_ids=customer_ids,
        weights=weights,
        recent_days=recent_days,
        explain=explain,
    )
    return out.reset_index(drop=True)


def summary(frame: pd.DataFrame, bins: int = 10) -> dict[str, Any]:
    """Type distribution, index histogram, dimension means and trap count of a measurement."""
    from retento.analytics.loyalty import LOYALTY_TYPES

    counts = frame["loyalty_type"].value_counts()
    n = len(frame)
    index = pd.to_numeric(frame["loyalty_index"], errors="coerce").dropna().to_numpy()
    hist, edges = np.histogram(index, bins=bins, range=(0, 100))
    means = {d: (float(frame[d].mean()) if frame[d].notna().any() else None) for d in DIMENSIONS}
    return {
        "customers": n,
        "types": [
            {
                "type": t,
                "customers": int(counts.get(t, 0)),
                "share": (int(counts.get(t, 0)) / n) if n else None,
            }
            for t in LOYALTY_TYPES
        ],
        "index_histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
        "index_mean": float(index.mean()) if len(index) else None,
        "dimension_means": means,
        "trap": int(frame["satisfaction_trap"].fillna(False).astype(bool).sum()),
    }


# --- queries for the API, pages and CLI --------------------------------------------------------


def measure_customers(
    session: Session,
    *,
    actor: Any,
    customer_id: int | None = None,
    loyalty_type: str | None = None,
    trap: bool | None = None,
    weights: dict[str, float] | None = None,
    as_of: datetime | None = None,
    offset: int = 0,
    limit: int | None = None,
    reference: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, int, dict[str, Any]]:
    """One page (``offset``/``limit``; everything when ``limit`` is None) of the measurement
    computed now, filtered by customer, type or trap flag, sorted by loyalty index (lowest
    first), with the number of matching customers and the summary of the whole base (or of the
    one customer). The pages read stored runs instead (``measure_store``); this is the live path
    (``?live=true`` of the API for one customer, scored against ``reference`` when given).

    Only the returned rows are explained in words, so a page over a large base stays fast.
    """
    from retento.analytics.loyalty import LOYALTY_TYPES
    from retento.auth.permissions import require
    from retento.core.errors import NotFound

    require(actor, "score:read")
    if loyalty_type is not None and loyalty_type not in LOYALTY_TYPES:
        raise InvalidInput(
            Msg("type must be one of %(choices)s", choices=", ".join(LOYALTY_TYPES)), field="type"
        )
    ids = None
    if customer_id is not None:
        found = session.scalar(
            select(Customer.id).where(Customer.id == customer_id, Customer.archived_at.is_(None))
        )
        if found is None:
            raise NotFound("Customer", customer_id, field="customer_id")
        ids = [customer_id]
    features, frame, model = _measure(
        session,
        as_of=as_of,
        customer_ids=ids,
        weights=weights,
        recent_days=RECENT_DAYS,
        explain=False,
        reference=reference if ids is not None else None,
    )
    stats = summary(frame)
    if loyalty_type is not None:
        frame = frame[frame["loyalty_type"] == loyalty_type]
    if trap is not None:
        frame = frame[frame["satisfaction_trap"].astype(bool) == trap]
    frame = frame.sort_values(["loyalty_index", "customer_id"], na_position="first")
    total = len(frame)
    page = frame.iloc[offset:] if limit is None else frame.iloc[offset : offset + limit]
    page = page.copy()
    if len(page):
        words = model.set_params(explain=True).transform(features.loc[page.index])
        page["reason_en"] = words["reason_en"]
        page["reason_zh"] = words["reason_zh"]
    return page.reset_index(drop=True), total, stats


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts: NaN becomes None, numpy scalars become Python numbers."""
    out = []
    for row in frame.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, float) and not np.isfinite(value):
                value = None
            clean[key] = value
        out.append(clean)
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(frame: pd.DataFrame) -> str:
    """The measurement as CSV (UTF-8 with BOM for spreadsheets); text cells that a spreadsheet
    would run as a formula are prefixed with an apostrophe."""
    safe = frame.copy()
    for col in safe.columns:
        if pd.api.types.is_object_dtype(safe[col]) or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
            )
    return "\ufeff" + safe.to_csv(index=False, float_format="%.4g")
