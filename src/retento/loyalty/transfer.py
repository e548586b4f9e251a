"""Import of point adjustments from CSV (all-or-nothing; each row keyed, so re-import is a no-op)."""

from __future__ import annotations

import csv
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import FieldError, InvalidInput, RetentoError
from retento.loyalty import ledger
from retento.loyalty.service import adjust

REQUIRED = ("customer_external_id", "points", "reason", "key")
MAX_ROWS = 1_000_000


def import_adjustments(session: Session, fh: IO[str], *, actor: User) -> dict[str, int]:
    """Post one adjustment per row; a row whose key was imported before returns its journal."""
    require(actor, "loyalty:adjust")
    from retento.customers.models import Customer

    reader = csv.DictReader(fh)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"Missing column(s): {', '.join(missing)}.", field=missing[0])
    errors: list[FieldError] = []
    posted = replayed = 0
    for i, row in enumerate(reader, start=2):
        if i > MAX_ROWS:
            raise InvalidInput(f"At most {MAX_ROWS} rows per file.", field="points")
        ext = (row.get("customer_external_id") or "").strip()
        cid = session.scalar(select(Customer.id).where(Customer.external_id == ext))
        if cid is None:
            errors.append(FieldError("customer_external_id", f"unknown customer '{ext[:40]}'", i))
            continue
        try:
            pts = int((row.get("points") or "").strip())
        except ValueError:
            errors.append(FieldError("points", "is not a whole number", i))
            continue
        key = (row.get("key") or "").strip()
        if not key:
            errors.append(FieldError("key", "is empty", i))
            continue
        before = ledger.find_journal(session, f"api:{actor.id}:import:{key}")
        try:
            adjust(
                session,
                cid,
                pts,
                actor=actor,
                reason=(row.get("reason") or "").strip(),
                idempotency_key=f"import:{key}",
            )
        except RetentoError as exc:
            errors.append(FieldError(exc.field or "points", exc.message, i))
            continue
        if before is None:
            posted += 1
        else:
            replayed += 1
    if errors:
        raise InvalidInput(f"{len(errors)} row(s) could not be imported.", errors=errors)
    return {"posted": posted, "replayed": replayed}
