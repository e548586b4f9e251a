"""`retento loyalty measure`: loyalty types, index and satisfaction trap per customer, as CSV."""

from __future__ import annotations

from pathlib import Path

import typer

from retento.core.cli_support import cli_actor, cli_session, console, friendly_errors


@friendly_errors
def measure(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write every customer's measurement to this CSV file."
    ),
    loyalty_type: str | None = typer.Option(
        None, "--type", help="Only customers of this type (trust, monopoly, kinship, ...)."
    ),
    trap: bool = typer.Option(False, "--trap", help="Only customers in the satisfaction trap."),
    weights: str | None = typer.Option(
        None, "--weights", help="Index weights behavioural,intentional,emotional (0.4,0.3,0.3)."
    ),
    as_user: str | None = typer.Option(None, "--as", help="Act as this user (default: admin)."),
) -> None:
    """Classify every customer into a loyalty type, score the loyalty index and flag the
    satisfaction trap; print the distribution and optionally write the CSV."""
    from retento.loyalty import measure as m

    with cli_session() as session:
        frame, _, stats = m.measure_customers(
            session,
            actor=cli_actor(session, as_user),
            loyalty_type=loyalty_type,
            trap=True if trap else None,
            weights=m.parse_weights(weights),
        )
    console.print(
        f"{stats['customers']} customers measured; {stats['trap']} in the satisfaction trap."
    )
    for t in stats["types"]:
        share = f"{t['share'] * 100:5.1f} %" if t["share"] is not None else "    —"
        console.print(f"  {t['type']:<10} {t['customers']:>8}  {share}")
    if stats["index_mean"] is not None:
        console.print(f"Mean loyalty index: {stats['index_mean']:.1f} / 100")
    if output is not None:
        output.write_text(m.csv_text(frame), encoding="utf-8")
        console.print(f"{len(frame)} rows written to {output}.")
