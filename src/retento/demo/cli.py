"""`retento demo`: fill the database with a reproducible demo population."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from retento.core.cli_say import in_words, say
from retento.core.cli_support import cli_session, console, friendly_errors
from retento.demo import generator
from retento.web.i18n import N_

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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


def demo_logins(session: Session) -> list[tuple[str, str, str]]:
    """``(name, role, state)`` of each demo login that exists: ``"demo"`` when the demo password
    opens it, ``"kept"`` when the user existed before the demo (the demo never changes an
    existing user: its password is its own), ``"inactive"`` when it is deactivated."""
    from sqlalchemy import func, select

    from retento.auth.models import User
    from retento.auth.security import verify_password

    found = {
        u.username.lower(): u
        for u in session.scalars(
            select(User).where(func.lower(User.username).in_(generator.DEMO_USERS))
        )
    }
    out = []
    for name in generator.DEMO_USERS:
        u = found.get(name)
        if u is None:
            continue
        if not u.is_active:
            state = "inactive"
        elif verify_password(u.password_hash, generator.DEMO_PASSWORD):
            state = "demo"
        else:
            state = "kept"
        out.append((u.username, u.role, state))
    return out


def _logins(logins: list[tuple[str, str, str]]) -> None:
    if not logins:
        console.print(
            "\n" + say("No demo login exists in this database: log in with your own account.")
        )
        return
    console.print(
        "\n"
        + say(
            "Open [bold]%(url)s[/] (start it with `retento serve --demo`) and log in as:",
            url=generator.URL,
        )
    )
    for name, role, state in logins:
        if state == "demo":
            console.print(f"  {name:<8} / {generator.DEMO_PASSWORD}   ({role})")
        elif state == "kept":
            what = say("existed already and was kept: log in with its own password")
            console.print(f"  {name:<8}   {what}   ({role})")
        else:
            console.print(f"  {name:<8}   {say('existed already and is deactivated')}   ({role})")


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
                _logins(demo_logins(session))
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
        logins = demo_logins(session)
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
    _logins(logins)


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
