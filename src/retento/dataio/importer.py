"""Validate a whole file, then upsert it by ``external_id`` with bulk writes.

Speed matters (a million order lines in well under 30 s on SQLite and 20 s on PostgreSQL, see
``benchmarks/bench_import.py``). The work is split by concern: ``import_base`` (header, cells,
row errors, all-or-nothing), ``import_records`` (products, customers, touchpoints),
``import_orders`` (orders and their lines) and ``bulk`` (``COPY`` / ``executemany`` writers).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.dataio.import_base import Progress, Reject, RowProblem
from retento.dataio.import_complaints import ComplaintsImport
from retento.dataio.import_orders import OrdersImport
from retento.dataio.import_records import RecordsImport
from retento.dataio.mapping import Mapping
from retento.dataio.readers import Table
from retento.dataio.schemas import Column, ImportReport


class Importer(RecordsImport, OrdersImport, ComplaintsImport):
    """One import run over an opened table; ``run()`` returns the report."""


def run_import(
    session: Session,
    entity: str,
    table: Table,
    mapping: Mapping,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
    validate_only: bool = False,
    actor: User | None = None,
) -> tuple[ImportReport, list[Reject]]:
    """Check and upsert one table; returns the report and the rejected rows (line, cells, and the
    problems as (column, English message) pairs).
    With ``validate_only`` every row is checked (as with ``skip_invalid``) and nothing is written.
    ``actor`` is who imports (complaints are recorded in their name)."""
    imp = Importer(
        session,
        entity,
        table,
        mapping,
        skip_invalid=skip_invalid,
        progress=progress,
        validate_only=validate_only,
    )
    imp.actor = actor  # complaints are recorded through their service, as this user
    report = imp.run()
    return report, imp.rejects


__all__ = ["Column", "Importer", "Progress", "RowProblem", "run_import"]
