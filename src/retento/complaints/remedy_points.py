"""Whether a complaint's remedy may give loyalty points (no database, no domain imports).

The loyalty programme registers a provider: ``register_points_provider(fn)`` with
``fn(session, customer_id) -> bool`` (the programme is on and the customer is a member). The
complaint page offers "Loyalty points" as a compensation, and its points field, only when a
provider says yes; with none registered (no loyalty programme) it offers neither. The service
still refuses a points remedy the programme cannot post (``loyalty.events.award_remedy``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

PointsProvider = Callable[[Session, int], bool]
_PROVIDERS: list[PointsProvider] = []


def register_points_provider(fn: PointsProvider) -> None:
    """Let another domain say whether a customer can be given points (once per function)."""
    if fn not in _PROVIDERS:
        _PROVIDERS.append(fn)


def points_offered(session: Session, customer_id: int | None) -> bool:
    """Whether a remedy for the customer may give loyalty points: a provider says so."""
    if customer_id is None:
        return False
    return any(fn(session, customer_id) for fn in _PROVIDERS)
