"""Survey state changes: the builder, distributions with one-time links, and every way to answer."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, insert, or_, select
from sqlalchemy.orm import Session, selectinload

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import Conflict, FieldError, InvalidInput, NotFound, RetentoError
from retento.core.hooks import emit
from retento.core.locking import lock_row
from retento.core.pagination import apply_sort, paginate
from retento.core.versioning import lock_for_edit
from retento.customers.models import Customer, CustomerTag
from retento.surveys import languages
from retento.surveys.duplicates import check_duplicate
from retento.surveys.emails import survey_invitation_email
from retento.surveys.models import (
    Survey,
    SurveyAnswer,
    SurveyDistribution,
    SurveyInvitation,
    SurveyQuestion,
    SurveyResponse,
    SurveySection,
)
from retento.surveys.schemas import (
    AnswerIn,
    AnswersSubmit,
    BulkResponses,
    DistributionCreate,
    InvitationLink,
    PublicAnswer,
    PublicSection,
    PublicSurvey,
    ResponseCreate,
    SectionIn,
    SegmentIn,
    SurveyCreate,
    SurveyFromTemplate,
    SurveyUpdate,
    TranslationIn,
)
from retento.surveys.templates import template_sections, template_title
from retento.surveys.tokens import hash_token, link_token, make_token

SORTABLE = {
    "id": Survey.id,
    "name": Survey.name,
    "status": Survey.status,
    "created_at": Survey.created_at,
}
PUBLIC_PATH = "/s/"


# ---------------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------------


def survey_snapshot(s: Survey) -> dict[str, Any]:
    return snapshot(
        s,
        {
            "sections": [
                {"code": sec.code, "title": sec.title, "questions": [q.code for q in sec.questions]}
                for sec in s.sections
            ]
        },
    )


def _survey(session: Session, survey_id: int) -> Survey:
    s = session.get(Survey, survey_id)
    if s is None:
        raise NotFound("Survey", survey_id, field="survey_id")
    return s


def get_survey(session: Session, survey_id: int, *, actor: User) -> Survey:
    """One survey with its sections and questions."""
    require(actor, "survey:read")
    return _survey(session, survey_id)


def list_surveys(
    session: Session,
    *,
    actor: User,
    status: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """A filtered, sorted page of surveys."""
    require(actor, "survey:read")
    stmt = select(Survey)
    if status:
        stmt = stmt.where(Survey.status == status)
    if q:
        stmt = stmt.where(func.lower(Survey.name).contains(q.strip().lower()))
    stmt = apply_sort(stmt, sort, SORTABLE, Survey.id.desc())
    return paginate(session, stmt, limit=limit, offset=offset)


def _build_sections(session: Session, survey: Survey, sections: list[SectionIn]) -> None:
    """Replace the questionnaire; the old rows are deleted first so codes can be reused."""
    if survey.sections or survey.questions:
        survey.questions = []
        survey.sections = []
        session.flush()
    for si, sec in enumerate(sections):
        section = SurveySection(
            position=si,
            code=sec.code,
            title=sec.title,
            description=sec.description,
            translations=languages.clean(sec.model_dump()["translations"]),
        )
        survey.sections.append(section)
        for qi, q in enumerate(sec.questions):
            data = q.model_dump()
            data["translations"] = languages.clean(data["translations"])
            question = SurveyQuestion(
                **data, position=qi, section_position=si, survey=survey, section=section
            )
            section.questions.append(question)


def _check_external_id(session: Session, external_id: str | None, own_id: int | None = None):
    if external_id is None:
        return
    other = session.scalar(select(Survey.id).where(Survey.external_id == external_id))
    if other is not None and other != own_id:
        raise Conflict(
            f"external_id '{external_id}' is already used by survey {other}.", "external_id"
        )


def create_survey(session: Session, data: SurveyCreate, *, actor: User) -> Survey:
    """Create a draft survey with its sections and questions."""
    require(actor, "survey:manage")
    _check_external_id(session, data.external_id)
    fields = data.model_dump(exclude={"sections"})
    fields["translations"] = languages.clean(fields["translations"])
    s = Survey(**fields, created_by_id=actor.id, status="draft")
    _build_sections(session, s, data.sections)
    session.add(s)
    session.flush()
    record(session, actor, "create", "survey", s.id, None, survey_snapshot(s))
    return s


def create_from_template(session: Session, data: SurveyFromTemplate, *, actor: User) -> Survey:
    """Create a draft survey from the standard or the ECSI template, in its language."""
    sections = template_sections(data.template, data.language)
    fields = data.model_dump(exclude={"template", "name"})
    s = create_survey(
        session,
        SurveyCreate(
            **fields,
            name=data.name or template_title(data.template, data.language),
            sections=sections,
        ),
        actor=actor,
    )
    s.template = data.template
    session.flush()
    return s


def has_responses(session: Session, survey_id: int) -> bool:
    return bool(session.scalar(select(exists().where(SurveyResponse.survey_id == survey_id))))


def update_survey(
    session: Session,
    survey_id: int,
    data: SurveyUpdate,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Survey:
    """Change settings or status; the questions can be replaced only until answers exist.

    A stale ``version``/If-Match gets 409 (core.versioning); a new question list bumps it."""
    require(actor, "survey:manage")
    s = _survey(session, survey_id)
    lock_for_edit(session, s, data.version, expected_version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if "name" in changes and changes["name"] is None:
        raise InvalidInput("name cannot be empty.", field="name")
    before = survey_snapshot(s)
    answered = has_responses(session, s.id)
    if "sections" in changes:
        if answered:
            raise Conflict(
                "The survey already has responses; copy it to change its questions.", "sections"
            )
        _build_sections(session, s, data.sections or [])
        changes.pop("sections")
        s.updated_at = utcnow()  # new questions are a new version of the survey
    if changes.get("status") == "draft" and s.status != "draft" and answered:
        raise Conflict("A survey with responses cannot go back to draft.", "status")
    if changes.get("status") == "active" and not s.questions:
        raise InvalidInput("A survey needs at least one question to be activated.", "status")
    if "translations" in changes:
        changes["translations"] = languages.clean(changes["translations"])
    for key, value in changes.items():
        if value is None and key not in ("description", "thank_you", "translations"):
            continue
        setattr(s, key, value)
    session.flush()
    record(session, actor, "update", "survey", s.id, before, survey_snapshot(s))
    return s


def set_translation(
    session: Session,
    survey_id: int,
    lang: str,
    data: TranslationIn,
    *,
    actor: User,
    expected_version: int | None = None,
) -> Survey:
    """Replace the survey's texts in ``lang`` (not its own language); blank texts are removed.

    Allowed after answers exist: translations change no question, only how it reads."""
    require(actor, "survey:manage")
    s = _survey(session, survey_id)
    lock_for_edit(session, s, data.version, expected_version)
    if lang not in languages.other_languages(s):
        raise InvalidInput(f"'{lang}' is not a second language of survey {s.id}.", "language")
    sections = {sec.code: sec for sec in s.sections}
    questions = {q.code: q for q in s.questions}
    for code in data.sections:
        if code not in sections:
            raise InvalidInput(f"Survey {s.id} has no section '{code}'.", f"sections.{code}")
    for code, t in data.questions.items():
        q = questions.get(code)
        if q is None:
            raise InvalidInput(f"Survey {s.id} has no question '{code}'.", f"questions.{code}")
        values = {o["value"] for o in q.options or []}
        unknown = sorted(set(t.options or {}) - values)
        if unknown:
            raise InvalidInput(
                f"Question '{code}' has no option '{unknown[0]}'.", f"questions.{code}.options"
            )
    before = {"language": lang, "missing": len(languages.missing_texts(s, lang))}

    def put(obj: Any, texts: dict[str, Any] | None) -> None:
        rest = {k: v for k, v in (obj.translations or {}).items() if k != lang}
        kept = languages.clean({lang: texts or {}}) or {}
        obj.translations = {**rest, **kept} or None

    put(s, data.survey.model_dump())
    for code, sec in sections.items():
        t = data.sections.get(code)
        put(sec, t.model_dump() if t else None)
    for code, q in questions.items():
        t = data.questions.get(code)
        put(q, t.model_dump() if t else None)
    s.updated_at = utcnow()  # a new version of the survey's texts (bumps ``version``)
    session.flush()
    after = {"language": lang, "missing": len(languages.missing_texts(s, lang))}
    record(session, actor, "update", "survey", s.id, before, after)
    return s


def delete_survey(session: Session, survey_id: int, *, actor: User) -> None:
    """Delete a survey that has no responses (close it otherwise)."""
    require(actor, "survey:manage")
    s = _survey(session, survey_id)
    if has_responses(session, s.id):
        raise Conflict("The survey has responses; close it instead of deleting it.", "survey_id")
    before = survey_snapshot(s)
    session.delete(s)
    session.flush()
    record(session, actor, "delete", "survey", survey_id, before, None)


# ---------------------------------------------------------------------------------------------
# Segments, distributions and one-time links
# ---------------------------------------------------------------------------------------------


def complaint_model() -> Any | None:
    """The complaints domain's ``Complaint`` table if that domain is installed, else None."""
    try:
        from retento.complaints import models as cm  # type: ignore[import-not-found]
    except ModuleNotFoundError:
        return None
    return getattr(cm, "Complaint", None)


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
                f"Unknown value class '{segment.value}'. Known: {', '.join(VALUE_CLASSES)}.",
                field="segment.value",
            )
        run = latest_run(session)
        if run is None:
            raise InvalidInput(
                "No scoring run has succeeded yet: run `retento score` to get value classes.",
                field="segment.value",
            )
        stmt = select(CustomerScore.customer_id).where(
            CustomerScore.run_id == run.id, CustomerScore.value_class == segment.value
        )
    elif segment.kind == "complaint_closed":
        stmt = _closed_complaint_customers(session, segment.closed_since)
    elif segment.kind == "insight":
        from retento.insights import segments_service

        chosen = segments_service.parse_filter(segment.value, field="segment.value")
        if chosen is None:
            raise InvalidInput("Choose a saved segment.", field="segment.value")
        segments_service.check_filter(session, chosen, field="segment.value")
        stmt = segments_service.members_select(chosen)
    else:
        wanted = sorted(set(segment.customer_ids or []))
        found = set(session.scalars(select(Customer.id).where(Customer.id.in_(wanted))))
        missing = [c for c in wanted if c not in found]
        if missing:
            raise InvalidInput(
                f"Customer(s) {', '.join(map(str, missing[:10]))} do not exist.",
                field="segment.customer_ids",
            )
        return wanted
    return sorted(set(session.scalars(stmt.distinct())))


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


