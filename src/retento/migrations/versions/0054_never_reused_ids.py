"""ids never reused on SQLite for records referred to without a foreign key (AUTOINCREMENT)

Many rows name another record by its id without a foreign key: the audit log
(``entity``/``entity_id``), the mail outbox (``related_type``/``related_id``: a survey
invitation's link is built from it when the mail is sent), notifications
(``subject_type``/``subject_id``, ``dedupe_key``, ``link``), daily digests (``outbox_id``), the
loyalty ledger (``source_type``/``source_id`` and idempotency keys such as ``order:12:earn``),
retention alerts (``cause_key`` ``complaint:12``, ``survey:34``), work items (``ref``) and a
merged duplicate's ``custom_fields["merged_into"]``. On SQLite an ``INTEGER PRIMARY KEY``
without AUTOINCREMENT numbers a new row max(id) + 1, so once the newest record of a kind was
deleted, the next one took its id and inherited all of that: a customer purged (or every one,
by ``retento demo --reset``) and a new one showing the old one's audit trail, a new order whose
points were never earned (its ``order:N:earn`` key already "done"), a new import job notified
of nothing (its dedupe key taken), a mail queued for a deleted survey invitation carrying the
new invitation's personal link. AUTOINCREMENT numbers past every id ever used
(``sqlite_sequence``).

The tables, each deleted by some path and referred to softly (``TABLES``; ``insight_segments``
had it in 0053): customers (purge, demo reset), orders (delete), products (delete), touchpoints
(delete, purge), experience records (delete, purge), complaints and their events, remedies and
attachments (demo reset; attachments at erasure), surveys, their distributions, invitations and
responses (survey delete, purge), retention alerts, cases and tasks (purge), retention
playbooks (delete), loyalty tiers (delete), rules (with their product), club members and
attendance (purge, erasure), journals and redemptions (demo reset), the mail outbox (demo
reset), import jobs (the 30-day clean-up) and roles (delete).

How: SQLite cannot add AUTOINCREMENT to a table, and rebuilding these (Alembic's batch mode, as
0053 did for one leaf table) is not possible here: with foreign keys on, which cannot be turned
off inside the migration's transaction, dropping the old ``customers`` would delete or refuse
on every referencing row (dozens of tables), and it would lose the search triggers. Nor would
it be cheap: every row copied and every index built again. The stored rows and indexes do not
change at all, though (an INTEGER primary key is the rowid either way; AUTOINCREMENT only
chooses the next rowid from ``sqlite_sequence``), so only each table's ``CREATE TABLE`` text is
changed, as SQLite documents for changes that leave the stored content alone
(https://sqlite.org/lang_altertable.html#otheralter: ``writable_schema``, then the schema
version bumped): ``id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT`` in place of the table's
``CONSTRAINT pk_x PRIMARY KEY (id)``, which is what SQLAlchemy writes for
``sqlite_autoincrement=True``. Each new text is first created as a scratch table and compared
with the real one (columns, unique indexes, foreign keys), and read back after; anything
unexpected stops the migration before the schema is touched. The cost does not grow with the
rows: the change itself is instant; finding the highest referred ids reads the audit log's
``(entity, entity_id)`` index and a few columns of the referring tables. Measured on a 3.2 GB
SQLite database with 1,000,000 customers, orders, touchpoints and loyalty journals and
2,000,000 audit entries: 1.7-2.3 s up (1.2 s of it reading the references), the same down;
rebuilding ``customers`` alone (foreign keys off, indexes and triggers made again) took 25 s.

Each table's sequence starts past its highest id and past the highest id still referred to
softly (a record deleted before this migration, newer than every one left), so those
references keep matching nobody.

PostgreSQL: nothing to do; a sequence never hands out an id twice.

Revision ID: 0054
Revises: 0053
Create Date: 2026-12-07 06:00:00.000000
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0054"
down_revision = "0053"
branch_labels = None
depends_on = None

# Table -> the audit log's ``entity`` values whose ``entity_id`` is one of its ids.
TABLES: dict[str, tuple[str, ...]] = {
    "customers": ("customer",),
    "orders": ("order",),
    "products": ("product",),
    "touchpoints": ("touchpoint",),
    "experience_records": ("experience",),
    "complaints": ("complaint",),
    "complaint_events": ("complaint_event",),
    "complaint_remedies": ("complaint_remedy",),
    "complaint_attachments": ("complaint_attachment",),
    "surveys": ("survey",),
    "survey_distributions": ("survey_distribution",),
    "survey_invitations": (),
    "survey_responses": ("survey_response",),
    "retention_alerts": ("retention_alert",),
    "retention_cases": ("retention_case",),
    "retention_tasks": ("retention_task",),
    "retention_playbooks": ("retention_playbook",),
    "loyalty_tiers": ("loyalty_tier",),
    "loyalty_rules": ("loyalty_rule",),
    "loyalty_club_members": ("loyalty_club_member",),
    "loyalty_attendance": ("loyalty_attendance",),
    "loyalty_journals": ("loyalty_journal",),
    "loyalty_redemptions": ("loyalty_redemption",),
    "mail_outbox": ("mail_message", "mail_outbox"),
    "import_jobs": (),
    "roles": ("role",),
}
# Other soft references: the referring column's type value -> table.
MAIL_RELATED = {
    "customer": "customers",
    "complaint": "complaints",
    "complaint_ack": "complaints",
    "complaint_event": "complaint_events",
    "survey_invitation": "survey_invitations",
    "retention_alert": "retention_alerts",
    "retention_case": "retention_cases",
}
NOTIFICATION_SUBJECTS = {"complaint": "complaints", "survey_response": "survey_responses"}
LOYALTY_SOURCES = {
    "order": "orders",
    "survey": "survey_responses",
    "retention_case": "retention_cases",
}
ALERT_CAUSES = {"complaint": "complaints", "survey": "survey_responses"}
WORK_REFS = {
    "import_job": "import_jobs",
    "retention_case": "retention_cases",
    "retention_cases": "retention_cases",  # a batch: "retention_cases:405-1107"
    "survey_distribution": "survey_distributions",
}
IMPORT_NOTICES = ("import_finished", "import_failed")  # dedupe_key "<kind>:job:<id>:<user>"

PROBE = "_retento_0054_probe"
DIGITS = 18  # ids of at most 18 digits: below 2^63, so a cast never saturates


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _numeric(col: str) -> str:
    """SQL: ``col`` holds an id written as digits (an integer cast cannot overflow)."""
    return f"{col} <> '' AND {col} NOT GLOB '*[^0-9]*' AND length({col}) <= {DIGITS}"


def _highest_referenced() -> dict[str, int]:
    """The highest id of each table that a soft reference names (tables not named: absent)."""
    bind = op.get_bind()
    top: dict[str, int] = {}

    def seen(table: str | None, value) -> None:
        if table is not None and value is not None and int(value) > top.get(table, 0):
            top[table] = int(value)

    by_entity = {e: t for t, entities in TABLES.items() for e in entities}
    rows = bind.execute(
        sa.text(
            "SELECT entity, max(CAST(entity_id AS INTEGER)) FROM audit_log "
            f"WHERE entity IN ({_in(by_entity)}) AND {_numeric('entity_id')} GROUP BY entity"
        )
    )
    for entity, value in rows:
        seen(by_entity[entity], value)
    rows = bind.execute(
        sa.text(
            "SELECT related_type, max(related_id) FROM mail_outbox "
            f"WHERE related_type IN ({_in(MAIL_RELATED)}) GROUP BY related_type"
        )
    )
    for kind, value in rows:
        seen(MAIL_RELATED[kind], value)
    rows = bind.execute(
        sa.text(
            "SELECT subject_type, max(subject_id) FROM notifications "
            f"WHERE subject_type IN ({_in(NOTIFICATION_SUBJECTS)}) GROUP BY subject_type"
        )
    )
    for kind, value in rows:
        seen(NOTIFICATION_SUBJECTS[kind], value)
    keys = bind.execute(
        sa.text(f"SELECT dedupe_key FROM notifications WHERE kind IN ({_in(IMPORT_NOTICES)})")
    ).scalars()
    for key in keys:
        found = re.search(rf":job:(\d{{1,{DIGITS}}}):", key or "")
        if found:
            seen("import_jobs", found.group(1))
    seen(
        "mail_outbox",
        bind.execute(sa.text("SELECT max(outbox_id) FROM notification_digests")).scalar(),
    )
    rows = bind.execute(
        sa.text(
            "SELECT source_type, max(CAST(source_id AS INTEGER)) FROM loyalty_journals "
            f"WHERE source_type IN ({_in(LOYALTY_SOURCES)}) AND {_numeric('source_id')} "
            "GROUP BY source_type"
        )
    )
    for kind, value in rows:
        seen(LOYALTY_SOURCES[kind], value)
    causes = " OR ".join(f"cause_key LIKE '{c}:%'" for c in ALERT_CAUSES)
    for key in bind.execute(
        sa.text(f"SELECT cause_key FROM retention_alerts WHERE {causes}")
    ).scalars():
        kind, _, rest = key.partition(":")
        head = re.match(rf"\d{{1,{DIGITS}}}(?!\d)", rest)
        if head:
            seen(ALERT_CAUSES.get(kind), head.group(0))  # LIKE also matched other cases
    refs = " OR ".join(f"ref LIKE '{r}:%'" for r in WORK_REFS)
    for ref in bind.execute(sa.text(f"SELECT ref FROM work_items WHERE {refs}")).scalars():
        kind, _, rest = ref.partition(":")
        for number in re.findall(rf"(?<!\d)\d{{1,{DIGITS}}}(?!\d)", rest):
            seen(WORK_REFS.get(kind), number)  # LIKE's "_" also matched other characters
    seen(
        "customers",
        bind.execute(
            sa.text(
                "SELECT max(CAST(json_extract(custom_fields, '$.merged_into') AS INTEGER)) "
                "FROM customers WHERE custom_fields LIKE '%merged_into%' "
                "AND json_valid(custom_fields)"
            )
        ).scalar(),
    )
    return top


# ``id INTEGER NOT NULL`` as a column of its own (not ``owner_id``), optionally quoted.
_ID_PLAIN = re.compile(r'(?<=[(,])(\s*)("?)id\2\s+INTEGER\s+NOT\s+NULL(?=\s*,)', re.I)
_ID_AUTO = re.compile(
    r'(?<=[(,])(\s*)("?)id\2\s+INTEGER\s+NOT\s+NULL\s+PRIMARY\s+KEY\s+AUTOINCREMENT(?=\s*[,)])',
    re.I,
)


def _pk_constraint(table: str) -> re.Pattern:
    return re.compile(rf',\s*CONSTRAINT\s+"?pk_{table}"?\s+PRIMARY\s+KEY\s*\(\s*"?id"?\s*\)', re.I)


def _one(pattern: re.Pattern, repl: str, sql: str, table: str, what: str) -> str:
    new, n = pattern.subn(repl, sql)
    if n != 1:
        raise RuntimeError(f"0054: {table}: expected one {what} in its CREATE TABLE, found {n}")
    return new


def _with_autoincrement(table: str, sql: str) -> str:
    sql = _one(_pk_constraint(table), "", sql, table, f"CONSTRAINT pk_{table} PRIMARY KEY (id)")
    return _one(
        _ID_PLAIN, r"\1\2id\2 INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT", sql, table, "id column"
    )


def _without_autoincrement(table: str, sql: str) -> str:
    sql = _one(_ID_AUTO, r"\1\2id\2 INTEGER NOT NULL", sql, table, "AUTOINCREMENT id column")
    body = sql.rstrip()
    if not body.endswith(")"):
        raise RuntimeError(f"0054: {table}: its CREATE TABLE does not end with ')'")
    return body[:-1].rstrip() + f", \n\tCONSTRAINT pk_{table} PRIMARY KEY (id)\n)"


def _shape(table: str) -> tuple:
    """What the stored rows depend on: columns, unique indexes (``sqlite_autoindex_<t>_<n>``
    by number: the stored ones are found by those names), foreign keys."""
    bind = op.get_bind()
    columns = bind.exec_driver_sql(f'PRAGMA table_xinfo("{table}")').all()
    uniques = []
    for row in bind.exec_driver_sql(f'PRAGMA index_list("{table}")').all():
        _seq, name, unique, origin, partial = tuple(row)[:5]
        if origin == "c":
            continue  # CREATE INDEX: its own statement, untouched
        cols = bind.exec_driver_sql(f'PRAGMA index_info("{name}")').all()
        number = name.rsplit("_", 1)[-1]
        uniques.append((number, unique, origin, partial, tuple(tuple(c) for c in cols)))
    fks = bind.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")').all()
    return (
        tuple(tuple(c) for c in columns),
        tuple(sorted(uniques)),
        tuple(tuple(f) for f in fks),
    )


def _table_sql(table: str) -> str | None:
    return (
        op.get_bind()
        .execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
            {"t": table},
        )
        .scalar()
    )


def _checked(table: str, sql: str) -> str:
    """``sql`` if, created as a scratch table, it has ``table``'s shape (else an error)."""
    bind = op.get_bind()
    head = re.compile(rf'^\s*CREATE\s+TABLE\s+("?){table}\1\s*\(', re.I)
    probe_sql = _one(head, f'CREATE TABLE "{PROBE}" (', sql, table, "CREATE TABLE head")
    bind.exec_driver_sql(f'DROP TABLE IF EXISTS "{PROBE}"')
    bind.exec_driver_sql(probe_sql)
    try:
        same = _shape(PROBE) == _shape(table)
    finally:
        bind.exec_driver_sql(f'DROP TABLE "{PROBE}"')
    if not same:
        raise RuntimeError(f"0054: {table}: the rewritten CREATE TABLE would change the table")
    return sql


