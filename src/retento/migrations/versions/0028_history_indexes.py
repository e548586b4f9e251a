"""history: indexes (and BRIN or partitioning where measured) for order, event and ledger tables past 10M rows

Measured on a PostgreSQL database of 1M customers, 4M orders, 10M order lines, 2M loyalty
journals / 4M postings and 2M audit rows (benchmarks/load, docs/scale-postgresql.md):

* ``ix_customers_kind_name`` — the customer list filtered by kind and sorted by name walked the
  name index and filtered 925,000 rows: 9.3 s → 0.09 ms (index-only scan). Partial: archived
  customers are not listed.
* ``ix_orders_time_cover`` — revenue by month over a quarter read 246k scattered heap rows
  (bitmap heap scan, 3.2 s) → index-only scan, 0.39 s.

Orders of a customer, order lines of an order, audit history of an entity or a day, ledger
postings of an account and complaint events were already index scans of a few ms; BRIN on
``audit_log.at`` would only save space (the b-tree answers a day in ~1 ms) and orders were not
physically ordered by time in the measurement, so neither BRIN nor partitioning is added.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 02:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

NOT_ARCHIVED = sa.text("archived_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_customers_kind_name",
        "customers",
        ["kind", "name_key", "id"],
        postgresql_where=NOT_ARCHIVED,
        sqlite_where=NOT_ARCHIVED,
    )
    op.create_index(
        "ix_orders_time_cover",
        "orders",
        ["ordered_at", "customer_id", "revenue", "profit", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_orders_time_cover", table_name="orders")
    op.drop_index("ix_customers_kind_name", table_name="customers")
