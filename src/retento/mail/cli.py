"""`retento mail`: send the queued emails now, send a test email."""

from __future__ import annotations

import typer
from rich.markup import escape

from retento.core.cli_say import say
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
            say(
                "Sending is disabled (RETENTO_SMTP_HOST is empty): %(n)s email(s) stay queued.",
                n=report.waiting,
            )
        )
        return
    for line in report.errors:
        err_console.print(f"[yellow]{escape(line)}[/]")  # id, address, the server's reply
    console.print(
        say(
            "Sent %(sent)s, retrying later %(retrying)s, failed %(failed)s, cancelled "
            "%(cancelled)s; %(waiting)s still waiting.",
            sent=report.sent,
            retrying=report.retrying,
            failed=report.failed,
            cancelled=report.cancelled,
            waiting=report.waiting,
        )
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
        console.print(say("Test email sent to %(address)s.", address=escape(address)))
    elif status == "queued":
        console.print(
            say(
                "Sending is disabled (RETENTO_SMTP_HOST is empty); the test email to "
                "%(address)s waits in the outbox.",
                address=escape(address),
            )
        )
    else:
        err_console.print(
            say(
                "[bold red]Error:[/] the test email to %(address)s failed: %(error)s",
                address=escape(address),
                error=escape(error or ""),
            )
        )
        raise typer.Exit(1)


@app.command("receive")
@friendly_errors
def receive_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8025, "--port", min=1, max=65535, help="Port to listen on."),
    lmtp: bool = typer.Option(
        False, "--lmtp", help="Speak LMTP (behind Postfix/Exim) instead of SMTP."
    ),
) -> None:
    """Receive customer replies (SMTP or LMTP) and file them on their complaint's timeline."""
    import logging
    import signal
    import threading

    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory
    from retento.mail.inbound import make_controller
    from retento.models import import_all_models

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command lines
    import_all_models()
    engine = make_engine(get_settings().database_url)
    controller = make_controller(make_session_factory(engine), host, port, lmtp=lmtp)
    controller.start()
    console.print(
        say(
            "Receiving %(protocol)s on %(host)s:%(port)s (Ctrl-C stops).",
            protocol="LMTP" if lmtp else "SMTP",
            host=escape(host),
            port=port,
        )
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
        engine.dispose()
