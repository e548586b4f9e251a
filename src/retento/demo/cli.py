"""`retento demo`: fill the database with a reproducible demo population."""

from __future__ import annotations

import time

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from retento.core.cli_say import in_words, say
from retento.core.cli_support import cli_session, console, friendly_errors
from retento.demo import generator
from retento.web.i18n import N_

# The generator's stages as its progress bar shows them: the code in English, the lists' names
# in Chinese.
STAGES = {
    "users": N_("Users"),
    "customers": N_("Customers"),
    "products": N_("Products"),
    "tags": N_("Tags"),
    "orders": N_("Orders"),
    "order lines": N_("Order lines"),
    "refunds": N_("Refunds"),
    "touchpoints": N_("Touchpoints"),
    "scoring": N_("Scoring run"),
    "complaints": N_("Complaints"),
    "surveys": N_("Surveys"),
    "loyalty": N_("Loyalty programme"),
    "retention": N_("Retention"),
    "experience records": N_("Experience records"),
}


def _logins() -> None:
    console.print(
        "\n"
        + say(
            "Open [bold]%(url)s[/] (start it with `retento serve --demo`) and log in as:",
            url=generator.URL,
        )
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
                console.print(say("Customers already exist; no demo data generated (--if-empty)."))
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
            task = bar.add_task(in_words("users", STAGES), total=1.0)
            summary = generator.generate(
                session,
                customers=customers,
                seed=seed,
                actor=actor,
                progress=lambda stage, f: bar.update(
                    task, description=in_words(stage, STAGES), completed=f
                ),
            )
    # The work the demo queued (the win-back actions of today's alerts: e-mails, offers, owners'
    # tasks) is carried out now, as a worker would, so the demo shows it at once.
    work_items = _run_queued_work()
    counts = {
        "customers": summary["customers"],
        "products": summary["products"],
        "orders": summary["orders"],
        "lines": summary["order_lines"],
        "refunds": summary["refunds"],
        "touchpoints": summary["touchpoints"],
        "seed": seed,
        "seconds": f"{time.perf_counter() - started:.1f}",
    }
    if work_items:
        line = say(
            "Generated %(customers)s customers, %(products)s products, %(orders)s orders "
            "(%(lines)s lines, %(refunds)s refunds) and %(touchpoints)s touchpoints with seed "
            "%(seed)s in %(seconds)ss; %(n)s queued work item(s) run.",
            n=work_items,
            **counts,
        )
    else:
        line = say(
            "Generated %(customers)s customers, %(products)s products, %(orders)s orders "
            "(%(lines)s lines, %(refunds)s refunds) and %(touchpoints)s touchpoints with seed "
            "%(seed)s in %(seconds)ss.",
            **counts,
        )
    console.print(line)
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
