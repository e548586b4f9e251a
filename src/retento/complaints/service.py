"""A complaint's life: intake, reading one, and every change to it (edits, workflow, assignment,
notes, remedies), each on the timeline and in the audit log.

The other concerns build on this module and are not imported by it: the follow-up step
(``followup``), attachments (``attachments``), the queue and timeline lists (``queries``),
categories, calendars and SLA policies (``settings``) and the PDCA log (``improvements``).
A complaint's SLA clocks (``sla_clocks``) are used here and by the settings.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import (
    acts_on_all,
    acts_on_own,
    can,
    permission_name,
    require,
    role_permissions,
)
from retento.complaints import workflow
from retento.complaints.models import (
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    SlaPause,
)
from retento.complaints.policies import DEFAULT_VALUE_CLASS
from retento.complaints.refund_limits import check_order_covers_refunds
from retento.complaints.schemas import (
    AssignIn,
    ComplaintCreate,
    ComplaintUpdate,
    NoteIn,
    TransitionIn,
)
from retento.complaints.sla_clocks import refresh_sla, sla_status
from retento.core.db import utcnow
from retento.core.errors import Conflict, Forbidden, InvalidInput, Msg, NotFound
from retento.core.hooks import emit
from retento.core.idempotency import KEY_REUSED, insert_keyed, keyed_row
from retento.core.locking import lock_row
from retento.core.validation import clean_idempotency_key
from retento.core.versioning import lock_for_edit
from retento.customers.service import can_change_customer, referenced_customer

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
        raise InvalidInput(
            Msg("User %(id)s does not exist or is inactive.", id=user_id), field=field
        )
    return u


def works_complaints(user: User) -> bool:
    """Whether ``user``'s role may work complaints (an agent, a manager, an administrator)."""
    return "complaint:update" in role_permissions(user.role)


def check_assignee(session: Session, user_id: int | None, field: str) -> User | None:
    """The active user a complaint may be assigned to (at intake, on reassignment, as an SLA
    policy's "reassign on breach" target), or None; anyone else is a 422 naming ``field``."""
    user = _check_user(session, user_id, field)
    if user is not None and not works_complaints(user):
        raise InvalidInput("Complaints are assigned to agents or managers.", field=field)
    return user


def _check_order(session: Session, order_id: int | None, customer_id: int) -> None:
    """An order a complaint names exists and is its customer's (at intake and on an edit)."""
    _check_ref(session, _order_model(), order_id, "order_id")
    if order_id is not None:
        order = session.get(_order_model(), order_id)
        if order.customer_id != customer_id:
            raise InvalidInput(
                Msg("Order %(id)s belongs to another customer.", id=order_id), field="order_id"
            )


def _check_ref(session: Session, model: type, key: int | None, field: str) -> None:
    if key is not None and session.get(model, key) is None:
        raise InvalidInput(
            Msg("%(entity)s %(key)s does not exist.", entity=Msg(model.__name__), key=key),
            field=field,
        )


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
            raise InvalidInput(
                Msg("Category %(id)s does not exist.", id=category_id), field="category_id"
            )
        if not category_offered(session, cat):
            raise InvalidInput(
                Msg("Category %(code)s is deactivated; choose another.", code=cat.code),
                field="category_id",
            )
        return cat.id
    cat = category_by_code(session, (code or "").strip().lower())
    if cat is None or not category_offered(session, cat):
        raise InvalidInput(
            Msg("Unknown complaint category '%(code)s'.", code=code), field="category"
        )
    return cat.id


def customer_value_class(session: Session, customer_id: int) -> str:
    """The customer's class in the latest scoring run (``ordinary`` if never scored or not
    profiled for want of consent, see ``scoring.consent``)."""
    from retento.scoring.consent import profiled_condition
    from retento.scoring.models import CustomerScore
    from retento.scoring.service import latest_run

    run = latest_run(session)
    if run is None:
        return DEFAULT_VALUE_CLASS
    cls = session.scalar(
        select(CustomerScore.value_class).where(
            CustomerScore.run_id == run.id,
            CustomerScore.customer_id == customer_id,
            profiled_condition(session, CustomerScore.customer_id),
        )
    )
    return cls or DEFAULT_VALUE_CLASS


