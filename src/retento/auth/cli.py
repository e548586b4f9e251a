"""`retento user ...`: create users, issue and revoke tokens."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.markup import escape

from retento.auth import service
from retento.auth.schemas import UserCreate
from retento.core.cli_say import say, say_in
from retento.core.cli_support import cli_session, console, friendly_errors, invalid_options
from retento.core.errors import InvalidInput, Msg
from retento.web.i18n import N_, normalise_locale

app = typer.Typer(help="Manage users and API tokens.", no_args_is_help=True)

# The user schemas' fields as these commands spell them, with the user form's labels.
OPTIONS = {
    "username": ("USERNAME", N_("Username")),
    "password": ("--password", N_("Password")),
    "role": ("--role", N_("Role")),
    "display_name": ("--display-name", N_("Display name")),
    "email": ("--email", N_("Email")),
    "locale": ("--locale", N_("Language")),
}


def _locale(value: str) -> str:
    """A language option as the rest of Retento reads it (``zh``, ``zh-CN`` … are ``zh_CN``:
    ``web.i18n.normalise_locale``); another language is left as typed, so the schema refuses
    it naming ``locale`` rather than making the user English unasked."""
    v = value.strip().replace("-", "_").lower()
    return normalise_locale(value) if v == "en" or v.startswith("zh") else value


@app.command("create")
@friendly_errors
def create(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option(
        ..., "--role", help="admin, manager, agent, analyst or a custom role (retento role list)."
    ),
    password: str | None = typer.Option(
        None,
        "--password",
        help="At least 12 characters, not a common password (asked if not given).",
    ),
    display_name: str = typer.Option("", "--display-name", help="Name shown in the app."),
    email: str | None = typer.Option(None, "--email", help="For notifications."),
    locale: str = typer.Option(
        "en",
        "--locale",
        "--lang",
        help="The user's language: en or zh_CN (zh and zh-CN too, as other commands take).",
    ),
    manager: str | None = typer.Option(
        None,
        "--manager",
        help="Username of the user's manager (an active user): their team queue and escalations.",
    ),
) -> None:
    """Create a user (no login needed: whoever runs the CLI administers the installation)."""
    if password is None:
        password = ask_password()
    try:
        data = UserCreate(
            username=username,
            role=role,
            password=password,
            display_name=display_name,
            email=email,
            locale=_locale(locale),
        )
    except ValidationError as exc:
        # Named by the option, in the CLI's language (an email as "Enter an email address such
        # as name@example.com.", as the web says it).
        raise invalid_options(exc, UserCreate, OPTIONS) from None
    with cli_session() as session:
        if manager:
            lead = _manager(session, manager)
            data = data.model_copy(update={"manager_id": lead.id})
        user = service.create_user(session, data, actor=None)
        who = {"role": escape(user.role), "username": escape(user.username), "id": user.id}
        if manager:
            line = say(
                "Created %(role)s [bold]%(username)s[/] (id %(id)s, reports to %(manager)s).",
                manager=escape(manager),
                **who,
            )
        else:
            line = say("Created %(role)s [bold]%(username)s[/] (id %(id)s).", **who)
        console.print(line)


def ask_password() -> str:
    """A new password typed twice without echo, in the command line's language. Asked rather
    than required as ``--password``: a command's arguments show in ``ps`` and shell history."""
    first = typer.prompt(say("Password"), hide_input=True)
    if typer.prompt(say("Repeat the password"), hide_input=True) != first:
        raise InvalidInput(Msg("The two passwords differ."), field="password")
    return first


def _manager(session, username: str, option: str = "--manager"):
    """The user named by ``--manager`` (refused naming that option when there is none)."""
    from retento.core.errors import NotFound

    try:
        return service.get_user_by_name(session, username)
    except NotFound:
        raise InvalidInput(
            Msg("No user named '%(username)s' (%(option)s).", username=username, option=option),
            field=option.lstrip("-").replace("-", "_"),
        ) from None


