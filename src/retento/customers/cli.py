"""`retento customers`: archive, restore, export and erase one customer (privacy requests)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from retento.core.cli_say import say, say_in
from retento.core.cli_support import (
    check_output,
    cli_actor,
    cli_session,
    console,
    err_console,
    friendly_errors,
    invalid_options,
    written,
)
from retento.core.errors import InvalidInput, Msg
from retento.web.i18n import N_

app = typer.Typer(
    help="Customers: search, merge, archive, restore, data export and erasure.",
    no_args_is_help=True,
)

AS_USER = typer.Option(None, "--as", help="Act as this user (default: first admin).")
# `customers field-add`'s arguments and options by FieldDefinitionCreate's fields, labelled as the
# Customer fields page labels them.
FIELD_ADD_OPTIONS = {
    "key": ("key", N_("Key")),
    "label": ("label", N_("Display name")),
    "label_zh": ("--label-zh", N_("Chinese display name")),
    "field_type": ("--type", N_("Type")),
    "options": ("--option", N_("Choice")),
}


def _confirmed(session, actor, customer_ids: tuple[int, ...], yes: bool, refusal: Msg) -> None:
    """Refuse (``refusal``, naming --yes) an action that cannot be undone unless ``--yes`` was
    given; a customer that does not exist is said first, as the action would say it."""
    from retento.customers.service import get_customer

    for customer_id in customer_ids:
        get_customer(session, customer_id, actor=actor)
    if not yes:
        raise InvalidInput(refusal)


@app.command("archive")
@friendly_errors
def archive_cmd(customer_id: int = typer.Argument(..., min=1), as_user: str | None = AS_USER):
    """Hide a customer from lists, search, scoring and surveys (history is kept)."""
    from retento.customers.service import archive_customer

    with cli_session() as session:
        c = archive_customer(session, customer_id, actor=cli_actor(session, as_user))
        when = c.archived_at
    console.print(
        say(
            "Customer %(id)s is archived (since %(when)s UTC).",
            id=customer_id,
            when=f"{when:%Y-%m-%d %H:%M}",
        )
    )


@app.command("restore")
@friendly_errors
def restore_cmd(customer_id: int = typer.Argument(..., min=1), as_user: str | None = AS_USER):
    """Bring an archived customer back (not an erased one)."""
    from retento.customers.service import restore_customer

    with cli_session() as session:
        restore_customer(session, customer_id, actor=cli_actor(session, as_user))
    console.print(say("Customer %(id)s is active again.", id=customer_id))


@app.command("export")
@friendly_errors
def export_cmd(
    customer_id: int = typer.Argument(..., min=1),
    output: Path = typer.Option(..., "--output", "-o", help="The zip file to write."),
    as_user: str | None = AS_USER,
) -> None:
    """Write everything held about a customer to a zip (JSON and CSV files)."""
    from retento.customers.privacy import write_export

    target = output.expanduser()
    check_output(target, "--output")
    # Written next to the target and renamed at the end: no half-written zip if anything fails.
    with written(target, "--output") as tmp, tmp.open("wb") as fh, cli_session() as session:
        counts = write_export(session, customer_id, fh, actor=cli_actor(session, as_user))
    rows = sum(counts.values())
    console.print(
        say(
            "Wrote %(file)s: %(records)s records in %(sections)s sections.",
            file=escape(str(target)),
            records=rows,
            sections=sum(1 for n in counts.values() if n),
        )
    )


@app.command("erase")
@friendly_errors
def erase_cmd(
    customer_id: int = typer.Argument(..., min=1),
    yes: bool = typer.Option(False, "--yes", help="Confirm: the erasure cannot be undone."),
    reason: str | None = typer.Option(
        None, "--reason", help="Reference of the request (kept in the audit log; no personal data)."
    ),
    as_user: str | None = AS_USER,
) -> None:
    """Anonymise a customer's personal data for good; financial records are kept."""
    from retento.customers.privacy import erase_customer

    with cli_session() as session:
        actor = cli_actor(session, as_user)
        refusal = Msg(
            "Erasing customer %(id)s cannot be undone; add --yes to confirm.", id=customer_id
        )
        _confirmed(session, actor, (customer_id,), yes, refusal)
        report = erase_customer(session, customer_id, actor=actor, reason=reason)
    # the tables' names (codes) with their counts
    changed = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v) or say_in(
        "cli", "nothing else"
    )
    console.print(
        say(
            "Customer %(id)s erased and archived. Changed: %(changed)s.",
            id=customer_id,
            changed=changed,
        )
    )


@app.command("purge")
@friendly_errors
def purge_cmd(
    customer_id: int = typer.Argument(..., min=1),
    yes: bool = typer.Option(False, "--yes", help="Confirm: the deletion cannot be undone."),
    as_user: str | None = AS_USER,
) -> None:
    """Delete a customer entered by mistake; refused while it has orders or complaints."""
    from retento.customers.service import purge_customer

    with cli_session() as session:
        actor = cli_actor(session, as_user)
        refusal = Msg(
            "Deleting customer %(id)s cannot be undone; add --yes to confirm.", id=customer_id
        )
        _confirmed(session, actor, (customer_id,), yes, refusal)
        purge_customer(session, customer_id, actor=actor)
    console.print(say("Customer %(id)s deleted.", id=customer_id))


