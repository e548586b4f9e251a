"""Web export of the scored-customer list (/value/customers): the current filter as CSV or XLSX."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.pagination import apply_sort
from retento.customers.models import Customer
from retento.dataio.downloads import Batches, download
from retento.scoring import service
from retento.scoring.models import CustomerScore
from retento.scoring.pages_scores import _score_filters
from retento.web.render import PageUser, page_router, tr

router = page_router()

BATCH = 5_000
HEADER = [
    "run_id", "customer_id", "customer_external_id", "customer_name", "value_class", "label",
    "loyalty_stage", "order_count", "first_order_on", "last_order_on", "revenue", "profit",
    "p_alive", "churn_risk", "expected_purchases", "expected_spend", "clv", "rfm_cell", "lapsed",
]  # fmt: skip


def _producer(filters: dict[str, Any]):
    def produce(session: Session, actor: User) -> Batches:
        run, filtered = service.scores_query(session, actor=actor, **filters)
        s = CustomerScore
        stmt = (
            select(
                s.run_id,
                s.customer_id,
                Customer.external_id,
                Customer.name,
                s.value_class,
                s.label,
                s.loyalty_stage,
                s.order_count,
                s.first_order_on,
                s.last_order_on,
                s.revenue,
                s.profit,
                s.p_alive,
                s.churn_risk,
                s.expected_purchases,
                s.expected_spend,
                s.clv,
                s.rfm_cell,
                s.lapsed,
            )  # fmt: skip
            .join(Customer, Customer.id == s.customer_id)
            .where(s.id.in_(filtered.with_only_columns(s.id).order_by(None)))
        )
        stmt = apply_sort(stmt, filters.get("sort"), service.SORTABLE, s.customer_id)
        yield [HEADER]
        result = session.execute(stmt.execution_options(yield_per=BATCH))
        for part in result.partitions():
            yield [list(r) for r in part]

    return produce


def _export(request: Request, session: Session, user: User, fmt: str) -> Response:
    require(user, "score:read")
    filters, _ = _score_filters(request)
    # A missing run is a 404 now, not a broken download later.
    service.scores_query(session, actor=user, **filters)
    return download(
        request, user, _producer(filters), fmt=fmt, filename="scored-customers",
        sheet=tr(request, "Scored customers"),
    )  # fmt: skip


@router.get("/value/customers/export.csv")
def scores_export_csv(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered scored customers as CSV (UTF-8 with BOM), streamed."""
    require(user, "data:export")
    return _export(request, session, user, "csv")


@router.get("/value/customers/export.xlsx")
def scores_export_xlsx(request: Request, session: DbSession, user: PageUser) -> Response:
    """The filtered scored customers as an Excel workbook (money and probabilities as numbers)."""
    require(user, "data:export")
    return _export(request, session, user, "xlsx")
