"""Complaint analytics for the dashboard, aggregated in SQL (PostgreSQL and SQLite)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import Float, and_, bindparam, case, cast, exists, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints.models import CHANNELS, Complaint, ComplaintCategory, Remedy, SlaPolicy
from retento.complaints.policies import VALUE_CLASSES
from retento.core.db import UTCDateTime, utcnow
from retento.core.errors import InvalidInput, Msg, choice_error
from retento.customers.models import Customer
from retento.web.i18n import N_
from retento.web.labels import label_msgid

REPURCHASE_DAYS = 90
SILENT_MULTIPLIER = 25  # only 1 of 25 dissatisfied customers complains
# What the source documents cite: repurchase after a major problem, after a minor one, and when
# the complaint is solved fast. Shown next to the business's own figures.
LITERATURE = {
    "major_problem": {"rate": 0.04, "label": "4 % after a major problem"},
    "minor_problem": {"rate": 0.53, "label": "53 % after a minor problem"},
    "solved_fast": {"rate_low": 0.52, "rate_high": 0.95, "label": "52–95 % when solved fast"},
}
SPEED_BUCKETS = (
    ("within_1_day", 0, 86400),
    ("1_to_7_days", 86400, 7 * 86400),
    ("over_7_days", 7 * 86400, None),
)


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def seconds_between(session: Session, end: Any, start: Any) -> ColumnElement:
    """``end - start`` in seconds as a SQL expression on either backend."""
    if _is_pg(session):
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def plus_days(session: Session, col: Any, days: int) -> ColumnElement:
    """``col + days`` as a SQL expression comparable with other timestamps of the backend."""
    if _is_pg(session):
        return col + func.make_interval(0, 0, 0, days)
    return func.strftime("%Y-%m-%d %H:%M:%f", col, f"+{days} days")


@dataclass(frozen=True)
class Scope:
    """Which complaints the figures count: received in ``[since, until)``, from customers of
    ``value_class`` (the class recorded on the complaint at intake, the one its SLA used),
    through ``channel``, in category ``category`` or below it (``category_ids``)."""

    since: datetime | None = None
    until: datetime | None = None
    value_class: str | None = None
    channel: str | None = None
    category: str | None = None
    category_ids: tuple[int, ...] | None = None

    def conditions(self) -> list[ColumnElement]:
        """The ``WHERE`` conditions on ``complaints`` rows."""
        out: list[ColumnElement] = []
        if self.since is not None:
            out.append(Complaint.received_at >= self.since)
        if self.until is not None:
            out.append(Complaint.received_at < self.until)
        if self.value_class is not None:
            out.append(Complaint.value_class == self.value_class)
        if self.channel is not None:
            out.append(Complaint.channel == self.channel)
        if self.category_ids is not None:
            out.append(Complaint.category_id.in_(self.category_ids))
        return out


ALL = Scope()


def make_scope(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    value_class: str | None = None,
    channel: str | None = None,
    category: str | None = None,
) -> Scope:
    """A checked ``Scope``: an unknown class, channel or category, or ``until`` not after
    ``since``, is an ``InvalidInput`` naming the field."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since.", field="until")
    value_class = (value_class or "").strip() or None
    # Named as the dashboard's filters name them; the API's English keeps the codes.
    if value_class is not None and value_class not in VALUE_CLASSES:
        choices = [(c, label_msgid("value_class", c)) for c in VALUE_CLASSES]
        raise choice_error("value_class", N_("Value class"), choices).refuse()
    channel = (channel or "").strip() or None
    if channel is not None and channel not in CHANNELS:
        choices = [(c, label_msgid("complaint_channel", c)) for c in CHANNELS]
        raise choice_error("channel", N_("Channel"), choices).refuse()
    category = (category or "").strip().lower() or None
    ids = None
    if category is not None:
        ids = _category_and_below(session, category)
        if not ids:
            raise InvalidInput(
                Msg("Unknown complaint category '%(code)s'.", code=category), field="category"
            )
    return Scope(since, until, value_class, channel, category, ids)


