"""customers: substring/fuzzy search indexes (reserved)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 20:30:00.000000

Search copies (``phone_digits``, ``name_chars``) kept by triggers, so every write path (ORM,
file import, demo, erasure) keeps them in sync. PostgreSQL: pg_trgm GIN indexes on the searched
columns (the extension is created here; the migration stops with a clear message if it cannot
be). SQLite: a trigram table (``customer_search_grams``) written by triggers.
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

NUMBERS = 300
CUSTOMER_TRGM = ("name_key", "name_chars", "email", "phone_digits", "external_id")
CONTACT_TRGM = ("name", "email", "phone_digits")

# --- PostgreSQL ---------------------------------------------------------------------------------

PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION retento_digits(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT nullif(regexp_replace(coalesce(t, ''), '[^0-9]', '', 'g'), '') $$;

CREATE OR REPLACE FUNCTION retento_name_chars(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN c = '' THEN NULL
          ELSE ' ' || array_to_string(regexp_split_to_array(c, ''), ' ') || ' ' END
   FROM (SELECT regexp_replace(coalesce(t, ''), '[^\u3400-\u9fff\uf900-\ufaff]', '', 'g') AS c) s $$;

CREATE OR REPLACE FUNCTION retento_customers_search() RETURNS trigger
LANGUAGE plpgsql AS
$$ BEGIN
    NEW.phone_digits := retento_digits(NEW.phone);
    NEW.name_chars := retento_name_chars(NEW.name);
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION retento_contacts_search() RETURNS trigger
LANGUAGE plpgsql AS
$$ BEGIN
    NEW.phone_digits := retento_digits(NEW.phone);
    RETURN NEW;
END $$;
"""

PG_TRIGGERS = """
CREATE TRIGGER customers_search BEFORE INSERT OR UPDATE OF name, phone ON customers
FOR EACH ROW EXECUTE FUNCTION retento_customers_search();
CREATE TRIGGER customer_contacts_search BEFORE INSERT OR UPDATE OF phone ON customer_contacts
FOR EACH ROW EXECUTE FUNCTION retento_contacts_search();
"""

PG_DROP = """
DROP TRIGGER IF EXISTS customers_search ON customers;
DROP TRIGGER IF EXISTS customer_contacts_search ON customer_contacts;
DROP FUNCTION IF EXISTS retento_customers_search();
DROP FUNCTION IF EXISTS retento_contacts_search();
DROP FUNCTION IF EXISTS retento_name_chars(text);
DROP FUNCTION IF EXISTS retento_digits(text);
"""

# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_digits(x: str) -> str:
    return (
        "(SELECT group_concat(ch, '') FROM (SELECT substr({x}, n, 1) AS ch "
        "FROM customer_search_numbers WHERE n <= length({x}) "
        "AND substr({x}, n, 1) BETWEEN '0' AND '9' ORDER BY n))"
    ).format(x=x)


def _sqlite_chars(x: str) -> str:
    return (
        "(SELECT ' ' || group_concat(ch, ' ') || ' ' FROM (SELECT substr({x}, n, 1) AS ch "
        "FROM customer_search_numbers WHERE n <= length({x}) "
        "AND (unicode(substr({x}, n, 1)) BETWEEN 13312 AND 40959 "
        "OR unicode(substr({x}, n, 1)) BETWEEN 63744 AND 64255) ORDER BY n))"
    ).format(x=x)


def _sqlite_rebuild(cid: str) -> str:
    """Replace the customer's trigrams; each value padded with two char(1) so that every
    1- and 2-character substring is the prefix of some trigram."""
    pad = "|| char(1, 1)"
    return f"""
    DELETE FROM customer_search_grams WHERE customer_id = {cid};
    INSERT OR IGNORE INTO customer_search_grams (gram, customer_id)
    SELECT DISTINCT substr(v.s, k.n, 3), {cid}
    FROM (
        SELECT c.name_key {pad} AS s FROM customers c WHERE c.id = {cid}
        UNION ALL SELECT lower(c.email) {pad} FROM customers c
            WHERE c.id = {cid} AND c.email IS NOT NULL
        UNION ALL SELECT c.phone_digits {pad} FROM customers c
            WHERE c.id = {cid} AND c.phone_digits IS NOT NULL
        UNION ALL SELECT lower(c.external_id) {pad} FROM customers c
            WHERE c.id = {cid} AND c.external_id IS NOT NULL
        UNION ALL SELECT lower(t.name) {pad} FROM customer_contacts t
            JOIN customers c ON c.id = t.customer_id WHERE t.customer_id = {cid}
        UNION ALL SELECT lower(t.email) {pad} FROM customer_contacts t
            JOIN customers c ON c.id = t.customer_id
            WHERE t.customer_id = {cid} AND t.email IS NOT NULL
        UNION ALL SELECT t.phone_digits {pad} FROM customer_contacts t
            JOIN customers c ON c.id = t.customer_id
            WHERE t.customer_id = {cid} AND t.phone_digits IS NOT NULL
    ) AS v
    JOIN customer_search_numbers k ON k.n <= length(v.s) - 2;
    """


