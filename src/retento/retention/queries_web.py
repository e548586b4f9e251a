"""Read-only queries behind the retention web pages that need only the scoring data: the at-risk
list, value at risk by class and the churn-rate trend over scoring runs.

Value at risk of a customer = CLV × churn risk (the CLV expected to be lost if nothing is done).
The scoring store step writes it per score row (``CustomerScore.value_at_risk``, money rounded to
cents, NULL without CLV or risk) together with the strongest reason's code
(``CustomerScore.churn_top_reason``), so the list sorts on the index (run_id, value_at_risk) and
the reason filter uses (run_id, churn_top_reason, value_at_risk) instead of reading every score row
of the run. Customers without a value at risk (no CLV) come after all others, by customer id.

The reason filter matches the strongest reason (fast path); with ``any_rank`` it also matches the
2nd and 3rd reason, which reads the JSON of every score row of the run (slow path).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import InvalidInput, Msg
from retento.core.money import to_money
from retento.customers.models import Customer
from retento.scoring.consent import profiled_customer_sql
from retento.scoring.models import VALUE_CLASSES, CustomerScore, ScoreRun
from retento.scoring.models import value_at_risk as compute_value_at_risk

# churn_reasons holds at most this many reasons per customer (strongest first).
MAX_REASONS = 3
HIGH_RISK = 0.5  # "at risk" on the dashboard: churn risk of 50 % or more
TREND_RUNS = 24

VAR = CustomerScore.value_at_risk
TOP_REASON = CustomerScore.churn_top_reason
VAR_SUM = func.sum(VAR)

HIGH_CASE = case((CustomerScore.churn_risk >= HIGH_RISK, 1), else_=0)

SORTS = {
    # The page reads customers with a value at risk first (index order), then those without.
    "value_at_risk": (case((VAR.is_(None), 1), else_=0), VAR.desc()),
    "risk": (CustomerScore.churn_risk.desc(),),
    "clv": (func.coalesce(CustomerScore.clv, 0).desc(),),
}


def money(value: Any) -> Decimal:
    """A SQL sum or product (Decimal or float, or NULL) as money rounded to cents."""
    if value is None:
        return Decimal("0.00")
    return to_money(Decimal(str(value)).quantize(Decimal("0.01")))


def latest_risk_run(session: Session) -> ScoreRun | None:
    """The latest successful scoring run that stored churn risk for at least one customer."""
    has_risk = (
        select(CustomerScore.id)
        .where(CustomerScore.run_id == ScoreRun.id, CustomerScore.churn_risk.is_not(None))
        .exists()
    )
    stmt = (
        select(ScoreRun)
        .where(ScoreRun.status == "succeeded", has_risk)
        .order_by(ScoreRun.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def newer_run_without_risk(session: Session, run: ScoreRun | None) -> ScoreRun | None:
    """A successful run newer than ``run`` whose churn model could not be trained, if any."""
    stmt = select(ScoreRun).where(ScoreRun.status == "succeeded")
    if run is not None:
        stmt = stmt.where(ScoreRun.id > run.id)
    return session.scalar(stmt.order_by(ScoreRun.id.desc()).limit(1))


@dataclass(frozen=True)
class AtRiskFilters:
    """The at-risk list's filters (already validated)."""

    value_class: str | None = None
    owner_id: int | None = None
    unowned: bool = False
    reason: str | None = None
    min_risk: float | None = None
    sort: str = "value_at_risk"
    # False: ``reason`` must be the strongest reason (indexed); True: any of the three (slow).
    any_rank: bool = False


@dataclass
class AtRiskRow:
    """One customer of the at-risk list."""

    customer_id: int
    name: str
    external_id: str | None
    owner_id: int | None
    owner_name: str | None
    value_class: str
    clv: Decimal | None
    churn_risk: float
    value_at_risk: Decimal
    reasons: list[dict[str, Any]]
    last_order_on: date | None
    order_count: int
    p_alive: float | None


ROW_COLUMNS = (
    CustomerScore.customer_id,
    Customer.name,
    Customer.external_id,
    Customer.owner_id,
    CustomerScore.value_class,
    CustomerScore.clv,
    CustomerScore.churn_risk,
    CustomerScore.churn_reasons,
    CustomerScore.value_at_risk,
    CustomerScore.last_order_on,
    CustomerScore.order_count,
    CustomerScore.p_alive,
)