def create_distribution(
    session: Session,
    survey_id: int,
    data: DistributionCreate,
    *,
    actor: User,
    now: datetime | None = None,
) -> tuple[SurveyDistribution, list[InvitationLink]]:
    """Invite a segment on one channel; returns the plain links (only now and via ``links``).

    A customer who already has an open invitation to this survey is not invited twice.
    """
    require(actor, "survey:manage")
    s = _survey(session, survey_id)
    if s.status != "active":
        raise Conflict(f"Survey {s.id} is {s.status}; activate it before sending it.", "status")
    now = now or utcnow()
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
    expires = now + timedelta(days=data.expires_in_days or s.token_days)
    dist = SurveyDistribution(
        survey_id=s.id,
        name=data.name,
        channel=data.channel,
        segment_kind=data.segment.kind,
        segment_value=_segment_label(data.segment),
        invited=len(ids),
        expires_at=expires,
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(dist)
    session.flush()
    salts = {cid: secrets.token_hex(16) for cid in ids}
    tokens = {cid: make_token(salt) for cid, salt in salts.items()}
    if ids:
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
                for cid in ids
            ],
        )
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
    emailed = _queue_invitation_emails(session, s, dist, actor=actor, now=now) if data.send else 0
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


# ---------------------------------------------------------------------------------------------
# Answers: one validation for every channel
# ---------------------------------------------------------------------------------------------