def _sqlite_customer_sync(row: str) -> str:
    return f"""
    UPDATE customers SET phone_digits = {_sqlite_digits(row + '.phone')},
        name_chars = {_sqlite_chars(row + '.name')} WHERE id = {row}.id;
    {_sqlite_rebuild(row + '.id')}
    """


def _sqlite_contact_sync(row: str) -> str:
    return f"""
    UPDATE customer_contacts SET phone_digits = {_sqlite_digits(row + '.phone')}
    WHERE id = {row}.id;
    {_sqlite_rebuild(row + '.customer_id')}
    """


SQLITE_TRIGGERS = {
    "customers_search_ai": "AFTER INSERT ON customers BEGIN {} END".format(
        _sqlite_customer_sync("NEW")
    ),
    "customers_search_au": (
        "AFTER UPDATE OF name, name_key, email, phone, external_id ON customers BEGIN {} END"
    ).format(_sqlite_customer_sync("NEW")),
    "customers_search_ad": (
        "AFTER DELETE ON customers BEGIN "
        "DELETE FROM customer_search_grams WHERE customer_id = OLD.id; END"
    ),
    "customer_contacts_search_ai": "AFTER INSERT ON customer_contacts BEGIN {} END".format(
        _sqlite_contact_sync("NEW")
    ),
    "customer_contacts_search_au": (
        "AFTER UPDATE OF name, email, phone, customer_id ON customer_contacts BEGIN {} {} END"
    ).format(_sqlite_contact_sync("NEW"), _sqlite_rebuild("OLD.customer_id")),
    "customer_contacts_search_ad": "AFTER DELETE ON customer_contacts BEGIN {} END".format(
        _sqlite_rebuild("OLD.customer_id")
    ),
}


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    if pg:
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:
            raise RuntimeError(
                "Migration 0017 (customer search) needs the PostgreSQL extension pg_trgm, and "
                f"it could not be created: {exc.__class__.__name__}: {exc}. Install the "
                "PostgreSQL contrib package and have a superuser run "
                "'CREATE EXTENSION pg_trgm;' in this database, then run 'retento db upgrade' "
                "again."
            ) from exc

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_digits', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('name_chars', sa.String(length=400), nullable=True))
    with op.batch_alter_table('customer_contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_digits', sa.String(length=50), nullable=True))

    op.create_table('customer_search_numbers',
    sa.Column('n', sa.Integer(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('n', name=op.f('pk_customer_search_numbers'))
    )
    op.bulk_insert(
        sa.table('customer_search_numbers', sa.column('n', sa.Integer())),
        [{'n': i} for i in range(1, NUMBERS + 1)],
    )
    op.create_table('customer_search_grams',
    sa.Column('gram', sa.String(length=3), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_search_grams_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('gram', 'customer_id', name=op.f('pk_customer_search_grams'))
    )
    op.create_index('ix_customer_search_grams_customer', 'customer_search_grams', ['customer_id'], unique=False)

    if pg:
        op.execute(PG_FUNCTIONS)
        op.execute(
            "UPDATE customers SET phone_digits = retento_digits(phone), "
            "name_chars = retento_name_chars(name)"
        )
        op.execute("UPDATE customer_contacts SET phone_digits = retento_digits(phone)")
        op.execute(PG_TRIGGERS)
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        # Backfill: touching name_key fires the update trigger for every existing row.
        op.execute("UPDATE customers SET name_key = name_key")
        op.execute(
            f"UPDATE customer_contacts SET phone_digits = {_sqlite_digits('phone')}"
        )

    for col in CUSTOMER_TRGM:
        op.create_index(
            f'ix_customers_{col}_trgm', 'customers', [col], unique=False,
            postgresql_using='gin', postgresql_ops={col: 'gin_trgm_ops'},
        )
    for col in CONTACT_TRGM:
        op.create_index(
            f'ix_customer_contacts_{col}_trgm', 'customer_contacts', [col], unique=False,
            postgresql_using='gin', postgresql_ops={col: 'gin_trgm_ops'},
        )


def downgrade() -> None:
    bind = op.get_bind()
    for col in CONTACT_TRGM:
        op.drop_index(f'ix_customer_contacts_{col}_trgm', table_name='customer_contacts')
    for col in CUSTOMER_TRGM:
        op.drop_index(f'ix_customers_{col}_trgm', table_name='customers')
    if bind.dialect.name == "postgresql":
        op.execute(PG_DROP)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index('ix_customer_search_grams_customer', table_name='customer_search_grams')
    op.drop_table('customer_search_grams')
    op.drop_table('customer_search_numbers')
    with op.batch_alter_table('customer_contacts', schema=None) as batch_op:
        batch_op.drop_column('phone_digits')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('name_chars')
        batch_op.drop_column('phone_digits')
