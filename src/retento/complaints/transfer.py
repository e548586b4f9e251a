"""Import and export of complaints as CSV/XLSX (re-importing updates by ``external_id``)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.complaints import queries, service
from retento.complaints.models import Complaint, ComplaintCategory
from retento.complaints.schemas import ComplaintCreate, ComplaintUpdate
from retento.core.errors import FieldError, InvalidInput, Msg, RetentoError
from retento.customers.guard import lock_customers, merged_message
from retento.customers.models import Customer
from retento.dataio.cells import neutralise

COLUMNS = (
    "external_id",
    "customer_external_id",
    "kind",
    "channel",
    "category",
    "subject",
    "description",
    "severity",
    "emotion",
    "purposes",
    "root_cause",
    "received_at",
)
EXPORT_COLUMNS = (
    "id",
    "tracking_code",
    *COLUMNS,
    "status",
    "assignee",
    "value_class",
    "first_response_due_at",
    "first_responded_at",
    "resolution_due_at",
    "resolved_at",
    "closed_at",
    "first_response_breached",
    "resolution_breached",
    "reopen_count",
    "csat",
    "won_back",
)
REQUIRED = ("external_id", "customer_external_id", "category", "subject", "description")


def _row_values(cells: dict[str, str]) -> dict:
    values: dict = {}
    for key in ("kind", "channel", "emotion", "root_cause"):
        if cells.get(key):
            values[key] = cells[key].strip()
    if cells.get("severity"):
        values["severity"] = cells["severity"].strip()
    if cells.get("purposes"):
        values["purposes"] = [
            p.strip() for p in cells["purposes"].replace(",", ";").split(";") if p.strip()
        ]
    if cells.get("received_at"):
        values["received_at"] = cells["received_at"].strip()
    return values


def import_complaints(session: Session, table, *, actor: User) -> dict[str, int]:
    """Create or update complaints from a table; any bad row rejects the whole file."""
    require(actor, "complaint:create")
    require(actor, "data:import")
    header = [h.strip().lower() for h in table.header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(
            Msg("Missing column(s): %(columns)s.", columns=", ".join(missing)), field=missing[0]
        )
    errors: list[FieldError] = []
    created = updated = 0
    rows = [(line, dict(zip(header, raw, strict=False))) for line, raw in table.rows]
    named = sorted({(c.get("customer_external_id") or "").strip() for _l, c in rows} - {""})
    customers: dict[str, int] = {}
    for start in range(0, len(named), 1000):
        customers.update(
            session.execute(
                select(Customer.external_id, Customer.id).where(
                    Customer.external_id.in_(named[start : start + 1000])
                )
            ).all()
        )
    # Locked ``FOR SHARE`` in id order before any complaint is written (``customers.guard``): a
    # running merge is waited for, and a customer merged into another is refused with its row
    # and the file's column (the service's own refusal would name ``customer_id``).
    merged = lock_customers(session, set(customers.values()))
    seen: dict[str, int] = {}
    for line, cells in rows:
        blank = [c for c in REQUIRED if not (cells.get(c) or "").strip()]
        if blank:
            errors.append(FieldError(blank[0], "is required", row=line))
            continue
        key = cells["external_id"].strip()
        if key in seen:
            # A second row for one complaint is a mistake in the file (the shared importer
            # refuses it too): it was applied over the first and counted as "1 updated".
            said = f"'{key[:40]}' already appears on line {seen[key]} of this file"
            errors.append(FieldError("external_id", said, row=line, value=key))
            continue
        seen[key] = line
        ext_c = cells["customer_external_id"].strip()
        if ext_c not in customers:
            errors.append(
                FieldError("customer_external_id", f"no customer '{ext_c}'", row=line, value=ext_c)
            )
            continue
        if customers[ext_c] in merged:
            said = merged_message(ext_c, merged[customers[ext_c]])
            errors.append(FieldError("customer_external_id", said, row=line, value=ext_c))
            continue
        extra = _row_values(cells)
        existing = service.get_by_external_id(session, cells["external_id"].strip())
        try:
            with session.begin_nested():
                if existing is None:
                    data = ComplaintCreate(
                        external_id=cells["external_id"].strip(),
                        customer_id=customers[ext_c],
                        category=cells["category"].strip().lower(),
                        subject=cells["subject"],
                        description=cells["description"],
                        **extra,
                    )
                    service.create_complaint(session, data, actor=actor, source="import")
                    created += 1
                else:
                    cat = service.category_by_code(session, cells["category"].strip().lower())
                    if cat is None:
                        raise InvalidInput(
                            Msg("Unknown category '%(category)s'.", category=cells["category"]),
                            field="category",
                        )
                    extra.pop("received_at", None)
                    extra.pop("channel", None)
                    data = ComplaintUpdate(
                        category_id=cat.id,
                        subject=cells["subject"],
                        description=cells["description"],
                        **extra,
                    )
                    service.update_complaint(session, existing.id, data, actor=actor)
                    updated += 1
        except ValidationError as exc:
            from retento.core.cli_support import pydantic_reason

            e = exc.errors()[0]
            errors.append(
                FieldError(".".join(str(p) for p in e["loc"]) or None, pydantic_reason(e), row=line)
            )
        except RetentoError as exc:
            errors.append(FieldError(exc.field, exc.message, row=line))
        if len(errors) > 200:
            break
    if errors:
        raise InvalidInput(
            Msg("%(n)s row(s) were rejected; nothing was imported.", n=len(errors)),
            field=errors[0].field,
            errors=errors,
        )
    return {"created": created, "updated": updated}


def export_rows(session: Session, *, actor: User, **filters) -> Iterator[dict]:
    """Complaints as flat rows (streamed in id order), text neutralised against formula
    injection: complaint text comes from anonymous web forms (``dataio.cells``; the importers
    remove the quote again)."""
    require(actor, "data:export")
    for row in _rows(session, **filters):
        yield {k: neutralise(v) for k, v in row.items()}


def _rows(session: Session, **filters) -> Iterator[dict]:
    stmt = (
        queries.complaint_filter(**filters)
        .add_columns(Customer.external_id)
        .join(Customer, Customer.id == Complaint.customer_id)
        .order_by(Complaint.id)
    )
    cats = dict(
        session.execute(select(ComplaintCategory.id, ComplaintCategory.code)).tuples().all()
    )
    users = dict(session.execute(select(User.id, User.username)).tuples().all())
    for c, customer_external_id in session.execute(stmt.execution_options(yield_per=2000)).tuples():
        yield {
            "id": c.id,
            "tracking_code": c.tracking_code,
            "external_id": c.external_id or "",
            "customer_external_id": customer_external_id or "",
            "kind": c.kind,
            "channel": c.channel,
            "category": cats.get(c.category_id, ""),
            "subject": c.subject,
            "description": c.description,
            "severity": c.severity,
            "emotion": c.emotion,
            "purposes": ";".join(c.purposes or []),
            "root_cause": c.root_cause or "",
            "received_at": _iso(c.received_at),
            "status": c.status,
            "assignee": users.get(c.assignee_id, ""),
            "value_class": c.value_class,
            "first_response_due_at": _iso(c.first_response_due_at),
            "first_responded_at": _iso(c.first_responded_at),
            "resolution_due_at": _iso(c.resolution_due_at),
            "resolved_at": _iso(c.resolved_at),
            "closed_at": _iso(c.closed_at),
            "first_response_breached": int(c.first_response_breached),
            "resolution_breached": int(c.resolution_breached),
            "reopen_count": c.reopen_count,
            "csat": "" if c.csat is None else c.csat,
            "won_back": "" if c.won_back is None else int(c.won_back),
        }


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def write_csv(session: Session, path: Path, *, actor: User, **filters) -> int:
    """Write the export to ``path`` (UTF-8 with BOM so spreadsheet programs read Chinese)."""
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(EXPORT_COLUMNS))
        writer.writeheader()
        for row in export_rows(session, actor=actor, **filters):
            writer.writerow(row)
            n += 1
    return n
