"""Import and export of loyalty members (CSV or XLSX): enrol customers, place them in a tier,
give them an opening balance, keep their joining date.

Columns (the header names them; order does not matter, other columns are ignored and listed):

=====================  =======================================================================
customer_external_id   the customer's number, or
email                  the customer's e-mail (must match exactly one customer)
tier                   tier code (optional; invite-only tiers allowed: the import is a manager's
                       placement); an empty cell leaves the member's tier as it is
opening_balance        whole points to credit once (optional, >= 0)
key                    the row's idempotency key, required with an opening balance: importing
                       the same file again posts no second journal
joined_at              ISO date or date-time (optional; the installation's time zone)
=====================  =======================================================================

All or nothing: every row is checked first and every problem is reported with its row and
column; then all rows are applied in one savepoint, and a problem found while posting (e.g. a
key reused for a different row) undoes all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.config import get_settings
from retento.core.db import utcnow
from retento.core.errors import FieldError, InvalidInput, Msg, RetentoError, choice_error
from retento.customers.guard import lock_customers, merged_message
from retento.customers.models import Customer
from retento.dataio.readers import open_table
from retento.loyalty import ledger
from retento.loyalty.ledger import Replay, open_journal
from retento.loyalty.models import LoyaltyTier
from retento.web.i18n import N_

COLUMNS = ("customer_external_id", "email", "tier", "opening_balance", "key", "joined_at")
MAX_ROWS = 200_000
MAX_KEY = 120


@dataclass
class _Row:
    line: int
    customer_id: int
    tier: LoyaltyTier | None
    balance: int
    key: str | None
    joined_at: datetime | None
    # The column that named the customer ("customer_external_id" or "email") and its value.
    column: str = "customer_external_id"
    named: str = ""


@dataclass
class ImportReport:
    rows: int = 0
    enrolled: int = 0
    tier_changes: int = 0
    posted: int = 0
    replayed: int = 0
    points: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _when(text: str, zone: ZoneInfo) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    if len(text) <= 10:  # a date: midnight in the installation's time zone
        value = datetime.combine(value.date(), time(0), tzinfo=zone)
    return value


def _check(session: Session, table) -> tuple[list[_Row], list[str]]:
    header = [h.strip().lower() for h in table.header]
    idx = {h: i for i, h in enumerate(header) if h}
    if "customer_external_id" not in idx and "email" not in idx:
        raise InvalidInput(
            "The file needs a customer_external_id or an email column.",
            field="customer_external_id",
            # The header's line: 2 in a CSV file that opens with Excel's "sep=;" line.
            errors=[FieldError("customer_external_id", "missing column", table.header_line)],
        )
    ignored = [h for h in header if h and h not in COLUMNS]
    tiers = {t.code.lower(): t for t in session.scalars(select(LoyaltyTier))}
    zone = ZoneInfo(get_settings().timezone)
    now = utcnow()
    errors: list[FieldError] = []
    parsed: list[tuple[int, str, str, LoyaltyTier | None, int, str | None, datetime | None]] = []
    keys: dict[str, int] = {}
    # The reader has already undone an export's formula quote (``dataio.cells.restore_row``):
    # undoing it twice took a value's own quote ("'-5", exported as "''-5", read as "-5").
    for line, cells in table.rows:
        if len(parsed) + len(errors) >= MAX_ROWS:
            raise InvalidInput(Msg("At most %(n)s rows per file.", n=MAX_ROWS), field="file")

        def cell(name: str, cells: list[str] = cells) -> str:
            i = idx.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        if not any(c.strip() for c in cells):
            continue
        bad = len(errors)
        nul = [c for c in COLUMNS if "\x00" in cell(c)]
        if nul:  # PostgreSQL text cannot hold it: the lookups failed field-less
            errors.extend(FieldError(c, "contains a NUL character", line) for c in nul)
            continue
        ext, email = cell("customer_external_id"), cell("email")
        if not ext and not email:
            errors.append(
                FieldError("customer_external_id", "give the customer number or e-mail", line)
            )
        tier = None
        code = cell("tier")
        if code:
            tier = tiers.get(code.lower())
            if tier is None:
                errors.append(
                    FieldError("tier", Msg("unknown tier '%(code)s'", code=code[:30]), line, code)
                )
        balance = 0
        text = cell("opening_balance")
        if text:
            try:
                n = int(text)
                if not 0 <= n <= ledger.MAX_POINTS:
                    raise ValueError
                balance = n
            except ValueError:
                errors.append(
                    FieldError(
                        "opening_balance", "is not a whole number of points >= 0", line, text
                    )
                )
        key = cell("key") or None
        if balance and not key:
            errors.append(FieldError("key", "an opening balance needs a key", line))
        if key and len(key) > MAX_KEY:
            errors.append(
                FieldError("key", Msg("is longer than %(n)s characters", n=MAX_KEY), line)
            )
        elif key and key in keys:
            errors.append(
                FieldError("key", Msg("is used again (row %(row)s)", row=keys[key]), line, key)
            )
        elif key:
            keys[key] = line
        joined = None
        text = cell("joined_at")
        if text:
            try:
                joined = _when(text, zone)
                if joined > now:
                    errors.append(FieldError("joined_at", "is in the future", line, text))
            except ValueError:
                errors.append(FieldError("joined_at", "is not a date (YYYY-MM-DD)", line, text))
        if len(errors) == bad:
            parsed.append((line, ext, email, tier, balance, key, joined))
    # Customers in two queries, not one per row.
    by_ext = dict(
        session.execute(
            select(Customer.external_id, Customer.id).where(
                Customer.external_id.in_({p[1] for p in parsed if p[1]})
            )
        ).all()
    )
    emails = {p[2].lower() for p in parsed if p[2] and not p[1]}
    by_email: dict[str, list[int]] = {}
    for e, cid in session.execute(
        select(func.lower(Customer.email), Customer.id).where(
            func.lower(Customer.email).in_(emails)
        )
    ):
        by_email.setdefault(e, []).append(cid)
    rows: list[_Row] = []
    seen: dict[int, int] = {}
    for line, ext, email, tier, balance, key, joined in parsed:
        if ext:
            cid = by_ext.get(ext)
            if cid is None:
                errors.append(
                    FieldError(
                        "customer_external_id",
                        Msg("unknown customer '%(v)s'", v=ext[:40]),
                        line,
                        ext,
                    )
                )
                continue
        else:
            found = by_email.get(email.lower(), [])
            if len(found) != 1:
                msg = (
                    "no customer has this e-mail"
                    if not found
                    else Msg(
                        "%(n)s customers have this e-mail; use customer_external_id",
                        n=len(found),
                    )
                )
                errors.append(FieldError("email", msg, line, email))
                continue
            cid = found[0]
        column, named = ("customer_external_id", ext) if ext else ("email", email)
        if cid in seen:
            errors.append(
                FieldError(column, Msg("the same customer as row %(row)s", row=seen[cid]), line)
            )
            continue
        seen[cid] = line
        rows.append(_Row(line, cid, tier, balance, key, joined, column, named))
    # Locked ``FOR SHARE`` in id order before anything is written (``customers.guard``): a
    # merge running now is waited for, and a customer merged into another is refused here with
    # its row and the column that named it, not enrolled or credited after its move.
    merged = lock_customers(session, {r.customer_id for r in rows})
    errors.extend(
        FieldError(r.column, merged_message(r.named, merged[r.customer_id]), r.line, r.named)
        for r in rows
        if r.customer_id in merged
    )
    if errors:
        errors.sort(key=lambda e: e.row or 0)
        raise InvalidInput(
            Msg("%(n)s problem(s) in the file; nothing was imported.", n=len(errors)),
            errors=errors,
        )
    return rows, ignored


def _apply(session: Session, r: _Row, rep: ImportReport, actor: User) -> None:
    from retento.loyalty.tiers import set_tier

    if ledger.get_wallet(session, r.customer_id) is None:
        rep.enrolled += 1
    w = ledger.wallet(session, r.customer_id)
    if r.joined_at is not None and w.joined_at != r.joined_at:
        w.joined_at = r.joined_at
    if r.tier is not None and w.tier_id != r.tier.id:
        set_tier(session, r.customer_id, r.tier.id, actor_id=actor.id)
        rep.tier_changes += 1
    if not r.balance:
        return
    now = utcnow()
    try:
        p = open_journal(
            session,
            kind="adjust",
            customer_id=r.customer_id,
            source_type="import",
            source_id=r.key,
            reason="Opening balance (member import)",
            actor_id=actor.id,
            idem_key=f"member-import:{r.key}",
            req_hash=ledger.request_hash({"c": r.customer_id, "p": r.balance}),
            wallet_account=w,
            at=now,
        )
    except Replay:
        rep.replayed += 1
        return
    ledger.new_lot(p, r.balance, expires_at=ledger.default_expiry(session, now), qualifying=False)
    p.to_system("expense", -r.balance)
    p.commit()
    rep.posted += 1
    rep.points += r.balance


def import_members(
    session: Session, source: bytes | BinaryIO, name: str, *, actor: User
) -> ImportReport:
    """Import the file (see the module docstring); all rows or none."""
    require(actor, "loyalty:manage")
    require(actor, "loyalty:adjust")
    table = open_table(source, name)
    try:
        rows, ignored = _check(session, table)
    finally:
        table.close()
    rep = ImportReport(rows=len(rows), ignored_columns=ignored)
    errors: list[FieldError] = []
    sp = session.begin_nested()
    try:
        # One savepoint for the whole file (not one per row): any error undoes every row.
        for r in rows:
            try:
                _apply(session, r, rep, actor)
            except RetentoError as exc:
                # A refusal of the customer (``customer_id``, not a column of this file) names
                # the column that named it.
                col = (
                    "key"
                    if exc.field == "Idempotency-Key"
                    else r.column
                    if exc.field in (None, "customer_id")
                    else exc.field
                )
                message = (
                    "this key was imported before for another customer or balance"
                    if exc.field == "Idempotency-Key"
                    else exc.message
                )
                errors.append(FieldError(col, message, r.line))
        if errors:
            raise InvalidInput(
                Msg("%(n)s problem(s) in the file; nothing was imported.", n=len(errors)),
                errors=errors,
            )
    except BaseException:
        sp.rollback()
        raise
    from retento.audit.service import record

    record(session, actor, "import", "loyalty_members", None, None, rep.as_dict())
    return rep


EXPORT_HEADER = [
    "customer_external_id",
    "email",
    "customer_id",
    "tier",
    "joined_at",
    "balance",
    "debt",
    "last_activity_at",
]


EXPORT_FORMATS = ("csv", "xlsx")
EXPORT_NAME = "loyalty-members"
_BATCH = 2000


def member_batches(session: Session, actor: User) -> Iterator[list[list[Any]]]:
    """Members, oldest first, in batches of rows, the header alone first: the import's columns
    (balance is exported, not re-imported). A producer of ``dataio.downloads.download``, the
    one way every list is written as CSV (UTF-8 with BOM) or XLSX."""
    from retento.loyalty.models import LoyaltyAccount

    require(actor, "data:export")
    yield [list(EXPORT_HEADER)]
    stmt = (
        select(
            Customer.external_id,
            Customer.email,
            LoyaltyAccount.customer_id,
            LoyaltyTier.code,
            LoyaltyAccount.joined_at,
            LoyaltyAccount.balance,
            LoyaltyAccount.debt,
            LoyaltyAccount.last_activity_at,
        )
        .join(Customer, Customer.id == LoyaltyAccount.customer_id)
        .outerjoin(LoyaltyTier, LoyaltyTier.id == LoyaltyAccount.tier_id)
        .order_by(LoyaltyAccount.id)
        .execution_options(yield_per=_BATCH)
    )
    for part in session.execute(stmt).partitions():
        yield [list(r) for r in part]


def check_export_format(fmt: str) -> str:
    """``fmt`` if the member export can write it, else a 4xx naming the field."""
    if fmt not in EXPORT_FORMATS:
        # Named as the members page's buttons name the formats (the API keeps the codes).
        choices = [("csv", "CSV"), ("xlsx", "Excel")]
        raise choice_error("format", N_("File format"), choices).refuse()
    return fmt


def export_members(session: Session, *, actor: User, fmt: str = "csv"):
    """(content type, file name, body chunks) of the member export as a file (the CLI), written
    by the same writers as the web and API downloads (``member_batches``)."""
    from retento.dataio.downloads import XLSX_TYPE, xlsx_chunks
    from retento.dataio.exporter import csv_chunks

    require(actor, "data:export")
    check_export_format(fmt)
    batches = member_batches(session, actor)
    if fmt == "xlsx":
        tz = ZoneInfo(get_settings().timezone)
        return XLSX_TYPE, f"{EXPORT_NAME}.xlsx", xlsx_chunks(batches, "members", tz)
    return "text/csv; charset=utf-8", f"{EXPORT_NAME}.csv", csv_chunks(batches)
