"""`retento loyalty measure`: loyalty types, index and satisfaction trap per customer, as CSV.

Reads the stored measurement of the latest run; ``--store`` computes a new run first (the same
run as the nightly ``loyalty_measurement`` job and the page's "Recompute" button)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import typer
from rich.markup import escape

from retento.core.cli_say import say, say_label
from retento.core.cli_support import (
    check_output,
    cli_actor,
    cli_session,
    console,
    friendly_errors,
    output_file,
)


@friendly_errors
def measure(
    store_run: bool = typer.Option(
        False,
        "--store",
        help="Compute every customer's measurement now and store it (replacing the last run).",
    ),
    as_of: str | None = typer.Option(
        None, "--as-of", help="With --store: measure as of this date (YYYY-MM-DD, UTC midnight)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the stored measurement of every customer to this CSV."
    ),
    loyalty_type: str | None = typer.Option(
        None, "--type", help="Only customers of this type (trust, monopoly, kinship, ...)."
    ),
    trap: bool = typer.Option(False, "--trap", help="Only customers in the satisfaction trap."),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="Index weights behavioural,intentional,emotional (0.4,0.3,0.3). With --store the "
        "run uses them; otherwise the stored scores are re-weighted.",
    ),
    as_user: str | None = typer.Option(None, "--as", help="Act as this user (default: admin)."),
) -> None:
    """Print the distribution of loyalty types, the mean loyalty index and the satisfaction
    trap from the stored measurement, optionally after computing a new run (--store), and
    optionally write the CSV."""
    from retento.core.errors import InvalidInput
    from retento.loyalty import measure as m
    from retento.loyalty import measure_store as store

    parsed = m.parse_weights(weights)
    if output is not None:
        check_output(output, "--output")
    when = None
    if as_of is not None:
        if not store_run:
            raise InvalidInput("--as-of needs --store", field="as_of")
        try:
            when = datetime.combine(date.fromisoformat(as_of), time(), tzinfo=UTC)
        except ValueError:
            raise InvalidInput("Enter the date as YYYY-MM-DD.", field="as_of") from None
    if store_run:
        with cli_session() as session:
            run = store.run_measurement(
                session, actor=cli_actor(session, as_user), as_of=when, weights=parsed
            )
            run_id, status, error = run.id, run.status, run.error
            timings = (run.report or {}).get("timings", {})
            bind = session.get_bind()
        store.tidy(bind)  # after the commit
        if status != "succeeded":
            console.print(
                say(
                    "[red]Run #%(id)s failed:[/red] %(error)s", id=run_id, error=escape(error or "")
                )
            )
            raise typer.Exit(1)
        spent = " · ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in timings.items())
        console.print(say("Run #%(id)s stored (%(timings)s).", id=run_id, timings=spent))
        parsed = None  # the run used them; the stored decisions already reflect them
    with cli_session() as session:
        frame, _, stats, run = store.stored_customers(
            session,
            actor=cli_actor(session, as_user),
            loyalty_type=loyalty_type,
            trap=True if trap else None,
            weights=parsed,
            limit=None if output is not None else 0,
        )
    if run is None:
        console.print(
            say("No loyalty measurement stored yet; run `retento loyalty measure --store`.")
        )
        raise typer.Exit(1)
    console.print(
        say(
            "%(customers)s customers measured (run #%(run)s, as of %(as_of)s UTC); %(trap)s in "
            "the satisfaction trap.",
            customers=stats["customers"],
            run=run.id,
            as_of=f"{run.as_of:%Y-%m-%d %H:%M}",
            trap=stats["trap"],
        )
    )
    for t in stats["types"]:
        share = f"{t['share'] * 100:5.1f} %" if t["share"] is not None else "    —"
        # The type's code (what --type takes) and, in Chinese, its name as the page says it.
        console.print(f"  {t['type']:<10} {t['customers']:>8}  {share}{_type_name(t['type'])}")
    if stats["index_mean"] is not None:
        console.print(say("Mean loyalty index: %(mean)s / 100", mean=f"{stats['index_mean']:.1f}"))
    if output is not None:
        with output_file(output, "--output", encoding="utf-8") as fh:
            fh.write(m.csv_text(frame))
        console.print(
            say("%(n)s rows written to %(file)s.", n=len(frame), file=escape(str(output)))
        )


def _type_name(code: str) -> str:
    """``  信赖忠诚`` after a loyalty type's code in Chinese (the loyalty types page's label);
    nothing in English, where the code is the word."""
    name = say_label("loyalty_type", code, "retento.loyalty.measure_pages")
    return "" if name == code else "  " + name
