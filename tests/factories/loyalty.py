"""Loyalty test set-up: an active programme with a spend rule (1 point per currency unit)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyRule, LoyaltyTier


def make_programme(session: Session, *, rate: str = "1", **settings) -> None:
    """Activate the programme with one spend rule; ``settings`` override programme fields."""
    import retento.loyalty  # noqa: F401 - subscribes the order hooks

    p = ledger.programme(session)
    p.active = True
    for k, v in settings.items():
        setattr(p, k, v)
    session.add(LoyaltyRule(name="Spend", kind="spend", rate=Decimal(rate), fixed_points=0))
    session.flush()
    ledger.ensure_system_accounts(session)


def make_tiers(session: Session, *specs: tuple[str, int, str]) -> list[LoyaltyTier]:
    """Tiers from (code, threshold, multiplier); rank follows the order given."""
    out = []
    for rank, (code, threshold, mult) in enumerate(specs):
        t = LoyaltyTier(
            code=code,
            name=code.capitalize(),
            rank=rank,
            threshold=threshold,
            multiplier=Decimal(mult),
            grace_days=30,
        )
        session.add(t)
        out.append(t)
    session.flush()
    return out
