"""`retento loyalty ...`: check the ledger, run expiry, balances, redemption, liability, export."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from retento.core.cli_language import cli_locale
from retento.core.cli_say import say, say_shaped
from retento.core.cli_support import (
    check_output,
    cli_actor,
    cli_session,
    console,
    err_console,
    error_head,
    friendly_errors,
    output_file,
)
from retento.web.i18n import N_, message_shapes

app = typer.Typer(help="Loyalty programme: points ledger, tiers, rewards.", no_args_is_help=True)

ACT_AS = "Act as this user (default: first admin)."

# ``loyalty.check``'s findings (English, values inside) read back by their shape, so a
# mismatch is said in the command line's language (``core.cli_say.say_shaped``).
MISMATCH = N_("Mismatch:")
LEDGER_SHAPES = message_shapes(
    (
        (
            r"account (?P<id>\d+): balance (?P<balance>-?\d+) but postings sum to (?P<sum>-?\d+)$",
            N_("account %(id)s: balance %(balance)s but postings sum to %(sum)s"),
        ),
        (
            r"journal (?P<id>\d+): postings sum to (?P<sum>-?\d+), not 0$",
            N_("journal %(id)s: postings sum to %(sum)s, not 0"),
        ),
        (
            r"lot (?P<id>\d+): (?P<points>-?\d+) points, (?P<allocated>-?\d+) allocated, "
            r"(?P<expired>-?\d+) expired, but (?P<remaining>-?\d+) remaining \(must be points - "
            r"allocated - expired, within 0\.\.points\)$",
            N_(
                "lot %(id)s: %(points)s points, %(allocated)s allocated, %(expired)s expired, but "
                "%(remaining)s remaining (must be points - allocated - expired, within 0..points)"
            ),
        ),
        (
            r"wallet (?P<id>\d+): balance (?P<balance>-?\d+) but lots hold (?P<lots>-?\d+) and "
            r"debt is (?P<debt>-?\d+)$",
            N_("wallet %(id)s: balance %(balance)s but lots hold %(lots)s and debt is %(debt)s"),
        ),
        (
            r"open holds total (?P<held>-?\d+) but the hold accounts hold (?P<hold>-?\d+)$",
            N_("open holds total %(held)s but the hold accounts hold %(hold)s"),
        ),
        (
            r"all balances sum to (?P<total>-?\d+), not 0$",
            N_("all balances sum to %(total)s, not 0"),
        ),
        (
            r"wallet (?P<id>\d+): expire journals took (?P<taken>-?\d+) points but its lots "
            r"record (?P<recorded>-?\d+) expired$",
            N_(
                "wallet %(id)s: expire journals took %(taken)s points but its lots record "
                "%(recorded)s expired"
            ),
        ),
        (
            r"lot (?P<id>\d+): (?P<expired>-?\d+) points expired by journal (?P<journal>\d+) "
            r"\((?P<kind>[^)]*)\), which is not an expiry with points$",
            N_(
                "lot %(id)s: %(expired)s points expired by journal %(journal)s (%(kind)s), "
                "which is not an expiry with points"
            ),
        ),
    )
)


@app.command("check")
@friendly_errors
def check() -> None:
    """Verify every account, journal and lot against the postings; exit 1 on any mismatch."""
    from retento.loyalty.check import check_ledger

    with cli_session() as session:
        rep = check_ledger(session)
    if rep.ok:
        console.print(
            say(
                "Ledger OK: %(accounts)s accounts, %(journals)s journals, %(lots)s lots.",
                accounts=rep.accounts,
                journals=rep.journals,
                lots=rep.lots,
            )
        )
        return
    head = error_head(cli_locale(), MISMATCH)
    for p in rep.problems:
        err_console.print(head + escape(say_shaped(p, LEDGER_SHAPES)))
    sys.exit(1)


@app.command("expire")
@friendly_errors
def expire() -> None:
    """Expire due lots now (the nightly job does the same; safe to repeat)."""
    from retento.loyalty.expiry import run_expiry

    with cli_session() as session:
        n = run_expiry(session)
    console.print(say("%(n)s points expired.", n=n))


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
        say(
            "%(day)s: %(members)s active members celebrate; %(awarded)s awarded birthday "
            "points, %(already)s had them already.",
            day=run.day.isoformat(),
            members=run.members,
            awarded=run.awarded,
            already=run.already,
        )
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
        console.print(
            say(
                "Referral recorded: journal %(journal)s, %(points)s points.",
                journal=jid,
                points=points,
            )
        )
    else:
        console.print(say("Already recorded: journal %(journal)s.", journal=jid))


@app.command("balance")
@friendly_errors
def balance(customer_id: int, as_user: str = typer.Option(None, "--as", help=ACT_AS)) -> None:
    """Show a member's balance, tier and points expiring soon."""
    from retento.loyalty.service import member_view

    with cli_session() as session:
        v = member_view(session, customer_id, actor=cli_actor(session, as_user))
        if v is None:
            # An error like every other (its "Error:" head, the language, exit 1).
            from retento.core.errors import Msg, NotFound

            raise NotFound(
                "Customer",
                customer_id,
                message=Msg("Customer %(id)s is not a member.", id=customer_id),
            )
        w = v.wallet
        values = {
            "id": customer_id,
            "balance": w.balance,
            "available": v.available,
            "debt": w.debt,
            "tier": escape(w.tier.name_in(cli_locale())) if w.tier else "—",
            "expiring": v.expiring_soon,
            "by": f"{v.expiring_by:%Y-%m-%d}",
        }
        if v.expiring:
            line = say(
                "Customer %(id)s: balance %(balance)s (available %(available)s, debt %(debt)s), "
                "tier %(tier)s, %(expiring)s expiring by %(by)s (first on %(first)s)",
                first=f"{v.expiring.first:%Y-%m-%d}",
                **values,
            )
        else:
            line = say(
                "Customer %(id)s: balance %(balance)s (available %(available)s, debt %(debt)s), "
                "tier %(tier)s, %(expiring)s expiring by %(by)s",
                **values,
            )
        console.print(line)


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
        console.print(
            say(
                "Redemption %(id)s: %(points)s points (journal %(journal)s).",
                id=r.id,
                points=r.points,
                journal=r.journal_id,
            )
        )


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
        console.print(say("Journal %(id)s posted.", id=j.id))


