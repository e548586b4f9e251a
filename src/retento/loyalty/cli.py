"""`retento loyalty ...`: check the ledger, run expiry, balances, redemption, liability, export."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from retento.core.cli_support import (
    check_output,
    cli_actor,
    cli_session,
    console,
    err_console,
    friendly_errors,
    output_file,
)

app = typer.Typer(help="Loyalty programme: points ledger, tiers, rewards.", no_args_is_help=True)

ACT_AS = "Act as this user (default: first admin)."


@app.command("check")
@friendly_errors
def check() -> None:
    """Verify every account, journal and lot against the postings; exit 1 on any mismatch."""
    from retento.loyalty.check import check_ledger

    with cli_session() as session:
        rep = check_ledger(session)
    if rep.ok:
        console.print(
            f"Ledger OK: {rep.accounts} accounts, {rep.journals} journals, {rep.lots} lots."
        )
        return
    for p in rep.problems:
        err_console.print(f"[bold red]Mismatch:[/] {p}")
    sys.exit(1)


@app.command("expire")
@friendly_errors
def expire() -> None:
    """Expire due lots now (the nightly job does the same; safe to repeat)."""
    from retento.loyalty.expiry import run_expiry

    with cli_session() as session:
        n = run_expiry(session)
    console.print(f"{n} points expired.")


@app.command("birthdays")
@friendly_errors
def birthdays(
    day: str = typer.Option(
        None, "--date", help="YYYY-MM-DD; default today in the installation's time zone"
    ),
) -> None:
    """Award birthday points now (the hourly job does the same; safe to repeat): a day the
    scheduler missed can be given with --date."""
    from datetime import date

    from retento.core.errors import InvalidInput
    from retento.loyalty.events import award_birthdays

    try:
        on = date.fromisoformat(day) if day else None
    except ValueError:
        raise InvalidInput("Enter a date as YYYY-MM-DD.", field="date") from None
    with cli_session() as session:
        run = award_birthdays(session, on)
    console.print(
        f"{run.day.isoformat()}: {run.members} active members celebrate; "
        f"{run.awarded} awarded birthday points, {run.already} had them already."
    )


@app.command("referral")
@friendly_errors
def referral(
    customer_id: int = typer.Argument(..., help="The member who referred"),
    referred_id: int = typer.Argument(..., help="The customer they brought in"),
    as_user: str = typer.Option(None, "--as", help=ACT_AS),
) -> None:
    """Record a referral: the member earns the referral event once per referred customer."""
    from retento.loyalty.events import record_referral

    with cli_session() as session:
        r = record_referral(session, customer_id, referred_id, actor=cli_actor(session, as_user))
        points = sum(p.amount for p in r.journal.postings if p.amount > 0)
        jid = r.journal.id
    if r.created:
        console.print(f"Referral recorded: journal {jid}, {points} points.")
    else:
        console.print(f"Already recorded: journal {jid}.")


@app.command("balance")
@friendly_errors
def balance(customer_id: int, as_user: str = typer.Option(None, "--as", help=ACT_AS)) -> None:
    """Show a member's balance, tier and points expiring soon."""
    from retento.loyalty.service import member_view

    with cli_session() as session:
        v = member_view(session, customer_id, actor=cli_actor(session, as_user))
        if v is None:
            err_console.print(f"Customer {customer_id} is not a member.")
            sys.exit(1)
        w = v.wallet
        console.print(
            f"Customer {customer_id}: balance {w.balance} (available {v.available}, debt {w.debt}), "
            f"tier {w.tier.name if w.tier else '—'}, {v.expiring_soon} expiring by "
            f"{v.expiring_by:%Y-%m-%d}"
            + (f" (first on {v.expiring.first:%Y-%m-%d})" if v.expiring else "")
        )


@app.command("redeem")
@friendly_errors
def redeem(
    customer_id: int,
    points: int = typer.Option(None, "--points", help="Points to redeem (or --reward)."),
    reward: int = typer.Option(None, "--reward", help="Reward id"),
    key: str = typer.Option(None, "--key", help="Idempotency key"),
    as_user: str = typer.Option(None, "--as", help=ACT_AS),
) -> None:
    """Redeem points or a reward for a member."""
    from retento.loyalty.service import redeem as do

    with cli_session() as session:
        r = do(
            session,
            customer_id,
            actor=cli_actor(session, as_user),
            points=points,
            reward_id=reward,
            idempotency_key=key,
        )
        console.print(f"Redemption {r.id}: {r.points} points (journal {r.journal_id}).")