# --- permissions -------------------------------------------------------------------------------


def can_work(actor: User, c: Complaint) -> bool:
    """Admins and managers work any complaint; agents those assigned to them or their customers'."""
    if not can(actor, "complaint:update"):
        return False
    if acts_on_all(actor):
        return True
    return c.assignee_id == actor.id or can_change_customer(actor, c.customer)


def require_work(actor: User, c: Complaint) -> None:
    require(actor, "complaint:update")
    if not can_work(actor, c):
        raise Forbidden(
            Msg(
                "Agent '%(user)s' is neither assigned to complaint %(id)s nor owns customer "
                "%(customer)s.",
                user=actor.username,
                id=c.id,
                customer=c.customer_id,
            )
        )


# --- intake ------------------------------------------------------------------------------------


def _check_external_id(
    session: Session, external_id: str | None, own_id: int | None = None
) -> None:
    if external_id is None:
        return
    other = session.scalar(select(Complaint.id).where(Complaint.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            Msg(
                "external_id '%(value)s' is already used by complaint %(id)s.",
                value=external_id,
                id=other,
            ),
            field="external_id",
        )


# Complaints from these sources get the intake acknowledgement e-mail (imports and the demo
# record history and do not).
ACKNOWLEDGED_SOURCES = ("agent", "api", "public_form")


def _complaint_with_key(
    session: Session, key: str, customer_id: int, subject: str
) -> Complaint | None:
    """The complaint recorded with ``key``; 409 if it is another customer's or has another
    subject (a form sent again after Back with a new complaint in it: the page then draws a
    new key, so sending it once more records that complaint)."""
    return keyed_row(session, Complaint, key, _same_complaint(customer_id, subject))


def _same_complaint(customer_id: int, subject: str):
    return lambda c: c.customer_id == customer_id and c.subject == subject.strip()


def create_complaint(
    session: Session,
    data: ComplaintCreate,
    *,
    actor: User | None,
    source: str = "agent",
    idempotency_key: str | None = None,
) -> Complaint:
    """Record a complaint or grumble, pick its SLA policy and compute the due times.

    With ``idempotency_key`` (the intake form's key, the API's ``Idempotency-Key``) a repeated
    request (a double click, a retry) returns the complaint the first one recorded, with no
    second acknowledgement; two at once meet at the key's unique index and the later one
    returns the earlier one's complaint. See :func:`create_complaint_once`."""
    return create_complaint_once(
        session, data, actor=actor, source=source, idempotency_key=idempotency_key
    )[0]


def create_complaint_once(
    session: Session,
    data: ComplaintCreate,
    *,
    actor: User | None,
    source: str = "agent",
    idempotency_key: str | None = None,
) -> tuple[Complaint, bool]:
    """:func:`create_complaint`, and whether it recorded a new complaint."""
    if actor is not None:
        require(actor, "complaint:create")
    customer = referenced_customer(session, data.customer_id)
    key = clean_idempotency_key(idempotency_key)
    if key and (done := _complaint_with_key(session, key, customer.id, data.subject)):
        return done, False
    if actor is not None and acts_on_own(actor) and data.assignee_id not in (None, actor.id):
        # Agents take complaints from anyone (they answer the phone) but assign only to themselves.
        require(actor, "complaint:assign")
    if (
        actor is not None
        and acts_on_own(actor)
        and not can(actor, "complaint:assign")
        and data.team_manager_id not in (None, actor.id, actor.manager_id)
    ):
        # ... and into their own team only (as the web form does: the team is their manager's),
        # not into another team's queue and escalations.
        exc = Forbidden(
            Msg(
                "An agent may set team_manager_id only to themselves or to their own manager; "
                "another team needs the permission %(permission)s.",
                permission=permission_name("complaint:assign"),
            ),
            permission="complaint:assign",
            role=actor.role,
        )
        exc.field = "team_manager_id"
        raise exc
    category_id = _resolve_category(session, data.category_id, data.category)
    _check_order(session, data.order_id, customer.id)
    _check_ref(session, _product_model(), data.product_id, "product_id")
    assignee = check_assignee(session, data.assignee_id, "assignee_id")
    _check_user(session, data.team_manager_id, "team_manager_id")
    _check_external_id(session, data.external_id)
    now = utcnow()
    received = data.received_at or now
    if received > now + timedelta(minutes=5):
        raise InvalidInput("received_at lies in the future.", field="received_at")
    assignee_id = data.assignee_id
    if assignee_id is None and actor is not None and acts_on_own(actor):
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
        idempotency_key=key,
    )

    def prepare() -> None:
        c.customer = customer  # inside the savepoint: the backref would add c outside it
        refresh_sla(session, c)

    c, created = insert_keyed(session, c, key, _same_complaint(customer.id, data.subject), prepare)
    if not created:
        return c, False
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
        from retento.complaints.outbound import queue_acknowledgement

        queue_acknowledgement(session, c, actor=actor, now=now)
        if source != "public_form":  # submit_public emits once its owner is assigned
            emit("complaint.created", session, complaint=c, actor=actor)
    return c, True


