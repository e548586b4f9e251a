"""`retento score`: run the value scoring over the database, with a progress bar."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from retento.core.cli_support import cli_actor, cli_session, console, friendly_errors
from retento.core.errors import InvalidInput
from retento.scoring.schemas import ScoreRunCreate


@friendly_errors
def score(
    model: str = typer.Option("bgnbd", "--model", help="bgnbd (default), mbgnbd or pareto."),
    as_of: str | None = typer.Option(None, "--as-of", help="ISO timestamp with zone; default now."),
    horizon_weeks: int = typer.Option(52, "--horizon-weeks"),
    discount_rate: float = typer.Option(0.10, "--discount-rate", help="Yearly."),
    holdout_weeks: int = typer.Option(26, "--holdout-weeks", help="0 to skip validation."),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
) -> None:
    """Score every customer: CLV, P(alive), RFM, value pyramid, labels, loyalty stage."""
    from pydantic import ValidationError

    # Imported here: the models pull in SciPy, which every other `retento` command would pay for.
    from retento.scoring import service

    try:
        data = ScoreRunCreate(
            model=model,
            as_of=datetime.fromisoformat(as_of) if as_of else None,
            horizon_weeks=horizon_weeks,
            discount_rate=discount_rate,
            holdout_weeks=holdout_weeks,
        )
    except (ValidationError, ValueError) as exc:
        raise InvalidInput(
            str(exc).splitlines()[0]
            if not isinstance(exc, ValidationError)
            else f"{exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}"
        ) from exc
    with (
        cli_session() as session,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
        ) as bar,
    ):
        task = bar.add_task("scoring", total=1.0)
        run = service.run_scoring(
            session,
            data,
            actor=cli_actor(session, as_user),
            progress=lambda stage, f: bar.update(task, completed=f, description=stage),
        )
    if run.status != "succeeded":
        console.print(f"[red]Scoring run {run.id} failed:[/] {run.error}")
        raise typer.Exit(1)
    fit = (run.report or {}).get("fit", {})
    console.print(
        f"Run {run.id}: {run.customers_scored} customers scored with {run.model}; "
        f"log-likelihood {run.log_likelihood:.1f}; params {fit.get('params_rounded', run.params)}"
    )
    holdout = (run.report or {}).get("holdout")
    if holdout:
        console.print(
            f"Holdout ({holdout.get('weeks')} weeks): MAE per customer {holdout.get('mae'):.3f}, "
            f"predicted {holdout.get('predicted_total'):.0f} vs actual {holdout.get('actual_total'):.0f}"
        )
