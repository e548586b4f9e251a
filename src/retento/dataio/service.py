"""Import and export entry points shared by the CLI and the API (the caller owns the transaction)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from retento.audit.service import record
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import InvalidInput, Msg
from retento.dataio import exporter
from retento.dataio.cells import neutralise_row
from retento.dataio.importer import Progress, run_import
from retento.dataio.mapping import Mapping
from retento.dataio.readers import Table, open_table
from retento.dataio.schemas import ENTITIES, EXPORT_ENTITIES, ImportReport


def default_rejects_path(source: str | Path) -> Path:
    p = Path(source)
    return p.with_name(f"{p.stem}.rejects.csv")


def write_rejects(
    path: str | Path, table: Table, rejects: list[tuple[int, list[str], str]]
) -> Path:
    """The rejected rows as they were read, plus ``_line`` and ``_error`` columns (UTF-8 with BOM);
    text that a spreadsheet would run as a formula is neutralised as in every export."""
    p = Path(path)
    with p.open("w", encoding="utf-8-sig", newline="") as fh:
        _write_rejects(fh, table, rejects)
    return p


def rejects_csv(table: Table, rejects: list[tuple[int, list[str], str]]) -> bytes:
    """``write_rejects`` into bytes (the web wizard keeps them with its job)."""
    buf = io.StringIO()
    _write_rejects(buf, table, rejects)
    return buf.getvalue().encode("utf-8-sig")


def _write_rejects(fh: Any, table: Table, rejects: list[tuple[int, list[str], str]]) -> None:
    w = csv.writer(fh)
    header = [h for h in table.header if h != "_error"]
    w.writerow(neutralise_row([*header, "_line", "_error"]))
    keep = [i for i, h in enumerate(table.header) if h != "_error"]
    for line, cells, reason in rejects:
        row = [cells[i] if i < len(cells) else "" for i in keep]
        w.writerow(neutralise_row([*row, line, reason]))


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
    ``rejects_sink`` receives the rejected rows as CSV bytes. One audit entry is written per run (entity ``import``), not one per row: a million-row
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
    mapping = mapping or Mapping()
    table = open_table(source, name, encoding=mapping.encoding, delimiter=mapping.delimiter)
    try:
        report, rejects = run_import(
            session,
            entity,
            table,
            mapping,
            skip_invalid=skip_invalid,
            progress=progress,
            validate_only=validate_only,
        )
    finally:
        table.close()
    if rejects and rejects_path is not None:
        report.rejects_file = str(write_rejects(rejects_path, table, rejects))
    if rejects_sink is not None:
        rejects_sink(rejects_csv(table, rejects) if rejects else b"")
    if validate_only:
        return report
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
