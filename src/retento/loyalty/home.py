"""Loyalty numbers for a period and a customer segment (the dashboard's filters)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from retento.loyalty.models import LoyaltyAccount, LoyaltyTier


def filtered_members(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    customers: Select | None,
    locale: str = "en",
) -> dict[str, Any]:
    """Members of the segment (all when ``customers`` is None): how many, how many were active
    and how many joined in ``[start, end)``, their outstanding points and tiers (named in
    ``locale``)."""
    where = [LoyaltyAccount.customer_id.is_not(None)]
    if customers is not None:
        where.append(LoyaltyAccount.customer_id.in_(customers))
    if start is not None and end is not None:
        active = case(
            (
                (LoyaltyAccount.last_activity_at >= start)
                & (LoyaltyAccount.last_activity_at < end),
                1,
            ),
            else_=0,
        )
        joined = case(
            ((LoyaltyAccount.joined_at >= start) & (LoyaltyAccount.joined_at < end), 1), else_=0
        )
    else:
        active = case((LoyaltyAccount.last_activity_at.is_not(None), 1), else_=0)
        joined = case((LoyaltyAccount.joined_at.is_not(None), 1), else_=0)
    members, n_active, n_joined, points = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(active), 0),
            func.coalesce(func.sum(joined), 0),
            func.coalesce(func.sum(LoyaltyAccount.balance), 0),
        ).where(*where)
    ).one()
    names = {t.id: t.name_in(locale) for t in session.scalars(select(LoyaltyTier))}
    tiers = session.execute(
        select(LoyaltyAccount.tier_id, func.count())
        .where(*where)
        .group_by(LoyaltyAccount.tier_id)
        .order_by(func.count().desc())
    ).all()
    return {
        "members": int(members or 0),
        "active": int(n_active or 0),
        "joined": int(n_joined or 0),
        "points": int(points or 0),
        "tiers": [(names.get(tid, "—") if tid else "—", int(n)) for tid, n in tiers],
    }
