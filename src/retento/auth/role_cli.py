"""`retento role ...`: list, show, create, update and delete roles (as the user CLI, whoever
runs it administers the installation; changes are audited without a user)."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.markup import escape

from retento.auth import roles
from retento.auth.permissions import MATRIX, ROLES, role_permissions
from retento.auth.schemas import RoleCreate, RoleUpdate
from retento.core.cli_say import say, say_in
from retento.core.cli_support import cli_session, console, friendly_errors, invalid_options
from retento.core.errors import InvalidInput, Msg, NotFound
from retento.web.i18n import N_

app = typer.Typer(help="Manage roles: the four built-in ones and your own.", no_args_is_help=True)

# The role schemas' fields as these commands spell them, with the role form's labels: a refused
# value is named by its option and said as the form says it, in the CLI's language.
OPTIONS = {
    "name": ("--name", N_("Name")),
    "name_zh": ("--name-zh", N_("Chinese name")),
    "description": ("--description", N_("Description")),
    "permissions": ("--permissions", N_("Permissions")),
    "scope": ("--scope", N_("Works on")),
    "base_role": ("--base-role", N_("Works like")),
}
# `role create` takes the name as its argument.
CREATE_OPTIONS = {**OPTIONS, "name": ("NAME", N_("Name"))}


def _perms(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [p.strip() for p in value.split(",") if p.strip()]


@app.command("list")
@friendly_errors
def list_() -> None:
    """Every role: built-in ones first, how many users hold each, how many permissions."""
    from rich.table import Table
    from sqlalchemy import select

    from retento.auth.models import Role

    with cli_session() as session:
        counts = roles.holder_counts(session)
        table = Table()
        table.add_column(
            say_in("column", "name"), no_wrap=True
        )  # a name is what the other commands take
        for header in (
            say_in("column", "chinese name"),
            say_in("column", "built-in"),
            say_in("column", "works on"),
            say_in("column", "works like"),
            say_in("column", "permissions"),
            say_in("column", "users"),
        ):
            table.add_column(header)
        yes, no = say("yes"), say("no")
        for r in ROLES:
            scope = "own" if r == "agent" else "all"  # codes: what --scope takes
            n = str(len(role_permissions(r)))
            table.add_row(r, "", yes, scope, r, n, str(counts.get(r, 0)))
        for role in session.scalars(select(Role).order_by(Role.name)):
            table.add_row(
                role.name,
                role.name_zh,
                no,
                role.scope,
                role.base_role,
                str(len(role.permissions or ())),
                str(counts.get(role.name, 0)),
            )
        console.print(table)


@app.command("show")
@friendly_errors
def show(name: str = typer.Argument(..., help="Role name.")) -> None:
    """NAME's permissions, one per line."""
    with cli_session() as session:
        if name in ROLES:
            perms = [v for v in MATRIX if v in role_permissions(name)]
        else:
            role = roles.get_role(session, name)
            console.print(
                say(
                    "%(name)s %(name_zh)s (version %(version)s, %(scope)s, works like %(base)s)",
                    name=escape(role.name),
                    name_zh=escape(role.name_zh or ""),
                    version=role.version,
                    scope=role.scope,
                    base=role.base_role,
                )
            )
            perms = list(role.permissions or ())
        for p in perms:
            print(p)  # permission codes, one a line: a script reads them


@app.command("create")
@friendly_errors
def create(
    name: str = typer.Argument(..., help="Letters, digits and . _ - (up to 20)."),
    permissions: str = typer.Option(
        "", "--permissions", help="Comma-separated, e.g. customer:read,complaint:read."
    ),
    name_zh: str = typer.Option("", "--name-zh", help="The role's Chinese name."),
    description: str = typer.Option("", "--description", help="What the role is for."),
    scope: str = typer.Option("own", "--scope", help="own (like an agent) or all (a manager)."),
    base_role: str = typer.Option(
        "agent",
        "--base-role",
        help="The built-in role it works like (manager, agent or analyst): whose home "
        "dashboard, notification defaults and complaint queue views its users get.",
    ),
) -> None:
    """Create a custom role (user:manage cannot be granted: give the admin role instead)."""
    try:
        data = RoleCreate(
            name=name,
            name_zh=name_zh,
            description=description,
            permissions=_perms(permissions) or [],
            scope=scope,  # type: ignore[arg-type]
            base_role=base_role,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise invalid_options(exc, RoleCreate, CREATE_OPTIONS) from None
    with cli_session() as session:
        role = roles.create_role(session, data, actor=None)
        console.print(
            say(
                "Created role [bold]%(name)s[/] with %(n)s permission(s).",
                name=escape(role.name),
                n=len(role.permissions),
            )
        )


@app.command("update")
@friendly_errors
def update_(
    name: str = typer.Argument(...),
    new_name: str | None = typer.Option(None, "--name", help="Rename (users move with it)."),
    permissions: str | None = typer.Option(None, "--permissions", help="The whole new set."),
    name_zh: str | None = typer.Option(None, "--name-zh", help="The role's Chinese name."),
    description: str | None = typer.Option(None, "--description", help="What the role is for."),
    scope: str | None = typer.Option(
        None, "--scope", help="own (like an agent) or all (a manager)."
    ),
    base_role: str | None = typer.Option(
        None, "--base-role", help="manager, agent or analyst: whose defaults its users get."
    ),
) -> None:
    """Change a custom role (the options given; --permissions replaces the whole set)."""
    given = {
        "name": new_name,
        "permissions": _perms(permissions),
        "name_zh": name_zh,
        "description": description,
        "scope": scope,
        "base_role": base_role,
    }
    try:
        data = RoleUpdate(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise invalid_options(exc, RoleUpdate, OPTIONS) from None
    with cli_session() as session:
        role = roles.update_role(session, name, data, actor=None)
        console.print(
            say(
                "Saved role [bold]%(name)s[/] (version %(version)s).",
                name=escape(role.name),
                version=role.version,
            )
        )


@app.command("delete")
@friendly_errors
def delete(name: str = typer.Argument(...)) -> None:
    """Delete a custom role no user holds."""
    with cli_session() as session:
        try:
            roles.delete_role(session, name, actor=None)
        except NotFound:
            raise InvalidInput(
                Msg("There is no role '%(role)s'.", role=name), field="name"
            ) from None
        console.print(say("Deleted role [bold]%(name)s[/].", name=escape(name)))
