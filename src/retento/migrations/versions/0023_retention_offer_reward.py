"""retention: an offer playbook may name a loyalty reward (voucher)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 23:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: most playbooks name no reward. A reward deleted from the catalogue leaves the
    # playbook without one (SET NULL) rather than blocking the delete.
    with op.batch_alter_table("retention_playbooks") as batch:
        batch.add_column(sa.Column("offer_reward_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_retention_playbooks_offer_reward_id_loyalty_rewards",
            "loyalty_rewards",
            ["offer_reward_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("retention_playbooks") as batch:
        batch.drop_constraint(
            "fk_retention_playbooks_offer_reward_id_loyalty_rewards", type_="foreignkey"
        )
        batch.drop_column("offer_reward_id")
