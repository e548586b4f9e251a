"""Insights API: propensity to buy a product or category, its holdout quality and invite list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from retento.core.deps import CurrentUser, DbSession
from retento.insights import drivers_queries as q

router = APIRouter(prefix="/api/v1/insights/propensity", tags=["insights"])

Kind = Literal["category", "product"]
Target = Annotated[str, Query(min_length=1, max_length=200)]
Horizon = Annotated[int, Query(ge=7, le=365)]
TopK = Annotated[int, Query(ge=1, le=5000)]
Method = Literal["gb", "logistic"]


@router.get("/targets")
def targets(session: DbSession, user: CurrentUser) -> dict[str, list[str]]:
    """The categories and products a propensity can be computed for."""
    from retento.auth.permissions import require

    require(user, "score:read")
    return q.target_choices(session)


@router.get("")
def propensity(
    session: DbSession,
    user: CurrentUser,
    target: Target,
    kind: Kind = "category",
    horizon_days: Horizon = 90,
    top_k: TopK = 100,
    method: Method = "gb",
) -> dict[str, Any]:
    """Who will buy ``target`` in the next ``horizon_days``: ROC AUC, PR AUC and lift on the
    latest period (the model trained before it) against the "bought it before" baseline, the
    lift per decile, and the ``top_k`` customers to invite. Needs ``score:read``."""
    return q.propensity_report(
        session,
        actor=user,
        kind=kind,
        target=target,
        horizon_days=horizon_days,
        top_k=top_k,
        method=method,
    )


@router.get("/invite.csv")
def invite_csv(
    session: DbSession,
    user: CurrentUser,
    target: Target,
    kind: Kind = "category",
    horizon_days: Horizon = 90,
    top_k: TopK = 100,
    method: Method = "gb",
) -> Response:
    """The invite list as CSV (rank, customer, propensity, earlier purchases, spend)."""
    rep = q.propensity_report(
        session,
        actor=user,
        kind=kind,
        target=target,
        horizon_days=horizon_days,
        top_k=top_k,
        method=method,
    )
    return Response(
        q.invite_csv(rep),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="propensity-invite.csv"'},
    )
