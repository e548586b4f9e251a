"""Import and export entry points shared by the CLI and the API (the caller owns the transaction)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.auth.models import User
from retento.auth.permissions import acts_on_all, can, require, role_name
from retento.core.errors import Forbidden, InvalidInput, Msg, Term
from retento.dataio import exporter
from retento.dataio.cells import neutralise_row
from retento.dataio.import_base import Problem, Reject
from retento.dataio.importer import Progress, run_import
from retento.dataio.mapping import Mapping
from retento.dataio.readers import Table, open_table
from retento.dataio.schemas import ENTITIES, ENTITY_LABELS, EXPORT_ENTITIES, ImportReport
from retento.web.i18n import N_
from retento.work.queue import enqueued


def default_rejects_path(source: str | Path) -> Path:
    p = Path(source)
    return p.with_name(f"{p.stem}.rejects.csv")


def reason(problems: tuple[Problem, ...], message: Callable[[str], str] | None = None) -> str:
    """A rejected row's ``_error`` cell: its problems as ``column: message`` joined by ``; ``,
    each message through ``message`` (the web's translation; English as the importer wrote it
    when ``None``)."""
    say = message or str
    return "; ".join(f"{col}: {say(text)}" if col else say(text) for col, text in problems)


def write_rejects(path: str | Path, table: Table, rejects: list[Reject]) -> Path:
    """The rejected rows as they were read, plus ``_line`` and ``_error`` columns (UTF-8 with BOM);
    text that a spreadsheet would run as a formula is neutralised as in every export. The CLI's
    file: its reasons are in English, like everything the CLI prints."""
    p = Path(path)
    with p.open("w", encoding="utf-8-sig", newline="") as fh:
        _write_rejects(fh, table.header, rejects)
    return p


def rejects_record(table: Table, rejects: list[Reject]) -> bytes:
    """The rejected rows as the web wizard keeps them with its job (JSON: the header, and each
    row's line, cells and problems), so the download words the reasons in the language of
    whoever downloads it (``rejects_csv``)."""
    rows = [[line, cells, [list(p) for p in problems]] for line, cells, problems in rejects]
    return json.dumps(
        {"header": table.header, "rows": rows}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def rejects_csv(record: bytes, message: Callable[[str], str] | None = None) -> bytes:
    """The rejects file (the CSV of ``write_rejects``) of a ``rejects_record``, every problem's
    message through ``message``. A job stored before the record existed kept the CSV itself:
    returned as it is."""
    if not record.startswith(b"{"):
        return record
    data = json.loads(record)
    rejects = [
        (line, cells, tuple((c, m) for c, m in problems)) for line, cells, problems in data["rows"]
    ]
    buf = io.StringIO()
    _write_rejects(buf, data["header"], rejects, message)
    return buf.getvalue().encode("utf-8-sig")


def _write_rejects(
    fh: Any,
    header: list[str],
    rejects: list[Reject],
    message: Callable[[str], str] | None = None,
) -> None:
    w = csv.writer(fh)
    keep = [i for i, h in enumerate(header) if h != "_error"]
    w.writerow(neutralise_row([*(header[i] for i in keep), "_line", "_error"]))
    for line, cells, problems in rejects:
        row = [cells[i] if i < len(cells) else "" for i in keep]
        w.writerow(neutralise_row([*row, line, reason(problems, message)]))


# What importing an entity needs beyond ``data:import``: an import creates and updates the
# file's records, so whoever imports must be allowed to create and update them (a custom "data
# clerk" role with only ``data:import`` and ``customer:read`` renamed customers and repriced
# products); complaints are recorded, as by ``retento complaints import``, by someone who may
# record complaints.
ENTITY_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "customers": ("customer:create", "customer:update"),
    "products": ("product:create", "product:update"),
    "orders": ("order:create", "order:update"),
    "touchpoints": ("touchpoint:create", "touchpoint:update"),
    "complaints": ("complaint:create",),
}
# Files about customers are written whoever owns each customer: a role whose verbs work on its
# own customers only (scope "own") cannot import them.
ABOUT_CUSTOMERS = frozenset({"customers", "orders", "touchpoints", "complaints"})
NEEDS_ALL_CUSTOMERS = N_(
    "The role %(role)s works on its own customers only, and an import writes to every customer "
    "in the file: importing %(entity)s needs a role that works on all customers."
)


def may_import(actor: User, entity: str) -> bool:
    """True if ``actor`` may import ``entity`` (given ``data:import``; ``require_entity``)."""
    return all(can(actor, verb) for verb in ENTITY_PERMISSIONS.get(entity, ())) and (
        entity not in ABOUT_CUSTOMERS or acts_on_all(actor)
    )


def require_entity(actor: User, entity: str) -> None:
    """403 unless ``actor`` may import ``entity`` (``data:import`` is checked by the caller)."""
    for verb in ENTITY_PERMISSIONS.get(entity, ()):
        require(actor, verb)
    if entity in ABOUT_CUSTOMERS and not acts_on_all(actor):
        raise Forbidden(
            Msg(
                NEEDS_ALL_CUSTOMERS,
                role=role_name(actor.role),
                entity=Term(entity, ENTITY_LABELS[entity]),
            ),
            role=actor.role,
        )


def import_file(
    session: Session,
    entity: str,
    source: bytes | str | Path | BinaryIO,
    *,
    actor: User,
    name: str | None = None,
    mapping: Mapping | None = None,
    skip_invalid: bool = False,
    rejects_path: str | Path | None = None,
    progress: Progress | None = None,
    validate_only: bool = False,
    rejects_sink: Callable[[bytes], None] | None = None,
) -> ImportReport:
    """Validate and upsert a CSV/XLSX file; all-or-nothing unless ``skip_invalid``.

    ``validate_only`` checks every row and writes nothing (the web wizard's check step);
    ``rejects_sink`` receives the rejected rows as a ``rejects_record`` (empty when there are
    none), which ``rejects_csv`` turns into the file in the reader's language. One audit entry is written per run (entity ``import``), not one per row: a million-row
    import would otherwise write a million audit rows; the file name and counts identify it.
    """
    require(actor, "data:import")
    if entity not in ENTITIES:
        raise InvalidInput(
            Msg(
                "Cannot import '%(entity)s'. Choose one of: %(choices)s.",
                entity=entity,
                choices=", ".join(ENTITIES),
            ),
            field="entity",
        )
    require_entity(actor, entity)
    mapping = mapping or Mapping()
    table = open_table(source, name, encoding=mapping.encoding, delimiter=mapping.delimiter)
    queued = len(enqueued(session))
    try:
        report, rejects = run_import(
            session,
            entity,
            table,
            mapping,
            skip_invalid=skip_invalid,
            progress=progress,
            validate_only=validate_only,
            actor=actor,
        )
    finally:
        table.close()
    if rejects and rejects_path is not None:
        report.rejects_file = str(write_rejects(rejects_path, table, rejects))
    if rejects_sink is not None:
        rejects_sink(rejects_record(table, rejects) if rejects else b"")
    if validate_only:
        return report
    report.work_item_ids = enqueued(session)[queued:]
    record(
        session,
        actor,
        "import",
        "import",
        None,
        None,
        {
            "entity": entity,
            "file": table.name,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
        },
    )
    session.flush()
    return report


def export_csv(
    session: Session, entity: str, *, actor: User, filters: dict[str, Any] | None = None
) -> Iterator[str]:
    """CSV text chunks of a filtered list, in the importer's format (re-importable)."""
    require(actor, "data:export")
    if entity not in EXPORT_ENTITIES:
        raise InvalidInput(
            Msg(
                "Cannot export '%(entity)s'. Choose one of: %(choices)s.",
                entity=entity,
                choices=", ".join(EXPORT_ENTITIES),
            ),
            field="entity",
        )
    return exporter.export(session, entity, filters or {})


# Subscribes the import notifications (finished, failed) to the import wizard's events wherever
# this service is used.
from retento.dataio import notifications as _notifications  # noqa: E402, F401
