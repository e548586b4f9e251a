"""Retention service: settings, warning rules, evaluation and alerts (flush only, never commit).

``evaluate`` is what the ``retention_evaluate`` job and the event hooks run: it asks the enabled
rules for candidates and inserts alerts with insert-or-ignore on (customer, rule, cause key), so
running it twice, or in two processes at once, raises each alert once. A new alert gets its
owner (the customer's owner, else the configured default owner), its playbook applied when
``auto_apply`` is on, and its owner notified (unless the case was held out as control).

Applying a playbook here decides the case and its arm (treated or control) under the playbook's
lock, in the evaluation's transaction; a treated case's action (e-mail, offer, task) is not
carried out here but queued (``retention.apply_jobs``, one work item per evaluation batch) for a
worker, so an evaluation of thousands of customers does not send thousands of e-mails inside a
request or a scheduled job. ``EvaluationReport.actions_queued`` counts them and
``work_item_ids`` names their work items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    Msg,
    NotFound,
    Term,
    choice_error,
    range_error,
)
from retento.core.locking import lock_each
from retento.core.pagination import paginate
from retento.core.versioning import lock_for_edit
from retento.customers.models import Customer
from retento.retention import points_now
from retento.retention import rules as rules_mod
from retento.retention.defaults import ensure_defaults
from retento.retention.models import (
    ALERT_STATUSES,
    CLASSES,
    RULE_CODES,
    SEVERITIES,
    RetentionAlert,
    RetentionConfig,
    RetentionRule,
)
from retento.retention.ownership import check_agent_owns
from retento.retention.reasons import (
    ALERT_STATUS_NAMES,
    CLASS_NAMES,
    RULE_NAMES,
    SEVERITY_NAMES,
)
from retento.retention.sql import insert_ignore
from retento.scoring import consent
from retento.web.i18n import N_

# Alert status transitions (locked, versioned): open → acknowledged → closed; open → closed;
# a closed alert is final (a new cause raises a new alert).
TRANSITIONS = {"open": ("acknowledged", "closed"), "acknowledged": ("closed", "open")}

# The longest notes people write: an alert's close note, a task's or a case's note (the API's
# schemas say the same).
ALERT_NOTE_MAX = 2000
NOTE_MAX = 5000


def clean_note(note: str | None, limit: int, field: str = "note") -> str | None:
    """A note as stored (trimmed, ``None`` when empty); a longer one than ``limit`` is refused
    (422 naming ``field`` and the limit), never cut short without telling its writer."""
    text = (note or "").strip()
    if len(text) > limit:
        raise InvalidInput(
            Msg("The note is longer than %(max)s characters.", max=limit), field=field
        )
    return text or None


def _choice(name: str, label: str, names: dict[str, str]) -> FieldError:
    """``name`` is none of the codes of ``names`` (code → label msgid): the error naming it by
    ``label`` and the choices by their labels (by their codes in the API's English)."""
    return choice_error(name, label, list(names.items()))


def _status_error() -> FieldError:
    """An alert status that is none of open, acknowledged, closed (named by their labels)."""
    return _choice("status", N_("Status"), {s: ALERT_STATUS_NAMES[s] for s in ALERT_STATUSES})


# --------------------------------------------------------------------------- settings and rules


def get_config(session: Session, *, actor: User | None = None) -> RetentionConfig:
    """The settings row (created with the default rules and playbooks on first use)."""
    if actor is not None:
        require(actor, "retention:read")
    return ensure_defaults(session)


def update_config(
    session: Session, data: dict[str, Any], *, actor: User, version: int | None = None
) -> RetentionConfig:
    """Change default owner, auto-apply or owner notification (``retention:manage``)."""
    require(actor, "retention:manage")
    config = ensure_defaults(session)
    lock_for_edit(session, config, version)
    before = snapshot(config)
    if "default_owner_id" in data:
        owner = data["default_owner_id"]
        if owner is not None and session.get(User, owner) is None:
            raise InvalidInput(
                Msg("User %(id)s does not exist.", id=owner), field="default_owner_id"
            )
        config.default_owner_id = owner
    for key in ("auto_apply", "notify_owner"):
        if key in data and data[key] is not None:
            setattr(config, key, bool(data[key]))
    session.flush()
    record(session, actor, "update", "retention_config", config.id, before, snapshot(config))
    return config


def list_rules(session: Session, *, actor: User) -> list[RetentionRule]:
    """Every warning rule in a fixed order."""
    require(actor, "retention:read")
    ensure_defaults(session)
    rows = session.scalars(select(RetentionRule)).all()
    return sorted(rows, key=lambda r: RULE_CODES.index(r.code) if r.code in RULE_CODES else 99)


def unknown_rule(code: str) -> NotFound:
    """The 404 for a warning rule code that is none of ``RULE_CODES`` (an API path, a link),
    naming the field and the codes there are."""
    return NotFound(
        "Warning rule",
        code,
        field="code",
        message=Msg(
            "No warning rule has the code '%(code)s' (the codes are: %(codes)s).",
            code=code[:60],
            codes=", ".join(RULE_CODES),
        ),
    )


def get_rule(session: Session, code: str, *, actor: User) -> RetentionRule:
    require(actor, "retention:read")
    if code not in RULE_CODES:
        raise unknown_rule(code)
    ensure_defaults(session)
    rule = session.scalar(select(RetentionRule).where(RetentionRule.code == code))
    if rule is None:
        raise NotFound("Warning rule", code)
    return rule


def update_rule(
    session: Session, code: str, data: dict[str, Any], *, actor: User, version: int | None = None
) -> RetentionRule:
    """Enable/disable a rule, change its threshold, window, severity or watched classes."""
    require(actor, "retention:manage")
    rule = get_rule(session, code, actor=actor)
    lock_for_edit(session, rule, version)
    before = snapshot(rule)
    if data.get("enabled") is not None:
        rule.enabled = bool(data["enabled"])
    if data.get("threshold") is not None:
        t = float(data["threshold"])
        if code == "churn_risk" and not 0.0 <= t <= 1.0:
            raise InvalidInput("The risk threshold must be between 0 and 1.", field="threshold")
        if t < 0:
            raise InvalidInput("The threshold must not be negative.", field="threshold")
        rule.threshold = t
    if data.get("window_days") is not None:
        w = int(data["window_days"])
        if not 0 <= w <= 3650:
            raise range_error("window_days", N_("Window (days)"), 0, 3650).refuse()
        rule.window_days = w
    if data.get("severity") is not None:
        if data["severity"] not in SEVERITIES:
            raise _choice("severity", N_("Severity"), SEVERITY_NAMES).refuse()
        rule.severity = data["severity"]
    if data.get("classes") is not None:
        if any(c not in CLASSES for c in data["classes"]):
            raise _choice("classes", N_("Watched classes"), CLASS_NAMES).refuse()
        rule.classes = list(dict.fromkeys(data["classes"]))
    session.flush()
    record(session, actor, "update", "retention_rule", rule.id, before, snapshot(rule))
    return rule


# --------------------------------------------------------------------------- evaluation


@dataclass
class EvaluationReport:
    checked_rules: int = 0
    candidates: int = 0
    created: int = 0
    escalated: int = 0
    cases: int = 0
    notified: int = 0
    # Treated cases whose action is queued for a worker, and the work items that carry them.
    actions_queued: int = 0
    # New alerts left for the owner: no automated playbook without profiling consent.
    not_profiled: int = 0
    # points_expiring alerts following the ledger (``points_now.follow_ledger``): open ones
    # closed because the ledger no longer bears out their cause, and ones it had closed that are
    # open again because it does.
    resolved: int = 0
    reopened: int = 0
    work_item_ids: list[int] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _owners(session: Session, ids: set[int]) -> dict[int, int | None]:
    if not ids:
        return {}
    out: dict[int, int | None] = {}
    id_list = sorted(ids)
    for i in range(0, len(id_list), 1000):
        chunk = id_list[i : i + 1000]
        out.update(
            (cid, owner)
            for cid, owner in session.execute(
                select(Customer.id, Customer.owner_id).where(Customer.id.in_(chunk))
            ).tuples()
        )
    return out


def evaluate(
    session: Session,
    *,
    customer_ids: list[int] | None = None,
    rules: list[str] | None = None,
    now: datetime | None = None,
    requested_by: int | None = None,
) -> EvaluationReport:
    """Raise the alerts the enabled rules call for now; idempotent and safe to run concurrently.
    ``requested_by``: the user who asked (``evaluate_now``), who may follow the queued work."""
    now = now or utcnow()
    config = ensure_defaults(session)
    stmt = select(RetentionRule).where(RetentionRule.enabled.is_(True))
    if rules is not None:
        stmt = stmt.where(RetentionRule.code.in_(rules))
    active = list(session.scalars(stmt))
    report = EvaluationReport(checked_rules=len(active))
    if not active:
        return report
    found, prof = rules_mod.candidates(session, active, customer_ids=customer_ids, now=now)
    report.candidates = len(found)
    points_rule = next((r for r in active if r.code == points_now.RULE), None)
    if points_rule is not None:
        # Before the inserts: an alert whose first expiry day moved is closed, then the new
        # day's alert raised, so the member has one open alert for expiring points.
        report.resolved, report.reopened = points_now.follow_ledger(
            session, points_rule, found, customer_ids=customer_ids, now=now
        )
    severity = {r.code: r.severity for r in active}
    owners = _owners(session, {c.customer_id for c in found})
    rows = []
    for c in found:
        p = prof.get(c.customer_id, rules_mod.Profile())
        owner = owners.get(c.customer_id) or config.default_owner_id
        rows.append(
            {
                "customer_id": c.customer_id,
                "rule": c.rule,
                "cause_key": c.cause_key[:120],
                "severity": c.severity or severity[c.rule],
                "reason_code": c.reason_code,
                "reason_params": c.params,
                "value_class": p.value_class,
                "risk": p.risk,
                "owner_id": owner,
                "status": "open",
                "created_at": now,
                "version": 1,
            }
        )
    # One order for every process, so concurrent inserts of the same causes queue, not deadlock.
    rows.sort(key=lambda r: (r["customer_id"], r["rule"], r["cause_key"]))
    inserted = insert_ignore(
        session,
        RetentionAlert,
        rows,
        ["customer_id", "rule", "cause_key"],
        [RetentionAlert.id],
    )
    new_ids = [r[0] for r in inserted]
    report.created = len(new_ids)
    report.alert_ids = new_ids
    report.escalated = _escalate_known(session, found, set(new_ids))
    if new_ids:
        record(
            session,
            None,
            "create",
            "retention_alert",
            None,
            None,
            {"created": len(new_ids), "first_id": min(new_ids), "last_id": max(new_ids)},
        )
        _after_create(session, config, new_ids, now, report, requested_by)
    session.flush()
    return report


def _escalate_known(session: Session, found: list, new_ids: set[int]) -> int:
    """A complaint alert raised while open becomes 'breached' (same cause, same alert)."""
    breached = [c for c in found if c.reason_code == "complaint_breached"]
    n = 0
    for c in breached:
        # Locked: an owner acknowledging or closing the alert meanwhile is waited for, not
        # overwritten, and does not fail the whole evaluation on the alert's version.
        alert = session.scalar(
            lock_each(
                select(RetentionAlert).where(
                    RetentionAlert.customer_id == c.customer_id,
                    RetentionAlert.rule == c.rule,
                    RetentionAlert.cause_key == c.cause_key,
                    RetentionAlert.reason_code == "complaint_open",
                )
            )
        )
        if alert is None or alert.id in new_ids or alert.status == "closed":
            continue
        alert.reason_code = c.reason_code
        alert.reason_params = c.params
        alert.severity = c.severity or alert.severity
        n += 1
    return n


def _after_create(
    session: Session,
    config: RetentionConfig,
    ids: list[int],
    now: datetime,
    report: EvaluationReport,
    requested_by: int | None,
) -> None:
    from retento.retention import apply_jobs
    from retento.retention.notify import notify_owner
    from retento.retention.playbook_apply import Batch, apply_playbook

    alerts = session.scalars(
        select(RetentionAlert).where(RetentionAlert.id.in_(ids)).order_by(RetentionAlert.id)
    ).all()
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_({a.customer_id for a in alerts}))
        )
    }
    batch = Batch()
    # "Profiling needs the customer's consent" (scoring.consent): no automated playbook action
    # for a customer who has not agreed; the alert stays with the owner to handle in person.
    consent_needed = consent.required(session)
    for alert in alerts:
        automated = config.auto_apply and (
            not consent_needed or bool(customers[alert.customer_id].consent_profiling)
        )
        if config.auto_apply and not automated:
            report.not_profiled += 1
        case = (
            apply_playbook(session, alert, now=now, batch=batch, defer_action=True)
            if automated
            else None
        )
        if case is not None:
            report.cases += 1
        held_out = case is not None and case.arm == "control"
        if config.notify_owner and not held_out and alert.status != "closed":
            if notify_owner(session, alert, customers[alert.customer_id], now):
                report.notified += 1
    if batch.case_ids:
        session.flush()
        record(
            session,
            None,
            "create",
            "retention_case",
            None,
            None,
            {
                "created": len(batch.case_ids),
                "first_id": min(batch.case_ids),
                "last_id": max(batch.case_ids),
            },
        )
    if batch.queued:
        # The treated cases' actions go to the worker (committed with this evaluation).
        report.actions_queued = len(batch.queued)
        report.work_item_ids = apply_jobs.enqueue_cases(
            session, batch.queued, requested_by=requested_by
        )


