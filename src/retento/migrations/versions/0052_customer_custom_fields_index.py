"""customers: a GIN index on the custom fields, for the list's custom-field filter (PostgreSQL)

The customer list filters by a choice or yes/no custom field (``?field=tier:Gold``,
``customers.field_values.filter_clause``). On PostgreSQL that was ``custom_fields ->> 'tier' =
'Gold'``, which no index serves: every filtered page and its count read the whole table. The
filter now asks "has this value" as containment, ``CAST(custom_fields AS JSONB) @>
'{"tier": "Gold"}'`` (``'{"vip": true}'`` for yes), which this index on the very same expression
answers (``jsonb_path_ops``: serves ``@>`` only, smaller and faster than the default operator
class). "No" (not yes, or no value) is a negation, which no index serves: it still reads the
table.

SQLite gets nothing: it has no GIN index; its filter is unchanged. On PostgreSQL only the typed
value matches now, as on SQLite already: a value stored as text before its field was defined
(``"true"``) is no longer a "yes" (it is a "no"), nor the number 1 the choice ``"1"``.

``jsonb`` refuses the escape ``\\u0000`` that ``json`` accepts, and building the index converts
every row: no input path lets a NUL character in (``core.validation``, the imports), but a row
holding one would stop this migration; ``SELECT id FROM customers WHERE
position('\\u0000' IN custom_fields::text) > 0`` finds it.

Measured with 1,000,000 customers (``{"tier": one of 5, "vip": true for 2 %}``, analysed;
docs/benchmarks.md): the count of ``vip:yes`` went from a ``Parallel Seq Scan on customers``,
278 ms, to ``Bitmap Index Scan on ix_customers_custom_fields``, 87 ms (the whole list call 384
→ 105 ms); ``tier:Gold`` (20 %) 282 → 225 ms. Building the index took 0.9 s (2.3 MB), holding
off writes to ``customers`` meanwhile (reads go on).

Revision ID: 0052
Revises: 0051
Create Date: 2026-12-07 04:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0052"
down_revision = "0051"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_customers_custom_fields",
            "customers",
            [sa.text("(custom_fields::jsonb) jsonb_path_ops")],
            postgresql_using="gin",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_customers_custom_fields", table_name="customers")
