"""Possible duplicates of a customer about to be created: same email, phone or name.

The check never blocks for good: the web form shows the matches with a "create anyway" button,
the API answers 409 ``possible_duplicate`` with the matches unless ``force=true`` is sent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from retento.core.errors import Msg, RetentoError
from retento.customers.models import Customer
from retento.customers.search import digits

MAX_MATCHES = 10
# A phone matches when the digits are equal, or the stored number ends with the digits typed
# (a number typed without its country code) and at least this many digits were typed.
MIN_SUFFIX_DIGITS = 7


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_duplicates(
    session: Session,
    *,
    name: str | None,
    email: str | None,
    phone: str | None,
    exclude_id: int | None = None,
) -> list[dict[str, Any]]:
    """Active customers with the same email (any case), phone (digits) or name (any case)."""
    key = " ".join((name or "").lower().split())
    mail = (email or "").strip().lower()
    d = digits(phone)
    conds = []
    if key:
        conds.append(Customer.name_key == key)
    if mail:
        conds.append(Customer.email.ilike(_esc(mail), escape="\\"))
    if d:
        conds.append(Customer.phone_digits == d)
        if len(d) >= MIN_SUFFIX_DIGITS:
            conds.append(Customer.phone_digits.like(f"%{d}"))
    if not conds:
        return []
    stmt = select(Customer).where(Customer.archived_at.is_(None), or_(*conds))
    if exclude_id is not None:
        stmt = stmt.where(Customer.id != exclude_id)
    out = []
    for c in session.scalars(stmt.order_by(Customer.id).limit(MAX_MATCHES)):
        reasons = []
        if mail and (c.email or "").lower() == mail:
            reasons.append("email")
        cd = c.phone_digits or digits(c.phone)
        if d and cd and (cd == d or (len(d) >= MIN_SUFFIX_DIGITS and cd.endswith(d))):
            reasons.append("phone")
        if key and c.name_key == key:
            reasons.append("name")
        out.append(
            {
                "id": c.id,
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "external_id": c.external_id,
                "matched_on": reasons,
            }
        )
    return out


class PossibleDuplicate(RetentoError):
    """409 ``possible_duplicate``: send again with ``force=true`` to create anyway."""

    def __init__(self, matches: list[dict[str, Any]]):
        super().__init__(
            409,
            "possible_duplicate",
            Msg(
                "%(n)s existing customer(s) have the same email, phone or name. Send the request "
                "again with force=true to create the customer anyway, or merge.",
                n=len(matches),
            ),
            "force",
        )
        self.matches = matches

    def problem(self) -> dict[str, Any]:
        body = super().problem()
        body["matches"] = self.matches
        return body
