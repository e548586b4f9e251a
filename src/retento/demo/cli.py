"""`retento demo`: fill the database with a reproducible demo population."""

from __future__ import annotations

import time

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from retento.core.cli_support import cli_session, console, friendly_errors
from retento.demo import generator


def _logins() -> None:
    console.print(
        f"\nOpen [bold]{generator.URL}[/] (start it with `retento serve --demo`) and log in as:"
    )
    for name in generator.DEMO_USERS:
        role = name.rstrip("0123456789")
        console.print(f"  {name:<8} / {generator.DEMO_PASSWORD}   ({role})")


@friendly_errors
def demo(
    customers: int = typer.Option(2000, "--customers", "-n", help="How many customers."),
    seed: int = typer.Option(42, "--seed", help="Same seed, same data."),
    if_empty: bool = typer.Option(
        False, "--if-empty", help="Do nothing if customers already exist (safe to re-run)."
    ),
    reset: bool = typer.Option(
        False, "--reset", help="Delete existing customers, products, orders and touchpoints first."
    ),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (needs demo:generate); default: system."
    ),
) -> None:
    """Generate demo customers, products, orders and touchpoints, plus demo logins."""
    from retento.auth.permissions import require
    from retento.auth.service import get_user_by_name
    from retento.core.config import use_demo_secret_key
    from retento.core.errors import Conflict

    # Survey links in demo e-mails are signed: use the key `retento serve --demo` will use.
    use_demo_secret_key()
    started = time.perf_counter()
    with cli_session() as session:
        actor = None
        if as_user:
            actor = get_user_by_name(session, as_user)
            require(actor, "demo:generate")
        if generator.has_customers(session):
            if if_empty and not reset:
                console.print("Customers already exist; no demo data generated (--if-empty).")
                _logins()
                return
            if not reset:
                raise Conflict(
                    "Customers already exist: use --reset to replace them or --if-empty."
                )
            generator.reset_business_data(session)
        with Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("users", total=1.0)
            summary = generator.generate(
                session,
                customers=customers,
                seed=seed,
                actor=actor,
                progress=lambda stage, f: bar.update(task, description=stage, completed=f),
            )
    # The work the demo queued (the win-back actions of today's alerts: e-mails, offers, owners'
    # tasks) is carried out now, as a worker would, so the demo shows it at once.
    work_items = _run_queued_work()
    console.print(
        f"Generated {summary['customers']} customers, {summary['products']} products, "
        f"{summary['orders']} orders ({summary['order_lines']} lines, {summary['refunds']} refunds) "
        f"and {summary['touchpoints']} touchpoints with seed {seed} "
        f"in {time.perf_counter() - started:.1f}s"
        + (f"; {work_items} queued work item(s) run." if work_items else ".")
    )
    _logins()


def _run_queued_work() -> int:
    """Run the queued work items until none is left (``retento worker --once``)."""
    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory
    from retento.jobs import load_jobs
    from retento.work.queue import WorkRunner

    load_jobs()  # every domain's work kinds
    engine = make_engine(get_settings().database_url)
    try:
        return WorkRunner(make_session_factory(engine)).run_once()
    finally:
        engine.dispose()
