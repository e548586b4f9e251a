"""`retento complaints`: import, export and the escalation job."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from retento.core.cli_say import say
from retento.core.cli_support import (
    check_output,
    cli_actor,
    cli_session,
    console,
    friendly_errors,
    written,
)

app = typer.Typer(help="Complaints: import, export, SLA escalation.", no_args_is_help=True)


@app.command("import")
@friendly_errors
def import_cmd(
    file: Path = typer.Argument(..., help="CSV or XLSX with external_id, customer_external_id, …"),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
) -> None:
    """Import complaints; re-importing a file updates them (by external_id). All or nothing."""
    from retento.complaints.transfer import import_complaints
    from retento.dataio.readers import open_table

    with cli_session() as session:
        result = import_complaints(session, open_table(file), actor=cli_actor(session, as_user))
    console.print(
        say(
            "Complaints: %(created)s created, %(updated)s updated.",
            created=result["created"],
            updated=result["updated"],
        )
    )


@app.command("export")
@friendly_errors
def export_cmd(
    output: Path = typer.Option(..., "--output", "-o", help="CSV file to write."),
    status: str | None = typer.Option(None, "--status", help="Only this status."),
    open_only: bool = typer.Option(False, "--open", help="Only open complaints."),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
) -> None:
    """Export complaints as CSV."""
    from retento.complaints.transfer import write_csv

    check_output(output, "--output")
    with cli_session() as session, written(output, "--output") as tmp:
        n = write_csv(
            session, tmp, actor=cli_actor(session, as_user), status=status, open_only=open_only
        )
    console.print(say("Wrote %(n)s complaint(s) to %(file)s.", n=n, file=escape(str(output))))


@app.command("escalate")
@friendly_errors
def escalate_cmd() -> None:
    """Run the SLA escalation job once (safe to repeat)."""
    from retento.complaints.jobs import escalate

    with cli_session() as session:
        r = escalate(session)
    console.print(
        say(
            "Checked %(checked)s, flagged %(flagged)s, %(notifications)s notification(s), "
            "%(reassigned)s reassigned.",
            checked=r.checked,
            flagged=r.flagged,
            notifications=r.notifications,
            reassigned=r.reassigned,
        )
    )
