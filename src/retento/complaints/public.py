"""The public complaint form API: no login, rate-limited per IP, honeypot, tracking codes."""

from __future__ import annotations

import threading
import time
from collections import deque

from fastapi import APIRouter, Request

from retento.complaints import service
from retento.complaints.schemas import (
    PublicComplaintIn,
    PublicReceipt,
    PublicReplyIn,
    PublicStatus,
    SurveyAnswerIn,
)
from retento.core.deps import DbSession
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


class RateLimiter:
    """Sliding-window counter per key, in memory (one process; enough against casual spam)."""

    def __init__(self, max_events: int = MAX_POSTS, window_seconds: float = WINDOW_SECONDS):
        self.max_events = max_events
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one event for ``key``; raise ``TooManyRequests`` beyond the limit."""
        now = time.monotonic() if now is None else now
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.max_events:
                raise TooManyRequests(int(q[0] + self.window - now) + 1)
            q.append(now)
            if len(self._hits) > 10_000:  # forget idle addresses so memory stays bounded
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[k]


def limiter(request: Request) -> RateLimiter:
    """The app's limiter (created on first use, replaceable in tests)."""
    state = request.app.state
    if getattr(state, "complaint_rate_limiter", None) is None:
        state.complaint_rate_limiter = RateLimiter()
    return state.complaint_rate_limiter


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("", response_model=PublicReceipt, status_code=201)
def submit(data: PublicComplaintIn, request: Request, session: DbSession):
    """Submit a complaint without logging in; returns the tracking code."""
    limiter(request).hit(client_ip(request))
    c = service.submit_public(session, data)
    return PublicReceipt(tracking_code=c.tracking_code, status=c.status, received_at=c.received_at)


@router.get("/followup/{token}")
def followup(token: str, session: DbSession) -> dict:
    """The satisfaction question behind the follow-up link."""
    c = service.followup_question(session, token)
    return {
        "tracking_code": c.tracking_code,
        "subject": c.subject,
        "feedback": c.feedback,
        "answered": c.survey_answered_at is not None,
    }


@router.post("/followup/{token}")
def answer_followup(token: str, data: SurveyAnswerIn, request: Request, session: DbSession):
    """Resolution CSAT (1–5) and "would you buy again"."""
    limiter(request).hit(client_ip(request))
    c = service.answer_survey(session, token, data)
    return {"tracking_code": c.tracking_code, "status": c.status}


@router.get("/{tracking_code}", response_model=PublicStatus)
def status(tracking_code: str, session: DbSession):
    """Status and customer-visible timeline of a complaint."""
    return service.public_status(session, tracking_code)


@router.post("/{tracking_code}/replies", status_code=201)
def reply(tracking_code: str, data: PublicReplyIn, request: Request, session: DbSession):
    """The customer answers a question from the agent (the SLA clock resumes)."""
    limiter(request).hit(client_ip(request))
    if data.website:
        raise InvalidInput("The form could not be accepted.", field="website")
    service.public_reply(session, tracking_code, data.body)
    return service.public_status(session, tracking_code)
