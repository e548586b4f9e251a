"""roles: the built-in role a custom role "works like" (``base_role``)

A custom role (0047) gets its own permissions, but the defaults picked by role — the home
dashboard, notification defaults and recipients, the complaint queue's tabs, the retention
alerts' scope, public intake's owner — named the built-in roles only, so its users got those of
no built-in role. ``base_role`` (manager, agent or analyst; never admin) says whose defaults
they get; permissions never follow it (auth.permissions.base_role).

Existing custom roles get one from what they may do:

* permissions the built-in analyst holds as well, nothing more (it changes no business data:
  its scope then governs nothing) → ``analyst``;
* otherwise scope ``all`` with ``customer:update`` (edits every customer) → ``manager``;
* otherwise → ``agent`` (scope ``own``: works on its own customers).

Revision ID: 0051
Revises: 0050
Create Date: 2026-12-07 03:30:00.000000
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0051"
down_revision = "0050"
branch_labels = None
depends_on = None

# The built-in analyst's permissions when this migration was written (auth.permissions.MATRIX):
# a migration keeps its own copy, so a later change of the matrix does not change what it did.
ANALYST = frozenset(
    {
        "customer:read",
        "product:read",
        "order:read",
        "touchpoint:read",
        "score:read",
        "score:run",
        "insight:manage",
        "survey:read",
        "complaint:read",
        "loyalty:read",
        "retention:read",
        "data:export",
        "token:own",
    }
)


def derived_base_role(scope: str, permissions: list[str] | None) -> str:
    """The base role an existing custom role gets (see the module docstring)."""
    held = set(permissions or ())
    if held <= ANALYST:
        return "analyst"
    if scope == "all" and "customer:update" in held:
        return "manager"
    return "agent"


def upgrade() -> None:
    op.add_column(
        "roles",
        sa.Column("base_role", sa.String(length=10), nullable=False, server_default="agent"),
    )
    roles = sa.table(
        "roles",
        sa.column("id", sa.BigInteger()),
        sa.column("scope", sa.String()),
        sa.column("permissions", sa.JSON()),
        sa.column("base_role", sa.String()),
    )
    bind = op.get_bind()
    for id_, scope, perms in bind.execute(
        sa.select(roles.c.id, roles.c.scope, roles.c.permissions)
    ):
        base = derived_base_role(scope, perms)
        if base != "agent":
            bind.execute(roles.update().where(roles.c.id == id_).values(base_role=base))
    # A new random stamp: every process reloads its cache of custom roles (auth.roles).
    bind.execute(
        sa.text("UPDATE role_stamp SET stamp = :stamp WHERE id = 1"), {"stamp": uuid.uuid4().hex}
    )


def downgrade() -> None:
    op.drop_column("roles", "base_role")