def _scaled(q: SurveyQuestion, value: float, what: str) -> float:
    # JSON bodies may carry NaN / Infinity: reject them here, never store a non-finite score.
    if not math.isfinite(value) or value != int(value) or not (q.scale_min <= value <= q.scale_max):
        raise ValueError(f"{what} must be a whole number from {q.scale_min} to {q.scale_max}")
    return float(value)


def check_answer(q: SurveyQuestion, a: AnswerIn) -> dict[str, Any] | None:
    """The stored form of one answer, or None if it is empty; ValueError names the problem."""
    number, expectation, text, choices = a.number, a.expectation, a.text, a.choices
    if number is None and expectation is None and not text and not choices:
        return None
    out: dict[str, Any] = {"number": None, "expectation": None, "text": None, "choices": None}
    if q.qtype in ("rating", "nps", "ces"):
        if number is None:
            raise ValueError("a score is required (number)")
        if expectation is not None or text or choices:
            raise ValueError("only a number is allowed")
        out["number"] = _scaled(q, number, "the score")
    elif q.qtype == "expectation_perception":
        if number is None or expectation is None:
            raise ValueError("both the expectation (a) and the perception (number, b) are needed")
        out["expectation"] = _scaled(q, expectation, "the expectation")
        out["number"] = _scaled(q, number, "the perception")
    elif q.qtype == "free_text":
        if number is not None or expectation is not None or choices:
            raise ValueError("only text is allowed")
        out["text"] = (text or "").strip() or None
        if out["text"] is None:
            return None
    else:
        picked = list(choices or ([] if text is None else [text]))
        allowed = [o["value"] for o in q.options or []]
        bad = [c for c in picked if c not in allowed]
        if bad:
            raise ValueError(f"'{bad[0]}' is not an option; options: {', '.join(allowed)}")
        if q.qtype == "single_choice" and len(picked) != 1:
            raise ValueError("exactly one option must be chosen")
        out["choices"] = list(dict.fromkeys(picked))
    return out