def _reason_code(i: int):
    return CustomerScore.churn_reasons[(i, "code")].as_string()


def _filtered(run_id: int, f: AtRiskFilters) -> Select:
    if f.value_class is not None and f.value_class not in VALUE_CLASSES:
        raise InvalidInput(
            Msg("value_class must be one of %(choices)s.", choices=", ".join(VALUE_CLASSES)),
            field="value_class",
        )
    if f.sort not in SORTS:
        raise InvalidInput(
            Msg("sort must be one of %(choices)s.", choices=", ".join(SORTS)), field="sort"
        )
    conds = [
        CustomerScore.run_id == run_id,
        CustomerScore.churn_risk.is_not(None),
        Customer.archived_at.is_(None),
        # "Profiling needs the customer's consent" (scoring.consent): not on the list without it.
        profiled_customer_sql(),
    ]
    if f.value_class:
        conds.append(CustomerScore.value_class == f.value_class)
    if f.unowned:
        conds.append(Customer.owner_id.is_(None))
    elif f.owner_id is not None:
        conds.append(Customer.owner_id == f.owner_id)
    if f.reason and f.any_rank:
        later = (_reason_code(i) == f.reason for i in range(1, MAX_REASONS))
        conds.append(or_(TOP_REASON == f.reason, *later))
    elif f.reason:
        conds.append(TOP_REASON == f.reason)
    if f.min_risk is not None:
        conds.append(CustomerScore.churn_risk >= f.min_risk)
    # Plain columns, not ORM entities: an export reads every row of a run.
    return (
        select(*ROW_COLUMNS)
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .where(and_(*conds))
    )


def _owner_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(ids))
    ).all()
    return {uid: (dn or un) for uid, dn, un in rows}


def _row(r: Any, owners: dict[int, str]) -> AtRiskRow:
    risk = float(r.churn_risk or 0.0)
    stored = r.value_at_risk
    if stored is None:
        stored = compute_value_at_risk(r.clv, r.churn_risk)
    var = money(stored)
    return AtRiskRow(
        customer_id=r.customer_id,
        name=r.name,
        external_id=r.external_id,
        owner_id=r.owner_id,
        owner_name=owners.get(r.owner_id) if r.owner_id is not None else None,
        value_class=r.value_class,
        clv=r.clv,
        churn_risk=risk,
        value_at_risk=var,
        reasons=list(r.churn_reasons or []),
        last_order_on=r.last_order_on,
        order_count=r.order_count,
        p_alive=r.p_alive,
    )


def at_risk(
    session: Session,
    run_id: int,
    filters: AtRiskFilters,
    *,
    actor: User,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AtRiskRow], int, Decimal]:
    """One page of the at-risk list, the number of matching customers and their value at risk."""
    require(actor, "score:read")
    stmt = _filtered(run_id, filters)
    total, with_var, var_sum = session.execute(
        stmt.with_only_columns(func.count(), func.count(VAR), VAR_SUM)
    ).one()
    total, with_var = int(total or 0), int(with_var or 0)
    if filters.sort == "value_at_risk":
        page = _page_by_value(session, stmt, with_var, limit, offset)
    else:
        page = session.execute(
            stmt.order_by(*SORTS[filters.sort], CustomerScore.customer_id)
            .limit(limit)
            .offset(offset)
        ).all()
    owners = _owner_names(session, {r.owner_id for r in page if r.owner_id is not None})
    rows = [_row(r, owners) for r in page]
    return rows, total, money(var_sum)


def _page_by_value(session: Session, stmt: Select, with_var: int, limit: int, offset: int):
    """One page in value-at-risk order as two index-friendly reads: the ``with_var`` customers
    that have a value at risk, highest first (a backward scan of (run_id[, churn_top_reason],
    value_at_risk) that stops after the page), then those without one, by customer id."""
    page: list[Any] = []
    if offset < with_var:
        page = list(
            session.execute(
                stmt.where(VAR.is_not(None))
                .order_by(VAR.desc(), CustomerScore.customer_id)
                .limit(limit)
                .offset(offset)
            ).all()
        )
    if len(page) < limit:
        page += session.execute(
            stmt.where(VAR.is_(None))
            .order_by(CustomerScore.customer_id)
            .limit(limit - len(page))
            .offset(max(0, offset - with_var))
        ).all()
    return page


