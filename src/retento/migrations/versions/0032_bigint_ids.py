"""ids: every surrogate key and every column holding one is 64-bit on PostgreSQL

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-05 12:40:00.000000

Tables made before the loyalty ledger (0011) numbered their rows with ``SERIAL``: ``INTEGER``
columns fed by sequences created ``AS integer`` (MAXVALUE 2^31-1). History tables (orders, order
lines, touchpoints, complaint events, the audit log, notifications, the mail outbox, work items,
survey answers ...) pass 2^31 rows over a long life; the next insert then fails. This migration
turns every id column, every foreign key to one and the few unconstrained id references
(``mail_outbox.related_id``, ``notifications.subject_id``, ``notification_digests.outbox_id``,
``retention_playbooks.segment_id``) to ``BIGINT`` and their sequences ``AS bigint``
(``core.types.BigId`` in the models). The loyalty tables that were 64-bit from the start keep
their types; only their references to older tables change.

PostgreSQL rewrites each table (and rebuilds its indexes) under an ACCESS EXCLUSIVE lock: run it
with the application stopped (``docs/deploy-postgresql.md`` has the time measured per million
rows). Views and materialised views that read one of these columns would make ``ALTER ... TYPE``
fail; they are dropped and made again from their own definitions (with their indexes, comments,
owner and grants; a materialised view is filled again). The search functions of 0022 took
``integer[]``; they take ``bigint[]`` now.

SQLite: nothing to do. ``INTEGER`` holds 64-bit values there, and an ``INTEGER PRIMARY KEY`` must
stay spelled so to remain the rowid alias that numbers new rows.

Downgrade (PostgreSQL) turns them back to ``INTEGER``; it fails, changing nothing, if any value
or sequence is already past 2^31-1.
"""

from __future__ import annotations

import logging
import time

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# Table -> its columns that become BIGINT (every table's own id first).
COLUMNS: dict[str, tuple[str, ...]] = {
    "api_tokens": ("id", "user_id"),
    "audit_log": ("id", "actor_id"),
    "business_calendars": ("id",),
    "complaint_attachments": ("id", "complaint_id", "uploaded_by_id"),
    "complaint_categories": ("id", "parent_id"),
    "complaint_events": ("id", "actor_id", "complaint_id", "customer_id"),
    "complaint_improvements": ("id", "category_id", "owner_id"),
    "complaint_notifications": ("id", "complaint_id", "user_id"),
    "complaint_rate_hits": ("id",),
    "complaint_remedies": ("id", "complaint_id", "created_by_id"),
    "complaint_sla_pauses": ("id", "complaint_id"),
    "complaints": (
        "id",
        "assignee_id",
        "category_id",
        "created_by_id",
        "customer_id",
        "order_id",
        "product_id",
        "sla_policy_id",
        "team_manager_id",
    ),
    "customer_assignments": ("customer_id", "user_id"),
    "customer_contacts": ("id", "customer_id"),
    "customer_scores": ("id", "customer_id", "run_id"),
    "customer_search": ("customer_id",),
    "customer_search_grams": ("customer_id",),
    "customer_tags": ("customer_id",),
    "customers": ("id", "archived_by_id", "owner_id"),
    "experience_records": (
        "id",
        "created_by_id",
        "customer_id",
        "survey_answer_id",
        "survey_response_id",
        "touchpoint_id",
    ),
    "import_jobs": ("id", "created_by_id"),
    "insight_runs": ("id", "created_by_id"),
    "insight_segment_members": ("id", "customer_id", "segment_id"),
    "insight_segments": ("id", "created_by_id", "run_id"),
    "loyalty_accounts": ("customer_id", "tier_id"),
    "loyalty_attendance": ("id", "customer_id", "event_id", "touchpoint_id"),
    "loyalty_club_events": ("id", "club_id"),
    "loyalty_club_members": ("id", "club_id", "customer_id"),
    "loyalty_clubs": ("id", "min_tier_id"),
    "loyalty_holds": ("customer_id",),
    "loyalty_journals": ("actor_id", "customer_id"),
    "loyalty_measurement_runs": ("id",),
    "loyalty_measurements": ("customer_id", "run_id"),
    "loyalty_notices": ("customer_id", "message_id"),
    "loyalty_programmes": ("id",),
    "loyalty_redemptions": ("agent_id", "customer_id", "order_id", "reward_id"),
    "loyalty_rewards": ("id", "min_tier_id"),
    "loyalty_rule_uses": ("customer_id", "rule_id"),
    "loyalty_rules": ("id", "product_id"),
    "loyalty_stats": ("id",),
    "loyalty_tier_changes": ("actor_id", "customer_id", "from_tier_id", "to_tier_id"),
    "loyalty_tiers": ("id",),
    "mail_outbox": ("id", "created_by_id", "customer_id", "related_id"),
    "notification_digests": ("id", "outbox_id", "user_id"),
    "notification_preferences": ("id", "user_id"),
    "notifications": ("id", "subject_id", "user_id"),
    "order_lines": ("id", "order_id", "product_id"),
    "orders": ("id", "customer_id"),
    "products": ("id",),
    "refunds": ("id", "line_id", "order_id"),
    "retention_alerts": ("id", "closed_by_id", "customer_id", "owner_id"),
    "retention_cases": ("id", "alert_id", "customer_id", "playbook_id"),
    "retention_config": ("id", "default_owner_id"),
    "retention_open_cases": ("case_id", "customer_id"),
    "retention_playbooks": ("id", "offer_reward_id", "segment_id"),
    "retention_rules": ("id",),
    "retention_tasks": ("id", "case_id", "customer_id", "done_by_id", "owner_id"),
    "score_runs": ("id",),
    "sla_policies": ("id", "auto_reassign_to_id", "calendar_id"),
    "survey_answers": ("id", "question_id", "response_id"),
    "survey_distributions": ("id", "created_by_id", "survey_id"),
    "survey_invitations": ("id", "customer_id", "distribution_id", "survey_id"),
    "survey_questions": ("id", "section_id", "survey_id"),
    "survey_responses": ("id", "customer_id", "entered_by_id", "invitation_id", "survey_id"),
    "survey_sections": ("id", "survey_id"),
    "surveys": ("id", "created_by_id"),
    "touchpoints": ("id", "customer_id", "owner_id"),
    "user_sessions": ("id", "user_id"),
    "users": ("id", "manager_id"),
    "value_settings": ("id", "updated_by_id"),
    "work_items": ("id", "created_by_id"),
}