def _answers_by_code(survey: Survey) -> dict[str, SurveyQuestion]:
    return {q.code: q for q in survey.questions}


def validate_answers(
    survey: Survey, answers: list[AnswerIn], *, row: int | None = None, prefix: str = "answers"
) -> tuple[dict[int, dict[str, Any] | None], list[FieldError]]:
    """Check answers against the questions: ``{question_id: stored form}`` and the errors."""
    questions = _answers_by_code(survey)
    out: dict[int, dict[str, Any] | None] = {}
    errors: list[FieldError] = []
    for i, a in enumerate(answers):
        where = a.question if row is not None else f"{prefix}.{i}"
        q = questions.get(a.question)
        if q is None:
            errors.append(FieldError(where, f"Unknown question '{a.question}'.", row))
            continue
        try:
            out[q.id] = check_answer(q, a)
        except ValueError as exc:
            errors.append(FieldError(where, f"{a.question}: {exc}", row))
    return out, errors


def _apply(response: SurveyResponse, checked: dict[int, dict[str, Any] | None]) -> None:
    current = {a.question_id: a for a in response.answers}
    for qid, value in checked.items():
        existing = current.get(qid)
        if value is None:
            if existing is not None:
                response.answers.remove(existing)
            continue
        if existing is None:
            response.answers.append(SurveyAnswer(question_id=qid, **value))
        else:
            for k, v in value.items():
                setattr(existing, k, v)


def _missing_required(survey: Survey, response: SurveyResponse) -> list[FieldError]:
    answered = {a.question_id for a in response.answers}
    return [
        FieldError(q.code, f"Question '{q.code}' must be answered.")
        for q in survey.questions
        if q.required and q.id not in answered
    ]


def response_snapshot(r: SurveyResponse) -> dict[str, Any]:
    codes = {q.id: q.code for q in r.survey.questions} if r.survey else {}
    return snapshot(
        r,
        {
            "answers": {
                codes.get(a.question_id, str(a.question_id)): {
                    k: v
                    for k, v in (
                        ("number", a.number),
                        ("expectation", a.expectation),
                        ("text", a.text),
                        ("choices", a.choices),
                    )
                    if v is not None
                }
                for a in r.answers
            }
        },
    )


def _complete(
    survey: Survey, response: SurveyResponse, when: datetime, *, row: int | None = None
) -> None:
    missing = _missing_required(survey, response)
    if missing:
        for e in missing:
            e.row = row
        raise InvalidInput(
            f"{len(missing)} required question(s) are not answered: "
            + ", ".join(e.field or "" for e in missing),
            field=missing[0].field,
            errors=missing,
        )
    response.status = "completed"
    response.completed_at = when


def _require_open(survey: Survey) -> None:
    if survey.status != "active":
        raise Conflict(f"Survey {survey.id} is {survey.status} and takes no answers.", "status")


