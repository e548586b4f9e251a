"""Survey API shapes: builder input, distributions, answers, responses and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retento.core.errors import Msg
from retento.core.timeutil import UTCDatetime
from retento.core.validation import DbId, Name, Number
from retento.core.versioning import ExpectedVersion
from retento.surveys.models import NUMERIC_TYPES as NUMERIC_QUESTION_TYPES
from retento.surveys.models import RATING_SCALES

Channel = Literal["online", "phone", "mail", "onsite"]
QuestionType = Literal[
    "rating",
    "nps",
    "ces",
    "single_choice",
    "multiple_choice",
    "free_text",
    "expectation_perception",
]
ValueDimension = Literal[
    "product", "service", "personnel", "image", "money", "time", "energy", "physical"
]
CsiLatent = Literal[
    "Image", "Expectation", "Quality", "Value", "Satisfaction", "Complaints", "Loyalty"
]
# SPEC §7 experience modes (journey.models.MODES).
ExperienceMode = Literal["sense", "feel", "think", "act", "relate"]
SurveyStatus = Literal["draft", "active", "closed"]
Language = Literal["en", "zh_CN"]
TemplateName = Literal["standard", "ecsi"]
SegmentKind = Literal["all", "value_class", "tag", "complaint_closed", "customers", "insight"]

CODE_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]{0,49}$"


class OptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(min_length=1, max_length=50)
    label: str = Field(min_length=1, max_length=200)


class QuestionText(BaseModel):
    """A question's texts in the survey's second language."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, max_length=2000)
    help_text: str | None = Field(None, max_length=2000)
    options: dict[str, str] | None = Field(
        None, description="Option labels by option value.", max_length=100
    )


class SectionText(BaseModel):
    """A section's texts in the survey's second language."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=2000)


class SurveyText(BaseModel):
    """The survey's own texts in its second language."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=5000)
    thank_you: str | None = Field(None, max_length=2000)


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE_PATTERN)
    text: str = Field(min_length=1, max_length=2000)
    help_text: str | None = Field(None, max_length=2000)
    qtype: QuestionType
    scale_min: int | None = None
    scale_max: int | None = None
    options: list[OptionIn] | None = None
    required: bool = False
    satisfaction_dimension: str | None = Field(None, pattern=CODE_PATTERN)
    value_dimension: ValueDimension | None = None
    csi_latent: CsiLatent | None = None
    csi_item: str | None = Field(None, pattern=CODE_PATTERN)
    experience_mode: ExperienceMode | None = None
    translations: dict[Language, QuestionText] | None = None

    @model_validator(mode="after")
    def _check_scale_and_options(self) -> QuestionIn:
        """Fix the scale per type and require options exactly for choice questions."""
        if self.qtype == "nps":
            if (self.scale_min, self.scale_max) not in ((None, None), (0, 10)):
                raise ValueError("an NPS question is always scored 0–10")
            self.scale_min, self.scale_max = 0, 10
        elif self.qtype == "ces":
            self.scale_min = 1 if self.scale_min is None else self.scale_min
            self.scale_max = 7 if self.scale_max is None else self.scale_max
            if (self.scale_min, self.scale_max) not in ((1, 5), (1, 7)):
                raise ValueError("a CES question is scored 1–5 or 1–7")
        elif self.qtype in ("rating", "expectation_perception"):
            self.scale_min = 1 if self.scale_min is None else self.scale_min
            self.scale_max = 5 if self.scale_max is None else self.scale_max
            if (self.scale_min, self.scale_max) not in RATING_SCALES:
                raise ValueError("a rating scale is 1–5, 1–7 or 1–10")
        elif self.scale_min is not None or self.scale_max is not None:
            raise ValueError(Msg("a %(qtype)s question has no scale", qtype=self.qtype))
        if self.qtype in ("single_choice", "multiple_choice"):
            if not self.options or len(self.options) < 2:
                raise ValueError("a choice question needs at least two options")
            values = [o.value for o in self.options]
            if len(set(values)) != len(values):
                raise ValueError("option values must be unique")
        elif self.options:
            raise ValueError(Msg("a %(qtype)s question has no options", qtype=self.qtype))
        if self.csi_latent and self.qtype not in ("rating", "nps", "ces", "expectation_perception"):
            raise ValueError("only numeric questions can measure a CSI latent")
        if self.value_dimension and self.qtype not in ("rating", "expectation_perception"):
            raise ValueError("only rating questions can measure a delivered-value dimension")
        if self.experience_mode and self.qtype not in NUMERIC_QUESTION_TYPES:
            raise ValueError("only numeric questions can measure an experience mode")
        if self.csi_latent and not self.csi_item:
            self.csi_item = self.code
        values = {o.value for o in self.options or []}
        for lang, t in (self.translations or {}).items():
            unknown = sorted(set(t.options or {}) - values)
            if unknown:
                raise ValueError(
                    Msg(
                        "translations.%(lang)s: no option '%(option)s'",
                        lang=lang,
                        option=unknown[0],
                    )
                )
        return self


class SectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=CODE_PATTERN)
    title: Name = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    questions: list[QuestionIn] = Field(default_factory=list, max_length=200)
    translations: dict[Language, SectionText] | None = None


def _check_codes(sections: list[SectionIn] | None) -> None:
    if sections is None:
        return
    seen_sections: set[str] = set()
    seen_q: set[str] = set()
    seen_items: set[str] = set()
    for s in sections:
        if s.code in seen_sections:
            raise ValueError(Msg("section code '%(code)s' is used twice", code=s.code))
        seen_sections.add(s.code)
        for q in s.questions:
            if q.code in seen_q:
                raise ValueError(Msg("question code '%(code)s' is used twice", code=q.code))
            seen_q.add(q.code)
            if q.csi_item:
                if q.csi_item in seen_items:
                    raise ValueError(
                        Msg("CSI item '%(csi_item)s' is used twice", csi_item=q.csi_item)
                    )
                seen_items.add(q.csi_item)


class SurveySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=5000)
    language: Language = "en"
    thank_you: str | None = Field(
        None, max_length=2000, description="Shown after the customer sends the answers."
    )
    translations: dict[Language, SurveyText] | None = Field(
        None, description="Name, description and thank-you text in the second language."
    )
    expectation_tolerance: float = Field(0.05, ge=0, le=0.5)
    token_days: int = Field(30, ge=1, le=365)
    reminder_after_days: int = Field(3, ge=1, le=90)
    max_reminders: int = Field(2, ge=0, le=10)


class SurveyCreate(SurveySettings):
    name: Name = Field(min_length=1, max_length=200)
    external_id: str | None = Field(None, min_length=1, max_length=64)
    sections: list[SectionIn] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _codes(self) -> SurveyCreate:
        _check_codes(self.sections)
        return self


class SurveyFromTemplate(SurveySettings):
    template: TemplateName = "standard"
    name: Name | None = Field(None, min_length=1, max_length=200)
    external_id: str | None = Field(None, min_length=1, max_length=64)


class SurveyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    name: Name | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    language: Language | None = None
    thank_you: str | None = Field(None, max_length=2000)
    translations: dict[Language, SurveyText] | None = None
    status: SurveyStatus | None = None
    expectation_tolerance: float | None = Field(None, ge=0, le=0.5)
    token_days: int | None = Field(None, ge=1, le=365)
    reminder_after_days: int | None = Field(None, ge=1, le=90)
    max_reminders: int | None = Field(None, ge=0, le=10)
    sections: list[SectionIn] | None = Field(None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _codes(self) -> SurveyUpdate:
        _check_codes(self.sections)
        return self


class QuestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    text: str
    help_text: str | None
    qtype: str
    scale_min: int | None
    scale_max: int | None
    options: list[OptionIn] | None
    required: bool
    satisfaction_dimension: str | None
    value_dimension: str | None
    csi_latent: str | None
    csi_item: str | None
    experience_mode: str | None = None
    translations: dict[str, QuestionText] | None = None


class SectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    title: str
    description: str | None
    questions: list[QuestionRead]
    translations: dict[str, SectionText] | None = None


class SurveySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    external_id: str | None
    name: str
    description: str | None
    language: str
    thank_you: str | None = None
    translations: dict[str, SurveyText] | None = None
    template: str | None
    status: str
    expectation_tolerance: float
    token_days: int
    reminder_after_days: int
    max_reminders: int
    created_at: datetime
    updated_at: datetime


class SurveyRead(SurveySummary):
    sections: list[SectionRead]
    languages: list[str] = Field(
        default_factory=list,
        description="The survey's own language, then each other language it has complete.",
    )
    missing: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per other language, the texts still missing (where:code:key).",
    )


class TranslationIn(BaseModel):
    """All texts of a survey in one of its languages other than its own (replaces them)."""

    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    survey: SurveyText = Field(default_factory=SurveyText)
    sections: dict[str, SectionText] = Field(default_factory=dict, max_length=50)
    questions: dict[str, QuestionText] = Field(default_factory=dict, max_length=10_000)


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: SegmentKind = "all"
    value: str | None = Field(
        None,
        max_length=100,
        description="The value class (vip, major, …), the tag, or for 'insight' a saved "
        "Insights segment as <segment id>:<cluster> (e.g. 3:0).",
    )
    customer_ids: list[DbId] | None = Field(None, max_length=100_000)
    closed_since: UTCDatetime | None = Field(
        None, description="complaint_closed: only complaints closed at or after this moment."
    )

    @model_validator(mode="after")
    def _needs_value(self) -> SegmentIn:
        if self.kind in ("value_class", "tag", "insight") and not self.value:
            raise ValueError(Msg("a '%(kind)s' segment needs a value", kind=self.kind))
        if self.kind == "customers" and not self.customer_ids:
            raise ValueError("a 'customers' segment needs customer_ids")
        return self


class DistributionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Channel = "online"
    segment: SegmentIn = Field(default_factory=SegmentIn)
    name: str = Field("", max_length=200)
    expires_in_days: int | None = Field(None, ge=1, le=365)
    send: bool = Field(
        True,
        description="Mark the invitations as sent now; online invitees with an e-mail address "
        "and e-mail consent get an invitation e-mail.",
    )


class DistributionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    survey_id: DbId
    name: str
    channel: str
    segment_kind: str
    segment_value: str | None
    invited: int
    expires_at: datetime
    created_at: datetime
    status: str = Field(
        "done",
        description="queued or running: a worker is creating the invitations; done; failed "
        "(see error).",
    )
    error: str | None = None
    finished_at: datetime | None = None


class InvitationLink(BaseModel):
    invitation_id: DbId
    customer_id: DbId
    channel: str
    token: str
    path: str


class DistributionRun(DistributionRead):
    """A distribution as queued work: its status and progress, then its links and e-mails."""

    stage: str | None = Field(None, description="What the worker is doing (while running).")
    progress: float | None = Field(None, description="0..1 while queued or running; 1 when done.")
    url: str = Field(description="Poll this URL (GET) until status is done or failed.")
    links: list[InvitationLink] | None = Field(
        None,
        description="The one-time links of the open invitations, once done (to users who may "
        "send surveys, survey:manage); null before.",
    )
    emails_queued: int = Field(0, description="Invitation e-mails in the outbox not yet sent.")
    not_emailed: int = Field(
        0, description="Online invitees without an e-mail address or e-mail consent."
    )
    skipped_open_invitations: int = Field(
        0, description="Customers of the segment not invited: already invited, not answered yet."
    )
    skipped_archived: int = Field(0, description="Customers of the segment not invited: archived.")
    skipped_no_consent: int = Field(
        0, description="Customers of the segment not invited: no consent for the channel."
    )


# The longest free-text answer (a public form, phone or paper entry, the API).
MAX_ANSWER_TEXT = 10_000


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=50, description="The question code.")
    number: Number | None = Field(None, description="Score; for a pair, the perception b.")
    expectation: Number | None = Field(None, description="For a pair, the expectation a.")
    text: str | None = Field(None, max_length=MAX_ANSWER_TEXT)
    choices: list[str] | None = Field(None, max_length=100)


class AnswersSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: list[AnswerIn] = Field(default_factory=list, max_length=500)
    complete: bool = False


class ResponseCreate(AnswersSubmit):
    customer_id: DbId | None = None
    channel: Channel = "phone"
    external_id: str | None = Field(None, min_length=1, max_length=64)
    complete: bool = True
    # A second response of the same customer to the same survey needs this confirmation
    # (otherwise 409 duplicate_response).
    allow_duplicate: bool = False


class BulkRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: DbId | None = None
    customer_external_id: str | None = Field(None, max_length=64)
    external_id: str | None = Field(None, min_length=1, max_length=64)
    completed_at: UTCDatetime | None = None
    answers: list[AnswerIn] = Field(default_factory=list, max_length=500)


class BulkResponses(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Channel = "mail"
    responses: list[BulkRow] = Field(min_length=1, max_length=5000)
    skip_invalid: bool = False


class AnswerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    question_id: DbId
    number: float | None
    expectation: float | None
    text: str | None
    choices: list[str] | None


class ResponseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    external_id: str | None
    survey_id: DbId
    customer_id: int | None
    invitation_id: int | None
    channel: str
    source: str
    status: str
    started_at: datetime
    completed_at: datetime | None
    answers: list[AnswerRead]


class PublicQuestion(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    text: str
    help_text: str | None
    qtype: str
    scale_min: int | None
    scale_max: int | None
    options: list[OptionIn] | None
    required: bool
    scale_ends: str | None = Field(
        None,
        description="Words for the scale's ends: satisfaction, likelihood (NPS), ease (CES), "
        "or for cost questions money / time / energy / physical (low … high cost).",
    )


class PublicSection(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    title: str
    description: str | None
    questions: list[PublicQuestion]


class PublicAnswer(BaseModel):
    question: str
    number: float | None
    expectation: float | None
    text: str | None
    choices: list[str] | None


class PublicSurvey(BaseModel):
    """What a respondent sees behind a one-time link: no internal tags, no customer data."""

    name: str
    description: str | None
    thank_you: str | None = None
    language: str = Field(description="The language of the texts (and of the page's buttons).")
    languages: list[str] = Field(
        default_factory=list, description="The languages the survey can be shown in."
    )
    status: Literal["partial", "completed", "new"]
    expires_at: datetime
    sections: list[PublicSection]
    answers: list[PublicAnswer]


class ImportReport(BaseModel):
    created: int
    updated: int
    skipped: int
    errors: list[dict[str, Any]]