def _rewrite(changes: dict[str, str]) -> None:
    """Replace tables' ``CREATE TABLE`` text (the stored rows and indexes stay as they are)."""
    if not changes:
        return
    bind = op.get_bind()
    shapes = {t: _shape(t) for t in changes}
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for table, sql in changes.items():
            bind.execute(
                sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
                {"sql": sql, "t": table},
            )
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    for table, sql in changes.items():  # read back through the schema just reloaded
        if _table_sql(table) != sql or _shape(table) != shapes[table]:
            raise RuntimeError(f"0054: {table}: the schema read back is not the one written")


def _ensure_sequence_table() -> None:
    """``sqlite_sequence`` exists once any AUTOINCREMENT table was created (0053 made one)."""
    bind = op.get_bind()
    if _table_sql("sqlite_sequence") is None:
        bind.exec_driver_sql(f'CREATE TABLE "{PROBE}" (id INTEGER PRIMARY KEY AUTOINCREMENT)')
        bind.exec_driver_sql(f'DROP TABLE "{PROBE}"')


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    _ensure_sequence_table()
    referenced = _highest_referenced()
    changes = {}
    for table in TABLES:
        sql = _table_sql(table)
        if sql is None:
            raise RuntimeError(f"0054: table {table} is missing")
        if "AUTOINCREMENT" not in sql.upper():
            changes[table] = _checked(table, _with_autoincrement(table, sql))
    _rewrite(changes)
    for table in TABLES:
        floor = max(
            referenced.get(table, 0),
            bind.execute(sa.text(f'SELECT coalesce(max(id), 0) FROM "{table}"')).scalar(),
            bind.execute(
                sa.text("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = :t"),
                {"t": table},
            ).scalar(),
        )
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
        if floor:
            bind.execute(
                sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :n)"),
                {"t": table, "n": floor},
            )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    changes = {}
    for table in TABLES:
        sql = _table_sql(table)
        if sql is not None and "AUTOINCREMENT" in sql.upper():
            changes[table] = _checked(table, _without_autoincrement(table, sql))
    _rewrite(changes)
    bind.execute(sa.text(f"DELETE FROM sqlite_sequence WHERE name IN ({_in(TABLES)})"))