# A negative POINTS (a debit) is a value, not an unknown option "-9" (Click's documented way:
# unknown options are passed on as arguments; a real typo still fails, as an extra argument).
@app.command("adjust", context_settings={"ignore_unknown_options": True})
@friendly_errors
def adjust(
    customer_id: int,
    points: int,
    reason: str = typer.Option(..., "--reason", help="Why (kept in the ledger)."),
    as_user: str = typer.Option(None, "--as", help=ACT_AS),
) -> None:
    """Credit (positive) or debit (negative) points by hand, with a reason."""
    from retento.loyalty.service import adjust as do

    with cli_session() as session:
        j = do(session, customer_id, points, actor=cli_actor(session, as_user), reason=reason)
        console.print(f"Journal {j.id} posted.")


@app.command("liability")
@friendly_errors
def liability(as_user: str = typer.Option(None, "--as", help=ACT_AS)) -> None:
    """Outstanding points and their value, breakage and redemption rates."""
    from retento.loyalty.reports import liability as lia

    with cli_session() as session:
        x = lia(session, actor=cli_actor(session, as_user))
    console.print(
        f"Outstanding {x.outstanding_points} points = {x.outstanding_value} {x.currency} "
        f"(held {x.held_points}); issued {x.issued_points}, redeemed {x.redeemed_points}, "
        f"expired {x.expired_points}"
    )


@app.command("export")
@friendly_errors
def export(
    what: str = typer.Argument(..., help="members, postings or liability"),
    out: Path = typer.Option(..., "--out", "-o", help="File to write."),
    as_user: str = typer.Option(None, "--as", help=ACT_AS),
) -> None:
    """Export members, postings or the liability report as CSV (UTF-8 with BOM)."""
    from retento.core.errors import InvalidInput
    from retento.dataio.exporter import csv_chunks
    from retento.loyalty import reports

    if what not in reports.EXPORTS:
        raise InvalidInput("Choose members, postings or liability.", field="what")
    rows = 0

    def counted(batches):
        nonlocal rows
        for batch in batches:
            rows += len(batch)
            yield batch

    check_output(out, "--out")
    with cli_session() as session, output_file(out, "--out", encoding="utf-8", newline="") as fh:
        batches = reports.EXPORTS[what](session, cli_actor(session, as_user))
        for chunk in csv_chunks(counted(batches)):
            fh.write(chunk)
    console.print(f"Wrote {rows - 1} rows to {out}.")


@app.command("import-postings")
@friendly_errors
def import_postings(
    path: Path,
    as_user: str = typer.Option(None, "--as", help=ACT_AS),
) -> None:
    """Import point adjustments from CSV (customer_external_id, points, reason, key).

    Each row's ``key`` is its idempotency key: re-importing the file posts nothing twice.
    """
    from retento.loyalty.transfer import import_adjustments

    with cli_session() as session, path.open(encoding="utf-8-sig", newline="") as fh:
        rep = import_adjustments(session, fh, actor=cli_actor(session, as_user))
    console.print(f"{rep['posted']} posted, {rep['replayed']} already imported.")


@app.command("import-members")
@friendly_errors
def import_members(
    path: Path,
    as_user: str = typer.Option(None, "--as", help=ACT_AS),
) -> None:
    """Import members from CSV or XLSX (customer_external_id or email, tier, opening_balance,
    key, joined_at). All rows or none; re-importing the file posts nothing twice."""
    from retento.core.errors import InvalidInput, Msg
    from retento.loyalty.members_io import import_members as run

    if not path.is_file():
        raise InvalidInput(Msg("File %(path)s does not exist.", path=str(path)), field="file")
    with cli_session() as session:
        rep = run(session, path.read_bytes(), path.name, actor=cli_actor(session, as_user))
    console.print(
        f"{rep.rows} rows: {rep.enrolled} enrolled, {rep.tier_changes} tier changes, "
        f"{rep.posted} opening balances posted ({rep.points} points), "
        f"{rep.replayed} already imported."
        + (f" Ignored columns: {', '.join(rep.ignored_columns)}." if rep.ignored_columns else "")
    )


@app.command("export-members")
@friendly_errors
def export_members(
    out: Path = typer.Option(..., "--out", "-o", help="File to write."),
    fmt: str = typer.Option("csv", "--format", help="csv or xlsx"),
    as_user: str = typer.Option(None, "--as", help=ACT_AS),
) -> None:
    """Export the members (re-importable with import-members) as CSV or XLSX."""
    from retento.loyalty.members_io import export_members as run

    check_output(out, "--out")
    with cli_session() as session:
        _ctype, _name, chunks = run(session, actor=cli_actor(session, as_user), fmt=fmt)
        with output_file(out, "--out", "wb") as fh:
            for chunk in chunks:
                fh.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    console.print(f"Wrote {out}.")


# `retento loyalty measure`: loyalty types, index and satisfaction trap (measure_cli.py).
from retento.loyalty.measure_cli import measure as _measure  # noqa: E402

app.command("measure")(_measure)
