"""`retento mail`: send the queued emails now, send a test email."""

from __future__ import annotations

import typer

from retento.core.cli_support import cli_actor, cli_session, console, err_console, friendly_errors

app = typer.Typer(help="Outbound email (the outbox).", no_args_is_help=True)


@app.command("send")
@friendly_errors
def send_cmd() -> None:
    """Send every due queued email now (what the mail_outbox job does every minute)."""
    from retento.mail.service import send_queued

    with cli_session() as session:
        report = send_queued(session)
    if report.disabled:
        console.print(
            f"Sending is disabled (RETENTO_SMTP_HOST is empty): {report.waiting} email(s) "
            "stay queued."
        )
        return
    for line in report.errors:
        err_console.print(f"[yellow]{line}[/]")
    console.print(
        f"Sent {report.sent}, retrying later {report.retrying}, failed {report.failed}, "
        f"cancelled {report.cancelled}; {report.waiting} still waiting."
    )
    if report.failed:
        raise typer.Exit(1)


@app.command("test")
@friendly_errors
def test_cmd(
    address: str = typer.Argument(..., help="Where to send the test email."),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
) -> None:
    """Send a test email through the configured SMTP server right away."""
    from retento.mail.service import send_test

    with cli_session() as session:
        msg = send_test(session, address, actor=cli_actor(session, as_user))
        status, error = msg.status, msg.last_error
    if status == "sent":
        console.print(f"Test email sent to {address}.")
    elif status == "queued":
        console.print(
            f"Sending is disabled (RETENTO_SMTP_HOST is empty); the test email to {address} "
            "waits in the outbox."
        )
    else:
        err_console.print(f"[bold red]Error:[/] the test email to {address} failed: {error}")
        raise typer.Exit(1)
