"""complaints: breach flags follow the current clock; "ever breached" kept for the reports

``first_response_breached`` / ``resolution_breached`` and the escalation levels
(``first_response_flag`` / ``sla_flag``) were only ever raised. A reopened complaint, or one given
a longer target (a new severity, policy or calendar, also while awaiting the customer), kept
"Resolution late" on a fresh clock, and a level left at "breached" made the escalation job skip
the new deadline for good. The flags now follow the current clock (``sla_clocks.settle_flags``);
two new columns keep that a deadline was ever missed, which the reports count.

Data: the new columns start as the old (sticky) flags; then the flags of open complaints are
lowered to the level their stored due and warning times have reached now, the resolution flag of
resolved/closed complaints is what their last clock says (resolved after its due time), and a
first response given is late exactly when it came after its due time.

Revision ID: 0058
Revises: 0057
Create Date: 2026-12-08 10:00:00.000000
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from retento.core.db import UTCDateTime

revision = "0058"
down_revision = "0057"
branch_labels = None
depends_on = None

OPEN = "status IN ('accepted', 'in_progress', 'awaiting_customer')"


def upgrade() -> None:
    for name in ("first_response_ever_breached", "resolution_ever_breached"):
        op.add_column(
            "complaints",
            sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()),
        )
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "UPDATE complaints SET first_response_ever_breached = first_response_breached, "
            "resolution_ever_breached = resolution_breached"
        )
    )
    now = sa.bindparam("now", datetime.now(UTC), type_=UTCDateTime())

    def run(sql: str) -> None:
        stmt = sa.text(sql)
        bind.execute(stmt.bindparams(now) if ":now" in sql else stmt)

    # Resolution clock of open complaints: lower the level to what it has reached now.
    run(
        f"UPDATE complaints SET sla_flag = CASE "
        f"WHEN resolution_warn_at IS NOT NULL AND resolution_warn_at <= :now "
        f"THEN 'near_breach' ELSE 'ok' END "
        f"WHERE {OPEN} AND sla_flag = 'breached' "
        f"AND (resolution_due_at IS NULL OR resolution_due_at > :now)"
    )
    run(
        f"UPDATE complaints SET sla_flag = 'ok' WHERE {OPEN} AND sla_flag = 'near_breach' "
        f"AND (resolution_warn_at IS NULL OR resolution_warn_at > :now)"
    )
    run(
        f"UPDATE complaints SET resolution_breached = false WHERE {OPEN} "
        f"AND resolution_breached AND (resolution_due_at IS NULL OR resolution_due_at > :now)"
    )
    # Resolved or closed: late exactly when resolved after the last clock's due time.
    run(
        f"UPDATE complaints SET resolution_breached = (resolved_at > resolution_due_at) "
        f"WHERE NOT ({OPEN}) AND resolved_at IS NOT NULL AND resolution_due_at IS NOT NULL"
    )
    # First response: given → late when after its due time; outstanding → as the resolution.
    run(
        "UPDATE complaints SET first_response_breached = "
        "(first_response_due_at IS NOT NULL AND first_responded_at > first_response_due_at) "
        "WHERE first_responded_at IS NOT NULL"
    )
    run(
        f"UPDATE complaints SET first_response_flag = CASE "
        f"WHEN first_response_warn_at IS NOT NULL AND first_response_warn_at <= :now "
        f"THEN 'near_breach' ELSE 'ok' END, first_response_breached = false "
        f"WHERE {OPEN} AND first_responded_at IS NULL AND first_response_flag = 'breached' "
        f"AND (first_response_due_at IS NULL OR first_response_due_at > :now)"
    )
    run(
        f"UPDATE complaints SET flagged = false WHERE {OPEN} AND flagged "
        f"AND sla_flag = 'ok' AND first_response_flag = 'ok'"
    )
    # A breach the repair surfaced (a first response given after its due time) is history too.
    bind.execute(
        sa.text(
            "UPDATE complaints SET "
            "first_response_ever_breached = (first_response_ever_breached OR "
            "first_response_breached), "
            "resolution_ever_breached = (resolution_ever_breached OR resolution_breached)"
        )
    )


def downgrade() -> None:
    # The current flags stay as repaired; the sticky meaning comes back for new breaches only.
    op.drop_column("complaints", "resolution_ever_breached")
    op.drop_column("complaints", "first_response_ever_breached")
