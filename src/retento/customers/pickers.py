"""The customer picker's source: search by name (any part, Chinese given names included), email,
phone digits, customer number, external id or contact (``customers.search``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.customers import search
from retento.customers.models import Customer
from retento.web.i18n import N_
from retento.web.pickers import PickerItem, PickerSource, register_picker


def item(c: Customer) -> PickerItem:
    """A customer as a picker option: the name, then number, external id, phone and email."""
    parts = [f"#{c.id}", c.external_id, c.phone, c.email, c.city]
    return PickerItem(
        id=c.id,
        label=c.name,
        detail=" · ".join(p for p in parts if p),
        note=N_("Archived") if c.archived_at is not None else "",
    )


def find(session: Session, q: str, actor: User, limit: int) -> list[PickerItem]:
    """The best ``limit`` active customers matching ``q``."""
    return [item(c) for c, _ in search.search(session, q, limit=limit)]


def find_sure(session: Session, q: str, actor: User, limit: int) -> list[PickerItem]:
    """Like ``find`` without fuzzy guesses (a typo'd name is offered, never taken unseen)."""
    fuzzy = 2.5  # search.rank_label: exact 0 (a contact's 0.5), prefix 1, substring 2, fuzzy 3..4
    return [item(c) for c, rank in search.search(session, q, limit=limit) if rank < fuzzy]


def get(session: Session, customer_id: int, actor: User) -> PickerItem | None:
    c = session.get(Customer, customer_id)
    return item(c) if c is not None else None


register_picker(
    PickerSource(
        "customer",
        "customer:read",
        search=find,
        get=get,
        sure_search=find_sure,
        placeholder=N_("Name, phone, email or customer number"),
        no_match=N_("No customer matches “%(q)s”."),
        many=N_(
            "%(n)s customers match “%(q)s”: choose one from the list or type the number shown "
            "on the customer page."
        ),
    )
)
