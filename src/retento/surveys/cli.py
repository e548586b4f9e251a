"""`retento surveys`: list surveys, send one to a segment, import and export responses, estimate
the CSI, remind."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import typer
from rich.markup import escape
from rich.table import Table

from retento.core.cli_say import in_words, say, say_in, say_label, say_message
from retento.core.cli_support import (
    AT_LINE_COLUMN,
    check_output,
    cli_actor,
    cli_session,
    console,
    friendly_errors,
    invalid_options,
    option_error,
    output_file,
)
from retento.core.errors import InvalidInput, Msg, RetentoError, choice_error
from retento.web.i18n import N_

app = typer.Typer(help="Satisfaction surveys.", no_args_is_help=True)

AS_USER = typer.Option(None, "--as", help="Act as this user (default: first admin).")
# `surveys distribute`'s options by DistributionCreate's (and its segment's) fields, labelled as
# the web form does.
DISTRIBUTE_OPTIONS = {
    "channel": ("--channel", N_("Channel")),
    "name": ("--name", N_("Name")),
    "expires_in_days": ("--expires-in-days", N_("Links valid for (days)")),
    "value": ("--value", N_("Value")),
    "closed_since": ("--closed-since", N_("Complaints closed since")),
    "customer_ids": ("--customers", N_("Customers")),
}
NEEDS_VALUE = N_("--segment %(kind)s needs --value.")
NEEDS_CUSTOMERS = N_("--segment customers needs --customers (customer ids separated by commas).")


class _OneError:
    """One of pydantic's refusals as ``invalid_options`` reads a ``ValidationError``."""

    def __init__(self, error: dict) -> None:
        self._error = error

    def errors(self) -> list[dict]:
        return [self._error]


@app.command("list")
@friendly_errors
def list_cmd(as_user: str | None = AS_USER) -> None:
    """List the surveys."""
    from retento.surveys import service

    with cli_session() as session:
        rows, total = service.list_surveys(session, actor=cli_actor(session, as_user), limit=500)
        table = Table(
            say_in("column", "id"),
            say_in("column", "name"),
            say_in("column", "status"),
            say_in("column", "language"),
            say_in("column", "template"),
            say_in("column", "created"),
        )
        for s in rows:
            table.add_row(
                str(s.id),
                s.name,
                s.status,
                s.language,
                s.template or "",
                f"{s.created_at:%Y-%m-%d}",
            )
    console.print(table)
    console.print(say("%(n)s survey(s)", n=total))


