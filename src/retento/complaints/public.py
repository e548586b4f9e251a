"""The public complaint form API: no login, rate-limited per IP (shared by all workers through
the database), honeypot, tracking codes."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from retento.complaints import public_intake, service
from retento.complaints.followup import answer_survey, followup_question
from retento.complaints.models import RateHit
from retento.complaints.schemas import (
    PublicComplaintIn,
    PublicReceipt,
    PublicReplyIn,
    PublicStatus,
    SurveyAnswerIn,
)
from retento.core.db import transaction, utcnow
from retento.core.deps import DbSession, IdempotencyKey
from retento.core.errors import InvalidInput, RetentoError

router = APIRouter(prefix="/api/v1/public/complaints", tags=["public complaints"])

MAX_POSTS = 5
WINDOW_SECONDS = 600.0


class TooManyRequests(RetentoError):
    def __init__(self, retry_after: int):
        super().__init__(
            429,
            "rate_limited",
            f"Too many submissions from this address; try again in {retry_after} seconds.",
        )
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class RateLimiter:
    """Sliding-window limit per client key, shared by every worker process through the database.

    Each accepted hit is a ``complaint_rate_hits`` row; a key's rows older than the window are
    deleted on its next hit and the ``complaint_rate_hits_prune`` job removes idle keys' rows.
    On PostgreSQL an advisory lock per key serialises concurrent hits, so two workers cannot
    both let the last allowed request through.
    """

    def __init__(self, max_events: int = MAX_POSTS, window_seconds: float = WINDOW_SECONDS):
        self.max_events = max_events
        self.window = timedelta(seconds=window_seconds)

    def hit(self, session: Session, key: str, now: datetime | None = None) -> None:
        """Count one event for ``key`` (flushes); raise ``TooManyRequests`` beyond the limit."""
        now = now or utcnow()
        key = key[:100]
        start = now - self.window
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(_lock_id(key))))
        session.execute(delete(RateHit).where(RateHit.key == key, RateHit.at <= start))
        recent = session.scalars(
            select(RateHit.at)
            .where(RateHit.key == key, RateHit.at > start)
            .order_by(RateHit.at)
            .limit(self.max_events)
        ).all()
        if len(recent) >= self.max_events:
            wait = (recent[0] + self.window - now).total_seconds()
            raise TooManyRequests(int(wait) + 1)
        session.add(RateHit(key=key, at=now))
        session.flush()


def _lock_id(key: str) -> int:
    """A stable signed 64-bit advisory-lock id for a rate-limit key."""
    digest = hashlib.blake2b(f"complaint-rate:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def prune_hits(session: Session, older_than: timedelta = timedelta(seconds=WINDOW_SECONDS)) -> int:
    """Delete rate-limit hits that no window can still see; returns how many."""
    result = session.execute(delete(RateHit).where(RateHit.at <= utcnow() - older_than))
    return result.rowcount or 0


def limiter(request: Request) -> RateLimiter:
    """The app's limiter settings (created on first use, replaceable in tests)."""
    state = request.app.state
    if getattr(state, "complaint_rate_limiter", None) is None:
        state.complaint_rate_limiter = RateLimiter()
    return state.complaint_rate_limiter


def check_rate(request: Request) -> None:
    """Count this request against its client address, in a transaction of its own.

    Committed at once, so the hit counts even when the submission itself fails and the
    request's transaction rolls back (a wrong tracking code is still an attempt).
    """
    with transaction(request.app.state.session_factory) as session:
        limiter(request).hit(session, client_ip(request))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("", response_model=PublicReceipt, status_code=201)
def submit(
    data: PublicComplaintIn,
    request: Request,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
):
    """Submit a complaint without logging in; returns the tracking code."""
    c = public_intake.earlier_submission(session, data, idempotency_key)  # a retry: not counted
    if c is None:
        check_rate(request)
        c = public_intake.submit_public(session, data, idempotency_key=idempotency_key)
    return PublicReceipt(tracking_code=c.tracking_code, status=c.status, received_at=c.received_at)


@router.get("/followup/{token}")
def followup(token: str, session: DbSession) -> dict:
    """The satisfaction question behind the follow-up link."""
    c = followup_question(session, token)
    return {
        "tracking_code": c.tracking_code,
        "subject": c.subject,
        "feedback": c.feedback,
        "answered": c.survey_answered_at is not None,
    }


@router.post("/followup/{token}")
def answer_followup(token: str, data: SurveyAnswerIn, request: Request, session: DbSession):
    """Resolution CSAT (1–5) and "would you buy again"."""
    check_rate(request)
    c = answer_survey(session, token, data)
    return {"tracking_code": c.tracking_code, "status": c.status}


@router.get("/{tracking_code}", response_model=PublicStatus)
def status(tracking_code: str, session: DbSession):
    """Status and customer-visible timeline of a complaint."""
    return service.public_status(session, tracking_code)


@router.post("/{tracking_code}/replies", status_code=201)
def reply(
    tracking_code: str,
    data: PublicReplyIn,
    request: Request,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
):
    """The customer answers a question from the agent (the SLA clock resumes)."""
    check_rate(request)
    if data.website:
        raise InvalidInput("The form could not be accepted.", field="website")
    service.public_reply(session, tracking_code, data.body, idempotency_key=idempotency_key)
    return service.public_status(session, tracking_code)
