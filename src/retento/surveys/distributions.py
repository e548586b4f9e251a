"""Sending a survey: segments, distributions on a channel, one-time links and invitation e-mails."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, insert, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound, Term
from retento.core.locking import lock_row
from retento.core.validation import clean_idempotency_key
from retento.customers.models import Customer, CustomerTag
from retento.surveys.emails import survey_invitation_email
from retento.surveys.models import Survey, SurveyDistribution, SurveyInvitation
from retento.surveys.optional_domains import complaint_model
from retento.surveys.schemas import DistributionCreate, InvitationLink, SegmentIn
from retento.surveys.service import _survey
from retento.surveys.tokens import hash_token, link_token, make_token
from retento.web.i18n import N_
from retento.web.labels import label_msgid

PUBLIC_PATH = "/s/"


def _closed_complaint_customers(session: Session, since: datetime | None) -> Select:
    model = complaint_model()
    if model is None or not hasattr(model, "customer_id") or not hasattr(model, "status"):
        raise InvalidInput(
            "Complaints are not recorded in this installation, so there is no "
            "'customers whose complaint closed' segment.",
            field="segment.kind",
        )
    stmt = select(model.customer_id).where(model.status == "closed")
    if since is not None and hasattr(model, "closed_at"):
        stmt = stmt.where(model.closed_at >= since)
    return stmt


def segment_customer_ids(session: Session, segment: SegmentIn) -> list[int]:
    """The customers of a segment: all, a value class (latest scoring run), a tag, a list, or
    customers whose complaint was closed."""
    stmt = segment_select(session, segment)
    if isinstance(stmt, list):
        return stmt
    return sorted(set(session.scalars(stmt.distinct())))


def segment_select(session: Session, segment: SegmentIn) -> Select | list[int]:
    """The SELECT of a segment's customer ids (a list for an explicit list of customers), its
    value checked: what the request validates before queueing, without listing anybody."""
    if segment.kind == "all":
        stmt = select(Customer.id)
    elif segment.kind == "tag":
        tag = (segment.value or "").strip().lower()
        stmt = select(CustomerTag.customer_id).where(CustomerTag.tag == tag)
    elif segment.kind == "value_class":
        from retento.scoring.models import VALUE_CLASSES, CustomerScore
        from retento.scoring.service import latest_run

        if segment.value not in VALUE_CLASSES:
            raise InvalidInput(
                Msg(
                    "Unknown value class '%(value)s'. Known: %(choices)s.",
                    value=segment.value,
                    choices=", ".join(VALUE_CLASSES),
                ),
                field="segment.value",
            )
        run = latest_run(session)
        if run is None:
            raise InvalidInput(
                "No scoring run has succeeded yet: run `retento score` to get value classes.",
                field="segment.value",
            )
        from retento.scoring.consent import profiled_condition

        stmt = select(CustomerScore.customer_id).where(
            CustomerScore.run_id == run.id,
            CustomerScore.value_class == segment.value,
            profiled_condition(session, CustomerScore.customer_id),
        )
    elif segment.kind == "complaint_closed":
        stmt = _closed_complaint_customers(session, segment.closed_since)
    elif segment.kind == "insight":
        from retento.insights import segments_service

        chosen = segments_service.parse_filter(segment.value, field="segment.value")
        if chosen is None:
            raise InvalidInput("Choose a saved segment.", field="segment.value")
        # hold: a delete of the segment meanwhile waits, then sees this distribution (refused)
        segments_service.check_filter(session, chosen, field="segment.value", hold=True)
        stmt = segments_service.members_select(chosen)
    else:
        wanted = sorted(set(segment.customer_ids or []))
        found = set(session.scalars(select(Customer.id).where(Customer.id.in_(wanted))))
        missing = [c for c in wanted if c not in found]
        if missing:
            raise InvalidInput(
                Msg("Customer(s) %(ids)s do not exist.", ids=", ".join(map(str, missing[:10]))),
                field="segment.customer_ids",
            )
        return wanted
    return stmt


# The consent a customer must have given to be invited on each channel: e-mail or SMS for an
# online link, phone calls for a phone survey, any of them for paper mail and on-site surveys
# (both still contact the customer for research). Archived and erased customers are never
# invited. See docs/privacy.md.
CHANNEL_CONSENTS = {
    "online": ("consent_email", "consent_sms"),
    "phone": ("consent_phone",),
    "mail": ("consent_email", "consent_sms", "consent_phone"),
    "onsite": ("consent_email", "consent_sms", "consent_phone"),
}


def invitable_ids(session: Session, ids: list[int], channel: str) -> tuple[list[int], int, int]:
    """``(ids that may be invited on channel, archived skipped, without consent skipped)``."""
    if not ids:
        return [], 0, 0
    wanted = CHANNEL_CONSENTS.get(channel, CHANNEL_CONSENTS["mail"])
    consent = or_(*(getattr(Customer, c).is_(True) for c in wanted))
    archived: set[int] = set()
    allowed: set[int] = set()
    for start in range(0, len(ids), 10_000):
        chunk = ids[start : start + 10_000]
        for cid, is_archived, ok in session.execute(
            select(Customer.id, Customer.archived_at.is_not(None), consent).where(
                Customer.id.in_(chunk)
            )
        ):
            if is_archived:
                archived.add(cid)
            elif ok:
                allowed.add(cid)
    kept = [c for c in ids if c in allowed]
    return kept, len(archived), len(ids) - len(kept) - len(archived)


def _segment_label(segment: SegmentIn) -> str | None:
    if segment.kind in ("value_class", "tag"):
        return (segment.value or "").strip().lower()
    if segment.kind == "insight":
        return (segment.value or "").strip()
    if segment.kind == "customers":
        return f"{len(segment.customer_ids or [])} customers"
    if segment.kind == "complaint_closed" and segment.closed_since:
        return segment.closed_since.date().isoformat()
    return None


def request_hash(survey_id: int, data: DistributionCreate) -> str:
    """SHA-256 of what a distribution request asks for: the survey and the whole body."""
    body = {"survey_id": survey_id, "data": data.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()


def _distribution_with_key(session: Session, key: str, req_hash: str) -> SurveyDistribution | None:
    done = session.scalar(
        select(SurveyDistribution).where(SurveyDistribution.idempotency_key == key)
    )
    if done is not None and done.request_hash != req_hash:
        raise Conflict(
            Msg("This Idempotency-Key was already used to send a different distribution."),
            field="Idempotency-Key",
        )
    return done


def start_distribution(
    session: Session,
    survey_id: int,
    data: DistributionCreate,
    *,
    actor: User,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> SurveyDistribution:
    """Check a distribution and record it 'queued' (nothing sent yet): the request's part.

    Bad input (a survey not active, an unknown value class or customer) is refused here, with
    the field named, before anything is written; :func:`execute_distribution` (a worker) then
    creates the invitations and e-mails. See :func:`start_distribution_once` for the key."""
    return start_distribution_once(
        session, survey_id, data, actor=actor, now=now, idempotency_key=idempotency_key
    )[0]


def start_distribution_once(
    session: Session,
    survey_id: int,
    data: DistributionCreate,
    *,
    actor: User,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> tuple[SurveyDistribution, bool]:
    """:func:`start_distribution`, and whether it recorded a new distribution (queue it then).

    With ``idempotency_key`` (the distribute form's key, the API's ``Idempotency-Key``) a
    repeated request (a double click, a refresh, a retry) returns the distribution the first one
    recorded, with ``False``: nothing is queued or sent twice. Two at once meet at the key's
    unique index; the later one waits for the earlier one's transaction and returns its
    distribution. The same key with another survey or body is a 409 naming ``Idempotency-Key``.
    """
    require(actor, "survey:manage")
    s = _survey(session, survey_id)
    key = clean_idempotency_key(idempotency_key)
    req_hash = request_hash(s.id, data) if key else None
    # A retry gets the first answer even if the survey was closed meanwhile.
    if key and (done := _distribution_with_key(session, key, req_hash)):
        return done, False
    if s.status != "active":
        raise Conflict(
            Msg(
                "Survey %(id)s is %(status)s; activate it before sending it.",
                id=s.id,
                status=Term(s.status, label_msgid("survey_status", s.status)),
            ),
            "status",
        )
    segment_select(session, data.segment)  # validates the segment's value
    now = now or utcnow()
    dist = SurveyDistribution(
        survey_id=s.id,
        name=data.name,
        channel=data.channel,
        segment_kind=data.segment.kind,
        segment_value=_segment_label(data.segment),
        invited=0,
        expires_at=now + timedelta(days=data.expires_in_days or s.token_days),
        created_by_id=actor.id,
        created_at=now,
        status="queued",
        idempotency_key=key,
        request_hash=req_hash,
    )
    try:
        with session.begin_nested():
            session.add(dist)
            session.flush()
    except IntegrityError:
        if key and (done := _distribution_with_key(session, key, req_hash)):
            return done, False
        raise
    return dist, True


def _lock_survey(session: Session, survey_id: int) -> Survey | None:
    """Lock the survey for a distribution's run, waiting as long as another run of it takes.

    A run holds the lock until it commits (tens of seconds for a large segment); failing the
    second run after the request lock timeout (``RETENTO_DB_LOCK_TIMEOUT_MS``) would fail a
    distribution that only had to wait its turn. ``SET LOCAL`` ends with the transaction, and
    the timeout is put back once the lock is held; a survey edit meanwhile waits (503 busy).
    """
    if session.get_bind().dialect.name != "postgresql":
        return lock_row(session, Survey, survey_id)  # SQLite: one writer at a time anyway
    before = session.scalar(text("SHOW lock_timeout"))
    session.execute(text("SET LOCAL lock_timeout = 0"))
    survey = lock_row(session, Survey, survey_id)
    session.execute(select(func.set_config("lock_timeout", before, True)))
    return survey


def execute_distribution(
    session: Session,
    distribution_id: int,
    data: DistributionCreate,
    *,
    actor: User | None,
    now: datetime | None = None,
    progress=None,
) -> list[InvitationLink] | None:
    """Create the invitations (and e-mails) of a queued distribution in the caller's
    transaction; the plain links, or None when the distribution is not waiting any more.

    The distribution's row is locked first and its status checked under the lock: a second
    runner of the same distribution (a retried work item, a second worker) waits, then finds it
    done and does nothing, so nobody is invited or e-mailed twice. A runner that died wrote
    nothing (one transaction). A customer who already has an open invitation to this survey is
    not invited twice: the survey's row is locked too, so two distributions of one survey run
    one after the other and the second sees the first one's invitations (and a survey closed
    meanwhile is seen closed).
    """
    report = progress or (lambda stage, fraction: None)
    dist = lock_row(session, SurveyDistribution, distribution_id)
    if dist is None or dist.status not in ("queued", "running"):
        return None
    s = _lock_survey(session, dist.survey_id)
    if s is None or s.status != "active":
        status = s.status if s is not None else "deleted"
        raise Conflict(
            Msg(
                "Survey %(id)s is %(status)s; activate it before sending it.",
                id=dist.survey_id,
                status=Term(status, label_msgid("survey_status", status)),
            )
        )
    now = now or utcnow()
    report("segment", 0.05)
    ids = segment_customer_ids(session, data.segment)
    ids, skipped_archived, skipped_no_consent = invitable_ids(session, ids, data.channel)
    open_ids = set(
        session.scalars(
            select(SurveyInvitation.customer_id).where(
                SurveyInvitation.survey_id == s.id,
                SurveyInvitation.completed_at.is_(None),
                SurveyInvitation.expires_at > now,
            )
        )
    )
    ids = [c for c in ids if c not in open_ids]
    expires = dist.expires_at
    report("invitations", 0.3)
    salts = {cid: secrets.token_hex(16) for cid in ids}
    tokens = {cid: make_token(salt) for cid, salt in salts.items()}
    for start in range(0, len(ids), 5_000):
        session.execute(
            insert(SurveyInvitation),
            [
                {
                    "distribution_id": dist.id,
                    "survey_id": s.id,
                    "customer_id": cid,
                    "channel": data.channel,
                    "token_salt": salts[cid],
                    "token_hash": hash_token(tokens[cid]),
                    "expires_at": expires,
                    "sent_at": now if data.send else None,
                    "reminder_count": 0,
                    "created_at": now,
                }
                for cid in ids[start : start + 5_000]
            ],
        )
        report("invitations", 0.3 + 0.4 * min(1.0, (start + 5_000) / max(len(ids), 1)))
    rows = session.execute(
        select(SurveyInvitation.id, SurveyInvitation.customer_id).where(
            SurveyInvitation.distribution_id == dist.id
        )
    ).all()
    links = [
        InvitationLink(
            invitation_id=iid,
            customer_id=cid,
            channel=data.channel,
            token=tokens[cid],
            path=PUBLIC_PATH + tokens[cid],
        )
        for iid, cid in sorted(rows)
    ]
    report("emails", 0.75)
    emailed = _queue_invitation_emails(session, s, dist, actor=actor, now=now) if data.send else 0
    dist.invited = len(ids)
    dist.status, dist.error, dist.finished_at = "done", None, utcnow()
    record(
        session,
        actor,
        "create",
        "survey_distribution",
        dist.id,
        None,
        snapshot(
            dist,
            {
                "skipped_open_invitations": len(open_ids),
                "skipped_archived": skipped_archived,
                "skipped_no_consent": skipped_no_consent,
                "emails_queued": emailed,
                "not_emailed": len(ids) - emailed if data.channel in EMAILED_CHANNELS else 0,
            },
        ),
    )
    session.flush()
    report("done", 1.0)
    return links


def create_distribution(
    session: Session,
    survey_id: int,
    data: DistributionCreate,
    *,
    actor: User,
    now: datetime | None = None,
) -> tuple[SurveyDistribution, list[InvitationLink]]:
    """Start and carry out a distribution at once, in the caller's transaction (the demo,
    scripts); returns the plain links (only now and via ``links``). The web and the API queue
    it for a worker instead (``retento.surveys.distribution_jobs``); ``retento surveys
    distribute`` runs both steps in its process, with an idempotency key."""
    dist = start_distribution(session, survey_id, data, actor=actor, now=now)
    links = execute_distribution(session, dist.id, data, actor=actor, now=now) or []
    return dist, links


# Channels whose invitations go out by e-mail; phone lists are called, paper is posted.
EMAILED_CHANNELS = ("online",)


def _queue_invitation_emails(
    session: Session,
    survey: Survey,
    dist: SurveyDistribution,
    *,
    actor: User | None,
    now: datetime,
) -> int:
    """Queue one invitation e-mail per invitee with an address and e-mail consent."""
    from retento.mail.compose import emailable
    from retento.mail.service import queue_emails

    if dist.channel not in EMAILED_CHANNELS:
        return 0
    rows = session.execute(
        select(SurveyInvitation.id, SurveyInvitation.expires_at, Customer)
        .join(Customer, Customer.id == SurveyInvitation.customer_id)
        .where(SurveyInvitation.distribution_id == dist.id)
        .order_by(SurveyInvitation.id)
    ).all()
    emails = [
        survey_invitation_email(customer, survey, inv_id, expires)
        for inv_id, expires, customer in rows
        if emailable(customer)
    ]
    return queue_emails(session, emails, actor=actor, now=now)


@dataclass
class DistributionEmails:
    """E-mail delivery of one distribution: messages per status and invitees not e-mailed."""

    emailed_channel: bool
    invitations: dict[str, int]
    reminders: dict[str, int]
    not_emailed: int
    invited: int = 0  # the distribution's invitations (what the "Invited" column counts)
    emailed: int = 0  # invitations with an invitation e-mail in the outbox (any status)
    unsent: int = 0  # invitations created without sending (``send=false``)

    @property
    def queued(self) -> int:
        return self.invitations["queued"] + self.invitations["sending"]


NOT_INVITED = N_(
    "Not invited: %(open)s already invited and not answered yet, %(archived)s archived, "
    "%(no_consent)s without consent for this channel."
)


@dataclass
class Skipped:
    """Customers of the segment a distribution did not invite, and why."""

    open_invitations: int = 0  # already invited to this survey, not answered yet
    archived: int = 0
    no_consent: int = 0  # no consent for the channel

    @property
    def total(self) -> int:
        return self.open_invitations + self.archived + self.no_consent


def skipped(session: Session, dist_id: int) -> Skipped:
    """Who the distribution left out, as its ``create`` audit entry recorded it when it ran
    (zero for a distribution not run yet)."""
    from retento.audit.models import AuditEntry

    after = session.scalar(
        select(AuditEntry.after)
        .where(
            AuditEntry.entity == "survey_distribution",
            AuditEntry.entity_id == str(dist_id),
            AuditEntry.action == "create",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    counts = after or {}
    return Skipped(
        open_invitations=int(counts.get("skipped_open_invitations") or 0),
        archived=int(counts.get("skipped_archived") or 0),
        no_consent=int(counts.get("skipped_no_consent") or 0),
    )


def distribution_emails(session: Session, dist: SurveyDistribution) -> DistributionEmails:
    """How the distribution's invitation and reminder e-mails stand (queued / sent / failed)."""
    from retento.mail.models import OutboxMessage
    from retento.mail.service import status_counts

    of_dist = OutboxMessage.related_id.in_(
        select(SurveyInvitation.id).where(SurveyInvitation.distribution_id == dist.id)
    )
    about = (OutboxMessage.related_type == "survey_invitation", of_dist)
    invitations = status_counts(session, *about, OutboxMessage.kind == "survey_invitation")
    reminders = status_counts(session, *about, OutboxMessage.kind == "survey_reminder")
    emailed = dist.channel in EMAILED_CHANNELS
    with_mail = (
        session.scalar(
            select(func.count(func.distinct(OutboxMessage.related_id))).where(
                *about, OutboxMessage.kind == "survey_invitation"
            )
        )
        or 0
    )
    # Invitations created without sending (``send=false``) were never meant to be e-mailed.
    sent = (
        session.scalar(
            select(func.count()).where(
                SurveyInvitation.distribution_id == dist.id, SurveyInvitation.sent_at.is_not(None)
            )
        )
        or 0
    )
    return DistributionEmails(
        emailed_channel=emailed,
        invitations=invitations,
        reminders=reminders,
        not_emailed=max(sent - with_mail, 0) if emailed else 0,
        invited=dist.invited,
        emailed=with_mail,
        unsent=max(dist.invited - sent, 0),
    )


