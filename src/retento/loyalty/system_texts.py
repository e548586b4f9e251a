"""The loyalty texts the system stores (a tier change's touchpoint note), registered so pages
show them in the reader's language (:mod:`retento.web.system_texts`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from retento.loyalty.tiers import NO_TIER_NOTE, TIER_NOTES
from retento.web.system_texts import register_system_text


def tier_name(value: str, locale: str, session: Any) -> str:
    """A tier's name as stored (in either language) in ``locale``, when the tier still has it."""
    from retento.loyalty.models import LoyaltyTier

    if session is None:
        return value
    tier = session.scalars(
        select(LoyaltyTier)
        .where(or_(LoyaltyTier.name == value, LoyaltyTier.name_zh == value))
        .order_by(LoyaltyTier.id)
        .limit(1)
    ).first()
    return tier.name_in(locale) if tier is not None else value


for _note in TIER_NOTES.values():
    register_system_text(_note, field="touchpoint.note", params={"tier": tier_name})
register_system_text(NO_TIER_NOTE, field="touchpoint.note")
