"""Loyalty API for member lists: the members list, import and export of members, a member's
pending (return-window) points and the "expiring soon" list with the notice state.

Registered before ``routes.py`` (app.API_ROUTERS) so ``/members/import`` and
``/members/export`` are not taken for a customer id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from pydantic import BaseModel
from sqlalchemy import func, select

from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.deps import CurrentUser, DbSession
from retento.core.errors import InvalidInput, Msg
from retento.core.validation import DbId, Limit, Offset
from retento.customers.models import Customer
from retento.dataio.downloads import download
from retento.loyalty import earning, ledger, members_io, service
from retento.loyalty.models import LoyaltyAccount, LoyaltyTier
from retento.loyalty.notices import notice_states

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])

MAX_UPLOAD = 50 * 1024 * 1024


class MemberRow(BaseModel):
    customer_id: int
    customer_external_id: str | None
    name: str
    tier: str | None
    balance: int
    joined_at: datetime


class MemberPage(BaseModel):
    total: int
    items: list[MemberRow]


class PendingRow(BaseModel):
    points: int
    available_at: datetime


class ExpiringRow(BaseModel):
    customer_id: int
    name: str
    points: int
    first_expiry: datetime
    # sent / queued / failed / cancelled / skipped (not e-mailable) or null (no notice yet)
    notice: str | None


class ImportRead(BaseModel):
    rows: int
    enrolled: int
    tier_changes: int
    posted: int
    replayed: int
    points: int
    ignored_columns: list[str]


def list_members(session, *, actor, tier: str | None, limit: int, offset: int):
    require(actor, "loyalty:read")
    stmt = (
        select(LoyaltyAccount, Customer.external_id, Customer.name)
        .join(Customer, Customer.id == LoyaltyAccount.customer_id)
        .order_by(LoyaltyAccount.id)
    )
    count = (
        select(func.count())
        .select_from(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id.is_not(None))
    )
    if tier:
        t = session.scalar(select(LoyaltyTier).where(LoyaltyTier.code == tier))
        if t is None:
            raise InvalidInput(Msg("Unknown tier '%(tier)s'.", tier=tier[:30]), field="tier")
        stmt = stmt.where(LoyaltyAccount.tier_id == t.id)
        count = count.where(LoyaltyAccount.tier_id == t.id)
    rows = [
        MemberRow(
            customer_id=a.customer_id,
            customer_external_id=ext,
            name=name,
            tier=a.tier.code if a.tier else None,
            balance=a.balance,
            joined_at=a.joined_at,
        )
        for a, ext, name in session.execute(stmt.limit(limit).offset(offset))
    ]
    return MemberPage(total=int(session.scalar(count) or 0), items=rows)


@router.get("/members", response_model=MemberPage)
def members(
    session: DbSession,
    user: CurrentUser,
    tier: str | None = Query(None, max_length=30),
    limit: Limit = 50,
    offset: Offset = 0,
):
    """Members, oldest first (optionally of one tier, by code)."""
    return list_members(session, actor=user, tier=tier, limit=limit, offset=offset)


@router.post("/members/import", response_model=ImportRead)
def import_members(session: DbSession, user: CurrentUser, file: UploadFile = File(...)):
    """CSV or XLSX of members (docs/loyalty.md "Member import"); all rows or none (422 with
    every row and column at fault); re-importing the same file posts no second journal."""
    try:
        data = file.file.read(MAX_UPLOAD + 1)
    finally:
        file.file.close()
    if len(data) > MAX_UPLOAD:
        raise InvalidInput("The file is larger than 50 MB.", field="file")
    return members_io.import_members(
        session, data, file.filename or "members.csv", actor=user
    ).as_dict()


@router.get("/members/export")
def export_members(request: Request, user: CurrentUser, format: Literal["csv", "xlsx"] = "csv"):
    """Members as CSV (UTF-8 with BOM) or XLSX, streamed (re-importable: the import ignores
    the balance columns)."""
    return download(
        request,
        user,
        members_io.member_batches,
        fmt=format,
        filename=members_io.EXPORT_NAME,
        sheet="members",
    )


@router.get("/members/{customer_id}/pending", response_model=list[PendingRow])
def pending(customer_id: DbId, session: DbSession, user: CurrentUser):
    """Points still in their return window: in the balance, not spendable before the time."""
    require(user, "loyalty:read")
    return [
        PendingRow(points=n, available_at=at) for n, at in earning.pending(session, customer_id)
    ]


@router.get("/expiring-soon", response_model=list[ExpiringRow])
def expiring_soon(
    session: DbSession,
    user: CurrentUser,
    days: int | None = Query(None, ge=0, le=3660),
    limit: Limit = 100,
):
    """Members with points expiring within ``days`` (default: the programme's setting), with
    the state of their "expiring soon" notice."""
    rows = service.expiring_soon(session, actor=user, days=days, limit=limit)
    now = utcnow()
    d = days if days is not None else ledger.programme(session).expiring_soon_days
    states = notice_states(session, [r[0] for r in rows], now, now + timedelta(days=d))
    return [
        ExpiringRow(customer_id=c, name=n, points=p, first_expiry=at, notice=states.get(c))
        for c, n, p, at in rows
    ]
