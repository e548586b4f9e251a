"""score_runs: at most one run in progress, by a partial unique index

``scoring.service.start_run`` refused a second run by reading the runs in progress, then
inserting its own: two requests arriving together both read none and both started a full run
(seen on PostgreSQL: four parallel ``POST /api/v1/scoring/runs`` started runs #3–#6, each
scoring every customer). A unique index on ``status`` over the rows ``WHERE status =
'running'`` (PostgreSQL and SQLite both have partial indexes) makes the second insert fail,
which ``start_run`` answers with the same 409 as before.

A database may hold several "running" rows already (runs left by a stopped process, or the race
itself): all but the newest are closed as failed first ("Interrupted."), as ``start_run`` closes
a stale run.

Revision ID: 0055
Revises: 0054
Create Date: 2026-12-07 13:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0055"
down_revision = "0054"
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'running'")


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE score_runs SET status = 'failed', error = 'Interrupted.', "
            "finished_at = CURRENT_TIMESTAMP WHERE status = 'running' AND id < "
            "(SELECT max(id) FROM score_runs WHERE status = 'running')"
        )
    )
    op.create_index(
        "uq_score_runs_running",
        "score_runs",
        ["status"],
        unique=True,
        postgresql_where=WHERE,
        sqlite_where=WHERE,
    )


def downgrade() -> None:
    op.drop_index("uq_score_runs_running", table_name="score_runs")
