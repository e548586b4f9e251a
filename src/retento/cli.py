"""The `retento` command line: every domain contributes a Typer sub-app."""

from __future__ import annotations

import typer
from rich.markup import escape

from retento.analyze.cli import app as analyze_app
from retento.auth.cli import app as user_app
from retento.auth.role_cli import app as role_app
from retento.complaints.cli import app as complaints_app
from retento.core.cli_language import LANGUAGE_OPTIONS, set_global_language, supported
from retento.core.cli_say import say, say_message
from retento.core.cli_support import console, friendly_errors
from retento.core.cli_usage import UsageLanguageGroup
from retento.customers.cli import app as customers_app
from retento.dataio.cli import export_cmd, import_cmd
from retento.demo.cli import demo as demo_cmd
from retento.loyalty.cli import app as loyalty_app
from retento.mail.cli import app as mail_app
from retento.retention.cli import app as retention_app
from retento.scoring.cli import score as score_cmd
from retento.surveys.cli import app as surveys_app
from retento.work.cli import app as work_app

app = typer.Typer(
    cls=UsageLanguageGroup,  # usage errors in the command line's language
    help="Retento customer-retention system.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    ctx: typer.Context,
    lang: str | None = typer.Option(
        None,
        *LANGUAGE_OPTIONS,
        help="Language of the output, the errors and the help: en or zh_CN (zh and zh-CN too). "
        "Default: the command's own --lang, else RETENTO_LANG, else LC_ALL / LC_MESSAGES / "
        "LANG, else RETENTO_DEFAULT_LOCALE.",
    ),
) -> None:
    """Retento customer-retention system."""
    if lang is not None and supported(lang) is None:
        raise typer.BadParameter(f"must be en or zh_CN, not {lang!r}", param_hint="--lang")
    set_global_language(lang)
    ctx.call_on_close(lambda: set_global_language(None))  # CliRunner runs many in one process


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(role_app, name="role")
app.add_typer(customers_app, name="customers")
app.add_typer(complaints_app, name="complaints")
app.add_typer(surveys_app, name="surveys")
app.add_typer(mail_app, name="mail")
app.add_typer(loyalty_app, name="loyalty")
app.add_typer(retention_app, name="retention")


def _work_kinds() -> None:
    """The domains' work kinds registered (``retento.jobs`` knows them), as the web app and the
    worker have them: whether a kind may run again is the kind's own declaration."""
    import retento.jobs  # noqa: F401


app.add_typer(work_app, name="work", callback=_work_kinds)
app.add_typer(analyze_app, name="analyze", help="Analyse files without a database.")
app.command("score")(score_cmd)
app.command("import")(import_cmd)
app.command("export")(export_cmd)
app.command("demo")(demo_cmd)