def _category_and_below(session: Session, code: str) -> tuple[int, ...]:
    """The ids of category ``code`` and of every category under it (empty if unknown)."""
    rows = session.execute(
        select(ComplaintCategory.id, ComplaintCategory.parent_id, ComplaintCategory.code)
    ).all()
    root = next((i for i, _, c in rows if c == code), None)
    if root is None:
        return ()
    children: dict[int | None, list[int]] = {}
    for i, parent, _ in rows:
        children.setdefault(parent, []).append(i)
    found, todo = [], [root]
    while todo:
        i = todo.pop()
        if i in found:
            continue
        found.append(i)
        todo.extend(children.get(i, []))
    return tuple(sorted(found))


def _window(stmt, scope: Scope | None):
    return stmt.where(*scope.conditions()) if scope is not None else stmt


def quantiles(session: Session, expr: ColumnElement, conds: list, qs=(0.5, 0.9)) -> list:
    """Quantiles of ``expr`` over complaints matching ``conds`` (in SQL on PostgreSQL)."""
    if _is_pg(session):
        cols = [func.percentile_cont(q).within_group(cast(expr, Float)) for q in qs]
        row = session.execute(select(*cols).select_from(Complaint).where(*conds)).one()
        return [None if v is None else float(v) for v in row]
    # SQLite has no percentile aggregate: fetch the one numeric column, nothing else.
    values = np.array(
        [v for (v,) in session.execute(select(expr).where(*conds)) if v is not None], dtype=float
    )
    if values.size == 0:
        return [None for _ in qs]
    return [float(np.quantile(values, q)) for q in qs]


def _share(n: int, d: int) -> float | None:
    return None if not d else round(n / d, 4)


def _hours(v: float | None) -> float | None:
    return None if v is None else round(v / 3600.0, 2)


def volume(session: Session, scope: Scope | None = None) -> dict:
    """Counts by category (with its English and Chinese names), channel, kind and month."""
    cat = _window(
        select(
            ComplaintCategory.code,
            ComplaintCategory.name,
            ComplaintCategory.name_zh,
            func.count(Complaint.id),
        )
        .join(Complaint, Complaint.category_id == ComplaintCategory.id)
        .group_by(ComplaintCategory.code, ComplaintCategory.name, ComplaintCategory.name_zh)
        .order_by(func.count(Complaint.id).desc()),
        scope,
    )
    chan = _window(
        select(Complaint.channel, func.count())
        .group_by(Complaint.channel)
        .order_by(func.count().desc()),
        scope,
    )
    kind = _window(select(Complaint.kind, func.count()).group_by(Complaint.kind), scope)
    return {
        "by_category": [
            {"category": c, "name": n, "name_zh": zh, "count": k}
            for c, n, zh, k in session.execute(cat)
        ],
        "by_channel": [{"channel": c, "count": k} for c, k in session.execute(chan)],
        "by_kind": {k: n for k, n in session.execute(kind)},
    }


def pareto(session: Session, scope: Scope | None = None) -> list[dict]:
    """Root causes by frequency with cumulative share (the vital few first)."""
    cause = func.coalesce(Complaint.root_cause, literal("unclassified"))
    stmt = _window(
        select(cause.label("cause"), func.count().label("n"))
        .group_by(cause)
        .order_by(func.count().desc(), cause),
        scope,
    )
    rows = session.execute(stmt).all()
    total = sum(n for _, n in rows)
    out, running = [], 0
    for c, n in rows:
        running += n
        out.append(
            {
                "root_cause": c,
                "count": n,
                "share": _share(n, total),
                "cumulative": _share(running, total),
            }
        )
    return out


