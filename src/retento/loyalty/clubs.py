"""Member clubs (客户组织): clubs, their events, and attendance (each attendance is a touchpoint)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import Conflict, InvalidInput, Msg, Named, NotFound
from retento.customers.guard import lock_customer
from retento.loyalty import ledger
from retento.loyalty.models import (
    LoyaltyAttendance,
    LoyaltyClub,
    LoyaltyClubEvent,
    LoyaltyClubMember,
    LoyaltyTier,
)
from retento.loyalty.schemas import ClubEventIn, ClubIn
from retento.web.i18n import N_, system_text


def list_clubs(session: Session, *, actor: User) -> list[LoyaltyClub]:
    require(actor, "loyalty:read")
    return list(session.scalars(select(LoyaltyClub).order_by(LoyaltyClub.name)))


def create_club(session: Session, data: ClubIn, *, actor: User) -> LoyaltyClub:
    require(actor, "loyalty:manage")
    if session.scalar(select(LoyaltyClub.id).where(LoyaltyClub.name == data.name)):
        raise Conflict(Msg("A club named '%(name)s' exists.", name=data.name), field="name")
    if data.min_tier_id is not None and session.get(LoyaltyTier, data.min_tier_id) is None:
        raise InvalidInput(
            Msg("Tier %(id)s does not exist.", id=data.min_tier_id), field="min_tier_id"
        )
    c = LoyaltyClub(**data.model_dump())
    session.add(c)
    session.flush()
    record(session, actor, "create", "loyalty_club", c.id, None, snapshot(c))
    return c


def _club(session: Session, club_id: int) -> LoyaltyClub:
    c = session.get(LoyaltyClub, club_id)
    if c is None:
        raise NotFound("Club", club_id)
    return c


def join(session: Session, club_id: int, customer_id: int, *, actor: User) -> LoyaltyClubMember:
    """Add a member to a club (members of the club's minimum tier and above)."""
    require(actor, "loyalty:redeem")
    club = _club(session, club_id)
    # First, before any other lock (``customers.guard``): a running merge is waited for, and a
    # customer merged into another is refused rather than made a member after its move.
    lock_customer(session, customer_id)
    w = ledger.get_wallet(session, customer_id)
    if w is None:
        raise InvalidInput(
            Msg("Customer %(id)s is not a loyalty member.", id=customer_id), field="customer_id"
        )
    if club.min_tier_id is not None:
        need = session.get(LoyaltyTier, club.min_tier_id)
        if need is not None and (w.tier is None or w.tier.rank < need.rank):
            raise Conflict(
                Msg(
                    "The club is for %(tier)s members and above.",
                    tier=Named(need.name, zh_CN=need.name_zh or ""),
                ),
                field="customer_id",
            )
    existing = session.scalar(
        select(LoyaltyClubMember).where(
            LoyaltyClubMember.club_id == club.id, LoyaltyClubMember.customer_id == customer_id
        )
    )
    if existing is not None:
        return existing
    m = LoyaltyClubMember(club_id=club.id, customer_id=customer_id)
    try:
        with session.begin_nested():
            session.add(m)
            session.flush()
    except IntegrityError:
        return session.scalars(
            select(LoyaltyClubMember).where(
                LoyaltyClubMember.club_id == club.id, LoyaltyClubMember.customer_id == customer_id
            )
        ).one()
    record(session, actor, "create", "loyalty_club_member", m.id, None, snapshot(m))
    return m


def create_event(
    session: Session, club_id: int, data: ClubEventIn, *, actor: User
) -> LoyaltyClubEvent:
    require(actor, "loyalty:manage")
    club = _club(session, club_id)
    e = LoyaltyClubEvent(club_id=club.id, **data.model_dump())
    session.add(e)
    session.flush()
    record(session, actor, "create", "loyalty_club_event", e.id, None, snapshot(e))
    return e


def list_events(session: Session, club_id: int, *, actor: User) -> list[LoyaltyClubEvent]:
    require(actor, "loyalty:read")
    return list(
        session.scalars(
            select(LoyaltyClubEvent)
            .where(LoyaltyClubEvent.club_id == club_id)
            .order_by(LoyaltyClubEvent.starts_at.desc())
        )
    )


def attend(session: Session, event_id: int, customer_id: int, *, actor: User) -> LoyaltyAttendance:
    """Record that a club member attended; recorded once, as a touchpoint on the customer."""
    require(actor, "loyalty:redeem")
    e = session.get(LoyaltyClubEvent, event_id)
    if e is None:
        raise NotFound("Club event", event_id)
    # As in ``join``: a merged duplicate (whose membership stayed behind because the survivor
    # was a member too) takes no attendance, touchpoint or points.
    lock_customer(session, customer_id)
    is_member = session.scalar(
        select(LoyaltyClubMember.id).where(
            LoyaltyClubMember.club_id == e.club_id, LoyaltyClubMember.customer_id == customer_id
        )
    )
    if is_member is None:
        raise InvalidInput("The customer is not a member of this club.", field="customer_id")
    existing = session.scalar(
        select(LoyaltyAttendance).where(
            LoyaltyAttendance.event_id == e.id, LoyaltyAttendance.customer_id == customer_id
        )
    )
    if existing is not None:
        return existing
    from retento.touchpoints.models import Touchpoint

    tp = Touchpoint(
        customer_id=customer_id,
        occurred_at=e.starts_at,
        channel="other",
        stage="after_sales",
        direction="inbound",
        outcome="positive",
        owner_id=actor.id,
        note=system_text(N_("Club event: %(title)s"), title=e.title),
    )
    a = LoyaltyAttendance(event_id=e.id, customer_id=customer_id)
    try:
        # A second click (or a retry) racing this one: the unique (event, customer) refuses
        # one of them; it answers with the attendance the other recorded (as when it is seen
        # above), not a 409, and its touchpoint goes with the savepoint.
        with session.begin_nested():
            session.add(tp)
            session.flush()
            a.touchpoint_id = tp.id
            session.add(a)
            session.flush()
    except IntegrityError:
        return session.scalars(
            select(LoyaltyAttendance).where(
                LoyaltyAttendance.event_id == e.id, LoyaltyAttendance.customer_id == customer_id
            )
        ).one()
    record(session, actor, "create", "loyalty_attendance", a.id, None, snapshot(a))
    from retento.loyalty.earning import award_event

    award_event(
        session,
        customer_id,
        "club_attendance",
        source_type="system",
        source_id=f"club-event-{e.id}-{customer_id}",
        actor_id=actor.id,
        at=e.starts_at,
    )
    return a
