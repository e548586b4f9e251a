"""Import of point adjustments from CSV through the batch path (``loyalty.batch``).

All or nothing: every row is checked (customer, points, key) before anything is posted, the rows
are posted 1,000 at a time in the caller's one transaction, and any bad row (also one the ledger
refuses, e.g. a debit beyond the member's points) rolls the whole file back with its line number.
Each row's ``key`` is its idempotency key, so re-importing the file posts nothing twice.
"""

from __future__ import annotations

import csv
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import FieldError, InvalidInput, Msg
from retento.customers.guard import lock_customers, merged_message
from retento.loyalty.batch import MAX_ITEMS, BatchInvalid, BatchOp, post_batch

COLUMN = "customer_external_id"  # the file's column that names the customer
REQUIRED = (COLUMN, "points", "reason", "key")
MAX_ROWS = 1_000_000


def import_adjustments(session: Session, fh: IO[str], *, actor: User) -> dict[str, int]:
    """Post one adjustment per row; a row whose key was imported before returns its journal."""
    require(actor, "loyalty:adjust")
    from retento.customers.models import Customer

    reader = csv.DictReader(fh)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            Msg("Missing column(s): %(columns)s.", columns=", ".join(missing)), field=missing[0]
        )
    errors: list[FieldError] = []
    rows: list[tuple[int, str, int, str, str]] = []  # (line, external id, points, reason, key)
    first_line: dict[str, tuple[int, str, int, str]] = {}
    repeated = 0
    for i, row in enumerate(reader, start=2):
        if i > MAX_ROWS + 1:
            raise InvalidInput(Msg("At most %(n)s rows per file.", n=MAX_ROWS), field="points")
        ext = (row.get("customer_external_id") or "").strip()
        try:
            raw = (row.get("points") or "").strip()
            pts = int(raw)
        except ValueError:
            errors.append(
                FieldError(
                    "points", Msg("'%(v)s' is not a whole number", v=raw[:40]), i, raw or None
                )
            )
            continue
        key = (row.get("key") or "").strip()
        if not key:
            errors.append(FieldError("key", "is empty", i))
            continue
        reason = (row.get("reason") or "").strip()
        if key in first_line:
            # The same key twice in one file: the same row again is a no-op, another is an error.
            line, e0, p0, r0 = first_line[key]
            if (e0, p0, r0) != (ext, pts, reason):
                errors.append(
                    FieldError(
                        "key", Msg("is also used on line %(line)s for another row", line=line), i
                    )
                )
            else:
                repeated += 1
            continue
        first_line[key] = (i, ext, pts, reason)
        rows.append((i, ext, pts, reason, key))
    ids: dict[str, int] = {}
    exts = sorted({r[1] for r in rows})
    for start in range(0, len(exts), 1000):
        chunk = exts[start : start + 1000]
        ids.update(
            session.execute(
                select(Customer.external_id, Customer.id).where(Customer.external_id.in_(chunk))
            ).all()
        )
    # Locked ``FOR SHARE`` in id order before anything is posted (``customers.guard``): a merge
    # running now is waited for, and a customer merged into another is refused with its row, the
    # column that named it and the survivor (as the member import does), not as ``customer_id``.
    merged = lock_customers(session, {ids[r[1]] for r in rows if r[1] in ids})
    ops: list[tuple[int, BatchOp]] = []
    for line, ext, pts, reason, key in rows:
        if ext not in ids:
            errors.append(
                FieldError(COLUMN, Msg("unknown customer '%(v)s'", v=ext[:40]), line, ext or None)
            )
            continue
        if ids[ext] in merged:
            errors.append(FieldError(COLUMN, merged_message(ext, merged[ids[ext]]), line, ext))
            continue
        ops.append((line, BatchOp("adjust", ids[ext], pts, f"import:{key}", reason)))
    posted, replayed = 0, repeated
    if not errors:
        for start in range(0, len(ops), MAX_ITEMS):
            chunk = ops[start : start + MAX_ITEMS]
            try:
                res = post_batch(
                    session, [op for _l, op in chunk], actor=actor, source_type="import"
                )
            except BatchInvalid as exc:
                for idx, fld, msg in exc.items:
                    # The batch names the customer by id; the file named it in its column.
                    fld = COLUMN if fld == "customer_id" else fld
                    errors.append(FieldError(fld, msg, chunk[idx][0]))
                break
            fresh = sum(1 for r in res if not r.replayed)
            posted += fresh
            replayed += len(res) - fresh
    if errors:
        errors.sort(key=lambda e: e.row or 0)
        raise InvalidInput(Msg("%(n)s row(s) could not be imported.", n=len(errors)), errors=errors)
    return {"posted": posted, "replayed": replayed}
