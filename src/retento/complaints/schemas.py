"""Complaint API shapes: intake, workflow actions, remedies, SLA policies, calendars, PDCA."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from retento.core.errors import FieldValueError, Msg
from retento.core.money import Money
from retento.core.timeutil import UTCDatetime
from retento.core.validation import Day, DbId, Name, OptionalName, Phone
from retento.core.versioning import ExpectedVersion

Kind = Literal["complaint", "grumble"]
Channel = Literal["phone", "email", "web_form", "store", "chat", "social", "api"]
Emotion = Literal["calm", "cold", "intense"]
Purpose = Literal["heard", "respected", "resolved", "compensated"]
RemedyKind = Literal["apology", "explanation", "compensation", "thanks"]
CompensationType = Literal["voucher", "refund", "gift", "loyalty_points"]
ValueClass = Literal["vip", "major", "ordinary", "small", "below_zero"]
Action = Literal[
    "start", "await_customer", "customer_replied", "resolve", "follow_up", "close", "reopen"
]
PdcaStage = Literal["plan", "do", "check", "act", "done"]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _not_blank(body: str | None) -> str | None:
    """Text that says something (None stays None: an update that leaves the field alone): a
    message of spaces was e-mailed to the customer and counted as the first response (the SLA
    clock met by nothing); a description or plan of spaces was kept where the forms refuse it."""
    if body is None:
        return None
    if not body.strip():
        raise ValueError("must not be blank")
    return body.strip()


class ComplaintCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: DbId
    kind: Kind = "complaint"
    channel: Channel = "phone"
    category_id: DbId | None = None
    category: str | None = Field(None, description="Category code, instead of category_id.")
    subject: Name = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=20000)
    order_id: DbId | None = None
    product_id: DbId | None = None
    severity: int = Field(1, ge=1, le=4, description="1 inconvenience … 4 serious loss.")
    emotion: Emotion = "calm"
    purposes: list[Purpose] = Field(default_factory=list)
    root_cause: str | None = Field(None, max_length=100)
    received_at: UTCDatetime | None = None
    assignee_id: DbId | None = None
    team_manager_id: DbId | None = None
    external_id: str | None = Field(None, min_length=1, max_length=64)
    contact_name: Name | None = Field(None, max_length=200)
    contact_email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    contact_phone: Phone | None = None

    _purposes = field_validator("purposes")(lambda cls, v: _unique(v))
    _description = field_validator("description")(lambda cls, v: _not_blank(v))

    @model_validator(mode="after")
    def _category_given(self) -> ComplaintCreate:
        if self.category_id is None and not self.category:
            raise FieldValueError("category", "give category_id or category (a category code)")
        return self


class ComplaintUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: ExpectedVersion = None
    kind: Kind | None = None
    channel: Channel | None = None
    category_id: DbId | None = None
    subject: Name | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, min_length=1, max_length=20000)
    order_id: DbId | None = None
    product_id: DbId | None = None
    severity: int | None = Field(None, ge=1, le=4)
    emotion: Emotion | None = None
    purposes: list[Purpose] | None = None
    root_cause: str | None = Field(None, max_length=100)

    _description = field_validator("description")(lambda cls, v: _not_blank(v))


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    note: str | None = Field(None, max_length=20000, description="Feedback text for 'resolve'.")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee_id: DbId | None = None
    team_manager_id: DbId | None = None
    note: str | None = Field(None, max_length=2000)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=20000)
    kind: Literal["note", "message", "customer_reply"] = "note"

    _body = field_validator("body")(lambda cls, v: _not_blank(v))


class RemedyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: RemedyKind
    compensation_type: CompensationType | None = None
    amount: Money = Decimal("0.00")
    cost: Money = Decimal("0.00")
    points: int = Field(0, ge=0, le=10_000_000, validate_default=True)
    note: str | None = Field(None, max_length=5000)
    given_at: UTCDatetime | None = None

    @field_validator("points")
    @classmethod
    def _points_go_with_their_type(cls, points: int, info: ValidationInfo) -> int:
        """Points belong to a loyalty points compensation, which needs some: points on a
        voucher were recorded and shown ("50 points") but never posted to the member."""
        kind = info.data.get("compensation_type")
        if points and kind != "loyalty_points":
            raise ValueError("only a loyalty points compensation gives points")
        if kind == "loyalty_points" and not points:
            raise ValueError("a loyalty points compensation needs its points (1 or more)")
        return points

    @model_validator(mode="after")
    def _compensation(self) -> RemedyCreate:
        if self.amount < 0:
            raise FieldValueError("amount", "amount must not be negative")
        if self.cost < 0:
            raise FieldValueError("cost", "cost must not be negative")
        if self.kind == "compensation" and self.compensation_type is None:
            raise FieldValueError(
                "compensation_type", "compensation_type is required for a compensation"
            )
        if self.kind != "compensation" and (self.compensation_type or self.amount or self.points):
            raise FieldValueError("kind", "only a compensation has a type, amount or points")
        if self.compensation_type == "refund" and not self.amount:
            # A refund of nothing was recorded and shown as "Refund" without an amount.
            raise FieldValueError("amount", "a refund needs its amount (more than 0)")
        if self.compensation_type == "refund" and not self.cost:
            # The money paid back is what a refund costs: left blank, it was costed at 0.00 and
            # the dashboard's recovery cost left the refunds out.
            self.cost = self.amount
        return self


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    won_back: bool
    note: str | None = Field(None, max_length=5000)


class SurveyAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csat: int = Field(ge=1, le=5, description="Satisfaction with the resolution, 1–5.")
    would_buy_again: bool
    comment: str | None = Field(None, max_length=2000)


class PublicComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # Checked as a customer's (it becomes the new customer's phone): free text was stored.
    phone: Phone | None = None
    category: str = Field("other", max_length=50)
    subject: Name = Field(min_length=3, max_length=200)
    description: str = Field(min_length=10, max_length=5000)
    order_reference: str | None = Field(None, max_length=64)
    purposes: list[Purpose] = Field(default_factory=list)
    # Honeypot: hidden in the form; people leave it empty, bots fill it in.
    website: str | None = Field(None, max_length=200)

    _purposes = field_validator("purposes")(lambda cls, v: _unique(v))


class PublicReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=5000)
    website: str | None = Field(None, max_length=200)

    _body = field_validator("body")(lambda cls, v: _not_blank(v))


class PublicReceipt(BaseModel):
    tracking_code: str
    status: str
    received_at: datetime


class PublicEvent(BaseModel):
    at: datetime
    kind: str
    body: str | None


class PublicStatus(BaseModel):
    tracking_code: str
    subject: str
    status: str
    received_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    events: list[PublicEvent]
    survey_open: bool


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    complaint_id: DbId
    at: datetime
    kind: str
    internal: bool
    actor_id: int | None
    actor_name: str
    body: str | None
    data: dict[str, Any] | None


class RemedyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    complaint_id: DbId
    kind: str
    compensation_type: str | None
    amount: Money
    cost: Money
    points: int
    note: str | None
    given_at: datetime


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class ComplaintRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    version: int
    external_id: str | None
    tracking_code: str
    customer_id: DbId
    kind: str
    channel: str
    category_id: DbId
    root_cause: str | None
    subject: str
    description: str
    order_id: int | None
    product_id: int | None
    severity: int
    severity_name: str
    emotion: str
    purposes: list[str]
    status: str
    assignee_id: int | None
    team_manager_id: int | None
    value_class: str
    sla_policy_id: int | None
    received_at: datetime
    first_response_due_at: datetime | None
    first_responded_at: datetime | None
    resolution_due_at: datetime | None
    paused_since: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    # the current clocks (cleared by a reopen or a longer target) …
    first_response_breached: bool
    resolution_breached: bool
    # … and whether a deadline was ever missed (the reports' breach counts)
    first_response_ever_breached: bool = False
    resolution_ever_breached: bool = False
    first_response_flag: str
    sla_flag: str
    flagged: bool
    reopen_count: int
    feedback: str | None
    csat: int | None
    would_buy_again: bool | None
    won_back: bool | None
    created_at: datetime
    updated_at: datetime


class ComplaintDetail(ComplaintRead):
    allowed_actions: list[str]
    sla: dict[str, Any]
    events: list[EventRead]
    remedies: list[RemedyRead]
    attachments: list[AttachmentRead]


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9_\-.]+$")
    name: Name = Field(min_length=1, max_length=100)
    name_zh: OptionalName | None = Field(None, max_length=100)
    parent_id: DbId | None = None


class CategoryUpdate(BaseModel):
    """Rename, move (``parent_id``: null = top level) or (de)activate a category; the code stays."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = Field(None, min_length=1, max_length=100)
    name_zh: OptionalName | None = Field(None, max_length=100)
    parent_id: DbId | None = None
    is_active: bool | None = None
    version: ExpectedVersion = None