# ---------------------------------------------------------------------------------------------
# Online: the public one-time link
# ---------------------------------------------------------------------------------------------


class LinkGone(RetentoError):
    """A link that was valid but can no longer be used (expired, or the survey closed)."""

    def __init__(self, message: str):
        super().__init__(410, "link_gone", message, "token")


def invitation_for_token(
    session: Session, token: str, now: datetime | None = None
) -> SurveyInvitation:
    """The invitation behind a link; 404 unknown, 410 expired or survey closed."""
    now = now or utcnow()
    inv = None
    if 20 <= len(token) <= 100:
        inv = session.scalar(
            select(SurveyInvitation).where(SurveyInvitation.token_hash == hash_token(token))
        )
    if inv is None:
        raise NotFound("Survey link", "", field="token")
    if inv.expires_at <= now and inv.completed_at is None:
        raise LinkGone(f"This survey link expired on {inv.expires_at:%Y-%m-%d}.")
    survey = session.get(Survey, inv.survey_id)
    if survey is None or survey.status == "closed":
        raise LinkGone("This survey is closed.")
    return inv


def _invitation_response(session: Session, inv: SurveyInvitation) -> SurveyResponse | None:
    return session.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.invitation_id == inv.id)
        .options(selectinload(SurveyResponse.answers))
    )


def public_survey(
    session: Session,
    token: str,
    *,
    lang: str | None = None,
    fallback: str | None = None,
    now: datetime | None = None,
) -> PublicSurvey:
    """What the respondent sees: the questions and the answers saved so far; marks it opened.

    The language is ``lang`` (chosen on the page or carried by the e-mailed link), else the
    customer's own, else ``fallback`` (the browser's) — used only when the survey has it
    complete, otherwise the survey's own language (``surveys.languages``)."""
    now = now or utcnow()
    inv = invitation_for_token(session, token, now)
    survey = _survey(session, inv.survey_id)
    if not lang:
        customer = session.get(Customer, inv.customer_id)
        lang = (languages.customer_language(customer) if customer else None) or fallback
    shown = languages.pick_language(survey, lang)
    if inv.opened_at is None:
        inv.opened_at = now
        session.flush()
    response = _invitation_response(session, inv)
    codes = {q.id: q.code for q in survey.questions}
    answers = [
        PublicAnswer(
            question=codes[a.question_id],
            number=a.number,
            expectation=a.expectation,
            text=a.text,
            choices=a.choices,
        )
        for a in (response.answers if response else [])
    ]
    return PublicSurvey(
        name=languages.survey_text(survey, "name", shown) or survey.name,
        description=languages.survey_text(survey, "description", shown),
        thank_you=languages.survey_text(survey, "thank_you", shown),
        language=shown,
        languages=languages.complete_languages(survey),
        status="new" if response is None else response.status,  # type: ignore[arg-type]
        expires_at=inv.expires_at,
        sections=[
            PublicSection.model_validate(s) for s in languages.localised_sections(survey, shown)
        ],
        answers=answers,
    )


def public_submit(
    session: Session, token: str, data: AnswersSubmit, *, now: datetime | None = None
) -> SurveyResponse:
    """Save answers behind a link (resumable); ``complete`` finishes it — only once per link.

    The invitation row is locked first: submissions through one link (a double click, two tabs)
    run one after the other, so they share one response and only the first completion counts.
    """
    now = now or utcnow()
    inv = lock_row(session, SurveyInvitation, invitation_for_token(session, token, now).id)
    if inv.completed_at is not None:
        raise Conflict("This survey was already answered with this link. Thank you!", "token")
    survey = _survey(session, inv.survey_id)
    _require_open(survey)
    checked, errors = validate_answers(survey, data.answers)
    if errors:
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)
    response = _invitation_response(session, inv)
    created = response is None
    if response is None:
        response = SurveyResponse(
            survey_id=survey.id,
            customer_id=inv.customer_id,
            invitation_id=inv.id,
            channel=inv.channel,
            source="token",
            status="partial",
            started_at=now,
        )
        session.add(response)
    before = None if created else response_snapshot(response)
    _apply(response, checked)
    if inv.opened_at is None:
        inv.opened_at = now
    if data.complete:
        _complete(survey, response, now)
        inv.completed_at = now
    session.flush()
    record(
        session,
        None,
        "create" if created else "update",
        "survey_response",
        response.id,
        before,
        response_snapshot(response),
    )
    if response.status == "completed":
        emit("survey.answered", session, response=response, actor=None)
    return response


