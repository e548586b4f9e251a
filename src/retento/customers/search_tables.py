"""The search's own tables (migration 0022), written by triggers only: never by the ORM."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base
from retento.core.types import BigId

# Joins the fields of ``SearchRow.hay`` and ``SearchRow.digits`` (and starts and ends them), so
# that "%␟value␟%" is an exact field and "%␟value%" a field prefix.
SEP = "\x1f"


class SearchRow(Base):
    """One narrow row per customer: what a search reads instead of the customer row.

    ``hay``: ␟name key␟ 王 小 明 ␟email␟external id␟contact name␟contact email␟ (lower case;
    the Chinese characters of the name spaced, so one character is a whole word); ``digits``:
    ␟phone digits␟contacts' phone digits␟. Trigram GIN indexes on both (PostgreSQL)."""

    __tablename__ = "customer_search"
    __table_args__ = (
        Index("ix_customer_search_name_key", "name_key"),
        *(
            Index(
                f"ix_customer_search_{col}_trgm",
                col,
                postgresql_using="gin",
                postgresql_ops={col: "gin_trgm_ops"},
            )
            for col in ("hay", "digits")
        ),
    )

    customer_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    archived: Mapped[bool] = mapped_column(Boolean)
    name_key: Mapped[str] = mapped_column(String(200))
    hay: Mapped[str] = mapped_column(Text)
    digits: Mapped[str] = mapped_column(Text)


class NameWord(Base):
    """A distinct word (3+ characters, not Chinese) of some customer's name: typo'd names are
    compared with these, not with every customer."""

    __tablename__ = "customer_name_words"
    __table_args__ = (
        Index(
            "ix_customer_name_words_trgm",
            "word",
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        ),
    )

    word: Mapped[str] = mapped_column(String(200), primary_key=True)
