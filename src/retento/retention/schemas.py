"""Retention API schemas: rules, alerts, playbooks, cases, tasks, settings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retento.core.money import Money
from retento.core.types import ID_MAX
from retento.core.validation import Day, DbId
from retento.core.versioning import ExpectedVersion

ClassName = Literal["key", "ordinary", "small", "bad"]
RuleCode = Literal[
    "churn_risk", "rhythm", "complaint", "survey", "tier_downgrade", "points_expiring"
]
Severity = Literal["low", "medium", "high"]
Action = Literal["task", "call", "offer", "email", "let_go"]


class ConfigRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    default_owner_id: int | None
    auto_apply: bool
    notify_owner: bool
    version: int


class ConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_owner_id: DbId | None = None
    auto_apply: bool | None = None
    notify_owner: bool | None = None
    version: ExpectedVersion = None


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str = ""
    enabled: bool
    threshold: float
    window_days: int
    severity: str
    classes: list[str]
    version: int


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    threshold: float | None = Field(None, ge=0, le=1_000_000)
    window_days: int | None = Field(None, ge=0, le=3650)
    severity: Severity | None = None
    classes: list[ClassName] | None = Field(None, max_length=4)
    version: ExpectedVersion = None


class AlertNow(BaseModel):
    """What the loyalty ledger says now about an open or acknowledged ``points_expiring`` alert
    whose points changed since it was raised: the web's "Now: …" line under the reason."""

    points: int = Field(
        description="Points of the member expiring unused within the rule's window now; 0 when "
        "none do any more."
    )
    first_day: date | None = Field(
        description="The first of those points' expiry days, in the installation's time zone "
        "(the day the pages write); null when no points expire."
    )
    last_day: date | None = Field(
        description="The last of those points' expiry days (equal to first_day when they all "
        "expire on one day); null when no points expire."
    )
    window_days: int = Field(description="The rule's window the points were counted in (days).")
    text: str = Field(
        description="The line the web shows, in the reader's language, e.g. \"Now: 188 loyalty "
        'points expire unused on Dec 25, 2026" or "Now: no loyalty points expire within 30 '
        'days".'
    )


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    customer_id: int
    rule: str
    cause_key: str
    severity: str
    reason_code: str
    reason_params: dict[str, Any]
    reason: str = ""
    value_class: str
    risk: float | None
    owner_id: int | None
    status: str
    created_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    close_note: str | None
    version: int
    now: AlertNow | None = Field(
        None,
        description="For an open or acknowledged points_expiring alert whose points changed "
        "since it was raised: what the loyalty ledger says now (the reason stays as raised). "
        "Null for any other alert, or when nothing changed.",
    )


class AlertPage(BaseModel):
    items: list[AlertRead]
    total: int
    limit: int
    offset: int


class AlertStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "acknowledged", "closed"]
    note: str | None = Field(None, max_length=2000)
    version: ExpectedVersion = None


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    playbook_id: DbId | None = None


class PlaybookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    value_class: str
    reason: str
    action: str
    name_en: str
    name_zh: str
    script_en: str
    script_zh: str
    due_days: int
    control_share: float
    window_days: int
    cost: Decimal
    offer_points: int
    offer_reward_id: int | None = None
    segment_id: int | None = None
    segment_cluster: int | None = None
    enabled: bool
    version: int


class PlaybookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value_class: ClassName
    reason: RuleCode | Literal["*"] = "*"
    action: Action
    name_en: str = Field(min_length=1, max_length=120)
    name_zh: str = Field(min_length=1, max_length=120)
    script_en: str = Field("", max_length=5000)
    script_zh: str = Field("", max_length=5000)
    due_days: int = Field(3, ge=0, le=365)
    control_share: float = Field(0.1, ge=0, lt=1)
    window_days: int = Field(60, ge=1, le=730)
    cost: Money = Decimal("0.00")
    offer_points: int = Field(0, ge=0, le=1_000_000)
    # A loyalty reward (voucher) issued free of points to treated members; 0 or null: none.
    offer_reward_id: int | None = Field(None, ge=0, le=ID_MAX)
    segment: str | None = Field(
        None,
        max_length=20,
        description="Limit the playbook to one cluster of a saved segmentation (Insights): "
        "'<segment id>:<cluster>', e.g. '12:0'; '' removes the limit.",
    )
    enabled: bool = True


class PlaybookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action | None = None
    name_en: str | None = Field(None, min_length=1, max_length=120)
    name_zh: str | None = Field(None, min_length=1, max_length=120)
    script_en: str | None = Field(None, max_length=5000)
    script_zh: str | None = Field(None, max_length=5000)
    due_days: int | None = Field(None, ge=0, le=365)
    control_share: float | None = Field(None, ge=0, lt=1)
    window_days: int | None = Field(None, ge=1, le=730)
    cost: Money | None = None
    offer_points: int | None = Field(None, ge=0, le=1_000_000)
    # 0 removes the voucher.
    offer_reward_id: int | None = Field(None, ge=0, le=ID_MAX)
    segment: str | None = Field(
        None,
        max_length=20,
        description="Limit the playbook to one cluster of a saved segmentation (Insights): "
        "'<segment id>:<cluster>', e.g. '12:0'; '' removes the limit.",
    )
    enabled: bool | None = None
    version: ExpectedVersion = None


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    alert_id: int
    playbook_id: int
    customer_id: int
    value_class: str
    arm: str
    action: str
    risk: float | None
    assigned_at: datetime
    window_ends_at: datetime
    reached: bool | None
    offer_accepted: bool | None
    email_sent: bool
    outcome: str
    came_back_at: datetime | None
    revenue: Decimal
    cost: Decimal
    note: str | None
    action_status: str = Field(
        "done",
        description="The treated case's action (e-mail, offer, task): queued or running while "
        "a worker carries it out, then done or failed (see action_error).",
    )
    action_error: str | None = None
    version: int


class CaseRun(CaseRead):
    """A case opened by applying a playbook, with the progress of its queued action."""

    stage: str | None = Field(None, description="What the worker is doing (while running).")
    progress: float | None = Field(None, description="0..1 while queued or running; 1 when done.")
    url: str = Field(description="Poll this URL (GET) until action_status is done or failed.")


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reached: bool | None = None
    offer_accepted: bool | None = None
    lost: bool | None = None
    note: str | None = Field(None, max_length=5000)
    version: ExpectedVersion = None


class TaskRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    case_id: int | None
    customer_id: int
    owner_id: int | None
    kind: str
    title: str
    script: str
    due_on: date
    status: str
    result: str | None
    note: str | None
    done_at: datetime | None
    version: int


class TaskPage(BaseModel):
    items: list[TaskRead]
    total: int
    limit: int
    offset: int


class TaskUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(None, min_length=1, max_length=200)
    script: str | None = Field(None, max_length=5000)
    note: str | None = Field(None, max_length=5000)
    due_on: Day | None = None
    owner_id: DbId | None = None
    version: ExpectedVersion = None


class TaskStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "done", "cancelled"]
    result: Literal["reached", "offer_accepted", "not_reached", "declined"] | None = None
    note: str | None = Field(None, max_length=5000)
    version: ExpectedVersion = None


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[RuleCode] | None = Field(None, max_length=6)
    customer_ids: list[DbId] | None = Field(None, max_length=1000)
