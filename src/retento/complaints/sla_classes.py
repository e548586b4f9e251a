"""Who decides a customer's SLA class besides the value score (no database, no domain imports).

Other domains register a provider, e.g. the loyalty programme with the member's tier SLA class:
``register_sla_class_provider(fn)`` with ``fn(session, customer_id) -> value class or None``.
The first provider that answers with a known value class wins over the customer's scored value
class when the complaint's SLA policy is chosen (``sla_clocks.refresh_sla``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from retento.complaints.policies import VALUE_CLASSES

SlaClassProvider = Callable[[Session, int], str | None]
_PROVIDERS: list[SlaClassProvider] = []


def register_sla_class_provider(fn: SlaClassProvider) -> None:
    """Let another domain choose the SLA class of a customer's complaints (once per function)."""
    if fn not in _PROVIDERS:
        _PROVIDERS.append(fn)


def provided_class(session: Session, customer_id: int | None) -> str | None:
    """The first provider's known value class for the customer, or None."""
    if customer_id is None:
        return None
    for fn in _PROVIDERS:
        cls = fn(session, customer_id)
        if cls in VALUE_CLASSES:
            return cls
    return None
