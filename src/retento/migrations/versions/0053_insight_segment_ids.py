"""insights: saved segments' ids are never reused (AUTOINCREMENT on SQLite)

A saved segment is referred to by its id without a foreign key: a retention playbook limited to
one of its clusters (``retention_playbooks.segment_id``), a survey distribution to it
(``survey_distributions.segment_value`` ``"12:0"``), links and dashboard filters. On SQLite an
``INTEGER PRIMARY KEY`` without AUTOINCREMENT numbers a new row max(id) + 1, so after the newest
segment was deleted the next one saved got its id, and a playbook left pointing at the deleted
segment silently targeted the new one's cluster. AUTOINCREMENT numbers past every id ever
used (``sqlite_sequence``).

SQLite cannot add AUTOINCREMENT to a table: it is rebuilt (Alembic's batch mode, a copy of
every row with its id). With foreign keys on, dropping the old table would delete every member
row (``insight_segment_members.segment_id`` is ON DELETE CASCADE, and DROP TABLE fires it), so
the members are copied aside first and put back after. The new sequence starts past the
highest id still referred to by a playbook or a distribution too (a segment deleted before this
migration, newer than every segment left), so those references keep matching nobody.

PostgreSQL: nothing to do; a sequence never hands out an id twice.

Revision ID: 0053
Revises: 0052
Create Date: 2026-12-07 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0053"
down_revision = "0052"
branch_labels = None
depends_on = None

MEMBERS = "insight_segment_members"
ASIDE = "_insight_segment_members_0053"


def _rebuild_segments(autoincrement: bool) -> None:
    """Recreate ``insight_segments`` with or without AUTOINCREMENT, keeping its rows (ids
    included) and its members (SQLite only)."""
    bind = op.get_bind()
    bind.exec_driver_sql(f"DROP TABLE IF EXISTS {ASIDE}")
    bind.exec_driver_sql(f"CREATE TABLE {ASIDE} AS SELECT * FROM {MEMBERS}")
    with op.batch_alter_table(
        "insight_segments",
        recreate="always",
        table_kwargs={"sqlite_autoincrement": autoincrement},
    ):
        pass
    # The rebuild's DROP TABLE cascaded to the members: put them back, ids included.
    bind.exec_driver_sql(f"DELETE FROM {MEMBERS}")
    bind.exec_driver_sql(
        f"INSERT INTO {MEMBERS} (id, segment_id, customer_id, cluster) "
        f"SELECT id, segment_id, customer_id, cluster FROM {ASIDE}"
    )
    bind.exec_driver_sql(f"DROP TABLE {ASIDE}")


def _highest_referenced_id() -> int:
    """The highest segment id a playbook or a survey distribution refers to (0 if none)."""
    bind = op.get_bind()
    top = bind.execute(sa.text("SELECT max(segment_id) FROM retention_playbooks")).scalar() or 0
    values = bind.execute(
        sa.text("SELECT segment_value FROM survey_distributions WHERE segment_kind = 'insight'")
    ).scalars()
    for value in values:
        head = (value or "").strip().partition(":")[0]
        if head.isdigit() and len(head) <= 18:
            top = max(top, int(head))
    return int(top)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild_segments(True)
    bind = op.get_bind()
    # Copying the rows set the sequence to the highest id left; start past those referred to.
    floor = max(
        _highest_referenced_id(),
        bind.execute(sa.text("SELECT coalesce(max(id), 0) FROM insight_segments")).scalar(),
    )
    bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'insight_segments'"))
    if floor:
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('insight_segments', :n)"),
            {"n": floor},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild_segments(False)