@app.command("liability")
@friendly_errors
def liability(as_user: str = typer.Option(None, "--as", help=ACT_AS)) -> None:
    """Outstanding points and their value, breakage and redemption rates."""
    from retento.loyalty.reports import liability as lia

    with cli_session() as session:
        x = lia(session, actor=cli_actor(session, as_user))
    console.print(
        say(
            "Outstanding %(points)s points = %(value)s %(currency)s (held %(held)s); issued "
            "%(issued)s, redeemed %(redeemed)s, expired %(expired)s",
            points=x.outstanding_points,
            value=x.outstanding_value,
            currency=x.currency,
            held=x.held_points,
            issued=x.issued_points,
            redeemed=x.redeemed_points,
            expired=x.expired_points,
        )
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
    console.print(say("Wrote %(rows)s rows to %(file)s.", rows=rows - 1, file=escape(str(out))))


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
    console.print(
        say(
            "%(posted)s posted, %(replayed)s already imported.",
            posted=rep["posted"],
            replayed=rep["replayed"],
        )
    )


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
    counts = {
        "rows": rep.rows,
        "enrolled": rep.enrolled,
        "tiers": rep.tier_changes,
        "posted": rep.posted,
        "points": rep.points,
        "replayed": rep.replayed,
    }
    if rep.ignored_columns:
        line = say(
            "%(rows)s rows: %(enrolled)s enrolled, %(tiers)s tier changes, %(posted)s opening "
            "balances posted (%(points)s points), %(replayed)s already imported. Ignored "
            "columns: %(columns)s.",
            columns=escape(", ".join(rep.ignored_columns)),
            **counts,
        )
    else:
        line = say(
            "%(rows)s rows: %(enrolled)s enrolled, %(tiers)s tier changes, %(posted)s opening "
            "balances posted (%(points)s points), %(replayed)s already imported.",
            **counts,
        )
    console.print(line)


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
    console.print(say("Wrote %(file)s.", file=escape(str(out))))


# `retento loyalty measure`: loyalty types, index and satisfaction trap (measure_cli.py).
from retento.loyalty.measure_cli import measure as _measure  # noqa: E402

app.command("measure")(_measure)
