"""`retento score`: run the value scoring over the database, with a progress bar."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from retento.core.cli_language import cli_locale
from retento.core.cli_say import in_words, say, say_shaped
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
# A run's stages as its progress bar shows them: the code in English, the Background work
# page's words in Chinese (``scoring.jobs``).
STAGES = {
    "scoring": N_("Scoring run"),
    "summary": N_("Summarising purchases"),
    "fit": N_("Fitting the models"),
    "churn": N_("Estimating churn risk"),
    "store": N_("Storing the scores"),
    "done": N_("Done"),
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
        task = bar.add_task(in_words("scoring", STAGES), total=1.0)
        run = service.run_scoring(
            session,
            data,
            actor=cli_actor(session, as_user),
            progress=lambda stage, f: bar.update(
                task, completed=f, description=in_words(stage, STAGES)
            ),
        )
    if run.status != "succeeded":
        console.print(
            say(
                "[red]Scoring run %(id)s failed:[/] %(error)s",
                id=run.id,
                error=escape(_reason(str(run.error))),
            )
        )
        raise typer.Exit(1)
    fit = (run.report or {}).get("fit", {})
    console.print(
        say(
            "Run %(id)s: %(n)s customers scored with %(model)s; log-likelihood %(ll)s; params "
            "%(params)s",
            id=run.id,
            n=run.customers_scored,
            model=run.model,
            ll=f"{run.log_likelihood:.1f}",
            params=fit.get("params_rounded", run.params),
        )
    )
    holdout = (run.report or {}).get("holdout")
    if holdout:
        console.print(
            say(
                "Holdout (%(weeks)s weeks): MAE per customer %(mae)s, predicted %(predicted)s vs "
                "actual %(actual)s",
                weeks=holdout.get("weeks"),
                mae=f"{holdout.get('mae'):.3f}",
                predicted=f"{holdout.get('predicted_total'):.0f}",
                actual=f"{holdout.get('actual_total'):.0f}",
            )
        )
    spend = fit.get("spend") or {}
    if spend.get("left_out"):
        # The reason is the analytics library's one sentence (``analytics.spend.LEFT_OUT_REASON``).
        console.print(
            say(
                "Spend model (Gamma-Gamma) left out %(n)s repeat customer(s): mean repeat spend "
                "is zero or negative ($0 or refunded repeat purchases); scored with the "
                "population mean spend %(mean)s",
                n=f"{spend['left_out']:,}",
                mean=f"{spend.get('population_mean_spend', 0):,.2f}",
            )
        )
    elif spend.get("model") == "mean_order":
        console.print(
            say(
                "Spend model not fitted (%(reason)s); CLV uses the mean order.",
                reason=escape(_reason(str(spend.get("reason")))),
            )
        )
    _print_churn((run.report or {}).get("churn") or {})
    consent = (run.report or {}).get("consent") or {}
    if consent.get("required"):
        console.print(
            say(
                "Profiling needs consent: %(n)s customer(s) left out (%(buyers)s with orders); "
                "earlier scores of %(cleared)s customer(s) deleted.",
                n=f"{consent.get('left_out_customers', 0):,}",
                buyers=f"{consent.get('left_out_buyers', 0):,}",
                cleared=f"{consent.get('cleared', 0):,}",
            )
        )


def _reason(text: str) -> str:
    """An error or reason the models wrote (English, values inside) in the command line's
    language when its shape is known (``analyze.messages``: the analytics library's)."""
    if cli_locale() == "en":
        return text
    from retento.analyze.messages import said

    return say_shaped(text, said)


def _skipped(part: dict) -> str:
    """Why the churn risk (or its holdout test) was not computed: the run's English reason as
    stored, in Chinese the value pages' words for its code (``scoring.pages_churn``)."""
    if cli_locale() == "en" or not part.get("reason_code"):
        return escape(_reason(str(part.get("reason"))))
    from retento.scoring.pages_churn import REASON_TEXTS

    return in_words(part["reason_code"], REASON_TEXTS)


def _print_churn(ch: dict) -> None:
    horizon = ch.get("horizon_days")
    if ch.get("status") == "scored":
        console.print(
            say(
                "Churn risk (%(days)s-day horizon, %(model)s): %(n)s customers, mean %(mean)s, "
                "%(above)s at 50 %% or more",
                days=horizon,
                model=ch.get("model"),
                n=f"{ch.get('customers'):,}",
                mean=f"{ch.get('mean_risk') or 0:.1%}",
                above=f"{ch.get('above_half'):,}",
            )
        )
        hold = ch.get("holdout") or {}
        if hold.get("status") == "computed":
            m, b, d = hold["metrics"], hold["baseline"], hold["comparison"]
            low, high = m["roc_auc_ci95"]
            console.print(
                say(
                    "Churn holdout (last %(days)s days): ROC AUC %(auc)s (95 %% CI "
                    "%(low)s-%(high)s; BG/NBD %(base)s; difference %(diff)s, 95 %% CI "
                    "%(diff_low)s to %(diff_high)s), PR AUC %(pr)s, lift in top 10 %% "
                    "%(lift)s, Brier %(brier)s",
                    days=hold["test_days"],
                    auc=f"{m['roc_auc']:.3f}",
                    low=f"{low:.3f}",
                    high=f"{high:.3f}",
                    base=f"{b['roc_auc']:.3f}",
                    diff=f"{d['roc_auc_difference']:+.3f}",
                    diff_low=f"{d['ci95'][0]:+.3f}",
                    diff_high=f"{d['ci95'][1]:+.3f}",
                    pr=f"{m['pr_auc']:.3f}",
                    lift=f"{m['lift_at_10']:.2f}",
                    brier=f"{m['brier']:.4f}",
                )
            )
        else:
            console.print(say("Churn holdout not computed: %(reason)s", reason=_skipped(hold)))
    else:
        console.print(
            say(
                "Churn risk not computed (%(days)s-day horizon): %(reason)s",
                days=horizon,
                reason=_skipped(ch),
            )
        )
