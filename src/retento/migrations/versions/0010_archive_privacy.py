"""customer archiving and privacy requests

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:00:00.000000

Customers are archived instead of deleted (``archived_at``, ``archived_by_id``) and can be erased
(``erased_at``: personal data anonymised, financial records kept). Orders, refunds and complaints
no longer disappear with their parent: their foreign keys change from ON DELETE CASCADE to
RESTRICT, so a hard delete of a customer (or an order) holding financial records fails.

SQLite cannot alter a foreign key, and Alembic's batch mode would recreate the tables: with
foreign keys on, dropping the old ``orders`` table deletes every order line and nulls every
complaint's order (ON DELETE actions fire on DROP TABLE). Only the ON DELETE clause changes and
nothing on disk depends on it, so on SQLite the stored CREATE TABLE text is edited in place, the
procedure https://www.sqlite.org/lang_altertable.html#otheralter describes for such changes.
"""

from alembic import op
import sqlalchemy as sa
import retento.core.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# (table, constraint name, column, referred table)
RESTRICTED = (
    ("orders", "fk_orders_customer_id_customers", "customer_id", "customers"),
    ("complaints", "fk_complaints_customer_id_customers", "customer_id", "customers"),
    ("refunds", "fk_refunds_order_id_orders", "order_id", "orders"),
)


def _sqlite_edit_schema(table: str, edit) -> None:
    """Rewrite the stored CREATE TABLE of ``table`` with ``edit(sql) -> sql`` (see above)."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar()
    if sql is None:
        raise RuntimeError(f"table {table} does not exist")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (edit(sql), table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _replace_once(old: str, new: str):
    def edit(sql: str) -> str:
        if sql.count(old) != 1:
            raise RuntimeError(f"expected one '{old}' in the schema, found: {sql!r}")
        return sql.replace(old, new)

    return edit


def _sqlite_set_ondelete(table: str, referred: str, old: str, new: str) -> None:
    ref = f"REFERENCES {referred} (id) ON DELETE "
    _sqlite_edit_schema(table, _replace_once(ref + old, ref + new))


def _sqlite_check() -> None:
    problems = op.get_bind().exec_driver_sql("PRAGMA integrity_check").scalar()
    if problems != "ok":
        raise RuntimeError(f"SQLite integrity check after the schema edit: {problems}")


ARCHIVED_BY_FK = (
    "CONSTRAINT fk_customers_archived_by_id_users FOREIGN KEY(archived_by_id) "
    "REFERENCES users (id) ON DELETE SET NULL"
)


def _add_table_constraint(sql: str) -> str:
    end = sql.rstrip().rindex(")")
    return sql[:end].rstrip() + ", \n\t" + ARCHIVED_BY_FK + "\n" + sql[end:]


def _set_ondelete(old: str, new: str) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, name, column, referred in RESTRICTED:
        if sqlite:
            _sqlite_set_ondelete(table, referred, old, new)
        else:
            op.drop_constraint(name, table, type_="foreignkey")
            op.create_foreign_key(name, table, referred, [column], ["id"], ondelete=new)
    if sqlite:
        _sqlite_check()


def upgrade() -> None:
    op.add_column("customers", sa.Column("archived_at", retento.core.db.UTCDateTime(), nullable=True))
    op.add_column("customers", sa.Column("erased_at", retento.core.db.UTCDateTime(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # A batch recreate of ``customers`` would cascade-delete contacts, tags and assignments
        # when the old table is dropped: add the column, then its (all-NULL, so satisfied)
        # foreign key as a table constraint, as a fresh CREATE TABLE would have it.
        op.execute("ALTER TABLE customers ADD COLUMN archived_by_id INTEGER")
        _sqlite_edit_schema("customers", _add_table_constraint)
    else:
        op.add_column("customers", sa.Column("archived_by_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_customers_archived_by_id_users", "customers", "users", ["archived_by_id"], ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_customers_archived_at", "customers", ["archived_at"], unique=False)
    _set_ondelete("CASCADE", "RESTRICT")


def downgrade() -> None:
    _set_ondelete("RESTRICT", "CASCADE")
    op.drop_index("ix_customers_archived_at", table_name="customers")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_edit_schema("customers", _replace_once(", \n\t" + ARCHIVED_BY_FK, ""))
        # Native DROP COLUMN (SQLite >= 3.35): no table rebuild, so nothing cascades.
        for column in ("archived_by_id", "erased_at", "archived_at"):
            op.execute(f"ALTER TABLE customers DROP COLUMN {column}")
        return
    op.drop_constraint("fk_customers_archived_by_id_users", "customers", type_="foreignkey")
    op.drop_column("customers", "archived_by_id")
    op.drop_column("customers", "erased_at")
    op.drop_column("customers", "archived_at")