def alert_query(
    *,
    status: str | None = None,
    owner_id: int | None = None,
    rule: str | None = None,
    value_class: str | None = None,
    severity: str | None = None,
    customer_id: int | None = None,
):
    """The SELECT behind the alert list (newest first), filters checked."""
    stmt = select(RetentionAlert)
    if status is not None:
        if status not in ALERT_STATUSES:
            raise _status_error().refuse()
        stmt = stmt.where(RetentionAlert.status == status)
    if rule is not None:
        if rule not in RULE_CODES:
            raise _choice("rule", N_("Reason"), RULE_NAMES).refuse()
        stmt = stmt.where(RetentionAlert.rule == rule)
    if value_class is not None:
        if value_class not in CLASSES:
            raise _choice("value_class", N_("Customer class"), CLASS_NAMES).refuse()
        stmt = stmt.where(RetentionAlert.value_class == value_class)
    if severity is not None:
        if severity not in SEVERITIES:
            raise _choice("severity", N_("Severity"), SEVERITY_NAMES).refuse()
        stmt = stmt.where(RetentionAlert.severity == severity)
    if owner_id is not None:
        stmt = stmt.where(RetentionAlert.owner_id == owner_id)
    if customer_id is not None:
        stmt = stmt.where(RetentionAlert.customer_id == customer_id)
    return stmt.order_by(RetentionAlert.created_at.desc(), RetentionAlert.id.desc())


