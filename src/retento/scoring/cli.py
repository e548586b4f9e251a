"""`retento score`: run the value scoring over the database, with a progress bar."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from retento.core.cli_support import (
    cli_actor,
    cli_session,
    console,
    friendly_errors,
    invalid_options,
)
from retento.core.errors import InvalidInput, Msg, param
from retento.scoring.schemas import ScoreRunCreate
from retento.web.i18n import N_

# The options as `retento score` spells them, with the run form's labels (the value page).
OPTIONS = {
    "model": ("--model", N_("Model")),
    "as_of": ("--as-of", N_("Score as of")),
    "horizon_weeks": ("--horizon-weeks", N_("Horizon")),
    "discount_rate": ("--discount-rate", N_("Discount rate")),
    "holdout_weeks": ("--holdout-weeks", N_("Holdout weeks")),
    "churn_horizon_days": ("--churn-horizon-days", N_("Churn horizon (days)")),
}


@friendly_errors
def score(
    model: str = typer.Option("bgnbd", "--model", help="bgnbd (default), mbgnbd or pareto."),
    as_of: str | None = typer.Option(None, "--as-of", help="ISO timestamp with zone; default now."),
    horizon_weeks: int = typer.Option(
        52, "--horizon-weeks", help="Weeks ahead the CLV and expected purchases look."
    ),
    discount_rate: float = typer.Option(0.10, "--discount-rate", help="Yearly."),
    holdout_weeks: int = typer.Option(26, "--holdout-weeks", help="0 to skip validation."),
    churn_horizon_days: int | None = typer.Option(
        None,
        "--churn-horizon-days",
        help="Churn = no purchase within this many days (default: setting, 90).",
    ),
    churn: bool = typer.Option(True, "--churn/--no-churn", help="Compute churn risk and reasons."),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
) -> None:
    """Score every customer: CLV, P(alive), RFM, value pyramid, labels, loyalty stage, and
    churn risk with its top reasons (risk model trained on earlier windows of the orders)."""
    from pydantic import ValidationError

    # Imported here: the models pull in SciPy, which every other `retento` command would pay for.
    from retento.scoring import service

    try:
        when = datetime.fromisoformat(as_of) if as_of else None
    except ValueError:  # "day is out of range for month": said as the run form says it
        raise InvalidInput(
            Msg(
                "%(field)s: %(message)s",
                field=param(*OPTIONS["as_of"]),
                message=Msg("Enter a date and time."),
            )
        ) from None
    try:
        data = ScoreRunCreate(
            model=model,
            as_of=when,
            horizon_weeks=horizon_weeks,
            discount_rate=discount_rate,
            holdout_weeks=holdout_weeks,
            churn_horizon_days=churn_horizon_days,
            churn=churn,
        )
    except ValidationError as exc:
        raise invalid_options(exc, ScoreRunCreate, OPTIONS) from None
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
    spend = fit.get("spend") or {}
    if spend.get("left_out"):
        console.print(
            f"Spend model (Gamma-Gamma) left out {spend['left_out']:,} repeat customer(s): "
            f"{spend.get('left_out_reason')} {spend.get('population_mean_spend', 0):,.2f}"
        )
    elif spend.get("model") == "mean_order":
        console.print(f"Spend model not fitted ({spend.get('reason')}); CLV uses the mean order.")
    _print_churn((run.report or {}).get("churn") or {})
    consent = (run.report or {}).get("consent") or {}
    if consent.get("required"):
        console.print(
            f"Profiling needs consent: {consent.get('left_out_customers', 0):,} customer(s) left "
            f"out ({consent.get('left_out_buyers', 0):,} with orders); earlier scores of "
            f"{consent.get('cleared', 0):,} customer(s) deleted."
        )


def _print_churn(ch: dict) -> None:
    horizon = ch.get("horizon_days")
    if ch.get("status") == "scored":
        console.print(
            f"Churn risk ({horizon}-day horizon, {ch.get('model')}): {ch.get('customers'):,} "
            f"customers, mean {ch.get('mean_risk') or 0:.1%}, {ch.get('above_half'):,} at 50 % "
            "or more"
        )
        hold = ch.get("holdout") or {}
        if hold.get("status") == "computed":
            m, b, d = hold["metrics"], hold["baseline"], hold["comparison"]
            low, high = m["roc_auc_ci95"]
            console.print(
                f"Churn holdout (last {hold['test_days']} days): ROC AUC {m['roc_auc']:.3f} "
                f"(95 % CI {low:.3f}-{high:.3f}; BG/NBD {b['roc_auc']:.3f}; difference "
                f"{d['roc_auc_difference']:+.3f}, 95 % CI {d['ci95'][0]:+.3f} to "
                f"{d['ci95'][1]:+.3f}), PR AUC {m['pr_auc']:.3f}, lift in top 10 % "
                f"{m['lift_at_10']:.2f}, Brier {m['brier']:.4f}"
            )
        else:
            console.print(f"Churn holdout not computed: {hold.get('reason')}")
    else:
        console.print(f"Churn risk not computed ({horizon}-day horizon): {ch.get('reason')}")