# --- Search functions (0022) with the id array's type as a parameter -------------------------

_REFRESH = """
CREATE OR REPLACE FUNCTION retento_search_refresh(ids __T__[]) RETURNS void
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
$$
"""

_CUSTOMERS_UPD = """
CREATE OR REPLACE FUNCTION retento_customers_search_upd() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS
$$
DECLARE changed __T__[];
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
END $$
"""

_CONTACTS_UPD = """
CREATE OR REPLACE FUNCTION retento_contacts_search_upd() RETURNS trigger
LANGUAGE plpgsql SET enable_nestloop = off SET jit = off AS
$$
DECLARE changed __T__[];
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
END $$
"""


def _run(conn: sa.engine.Connection, sql: str) -> None:
    """One statement as it is: no parameters, so a '%' or ':' in a view's text stays literal."""
    with conn.connection.driver_connection.cursor() as cur:
        cur.execute(sql)


def _search_functions(conn: sa.engine.Connection, new: str, old: str) -> None:
    # The trigger functions call retento_search_refresh by name when they run, so the new
    # overload is made first and the old one dropped last.
    for sql in (_REFRESH, _CUSTOMERS_UPD, _CONTACTS_UPD):
        _run(conn, sql.replace("__T__", new))
    _run(conn, f"DROP FUNCTION IF EXISTS retento_search_refresh({old}[])")


# --- Views that read the columns ---------------------------------------------------------------

_VIEWS = """
WITH RECURSIVE cols AS (
    SELECT a.attrelid, a.attnum
    FROM unnest(CAST(:tables AS text[]), CAST(:columns AS text[])) AS x(t, c)
    JOIN pg_attribute a ON a.attrelid = to_regclass(x.t) AND a.attname = x.c
), tree(oid, depth) AS (
    SELECT r.ev_class, 1
    FROM cols
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass
        AND d.refclassid = 'pg_class'::regclass
        AND d.refobjid = cols.attrelid AND d.refobjsubid = cols.attnum
    JOIN pg_rewrite r ON r.oid = d.objid
    WHERE r.ev_class <> cols.attrelid
    UNION ALL
    SELECT r.ev_class, tree.depth + 1
    FROM tree
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass
        AND d.refclassid = 'pg_class'::regclass AND d.refobjid = tree.oid
    JOIN pg_rewrite r ON r.oid = d.objid
    WHERE r.ev_class <> tree.oid AND tree.depth < 50
)
SELECT c.oid, max(tree.depth) AS depth
FROM tree JOIN pg_class c ON c.oid = tree.oid
WHERE c.relkind IN ('v', 'm')
GROUP BY c.oid
ORDER BY depth, c.oid
"""