def response_times(session: Session, scope: Scope | None = None) -> dict:
    """First-response and resolution time (median, p90, hours) against the SLA targets."""
    base = scope.conditions() if scope is not None else []
    fr_expr = seconds_between(session, Complaint.first_responded_at, Complaint.received_at)
    res_expr = seconds_between(session, Complaint.first_resolved_at, Complaint.received_at)
    fr_q = quantiles(session, fr_expr, [*base, Complaint.first_responded_at.is_not(None)])
    res_q = quantiles(session, res_expr, [*base, Complaint.first_resolved_at.is_not(None)])
    targets = _window(
        select(func.avg(SlaPolicy.first_response_minutes), func.avg(SlaPolicy.resolution_minutes))
        .select_from(Complaint)
        .join(SlaPolicy, SlaPolicy.id == Complaint.sla_policy_id),
        scope,
    )
    fr_target, res_target = session.execute(targets).one()
    counts = session.execute(
        _window(
            select(
                func.count(),
                func.count(Complaint.sla_policy_id),
                # ever missed: a reopen or a longer target does not take a breach back
                func.sum(case((Complaint.first_response_ever_breached.is_(True), 1), else_=0)),
                func.sum(case((Complaint.resolution_ever_breached.is_(True), 1), else_=0)),
                func.count(Complaint.first_responded_at),
                func.count(Complaint.first_resolved_at),
                func.sum(case((Complaint.reopen_count > 0, 1), else_=0)),
            ),
            scope,
        )
    ).one()
    total, with_sla, fr_breached, res_breached, responded, resolved, reopened = (
        int(v or 0) for v in counts
    )
    return {
        "first_response": {
            "median_hours": _hours(fr_q[0]),
            "p90_hours": _hours(fr_q[1]),
            "target_hours_avg": None if fr_target is None else round(float(fr_target) / 60, 2),
            "breached": fr_breached,
            "breach_rate": _share(fr_breached, with_sla),
        },
        "resolution": {
            "median_hours": _hours(res_q[0]),
            "p90_hours": _hours(res_q[1]),
            "target_hours_avg": None if res_target is None else round(float(res_target) / 60, 2),
            "breached": res_breached,
            "breach_rate": _share(res_breached, with_sla),
        },
        "complaints": total,
        "with_sla": with_sla,
        "responded": responded,
        "resolved": resolved,
        "reopened": reopened,
        "reopen_rate": _share(reopened, resolved),
    }


def remedies(session: Session, scope: Scope | None = None) -> dict:
    """Remedy counts, value and cost by kind for complaints received in the window."""
    stmt = _window(
        select(
            Remedy.kind,
            func.count(Remedy.id),
            func.coalesce(func.sum(Remedy.amount), 0),
            func.coalesce(func.sum(Remedy.cost), 0),
        )
        .join(Complaint, Complaint.id == Remedy.complaint_id)
        .group_by(Remedy.kind)
        .order_by(Remedy.kind),
        scope,
    )
    rows = [
        {
            "kind": k,
            "count": n,
            "amount": format(Decimal(a).quantize(Decimal("0.01")), "f"),
            "cost": format(Decimal(c).quantize(Decimal("0.01")), "f"),
        }
        for k, n, a, c in session.execute(stmt)
    ]
    total = sum((Decimal(r["cost"]) for r in rows), Decimal("0.00"))
    return {"by_kind": rows, "total_cost": format(total, "f")}


def recovery(session: Session, scope: Scope | None = None) -> dict:
    """Won back at follow-up, resolution CSAT and "would buy again"."""
    row = session.execute(
        _window(
            select(
                func.count(Complaint.won_back),
                func.sum(case((Complaint.won_back.is_(True), 1), else_=0)),
                func.count(Complaint.csat),
                func.avg(Complaint.csat),
                func.count(Complaint.would_buy_again),
                func.sum(case((Complaint.would_buy_again.is_(True), 1), else_=0)),
            ),
            scope,
        )
    ).one()
    followed, won, answered, csat, wba_n, wba_yes = row
    return {
        "followed_up": int(followed or 0),
        "won_back": int(won or 0),
        "recovery_rate": _share(int(won or 0), int(followed or 0)),
        "csat_answers": int(answered or 0),
        "csat_avg": None if csat is None else round(float(csat), 2),
        "would_buy_again_rate": _share(int(wba_yes or 0), int(wba_n or 0)),
    }


