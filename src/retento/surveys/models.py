"""Satisfaction surveys (客户满意度): questionnaires, distributions, invitations, responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from retento.core.db import Base, UTCDateTime, utcnow
from retento.core.types import BigId
from retento.core.versioning import version_column

SURVEY_STATUSES = ("draft", "active", "closed")
# SPEC §3: telephone (an agent enters answers), mail/paper, on-site, online (one-time link).
CHANNELS = ("online", "phone", "mail", "onsite")
QUESTION_TYPES = (
    "rating",
    "nps",
    "ces",
    "single_choice",
    "multiple_choice",
    "free_text",
    "expectation_perception",
)
NUMERIC_TYPES = ("rating", "nps", "ces", "expectation_perception")
RATING_SCALES = ((1, 5), (1, 7), (1, 10))
# SPEC §3 standard sections; a question's satisfaction dimension is one of these or a free code.
SATISFACTION_DIMENSIONS = (
    "basic",
    "overall",
    "product.performance",
    "product.price",
    "product.quality",
    "product.packaging",
    "service.promise",
    "service.content",
    "service.response_time",
    "service.staff_attitude",
    "communication.channels",
    "communication.proactive",
    "competition",
    "intent.repurchase",
    "intent.recommend",
    "problems",
)
# SPEC §1 customer delivered value (客户让渡价值) = total value − total cost.
VALUE_DIMENSIONS = ("product", "service", "personnel", "image")
COST_DIMENSIONS = ("money", "time", "energy", "physical")
DELIVERED_VALUE_DIMENSIONS = VALUE_DIMENSIONS + COST_DIMENSIONS
# SPEC §7 experience modes a numeric question may measure (the journey domain's MODES).
EXPERIENCE_MODES = ("sense", "feel", "think", "act", "relate")
CSI_LATENTS = ("Image", "Expectation", "Quality", "Value", "Satisfaction", "Complaints", "Loyalty")
SEGMENT_KINDS = ("all", "value_class", "tag", "complaint_closed", "customers")
RESPONSE_STATUSES = ("partial", "completed")
RESPONSE_SOURCES = ("token", "agent", "bulk", "import")


class Survey(Base):
    __tablename__ = "surveys"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # The survey's own language: its texts are in the columns; the other language's texts,
    # when given, are in ``translations`` (surveys.languages decides when they are used).
    language: Mapped[str] = mapped_column(String(10), default="en")
    thank_you: Mapped[str | None] = mapped_column(Text)
    # {"zh_CN": {"name": ..., "description": ..., "thank_you": ...}}
    translations: Mapped[dict[str, dict[str, Any]] | None] = mapped_column(JSON)
    template: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    # c = b/a is "satisfied" within ±tolerance of 1 (SPEC §3: tolerance configurable).
    expectation_tolerance: Mapped[float] = mapped_column(Float, default=0.05)
    token_days: Mapped[int] = mapped_column(Integer, default=30)
    reminder_after_days: Mapped[int] = mapped_column(Integer, default=3)
    max_reminders: Mapped[int] = mapped_column(Integer, default=2)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = version_column()

    __mapper_args__ = {"version_id_col": version}

    sections: Mapped[list[SurveySection]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", order_by="SurveySection.position"
    )
    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="survey",
        cascade="all, delete-orphan",
        order_by=lambda: (SurveyQuestion.section_position, SurveyQuestion.position),
    )


class SurveySection(Base):
    __tablename__ = "survey_sections"
    __table_args__ = (Index("ix_survey_sections_survey_code", "survey_id", "code", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("surveys.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # {"zh_CN": {"title": ..., "description": ...}}
    translations: Mapped[dict[str, dict[str, Any]] | None] = mapped_column(JSON)

    survey: Mapped[Survey] = relationship(back_populates="sections")
    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="section", order_by="SurveyQuestion.position"
    )


class SurveyQuestion(Base):
    __tablename__ = "survey_questions"
    __table_args__ = (Index("ix_survey_questions_survey_code", "survey_id", "code", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("surveys.id", ondelete="CASCADE"))
    section_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("survey_sections.id", ondelete="CASCADE"), index=True
    )
    # Copied from the section so questions sort in questionnaire order without a join.
    section_position: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    code: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(Text)
    help_text: Mapped[str | None] = mapped_column(Text)
    qtype: Mapped[str] = mapped_column(String(30))
    scale_min: Mapped[int | None] = mapped_column(Integer)
    scale_max: Mapped[int | None] = mapped_column(Integer)
    options: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    satisfaction_dimension: Mapped[str | None] = mapped_column(String(50), index=True)
    value_dimension: Mapped[str | None] = mapped_column(String(20))
    csi_latent: Mapped[str | None] = mapped_column(String(20))
    csi_item: Mapped[str | None] = mapped_column(String(30))
    # SPEC §7: the experience mode (sense, feel, think, act, relate; journey.models.MODES) the
    # question measures; its numeric answers feed the experience dashboard.
    experience_mode: Mapped[str | None] = mapped_column(String(10))
    # {"zh_CN": {"text": ..., "help_text": ..., "options": {"<value>": "<label>"}}}
    translations: Mapped[dict[str, dict[str, Any]] | None] = mapped_column(JSON)

    survey: Mapped[Survey] = relationship(back_populates="questions")
    section: Mapped[SurveySection] = relationship(back_populates="questions")

    @property
    def scale_ends(self) -> str | None:
        """Which words label the two ends of the scale on every answer form.

        ``likelihood`` (NPS), ``ease`` (CES), ``satisfaction`` (other ratings) or, for a rating
        of a delivered-value cost (``money``, ``time``, ``energy``, ``physical``), that cost:
        cost questions are worded so that a higher answer is a heavier cost (metrics.py counts
        them against the value), so their ends read low … high cost, not dissatisfied …
        satisfied. None for questions without a single scale (pairs label their two scales).
        """
        if self.qtype == "nps":
            return "likelihood"
        if self.qtype == "ces":
            return "ease"
        if self.qtype != "rating":
            return None
        if self.value_dimension in COST_DIMENSIONS:
            return self.value_dimension
        return "satisfaction"


class SurveyDistribution(Base):
    """One mailing / call list: a survey sent to a customer segment on one channel."""

    __tablename__ = "survey_distributions"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("uq_survey_distributions_idempotency_key", "idempotency_key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survey_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("surveys.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(20))
    segment_kind: Mapped[str] = mapped_column(String(30))
    segment_value: Mapped[str | None] = mapped_column(String(100))
    invited: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # queued → running → done | failed: a worker creates the invitations (migration 0031).
    status: Mapped[str] = mapped_column(String(20), default="done", server_default="done")
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The form's (or the API's Idempotency-Key) key: a repeated request returns this
    # distribution; request_hash (survey and body) tells a retry from another request (0038).
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    survey: Mapped[Survey] = relationship()


class SurveyInvitation(Base):
    """One customer invited once; the one-time token is kept only as a SHA-256 hash."""

    __tablename__ = "survey_invitations"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index(
            "ix_survey_invitations_distribution_customer",
            "distribution_id",
            "customer_id",
            unique=True,
        ),
        Index("ix_survey_invitations_survey_customer", "survey_id", "customer_id"),
        Index("ix_survey_invitations_due", "completed_at", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    distribution_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("survey_distributions.id", ondelete="CASCADE")
    )
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("surveys.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Random per invitation; the token is HMAC(secret_key, id + salt), so reminders can rebuild
    # the link while the database alone never reveals a usable token.
    token_salt: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    distribution: Mapped[SurveyDistribution] = relationship()
    customer = relationship("Customer")


class SurveyResponse(Base):
    __tablename__ = "survey_responses"
    # Ids never reused on SQLite: the audit log, mails and notifications name rows by id (0054).
    __table_args__ = (
        Index("ix_survey_responses_survey_status", "survey_id", "status"),
        Index("ix_survey_responses_customer", "customer_id", "survey_id"),
        Index("uq_survey_responses_idempotency_key", "idempotency_key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    survey_id: Mapped[int] = mapped_column(BigId, ForeignKey("surveys.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("customers.id", ondelete="SET NULL")
    )
    # One response per invitation: a token resumes the same row until it is completed.
    invitation_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("survey_invitations.id", ondelete="SET NULL"), unique=True
    )
    channel: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(20), default="agent")
    status: Mapped[str] = mapped_column(String(20), default="partial")
    entered_by_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # "<key>:<row>" of the bulk entry that created it (the entry grid's key, the API's
    # Idempotency-Key): a resent grid finds its rows recorded and records nothing again (0056).
    idempotency_key: Mapped[str | None] = mapped_column(String(120))

    answers: Mapped[list[SurveyAnswer]] = relationship(
        back_populates="response", cascade="all, delete-orphan", order_by="SurveyAnswer.id"
    )
    survey: Mapped[Survey] = relationship()
    customer = relationship("Customer")


class SurveyAnswer(Base):
    """One answer: ``number`` (score, or perception b), ``expectation`` (a), text or choices."""

    __tablename__ = "survey_answers"
    __table_args__ = (
        Index("ix_survey_answers_response_question", "response_id", "question_id", unique=True),
        Index("ix_survey_answers_question", "question_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    response_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("survey_responses.id", ondelete="CASCADE")
    )
    question_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("survey_questions.id", ondelete="CASCADE")
    )
    number: Mapped[float | None] = mapped_column(Float)
    expectation: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(Text)
    choices: Mapped[list[str] | None] = mapped_column(JSON)

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")
    question: Mapped[SurveyQuestion] = relationship()


@event.listens_for(Session, "before_flush")
def _touch_response_on_answer_change(session: Session, _ctx: Any, _instances: Any) -> None:
    """An added, edited or deleted answer moves its response's ``updated_at``.

    The results cache (``surveys.results_cache``) recognises a change by the responses'
    latest ``updated_at``; an answer edited alone would not move it otherwise.
    """
    now = None
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, SurveyAnswer):
            response = obj.response
            if response is not None and response not in session.deleted:
                now = now or utcnow()
                response.updated_at = now
