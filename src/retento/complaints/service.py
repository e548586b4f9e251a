"""Complaint state changes and queries: intake, workflow, assignment, timeline, remedies, SLAs."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import can, require
from retento.complaints import sla, workflow
from retento.complaints.models import (
    BusinessCalendarRow,
    Complaint,
    ComplaintAttachment,
    ComplaintCategory,
    ComplaintEvent,
    ComplaintNotification,
    ImprovementAction,
    Remedy,
    SlaPause,
    SlaPolicy,
)
from retento.complaints.policies import DEFAULT_VALUE_CLASS, PolicyRule, select_policy
from retento.complaints.schemas import (
    AssignIn,
    CalendarIn,
    CategoryCreate,
    CategoryUpdate,
    ComplaintCreate,
    ComplaintUpdate,
    FollowUpIn,
    ImprovementCreate,
    ImprovementUpdate,
    NoteIn,
    PublicComplaintIn,
    RemedyCreate,
    SlaPolicyIn,
    SlaPolicyUpdate,
    SurveyAnswerIn,
    TransitionIn,
)
from retento.complaints.sla_classes import provided_class
from retento.core.db import utcnow
from retento.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RetentoError
from retento.core.hooks import emit
from retento.core.locking import lock_row
from retento.core.money import ZERO
from retento.core.pagination import apply_sort, paginate
from retento.core.validation import content_matches_type
from retento.core.versioning import lock_for_edit
from retento.customers.models import Contact, Customer
from retento.customers.service import can_change_customer

SORTABLE = {
    "id": Complaint.id,
    "received_at": Complaint.received_at,
    "severity": Complaint.severity,
    "status": Complaint.status,
    "first_response_due_at": Complaint.first_response_due_at,
}
DUE_SORTS = {"due", "-due", "resolution_due_at", "-resolution_due_at"}

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 10
ATTACHMENT_TYPES = {
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".log"),
}
LOW_CSAT = 2  # a follow-up answer at or below this reopens the complaint


# --- small helpers -----------------------------------------------------------------------------


def _actor_name(actor: User | None) -> str:
    return actor.username if actor else "system"


def complaint_snapshot(c: Complaint) -> dict:
    return snapshot(c)


def _event(
    session: Session,
    c: Complaint,
    kind: str,
    actor: User | None,
    body: str | None = None,
    *,
    internal: bool = True,
    data: dict | None = None,
    at: datetime | None = None,
) -> ComplaintEvent:
    ev = ComplaintEvent(
        complaint_id=c.id,
        customer_id=c.customer_id,
        at=at or utcnow(),
        kind=kind,
        internal=internal,
        actor_id=actor.id if actor else None,
        actor_name=_actor_name(actor),
        body=body,
        data=data,
    )
    session.add(ev)
    return ev


def new_tracking_code() -> str:
    """``RC-`` plus 10 unambiguous characters (about 50 bits: not guessable)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "RC-" + "".join(secrets.choice(alphabet) for _ in range(10))


