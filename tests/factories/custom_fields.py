"""Custom field definitions for tests whose customers carry custom fields: values the API, the
form and the import accept only for defined fields (customers.field_values)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.customers.field_models import CustomFieldDefinition


def define_fields(session: Session, *keys: str, field_type: str = "text") -> None:
    """Define ``keys`` as active, optional fields (label = key), flushed. A key already
    defined (the built-in ones of migration 0049: ``language``, ``wallet_spend``, …) is kept."""
    existing = set(session.scalars(select(CustomFieldDefinition.key)))
    for n, key in enumerate(keys, start=1):
        if key in existing:
            continue
        session.add(
            CustomFieldDefinition(
                key=key, label=key, field_type=field_type, options=[], position=n * 10
            )
        )
    session.flush()
