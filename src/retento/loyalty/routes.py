"""Loyalty JSON API: programme configuration, members, redemption, holds, reports.

Redemptions, holds and adjustments accept an ``Idempotency-Key`` header: a retried request
returns the original result (same ids), never a second journal.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from fastapi import APIRouter, Request, Response

from retento.core.deps import CurrentUser, DbSession, IdempotencyKey
from retento.core.validation import DbId, Limit, Offset
from retento.core.versioning import IfMatch, parse_if_match, set_etag
from retento.loyalty import clubs, programme, reports, service, tiers
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal
from retento.loyalty.schemas import (
    AdjustIn,
    BatchIn,
    BatchRead,
    ClubEventIn,
    ClubEventRead,
    ClubIn,
    ClubRead,
    CustomerRef,
    EventIn,
    HoldIn,
    HoldRead,
    JournalRead,
    LiabilityRead,
    LotRead,
    MemberRead,
    ProgrammeRead,
    ProgrammeUpdate,
    RedeemIn,
    RedemptionRead,
    ReferralIn,
    ReverseIn,
    RewardIn,
    RewardRead,
    RuleIn,
    RuleRead,
    TierIn,
    TierRead,
    TierSet,
)

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])
# Journal ids are 64-bit on PostgreSQL (BigInteger): 1 ... 2**63-1; out of range answers 404.
LedgerId = Annotated[int, Ge(1), Le(2**63 - 1)]


@router.get("/programme", response_model=ProgrammeRead)
def get_programme(session: DbSession, user: CurrentUser, response: Response):
    p = programme.get_programme(session, actor=user)
    set_etag(response, p)
    return p


@router.patch("/programme", response_model=ProgrammeRead)
def update_programme(
    data: ProgrammeUpdate,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Change settings; a stale ``If-Match`` or ``version`` is 409 with nothing written."""
    p = programme.update_programme(
        session, data, actor=user, expected_version=parse_if_match(if_match)
    )
    set_etag(response, p)
    return p


@router.get("/tiers", response_model=list[TierRead])
def list_tiers(session: DbSession, user: CurrentUser):
    return programme.list_tiers(session, actor=user)


@router.post("/tiers", response_model=TierRead, status_code=201)
def create_tier(data: TierIn, session: DbSession, user: CurrentUser):
    return programme.save_tier(session, data, actor=user)


