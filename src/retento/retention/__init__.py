"""Churn early warning and win-back (客户流失与预警): rules, alerts, playbooks, tasks, uplift.

Importing the package subscribes it to the events of the lower domains (they never import it):
a new order settles win-back cases and closes lapse alerts; an SLA breach, an answered survey
and a loyalty tier change re-evaluate the warning rules for that one customer at once.
"""

from __future__ import annotations

import logging

from retento.core.hooks import subscribe
from retento.web.i18n import N_
from retento.web.labels import register_labels

register_labels(
    "mail_kind",
    {"retention_alert": N_("Retention warning"), "retention_winback": N_("Win-back email")},
)
register_labels(
    "entity",
    {
        "retention_config": N_("Retention settings"),
        "retention_rule": N_("Warning rule"),
        "retention_alert": N_("Retention alert"),
        "retention_playbook": N_("Playbook"),
        "retention_case": N_("Win-back case"),
        "retention_task": N_("Win-back task"),
    },
)


log = logging.getLogger("retento.retention")


def _best_effort(what: str, fn, session, *args, **kwargs) -> None:
    """Run ``fn`` in a savepoint: a failure here must not undo the caller's work (the survey
    answer, the escalation, the order); the scheduled jobs catch up on their next run."""
    try:
        with session.begin_nested():
            fn(session, *args, **kwargs)
    except Exception:
        log.exception("retention: %s failed; the scheduled job will catch up", what)


def _evaluate(session, customer_id: int | None, rules: list[str], now=None) -> None:
    """Evaluate ``rules`` for one customer at ``now`` (the event's own time when it has one)."""
    if customer_id is None:
        return
    from retento.retention.service import evaluate

    _best_effort(
        f"evaluating {rules}", evaluate, session, customer_ids=[customer_id], rules=rules, now=now
    )


def _order_created(session, *, order, **_):
    from retento.retention.outcomes import on_orders

    _best_effort("recording an order", on_orders, session, [order])


def _orders_imported(session, *, order_ids, **_):
    from sqlalchemy import or_, select

    from retento.orders.models import Order
    from retento.retention.models import RetentionAlert, RetentionCase
    from retento.retention.outcomes import CLOSED_BY_ORDER, on_orders

    # Only customers with a case still counting orders, or a lapse alert an order closes, are
    # touched; the orders are read as plain rows (an import of 1M lines spent ~40 % of its time
    # loading every new order as an ORM object here).
    with_case = select(RetentionCase.customer_id).where(
        RetentionCase.outcome.in_(("pending", "came_back"))
    )
    with_alert = select(RetentionAlert.customer_id).where(
        RetentionAlert.rule.in_(CLOSED_BY_ORDER), RetentionAlert.status != "closed"
    )

    def record(session, ids: list[int]) -> None:
        if not ids:
            return
        # One query over the few customers with a case or alert, bounded by the imported ids'
        # range (orders written meanwhile by others fall in it and are dropped here), instead of
        # hundreds of 1,000-id IN lists; earliest first, so came_back_at is the first order.
        wanted = set(ids)
        rows = session.execute(
            select(Order.id, Order.customer_id, Order.ordered_at, Order.status, Order.revenue)
            .where(
                Order.id.between(min(wanted), max(wanted)),
                or_(Order.customer_id.in_(with_case), Order.customer_id.in_(with_alert)),
            )
            .order_by(Order.ordered_at, Order.id)
        ).all()
        rows = [r for r in rows if r.id in wanted]
        if rows:
            on_orders(session, rows)

    _best_effort("recording imported orders", record, session, list(order_ids))


def _sla_breached(session, *, complaint, **_):
    _evaluate(session, complaint.customer_id, ["complaint"])


def _survey_answered(session, *, response, **_):
    _evaluate(session, response.customer_id, ["survey"])


def _tier_changed(session, *, change, **_):
    # Only a downgrade can raise a tier_downgrade alert (rules.tier_downgrade): an upgrade or a
    # first tier, most changes during an order import, needs no evaluation (~4.5 ms each).
    if _is_downgrade(session, change):
        _evaluate(session, change.customer_id, ["tier_downgrade"], now=change.at)


def _is_downgrade(session, change) -> bool:
    """The change left a tier for a lower one or for none (what ``rules.tier_downgrade`` reads)."""
    from retento.loyalty.models import LoyaltyTier

    if change.from_tier_id is None:
        return False
    if change.to_tier_id is None:
        return True
    frm = session.get(LoyaltyTier, change.from_tier_id)
    to = session.get(LoyaltyTier, change.to_tier_id)
    return frm is not None and to is not None and to.rank < frm.rank


subscribe("order.created", _order_created)
subscribe("orders.imported", _orders_imported)
subscribe("complaint.sla_breached", _sla_breached)
subscribe("survey.answered", _survey_answered)
subscribe("loyalty.tier_changed", _tier_changed)

# The customer timeline's churn-warning and win-back entries (retento.customers.timeline).
# The win-back offer's ledger reason, shown in the reader's language (retento.web.system_texts).
from retento.retention import system_texts as _system_texts  # noqa: E402,F401
from retento.retention import timeline as _timeline  # noqa: E402,F401