def _segment_ids(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise InvalidInput(
            Msg(
                "--customers must be customer ids separated by commas, not %(value)s.",
                value=repr(text),
            ),
            field="customers",
        ) from None


@app.command("distribute")
@friendly_errors
def distribute_cmd(
    survey: int = typer.Option(..., "--survey", help="Survey id (the survey must be active)."),
    segment: str = typer.Option(
        "all",
        "--segment",
        help="Who is invited: all, value_class, tag, complaint_closed, customers or insight.",
    ),
    value: str | None = typer.Option(
        None,
        "--value",
        help="The value class (vip, major, ordinary, small, below_zero), the tag, or for "
        "insight <segment id>:<cluster>.",
    ),
    customers: str | None = typer.Option(
        None, "--customers", help="For --segment customers: ids separated by commas."
    ),
    closed_since: str | None = typer.Option(
        None,
        "--closed-since",
        help="For --segment complaint_closed: complaints closed on or after this date.",
    ),
    channel: str = typer.Option("online", "--channel", help="online, phone, mail or onsite."),
    name: str = typer.Option("", "--name", help="A name for this distribution."),
    expires_in_days: int | None = typer.Option(
        None, "--expires-in-days", help="Days the links stay valid (default: the survey's)."
    ),
    send: bool = typer.Option(
        True,
        "--send/--no-send",
        help="E-mail online invitees who have an address and e-mail consent (default), or "
        "only create the links.",
    ),
    key: str | None = typer.Option(
        None,
        "--key",
        help="Idempotency key: running the command again with the same key sends nothing "
        "twice and reports the first run's distribution.",
    ),
    links: Path | None = typer.Option(
        None,
        "--links",
        dir_okay=False,
        help="Write the invitation links to this CSV file (for a mail merge or phone list).",
    ),
    as_user: str | None = AS_USER,
) -> None:
    """Send a survey to a segment of customers: invitations, one-time links and e-mails."""
    from pydantic import ValidationError

    from retento.core.config import get_settings
    from retento.surveys import distributions
    from retento.surveys.link_lists import link_rows, links_csv
    from retento.surveys.schemas import DistributionCreate, SegmentKind

    if links is not None:
        check_output(links, "--links")  # before anything is sent
    kinds = get_args(SegmentKind)
    if segment not in kinds:
        raise option_error(choice_error("--segment", N_("Segment"), kinds))
    if segment in ("value_class", "tag", "insight") and not value:
        raise InvalidInput(Msg(NEEDS_VALUE, kind=segment), field="value")
    if segment == "customers" and not customers:
        raise InvalidInput(Msg(NEEDS_CUSTOMERS), field="customers")
    try:
        data = DistributionCreate(
            channel=channel,
            name=name,
            expires_in_days=expires_in_days,
            send=send,
            segment={
                "kind": segment,
                "value": value,
                "customer_ids": _segment_ids(customers),
                "closed_since": closed_since,
            },
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        if e["loc"][:1] == ("segment",) and len(e["loc"]) > 1:
            # The segment's own fields, by the option that gave each: (value, closed_since).
            inner = {**e, "loc": e["loc"][1:]}
            exc = _OneError(inner)
        raise invalid_options(exc, DistributionCreate, DISTRIBUTE_OPTIONS) from None
    with cli_session() as session:
        actor = cli_actor(session, as_user)
        try:
            dist, created = distributions.start_distribution_once(
                session, survey, data, actor=actor, idempotency_key=key
            )
        except RetentoError as exc:
            if exc.field == "Idempotency-Key":  # the API's name for what is --key here
                exc.message, exc.field = f"--key: {exc.message}", "key"
            raise
        if created:
            distributions.execute_distribution(session, dist.id, data, actor=actor)
        session.flush()
        emails = distributions.distribution_emails(session, dist)
        rows = (
            link_rows(session, survey, dist.id, get_settings().public_base_url, actor=actor)
            if links is not None and dist.status == "done"
            else None
        )
        dist_id, invited, status = dist.id, dist.invited, dist.status
        left_out = distributions.skipped(session, dist.id)
    if not created:
        console.print(
            say(
                "Distribution %(id)s was made before with the key %(key)s: nothing was sent again.",
                id=dist_id,
                key=escape(repr(key)),
            )
        )
    console.print(
        say(
            "Distribution %(id)s of survey %(survey)s (%(status)s): %(invited)s invited by "
            "%(channel)s; %(emailed)s e-mailed, %(not_emailed)s without an address or e-mail "
            "consent, %(unsent)s not sent.",
            id=dist_id,
            survey=survey,
            status=status,
            invited=invited,
            channel=channel,
            emailed=emails.emailed,
            not_emailed=emails.not_emailed,
            unsent=emails.unsent,
        )
    )
    if left_out.total:
        console.print(
            say(
                distributions.NOT_INVITED,
                open=left_out.open_invitations,
                archived=left_out.archived,
                no_consent=left_out.no_consent,
            )
        )
    if links is not None:
        if rows is None:
            console.print(say("No links written: the distribution is not done yet."))
        else:
            with output_file(links, "--links", encoding="utf-8") as fh:
                fh.write(links_csv(rows))
            console.print(
                say("Wrote %(n)s link(s) to %(file)s.", n=len(rows), file=escape(str(links)))
            )


@app.command("import")
@friendly_errors
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or XLSX file."),
    survey: int = typer.Option(..., "--survey", help="Survey id."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid rows and report the others."
    ),
    channel: str = typer.Option("mail", "--channel", help="online, phone, mail or onsite."),
    as_user: str | None = AS_USER,
) -> None:
    """Import responses (one row per respondent, one column per question code)."""
    from retento.surveys.fileio import import_responses

    with cli_session() as session:
        report = import_responses(
            session,
            survey,
            file.read_bytes(),
            file.name,
            actor=cli_actor(session, as_user),
            skip_invalid=skip_invalid,
            channel=channel,
        )
    console.print(
        say(
            "Imported %(file)s: %(created)s created, %(updated)s updated, %(skipped)s skipped.",
            file=escape(file.name),
            created=report["created"],
            updated=report["updated"],
            skipped=report["skipped"],
        )
    )
    for e in report["errors"][:50]:
        where = say(
            AT_LINE_COLUMN,
            line=e.get("row"),
            column=e.get("field"),
            message=say_message(e["message"]),
        )
        console.print("  " + escape(where))


@app.command("export")
@friendly_errors
def export_cmd(
    survey: int = typer.Option(..., "--survey", help="Survey id."),
    output: Path = typer.Option(..., "--output", "-o", help="A .csv or .xlsx file to write."),
    labels: str | None = typer.Option(
        None, "--labels", help="Write choices as option labels in en or zh_CN (default: values)."
    ),
    as_user: str | None = AS_USER,
) -> None:
    """Export responses in the import format (re-importing updates instead of duplicating)."""
    from retento.surveys.fileio import export_bytes

    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput("--output must end in .csv or .xlsx.", field="output")
    if labels not in (None, "en", "zh_CN"):
        raise InvalidInput("--labels must be en or zh_CN.", field="labels")
    check_output(output, "--output")
    with cli_session() as session:
        data = export_bytes(
            session, survey, actor=cli_actor(session, as_user), fmt=fmt, labels=labels
        )
    with output_file(output, "--output", "wb") as fh:
        fh.write(data)
    console.print(
        say("Wrote %(file)s (%(n)s bytes).", file=escape(str(output)), n=f"{len(data):,}")
    )


# Whether the PLS estimation converged, as the CSI report says it.
CONVERGED = {"True": N_("yes"), "False": N_("no")}
# The module registering the survey pages' labels (CSI latents, quadrants), read in Chinese.
PAGE_LABELS = "retento.surveys.pages.common"


def _latent(name: str) -> str:
    """A CSI latent variable: its name in English, the results page's label in Chinese."""
    return say_label("csi_latent", name, PAGE_LABELS)


def _fmt(value: float | None, digits: int) -> str:
    """A figure of the CSI report; undefined ones (None) print as a dash."""
    return "—" if value is None else f"{value:.{digits}f}"


@app.command("csi")
@friendly_errors
def csi_cmd(
    survey: int = typer.Option(..., "--survey", help="Survey id."),
    model: str = typer.Option("ecsi", "--model", help="ecsi or acsi."),
    scheme: str = typer.Option("centroid", "--scheme", help="centroid, factorial or path."),
    bootstrap: int = typer.Option(0, "--bootstrap", help="Bootstrap resamples for CIs (0 = none)."),
    as_user: str | None = AS_USER,
) -> None:
    """Estimate the satisfaction index by PLS path modelling: paths, R², 0–100 indices."""
    from retento.surveys.csi_report import csi_report

    with cli_session() as session:
        res = csi_report(
            session,
            survey,
            actor=cli_actor(session, as_user),
            model=model.lower(),
            scheme=scheme,
            bootstrap=bootstrap,
        )
    gof = res["gof"]
    gof_text = (
        say("— (undefined: no CSI block has more than one item)") if gof is None else f"{gof:.3f}"
    )
    console.print(
        say(
            "%(model)s on %(n)s responses (%(dropped)s incomplete left out); GoF %(gof)s; "
            "converged: %(converged)s",
            model=res["model"],
            n=res["n"],
            dropped=res["dropped_incomplete"],
            gof=gof_text,
            converged=in_words(str(res["converged"]), CONVERGED),
        )
    )
    paths = Table(
        say_in("column", "path"), say_in("column", "coefficient"), title=say("Path coefficients")
    )
    if bootstrap:
        paths.add_column(say_in("column", "95% CI"))
    for p in res["paths"]:
        cells = [f"{_latent(p['source'])} → {_latent(p['target'])}", _fmt(p["coefficient"], 3)]
        if bootstrap and "ci_lower" in p:
            cells.append(f"[{_fmt(p['ci_lower'], 3)}, {_fmt(p['ci_upper'], 3)}]")
        paths.add_row(*cells)
    console.print(paths)
    lv = Table(
        say_in("column", "latent"),
        say_in("column", "index (0–100)"),
        "R²",
        title=say("Latent variables"),
    )
    for name, index in res["indices"].items():
        r2 = _fmt(res["r2"][name], 3) if name in res["r2"] else ""  # exogenous: no R²
        lv.add_row(_latent(name), _fmt(index, 1), r2)
    console.print(lv)
    drivers = Table(
        say_in("column", "driver"),
        say_in("column", "importance"),
        say_in("column", "performance"),
        say_in("column", "quadrant"),
        title=say("Drivers of Satisfaction"),
    )
    for d in res["drivers"]["Satisfaction"]:
        drivers.add_row(
            _latent(d["driver"]),
            _fmt(d["importance"], 3),
            _fmt(d["performance"], 1),
            say_label("quadrant", d["quadrant"], PAGE_LABELS),
        )
    console.print(drivers)


@app.command("remind")
@friendly_errors
def remind_cmd() -> None:
    """Run the reminder job now (it is idempotent)."""
    from retento.surveys.jobs import send_reminders

    with cli_session() as session:
        n = send_reminders(session)
    console.print(say("Reminded %(n)s invitation(s).", n=n))
