"""products: an idempotency key, so a resent new-product form creates one product

The new-product form (``/products/new``) and ``POST /api/v1/products`` had no key: a double
click, a page sent again after a lost answer or an API client retrying after a timeout created
the product twice, splitting its sales statistics, basket rules and pickers. The form now sends
a key drawn with the page, the API the ``Idempotency-Key`` header; a second request with the key
answers with the first product.

Revision ID: 0057
Revises: 0056
Create Date: 2026-12-07 18:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0057"
down_revision = "0056"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("idempotency_key", sa.String(length=120), nullable=True))
    # A unique index, not a table constraint: SQLite adds and drops it and the column in place
    # (as 0040 and 0056 do). A batch copy of the table would also have to keep the
    # AUTOINCREMENT 0054 gave it, and fails on the order lines that reference its rows.
    op.create_index("uq_products_idempotency_key", "products", ["idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_products_idempotency_key", table_name="products")
    op.drop_column("products", "idempotency_key")
