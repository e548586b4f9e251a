"""customers: narrow search table and name-word table

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 23:15:00.000000

``customer_search``: one narrow row per customer (id, archived flag, name key, ``hay``: every
searchable text lower-cased and joined by char(31) - name, Chinese characters spaced, email,
external id, contacts' names and emails - and ``digits``: the customer's and contacts' phone
digits joined the same way). A search reads ~60-100 bytes per match instead of a whole
customer row, and every field is checked in one pass.

``customer_name_words``: the distinct words (3+ characters, no Chinese characters) of all
customers' names; a typo'd name is compared with these words, then only customers having one of
the close words are read.

Both are written by triggers (every write path: ORM, file import, demo, merge, erasure,
archive): statement-level triggers with transition tables on PostgreSQL, row triggers on
SQLite. Trigram GIN indexes (pg_trgm, migration 0017) on PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

# Characters that make a word Chinese (as in 0017's name_chars).
CJK_CLASS = "[\u3400-\u9fff\uf900-\ufaff]"

# --- PostgreSQL ---------------------------------------------------------------------------------

# Functions that join sets of rows (transition tables, which have no statistics, and freshly
# loaded tables) run with nested loops off: a bulk import or COPY of 100,000 contacts must hash
# them, never compare every pair; one row hashes in microseconds too. Every trigger function
# also runs with JIT off: "nested loops off" adds its 10^10 penalty to the estimated costs,
# which then pass jit_above_cost, and compiling each one-row statement took ~150 ms (an import
# of 18,000 customers, one row per statement, took half an hour).
PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION retento_search_refresh(ids integer[]) RETURNS void
LANGUAGE sql SET enable_nestloop = off SET jit = off AS
$$
INSERT INTO customer_search AS s (customer_id, archived, name_key, hay, digits)
SELECT c.id, c.archived_at IS NOT NULL, c.name_key,
       chr(31) || concat_ws(chr(31), c.name_key, c.name_chars, lower(c.email),
                            lower(c.external_id), k.names, k.emails) || chr(31),
       chr(31) || concat_ws(chr(31), c.phone_digits, k.phones) || chr(31)
FROM customers c
LEFT JOIN (
    SELECT t.customer_id,
           string_agg(lower(t.name), chr(31) ORDER BY t.id) AS names,
           string_agg(lower(t.email), chr(31) ORDER BY t.id) AS emails,
           string_agg(t.phone_digits, chr(31) ORDER BY t.id) AS phones
    FROM customer_contacts t WHERE t.customer_id = ANY(ids) GROUP BY t.customer_id
) k ON k.customer_id = c.id
WHERE c.id = ANY(ids)
ON CONFLICT (customer_id) DO UPDATE
SET archived = EXCLUDED.archived, name_key = EXCLUDED.name_key, hay = EXCLUDED.hay,
    digits = EXCLUDED.digits
WHERE (s.archived, s.name_key, s.hay, s.digits)
      IS DISTINCT FROM (EXCLUDED.archived, EXCLUDED.name_key, EXCLUDED.hay, EXCLUDED.digits)
$$;

CREATE OR REPLACE FUNCTION retento_name_words(t text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT DISTINCT w FROM regexp_split_to_table(coalesce(t, ''), '\s+') AS w
   WHERE length(w) >= 3 AND w !~ '__CJK__' $$;

CREATE OR REPLACE FUNCTION retento_like_escape(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT replace(replace(replace(t, '\', '\\'), '%', '\%'), '_', '\_') $$;

CREATE OR REPLACE FUNCTION retento_customers_search_ins() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$ BEGIN
    PERFORM retento_search_refresh(ARRAY(SELECT id FROM new_rows));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION retento_customers_search_upd() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS
$$
DECLARE changed integer[];
BEGIN
    changed := ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (o.name_key, o.name_chars, o.email, o.external_id, o.phone_digits,
               o.archived_at IS NULL)
              IS DISTINCT FROM (n.name_key, n.name_chars, n.email, n.external_id,
                                n.phone_digits, n.archived_at IS NULL));
    IF cardinality(changed) > 0 THEN
        PERFORM retento_search_refresh(changed);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION retento_contacts_search_ins() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$ BEGIN
    PERFORM retento_search_refresh(ARRAY(SELECT DISTINCT customer_id FROM new_rows));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION retento_contacts_search_del() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$ BEGIN
    PERFORM retento_search_refresh(ARRAY(SELECT DISTINCT customer_id FROM old_rows));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION retento_contacts_search_upd() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS
$$
DECLARE changed integer[];
BEGIN
    changed := ARRAY(
        SELECT x FROM new_rows n JOIN old_rows o ON o.id = n.id,
             LATERAL unnest(ARRAY[o.customer_id, n.customer_id]) AS x
        WHERE (o.customer_id, o.name, o.email, o.phone_digits)
              IS DISTINCT FROM (n.customer_id, n.name, n.email, n.phone_digits));
    IF cardinality(changed) > 0 THEN
        PERFORM retento_search_refresh(changed);
    END IF;
    RETURN NULL;
END $$;

-- Name words: add the new rows' words; drop the old rows' words nobody else has any more.
CREATE OR REPLACE FUNCTION retento_name_words_add() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$ BEGIN
    INSERT INTO customer_name_words (word)
    SELECT DISTINCT w FROM new_rows, LATERAL retento_name_words(new_rows.name_key) AS w
    ORDER BY 1
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION retento_name_words_drop() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS
$$ BEGIN
    DELETE FROM customer_name_words d
    WHERE d.word IN (SELECT w FROM old_rows, LATERAL retento_name_words(old_rows.name_key) AS w)
      AND NOT EXISTS (
          SELECT 1 FROM customer_search s
          WHERE s.hay LIKE '%' || retento_like_escape(d.word) || '%'
            AND strpos(' ' || s.name_key || ' ', ' ' || d.word || ' ') > 0);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION retento_name_words_upd() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS
$$ BEGIN
    INSERT INTO customer_name_words (word)
    SELECT DISTINCT w FROM new_rows n JOIN old_rows o ON o.customer_id = n.customer_id,
         LATERAL retento_name_words(n.name_key) AS w
    WHERE o.name_key IS DISTINCT FROM n.name_key
    ORDER BY 1
    ON CONFLICT DO NOTHING;
    DELETE FROM customer_name_words d
    WHERE d.word IN (
          SELECT w FROM new_rows n JOIN old_rows o ON o.customer_id = n.customer_id,
               LATERAL retento_name_words(o.name_key) AS w
          WHERE o.name_key IS DISTINCT FROM n.name_key)
      AND NOT EXISTS (
          SELECT 1 FROM customer_search s
          WHERE s.hay LIKE '%' || retento_like_escape(d.word) || '%'
            AND strpos(' ' || s.name_key || ' ', ' ' || d.word || ' ') > 0);
    RETURN NULL;
END $$;
""".replace("__CJK__", CJK_CLASS)