class CategoryRead(CategoryCreate):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str  # what is stored is shown as is; only new input is checked
    is_active: bool
    version: int


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = Field(min_length=1, max_length=100)
    timezone: str = Field("UTC", max_length=64)
    hours: dict[str, list[list[str]]] = Field(
        default_factory=dict, description='{"0": [["09:00", "17:00"]], ...}; 0 is Monday.'
    )
    holidays: list[Day] = Field(default_factory=list)
    version: ExpectedVersion = None  # on replace (PUT): the version edited

    @field_validator("hours")
    @classmethod
    def _one_key_per_weekday(cls, hours: dict[str, list[list[str]]]) -> dict:
        """Keys "0" and "00" (or "０") are both Monday: the last one silently replaced the first's
        hours, so two keys for one weekday are refused."""
        seen: dict[int, str] = {}
        for key in hours:
            try:
                day = int(key)
            except ValueError:
                continue  # not a weekday at all: refused when the calendar is built
            if day in seen:
                # a fixed sentence: pydantic passes the message on as text, translated whole
                raise ValueError(Msg('a weekday is given twice ("0" and "00" are both Monday)'))
            seen[day] = key
        return hours


class CalendarRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    timezone: str
    hours: dict[str, Any]
    holidays: list[str]
    version: int


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+)\s*(?:m|min)?)?$", re.I)


