"""Loyalty programme (客户忠诚): points ledger, lots, tiers, rules, rewards, member clubs.

Importing the package subscribes it to the order, complaint and survey events, so every way an
order is made (API, web, import) earns, and every refund reverses, through one code path.
"""

from __future__ import annotations

from retento.core.hooks import subscribe


def _order_created(session, *, order, actor=None, **_):
    from retento.loyalty.earning import earn_for_order

    earn_for_order(session, order, actor_id=actor.id if actor else None)


def _orders_imported(session, *, order_ids, actor=None, **_):
    from retento.loyalty import earning_jobs

    earning_jobs.earn_or_queue(session, order_ids, actor_id=actor.id if actor else None)


def _order_refunded(session, *, order, refund, actor=None, **_):
    from retento.loyalty.earning import reverse_for_refund

    reverse_for_refund(session, order, refund, actor_id=actor.id if actor else None)


def _remedy(session, *, remedy, complaint, actor=None, **_):
    if remedy.compensation_type != "loyalty_points" or not remedy.points:
        return
    from retento.loyalty.events import award_remedy

    award_remedy(session, remedy, complaint, actor_id=actor.id if actor else None)


def _survey_answered(session, *, response, actor=None, **_):
    if response.customer_id is None:
        return
    from retento.core.errors import Conflict
    from retento.customers.guard import check_not_merged
    from retento.loyalty.earning import award_event

    try:
        # An answer through a link of an invitation that stayed with a merged duplicate (the
        # survivor had one of the same distribution) is kept, and earns nothing.
        check_not_merged(session, response.customer_id)
    except Conflict:
        return

    award_event(
        session,
        response.customer_id,
        "survey_answered",
        source_type="survey",
        source_id=response.id,
        actor_id=actor.id if actor else None,
    )


def _order_changed(session, *, order, actor=None, **_):
    from retento.loyalty.corrections import reverse_for_change

    reverse_for_change(session, order, actor_id=actor.id if actor else None)


def _orders_updated(session, *, order_ids, actor=None, **_):
    from retento.loyalty.corrections import reverse_for_changed

    reverse_for_changed(session, order_ids, actor_id=actor.id if actor else None)


def _tier_sla_class(session, customer_id: int) -> str | None:
    """A member's tier SLA class (complaint SLA policy selection)."""
    from sqlalchemy import select

    from retento.loyalty.models import LoyaltyAccount, LoyaltyTier

    return session.scalar(
        select(LoyaltyTier.sla_class)
        .join(LoyaltyAccount, LoyaltyAccount.tier_id == LoyaltyTier.id)
        .where(LoyaltyAccount.customer_id == customer_id)
    )


def _takes_points(session, customer_id: int) -> bool:
    """Whether a complaint remedy may give the customer points: the programme is on and the
    customer is a member (``events.award_remedy`` refuses the others)."""
    from retento.loyalty import ledger

    return ledger.programme(session).active and ledger.get_wallet(session, customer_id) is not None


def _privacy_export(session, customer_id: int):
    from retento.loyalty.privacy import export_sections

    return export_sections(session, customer_id)


def _privacy_erase(session, customer, redactor):
    from retento.loyalty.privacy import erase

    return erase(session, customer, redactor)


def _register_providers() -> None:
    """Complaints and the customer privacy export ask loyalty through registries (they never
    import loyalty)."""
    from retento.complaints.remedy_points import register_points_provider
    from retento.complaints.sla_classes import register_sla_class_provider
    from retento.customers.privacy import register_erasure, register_export

    register_sla_class_provider(_tier_sla_class)
    register_points_provider(_takes_points)
    register_export(_privacy_export)
    register_erasure(_privacy_erase)


subscribe("order.created", _order_created)
subscribe("orders.imported", _orders_imported)
subscribe("order.refunded", _order_refunded)
subscribe("complaint.remedy", _remedy)
subscribe("survey.answered", _survey_answered)
subscribe("order.cancelled", _order_changed)
subscribe("order.changed", _order_changed)
subscribe("orders.updated", _orders_updated)
_register_providers()

# Churn features for scoring runs (retento.scoring.features registry).
from retento.loyalty import churn_features as _churn_features  # noqa: E402,F401
from retento.loyalty import merge as _merge  # noqa: E402,F401  (subscribes to customer.merge)

# The tier change's touchpoint note, shown in the reader's language (retento.web.system_texts).
from retento.loyalty import system_texts as _system_texts  # noqa: E402,F401

# The customer timeline's loyalty entries (retento.customers.timeline registry).
from retento.loyalty import timeline as _timeline  # noqa: E402,F401
