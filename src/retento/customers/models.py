"""Customers (persons or organisations, external or internal), contacts, tags, assignments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, Text, cast, extract, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column

PARTY_TYPES = ("person", "organisation")
EXTERNAL_KINDS = ("consumer", "business")
INTERNAL_KINDS = ("distributor", "supplier", "department", "branch")
KINDS = EXTERNAL_KINDS + INTERNAL_KINDS


def scope_of(kind: str) -> str:
    """``external`` (consumers, businesses) or ``internal`` (内涵客户: partners, departments)."""
    return "internal" if kind in INTERNAL_KINDS else "external"


CONSENTS = ("consent_email", "consent_sms", "consent_phone", "consent_profiling")


class Customer(Base):
    __tablename__ = "customers"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_customers_name_lower", "name_key"),
        Index("ix_customers_owner_kind", "owner_id", "kind"),
        # The list by kind sorted by name (migration 0028: 9.3 s → 0.1 ms at 1M customers).
        Index(
            "ix_customers_kind_name",
            "kind",
            "name_key",
            "id",
            postgresql_where=text("archived_at IS NULL"),
            sqlite_where=text("archived_at IS NULL"),
        ),
        # Substring and fuzzy search (customers/search.py): trigram GIN indexes on PostgreSQL
        # (pg_trgm); on SQLite these are plain b-trees and customer_search_grams does the work.
        *(
            Index(
                f"ix_customers_{col}_trgm",
                col,
                postgresql_using="gin",
                postgresql_ops={col: "gin_trgm_ops"},
            )
            for col in ("name_key", "name_chars", "email", "phone_digits", "external_id")
        ),
        Index("uq_customers_idempotency_key", "idempotency_key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The key of the create request (form key, Idempotency-Key header): a retry returns this row.
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased name kept for fast case-insensitive prefix search on both backends.
    name_key: Mapped[str] = mapped_column(String(200))
    party_type: Mapped[str] = mapped_column(String(20), default="person")
    kind: Mapped[str] = mapped_column(String(20), default="consumer", index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(50), index=True)
    # Search copies written by database triggers (migration 0017) on every write path (ORM,
    # file import, demo, erasure): the phone's digits only, and the name's Chinese characters
    # spaced out (" 王 小 明 ") so that one character is a trigram-indexable word.
    phone_digits: Mapped[str | None] = mapped_column(String(50))
    name_chars: Mapped[str | None] = mapped_column(String(400))
    address: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    acquired_on: Mapped[date | None] = mapped_column(Date)
    # Date of birth (people only: refused for organisations, service.birth_date_problem;
    # migration 0046): the loyalty birthday job awards on its day (``ix_customers_birthday``).
    birth_date: Mapped[date | None] = mapped_column(Date)
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_profiling: Mapped[bool] = mapped_column(Boolean, default=False)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Archived customers are hidden from lists, search, scoring and survey distributions but keep
    # their history; erased ones also had their personal data anonymised (customers/privacy.py).
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    archived_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped by every change, contacts/tags/assignments included (core.versioning).
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="Contact.id"
    )
    tag_rows: Mapped[list[CustomerTag]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerTag.tag"
    )
    assignments: Mapped[list[CustomerAssignment]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )
    owner = relationship("User", foreign_keys=[owner_id], lazy="joined")
    archived_by = relationship("User", foreign_keys=[archived_by_id])

    @property
    def tags(self) -> list[str]:
        return [t.tag for t in self.tag_rows]

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    @property
    def scope(self) -> str:
        return scope_of(self.kind)

    @property
    def assigned_user_ids(self) -> list[int]:
        return [a.user_id for a in self.assignments]


# The birthday job's lookup by month and day of birth (loyalty.events, migration 0050): the
# query compares these very expressions, so both databases answer it from this index
# (``EXTRACT(month FROM birth_date)`` on PostgreSQL, ``CAST(STRFTIME('%m', birth_date) AS
# INTEGER)`` on SQLite) instead of reading every customer.
BIRTH_MONTH = extract("month", Customer.birth_date)
BIRTH_DAY = extract("day", Customer.birth_date)
Index(
    "ix_customers_birthday",
    BIRTH_MONTH,
    BIRTH_DAY,
    postgresql_where=text("birth_date IS NOT NULL"),
    sqlite_where=text("birth_date IS NOT NULL"),
)

# The customer list's custom-field filter (``field_values.filter_clause``, migration 0052): on
# PostgreSQL "has this choice" and "yes" are containment tests on this very expression
# (``custom_fields::jsonb @> '{"tier": "Gold"}'``), answered from a GIN index instead of reading
# every customer. ``jsonb_path_ops`` serves ``@>`` only, and is smaller and faster than the
# default operator class. SQLite has no such index: its filter reads the table.
CUSTOM_FIELDS_JSONB = cast(Customer.custom_fields, JSONB)
Index(
    "ix_customers_custom_fields",
    CUSTOM_FIELDS_JSONB.label("custom_fields_jsonb"),
    postgresql_using="gin",
    postgresql_ops={"custom_fields_jsonb": "jsonb_path_ops"},
).ddl_if(dialect="postgresql")


class Contact(Base):
    __tablename__ = "customer_contacts"
    __table_args__ = (
        # At most one primary contact per customer, whatever writes the rows.
        Index(
            "uq_customer_contacts_primary",
            "customer_id",
            unique=True,
            postgresql_where=text("is_primary"),
            sqlite_where=text("is_primary"),
        ),
        *(
            Index(
                f"ix_customer_contacts_{col}_trgm",
                col,
                postgresql_using="gin",
                postgresql_ops={col: "gin_trgm_ops"},
            )
            for col in ("name", "email", "phone_digits")
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    phone_digits: Mapped[str | None] = mapped_column(String(50))  # kept by a trigger (0017)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class CustomerTag(Base):
    __tablename__ = "customer_tags"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)

    customer: Mapped[Customer] = relationship(back_populates="tag_rows")


class CustomerAssignment(Base):
    """An agent assigned to a customer besides its owner (may change it, like the owner)."""

    __tablename__ = "customer_assignments"

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    customer: Mapped[Customer] = relationship(back_populates="assignments")


class SearchGram(Base):
    """SQLite's substring index: every 3-character piece of a customer's searchable text (name,
    email, phone digits, external id, contacts), padded so that 1- and 2-character queries are
    prefixes of a piece. Written by triggers (migration 0017); empty on PostgreSQL, which uses
    pg_trgm indexes on the columns themselves."""

    __tablename__ = "customer_search_grams"
    __table_args__ = (Index("ix_customer_search_grams_customer", "customer_id"),)

    gram: Mapped[str] = mapped_column(String(3), primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )


class SearchNumber(Base):
    """1..SEARCH_NUMBERS: lets SQLite triggers walk a string character by character."""

    __tablename__ = "customer_search_numbers"

    n: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


SEARCH_NUMBERS = 300