def parse_minutes(value: Any) -> Any:
    """An SLA target as minutes: ``90``, ``90m``, ``4h``, ``1.5h`` or ``1h30m`` (also ``4 h``,
    ``30 min``); numbers pass through. Anything else is refused with the accepted forms."""
    if not isinstance(value, str):
        return value
    text = value.strip().replace("小时", "h").replace("分钟", "m").replace("分", "m")
    m = _DURATION.match(text)
    if not text or m is None or not (m.group(1) or m.group(2)):
        raise ValueError("write minutes (90), hours (4h) or both (1h30m)")
    if len(text) > 20:  # a year is 525600 minutes: longer input is no target (and no float)
        raise ValueError("write minutes (90), hours (4h) or both (1h30m)")
    minutes = Decimal(m.group(1) or 0) * 60 + int(m.group(2) or 0)  # exact: 1.01h is not 60.6
    if minutes != int(minutes):
        raise ValueError("hours must come to whole minutes (1.5h, not 1.01h)")
    return int(minutes)


# Business minutes; the forms also take hours ("4h", "1h30m").
Minutes = Annotated[int, BeforeValidator(parse_minutes), Field(ge=1, le=60 * 24 * 365)]


class SlaPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = Field(min_length=1, max_length=100)
    severity: int | None = Field(None, ge=1, le=4)
    value_class: ValueClass | None = None
    priority: int = Field(100, ge=0, le=100000)
    first_response_minutes: Minutes
    resolution_minutes: Minutes
    warn_fraction: float = Field(0.8, gt=0, le=1)
    calendar_id: DbId
    auto_reassign_to_id: DbId | None = None
    is_active: bool = True


class SlaPolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = Field(None, min_length=1, max_length=100)
    severity: int | None = Field(None, ge=1, le=4)
    value_class: ValueClass | None = None
    priority: int | None = Field(None, ge=0, le=100000)
    first_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    warn_fraction: float | None = Field(None, gt=0, le=1)
    calendar_id: DbId | None = None
    auto_reassign_to_id: DbId | None = None
    is_active: bool | None = None
    version: ExpectedVersion = None


class SlaPolicyRead(SlaPolicyIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str  # what is stored is shown as is; only new input is checked
    version: int


class NotificationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user_id: DbId
    complaint_id: DbId
    level: str
    clock: str
    message: str
    created_at: datetime
    read_at: datetime | None


class ImprovementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Name = Field(min_length=1, max_length=200)
    root_cause: str = Field(min_length=1, max_length=100)
    category_id: DbId | None = None
    owner_id: DbId | None = None
    plan: str = Field(min_length=1, max_length=20000)
    due_on: Day | None = None

    _text = field_validator("root_cause", "plan")(lambda cls, v: _not_blank(v))


class ImprovementUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Name | None = Field(None, min_length=1, max_length=200)
    owner_id: DbId | None = None
    stage: PdcaStage | None = None
    plan: str | None = Field(None, min_length=1, max_length=20000)
    do_note: str | None = Field(None, max_length=20000)
    check_result: str | None = Field(None, max_length=20000)
    act_note: str | None = Field(None, max_length=20000)
    due_on: Day | None = None

    _plan = field_validator("plan")(lambda cls, v: _not_blank(v))


class ImprovementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    root_cause: str
    category_id: int | None
    owner_id: int | None
    stage: str
    plan: str
    do_note: str | None
    check_result: str | None
    act_note: str | None
    due_on: date | None
    created_at: datetime
    updated_at: datetime