def emailed_per_distribution(session: Session, survey_id: int) -> dict[int, int]:
    """``{distribution id: invitations with an invitation e-mail in the outbox}`` of a survey,
    shown beside "Invited" so the distribution list and the outbox can be compared."""
    from retento.mail.models import OutboxMessage

    rows = session.execute(
        select(
            SurveyInvitation.distribution_id, func.count(func.distinct(OutboxMessage.related_id))
        )
        .join(
            OutboxMessage,
            (OutboxMessage.related_id == SurveyInvitation.id)
            & (OutboxMessage.related_type == "survey_invitation")
            & (OutboxMessage.kind == "survey_invitation"),
        )
        .where(SurveyInvitation.survey_id == survey_id)
        .group_by(SurveyInvitation.distribution_id)
    ).all()
    return {d: n for d, n in rows}


def list_distributions(session: Session, survey_id: int, *, actor: User):
    """The survey's distributions, newest first."""
    require(actor, "survey:read")
    _survey(session, survey_id)
    return list(
        session.scalars(
            select(SurveyDistribution)
            .where(SurveyDistribution.survey_id == survey_id)
            .order_by(SurveyDistribution.id.desc())
        )
    )


def invitation_links(
    session: Session, distribution_id: int, *, actor: User
) -> list[InvitationLink]:
    """Rebuild the links of a distribution's open invitations (for mail merge and reminders)."""
    require(actor, "survey:manage")
    dist = session.get(SurveyDistribution, distribution_id)
    if dist is None:
        raise NotFound("Distribution", distribution_id, field="distribution_id")
    out = []
    for inv in session.scalars(
        select(SurveyInvitation)
        .where(SurveyInvitation.distribution_id == dist.id, SurveyInvitation.completed_at.is_(None))
        .order_by(SurveyInvitation.id)
    ):
        token = link_token(inv)
        out.append(
            InvitationLink(
                invitation_id=inv.id,
                customer_id=inv.customer_id,
                channel=inv.channel,
                token=token,
                path=PUBLIC_PATH + token,
            )
        )
    return out