@app.command("update")
@friendly_errors
def update(
    username: str = typer.Argument(..., help="Login name."),
    manager: str | None = typer.Option(
        None, "--manager", help="Username of the user's new manager (an active user, no cycle)."
    ),
    no_manager: bool = typer.Option(False, "--no-manager", help="The user reports to nobody."),
    role: str | None = typer.Option(None, "--role", help="A built-in or custom role."),
    active: bool | None = typer.Option(
        None, "--active/--deactivate", help="Reactivate, or deactivate (ends their sessions)."
    ),
    reports_to: str | None = typer.Option(
        None,
        "--reports-to",
        help="With --deactivate: who the user's reports move to (default: the user's own "
        "manager, else nobody).",
    ),
) -> None:
    """Change USERNAME's manager, role or active flag (same checks as the web form and API)."""
    from retento.auth.schemas import UserUpdate

    if manager and no_manager:
        raise InvalidInput("Give --manager or --no-manager, not both.", field="manager")
    with cli_session() as session:
        user = service.get_user_by_name(session, username)
        changes: dict = {}
        if manager:
            changes["manager_id"] = _manager(session, manager).id
        elif no_manager:
            changes["manager_id"] = None
        if role is not None:
            changes["role"] = role
        if active is not None:
            changes["is_active"] = active
        if reports_to:
            changes["reports_to"] = _manager(session, reports_to, option="--reports-to").id
        if not changes:
            raise InvalidInput(
                "Nothing to change: give --manager, --no-manager, --role, --active, "
                "--deactivate or --reports-to.",
                field="username",
            )
        try:
            data = UserUpdate(**changes)
        except ValidationError as exc:
            raise invalid_options(exc, UserUpdate, OPTIONS) from None
        if data.role not in (None, "admin") or data.is_active is False:
            service.ensure_not_last_admin(session, user)
        moving = len(service.report_ids(session, user.id)) if data.is_active is False else 0
        # The CLI administers the installation (audited without a user, like `user create`).
        service.update_user(session, user.id, data, actor=None)
        lead = service.user_names(session, {user.manager_id}).get(user.manager_id)
        saved = {
            "username": escape(user.username),
            "role": escape(user.role),
            "state": say("active") if user.is_active else say_in("cli", "deactivated"),
            "manager": escape(lead) if lead else say_in("cli", "nobody"),
        }
        if moving:
            line = say(
                "Saved [bold]%(username)s[/]: %(role)s, %(state)s, reports to %(manager)s; "
                "%(n)s report(s) moved.",
                n=moving,
                **saved,
            )
        else:
            line = say(
                "Saved [bold]%(username)s[/]: %(role)s, %(state)s, reports to %(manager)s.",
                **saved,
            )
        console.print(line)


@app.command("password")
@friendly_errors
def password(
    username: str = typer.Argument(..., help="Login name."),
    new_password: str | None = typer.Option(
        None,
        "--password",
        help="At least 12 characters, not a common password (asked if not given).",
    ),
) -> None:
    """Set USERNAME's password (same policy as the web); ends the user's web sessions."""
    from retento.auth.schemas import UserUpdate

    if new_password is None:
        new_password = ask_password()
    with cli_session() as session:
        user = service.get_user_by_name(session, username)
        try:
            data = UserUpdate(password=new_password)
        except ValidationError as exc:
            raise invalid_options(exc, UserUpdate, OPTIONS) from None
        # The CLI administers the installation (audited without a user, like `user update`):
        # no current password, which a forgotten password could not give anyway.
        service.update_user(session, user.id, data, actor=None)
        console.print(
            say(
                "Password of [bold]%(username)s[/] changed; open sessions ended.",
                username=escape(user.username),
            )
        )


@app.command("logout")
@friendly_errors
def logout(username: str = typer.Argument(..., help="Login name.")) -> None:
    """End every open web session of USERNAME (API tokens stay; revoke them separately)."""
    with cli_session() as session:
        user = service.get_user_by_name(session, username)
        n = service.log_out_everywhere(session, user, actor=None)
        console.print(
            say(
                "Ended %(n)s open session(s) of [bold]%(username)s[/].",
                n=n,
                username=escape(user.username),
            )
        )


@app.command("token")
@friendly_errors
def token(
    username: str = typer.Argument(...),
    name: str = typer.Option(
        "cli", "--name", help="What the token is for (shown in the token list)."
    ),
) -> None:
    """Print a new API token for USERNAME (shown once; only its hash is stored)."""
    with cli_session() as session:
        user = service.get_user_by_name(session, username)
        _, plain = service.issue_token(session, user, name=name, actor=None)
    print(plain)  # the token alone: a script reads it


@app.command("revoke")
@friendly_errors
def revoke(
    username: str = typer.Argument(...),
    prefix: str = typer.Argument(..., help="First characters of the token."),
) -> None:
    """Revoke USERNAME's tokens starting with PREFIX."""
    from retento.core.db import utcnow

    with cli_session() as session:
        user = service.get_user_by_name(session, username)
        hits = [
            t
            for t in user.tokens
            if (t.prefix.startswith(prefix) or prefix.startswith(t.prefix)) and t.revoked_at is None
        ]
        if not hits:
            raise InvalidInput(
                Msg(
                    "No active token of %(username)s starts with '%(prefix)s'.",
                    username=username,
                    prefix=prefix,
                ),
                field="prefix",
            )
        for t in hits:
            t.revoked_at = utcnow()
        console.print(say("Revoked %(n)s token(s).", n=len(hits)))


@app.command("list")
@friendly_errors
def list_() -> None:
    """List users."""
    from rich.table import Table
    from sqlalchemy import select

    from retento.auth.models import User

    with cli_session() as session:
        table = Table(
            say_in("column", "id"),
            say_in("column", "username"),
            say_in("column", "role"),
            say_in("column", "active"),
            say_in("column", "locale"),
            say_in("column", "manager"),
        )
        yes, no = say("yes"), say("no")
        users = list(session.scalars(select(User).order_by(User.id)))
        names = {u.id: u.username for u in users}
        for u in users:
            table.add_row(
                str(u.id),
                u.username,
                u.role,
                yes if u.is_active else no,
                u.locale,
                names.get(u.manager_id, "") if u.manager_id else "",
            )
        console.print(table)
