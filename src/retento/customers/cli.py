"""`retento customers`: archive, restore, export and erase one customer (privacy requests)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from retento.core.cli_support import cli_actor, cli_session, console, err_console, friendly_errors

app = typer.Typer(
    help="Customers: archive, restore, data export and erasure.", no_args_is_help=True
)

AS_USER = typer.Option(None, "--as", help="Act as this user (default: first admin).")


@app.command("archive")
@friendly_errors
def archive_cmd(customer_id: int = typer.Argument(..., min=1), as_user: str | None = AS_USER):
    """Hide a customer from lists, search, scoring and surveys (history is kept)."""
    from retento.customers.service import archive_customer

    with cli_session() as session:
        c = archive_customer(session, customer_id, actor=cli_actor(session, as_user))
        when = c.archived_at
    console.print(f"Customer {customer_id} is archived (since {when:%Y-%m-%d %H:%M} UTC).")


@app.command("restore")
@friendly_errors
def restore_cmd(customer_id: int = typer.Argument(..., min=1), as_user: str | None = AS_USER):
    """Bring an archived customer back (not an erased one)."""
    from retento.customers.service import restore_customer

    with cli_session() as session:
        restore_customer(session, customer_id, actor=cli_actor(session, as_user))
    console.print(f"Customer {customer_id} is active again.")


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
    if target.is_dir():
        err_console.print(f"[bold red]Error:[/] {target} is a directory; name the zip file.")
        raise typer.Exit(1)
    # Written next to the target and renamed at the end: no half-written zip if anything fails.
    fd, tmp = tempfile.mkstemp(prefix=".retento-export-", suffix=".zip", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh, cli_session() as session:
            counts = write_export(session, customer_id, fh, actor=cli_actor(session, as_user))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    rows = sum(counts.values())
    console.print(
        f"Wrote {target}: {rows} records in {sum(1 for n in counts.values() if n)} sections."
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

    if not yes:
        err_console.print(
            f"[bold red]Error:[/] erasing customer {customer_id} cannot be undone; "
            "add --yes to confirm."
        )
        raise typer.Exit(1)
    with cli_session() as session:
        report = erase_customer(
            session, customer_id, actor=cli_actor(session, as_user), reason=reason
        )
    changed = ", ".join(f"{k} {v}" for k, v in report.counts.items() if v) or "nothing else"
    console.print(f"Customer {customer_id} erased and archived. Changed: {changed}.")


@app.command("purge")
@friendly_errors
def purge_cmd(
    customer_id: int = typer.Argument(..., min=1),
    yes: bool = typer.Option(False, "--yes", help="Confirm: the deletion cannot be undone."),
    as_user: str | None = AS_USER,
) -> None:
    """Delete a customer entered by mistake; refused while it has orders or complaints."""
    from retento.customers.service import purge_customer

    if not yes:
        err_console.print(
            f"[bold red]Error:[/] deleting customer {customer_id} cannot be undone; "
            "add --yes to confirm."
        )
        raise typer.Exit(1)
    with cli_session() as session:
        purge_customer(session, customer_id, actor=cli_actor(session, as_user))
    console.print(f"Customer {customer_id} deleted.")
