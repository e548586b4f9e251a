"""custom roles: an administrator's own roles with a chosen set of permissions

SPEC 9 (administrator: users, roles, settings). The four built-in roles stay in code; a custom
role is a row of ``roles`` (name, Chinese name, description, permissions, scope) and
``users.role`` holds its name. ``role_stamp`` holds one random stamp replaced by every change
of a role, read with the user on each request, so every process reloads its cache of role
permissions only when a role changed (auth.roles).

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-07 00:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("name_zh", sa.String(length=40), nullable=False, server_default=""),
        sa.Column("description", sa.String(length=500), nullable=False, server_default=""),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False, server_default="own"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.UniqueConstraint("name", name="uq_roles_name"),
    )
    stamp = op.create_table(
        "role_stamp",
        sa.Column("id", BigId, primary_key=True, autoincrement=False),
        sa.Column("stamp", sa.String(length=32), nullable=False),
    )
    op.bulk_insert(stamp, [{"id": 1, "stamp": "initial"}])


def downgrade() -> None:
    # Users holding a custom role would be left with a role no code knows: refuse.
    bind = op.get_bind()
    held = bind.execute(
        sa.text(
            "SELECT count(*) FROM users WHERE role NOT IN ('admin', 'manager', 'agent', 'analyst')"
        )
    ).scalar()
    if held:
        raise RuntimeError(
            f"{held} user(s) hold a custom role: give them a built-in role before downgrading."
        )
    op.drop_table("role_stamp")
    op.drop_table("roles")
