"""API: market-basket runs (association rules) and cross-sell suggestions."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from retento.auth.permissions import require
from retento.core.deps import CurrentUser, DbSession
from retento.core.errors import InvalidInput, NotFound
from retento.core.validation import DbId
from retento.insights import basket_service, runs
from retento.insights.schemas import BasketRunIn, CrossSell, RunRead

router = APIRouter(prefix="/api/v1/insights/baskets", tags=["insights"])


@router.post("/runs", response_model=RunRead, status_code=201)
def run_baskets(data: BasketRunIn, request: Request, session: DbSession, user: CurrentUser):
    """Mine association rules on the order lines (top 500 rules by lift kept). Small data: the
    result at once; larger: status running, poll ``GET /runs/{id}``."""
    params = data.model_dump()
    params["since"] = data.since.isoformat() if data.since else None
    run = basket_service.start_run(session, request.app.state.session_factory, params, actor=user)
    return runs.run_dict(run)


@router.get("/runs/{run_id}", response_model=RunRead)
def get_basket_run(run_id: DbId, session: DbSession, user: CurrentUser):
    require(user, "score:read")
    return runs.run_dict(runs.get_run(session, run_id, basket_service.KIND))


@router.get("/latest", response_model=RunRead)
def latest_basket_run(
    session: DbSession,
    user: CurrentUser,
    level: str = Query("product", pattern="^(product|category)$"),
):
    """The latest successful run at ``level``."""
    require(user, "score:read")
    run = runs.latest_run(session, basket_service.KIND, level=level)
    if run is None:
        raise NotFound("Basket run at level", level, field="level")
    return runs.run_dict(run)


@router.get("/cross-sell", response_model=CrossSell)
def cross_sell(
    session: DbSession,
    user: CurrentUser,
    product_id: DbId | None = None,
    customer_id: DbId | None = None,
):
    """Up to five products to suggest with a product or to a customer (from the latest
    product-level run's rules, best lift first)."""
    require(user, "score:read")
    if (product_id is None) == (customer_id is None):
        raise InvalidInput("Give exactly one of product_id and customer_id.", field="product_id")
    if product_id is not None:
        run, items = basket_service.cross_sell_for_product(session, product_id)
    else:
        from retento.customers.service import get_customer

        get_customer(session, customer_id, actor=user)
        run, items = basket_service.cross_sell_for_customer(session, customer_id)
    return CrossSell(run_id=run.id if run else None, items=items)
