"""orders: two index entries fewer per order, for imports (one index was redundant, one held NULLs)

A 1,000,000-line import on PostgreSQL is bound by the server's work per row: ``COPY`` of 400,000
orders maintained six indexes. Two of them paid for nothing:

* ``ix_orders_ordered_at`` (``ordered_at``) is the leading column of ``ix_orders_time_cover``
  (migration 0028), which serves every query the narrow index did;
* ``uq_orders_idempotency_key`` held one entry per order, although only orders made by the form
  or an API call with an ``Idempotency-Key`` have a key: a unique index over the keys alone
  (``WHERE idempotency_key IS NOT NULL``) enforces the same rule, as NULLs never collide.

Together 15 % of the server's time for the orders' ``COPY`` (docs/benchmarks.md).

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-06 19:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

_KEYED = sa.text("idempotency_key IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_orders_ordered_at", table_name="orders")
    op.drop_index("uq_orders_idempotency_key", table_name="orders")
    op.create_index(
        "uq_orders_idempotency_key",
        "orders",
        ["idempotency_key"],
        unique=True,
        postgresql_where=_KEYED,
        sqlite_where=_KEYED,
    )


def downgrade() -> None:
    op.drop_index("uq_orders_idempotency_key", table_name="orders")
    op.create_index("uq_orders_idempotency_key", "orders", ["idempotency_key"], unique=True)
    op.create_index("ix_orders_ordered_at", "orders", ["ordered_at"], unique=False)