# ---------------------------------------------------------------------------------------------
# Phone (an agent), paper / on-site (bulk entry) and file import
# ---------------------------------------------------------------------------------------------


def _customer(session: Session, customer_id: int, field: str = "customer_id") -> Customer:
    c = session.get(Customer, customer_id)
    if c is None:
        raise InvalidInput(f"Customer {customer_id} does not exist.", field=field)
    return c


def _open_invitation(
    session: Session, survey_id: int, customer_id: int, now: datetime
) -> SurveyInvitation | None:
    return session.scalar(
        select(SurveyInvitation)
        .where(
            SurveyInvitation.survey_id == survey_id,
            SurveyInvitation.customer_id == customer_id,
            SurveyInvitation.completed_at.is_(None),
            SurveyInvitation.expires_at > now,
        )
        .order_by(SurveyInvitation.id.desc())
        .limit(1)
    )


def record_response(
    session: Session,
    survey_id: int,
    data: ResponseCreate,
    *,
    actor: User,
    now: datetime | None = None,
) -> SurveyResponse:
    """An agent enters answers (phone, or on site); it completes the customer's open invitation
    and resumes its partial response, if any."""
    require(actor, "survey:respond")
    now = now or utcnow()
    survey = _survey(session, survey_id)
    _require_open(survey)
    if data.customer_id is not None:
        _customer(session, data.customer_id)
    if data.external_id is not None and session.scalar(
        select(SurveyResponse.id).where(SurveyResponse.external_id == data.external_id)
    ):
        raise Conflict(f"Response '{data.external_id}' already exists.", "external_id")
    checked, errors = validate_answers(survey, data.answers)
    if errors:
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)
    inv = (
        _open_invitation(session, survey.id, data.customer_id, now)
        if data.customer_id is not None
        else None
    )
    if inv is not None:
        # The customer may answer through the link at this moment: take the invitation's lock
        # and look again, so a response is not attached to an invitation completed meanwhile.
        inv = lock_row(session, SurveyInvitation, inv.id)
        if inv.completed_at is not None:
            inv = None
    response = _invitation_response(session, inv) if inv is not None else None
    created = response is None
    if created and data.customer_id is not None and not data.allow_duplicate:
        # The customer's row lock serialises two agents recording the same customer at once.
        lock_row(session, Customer, data.customer_id)
        check_duplicate(session, survey.id, data.customer_id)
    if response is None:
        response = SurveyResponse(
            survey_id=survey.id,
            customer_id=data.customer_id,
            invitation_id=inv.id if inv else None,
            channel=data.channel,
            source="agent",
            status="partial",
            started_at=now,
            external_id=data.external_id,
        )
        session.add(response)
    before = None if created else response_snapshot(response)
    response.entered_by_id = actor.id
    _apply(response, checked)
    if data.complete:
        _complete(survey, response, now)
        if inv is not None:
            inv.completed_at = now
    session.flush()
    record(
        session,
        actor,
        "create" if created else "update",
        "survey_response",
        response.id,
        before,
        response_snapshot(response),
    )
    if response.status == "completed":
        emit("survey.answered", session, response=response, actor=actor)
    return response


def get_response(session: Session, response_id: int, *, actor: User) -> SurveyResponse:
    require(actor, "survey:read")
    r = session.get(SurveyResponse, response_id)
    if r is None:
        raise NotFound("Survey response", response_id, field="response_id")
    return r