@db_app.command("upgrade")
@friendly_errors
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Create or migrate the schema of RETENTO_DATABASE_URL."""
    import logging
    import sys

    from alembic.util import CommandError

    from retento.core.config import get_settings
    from retento.core.errors import InvalidInput, Msg
    from retento.core.migrate import current_revision, head_revision, is_revision, upgrade

    # Each migration as it starts, and a long one's steps with their times (0032 logs every
    # table it rewrites), as `alembic upgrade` prints them: an upgrade of minutes is not silent.
    log = logging.getLogger("alembic.runtime.migration")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    level = log.level
    url = get_settings().database_url
    if not any(c in revision for c in "+-@") and not is_revision(revision):  # "+1" is relative
        raise InvalidInput(
            Msg(
                "There is no migration %(revision)s; the newest is %(head)s.",
                revision=revision,
                head=head_revision(),
            ),
            field="revision",
        )
    refuse_unknown_revision(url)
    before = current_revision(url)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        upgrade(url, revision)
    except CommandError as exc:  # a relative revision past the newest ("+3"), ...
        raise InvalidInput(
            Msg(
                "The upgrade to %(revision)s was refused: %(reason)s",
                revision=revision,
                reason=str(exc),
            ),
            field="revision",
        ) from None
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    after = current_revision(url) or revision
    if before is not None and before != after:
        line = say(
            "Database at %(url)s upgraded from revision %(before)s to %(revision)s.",
            url=escape(_safe(url)),
            before=escape(before),
            revision=escape(after),
        )
    else:
        line = say(
            "Database at %(url)s is at revision %(revision)s.",
            url=escape(_safe(url)),
            revision=escape(after),
        )
    console.print(line)


@db_app.command("current")
@friendly_errors
def db_current() -> None:
    """Show the schema revision."""
    from retento.core.config import get_settings
    from retento.core.migrate import current_revision, head_revision

    url = get_settings().database_url
    refuse_unknown_revision(url)
    # Said in the command line's language (Alembic's own report is English only).
    rev, head = current_revision(url), head_revision()
    if rev is None:
        line = say(
            "Database at %(url)s has no schema yet: run `retento db upgrade`.",
            url=escape(_safe(url)),
        )
    elif rev != head:
        line = say(
            "Database at %(url)s is at revision %(revision)s; this version's newest is "
            "%(head)s: run `retento db upgrade`.",
            url=escape(_safe(url)),
            revision=escape(rev),
            head=escape(head),
        )
    else:
        line = say(
            "Database at %(url)s is at revision %(revision)s.",
            url=escape(_safe(url)),
            revision=escape(rev),
        )
    console.print(line)


def refuse_unknown_revision(url: str) -> None:
    """Refuse a database a newer Retento migrated (its revision is not among this code's
    migrations) in words, not with Alembic's traceback: neither upgrading nor reading it here
    is safe."""
    from retento.core.errors import Conflict, Msg
    from retento.core.migrate import unknown_revision

    rev = unknown_revision(url)
    if rev is not None:
        raise Conflict(
            Msg(
                "The database at %(url)s is at revision %(revision)s, which this version of "
                "Retento does not know: a newer version has migrated it. Use that version, or "
                "restore a backup taken before the upgrade.",
                url=_safe(url),
                revision=rev,
            )
        )


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    reload: bool = typer.Option(
        False, "--reload", help="Restart when the code changes (development only)."
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Web processes serving this port (each runs the scheduler if RETENTO_RUN_SCHEDULER "
        "is true; scheduled jobs still run once per tick across all of them).",
    ),
    demo: bool = typer.Option(
        False,
        "--demo",
        help="Demo on this machine: without RETENTO_SECRET_KEY, use a random key kept in "
        "RETENTO_DATA_DIR/secret_key.",
    ),
) -> None:
    """Serve the web UI and the API (with the job scheduler)."""
    import uvicorn

    from retento.core.config import (
        InsecureSecretKey,
        check_secret_key,
        get_settings,
        use_demo_secret_key,
    )

    if demo:
        path = use_demo_secret_key()
        if path:
            console.print(
                say(
                    "[yellow]Demo mode: session cookies are signed with the key in %(path)s.[/]",
                    path=escape(str(path)),
                )
            )
    public = _public_base_url(host, port, demo)
    if public:
        console.print(f"[yellow]{escape(public)}[/]")
    try:
        key = check_secret_key(get_settings())
    except InsecureSecretKey as exc:
        # The key's instructions (``core.config``), in the catalogues (cli_output.po).
        console.print(say("[red]Error:[/] %(reason)s", reason=escape(say_message(str(exc)))))
        raise typer.Exit(2) from exc
    if len(key) < 32:
        console.print(
            say(
                "[yellow]Warning: RETENTO_SECRET_KEY is short; use 32 or more random characters.[/]"
            )
        )
    problem = _data_dir_problem(get_settings().data_dir)
    if problem:
        console.print(say("[red]Error:[/] %(reason)s", reason=escape(problem)))
        raise typer.Exit(2)
    if workers > 1 and reload:
        console.print(say("[red]Error:[/] --reload runs one process; drop --workers or --reload."))
        raise typer.Exit(2)
    if workers > 1 and get_settings().database_url.startswith("sqlite"):
        console.print(
            say(
                "[yellow]Warning: several processes on SQLite wait for each other's writes; use "
                "PostgreSQL (docs/deploy-postgresql.md).[/]"
            )
        )
    console.print(
        say(
            "Retento on http://%(host)s:%(port)s  (API docs: http://%(host)s:%(port)s/docs)",
            host=escape(host),
            port=port,
        )
    )
    uvicorn.run(
        "retento.asgi:app",
        host=host,
        port=port,
        reload=reload,
        workers=workers if workers > 1 else None,
        log_level="info",
    )


def _data_dir_problem(data_dir: str) -> str | None:
    """Why ``RETENTO_DATA_DIR`` cannot hold files, in the command line's language, or None.
    Complaint attachments are written there: a folder missing (and not creatable by the user
    running the server) or read-only made every upload answer 500, long after the start."""
    import errno
    import os
    from pathlib import Path

    path = Path(data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        usable = os.access(path, os.W_OK | os.X_OK)
    except OSError as exc:
        usable, reason = False, exc.strerror or type(exc).__name__
    else:
        reason = os.strerror(errno.EACCES)  # the system's words, as in the OSError case
    if usable:
        return None
    return say(
        "RETENTO_DATA_DIR %(path)s cannot be created or written (%(reason)s); complaint "
        "attachments are stored there. Create it for the user that runs Retento, e.g. "
        "install -d -o retento -g retento -m 750 %(path)s",
        path=str(path.resolve()),
        reason=reason,
    )


def _public_base_url(host: str, port: int, demo: bool) -> str | None:
    """Links in e-mails and on pages for customers (a complaint's follow-up, a survey's links in
    a CSV) use ``RETENTO_PUBLIC_BASE_URL``. Unset, a demo uses the address it serves on (the
    default, port 8000, sent customers of a demo on another port to a dead page); a real server
    is warned, since behind a reverse proxy only the operator knows the public address.
    Returns the line to print, if any."""
    import os

    from retento.core.config import get_settings

    if os.environ.get("RETENTO_PUBLIC_BASE_URL"):
        return None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    here = f"http://{shown}:{port}"
    if demo:
        os.environ["RETENTO_PUBLIC_BASE_URL"] = here
        get_settings.cache_clear()
        return say(
            "Demo mode: links for customers point to %(url)s (RETENTO_PUBLIC_BASE_URL).", url=here
        )
    default = get_settings().public_base_url
    if default.rstrip("/") == here:
        return None
    return say(
        "Warning: RETENTO_PUBLIC_BASE_URL is not set: links in e-mails and follow-up links point "
        "to %(url)s; set it to the address customers reach this server at.",
        url=default,
    )


@app.command("worker")
@friendly_errors
def worker(
    once: bool = typer.Option(
        False, "--once", help="Run every due job and every queued work item once, then exit."
    ),
    concurrency: int = typer.Option(
        0,
        "--concurrency",
        min=0,
        max=64,
        help="Work items run at once (default RETENTO_WORKER_CONCURRENCY).",
    ),
    jobs_only: bool = typer.Option(False, "--jobs-only", help="Scheduled jobs, no queued work."),
    work_only: bool = typer.Option(False, "--work-only", help="Queued work, no scheduled jobs."),
) -> None:
    """Run the scheduled jobs (once per tick across all processes) and the queued long work
    (scoring runs, large imports) without the web server."""
    import signal
    import threading

    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory
    from retento.jobs import Scheduler, load_jobs
    from retento.models import import_all_models
    from retento.work.queue import WorkRunner, load_kinds

    if jobs_only and work_only:
        console.print(say("[red]Error:[/] --jobs-only and --work-only exclude each other."))
        raise typer.Exit(2)
    settings = get_settings()
    import_all_models()
    factory = make_session_factory(
        make_engine(
            settings.database_url,
            lock_timeout_ms=settings.db_lock_timeout_ms,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
    )
    sched = Scheduler(factory, tick_seconds=settings.scheduler_tick_seconds)
    runner = WorkRunner(
        factory,
        concurrency=concurrency or settings.worker_concurrency,
        poll_seconds=settings.work_poll_seconds,
        stale_seconds=settings.work_stale_seconds,
        max_attempts=settings.work_max_attempts,
    )
    if once:
        ran = [] if work_only else sched.run_due()
        items = 0 if jobs_only else runner.run_once()
        console.print(
            say(
                "Ran %(n)s job(s): %(jobs)s; %(items)s work item(s).",
                n=len(ran),
                jobs=", ".join(ran) or say("none"),  # the jobs' names (codes)
                items=items,
            )
        )
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    running = {"holder": escape(runner.holder), "n": runner.concurrency}
    if not work_only:
        sched.start()
        running["jobs"] = len(load_jobs())
    if not jobs_only:
        runner.start()
        running["kinds"] = ", ".join(load_kinds())  # the kinds' codes
    if jobs_only:
        line = say(
            "Worker %(holder)s running %(jobs)s scheduled job(s); Ctrl-C to stop.", **running
        )
    elif work_only:
        line = say(
            "Worker %(holder)s running queued work (%(kinds)s) × %(n)s; Ctrl-C to stop.", **running
        )
    else:
        line = say(
            "Worker %(holder)s running %(jobs)s scheduled job(s) and queued work (%(kinds)s) × "
            "%(n)s; Ctrl-C to stop.",
            **running,
        )
    console.print(line)
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    sched.stop()
    runner.stop()
    console.print(say("Stopped."))


@app.command("permissions")
def permissions() -> None:
    """Print the role permission matrix (Markdown)."""
    from retento.auth.permissions import markdown_matrix

    print(markdown_matrix())  # Markdown for a document: permission codes, as the docs show them


def main() -> None:
    app()