def list_alerts(
    session: Session, *, actor: User, limit: int = 50, offset: int = 0, **filters: Any
) -> tuple[list[RetentionAlert], int]:
    """One page of alerts and the total; filters: status, owner_id, rule, value_class, severity,
    customer_id."""
    require(actor, "retention:read")
    return paginate(session, alert_query(**filters), limit=limit, offset=offset)


def get_alert(session: Session, alert_id: int, *, actor: User) -> RetentionAlert:
    require(actor, "retention:read")
    alert = session.get(RetentionAlert, alert_id)
    if alert is None:
        raise NotFound("Alert", alert_id)
    return alert


def set_alert_status(
    session: Session,
    alert_id: int,
    status: str,
    *,
    actor: User,
    note: str | None = None,
    version: int | None = None,
) -> RetentionAlert:
    """Acknowledge, close or reopen an alert (locked, versioned; 409 on a stale version)."""
    require(actor, "retention:work")
    alert = get_alert(session, alert_id, actor=actor)
    check_agent_owns(actor, alert.owner_id)
    lock_for_edit(session, alert, version)
    check_agent_owns(actor, alert.owner_id)  # as locked: reassigned meanwhile
    if status not in ALERT_STATUSES:
        raise _status_error().refuse()
    close_note = clean_note(note, ALERT_NOTE_MAX) if status == "closed" else None
    if status == alert.status:
        return alert
    if status not in TRANSITIONS.get(alert.status, ()):
        # Closed meanwhile (by someone else, an order or a held-out case): a conflict with the
        # alert's state, not a malformed request.
        raise Conflict(
            Msg(
                "An alert that is %(state)s cannot become %(target)s.",
                state=Term(alert.status, ALERT_STATUS_NAMES.get(alert.status)),
                target=Term(status, ALERT_STATUS_NAMES.get(status)),
            ),
            field="status",
        )
    before = snapshot(alert)
    now = utcnow()
    alert.status = status
    if status == "acknowledged":
        alert.acknowledged_at = now
    elif status == "closed":
        alert.closed_at = now
        alert.closed_by_id = actor.id
        alert.close_note = close_note
    else:
        alert.closed_at = None
    session.flush()
    record(session, actor, "update", "retention_alert", alert.id, before, snapshot(alert))
    return alert