def iter_at_risk(
    session: Session, run_id: int, filters: AtRiskFilters, *, actor: User, batch: int = 2000
):
    """Every row of the filtered at-risk list, in list order, read in batches (for exports)."""
    require(actor, "score:read")
    stmt = _filtered(run_id, filters).order_by(*SORTS[filters.sort], CustomerScore.customer_id)
    result = session.execute(stmt.execution_options(yield_per=batch))
    for part in result.partitions():
        owners = _owner_names(session, {r.owner_id for r in part if r.owner_id is not None})
        for r in part:
            yield _row(r, owners)


@dataclass
class ClassRisk:
    """Value at risk of one value class in one run."""

    value_class: str
    customers: int
    at_risk: int
    value_at_risk: Decimal
    clv: Decimal
    mean_risk: float | None


def value_at_risk_by_class(session: Session, run_id: int, *, actor: User) -> list[ClassRisk]:
    """Per value class: customers scored, how many have risk ≥ 50 %, CLV and value at risk."""
    require(actor, "score:read")
    high = func.sum(HIGH_CASE)
    stmt = (
        select(
            CustomerScore.value_class,
            func.count(CustomerScore.id),
            high,
            VAR_SUM,
            func.sum(func.coalesce(CustomerScore.clv, 0)),
            func.avg(CustomerScore.churn_risk),
        )
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .where(
            CustomerScore.run_id == run_id,
            CustomerScore.churn_risk.is_not(None),
            Customer.archived_at.is_(None),
        )
        .group_by(CustomerScore.value_class)
    )
    found = {
        vc: ClassRisk(
            vc,
            int(n or 0),
            int(h or 0),
            money(var),
            money(clv),
            float(mean) if mean is not None else None,
        )
        for vc, n, h, var, clv, mean in session.execute(stmt).all()
    }
    return [found.get(vc) or ClassRisk(vc, 0, 0, money(0), money(0), None) for vc in VALUE_CLASSES]


def reason_counts(session: Session, run_id: int, *, actor: User) -> list[tuple[str, int]]:
    """How often each reason is the strongest one, among customers with risk ≥ 50 %."""
    require(actor, "score:read")
    code = TOP_REASON
    stmt = (
        select(code, func.count())
        .where(
            CustomerScore.run_id == run_id,
            CustomerScore.churn_risk >= HIGH_RISK,
            code.is_not(None),
        )
        .group_by(code)
        .order_by(func.count().desc(), code)
    )
    return [(c, int(n)) for c, n in session.execute(stmt).all() if c]


@dataclass
class TrendPoint:
    """Churn figures of one scoring run."""

    run_id: int
    as_of: date
    customers: int
    mean_risk: float
    high_share: float
    value_at_risk: Decimal


def churn_trend(session: Session, *, actor: User, runs: int = TREND_RUNS) -> list[TrendPoint]:
    """Expected churn rate (mean risk), share at high risk and value at risk of the latest
    ``runs`` successful scoring runs that stored churn risk, oldest first."""
    require(actor, "score:read")
    high = func.sum(HIGH_CASE)
    stmt = (
        select(
            ScoreRun.id,
            ScoreRun.as_of,
            func.count(CustomerScore.id),
            func.avg(CustomerScore.churn_risk),
            high,
            VAR_SUM,
        )
        .join(CustomerScore, CustomerScore.run_id == ScoreRun.id)
        .where(ScoreRun.status == "succeeded", CustomerScore.churn_risk.is_not(None))
        .group_by(ScoreRun.id, ScoreRun.as_of)
        .order_by(ScoreRun.id.desc())
        .limit(runs)
    )
    out = [
        TrendPoint(
            run_id=rid,
            as_of=as_of.date(),
            customers=int(n),
            mean_risk=float(mean or 0.0),
            high_share=float(h or 0) / int(n) if n else 0.0,
            value_at_risk=money(var),
        )
        for rid, as_of, n, mean, h, var in session.execute(stmt).all()
    ]
    return list(reversed(out))