def _check_user(session: Session, user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    u = session.get(User, user_id)
    if u is None or not u.is_active:
        raise InvalidInput(f"User {user_id} does not exist or is inactive.", field=field)
    return u


def _check_ref(session: Session, model: type, key: int | None, field: str) -> None:
    if key is not None and session.get(model, key) is None:
        raise InvalidInput(f"{model.__name__} {key} does not exist.", field=field)


def category_by_code(session: Session, code: str) -> ComplaintCategory | None:
    return session.scalar(select(ComplaintCategory).where(ComplaintCategory.code == code))


def category_offered(session: Session, cat: ComplaintCategory | None) -> bool:
    """A category new complaints may use: it and every category above it are active."""
    seen: set[int] = set()
    while cat is not None and cat.id not in seen:
        if not cat.is_active:
            return False
        seen.add(cat.id)
        cat = session.get(ComplaintCategory, cat.parent_id) if cat.parent_id else None
    return cat is None


def _resolve_category(session: Session, category_id: int | None, code: str | None) -> int:
    if category_id is not None:
        cat = session.get(ComplaintCategory, category_id)
        if cat is None:
            raise InvalidInput(f"Category {category_id} does not exist.", field="category_id")
        if not category_offered(session, cat):
            raise InvalidInput(
                f"Category {cat.code} is deactivated; choose another.", field="category_id"
            )
        return cat.id
    cat = category_by_code(session, (code or "").strip().lower())
    if cat is None or not category_offered(session, cat):
        raise InvalidInput(f"Unknown complaint category '{code}'.", field="category")
    return cat.id


def customer_value_class(session: Session, customer_id: int) -> str:
    """The customer's class in the latest scoring run (``ordinary`` if never scored)."""
    from retento.scoring.models import CustomerScore
    from retento.scoring.service import latest_run

    run = latest_run(session)
    if run is None:
        return DEFAULT_VALUE_CLASS
    cls = session.scalar(
        select(CustomerScore.value_class).where(
            CustomerScore.run_id == run.id, CustomerScore.customer_id == customer_id
        )
    )
    return cls or DEFAULT_VALUE_CLASS


# --- permissions -------------------------------------------------------------------------------


def can_work(actor: User, c: Complaint) -> bool:
    """Admins and managers work any complaint; agents those assigned to them or their customers'."""
    if not can(actor, "complaint:update"):
        return False
    if actor.role in ("admin", "manager"):
        return True
    return c.assignee_id == actor.id or can_change_customer(actor, c.customer)


def require_work(actor: User, c: Complaint) -> None:
    require(actor, "complaint:update")
    if not can_work(actor, c):
        raise Forbidden(
            f"Agent '{actor.username}' is neither assigned to complaint {c.id} "
            f"nor owns customer {c.customer_id}."
        )


# --- SLA ---------------------------------------------------------------------------------------


def calendar_of(row: BusinessCalendarRow) -> sla.BusinessCalendar:
    return sla.BusinessCalendar.from_spec(row.timezone, row.hours, row.holidays, row.name)


def _rule(p: SlaPolicy) -> PolicyRule:
    return PolicyRule(
        id=p.id,
        name=p.name,
        first_response=timedelta(minutes=p.first_response_minutes),
        resolution=timedelta(minutes=p.resolution_minutes),
        severity=p.severity,
        value_class=p.value_class,
        priority=p.priority,
        is_active=p.is_active,
    )


def sla_class(session: Session, c: Complaint) -> str:
    """The class the SLA policy is chosen for: a registered provider's (a loyalty member's tier
    SLA class, ``sla_classes``) when one answers, else the complaint's value class."""
    return provided_class(session, c.customer_id) or c.value_class


def choose_policy(session: Session, severity: int, value_class: str) -> SlaPolicy | None:
    """The SLA policy for a complaint (precedence in ``policies``)."""
    rows = session.scalars(select(SlaPolicy).where(SlaPolicy.is_active.is_(True))).all()
    rule = select_policy([_rule(p) for p in rows], severity, value_class)
    return None if rule is None else next(p for p in rows if p.id == rule.id)


def _resolution_pauses(c: Complaint) -> list[sla.Pause]:
    return [
        sla.Pause(p.started_at, p.ended_at) for p in c.pauses if p.started_at >= c.clock_started_at
    ]


def refresh_sla(session: Session, c: Complaint, *, reselect: bool = True) -> None:
    """Recompute due and warning times from the policy, calendar, pauses and current severity."""
    policy = choose_policy(session, c.severity, sla_class(session, c)) if reselect else c.sla_policy
    c.sla_policy = policy
    if policy is None:
        c.first_response_due_at = c.first_response_warn_at = None
        c.resolution_due_at = c.resolution_warn_at = None
        return
    cal = calendar_of(policy.calendar)
    fr = timedelta(minutes=policy.first_response_minutes)
    c.first_response_due_at = cal.add(c.received_at, fr)
    c.first_response_warn_at = cal.add(c.received_at, fr * policy.warn_fraction)
    if workflow.is_open(c.status):
        res = timedelta(minutes=policy.resolution_minutes)
        pauses = _resolution_pauses(c)
        c.resolution_due_at = sla.due_at(cal, c.clock_started_at, res, pauses)
        c.resolution_warn_at = sla.due_at(
            cal, c.clock_started_at, res * policy.warn_fraction, pauses
        )


def sla_status(session: Session, c: Complaint, now: datetime | None = None) -> dict:
    """Both clocks' state, elapsed fraction and due time, for pages and the API."""
    now = now or utcnow()
    policy = c.sla_policy
    if policy is None:
        return {"policy": None}
    cal = calendar_of(policy.calendar)
    fr = sla.SlaClock(
        c.received_at,
        timedelta(minutes=policy.first_response_minutes),
        warn_fraction=policy.warn_fraction,
    )
    if c.first_responded_at:
        fr = fr.stop(c.first_responded_at)
    res = sla.SlaClock(
        c.clock_started_at,
        timedelta(minutes=policy.resolution_minutes),
        tuple(_resolution_pauses(c)),
        warn_fraction=policy.warn_fraction,
    )
    if c.resolved_at and not workflow.is_open(c.status):
        res = res.stop(c.resolved_at)
    return {
        "policy": policy.name,
        "calendar": policy.calendar.name,
        "first_response": {
            "due_at": fr.due(cal),
            "state": fr.state(cal, now),
            "fraction": round(fr.fraction(cal, now), 3),
        },
        "resolution": {
            "due_at": res.due(cal),
            "state": res.state(cal, now),
            "fraction": round(res.fraction(cal, now), 3),
        },
    }


# --- intake ------------------------------------------------------------------------------------


def _check_external_id(
    session: Session, external_id: str | None, own_id: int | None = None
) -> None:
    if external_id is None:
        return
    other = session.scalar(select(Complaint.id).where(Complaint.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            f"external_id '{external_id}' is already used by complaint {other}.",
            field="external_id",
        )


# Complaints from these sources get the intake acknowledgement e-mail (imports and the demo
# record history and do not).
ACKNOWLEDGED_SOURCES = ("agent", "api", "public_form")


def create_complaint(
    session: Session, data: ComplaintCreate, *, actor: User | None, source: str = "agent"
) -> Complaint:
    """Record a complaint or grumble, pick its SLA policy and compute the due times."""
    if actor is not None:
        require(actor, "complaint:create")
    customer = session.get(Customer, data.customer_id)
    if customer is None:
        raise InvalidInput(f"Customer {data.customer_id} does not exist.", field="customer_id")
    if actor is not None and actor.role == "agent" and data.assignee_id not in (None, actor.id):
        # Agents take complaints from anyone (they answer the phone) but assign only to themselves.
        require(actor, "complaint:assign")
    category_id = _resolve_category(session, data.category_id, data.category)
    _check_ref(session, _order_model(), data.order_id, "order_id")
    _check_ref(session, _product_model(), data.product_id, "product_id")
    if data.order_id is not None:
        order = session.get(_order_model(), data.order_id)
        if order.customer_id != customer.id:
            raise InvalidInput(
                f"Order {data.order_id} belongs to another customer.", field="order_id"
            )
    assignee = _check_user(session, data.assignee_id, "assignee_id")
    if assignee is not None and assignee.role not in ("admin", "manager", "agent"):
        raise InvalidInput("Complaints are assigned to agents or managers.", field="assignee_id")
    _check_user(session, data.team_manager_id, "team_manager_id")
    _check_external_id(session, data.external_id)
    now = utcnow()
    received = data.received_at or now
    if received > now + timedelta(minutes=5):
        raise InvalidInput("received_at lies in the future.", field="received_at")
    assignee_id = data.assignee_id
    if assignee_id is None and actor is not None and actor.role == "agent":
        assignee_id = actor.id
    team = data.team_manager_id
    if team is None and assignee_id is not None:
        team = (assignee or actor).manager_id if (assignee or actor) else None
    c = Complaint(
        external_id=data.external_id,
        tracking_code=new_tracking_code(),
        customer_id=customer.id,
        kind=data.kind,
        channel=data.channel,
        category_id=category_id,
        root_cause=(data.root_cause or None) and data.root_cause.strip().lower(),
        subject=data.subject.strip(),
        description=data.description,
        order_id=data.order_id,
        product_id=data.product_id,
        severity=data.severity,
        emotion=data.emotion,
        purposes=list(data.purposes),
        status="accepted",
        assignee_id=assignee_id,
        team_manager_id=team,
        value_class=customer_value_class(session, customer.id),
        received_at=received,
        clock_started_at=received,
        contact_name=data.contact_name,
        contact_email=data.contact_email,
        contact_phone=data.contact_phone,
        created_by_id=actor.id if actor else None,
    )
    c.customer = customer
    session.add(c)
    refresh_sla(session, c)
    session.flush()
    _event(
        session,
        c,
        "created",
        actor,
        c.subject,
        data={"channel": c.channel, "kind": c.kind, "source": source, "severity": c.severity},
        at=received,
    )
    if assignee_id is not None:
        _event(session, c, "assignment", actor, data={"assignee_id": assignee_id, "team": team})
    record(session, actor, "create", "complaint", c.id, None, complaint_snapshot(c))
    if source in ACKNOWLEDGED_SOURCES:
        from retento.complaints.emails import queue_acknowledgement

        queue_acknowledgement(session, c, actor=actor, now=now)
        if source != "public_form":  # submit_public emits once its owner is assigned
            emit("complaint.created", session, complaint=c, actor=actor)
    return c


def _order_model():
    from retento.orders.models import Order

    return Order


def _product_model():
    from retento.products.models import Product

    return Product


def _customer_for_public(
    session: Session, data: PublicComplaintIn, locale: str | None = None
) -> Customer:
    email = data.email.strip().lower()
    customer = session.scalar(
        select(Customer).where(func.lower(Customer.email) == email).order_by(Customer.id).limit(1)
    )
    if customer is None:
        customer = session.scalar(
            select(Customer)
            .join(Contact, Contact.customer_id == Customer.id)
            .where(func.lower(Contact.email) == email)
            .order_by(Customer.id)
            .limit(1)
        )
    if customer is None:
        customer = Customer(
            name=data.name.strip(),
            name_key=data.name.strip().lower(),
            email=email,
            phone=data.phone,
            party_type="person",
            kind="consumer",
            # The form's language: the acknowledgement and later mail are written in it.
            custom_fields={"source": "public_complaint_form"}
            | ({"language": locale} if locale else {}),
        )
        session.add(customer)
        session.flush()
        record(session, None, "create", "customer", customer.id, None, snapshot(customer))
    return customer


def submit_public(
    session: Session, data: PublicComplaintIn, *, locale: str | None = None
) -> Complaint:
    """A complaint from the public web form (no login); the honeypot must be empty."""
    if data.website:
        raise InvalidInput("The form could not be accepted.", field="website")
    customer = _customer_for_public(session, data, locale)
    category = category_by_code(session, data.category.strip().lower())
    if category is None or not category_offered(session, category):
        raise InvalidInput(f"Unknown complaint category '{data.category}'.", field="category")
    description = data.description
    if data.order_reference:
        description += f"\n\nOrder reference: {data.order_reference}"
    create = ComplaintCreate(
        customer_id=customer.id,
        kind="complaint",
        channel="web_form",
        category_id=category.id,
        subject=data.subject,
        description=description,
        purposes=data.purposes,
        contact_name=data.name,
        contact_email=data.email.strip().lower(),
        contact_phone=data.phone,
        severity=1,
    )
    c = create_complaint(session, create, actor=None, source="public_form")
    if customer.owner_id is not None:
        owner = session.get(User, customer.owner_id)
        if owner is not None and owner.is_active and owner.role in ("agent", "manager", "admin"):
            c.assignee_id = owner.id
            c.team_manager_id = owner.manager_id
            _event(session, c, "assignment", None, data={"assignee_id": owner.id, "auto": True})
            session.flush()
    emit("complaint.created", session, complaint=c, actor=None)
    return c


# --- reading -----------------------------------------------------------------------------------


def get_complaint(session: Session, complaint_id: int, *, actor: User) -> Complaint:
    require(actor, "complaint:read")
    c = session.get(Complaint, complaint_id)
    if c is None:
        raise NotFound("Complaint", complaint_id)
    return c


def lock_complaint(session: Session, complaint_id: int) -> Complaint:
    """The complaint, its row locked until the transaction ends and its state read fresh.

    Every state change (transition, assignment, note, remedy, follow-up) starts here, so two
    requests on one complaint run one after the other and the second decides on what the first
    committed: of 20 parallel ``start`` requests one moves the complaint, 19 get 409.
    """
    c = lock_row(session, Complaint, complaint_id)
    if c is None:
        raise NotFound("Complaint", complaint_id)
    return c


def detail(session: Session, c: Complaint) -> dict:
    """A complaint with its timeline, remedies, attachments, allowed actions and SLA state."""
    from retento.complaints.schemas import ComplaintRead

    return {
        **ComplaintRead.model_validate(c).model_dump(),
        "allowed_actions": workflow.allowed_actions(c.status),
        "sla": sla_status(session, c),
        "events": list(c.events),
        "remedies": list(c.remedies),
        "attachments": list(c.attachments),
    }


def get_by_tracking_code(session: Session, code: str) -> Complaint:
    c = session.scalar(select(Complaint).where(Complaint.tracking_code == code.strip().upper()))
    if c is None:
        raise NotFound("Complaint", code, field="tracking_code")
    return c


def get_by_external_id(session: Session, external_id: str) -> Complaint | None:
    return session.scalar(select(Complaint).where(Complaint.external_id == external_id))


def public_status(session: Session, code: str) -> dict:
    """What the customer may see: status, dates and the non-internal timeline."""
    c = get_by_tracking_code(session, code)
    events = []
    for e in c.events:
        if e.kind == "transition":
            events.append({"at": e.at, "kind": "status", "body": (e.data or {}).get("to")})
        elif e.kind == "created":
            events.append({"at": e.at, "kind": "received", "body": None})
        elif not e.internal:
            events.append({"at": e.at, "kind": e.kind, "body": e.body})
    return {
        "tracking_code": c.tracking_code,
        "subject": c.subject,
        "status": c.status,
        "received_at": c.received_at,
        "updated_at": c.updated_at,
        "resolved_at": c.resolved_at,
        "events": events,
        "survey_open": c.followup_token is not None and c.survey_answered_at is None,
    }


def team_lead_for(user: User) -> int:
    """Whose team a user looks at: a manager their own, anyone else their manager's."""
    if user.role in ("manager", "admin") or user.manager_id is None:
        return user.id
    return user.manager_id


def complaint_filter(
    *,
    status: str | None = None,
    open_only: bool = False,
    customer_id: int | None = None,
    assignee_id: int | None = None,
    mine_for: User | None = None,
    team_for: User | None = None,
    breaching_soon: datetime | None = None,
    severity: int | None = None,
    category_id: int | None = None,
    channel: str | None = None,
    kind: str | None = None,
    flagged: bool | None = None,
    q: str | None = None,
) -> Select:
    """The complaint list query before sorting; shared by the API, the queue page and export."""
    stmt = select(Complaint)
    if status:
        if status not in workflow.STATES:
            raise InvalidInput(f"Unknown status '{status}'.", field="status")
        stmt = stmt.where(Complaint.status == status)
    if open_only or breaching_soon is not None:
        stmt = stmt.where(open_condition())
    if customer_id is not None:
        stmt = stmt.where(Complaint.customer_id == customer_id)
    if assignee_id is not None:
        stmt = stmt.where(Complaint.assignee_id == assignee_id)
    if mine_for is not None:
        stmt = stmt.where(Complaint.assignee_id == mine_for.id)
    if team_for is not None:
        # Assignment copies the assignee's manager into team_manager_id, so one indexed column
        # answers "my team's complaints".
        stmt = stmt.where(Complaint.team_manager_id == team_lead_for(team_for))
    if breaching_soon is not None:
        # next_warn_at is the earliest warning of a running clock (models.next_warning): one
        # indexed range instead of an OR over the first-response and resolution clocks.
        stmt = stmt.where(Complaint.next_warn_at <= breaching_soon)
    if severity is not None:
        stmt = stmt.where(Complaint.severity == severity)
    if category_id is not None:
        stmt = stmt.where(Complaint.category_id == category_id)
    if channel:
        stmt = stmt.where(Complaint.channel == channel)
    if kind:
        stmt = stmt.where(Complaint.kind == kind)
    if flagged is not None:
        stmt = stmt.where(Complaint.flagged.is_(flagged))
    if q:
        text = q.strip()
        conds = [Complaint.tracking_code == text.upper(), Complaint.external_id == text]
        if text.isdigit():
            conds.append(Complaint.id == int(text))
        stmt = stmt.where(or_(*conds))
    return stmt


def sort_complaints(stmt: Select, sort: str | None) -> Select:
    """Whitelisted sorting; ``due`` puts paused complaints (no due time) last on every backend."""
    if sort in DUE_SORTS:
        col = Complaint.resolution_due_at
        order = col.desc() if sort.startswith("-") else col.asc()
        return stmt.order_by(order.nulls_last(), Complaint.id)
    return apply_sort(stmt, sort, SORTABLE, Complaint.id.desc())


def open_condition() -> ColumnElement[bool]:
    """``status IN (open states)`` with the states inlined as SQL literals.

    Inlined, not bound: PostgreSQL only uses the partial queue indexes (``WHERE status IN
    (...)``) when it can prove the predicate, which a generic plan for a prepared statement with
    bound parameters cannot.
    """
    return Complaint.status.in_(
        bindparam("open_states", list(workflow.OPEN_STATES), expanding=True, literal_execute=True)
    )


def list_complaints(
    session: Session,
    *,
    actor: User,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    count: bool = True,
    with_people: bool = False,
    **filters,
):
    """A filtered, sorted page of complaints.

    ``with_people`` loads each row's customer name and assignee in two extra queries (for pages
    that show them) instead of one lazy load per row.
    """
    require(actor, "complaint:read")
    stmt = sort_complaints(complaint_filter(**filters), sort)
    if with_people:
        stmt = stmt.options(
            selectinload(Complaint.customer)
            .load_only(Customer.id, Customer.name)
            .lazyload(Customer.owner),
            selectinload(Complaint.assignee),
        )
    return paginate(session, stmt, limit=limit, offset=offset, count=count)


def customer_timeline(session: Session, customer_id: int, *, actor: User, limit: int = 200):
    """Complaint events of one customer, newest first (the customer 360 timeline)."""
    require(actor, "complaint:read")
    return session.scalars(
        select(ComplaintEvent)
        .where(ComplaintEvent.customer_id == customer_id)
        .order_by(ComplaintEvent.at.desc(), ComplaintEvent.id.desc())
        .limit(limit)
    ).all()


# --- changes -----------------------------------------------------------------------------------


# Short coded values worth repeating on the timeline (free text is named, not copied).
EDIT_SHOWN = ("kind", "channel", "category_id", "emotion", "purposes", "order_id", "product_id")


def update_complaint(
    session: Session,
    complaint_id: int,
    data: ComplaintUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Complaint:
    """Edit intake fields; a severity change re-selects the policy and recomputes due times.

    Changed fields go on the timeline (``edited``, internal) and into the audit log; a severity
    change also gets its own ``severity`` event with the new due times.
    """
    c = get_complaint(session, complaint_id, actor=actor)
    require_work(actor, c)
    lock_for_edit(session, c, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for key in ("subject", "description", "kind", "channel", "emotion", "severity", "category_id"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be empty.", field=key)
    if "purposes" in changes and changes["purposes"] is None:
        changes["purposes"] = []
    before = complaint_snapshot(c)
    if "category_id" in changes and changes["category_id"] != c.category_id:
        # A complaint keeps a category deactivated after intake; only a new one must be active.
        _resolve_category(session, changes["category_id"], None)
    if "order_id" in changes:
        _check_ref(session, _order_model(), changes["order_id"], "order_id")
    if "product_id" in changes:
        _check_ref(session, _product_model(), changes["product_id"], "product_id")
    if "root_cause" in changes and changes["root_cause"]:
        changes["root_cause"] = changes["root_cause"].strip().lower()
    old_severity = c.severity
    changed = sorted(k for k, v in changes.items() if getattr(c, k) != v)
    if not changed:
        return c
    for key, value in changes.items():
        setattr(c, key, value)
    edited = [k for k in changed if k != "severity"]
    if edited:
        _event(
            session,
            c,
            "edited",
            actor,
            data={"fields": edited, **{k: changes[k] for k in edited if k in EDIT_SHOWN}},
        )
    if c.severity != old_severity:
        refresh_sla(session, c)
        _event(
            session,
            c,
            "severity",
            actor,
            data={
                "from": old_severity,
                "to": c.severity,
                "policy": c.sla_policy.name if c.sla_policy else None,
                "first_response_due_at": c.first_response_due_at.isoformat()
                if c.first_response_due_at
                else None,
                "resolution_due_at": c.resolution_due_at.isoformat()
                if c.resolution_due_at
                else None,
            },
        )
        # A longer target may take a clock back below its warning level.
        now = utcnow()
        if c.resolution_warn_at is not None and c.resolution_warn_at > now:
            c.sla_flag = "ok"
        if c.first_response_warn_at is not None and c.first_response_warn_at > now:
            c.first_response_flag = "ok"
    session.flush()
    record(session, actor, "update", "complaint", c.id, before, complaint_snapshot(c))
    return c


def _mark_first_response(c: Complaint, at: datetime) -> None:
    if c.first_responded_at is None:
        c.first_responded_at = at
        if c.first_response_due_at is not None and at > c.first_response_due_at:
            c.first_response_breached = True


def apply_transition(
    session: Session,
    complaint_id: int,
    data: TransitionIn,
    *,
    actor: User | None,
    at: datetime | None = None,
) -> Complaint:
    """Move the complaint through its workflow; the SLA clock pauses, resumes, stops or restarts.

    The state is checked under the complaint's row lock: a second request for the same move
    waits, then finds the new state and gets 409.
    """
    c = lock_complaint(session, complaint_id)
    if actor is not None:
        require(actor, "complaint:read")
        require_work(actor, c)
    t = workflow.transition(c.status, data.action)
    now = at or utcnow()
    before = complaint_snapshot(c)
    old = c.status
    if data.action == "resolve":
        if not (data.note and data.note.strip()):
            raise InvalidInput("Resolving needs the feedback given to the customer.", field="note")
        c.feedback = data.note.strip()
    if t.clock == "pause":
        c.pauses.append(SlaPause(started_at=now))
        c.paused_since = now
        _mark_first_response(c, now)
    elif t.clock in ("resume", "stop") and c.paused_since is not None:
        for p in c.pauses:
            if p.ended_at is None:
                p.ended_at = max(now, p.started_at)
        c.paused_since = None
    if t.clock == "stop":
        c.resolved_at = now
        c.first_resolved_at = c.first_resolved_at or now
        _mark_first_response(c, now)
        if c.resolution_due_at is not None and now > c.resolution_due_at:
            c.resolution_breached = True
        c.followup_token = secrets.token_urlsafe(24)
        c.survey_answered_at = None
        # The follow-up is set up below, once the resolution text is on the complaint.
    if data.action == "close":
        c.closed_at = now
    if t.clock == "restart":
        c.reopen_count += 1
        c.clock_started_at = now
        c.resolved_at = None
        c.closed_at = None
        c.sla_flag = "ok"
        c.flagged = False
        c.won_back = None
    c.status = t.target
    session.flush()
    if t.clock in ("pause", "resume", "restart"):
        refresh_sla(session, c, reselect=t.clock == "restart")
    _event(
        session,
        c,
        "transition",
        actor,
        data.note,
        internal=data.action not in ("resolve",),
        data={"from": old, "to": t.target, "action": data.action},
        at=now,
    )
    if data.action == "resolve":
        _event(session, c, "feedback", actor, c.feedback, internal=False, at=now)
    if t.clock == "stop":
        # Transactional: the resolution and follow-up link go to every complainant with an
        # address, consent or not (docs/mail.md).
        from retento.complaints.emails import queue_complaint_followup

        queue_complaint_followup(session, c, actor=actor, now=now)
    session.flush()
    record(session, actor, "update", "complaint", c.id, before, complaint_snapshot(c))
    return c


def assign(session: Session, complaint_id: int, data: AssignIn, *, actor: User | None) -> Complaint:
    """Assign or reassign to an agent and/or a team (a manager and their reports)."""
    c = lock_complaint(session, complaint_id)
    if actor is not None:
        self_assign = actor.role == "agent" and data.assignee_id == actor.id and can_work(actor, c)
        if not self_assign:
            require(actor, "complaint:assign")
    assignee = _check_user(session, data.assignee_id, "assignee_id")
    if assignee is not None and assignee.role not in ("admin", "manager", "agent"):
        raise InvalidInput("Complaints are assigned to agents or managers.", field="assignee_id")
    _check_user(session, data.team_manager_id, "team_manager_id")
    before = complaint_snapshot(c)
    old = {"assignee_id": c.assignee_id, "team_manager_id": c.team_manager_id}
    c.assignee_id = data.assignee_id
    c.team_manager_id = data.team_manager_id or (assignee.manager_id if assignee else None)
    if old == {"assignee_id": c.assignee_id, "team_manager_id": c.team_manager_id}:
        return c
    _event(
        session,
        c,
        "assignment",
        actor,
        data.note,
        data={"from": old, "assignee_id": c.assignee_id, "team_manager_id": c.team_manager_id},
    )
    session.flush()
    record(session, actor, "update", "complaint", c.id, before, complaint_snapshot(c))
    emit("complaint.assigned", session, complaint=c, actor=actor)
    return c


def add_note(
    session: Session, complaint_id: int, data: NoteIn, *, actor: User | None
) -> ComplaintEvent:
    """An internal note, a message to the customer, or the customer's reply (resumes the clock)."""
    c = lock_complaint(session, complaint_id)
    if actor is not None:
        require_work(actor, c)
    now = utcnow()
    if data.kind == "message":
        _mark_first_response(c, now)
    ev = _event(session, c, data.kind, actor, data.body, internal=data.kind == "note", at=now)
    session.flush()
    if data.kind == "message":
        from retento.complaints.emails import queue_message

        queue_message(session, c, ev, actor=actor, now=now)
    if data.kind == "customer_reply" and c.status == "awaiting_customer":
        apply_transition(session, c.id, TransitionIn(action="customer_replied"), actor=None, at=now)
    record(session, actor, "create", "complaint_event", ev.id, None, snapshot(ev))
    if data.kind == "customer_reply":
        emit("complaint.customer_replied", session, complaint=c, reply=ev, actor=actor)
    return ev


def public_reply(session: Session, code: str, body: str) -> ComplaintEvent:
    """The customer answers through the status page."""
    c = lock_complaint(session, get_by_tracking_code(session, code).id)
    if c.status == "closed":
        raise Conflict("This complaint is closed; submit a new one.", field="tracking_code")
    return add_note(session, c.id, NoteIn(body=body, kind="customer_reply"), actor=None)


def add_remedy(session: Session, complaint_id: int, data: RemedyCreate, *, actor: User) -> Remedy:
    """Record an apology, explanation, compensation (with amount and cost) or thanks."""
    require(actor, "complaint:read")
    c = lock_complaint(session, complaint_id)
    require_work(actor, c)
    r = Remedy(
        complaint_id=c.id,
        kind=data.kind,
        compensation_type=data.compensation_type,
        amount=data.amount,
        cost=data.cost,
        points=data.points,
        note=data.note,
        given_at=data.given_at or utcnow(),
        created_by_id=actor.id,
    )
    session.add(r)
    session.flush()
    _event(
        session,
        c,
        "remedy",
        actor,
        data.note,
        internal=False,
        data={
            "kind": r.kind,
            "compensation_type": r.compensation_type,
            "amount": format(r.amount, "f"),
            "points": r.points,
        },
    )
    record(session, actor, "create", "complaint_remedy", r.id, None, snapshot(r))
    emit("complaint.remedy", session, remedy=r, complaint=c, actor=actor)
    return r


def remedy_totals(
    session: Session, *, actor: User, since: datetime | None = None, until: datetime | None = None
) -> list[dict]:
    """Remedy counts, amounts and costs per kind and compensation type in a period."""
    require(actor, "complaint:read")
    stmt = select(
        Remedy.kind,
        Remedy.compensation_type,
        func.count(),
        func.coalesce(func.sum(Remedy.amount), 0),
        func.coalesce(func.sum(Remedy.cost), 0),
        func.coalesce(func.sum(Remedy.points), 0),
    ).group_by(Remedy.kind, Remedy.compensation_type)
    if since:
        stmt = stmt.where(Remedy.given_at >= since)
    if until:
        stmt = stmt.where(Remedy.given_at < until)
    return [
        {
            "kind": k,
            "compensation_type": t,
            "count": n,
            "amount": Decimal(a).quantize(Decimal("0.01")),
            "cost": Decimal(cst).quantize(Decimal("0.01")),
            "points": int(p),
        }
        for k, t, n, a, cst, p in session.execute(stmt.order_by(Remedy.kind)).all()
    ]


def record_follow_up(
    session: Session, complaint_id: int, data: FollowUpIn, *, actor: User
) -> Complaint:
    """The follow-up step (跟踪): was the customer won back? Moves resolved → follow_up."""
    require(actor, "complaint:read")
    c = lock_complaint(session, complaint_id)
    require_work(actor, c)
    if c.status == "resolved":
        apply_transition(session, c.id, TransitionIn(action="follow_up"), actor=actor)
    elif c.status != "follow_up":
        raise Conflict(
            f"Follow-up is recorded after resolution; complaint {c.id} is {c.status}.",
            field="status",
        )
    before = complaint_snapshot(c)
    c.won_back = data.won_back
    _event(session, c, "note", actor, data.note, data={"won_back": data.won_back})
    session.flush()
    record(session, actor, "update", "complaint", c.id, before, complaint_snapshot(c))
    return c


def followup_question(session: Session, token: str) -> Complaint:
    c = session.scalar(select(Complaint).where(Complaint.followup_token == token))
    if c is None:
        raise NotFound("Follow-up link", "given", field="token")
    return c


class FollowUpAnswered(RetentoError):
    """410: the follow-up link was used (each link takes one answer)."""

    def __init__(self) -> None:
        super().__init__(410, "link_gone", "This question was already answered.", "token")


def answer_survey(session: Session, token: str, data: SurveyAnswerIn) -> Complaint:
    """The customer's resolution CSAT (1–5) and "would buy again"; a low score reopens.

    One answer per link, decided by the database: a conditional ``UPDATE ... WHERE
    survey_answered_at IS NULL`` claims the link, and only the request whose update changed
    the row goes on; every other one (sequential or parallel) gets 410.
    """
    c = followup_question(session, token)
    now = utcnow()
    claimed = session.execute(
        update(Complaint)
        .where(
            Complaint.id == c.id,
            Complaint.followup_token == token,
            Complaint.survey_answered_at.is_(None),
        )
        .values(survey_answered_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise FollowUpAnswered()
    # The UPDATE holds the row lock; read the row as it is now (the claim included).
    c = lock_complaint(session, c.id)
    before = {**complaint_snapshot(c), "survey_answered_at": None}
    c.csat = data.csat
    c.would_buy_again = data.would_buy_again
    _event(
        session,
        c,
        "customer_reply",
        None,
        data.comment,
        internal=False,
        data={"csat": data.csat, "would_buy_again": data.would_buy_again},
    )
    session.flush()
    record(session, None, "update", "complaint", c.id, before, complaint_snapshot(c))
    if data.csat <= LOW_CSAT and c.status in workflow.DONE_STATES:
        apply_transition(
            session,
            c.id,
            TransitionIn(action="reopen", note=f"Customer not satisfied (CSAT {data.csat})."),
            actor=None,
        )
    return c


# --- attachments -------------------------------------------------------------------------------


def _safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\-]+", "_", base).strip("._") or "file"
    return base[:120]


def add_attachment(
    session: Session,
    complaint_id: int,
    filename: str,
    content_type: str,
    data: bytes,
    *,
    actor: User,
    data_dir: str,
) -> ComplaintAttachment:
    """Store a file on disk (size and type limited) and attach it to the complaint."""
    require(actor, "complaint:read")
    # Locked: the count of files (at most MAX_ATTACHMENTS) is checked against committed uploads.
    c = lock_complaint(session, complaint_id)
    require_work(actor, c)
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in ATTACHMENT_TYPES:
        raise InvalidInput(
            f"Files of type '{ctype or 'unknown'}' are not accepted; allowed: "
            f"{', '.join(sorted(ATTACHMENT_TYPES))}.",
            field="file",
        )
    safe = _safe_name(filename)
    if not safe.lower().endswith(ATTACHMENT_TYPES[ctype]):
        raise InvalidInput(
            f"The file name must end in {' or '.join(ATTACHMENT_TYPES[ctype])} for {ctype}.",
            field="file",
        )
    if not data:
        raise InvalidInput("The file is empty.", field="file")
    if not content_matches_type(ctype, data):
        raise InvalidInput(f"The file's contents are not {ctype}.", field="file")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            f"The file is larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.", field="file"
        )
    if len(c.attachments) >= MAX_ATTACHMENTS:
        raise Conflict(f"A complaint holds at most {MAX_ATTACHMENTS} files.", field="file")
    digest = hashlib.sha256(data).hexdigest()
    folder = Path(data_dir) / "complaints" / str(c.id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:16]}_{safe}"
    path.write_bytes(data)
    att = ComplaintAttachment(
        complaint_id=c.id,
        filename=safe,
        content_type=ctype,
        size=len(data),
        sha256=digest,
        path=str(path),
        uploaded_by_id=actor.id,
    )
    session.add(att)
    session.flush()
    _event(session, c, "attachment", actor, safe, data={"attachment_id": att.id, "size": len(data)})
    record(session, actor, "create", "complaint_attachment", att.id, None, snapshot(att))
    return att


def get_attachment(session: Session, attachment_id: int, *, actor: User) -> ComplaintAttachment:
    require(actor, "complaint:read")
    att = session.get(ComplaintAttachment, attachment_id)
    if att is None:
        raise NotFound("Attachment", attachment_id)
    return att


# --- categories, calendars, policies -----------------------------------------------------------


def list_categories(session: Session, *, actor: User) -> list[ComplaintCategory]:
    require(actor, "complaint:read")
    return list(session.scalars(select(ComplaintCategory).order_by(ComplaintCategory.id)))


def create_category(session: Session, data: CategoryCreate, *, actor: User) -> ComplaintCategory:
    """Add a node to the category tree."""
    require(actor, "sla:manage")
    if category_by_code(session, data.code) is not None:
        raise Conflict(f"Category '{data.code}' exists already.", field="code")
    if data.parent_id is not None and session.get(ComplaintCategory, data.parent_id) is None:
        raise InvalidInput(f"Category {data.parent_id} does not exist.", field="parent_id")
    cat = ComplaintCategory(**data.model_dump())
    session.add(cat)
    session.flush()
    record(session, actor, "create", "complaint_category", cat.id, None, snapshot(cat))
    return cat


def get_category(session: Session, category_id: int) -> ComplaintCategory:
    cat = session.get(ComplaintCategory, category_id)
    if cat is None:
        raise NotFound("Category", category_id)
    return cat


def update_category(
    session: Session, category_id: int, data: CategoryUpdate, *, actor: User
) -> ComplaintCategory:
    """Rename, move or (de)activate a category; complaints filed under it keep it.

    A move under the category itself or one of its descendants would make a cycle and is
    refused (``parent_id``).
    """
    require(actor, "sla:manage")
    cat = get_category(session, category_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "is_active"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be empty.", field=key)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        if not changes["name"]:
            raise InvalidInput("name cannot be empty.", field="name")
    if "name_zh" in changes:
        changes["name_zh"] = (changes["name_zh"] or "").strip() or None
    if changes.get("parent_id") is not None and changes["parent_id"] != cat.parent_id:
        parent = session.get(ComplaintCategory, changes["parent_id"])
        if parent is None:
            raise InvalidInput(
                f"Category {changes['parent_id']} does not exist.", field="parent_id"
            )
        seen: set[int] = set()
        node: ComplaintCategory | None = parent
        while node is not None and node.id not in seen:
            if node.id == cat.id:
                raise InvalidInput(
                    f"Category {cat.code} cannot move under itself or one of its subcategories.",
                    field="parent_id",
                )
            seen.add(node.id)
            node = session.get(ComplaintCategory, node.parent_id) if node.parent_id else None
    before = snapshot(cat)
    for key, value in changes.items():
        setattr(cat, key, value)
    session.flush()
    after = snapshot(cat)
    if after != before:
        record(session, actor, "update", "complaint_category", cat.id, before, after)
    return cat


def category_tree(
    session: Session, *, active_only: bool = False
) -> list[tuple[ComplaintCategory, int, list[ComplaintCategory]]]:
    """Categories depth first as ``(category, depth, path from the root)``, siblings by name.

    With ``active_only`` a deactivated category is left out together with its subtree (what
    intake forms offer).
    """
    rows = list(session.scalars(select(ComplaintCategory)))
    ids = {c.id for c in rows}
    children: dict[int | None, list[ComplaintCategory]] = {}
    for c in rows:
        parent = c.parent_id if c.parent_id in ids else None
        children.setdefault(parent, []).append(c)
    for kids in children.values():
        kids.sort(key=lambda c: (c.name.lower(), c.id))
    out: list[tuple[ComplaintCategory, int, list[ComplaintCategory]]] = []

    def walk(parent: int | None, path: list[ComplaintCategory]) -> None:
        for c in children.get(parent, []):
            if active_only and not c.is_active:
                continue
            out.append((c, len(path), [*path, c]))
            if len(path) < 50:  # a cycle written behind our back cannot recurse forever
                walk(c.id, [*path, c])

    walk(None, [])
    return out


def _calendar_values(data: CalendarIn) -> dict:
    cal = sla.BusinessCalendar.from_spec(data.timezone, data.hours, data.holidays, data.name)
    if not any(cal.hours.values()):
        # No working minute ever: every SLA due time computed on it would search forever.
        raise InvalidInput("A calendar needs working hours on at least one weekday.", field="hours")
    spec = cal.to_spec()
    return {"name": data.name, **spec}


def list_calendars(session: Session, *, actor: User) -> list[BusinessCalendarRow]:
    require(actor, "complaint:read")
    return list(session.scalars(select(BusinessCalendarRow).order_by(BusinessCalendarRow.id)))


def create_calendar(session: Session, data: CalendarIn, *, actor: User) -> BusinessCalendarRow:
    """A business calendar: working hours per weekday, holidays and a time zone."""
    require(actor, "sla:manage")
    if session.scalar(select(BusinessCalendarRow.id).where(BusinessCalendarRow.name == data.name)):
        raise Conflict(f"Calendar '{data.name}' exists already.", field="name")
    row = BusinessCalendarRow(**_calendar_values(data))
    session.add(row)
    session.flush()
    record(session, actor, "create", "business_calendar", row.id, None, snapshot(row))
    return row


def update_calendar(
    session: Session, calendar_id: int, data: CalendarIn, *, actor: User
) -> BusinessCalendarRow:
    """Replace a calendar's hours and holidays; open complaints using it get new due times."""
    require(actor, "sla:manage")
    row = session.get(BusinessCalendarRow, calendar_id)
    if row is None:
        raise NotFound("Calendar", calendar_id)
    other = session.scalar(
        select(BusinessCalendarRow.id).where(BusinessCalendarRow.name == data.name)
    )
    if other is not None and other != row.id:
        raise Conflict(f"Calendar '{data.name}' exists already.", field="name")
    before = snapshot(row)
    for key, value in _calendar_values(data).items():
        setattr(row, key, value)
    session.flush()
    _refresh_open(session, SlaPolicy.calendar_id == row.id)
    record(session, actor, "update", "business_calendar", row.id, before, snapshot(row))
    return row


def list_policies(session: Session, *, actor: User) -> list[SlaPolicy]:
    require(actor, "complaint:read")
    return list(
        session.scalars(select(SlaPolicy).order_by(SlaPolicy.priority, SlaPolicy.id)).unique()
    )


def _check_policy(session: Session, values: dict, own_id: int | None = None) -> None:
    if session.get(BusinessCalendarRow, values["calendar_id"]) is None:
        raise InvalidInput(f"Calendar {values['calendar_id']} does not exist.", field="calendar_id")
    _check_user(session, values.get("auto_reassign_to_id"), "auto_reassign_to_id")
    if values["resolution_minutes"] < values["first_response_minutes"]:
        raise InvalidInput(
            "The resolution target must not be shorter than the first response.",
            field="resolution_minutes",
        )
    other = session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == values["name"]))
    if other is not None and other != own_id:
        raise Conflict(f"Policy '{values['name']}' exists already.", field="name")


def create_policy(session: Session, data: SlaPolicyIn, *, actor: User) -> SlaPolicy:
    """A new SLA policy; it takes effect for complaints received or re-rated from now on."""
    require(actor, "sla:manage")
    values = data.model_dump()
    _check_policy(session, values)
    p = SlaPolicy(**values)
    session.add(p)
    session.flush()
    record(session, actor, "create", "sla_policy", p.id, None, snapshot(p))
    return p


def update_policy(
    session: Session, policy_id: int, data: SlaPolicyUpdate, *, actor: User
) -> SlaPolicy:
    """Change a policy; open complaints under it get their due times recomputed."""
    require(actor, "sla:manage")
    p = session.get(SlaPolicy, policy_id)
    if p is None:
        raise NotFound("SLA policy", policy_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("name", "first_response_minutes", "resolution_minutes", "calendar_id"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be empty.", field=key)
    before = snapshot(p)
    values = {**before, **changes}
    _check_policy(session, values, p.id)
    for key, value in changes.items():
        setattr(p, key, value)
    session.flush()
    session.expire(p, ["calendar"])
    _refresh_open(session, Complaint.sla_policy_id == p.id)
    record(session, actor, "update", "sla_policy", p.id, before, snapshot(p))
    return p


def _refresh_open(session: Session, condition) -> int:
    stmt = (
        select(Complaint)
        .outerjoin(SlaPolicy, SlaPolicy.id == Complaint.sla_policy_id)
        .where(Complaint.status.in_(workflow.OPEN_STATES), condition)
        .options(selectinload(Complaint.pauses))
    )
    n = 0
    for c in session.scalars(stmt):
        refresh_sla(session, c, reselect=False)
        n += 1
    session.flush()
    return n


# --- notifications and PDCA --------------------------------------------------------------------


def list_notifications(
    session: Session, *, actor: User, unread_only: bool = False, limit: int = 50, offset: int = 0
):
    """The actor's own escalation notices, newest first."""
    require(actor, "complaint:read")
    stmt = select(ComplaintNotification).where(ComplaintNotification.user_id == actor.id)
    if unread_only:
        stmt = stmt.where(ComplaintNotification.read_at.is_(None))
    stmt = stmt.order_by(ComplaintNotification.id.desc())
    return paginate(session, stmt, limit=limit, offset=offset)


def mark_notification_read(session: Session, notification_id: int, *, actor: User) -> None:
    n = session.get(ComplaintNotification, notification_id)
    if n is None or n.user_id != actor.id:
        raise NotFound("Notification", notification_id)
    n.read_at = n.read_at or utcnow()
    session.flush()


def list_improvements(session: Session, *, actor: User, root_cause: str | None = None):
    require(actor, "complaint:read")
    stmt = select(ImprovementAction).order_by(ImprovementAction.id.desc())
    if root_cause:
        stmt = stmt.where(ImprovementAction.root_cause == root_cause.strip().lower())
    return list(session.scalars(stmt))


def create_improvement(
    session: Session, data: ImprovementCreate, *, actor: User
) -> ImprovementAction:
    """Plan an improvement against a root cause (PDCA: plan)."""
    require(actor, "complaint:improve")
    _check_user(session, data.owner_id, "owner_id")
    if data.category_id is not None:
        _resolve_category(session, data.category_id, None)
    values = data.model_dump()
    values["root_cause"] = values["root_cause"].strip().lower()
    dup = session.scalar(
        select(ImprovementAction.id).where(
            ImprovementAction.title == values["title"],
            ImprovementAction.root_cause == values["root_cause"],
        )
    )
    if dup is not None:
        raise Conflict("This improvement is already logged for the root cause.", field="title")
    a = ImprovementAction(**values)
    session.add(a)
    session.flush()
    record(session, actor, "create", "complaint_improvement", a.id, None, snapshot(a))
    return a


PDCA_NEEDS = {"do": "do_note", "check": "check_result", "act": "act_note"}


def update_improvement(
    session: Session, improvement_id: int, data: ImprovementUpdate, *, actor: User
) -> ImprovementAction:
    """Advance a PDCA item; reaching do/check/act needs that step's note."""
    require(actor, "complaint:improve")
    # Locked: the stage rules (done needs a check result) hold for the combined result of
    # parallel edits, not only for each edit against the state it read.
    a = lock_row(session, ImprovementAction, improvement_id)
    if a is None:
        raise NotFound("Improvement", improvement_id)
    changes = data.model_dump(exclude_unset=True)
    for key in ("title", "plan", "stage"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be empty.", field=key)
    if "owner_id" in changes:
        _check_user(session, changes["owner_id"], "owner_id")
    before = snapshot(a)
    for key, value in changes.items():
        setattr(a, key, value)
    need = PDCA_NEEDS.get(a.stage)
    if need and not getattr(a, need):
        raise InvalidInput(f"Stage '{a.stage}' needs {need}.", field=need)
    if a.stage == "done" and not a.check_result:
        raise InvalidInput("An improvement is done only with a check result.", field="check_result")
    session.flush()
    record(session, actor, "update", "complaint_improvement", a.id, before, snapshot(a))
    return a


def get_improvement(session: Session, improvement_id: int, *, actor: User) -> ImprovementAction:
    require(actor, "complaint:read")
    a = session.get(ImprovementAction, improvement_id)
    if a is None:
        raise NotFound("Improvement", improvement_id)
    return a


def improvement_evidence(
    session: Session, a: ImprovementAction, *, actor: User, days: int = 90
) -> dict:
    """Complaints with the improvement's root cause in ``days`` before it was logged and since.

    The figures the check step compares (a falling count is the improvement working).
    """
    require(actor, "complaint:read")
    start = a.created_at
    now = utcnow()
    window = timedelta(days=days)

    def count(lo: datetime, hi: datetime) -> int:
        return session.scalar(
            select(func.count()).where(
                Complaint.root_cause == a.root_cause,
                Complaint.received_at >= lo,
                Complaint.received_at < hi,
            )
        )

    since_days = max((now - start).total_seconds() / 86400, 0.0)
    return {
        "days": days,
        "before": count(start - window, start),
        "since": count(start, now + timedelta(seconds=1)),
        "since_days": round(since_days, 1),
    }


def remedy_cost_of(c: Complaint) -> Decimal:
    return sum((r.cost for r in c.remedies), ZERO)


# Subscribes the complaint notifications (assigned, new in the team, customer replied) to the
# events above wherever this service is used (web, API, CLI, worker).
from retento.complaints import notifications as _notifications  # noqa: E402, F401
