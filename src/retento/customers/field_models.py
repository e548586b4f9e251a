"""Custom field definitions: the fields an administrator defines for customer records.

The values stay in ``customers.custom_fields`` (a JSON object keyed by the definition's key);
``customers.field_values`` checks and converts them against these definitions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column

#: text, number (a Decimal kept as a string), date (ISO), yes/no (JSON true/false), choice.
FIELD_TYPES = ("text", "number", "date", "boolean", "choice")


class CustomFieldDefinition(Base):
    __tablename__ = "custom_field_definitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The key in ``customers.custom_fields``: a slug, unique, never changed after creation.
    key: Mapped[str] = mapped_column(String(50), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    label_zh: Mapped[str | None] = mapped_column(String(100))
    # Fixed at creation too: stored values keep the shape of their type.
    field_type: Mapped[str] = mapped_column(String(20))
    # Choice fields: [{"value": "Gold", "label_zh": "金卡"}, ...] (the value is what is stored).
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # Retired fields leave the forms; values already stored stay visible on the 360 page.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    def label_for(self, locale: str) -> str:
        """The label in the reader's language (the English one when no Chinese one is set)."""
        if locale.startswith("zh") and self.label_zh:
            return self.label_zh
        return self.label

    def choice_options(self, locale: str) -> list[tuple[str, str]]:
        """``(value, label in the reader's language)`` of each option, for a select."""
        return [(str(o["value"]), self.option_label(o["value"], locale)) for o in self.options]

    def option_label(self, value: Any, locale: str) -> str:
        """A choice's label in the reader's language; a value no longer listed, as stored."""
        for o in self.options or []:
            if o.get("value") == value:
                if locale.startswith("zh") and o.get("label_zh"):
                    return str(o["label_zh"])
                return str(o["value"])
        return str(value)
