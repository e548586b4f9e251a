"""Member club pages (客户组织): the clubs, a club's members and events, attendance.

The lists need ``loyalty:read``; founding a club and planning an event need ``loyalty:manage``;
adding a member and recording attendance need ``loyalty:redeem`` — the same permissions as the
JSON API, enforced by the service functions in ``clubs.py``. A refused or invalid form is shown
again with the message next to the field and nothing written (savepoint); the form helpers are
the configuration pages' (``config_pages``).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.auth.permissions import require
from retento.core.deps import DbSession
from retento.core.errors import InvalidInput, NotFound, RetentoError
from retento.core.types import ID_MAX
from retento.core.validation import DbId
from retento.customers.models import Customer
from retento.loyalty import clubs
from retento.loyalty.config_pages import _attempt, _clean, _errors, _parse_local, _status, _tiers
from retento.loyalty.models import (
    LoyaltyAttendance,
    LoyaltyClubEvent,
    LoyaltyClubMember,
    LoyaltyTier,
)
from retento.loyalty.schemas import ClubEventIn, ClubIn
from retento.web.forms import PageForm
from retento.web.render import PageUser, flash, form_errors, page_router, redirect, render, tr

router = page_router()


def _clubs_page(request, session, user, errors=None, values=None, status_code=200) -> Response:
    return render(
        request,
        "loyalty/clubs.html",
        status_code=status_code,
        clubs=clubs.list_clubs(session, actor=user),
        tiers=_tiers(session),
        errors=errors or {},
        f=values or {},
    )


@router.get("/loyalty/clubs")
def club_list(request: Request, session: DbSession, user: PageUser) -> Response:
    """Member clubs (客户组织), and a form to found one (managers)."""
    return _clubs_page(request, session, user)


@router.post("/loyalty/clubs")
def create_club(request: Request, form: PageForm, session: DbSession, user: PageUser) -> Response:
    require(user, "loyalty:manage")
    fields = ("name", "description", "min_tier_id")
    try:
        c = _attempt(
            session,
            lambda: clubs.create_club(session, ClubIn(**_clean(form, fields)), actor=user),
        )
    except (ValidationError, RetentoError) as exc:
        return _clubs_page(
            request, session, user, _errors(request, exc, fields), dict(form), _status(exc)
        )
    flash(request, tr(request, "Club created."))
    return redirect(request, f"/loyalty/clubs/{c.id}")


def _club_page(
    request, session, user, club_id: int, errors=None, values=None, status_code=200
) -> Response:
    require(user, "loyalty:read")
    club = clubs._club(session, club_id)
    members = session.execute(
        select(LoyaltyClubMember, Customer)
        .join(Customer, Customer.id == LoyaltyClubMember.customer_id)
        .where(LoyaltyClubMember.club_id == club.id)
        .order_by(Customer.name, Customer.id)
    ).all()
    return render(
        request,
        "loyalty/club.html",
        status_code=status_code,
        club=club,
        min_tier=session.get(LoyaltyTier, club.min_tier_id) if club.min_tier_id else None,
        members=members,
        events=clubs.list_events(session, club.id, actor=user),
        errors=errors or {},
        f=values or {},
    )


@router.get("/loyalty/clubs/{club_id:int}")
def club(request: Request, session: DbSession, user: PageUser, club_id: DbId) -> Response:
    """A club: its members, its events, forms to add a member and plan an event."""
    return _club_page(request, session, user, club_id)


def _find_customer(request: Request, session: Session, value: str, field: str) -> Customer:
    """A customer by customer number, or by id."""
    q = value.strip()
    if not q:
        raise InvalidInput(tr(request, "Enter a customer number."), field=field)
    c = session.scalar(select(Customer).where(Customer.external_id == q))
    if c is None and q.isdigit() and int(q) <= ID_MAX:
        c = session.get(Customer, int(q))
    if c is None:
        raise InvalidInput(tr(request, "No customer with this number."), field=field)
    return c


@router.post("/loyalty/clubs/{club_id:int}/members")
def add_member(
    request: Request, form: PageForm, session: DbSession, user: PageUser, club_id: DbId
) -> Response:
    require(user, "loyalty:redeem")
    clubs._club(session, club_id)
    try:
        c = _find_customer(request, session, str(form.get("customer") or ""), "customer")
        _attempt(session, lambda: clubs.join(session, club_id, c.id, actor=user))
    except RetentoError as exc:
        errs = form_errors(request, exc)
        if "customer_id" in errs:
            errs["customer"] = errs.pop("customer_id")
        return _club_page(
            request, session, user, club_id, errs, {"_what": "member", **dict(form)}, exc.status
        )
    flash(request, tr(request, "%(name)s joined the club.", name=c.name))
    return redirect(request, f"/loyalty/clubs/{club_id}")


@router.post("/loyalty/clubs/{club_id:int}/events")
def create_event(
    request: Request, form: PageForm, session: DbSession, user: PageUser, club_id: DbId
) -> Response:
    require(user, "loyalty:manage")
    clubs._club(session, club_id)
    fields = ("title", "starts_at", "location")
    try:
        data = _clean(form, fields)
        if "starts_at" in data:
            data["starts_at"] = _parse_local(request, data["starts_at"], "starts_at")
        e = _attempt(
            session,
            lambda: clubs.create_event(session, club_id, ClubEventIn(**data), actor=user),
        )
    except (ValidationError, RetentoError) as exc:
        return _club_page(
            request,
            session,
            user,
            club_id,
            _errors(request, exc, fields),
            {"_what": "event", **dict(form)},
            _status(exc),
        )
    flash(request, tr(request, "Event created."))
    return redirect(request, f"/loyalty/clubs/{club_id}/events/{e.id}")


def _event_page(
    request, session, user, club_id: int, event_id: int, errors=None, status_code=200
) -> Response:
    require(user, "loyalty:read")
    club = clubs._club(session, club_id)
    event = session.get(LoyaltyClubEvent, event_id) if 0 < event_id <= ID_MAX else None
    if event is None or event.club_id != club.id:
        raise NotFound("Club event", event_id)
    attended = session.execute(
        select(LoyaltyAttendance, Customer)
        .join(Customer, Customer.id == LoyaltyAttendance.customer_id)
        .where(LoyaltyAttendance.event_id == event.id)
        .order_by(Customer.name, Customer.id)
    ).all()
    seen = {a.customer_id for a, _ in attended}
    members = session.scalars(
        select(Customer)
        .join(LoyaltyClubMember, LoyaltyClubMember.customer_id == Customer.id)
        .where(LoyaltyClubMember.club_id == club.id)
        .order_by(Customer.name, Customer.id)
    ).all()
    return render(
        request,
        "loyalty/club_event.html",
        status_code=status_code,
        club=club,
        event=event,
        attended=attended,
        absent=[c for c in members if c.id not in seen],
        errors=errors or {},
    )


@router.get("/loyalty/clubs/{club_id:int}/events/{event_id:int}")
def club_event(
    request: Request, session: DbSession, user: PageUser, club_id: DbId, event_id: DbId
) -> Response:
    """An event: who attended, and the form to record attendance."""
    return _event_page(request, session, user, club_id, event_id)


@router.post("/loyalty/clubs/{club_id:int}/events/{event_id:int}/attendance")
def record_attendance(
    request: Request,
    form: PageForm,
    session: DbSession,
    user: PageUser,
    club_id: DbId,
    event_id: DbId,
) -> Response:
    """Record attendance: a touchpoint on the customer, and club-attendance points if a rule
    awards them (``clubs.attend``)."""
    require(user, "loyalty:redeem")
    _event_page(request, session, user, club_id, event_id)  # 404 for a foreign event
    raw = str(form.get("customer_id") or "").strip()
    try:
        if not raw.isdigit() or not 0 < int(raw) <= ID_MAX:
            raise InvalidInput(tr(request, "Choose a club member."), field="customer_id")
        _attempt(session, lambda: clubs.attend(session, event_id, int(raw), actor=user))
    except RetentoError as exc:
        errs = form_errors(request, exc)
        if isinstance(exc, InvalidInput) and exc.field == "customer_id" and raw.isdigit():
            errs["customer_id"] = tr(request, "The customer is not a member of this club.")
        return _event_page(request, session, user, club_id, event_id, errs, exc.status)
    flash(request, tr(request, "Attendance recorded."))
    return redirect(request, f"/loyalty/clubs/{club_id}/events/{event_id}")