PG_TRIGGERS = """
CREATE TRIGGER customers_search_table_ins AFTER INSERT ON customers
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION retento_customers_search_ins();
CREATE TRIGGER customers_search_table_upd AFTER UPDATE ON customers
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION retento_customers_search_upd();
CREATE TRIGGER customer_contacts_search_table_ins AFTER INSERT ON customer_contacts
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION retento_contacts_search_ins();
CREATE TRIGGER customer_contacts_search_table_upd AFTER UPDATE ON customer_contacts
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION retento_contacts_search_upd();
CREATE TRIGGER customer_contacts_search_table_del AFTER DELETE ON customer_contacts
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION retento_contacts_search_del();
CREATE TRIGGER customer_search_words_ins AFTER INSERT ON customer_search
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION retento_name_words_add();
CREATE TRIGGER customer_search_words_upd AFTER UPDATE ON customer_search
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION retento_name_words_upd();
CREATE TRIGGER customer_search_words_del AFTER DELETE ON customer_search
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION retento_name_words_drop();
"""

PG_DROP = """
DROP TRIGGER IF EXISTS customers_search_table_ins ON customers;
DROP TRIGGER IF EXISTS customers_search_table_upd ON customers;
DROP TRIGGER IF EXISTS customer_contacts_search_table_ins ON customer_contacts;
DROP TRIGGER IF EXISTS customer_contacts_search_table_upd ON customer_contacts;
DROP TRIGGER IF EXISTS customer_contacts_search_table_del ON customer_contacts;
DROP FUNCTION IF EXISTS retento_customers_search_ins();
DROP FUNCTION IF EXISTS retento_customers_search_upd();
DROP FUNCTION IF EXISTS retento_contacts_search_ins();
DROP FUNCTION IF EXISTS retento_contacts_search_upd();
DROP FUNCTION IF EXISTS retento_contacts_search_del();
DROP FUNCTION IF EXISTS retento_name_words_add();
DROP FUNCTION IF EXISTS retento_name_words_upd();
DROP FUNCTION IF EXISTS retento_name_words_drop();
DROP FUNCTION IF EXISTS retento_search_refresh(integer[]);
DROP FUNCTION IF EXISTS retento_name_words(text);
DROP FUNCTION IF EXISTS retento_like_escape(text);
"""

# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_refresh(cid: str) -> str:
    sep = "char(31)"
    contacts = (
        "(SELECT group_concat(lower(t.name) || {sep} || coalesce(lower(t.email) || {sep}, ''), '')"
        " FROM customer_contacts t WHERE t.customer_id = c.id)"
    ).format(sep=sep)
    phones = (
        "(SELECT group_concat(t.phone_digits || {sep}, '') FROM customer_contacts t"
        " WHERE t.customer_id = c.id AND t.phone_digits IS NOT NULL)"
    ).format(sep=sep)
    return f"""
    INSERT INTO customer_search (customer_id, archived, name_key, hay, digits)
    SELECT c.id, c.archived_at IS NOT NULL, c.name_key,
        {sep} || c.name_key || {sep} || coalesce(c.name_chars || {sep}, '')
        || coalesce(lower(c.email) || {sep}, '') || coalesce(lower(c.external_id) || {sep}, '')
        || coalesce({contacts}, ''),
        {sep} || coalesce(c.phone_digits || {sep}, '') || coalesce({phones}, '')
    FROM customers c WHERE c.id = {cid}
    ON CONFLICT (customer_id) DO UPDATE SET archived = excluded.archived,
        name_key = excluded.name_key, hay = excluded.hay, digits = excluded.digits;
    """


def _sqlite_words(key: str) -> str:
    """The distinct words (split on spaces, 3+ characters, no Chinese) of the text ``key``."""
    s = f"(' ' || {key} || ' ')"
    word = f"substr({s}, k.n, instr(substr({s}, k.n), ' ') - 1)"
    return (
        f"SELECT DISTINCT {word} AS w FROM customer_search_numbers k "
        f"WHERE k.n <= length({s}) AND substr({s}, k.n - 1, 1) = ' ' "
        f"AND substr({s}, k.n, 1) <> ' ' AND length({word}) >= 3 "
        f"AND NOT ({word} GLOB '*{CJK_CLASS}*')"
    )


def _sqlite_drop_words(old: str, new: str | None, cid: str) -> str:
    keep = f"AND instr(' ' || {new} || ' ', ' ' || word || ' ') = 0" if new else ""
    return f"""
    DELETE FROM customer_name_words
    WHERE word IN ({_sqlite_words(old)}) {keep}
      AND NOT EXISTS (
        SELECT 1 FROM customer_search s
        WHERE s.customer_id <> {cid}
          AND s.customer_id IN (SELECT g.customer_id FROM customer_search_grams g
                                WHERE g.gram = substr(customer_name_words.word, 1, 3))
          AND instr(' ' || s.name_key || ' ', ' ' || customer_name_words.word || ' ') > 0);
    """


def _sqlite_add_words(new: str) -> str:
    # Not "INSERT OR IGNORE": fired from the upsert of customer_search, the upsert's conflict
    # policy would override it.
    return (
        f"INSERT INTO customer_name_words (word) SELECT w FROM ({_sqlite_words(new)}) "
        "WHERE w NOT IN (SELECT word FROM customer_name_words);"
    )