@router.put("/tiers/{tier_id}", response_model=TierRead)
def update_tier(
    tier_id: DbId,
    data: TierIn,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Replace a tier; a stale ``If-Match`` or ``version`` is 409 with nothing written."""
    t = programme.save_tier(
        session, data, actor=user, tier_id=tier_id, expected_version=parse_if_match(if_match)
    )
    set_etag(response, t)
    return t


@router.get("/rules", response_model=list[RuleRead])
def list_rules(session: DbSession, user: CurrentUser):
    return programme.list_rules(session, actor=user)


@router.post("/rules", response_model=RuleRead, status_code=201)
def create_rule(data: RuleIn, session: DbSession, user: CurrentUser):
    return programme.save_rule(session, data, actor=user)


@router.put("/rules/{rule_id}", response_model=RuleRead)
def update_rule(
    rule_id: DbId,
    data: RuleIn,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Replace an earning rule; a stale ``If-Match`` or ``version`` is 409, nothing written."""
    r = programme.save_rule(
        session, data, actor=user, rule_id=rule_id, expected_version=parse_if_match(if_match)
    )
    set_etag(response, r)
    return r


@router.get("/rewards", response_model=list[RewardRead])
def list_rewards(session: DbSession, user: CurrentUser):
    return programme.list_rewards(session, actor=user)


@router.post("/rewards", response_model=RewardRead, status_code=201)
def create_reward(data: RewardIn, session: DbSession, user: CurrentUser):
    return programme.save_reward(session, data, actor=user)


@router.put("/rewards/{reward_id}", response_model=RewardRead)
def update_reward(
    reward_id: DbId,
    data: RewardIn,
    session: DbSession,
    user: CurrentUser,
    response: Response,
    if_match: IfMatch = None,
):
    """Replace a reward; a stale ``If-Match`` or ``version`` (the stock moves with every
    redemption) is 409 with nothing written."""
    r = programme.save_reward(
        session, data, actor=user, reward_id=reward_id, expected_version=parse_if_match(if_match)
    )
    set_etag(response, r)
    return r


def _member_read(v, customer_id: DbId) -> MemberRead:
    w = v.wallet
    return MemberRead(
        customer_id=customer_id,
        balance=w.balance,
        available=v.available,
        debt=w.debt,
        held=v.held,
        tier=w.tier.code if w.tier else None,
        tier_since=w.tier_since,
        grace_until=w.grace_until,
        qualifying=v.qualifying,
        next_tier=v.next_tier.code if v.next_tier else None,
        to_next_tier=v.to_next,
        expiring_soon=v.expiring_soon,
        expiring_by=v.expiring_by,
        expiring_first=v.expiring.first if v.expiring else None,
        expiring_last=v.expiring.last if v.expiring else None,
    )


@router.get("/members/{customer_id}", response_model=MemberRead)
def get_member(customer_id: DbId, session: DbSession, user: CurrentUser):
    v = service.member_view(session, customer_id, actor=user)
    if v is None:
        from retento.core.errors import NotFound

        raise NotFound("Member", customer_id)
    return _member_read(v, customer_id)


@router.get("/members/{customer_id}/lots", response_model=list[LotRead])
def member_lots(customer_id: DbId, session: DbSession, user: CurrentUser, all: bool = False):
    return service.lots(session, customer_id, actor=user, open_only=not all)


@router.get("/members/{customer_id}/journals", response_model=list[JournalRead])
def member_journals(
    customer_id: DbId, session: DbSession, user: CurrentUser, limit: Limit = 50, offset: Offset = 0
):
    return [
        j for j, _n in service.history(session, customer_id, actor=user, limit=limit, offset=offset)
    ]


@router.post("/members/{customer_id}/redemptions", response_model=RedemptionRead, status_code=201)
def redeem(
    customer_id: DbId,
    data: RedeemIn,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    return service.redeem(
        session,
        customer_id,
        actor=user,
        points=data.points,
        reward_id=data.reward_id,
        order_id=data.order_id,
        note=data.note,
        idempotency_key=idempotency_key,
    )


@router.post("/members/{customer_id}/adjustments", response_model=JournalRead, status_code=201)
def adjust(
    customer_id: DbId,
    data: AdjustIn,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    return service.adjust(
        session,
        customer_id,
        data.points,
        actor=user,
        reason=data.reason,
        idempotency_key=idempotency_key,
        expires_at=data.expires_at,
    )


@router.post("/batch", response_model=BatchRead, status_code=201)
def post_batch(data: BatchIn, session: DbSession, user: CurrentUser):
    """Up to 1,000 earn / adjust / redeem operations in one transaction, each with its own
    idempotency ``key``; all or nothing (a bad item is a 422 naming ``items.<index>.<field>``)."""
    from retento.loyalty.batch import BatchOp
    from retento.loyalty.batch import post_batch as post

    res = post(
        session,
        [
            BatchOp(it.op, it.customer_id, it.points, it.key, it.reason, it.expires_at)
            for it in data.items
        ],
        actor=user,
    )
    fresh = sum(1 for r in res if not r.replayed)
    return {"posted": fresh, "replayed": len(res) - fresh, "items": [r.__dict__ for r in res]}


@router.put("/members/{customer_id}/tier", status_code=204)
def set_tier(customer_id: DbId, data: TierSet, session: DbSession, user: CurrentUser):
    from fastapi import Response

    from retento.auth.permissions import require

    require(user, "loyalty:manage")
    tiers.set_tier(session, customer_id, data.tier_id, actor_id=user.id)
    return Response(status_code=204)


@router.post("/members/{customer_id}/holds", response_model=HoldRead, status_code=201)
def reserve(
    customer_id: DbId,
    data: HoldIn,
    session: DbSession,
    user: CurrentUser,
    idempotency_key: IdempotencyKey = None,
):
    return service.reserve(
        session,
        customer_id,
        data.points,
        actor=user,
        reference=data.reference,
        idempotency_key=idempotency_key,
        minutes=data.minutes,
    )


@router.post("/holds/{hold_id}/confirm", response_model=HoldRead)
def confirm_hold(hold_id: DbId, session: DbSession, user: CurrentUser):
    return service.confirm_hold(session, hold_id, actor=user)


@router.post("/holds/{hold_id}/void", response_model=HoldRead)
def void_hold(hold_id: DbId, session: DbSession, user: CurrentUser):
    return service.void_hold(session, hold_id, actor=user)


@router.post("/events", response_model=JournalRead | None, status_code=201)
def award_event(data: EventIn, session: DbSession, user: CurrentUser):
    """Award an event (referral, birthday) by the event rules; once per (event, source_id)."""
    from retento.auth.permissions import require
    from retento.loyalty.earning import award_event as award

    require(user, "loyalty:adjust")
    src = {"referral": "referral", "birthday": "birthday", "survey_answered": "survey"}[data.event]
    return award(
        session,
        data.customer_id,
        data.event,
        source_type=src,
        source_id=data.source_id,
        actor_id=user.id,
    )


@router.post("/members/{customer_id}/referrals", response_model=JournalRead, status_code=201)
def record_referral(
    customer_id: DbId, data: ReferralIn, session: DbSession, user: CurrentUser, response: Response
):
    """The member referred ``referred_id``: the referral event rules award it, once per
    referred customer (a repeat by the same member answers 200 with the first award)."""
    from retento.loyalty.events import record_referral as record

    r = record(session, customer_id, data.referred_id, actor=user)
    if not r.created:
        response.status_code = 200
    return r.journal


@router.get("/journals/{journal_id}", response_model=JournalRead)
def get_journal(journal_id: LedgerId, session: DbSession, user: CurrentUser):
    from retento.auth.permissions import require
    from retento.core.errors import NotFound

    require(user, "loyalty:read")
    j = session.get(LoyaltyJournal, journal_id)
    if j is None:
        raise NotFound("Journal", journal_id)
    return j


@router.post("/journals/{journal_id}/reversal", response_model=JournalRead, status_code=201)
def reverse(journal_id: LedgerId, data: ReverseIn, session: DbSession, user: CurrentUser):
    return service.reverse(session, journal_id, actor=user, reason=data.reason)


@router.get("/liability", response_model=LiabilityRead)
def liability(session: DbSession, user: CurrentUser):
    return reports.liability(session, actor=user).__dict__


@router.get("/check")
def check(session: DbSession, user: CurrentUser):
    """Verify every account, journal and lot against the postings."""
    from retento.auth.permissions import require

    require(user, "loyalty:adjust")
    rep = check_ledger(session)
    return {
        "ok": rep.ok,
        "accounts": rep.accounts,
        "journals": rep.journals,
        "lots": rep.lots,
        "problems": rep.problems,
    }


@router.get("/export/{what}")
def export(what: str, request: Request, user: CurrentUser):
    """CSV export (UTF-8 with BOM, streamed): ``members``, ``postings`` or ``liability``."""
    from retento.auth.permissions import require
    from retento.core.errors import NotFound
    from retento.dataio.downloads import download

    if what not in reports.EXPORTS:
        raise NotFound("Export", what)
    if what == "liability":
        require(user, "loyalty:read")  # before the stream starts: a 403, not a broken file
    return download(
        request, user, reports.EXPORTS[what], fmt="csv", filename=f"loyalty-{what}", sheet=what
    )


@router.get("/clubs", response_model=list[ClubRead])
def list_clubs(session: DbSession, user: CurrentUser):
    return clubs.list_clubs(session, actor=user)


@router.post("/clubs", response_model=ClubRead, status_code=201)
def create_club(data: ClubIn, session: DbSession, user: CurrentUser):
    return clubs.create_club(session, data, actor=user)


@router.post("/clubs/{club_id}/members", status_code=201)
def join_club(club_id: DbId, data: CustomerRef, session: DbSession, user: CurrentUser):
    m = clubs.join(session, club_id, data.customer_id, actor=user)
    return {"club_id": m.club_id, "customer_id": m.customer_id}


@router.post("/clubs/{club_id}/events", response_model=ClubEventRead, status_code=201)
def create_club_event(club_id: DbId, data: ClubEventIn, session: DbSession, user: CurrentUser):
    return clubs.create_event(session, club_id, data, actor=user)


@router.post("/club-events/{event_id}/attendance", status_code=201)
def attend(event_id: DbId, data: CustomerRef, session: DbSession, user: CurrentUser):
    a = clubs.attend(session, event_id, data.customer_id, actor=user)
    return {"event_id": a.event_id, "customer_id": a.customer_id, "touchpoint_id": a.touchpoint_id}


# Loyalty measurement (types, index, satisfaction trap): GET /api/v1/loyalty/measurement.
from retento.loyalty.measure_routes import router as _measure_router  # noqa: E402

router.include_router(_measure_router)
