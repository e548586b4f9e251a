"""Products with list price and unit cost."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from retento.core.db import Base, MoneyColumn, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        # A create form's key or the API's Idempotency-Key: a resent create is one product (0057).
        Index("uq_products_idempotency_key", "idempotency_key", unique=True),
        # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    unit_price: Mapped[Decimal] = mapped_column(MoneyColumn)
    unit_cost: Mapped[Decimal] = mapped_column(MoneyColumn)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()
    idempotency_key: Mapped[str | None] = mapped_column(String(120))

    __mapper_args__ = {"version_id_col": version}