def update_response(
    session: Session,
    response_id: int,
    data: AnswersSubmit,
    *,
    actor: User,
    now: datetime | None = None,
) -> SurveyResponse:
    """Continue a partial response (a call that was interrupted), optionally completing it."""
    require(actor, "survey:respond")
    now = now or utcnow()
    get_response(session, response_id, actor=actor)
    # Locked: two agents finishing the same interrupted call complete it once.
    response = lock_row(session, SurveyResponse, response_id)
    if response.status == "completed":
        raise Conflict(f"Response {response.id} is already completed.", "response_id")
    survey = _survey(session, response.survey_id)
    _require_open(survey)
    checked, errors = validate_answers(survey, data.answers)
    if errors:
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)
    before = response_snapshot(response)
    _apply(response, checked)
    response.entered_by_id = actor.id
    if data.complete:
        _complete(survey, response, now)
        if response.invitation_id is not None:
            inv = session.get(SurveyInvitation, response.invitation_id)
            if inv is not None:
                inv.completed_at = now
    session.flush()
    record(
        session,
        actor,
        "update",
        "survey_response",
        response.id,
        before,
        response_snapshot(response),
    )
    if response.status == "completed":
        emit("survey.answered", session, response=response, actor=actor)
    return response


def list_responses(
    session: Session,
    survey_id: int,
    *,
    actor: User,
    status: str | None = None,
    channel: str | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
):
    """A page of a survey's responses with their answers."""
    require(actor, "survey:read")
    _survey(session, survey_id)
    stmt = select(SurveyResponse).where(SurveyResponse.survey_id == survey_id)
    if status:
        stmt = stmt.where(SurveyResponse.status == status)
    if channel:
        stmt = stmt.where(SurveyResponse.channel == channel)
    if customer_id is not None:
        stmt = stmt.where(SurveyResponse.customer_id == customer_id)
    stmt = stmt.order_by(SurveyResponse.id.desc()).options(selectinload(SurveyResponse.answers))
    return paginate(session, stmt, limit=limit, offset=offset)


@dataclass
class IngestRow:
    """One response to write from a bulk entry screen or an imported file."""

    row: int
    customer_id: int | None = None
    customer_external_id: str | None = None
    external_id: str | None = None
    channel: str | None = None
    completed_at: datetime | None = None
    status: str = "completed"
    answers: list[AnswerIn] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


EXPORT_ID_PREFIX = "retento-"