# Foreign keys with a column on either side among those changing: dropped first and made again
# last, so each is checked once (altering each side on its own checks it twice: 1.9 s more for
# 1M order lines).
_FOREIGN_KEYS = """
WITH cols AS (
    SELECT a.attrelid AS rel, a.attnum
    FROM unnest(CAST(:tables AS text[]), CAST(:columns AS text[])) AS x(t, c)
    JOIN pg_attribute a ON a.attrelid = to_regclass(x.t) AND a.attname = x.c
)
SELECT con.conrelid::regclass::text, quote_ident(con.conname), pg_get_constraintdef(con.oid)
FROM pg_constraint con
WHERE con.contype = 'f' AND EXISTS (
    SELECT 1 FROM cols
    WHERE (cols.rel = con.conrelid AND cols.attnum = ANY(con.conkey))
       OR (cols.rel = con.confrelid AND cols.attnum = ANY(con.confkey)))
ORDER BY 1, 2
"""


def _view_ddl(conn: sa.engine.Connection, oid: int) -> tuple[str, str, list[str]]:
    """(name, DROP statement, statements that make it again as it is) for a view's oid."""
    row = conn.execute(
        sa.text(
            "SELECT c.oid::regclass::text, c.relkind, pg_get_viewdef(c.oid), c.reloptions, "
            "pg_get_userbyid(c.relowner), current_user, obj_description(c.oid, 'pg_class') "
            "FROM pg_class c WHERE c.oid = :oid"
        ),
        {"oid": oid},
    ).one()
    name, kind, definition, options, owner, me, comment = row
    mat = kind == "m"
    what = "MATERIALIZED VIEW" if mat else "VIEW"
    with_ = f" WITH ({', '.join(options)})" if options else ""
    make = [f"CREATE {what} {name}{with_} AS {definition.rstrip().rstrip(';')}"]
    if mat:
        make += list(
            conn.execute(
                sa.text("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = :o"),
                {"o": oid},
            ).scalars()
        )
    if comment is not None:
        quoted = conn.execute(sa.text("SELECT quote_literal(:c)"), {"c": comment}).scalar()
        make.append(f"COMMENT ON {what} {name} IS {quoted}")
    if owner != me:
        make.append(f'ALTER {what} {name} OWNER TO "{owner}"')
    grants = conn.execute(
        sa.text(
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
            "ELSE quote_ident(pg_get_userbyid(a.grantee)) END, a.privilege_type, a.is_grantable "
            "FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = :o AND a.grantee <> c.relowner"
        ),
        {"o": oid},
    ).all()
    for grantee, privilege, grantable in grants:
        option = " WITH GRANT OPTION" if grantable else ""
        make.append(f"GRANT {privilege} ON {name} TO {grantee}{option}")
    return name, f"DROP {what} {name}", make


def _alter(to: str) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    tables = [t for t, cols in COLUMNS.items() for _ in cols]
    columns = [c for cols in COLUMNS.values() for c in cols]
    views = conn.execute(sa.text(_VIEWS), {"tables": tables, "columns": columns}).all()
    saved = [_view_ddl(conn, oid) for oid, _depth in views]
    for name, drop, _make in reversed(saved):
        log.info("Dropping %s while its columns change type", name)
        _run(conn, drop)

    keys = conn.execute(sa.text(_FOREIGN_KEYS), {"tables": tables, "columns": columns}).all()
    for table, name, _definition in keys:
        _run(conn, f"ALTER TABLE {table} DROP CONSTRAINT {name}")

    if to == "bigint":
        _search_functions(conn, "bigint", "integer")
    for table, cols in COLUMNS.items():
        started = time.perf_counter()
        _run(
            conn,
            f'ALTER TABLE "{table}" ' + ", ".join(f'ALTER COLUMN "{c}" TYPE {to}' for c in cols),
        )
        if "id" in cols:
            seq = conn.execute(
                sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}
            ).scalar()
            if seq is not None:
                # MAXVALUE follows the type when it was the old type's maximum (the default).
                _run(conn, f"ALTER SEQUENCE {seq} AS {to}")
        log.info(
            "%s: %s to %s in %.1f s", table, ", ".join(cols), to, time.perf_counter() - started
        )
    if to == "integer":
        _search_functions(conn, "integer", "bigint")

    started = time.perf_counter()
    for table, name, definition in keys:
        _run(conn, f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    log.info("%d foreign keys checked in %.1f s", len(keys), time.perf_counter() - started)

    for name, _drop, make in saved:
        log.info("Making %s again", name)
        for sql in make:
            _run(conn, sql)


def upgrade() -> None:
    _alter("bigint")


def downgrade() -> None:
    _alter("integer")