def _order_model():
    from retento.orders.models import Order

    return Order


def _product_model():
    from retento.products.models import Product

    return Product


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
            # ``system``: the system wrote the body (stored in the installation's language, so
            # the status page shows it in the customer's); a customer's own words never are.
            system = e.actor_id is None and e.kind != "customer_reply"
            events.append({"at": e.at, "kind": e.kind, "body": e.body, "system": system})
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
            raise InvalidInput(Msg("%(field)s cannot be empty.", field=key), field=key)
    if "purposes" in changes and changes["purposes"] is None:
        changes["purposes"] = []
    before = complaint_snapshot(c)
    if "category_id" in changes and changes["category_id"] != c.category_id:
        # A complaint keeps a category deactivated after intake; only a new one must be active.
        _resolve_category(session, changes["category_id"], None)
    if "order_id" in changes and changes["order_id"] != c.order_id:
        _check_order(session, changes["order_id"], c.customer_id)
        if changes["order_id"] is not None:
            check_order_covers_refunds(session, c, changes["order_id"])
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
        refresh_sla(session, c, now=utcnow())
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
        # refresh_sla settled the flags on the new due times: a longer target takes a clock
        # back below its warning or due level (also while paused), so the escalation job sees
        # the complaint again; a shorter one is the job's to escalate and notify.
    session.flush()
    record(session, actor, "update", "complaint", c.id, before, complaint_snapshot(c))
    return c


def _mark_first_response(c: Complaint, at: datetime) -> None:
    if c.first_responded_at is None:
        c.first_responded_at = at
        if c.first_response_due_at is not None and at > c.first_response_due_at:
            c.first_response_breached = c.first_response_ever_breached = True


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
        # resolution_breached (late or not) is settled on the stopped clock below.
        c.followup_token = secrets.token_urlsafe(24)
        c.survey_answered_at = None
        # The follow-up is set up below, once the resolution text is on the complaint.
    if data.action == "close":
        c.closed_at = now
    if t.clock == "restart":
        c.reopen_count += 1
        c.clock_started_at = now
        if c.survey_answered_at is None:
            # The resolution it asked about no longer stands: the link stops working and a
            # follow-up e-mail still queued is cancelled when its turn comes (``register_link``).
            # A low score that reopened it keeps its link ("already answered").
            c.followup_token = None
        c.resolved_at = None
        c.closed_at = None
        c.sla_flag = "ok"
        c.flagged = False
        c.won_back = None
    c.status = t.target
    session.flush()
    if t.clock in ("pause", "resume", "restart", "stop"):
        # Due times and flags follow the clock: a resume or reopen after a breach (or a pause
        # recomputed on a since-changed target) makes the escalation job see the complaint
        # again; a resolve while awaiting the customer stores the due time of the stopped clock.
        refresh_sla(session, c, reselect=t.clock == "restart", now=now)
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
        from retento.complaints.outbound import queue_complaint_followup

        queue_complaint_followup(session, c, actor=actor, now=now)
    session.flush()
    record(session, actor, "update", "complaint", c.id, before, complaint_snapshot(c))
    return c