def ingest(
    session: Session,
    survey: Survey,
    rows: list[IngestRow],
    *,
    actor: User,
    channel: str,
    source: str,
    skip_invalid: bool,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Validate every row, then write them all (or the valid ones with ``skip_invalid``).

    A row whose ``external_id`` matches an earlier response of the survey (or the
    ``retento-<id>`` of an export) replaces that response's answers, so re-importing a file
    updates instead of duplicating.
    """
    _require_open(survey)
    now = now or utcnow()
    ext_ids = {r.customer_external_id for r in rows if r.customer_external_id}
    by_ext = (
        dict(
            session.execute(
                select(Customer.external_id, Customer.id).where(Customer.external_id.in_(ext_ids))
            ).all()
        )
        if ext_ids
        else {}
    )
    ids = {r.customer_id for r in rows if r.customer_id is not None}
    known_ids = (
        set(session.scalars(select(Customer.id).where(Customer.id.in_(ids)))) if ids else set()
    )
    resp_ext = {r.external_id for r in rows if r.external_id}
    existing = (
        {
            r.external_id: r
            for r in session.scalars(
                select(SurveyResponse)
                .where(SurveyResponse.external_id.in_(resp_ext))
                .options(selectinload(SurveyResponse.answers))
            )
        }
        if resp_ext
        else {}
    )
    for ext in resp_ext:
        if ext.startswith(EXPORT_ID_PREFIX) and ext[len(EXPORT_ID_PREFIX) :].isdigit():
            r = session.get(SurveyResponse, int(ext[len(EXPORT_ID_PREFIX) :]))
            if r is not None:
                existing[ext] = r
    seen: set[str] = set()
    plans: list[tuple[IngestRow, int | None, dict[int, Any]]] = []
    errors: list[FieldError] = []
    for r in rows:
        errs = list(r.errors)
        cid = r.customer_id
        if r.customer_external_id:
            if r.customer_external_id not in by_ext:
                errs.append(
                    FieldError(
                        "customer_external_id",
                        f"No customer has external id '{r.customer_external_id}'.",
                        r.row,
                    )
                )
            elif cid is not None and by_ext[r.customer_external_id] != cid:
                errs.append(
                    FieldError(
                        "customer_id", "customer_id and customer_external_id disagree.", r.row
                    )
                )
            else:
                cid = by_ext[r.customer_external_id]
        if r.customer_id is not None and r.customer_id not in known_ids:
            errs.append(
                FieldError("customer_id", f"Customer {r.customer_id} does not exist.", r.row)
            )
        if r.external_id:
            if r.external_id in seen:
                errs.append(FieldError("response_id", f"'{r.external_id}' appears twice.", r.row))
            seen.add(r.external_id)
            old = existing.get(r.external_id)
            if old is not None and old.survey_id != survey.id:
                errs.append(
                    FieldError(
                        "response_id",
                        f"'{r.external_id}' belongs to survey {old.survey_id}, not {survey.id}.",
                        r.row,
                    )
                )
        if r.completed_at is not None and r.completed_at > now + timedelta(minutes=5):
            errs.append(FieldError("completed_at", "The completion time is in the future.", r.row))
        checked, answer_errs = validate_answers(survey, r.answers, row=r.row)
        errs.extend(answer_errs)
        if r.status == "completed" and not answer_errs:
            answered = {qid for qid, v in checked.items() if v is not None}
            for q in survey.questions:
                if q.required and q.id not in answered:
                    old = existing.get(r.external_id or "")
                    if old is None or q.id not in {a.question_id for a in old.answers}:
                        errs.append(FieldError(q.code, "This question must be answered.", r.row))
        if errs:
            errors.extend(errs)
        else:
            plans.append((r, cid, checked))
    if errors and not skip_invalid:
        bad_rows = len({e.row for e in errors})
        raise InvalidInput(
            f"{len(errors)} problem(s) in {bad_rows} row(s); nothing was saved.",
            field=errors[0].field,
            errors=errors,
        )
    created = updated = 0
    for r, cid, checked in plans:
        response = existing.get(r.external_id or "")
        before = None
        if response is None:
            external = (
                None
                if r.external_id and r.external_id.startswith(EXPORT_ID_PREFIX)
                else r.external_id
            )
            inv = _open_invitation(session, survey.id, cid, now) if cid is not None else None
            if inv is not None and _invitation_response(session, inv) is not None:
                inv = None
            response = SurveyResponse(
                survey_id=survey.id,
                customer_id=cid,
                invitation_id=inv.id if inv else None,
                channel=r.channel or channel,
                source=source,
                status="partial",
                started_at=r.completed_at or now,
                external_id=external,
            )
            session.add(response)
            created += 1
        else:
            before = response_snapshot(response)
            response.customer_id = cid if cid is not None else response.customer_id
            response.channel = r.channel or response.channel
            updated += 1
        response.entered_by_id = actor.id
        _apply(response, checked)
        if r.status == "completed":
            when = r.completed_at or response.completed_at or now
            response.status = "completed"
            response.completed_at = when
            if response.invitation_id is not None:
                inv = session.get(SurveyInvitation, response.invitation_id)
                if inv is not None and inv.completed_at is None:
                    inv.completed_at = when
        session.flush()
        record(
            session,
            actor,
            "create" if before is None else "update",
            "survey_response",
            response.id,
            before,
            response_snapshot(response),
        )
        if response.status == "completed":
            # Subscribers are idempotent per response (a re-import awards nothing twice).
            emit("survey.answered", session, response=response, actor=actor)
    return {
        "created": created,
        "updated": updated,
        "skipped": len(rows) - len(plans),
        "errors": [e.as_dict() for e in errors],
    }


def bulk_responses(
    session: Session, survey_id: int, data: BulkResponses, *, actor: User
) -> dict[str, Any]:
    """Paper or on-site questionnaires typed in on one screen: all rows or none."""
    require(actor, "survey:respond")
    survey = _survey(session, survey_id)
    rows = [
        IngestRow(
            row=i + 1,
            customer_id=r.customer_id,
            customer_external_id=r.customer_external_id,
            external_id=r.external_id,
            completed_at=r.completed_at,
            answers=r.answers,
        )
        for i, r in enumerate(data.responses)
    ]
    return ingest(
        session,
        survey,
        rows,
        actor=actor,
        channel=data.channel,
        source="bulk",
        skip_invalid=data.skip_invalid,
    )


# Subscribes the survey notifications (a detractor or a low answer) to survey.answered wherever
# this service is used (web, API, CLI, worker).
from retento.surveys import notifications as _notifications  # noqa: E402, F401