@app.command("search")
@friendly_errors
def search_cmd(
    query: str = typer.Argument(..., help="Name part, Chinese character, email, phone digits, id."),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="At most this many."),
    archived: bool = typer.Option(False, "--archived", help="Include archived customers."),
    as_user: str | None = AS_USER,
) -> None:
    """Find customers the way the web list and the API do (best match first)."""
    from retento.auth.permissions import require
    from retento.customers.search import rank_label, search

    with cli_session() as session:
        require(cli_actor(session, as_user), "customer:read")
        rows = search(session, query, limit=limit, include_archived=archived)
        lines = [
            f"{c.id}\t{c.name}\t{c.email or ''}\t{c.phone or ''}\t{c.external_id or ''}"
            f"\t{rank_label(r)}"
            for c, r in rows
        ]
    for line in lines:
        console.print(line, highlight=False, markup=False)
    if not lines:
        err_console.print(say("No customer matches."))


@app.command("merge")
@friendly_errors
def merge_cmd(
    survivor_id: int = typer.Argument(..., min=1, help="The customer that keeps everything."),
    duplicate_id: int = typer.Argument(..., min=1, help="Merged into the first, then archived."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: the merge cannot be undone."),
    as_user: str | None = AS_USER,
) -> None:
    """Merge a duplicate customer into another (orders, complaints, surveys, points, ...)."""
    from retento.customers.merge import merge_customers

    with cli_session() as session:
        actor = cli_actor(session, as_user)
        refusal = Msg(
            "Merging customer %(duplicate)s into %(survivor)s cannot be undone; add --yes to "
            "confirm.",
            duplicate=duplicate_id,
            survivor=survivor_id,
        )
        _confirmed(session, actor, (survivor_id, duplicate_id), yes, refusal)
        _, moved = merge_customers(session, survivor_id, duplicate_id, actor=actor)
    # the tables' names (codes) with their counts
    done = ", ".join(f"{k} {v}" for k, v in sorted(moved.items()) if v) or say_in("cli", "nothing")
    console.print(
        say(
            "Customer %(duplicate)s merged into %(survivor)s and archived. Moved: %(moved)s.",
            duplicate=duplicate_id,
            survivor=survivor_id,
            moved=done,
        )
    )


@app.command("fields")
@friendly_errors
def fields_cmd(as_user: str | None = AS_USER) -> None:
    """List the custom field definitions of customer records, in the forms' order."""
    from retento.customers.field_defs import list_definitions

    with cli_session() as session:
        rows = list_definitions(session, actor=cli_actor(session, as_user))
        required, active, retired = say("required"), say("active"), say("retired")
        lines = [
            f"{d.position:>5}  {d.key:<24} {d.field_type:<8} {required if d.required else '':<8} "
            f"{active if d.active else retired:<7}  {d.label}"
            + (f" / {d.label_zh}" if d.label_zh else "")
            + (f"  [{', '.join(str(o['value']) for o in d.options)}]" if d.options else "")
            for d in rows
        ]
    console.print("\n".join(lines) if lines else say("No custom fields are defined."), markup=False)


@app.command("field-add")
@friendly_errors
def field_add_cmd(
    key: str = typer.Argument(..., help="lower-case letters, digits and _; fixed once created"),
    label: str = typer.Argument(..., help="the display name"),
    field_type: str = typer.Option(
        "text", "--type", help="text, number, date, boolean (yes/no) or choice"
    ),
    label_zh: str | None = typer.Option(None, "--label-zh", help="the Chinese display name"),
    option: list[str] = typer.Option(
        [], "--option", help="a choice's option, 'Gold' or 'Gold|金卡' (repeat the option)"
    ),
    required: bool = typer.Option(False, "--required", help="a value is needed"),
    as_user: str | None = AS_USER,
) -> None:
    """Define a custom field of customer records (administrators; see docs/customers.md)."""
    from pydantic import ValidationError

    from retento.customers.field_defs import FieldDefinitionCreate, create_definition

    options = [
        {"value": v.strip(), "label_zh": zh.strip() or None}
        for v, _, zh in (o.partition("|") for o in option)
    ]
    try:
        data = FieldDefinitionCreate(
            key=key,
            label=label,
            label_zh=label_zh,
            field_type=field_type,  # type: ignore[arg-type]
            options=options,  # type: ignore[arg-type]
            required=required,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        error = (first.get("ctx") or {}).get("error")
        if not first["loc"] and isinstance(error, Exception) and error.args:
            # The model's own check ("options: a choice field needs at least one option."),
            # already naming its field, in the catalogues.
            reason = error.args[0] if isinstance(error.args[0], Msg) else Msg(str(error.args[0]))
            raise InvalidInput(reason, field=getattr(error, "field", None)) from None
        raise invalid_options(exc, FieldDefinitionCreate, FIELD_ADD_OPTIONS) from None
    with cli_session() as session:
        d = create_definition(session, data, actor=cli_actor(session, as_user))
        key, version = d.key, d.version
    console.print(
        say("Custom field %(key)s is defined (version %(version)s).", key=key, version=version)
    )