def assign(session: Session, complaint_id: int, data: AssignIn, *, actor: User | None) -> Complaint:
    """Assign or reassign to an agent and/or a team (a manager and their reports)."""
    c = lock_complaint(session, complaint_id)
    if actor is not None:
        self_assign = acts_on_own(actor) and data.assignee_id == actor.id and can_work(actor, c)
        if not self_assign:
            require(actor, "complaint:assign")
    assignee = check_assignee(session, data.assignee_id, "assignee_id")
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


def _event_with_key(session: Session, c: Complaint, kind: str, key: str, body: str):
    """The complaint's ``kind`` event recorded with ``key`` (in its data), checked under the
    complaint's row lock; 409 if that event has another text."""
    for ev in session.scalars(
        select(ComplaintEvent).where(
            ComplaintEvent.complaint_id == c.id, ComplaintEvent.kind == kind
        )
    ):
        if (ev.data or {}).get("idempotency_key") == key:
            if (ev.body or "") != body:
                raise Conflict(KEY_REUSED, field="Idempotency-Key")
            return ev
    return None


def add_note(
    session: Session,
    complaint_id: int,
    data: NoteIn,
    *,
    actor: User | None,
    idempotency_key: str | None = None,
) -> ComplaintEvent:
    """An internal note, a message to the customer, or the customer's reply (resumes the clock).

    With ``idempotency_key`` (the form's key, the API's ``Idempotency-Key``) a repeated request
    (a double click, a retry) returns the entry the first one recorded: no second message is
    e-mailed and no second reply notifies the agent. The key is kept in the event's data and
    checked under the complaint's row lock, which makes the check and the insert one step."""
    c = lock_complaint(session, complaint_id)
    if actor is not None:
        require_work(actor, c)
    key = clean_idempotency_key(idempotency_key)
    if key and (done := _event_with_key(session, c, data.kind, key, data.body)):
        return done
    now = utcnow()
    if data.kind == "message":
        _mark_first_response(c, now)
    ev = _event(
        session,
        c,
        data.kind,
        actor,
        data.body,
        internal=data.kind == "note",
        data={"idempotency_key": key} if key else None,
        at=now,
    )
    session.flush()
    if data.kind == "message":
        from retento.complaints.outbound import queue_message

        queue_message(session, c, ev, actor=actor, now=now)
    if data.kind == "customer_reply" and c.status == "awaiting_customer":
        apply_transition(session, c.id, TransitionIn(action="customer_replied"), actor=None, at=now)
    record(session, actor, "create", "complaint_event", ev.id, None, snapshot(ev))
    if data.kind == "customer_reply":
        emit("complaint.customer_replied", session, complaint=c, reply=ev, actor=actor)
    return ev


def public_reply(
    session: Session, code: str, body: str, *, idempotency_key: str | None = None
) -> ComplaintEvent:
    """The customer answers through the status page (once per key: :func:`add_note`)."""
    c = lock_complaint(session, get_by_tracking_code(session, code).id)
    key = clean_idempotency_key(idempotency_key)
    if key and (done := _event_with_key(session, c, "customer_reply", key, body)):
        return done  # a retry after the complaint was closed still gets its first answer
    if c.status == "closed":
        raise Conflict("This complaint is closed; submit a new one.", field="tracking_code")
    return add_note(
        session, c.id, NoteIn(body=body, kind="customer_reply"), actor=None, idempotency_key=key
    )
