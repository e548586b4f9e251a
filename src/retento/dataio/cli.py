"""`retento import` and `retento export`: thin wrappers around the data I/O service."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from retento.core.cli_say import in_words, say, say_shaped
from retento.core.cli_support import (
    AT_LINE_COLUMN,
    check_output,
    cli_actor,
    cli_session,
    console,
    err_console,
    friendly_errors,
    output_file,
    register_reason_reader,
)
from retento.core.errors import InvalidInput, Msg
from retento.dataio import messages, service
from retento.dataio.mapping import Mapping, apply_map_flags, load_mapping_file
from retento.dataio.schemas import ENTITIES, ENTITY_LABELS, EXPORT_ENTITIES
from retento.web.i18n import N_

# The importer's row reasons in the user's language, as the import wizard shows them.
register_reason_reader(messages.translate)

# The import's stages as its progress bar shows them: the code in English, the wizard's words
# in Chinese.
STAGES = {"reading": N_("Reading the file"), "writing": N_("Writing"), "done": N_("Done")}
# What `retento import` and `retento export` name: as typed in English, the list's name in Chinese.
ENTITY_NAMES = {**ENTITY_LABELS, "order_lines": N_("Order lines")}


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@friendly_errors
def import_cmd(
    entity: str = typer.Argument(..., help=f"One of: {', '.join(ENTITIES)}."),
    file: Path = typer.Argument(..., help="A CSV (UTF-8, or --encoding) or XLSX file."),
    mapping_file: Path | None = typer.Option(
        None, "--mapping", help="YAML/JSON mapping: columns, date_format, timezone, encoding."
    ),
    maps: list[str] | None = typer.Option(
        None, "--map", help="source_column=field (repeatable; wins over --mapping)."
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="File encoding, e.g. gb18030 (default: UTF-8, BOM optional)."
    ),
    timezone: str | None = typer.Option(
        None,
        "--timezone",
        help="Zone for timestamps without one (default: the installation's, RETENTO_TIMEZONE).",
    ),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the good rows; write the bad ones to a rejects file."
    ),
    rejects: Path | None = typer.Option(
        None, "--rejects", help="Where to write rejected rows (default: FILE.rejects.csv)."
    ),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
) -> None:
    """Import customers, products, orders (one row per line) or touchpoints; upsert by external id."""
    if entity not in ENTITIES:
        raise InvalidInput(
            Msg(
                "Cannot import '%(entity)s'. Choose one of: %(choices)s.",
                entity=entity,
                choices=", ".join(ENTITIES),
            )
        )
    mapping = load_mapping_file(mapping_file) if mapping_file else Mapping()
    apply_map_flags(mapping, maps)
    if encoding:
        mapping.encoding = encoding
    if timezone:
        mapping.timezone = timezone
        mapping.tz()
    if not file.is_file():
        raise InvalidInput(Msg("File %(file)s does not exist.", file=file), field="file")
    rejects_path = (rejects or service.default_rejects_path(file)) if skip_invalid else None
    if rejects_path is not None:
        check_output(rejects_path, "--rejects")
    with cli_session() as session, _progress() as bar:
        actor = cli_actor(session, as_user)
        task = bar.add_task(in_words("reading", STAGES), total=1.0)

        def progress(stage: str, done: float, total: float) -> None:
            bar.update(
                task,
                description=in_words(stage, STAGES),
                completed=done / total if total else 1.0,
            )

        report = service.import_file(
            session,
            entity,
            file,
            actor=actor,
            mapping=mapping,
            skip_invalid=skip_invalid,
            rejects_path=rejects_path,
            progress=progress,
        )
        bar.update(task, description=in_words("done", STAGES), completed=1.0)
    counts = {
        "entity": in_words(entity, ENTITY_NAMES),
        "file": escape(file.name),
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "seconds": f"{report.seconds:.1f}",
    }
    if report.lines is not None:
        line = say(
            "Imported %(entity)s from %(file)s: %(rows)s row(s) read; %(created)s created, "
            "%(updated)s updated, %(unchanged)s unchanged, %(rejected)s rejected, %(lines)s "
            "line(s) written in %(seconds)ss.",
            lines=report.lines,
            **counts,
        )
    else:
        line = say(
            "Imported %(entity)s from %(file)s: %(rows)s row(s) read; %(created)s created, "
            "%(updated)s updated, %(unchanged)s unchanged, %(rejected)s rejected in "
            "%(seconds)ss.",
            **counts,
        )
    console.print(line)
    if report.ignored_columns:
        columns = escape(", ".join(report.ignored_columns))
        console.print(say("Ignored column(s): %(columns)s", columns=columns))
    for e in report.errors[:20]:
        reason = say_shaped(e.message, messages.translate)
        where = say(AT_LINE_COLUMN, line=e.row, column=e.field or "-", message=reason)
        console.print("  " + escape(where))
    if report.rejected > 20:
        console.print("  " + say("… and more; %(n)s rejected row(s) in total", n=report.rejected))
    if report.rejects_file:
        console.print(
            say("Rejected rows written to %(file)s", file=escape(str(report.rejects_file)))
        )
    if report.work_item_ids:
        run_follow_ups(report.work_item_ids)


def run_follow_ups(item_ids: list[int]) -> None:
    """Run the work an import queued (a large import's loyalty points) here and now, after the
    import committed, unless a worker has already taken it; with a progress bar."""
    import threading
    import time

    from retento.core.config import get_settings
    from retento.core.db import make_engine, make_session_factory
    from retento.work import queue
    from retento.work.leases import holder_id
    from retento.work.models import WorkItem

    engine = make_engine(get_settings().database_url)
    factory = make_session_factory(engine)
    try:
        for item_id in item_ids:
            with factory() as s:
                item = s.get(WorkItem, item_id)
                kind = queue.load_kinds().get(item.kind) if item is not None else None
            name = say(kind.label) if kind is not None else say("work item %(id)s", id=item_id)
            got: dict[str, str] = {}
            started = time.monotonic()

            def run(i: int = item_id, out: dict[str, str] = got) -> None:
                out["status"] = queue.run_in_web(factory, i, holder_id("cli"))

            runner = threading.Thread(target=run, daemon=True)
            with _progress() as bar:
                task = bar.add_task(name, total=1.0)
                runner.start()
                while runner.is_alive():
                    runner.join(0.2)
                    _stage, fraction = queue.LOCAL.get(item_id, (None, 0.0))
                    bar.update(task, completed=fraction)
                bar.update(task, completed=1.0)
            status = got.get("status", "failed")
            if status == "taken":
                console.print(
                    say(
                        "%(name)s: a worker is running it (work item #%(id)s).",
                        name=escape(name),
                        id=item_id,
                    )
                )
                continue
            with factory() as s:
                item = s.get(WorkItem, item_id)
                result, error = (item.result, item.error) if item is not None else (None, None)
            if status != "done":
                err_console.print(
                    say(
                        "[bold red]Error:[/] %(name)s (work item #%(id)s): %(error)s",
                        name=escape(name),
                        id=item_id,
                        error=escape(str(error)),
                    )
                )
                if kind is not None and kind.retry_safe:
                    err_console.print(
                        say(
                            "The import itself is saved. Once the cause is fixed, run this work "
                            "again: `retento work retry %(id)s`, then `retento worker --once`.",
                            id=item_id,
                        ),
                        markup=False,
                    )
                raise typer.Exit(1)
            detail = ", ".join(f"{k} {v}" for k, v in (result or {}).items())  # codes, counts
            console.print(
                say(
                    "%(name)s: done in %(seconds)ss (%(detail)s).",
                    name=escape(name),
                    seconds=f"{time.monotonic() - started:.1f}",
                    detail=escape(detail),
                )
            )
    finally:
        engine.dispose()


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            Msg("--%(field)s must be an ISO date or timestamp.", field=name), field=name
        ) from exc
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return dt


def export_filters(session: Any, entity: str, opts: dict[str, Any]) -> dict[str, Any]:
    """Turn CLI options into the list service's filter keywords; reject ones that do not apply."""
    from retento.auth.service import get_user_by_name
    from retento.customers.service import get_by_external_id

    allowed = {
        "customers": {"q", "kind", "scope", "tag", "owner", "party_type"},
        "products": {"q", "category", "active"},
        "orders": {"customer", "status", "channel", "since", "until"},
        "order_lines": {"customer", "status", "channel", "since", "until"},
        "touchpoints": {
            "customer",
            "channel",
            "stage",
            "direction",
            "outcome",
            "owner",
            "since",
            "until",
        },
    }[entity]
    given = {k: v for k, v in opts.items() if v is not None}
    bad = set(given) - allowed
    if bad:
        raise InvalidInput(
            Msg(
                "Option(s) --%(options)s do not apply to %(entity)s; use: --%(allowed)s.",
                options=", --".join(sorted(bad)),
                entity=entity,
                allowed=", --".join(sorted(allowed)),
            )
        )
    out: dict[str, Any] = {}
    for k, v in given.items():
        if k == "owner":
            out["owner_id"] = get_user_by_name(session, v).id
        elif k == "customer":
            c = get_by_external_id(session, v)
            if c is None:
                raise InvalidInput(
                    Msg("No customer has external id '%(value)s'.", value=v), field="customer"
                )
            out["customer_id"] = c.id
        elif k in ("since", "until"):
            out[k] = _when(v, k)
        elif k == "active":
            out[k] = v
        else:
            out[k] = v
    return out


@friendly_errors
def export_cmd(
    entity: str = typer.Argument(..., help=f"One of: {', '.join(EXPORT_ENTITIES)}."),
    output: Path = typer.Option(..., "--output", "-o", help="CSV file to write."),
    q: str | None = typer.Option(None, "--q", help="Search text (customers, products)."),
    kind: str | None = typer.Option(
        None,
        "--kind",
        help="Customer kind: consumer, business, distributor, supplier, department, branch.",
    ),
    scope: str | None = typer.Option(None, "--scope", help="external or internal."),
    tag: str | None = typer.Option(None, "--tag", help="Customers with this tag."),
    party_type: str | None = typer.Option(None, "--party-type", help="person or organisation."),
    owner: str | None = typer.Option(None, "--owner", help="Owner's username."),
    category: str | None = typer.Option(None, "--category", help="Product category."),
    active: bool | None = typer.Option(
        None, "--active/--inactive", help="Only products on sale, or only those off sale."
    ),
    customer: str | None = typer.Option(None, "--customer", help="Customer external id."),
    status: str | None = typer.Option(
        None, "--status", help="Order status: placed, paid, shipped, completed, cancelled."
    ),
    channel: str | None = typer.Option(
        None, "--channel", help="Channel of the orders or touchpoints (store, web, phone, …)."
    ),
    stage: str | None = typer.Option(
        None, "--stage", help="Journey stage of the touchpoints (desire to after_sales)."
    ),
    direction: str | None = typer.Option(None, "--direction", help="inbound or outbound."),
    outcome: str | None = typer.Option(
        None, "--outcome", help="Touchpoint outcome (positive, negative, purchase, …)."
    ),
    since: str | None = typer.Option(None, "--since", help="ISO date/time (inclusive)."),
    until: str | None = typer.Option(None, "--until", help="ISO date/time (exclusive)."),
    as_user: str | None = typer.Option(
        None, "--as", help="Act as this user (default: first admin)."
    ),
) -> None:
    """Export a list as CSV in the import format (customers, products, orders, order_lines, touchpoints)."""
    if entity not in EXPORT_ENTITIES:
        raise InvalidInput(
            Msg(
                "Cannot export '%(entity)s'. Choose one of: %(choices)s.",
                entity=entity,
                choices=", ".join(EXPORT_ENTITIES),
            )
        )
    opts = {
        "q": q, "kind": kind, "scope": scope, "tag": tag, "party_type": party_type,
        "owner": owner, "category": category, "active": active, "customer": customer,
        "status": status, "channel": channel, "stage": stage, "direction": direction,
        "outcome": outcome, "since": since, "until": until,
    }  # fmt: skip
    check_output(output, "--output")
    rows = 0
    with cli_session() as session:
        actor = cli_actor(session, as_user)
        filters = export_filters(session, entity, opts)
        with output_file(output, "--output", encoding="utf-8", newline="") as fh:
            for chunk in service.export_csv(session, entity, actor=actor, filters=filters):
                fh.write(chunk)
                rows += chunk.count("\r\n")
    console.print(
        say(
            "Exported %(n)s %(entity)s row(s) to %(file)s.",
            n=max(rows - 1, 0),
            entity=in_words(entity, ENTITY_NAMES),
            file=escape(str(output)),
        )
    )
