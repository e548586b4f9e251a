"""Orders with lines, order-level discounts and refunds; revenue/cost/profit kept per order."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retento.core.db import Base, MoneyColumn, UTCDateTime, utcnow
from retento.core.money import ZERO
from retento.core.types import BigId
from retento.core.versioning import version_column

ORDER_STATUSES = ("placed", "paid", "shipped", "completed", "cancelled")
ORDER_CHANNELS = ("store", "web", "phone", "email", "chat", "partner", "other")


class Order(Base):
    __tablename__ = "orders"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_orders_customer_time", "customer_id", "ordered_at"),
        # Revenue/profit by period without heap reads (migration 0028: 3.2 s → 0.4 s a quarter).
        # It also serves every query by time alone (migration 0044 dropped ix_orders_ordered_at).
        Index("ix_orders_time_cover", "ordered_at", "customer_id", "revenue", "profit", "status"),
        # Only keyed orders have an entry: imported orders carry none (migration 0044).
        Index(
            "uq_orders_idempotency_key",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # RESTRICT: financial history outlives the customer record; customers are archived instead.
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="RESTRICT"))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="completed")
    channel: Mapped[str] = mapped_column(String(20), default="store")
    discount: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    # Denormalised totals (recomputed by the service on every change) so analytics aggregate in SQL.
    revenue: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    cost: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    profit: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    refunded: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The new-order form's (or the API's Idempotency-Key) key: a repeat returns this order.
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.line_no"
    )
    # Refunds are money paid back: deleting their order must fail (the database restricts it)
    # rather than take them along, so neither the ORM nor the FK cascades.
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order",
        cascade="save-update, merge, refresh-expire, expunge",
        passive_deletes="all",
        order_by="Refund.id",
    )
    customer = relationship("Customer")


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MoneyColumn)
    # Cost is copied from the product when the line is made, so later cost changes keep history.
    unit_cost: Mapped[Decimal] = mapped_column(MoneyColumn)
    discount: Mapped[Decimal] = mapped_column(MoneyColumn, default=ZERO)

    order: Mapped[Order] = relationship(back_populates="lines")
    product = relationship("Product", lazy="joined")

    @property
    def net_amount(self) -> Decimal:
        return self.quantity * self.unit_price - self.discount


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        Index("uq_refunds_idempotency_key", "order_id", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("orders.id", ondelete="RESTRICT"), index=True
    )
    refunded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    amount: Mapped[Decimal] = mapped_column(MoneyColumn)
    line_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("order_lines.id", ondelete="SET NULL")
    )
    # Units returned to stock: their cost is taken back off the order's cost.
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(String(300))
    # The form's (or the API's Idempotency-Key) key: a repeated request returns this refund.
    idempotency_key: Mapped[str | None] = mapped_column(String(120))

    order: Mapped[Order] = relationship(back_populates="refunds")
