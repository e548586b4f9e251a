"""Playbooks (class × reason → action): editing them, and finding the one that takes an alert.

Applying a playbook to an alert (treated or control, the case, its task or offer) is in
``retention.playbook_apply``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    Msg,
    NotFound,
    Term,
    choice_error,
)
from retento.core.money import ZERO, to_money
from retento.core.validation import check_name
from retento.core.versioning import lock_for_edit
from retento.retention.defaults import ensure_defaults
from retento.retention.models import (
    ACTIONS,
    ANY_REASON,
    CLASSES,
    RULE_CODES,
    RetentionCase,
    RetentionPlaybook,
    RetentionSeq,
)
from retento.retention.reasons import (
    ACTION_NAMES,
    CLASS_NAMES,
    RULE_NAMES,
)
from retento.web.i18n import N_

EDITABLE = (
    "action",
    "name_en",
    "name_zh",
    "script_en",
    "script_zh",
    "due_days",
    "control_share",
    "window_days",
    "cost",
    "offer_points",
    "offer_reward_id",
    "segment",
    "enabled",
)


def _class_term(code: str) -> Term:
    """A customer class in an error: the code in English, its name on pages."""
    from retento.retention.reasons import CLASS_NAMES

    return Term(code, CLASS_NAMES.get(code))


def _reason_term(code: str) -> Term:
    """A warning rule (a playbook's reason) in an error: the code in English, its name on pages."""
    from retento.retention.reasons import RULE_NAMES

    return Term(code, RULE_NAMES.get(code))


def list_playbooks(session: Session, *, actor: User) -> list[RetentionPlaybook]:
    """Every playbook, by class then reason."""
    require(actor, "retention:read")
    ensure_defaults(session)
    rows = session.scalars(select(RetentionPlaybook)).all()
    return sorted(
        rows,
        key=lambda p: (
            CLASSES.index(p.value_class) if p.value_class in CLASSES else 9,
            p.reason != ANY_REASON,
            p.reason,
        ),
    )


def get_playbook(session: Session, playbook_id: int, *, actor: User) -> RetentionPlaybook:
    require(actor, "retention:read")
    pb = session.get(RetentionPlaybook, playbook_id)
    if pb is None:
        raise NotFound("Playbook", playbook_id)
    return pb


# The fields as the playbook editor labels them (msgids): a message about a field names it by
# its label in a translated text (``Term``), by its code in the API's English one.
FIELD_LABELS = {
    "value_class": N_("Customer class"),
    "reason": N_("Reason"),
    "action": N_("Action"),
    "name_en": N_("Name (English)"),
    "name_zh": N_("Name (Chinese)"),
    "script_en": N_("Script (English)"),
    "script_zh": N_("Script (Chinese)"),
    "due_days": N_("Due after (days)"),
    "control_share": N_("Control-group share"),
    "window_days": N_("Came-back window (days)"),
    "cost": N_("Cost per treated customer"),
    "offer_points": N_("Offer (loyalty points)"),
    "offer_reward_id": N_("Offer (loyalty voucher)"),
    "segment": N_("Only customers in segment"),
    "enabled": N_("Enabled"),
}


# The editor's name of the playbook for every other reason (``ANY_REASON``).
ANY_REASON_NAME = N_("Any other reason")


def _field(key: str) -> Term:
    return Term(key, FIELD_LABELS.get(key))


def _collect(errors: list[FieldError], fn, *args) -> Any:
    """``fn(*args)``; an ``InvalidInput`` it raises is added to ``errors`` (None returned)."""
    try:
        return fn(*args)
    except InvalidInput as exc:
        errors.extend(exc.errors or [FieldError(exc.field, exc.message)])
        return None


def _raise_all(errors: list[FieldError]) -> None:
    """One 422 naming every field that was refused (the first one's message as its detail)."""
    if errors:
        raise InvalidInput(errors[0].message, field=errors[0].field, errors=errors)


def _clean_one(key: str, v: Any) -> Any:
    if key == "action":
        if v not in ACTIONS:
            # Named as the editor names the field and its choices (the API's English: codes).
            choices = [(a, ACTION_NAMES.get(a, a)) for a in ACTIONS]
            raise choice_error("action", FIELD_LABELS["action"], choices).refuse()
    elif key in ("name_en", "name_zh"):
        v = str(v).strip()
        if not v or len(v) > 120:
            raise InvalidInput("A name of 1 to 120 characters is needed.", field=key)
        try:
            v = check_name(v)  # no bidirectional controls ('\u202egpj.exe' reads 'exe.jpg')
        except ValueError as exc:
            raise InvalidInput(str(exc), field=key) from None
    elif key in ("script_en", "script_zh"):
        v = str(v).strip()
        if len(v) > 5000:
            raise InvalidInput("The script is longer than 5000 characters.", field=key)
    elif key in ("due_days", "window_days", "offer_points"):
        top = {"due_days": 365, "window_days": 730, "offer_points": 1_000_000}[key]
        low = 1 if key == "window_days" else 0
        try:
            v = int(v)
            ok = low <= v <= top
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InvalidInput(
                Msg(
                    "%(field)s must be a whole number from %(low)s to %(top)s.",
                    field=_field(key),
                    low=low,
                    top=top,
                ),
                field=key,
            )
    elif key == "control_share":
        try:
            v = float(v)
            ok = 0.0 <= v < 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InvalidInput(
                Msg(
                    "%(field)s must be at least 0 and below 1 (0: no control group).",
                    field=_field(key),
                ),
                field=key,
            )
    elif key == "cost":
        try:
            v = to_money(v)  # finite, two decimals at most: a raw NaN never gets compared
        except ValueError:
            raise InvalidInput("cost must be an amount of money.", field=key) from None
        if v < 0 or v >= Decimal("1e12"):
            raise InvalidInput("cost must not be negative.", field=key)
    elif key == "offer_reward_id":
        try:
            v = int(v)
        except (TypeError, ValueError):
            raise InvalidInput("offer_reward_id must be a reward id.", field=key) from None
        if v < 0:
            raise InvalidInput("offer_reward_id must be a reward id.", field=key)
        v = v or None  # 0: no voucher
    elif key == "enabled":
        v = bool(v)
    return v


def _clean(
    data: dict[str, Any], pb: RetentionPlaybook | None, errors: list[FieldError] | None = None
) -> dict[str, Any]:
    """The checked values of ``data``; every refused field is reported at once (422 with one
    ``FieldError`` each), or added to ``errors`` when the caller collects more of its own."""
    own: list[FieldError] = [] if errors is None else errors
    out: dict[str, Any] = {}
    for key in EDITABLE:
        if key not in data or data[key] is None:
            continue
        if key == "segment":
            from retento.insights.segments_service import parse_filter

            try:
                picked = parse_filter(str(data[key]), field="segment")  # "12:0", or "" (none)
            except InvalidInput as exc:
                own.extend(exc.errors or [FieldError(exc.field, exc.message)])
                continue
            out["segment_id"], out["segment_cluster"] = picked if picked else (None, None)
            continue
        failed = len(own)
        v = _collect(own, _clean_one, key, data[key])
        if len(own) == failed:
            out[key] = v
    action = out.get("action", pb.action if pb else None)
    cost_ok = not any(e.field == "cost" for e in own)
    if action == "let_go" and cost_ok and out.get("cost", pb.cost if pb else ZERO) != ZERO:
        own.append(FieldError("cost", "Letting go is recorded with no spend: cost must be 0."))
    if errors is None:
        _raise_all(own)
    return out


def check_values(data: dict[str, Any], pb: RetentionPlaybook | None = None) -> list[FieldError]:
    """What ``create_playbook`` / ``update_playbook`` would refuse in ``data`` without the
    database (ranges, names, cost): the editor shows these next to its own parse errors."""
    errors: list[FieldError] = []
    _clean(data, pb, errors)
    return errors


def _check_reward(session: Session, values: dict[str, Any], pb: RetentionPlaybook | None) -> None:
    """A newly chosen voucher must be an active reward of the loyalty catalogue."""
    rid = values.get("offer_reward_id")
    if rid is None or (pb is not None and pb.offer_reward_id == rid):
        return
    from retento.loyalty.models import LoyaltyReward

    reward = session.get(LoyaltyReward, rid)
    if reward is None or not reward.active:
        raise InvalidInput(
            Msg("Reward %(id)s is not an active loyalty reward.", id=rid), field="offer_reward_id"
        )


def _check_segment(session: Session, values: dict[str, Any], pb: RetentionPlaybook | None) -> None:
    """A newly chosen segment filter must name a saved segmentation and one of its clusters."""
    sid, cluster = values.get("segment_id"), values.get("segment_cluster")
    if sid is None or (pb is not None and (pb.segment_id, pb.segment_cluster) == (sid, cluster)):
        return
    from retento.insights.segments_service import check_filter

    # hold: a delete of the segment meanwhile waits for this save and then refuses (it is used).
    check_filter(session, (sid, cluster), field="segment", hold=True)


def segment_value(pb: RetentionPlaybook) -> str:
    """The playbook's segment filter as the form and API write it (``"12:0"``), or ``""``."""
    return f"{pb.segment_id}:{pb.segment_cluster}" if pb.segment_id is not None else ""


def create_playbook(session: Session, data: dict[str, Any], *, actor: User) -> RetentionPlaybook:
    """A playbook for one (class, reason); reason is a rule code or ``*``."""
    require(actor, "retention:manage")
    ensure_defaults(session)
    cls, reason = data.get("value_class"), data.get("reason") or ANY_REASON
    errors: list[FieldError] = []
    if cls not in CLASSES:
        choices = [(c, CLASS_NAMES.get(c, c)) for c in CLASSES]
        errors.append(choice_error("value_class", FIELD_LABELS["value_class"], choices))
    if reason != ANY_REASON and reason not in RULE_CODES:
        choices = [(ANY_REASON, ANY_REASON_NAME)] + [(r, RULE_NAMES.get(r, r)) for r in RULE_CODES]
        errors.append(choice_error("reason", FIELD_LABELS["reason"], choices))
    for key in ("action", "name_en", "name_zh"):
        if not data.get(key):
            errors.append(FieldError(key, Msg("%(field)s must be filled in.", field=_field(key))))
    missing = {e.field for e in errors}
    values = _clean({k: v for k, v in data.items() if k not in missing}, None, errors)
    if not any(e.field == "offer_reward_id" for e in errors):
        _collect(errors, _check_reward, session, values, None)
    if not any(e.field == "segment" for e in errors):
        _collect(errors, _check_segment, session, values, None)
    _raise_all(errors)
    exists = session.scalar(
        select(RetentionPlaybook.id).where(
            RetentionPlaybook.value_class == cls, RetentionPlaybook.reason == reason
        )
    )
    if exists is not None:
        raise Conflict(
            Msg(
                "A playbook for %(class)s × %(reason)s exists already (id %(id)s).",
                **{"class": _class_term(cls)},
                reason=_reason_term(reason),
                id=exists,
            ),
            field="reason",
        )
    pb = RetentionPlaybook(value_class=cls, reason=reason, **{"enabled": True, **values})
    session.add(pb)
    session.flush()
    record(session, actor, "create", "retention_playbook", pb.id, None, snapshot(pb))
    return pb


def update_playbook(
    session: Session,
    playbook_id: int,
    data: dict[str, Any],
    *,
    actor: User,
    version: int | None = None,
) -> RetentionPlaybook:
    """Edit a playbook (versioned; class and reason stay: they are what its cases measured)."""
    require(actor, "retention:manage")
    pb = get_playbook(session, playbook_id, actor=actor)
    lock_for_edit(session, pb, version)
    before = snapshot(pb)
    errors: list[FieldError] = []
    values = _clean(data, pb, errors)
    if not any(e.field == "offer_reward_id" for e in errors):
        _collect(errors, _check_reward, session, values, pb)
    if not any(e.field == "segment" for e in errors):
        _collect(errors, _check_segment, session, values, pb)
    _raise_all(errors)
    for key, v in values.items():
        setattr(pb, key, v)
    session.flush()
    record(session, actor, "update", "retention_playbook", pb.id, before, snapshot(pb))
    return pb


def delete_playbook(
    session: Session, playbook_id: int, *, actor: User, version: int | None = None
) -> None:
    """Delete a playbook that has no cases yet (one with cases is disabled instead)."""
    require(actor, "retention:manage")
    pb = get_playbook(session, playbook_id, actor=actor)
    lock_for_edit(session, pb, version)
    # FOR UPDATE (not lock_for_edit's NO KEY UPDATE): waits for a transaction that is opening a
    # case under the playbook (its key_share_row in apply_playbook), so the count below sees it.
    session.execute(
        select(RetentionPlaybook.id).where(RetentionPlaybook.id == pb.id).with_for_update()
    )
    used = session.scalar(select(func.count()).where(RetentionCase.playbook_id == pb.id))
    if used:
        raise Conflict(
            Msg(
                "Playbook %(id)s has %(n)s case(s): disable it instead of deleting it.",
                id=pb.id,
                n=used,
            ),
            field="playbook_id",
        )
    before = snapshot(pb)
    session.execute(delete(RetentionSeq).where(RetentionSeq.playbook_id == pb.id))
    session.delete(pb)
    session.flush()
    record(session, actor, "delete", "retention_playbook", playbook_id, before, None)


def candidate_playbooks(session: Session, value_class: str, rule: str) -> list[RetentionPlaybook]:
    """The enabled playbooks that may take an alert of (class, rule), in the order tried: the
    rule's own, then the class's ``*`` playbook."""
    rows = session.scalars(
        select(RetentionPlaybook).where(
            RetentionPlaybook.value_class == value_class,
            RetentionPlaybook.reason.in_((rule, ANY_REASON)),
            RetentionPlaybook.enabled.is_(True),
        )
    ).all()
    return sorted(rows, key=lambda p: p.reason != rule)


def in_segment(session: Session, pb: RetentionPlaybook, customer_id: int) -> bool:
    """True if the playbook has no segment filter or the customer is in its cluster."""
    if pb.segment_id is None:
        return True
    from retento.insights.segments_service import members_select

    stmt = members_select((pb.segment_id, pb.segment_cluster or 0))
    return session.scalar(stmt.where(stmt.selected_columns[0] == customer_id).limit(1)) is not None


def match_playbook(
    session: Session, value_class: str, rule: str, customer_id: int | None = None
) -> RetentionPlaybook | None:
    """The enabled playbook for (class, rule), else the class's ``*`` playbook; with
    ``customer_id``, the first of those whose segment filter the customer passes (a customer
    outside a filtered rule playbook falls through to the ``*`` one)."""
    for pb in candidate_playbooks(session, value_class, rule):
        if customer_id is None or in_segment(session, pb, customer_id):
            return pb
    return None