SQLITE_CHANGED = (
    "OLD.name_key IS NOT NEW.name_key OR OLD.name_chars IS NOT NEW.name_chars "
    "OR OLD.email IS NOT NEW.email OR OLD.external_id IS NOT NEW.external_id "
    "OR OLD.phone_digits IS NOT NEW.phone_digits "
    "OR (OLD.archived_at IS NULL) IS NOT (NEW.archived_at IS NULL)"
)

SQLITE_TRIGGERS = {
    "customers_search_table_ai": "AFTER INSERT ON customers BEGIN {} END".format(
        _sqlite_refresh("NEW.id")
    ),
    "customers_search_table_au": "AFTER UPDATE ON customers WHEN {} BEGIN {} END".format(
        SQLITE_CHANGED, _sqlite_refresh("NEW.id")
    ),
    "customers_search_table_ad": (
        "AFTER DELETE ON customers BEGIN "
        "DELETE FROM customer_search WHERE customer_id = OLD.id; END"
    ),
    "customer_contacts_search_table_ai": "AFTER INSERT ON customer_contacts BEGIN {} END".format(
        _sqlite_refresh("NEW.customer_id")
    ),
    "customer_contacts_search_table_au": (
        "AFTER UPDATE ON customer_contacts WHEN OLD.customer_id IS NOT NEW.customer_id "
        "OR OLD.name IS NOT NEW.name OR OLD.email IS NOT NEW.email "
        "OR OLD.phone_digits IS NOT NEW.phone_digits BEGIN {} {} END"
    ).format(_sqlite_refresh("OLD.customer_id"), _sqlite_refresh("NEW.customer_id")),
    "customer_contacts_search_table_ad": "AFTER DELETE ON customer_contacts BEGIN {} END".format(
        _sqlite_refresh("OLD.customer_id")
    ),
    "customer_search_words_ai": "AFTER INSERT ON customer_search BEGIN {} END".format(
        _sqlite_add_words("NEW.name_key")
    ),
    "customer_search_words_au": (
        "AFTER UPDATE OF name_key ON customer_search WHEN OLD.name_key IS NOT NEW.name_key "
        "BEGIN {} {} END"
    ).format(
        _sqlite_add_words("NEW.name_key"),
        _sqlite_drop_words("OLD.name_key", "NEW.name_key", "OLD.customer_id"),
    ),
    "customer_search_words_ad": "AFTER DELETE ON customer_search BEGIN {} END".format(
        _sqlite_drop_words("OLD.name_key", None, "OLD.customer_id")
    ),
}


def upgrade() -> None:
    bind = op.get_bind()
    pg = bind.dialect.name == "postgresql"
    op.create_table('customer_search',
    sa.Column('customer_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('hay', sa.Text(), nullable=False),
    sa.Column('digits', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_search_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_search'))
    )
    op.create_table('customer_name_words',
    sa.Column('word', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('word', name=op.f('pk_customer_name_words'))
    )
    if pg:
        op.execute(PG_FUNCTIONS)
        # Backfill in one statement, words after (the triggers are created below).
        op.execute("SELECT retento_search_refresh(ARRAY(SELECT id FROM customers))")
        op.execute(
            "INSERT INTO customer_name_words (word) SELECT DISTINCT w FROM customer_search, "
            "LATERAL retento_name_words(name_key) AS w ON CONFLICT DO NOTHING"
        )
        op.execute(PG_TRIGGERS)
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute(_sqlite_refresh("c.id").replace("WHERE c.id = c.id", "WHERE true"))
    op.create_index('ix_customer_search_name_key', 'customer_search', ['name_key'])
    if pg:
        for col in ("hay", "digits"):
            op.create_index(
                f'ix_customer_search_{col}_trgm', 'customer_search', [col],
                postgresql_using='gin', postgresql_ops={col: 'gin_trgm_ops'},
            )
        op.create_index(
            'ix_customer_name_words_trgm', 'customer_name_words', ['word'],
            postgresql_using='gin', postgresql_ops={'word': 'gin_trgm_ops'},
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("""
            DROP TRIGGER IF EXISTS customer_search_words_ins ON customer_search;
            DROP TRIGGER IF EXISTS customer_search_words_upd ON customer_search;
            DROP TRIGGER IF EXISTS customer_search_words_del ON customer_search;
        """)
        op.execute(PG_DROP)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('customer_name_words')
    op.drop_table('customer_search')