def repurchase(session: Session, scope: Scope | None = None, as_of: datetime | None = None) -> dict:
    """Share of complaints followed by an order within 90 days, by severity and resolution speed.

    Only complaints whose 90-day window has ended by ``as_of`` count, so recent ones do not drag
    the rate down.
    """
    from retento.orders.models import Order

    as_of = as_of or utcnow()
    horizon = plus_days(session, Complaint.received_at, REPURCHASE_DAYS)
    bought = exists().where(
        Order.customer_id == Complaint.customer_id,
        Order.ordered_at > Complaint.received_at,
        Order.ordered_at <= horizon,
        Order.status != "cancelled",
    )
    bought_int = case((bought, 1), else_=0)
    mature = plus_days(session, Complaint.received_at, REPURCHASE_DAYS) <= _as_param(as_of)
    speed = seconds_between(session, Complaint.first_resolved_at, Complaint.received_at)
    whens = []
    for name, lo, hi in SPEED_BUCKETS:
        cond = speed >= lo if hi is None else and_(speed >= lo, speed < hi)
        whens.append((and_(Complaint.first_resolved_at.is_not(None), cond), literal(name)))
    bucket = case(*whens, else_=literal("unresolved"))

    def grouped(key):
        stmt = _window(
            select(key.label("k"), func.count(), func.sum(bought_int))
            .where(mature)
            .group_by(key)
            .order_by(key),
            scope,
        )
        return [
            {
                "group": k,
                "complaints": n,
                "repurchased": int(b or 0),
                "rate": _share(int(b or 0), n),
            }
            for k, n, b in session.execute(stmt)
        ]

    by_severity = grouped(Complaint.severity)
    by_speed = grouped(bucket)
    order = {name: i for i, (name, _, _) in enumerate(SPEED_BUCKETS)}
    by_speed.sort(key=lambda r: order.get(r["group"], len(order)))
    major = [r for r in by_severity if r["group"] >= 3]
    minor = [r for r in by_severity if r["group"] <= 2]
    fast = [r for r in by_speed if r["group"] == "within_1_day"]

    def pooled(rows):
        n = sum(r["complaints"] for r in rows)
        return _share(sum(r["repurchased"] for r in rows), n)

    return {
        "days": REPURCHASE_DAYS,
        "by_severity": by_severity,
        "by_resolution_speed": by_speed,
        "comparison": [
            {"key": "major_problem", "own": pooled(major), **LITERATURE["major_problem"]},
            {"key": "minor_problem", "own": pooled(minor), **LITERATURE["minor_problem"]},
            {"key": "solved_fast", "own": pooled(fast), **LITERATURE["solved_fast"]},
        ],
    }


def _as_param(value: datetime):
    """A timestamp parameter bound the way the backend stores timestamps."""
    return bindparam("as_of", value, type_=UTCDateTime())


def silent_dissatisfied(session: Session, scope: Scope | None = None) -> dict:
    """Only 1 of 25 dissatisfied customers complains: the estimate behind the visible ones."""
    n, customers = session.execute(
        _window(select(func.count(), func.count(func.distinct(Complaint.customer_id))), scope)
    ).one()
    base = session.scalar(select(func.count()).where(Customer.archived_at.is_(None))) or 0
    raw = customers * SILENT_MULTIPLIER
    return {
        "complaints": n,
        "complaining_customers": customers,
        "multiplier": SILENT_MULTIPLIER,
        "estimate": n * SILENT_MULTIPLIER,
        # The rule of thumb cannot find more unhappy customers than there are: where it would,
        # complainers are simply common here, and the estimate stops at the customer base.
        "estimate_customers": min(raw, max(base, customers)),
        "estimate_uncapped": raw,
        "customer_base": base,
        "capped": raw > max(base, customers),
    }


def monthly(session: Session, scope: Scope | None = None) -> list[dict]:
    """Complaints per month (received)."""
    if _is_pg(session):
        month = func.to_char(func.date_trunc("month", Complaint.received_at), "YYYY-MM")
    else:
        month = func.strftime("%Y-%m", Complaint.received_at)
    stmt = _window(select(month.label("m"), func.count()).group_by(month).order_by(month), scope)
    return [{"month": m, "count": n} for m, n in session.execute(stmt)]


def dashboard(
    session: Session,
    *,
    actor: User,
    since: datetime | None = None,
    until: datetime | None = None,
    value_class: str | None = None,
    channel: str | None = None,
    category: str | None = None,
    as_of: datetime | None = None,
) -> dict:
    """Every figure of the complaints dashboard in one dictionary (JSON-ready), for the
    complaints received in ``[since, until)`` and, when given, of one value class, channel and
    category (with its sub-categories)."""
    require(actor, "complaint:read")
    scope = make_scope(
        session,
        since=since,
        until=until,
        value_class=value_class,
        channel=channel,
        category=category,
    )
    return {
        "since": since,
        "until": until,
        "filters": {
            "value_class": scope.value_class,
            "channel": scope.channel,
            "category": scope.category,
        },
        "volume": volume(session, scope),
        "monthly": monthly(session, scope),
        "pareto": pareto(session, scope),
        "times": response_times(session, scope),
        "remedies": remedies(session, scope),
        "recovery": recovery(session, scope),
        "repurchase": repurchase(session, scope, as_of=as_of),
        "silent_dissatisfied": silent_dissatisfied(session, scope),
    }