# The most alerts one bulk change takes (a page of the inbox is 50).
BULK_MAX = 200


def set_alerts_status(
    session: Session,
    items: list[tuple[int, int | None]],
    status: str,
    *,
    actor: User,
    note: str | None = None,
) -> list[RetentionAlert]:
    """Acknowledge or close several alerts at once, ``items`` = ``(alert id, version seen)``:
    all or none. Each alert goes through ``set_alert_status`` (locked, versioned, the agent's
    own only, one audit entry each); they are locked in id order, so two bulk changes of
    overlapping alerts wait for each other instead of deadlocking. One stale or refused alert
    refuses the whole change (the caller rolls back)."""
    require(actor, "retention:work")
    if status not in ("acknowledged", "closed"):
        raise _choice(
            "status", N_("Status"), {s: ALERT_STATUS_NAMES[s] for s in ("acknowledged", "closed")}
        ).refuse()
    versions = dict(items)
    if not versions:
        raise InvalidInput(N_("Choose at least one alert."), field="alert")
    if len(versions) > BULK_MAX:
        raise InvalidInput(
            Msg("Choose at most %(max)s alerts at a time.", max=BULK_MAX), field="alert"
        )
    return [
        set_alert_status(session, alert_id, status, actor=actor, note=note, version=version)
        for alert_id, version in sorted(versions.items())
    ]


def evaluate_now(
    session: Session,
    *,
    actor: User,
    customer_ids: list[int] | None = None,
    rules: list[str] | None = None,
) -> EvaluationReport:
    """Run the evaluation now on request (``retention:manage``); the job does it on schedule."""
    require(actor, "retention:manage")
    if rules is not None:
        if any(r not in RULE_CODES for r in rules):
            raise _choice("rules", N_("Warning rules"), RULE_NAMES).refuse()
    return evaluate(session, customer_ids=customer_ids, rules=rules, requested_by=actor.id)
