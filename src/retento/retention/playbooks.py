"""Playbooks (class × reason → action) and applying one to an alert: treated or control.

Assignment is a stratified, reproducible permuted-block design: the cases of one playbook and one
retention class are numbered in order (``seq``, reserved from ``RetentionSeq`` by
:func:`reserve_seq`, without locking the playbook) and cut into blocks of ``BLOCK``; each block is split by ``analytics.uplift.assign_treatment`` seeded with
(playbook, class, block). Every class therefore holds out its share within one customer per
block, and the same history always gives the same split. Only treated cases get the action;
control cases get nothing and their alert is closed as held out, so no one acts on them.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select, update
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
)
from retento.core.locking import IN_TRANSACTION_COUNTERS, key_share_row, lock_row
from retento.core.money import ZERO, to_money
from retento.core.validation import check_name
from retento.core.versioning import lock_for_edit
from retento.customers.models import Customer
from retento.retention.consent import CONTACT_KINDS, may_phone
from retento.retention.defaults import ensure_defaults
from retento.retention.models import (
    ACTIONS,
    ANY_REASON,
    CLASSES,
    RULE_CODES,
    RetentionAlert,
    RetentionCase,
    RetentionOpenCase,
    RetentionPlaybook,
    RetentionSeq,
    RetentionTask,
)
from retento.retention.ownership import check_agent_owns
from retento.retention.reasons import (
    ACTION_NAMES,
    CLASS_NAMES,
    HELD_OUT_NOTE,
    LET_GO_NOTE,
    NO_EMAIL_NOTE,
    NO_PHONE_NOTE,
    RULE_NAMES,
    SETTLED_NOTES,
)
from retento.retention.system_texts import OFFER_REASON
from retento.web.i18n import N_, installation_locale, system_text

BLOCK = 20
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


def arm_for(stratum: str, seq: int, control_share: float) -> str:
    """Treated or control for the ``seq``-th case of a stratum ("class:reason:value class").

    The seed names the playbook by its (class, reason), not its id, so the same history gives
    the same split in any database. A share of 0 means no control group (every case treated).
    """
    if control_share <= 0:
        return "treated"
    from retento.analytics.uplift import assign_treatment

    block, pos = divmod(seq, BLOCK)
    seed = zlib.crc32(f"retention:{stratum}:{block}".encode())
    treated = assign_treatment(BLOCK, control_share=control_share, random_state=seed)
    return "treated" if bool(treated[pos]) else "control"


def close_settled_task(task: RetentionTask, outcome: str, now) -> None:
    """Cancel ``task`` (no result: the owner did not finish it) with the note of ``outcome``
    (stored as its message id, translated when shown: ``reasons.system_note``); the owner's own
    note is kept above it."""
    text = SETTLED_NOTES[outcome]
    task.status = "cancelled"
    task.result, task.done_at, task.done_by_id = None, None, None
    task.note = "\n".join(x for x in ((task.note or "")[: 5000 - len(text) - 1], text) if x)
    task.updated_at = now


def reserve_seq(session: Session, playbook_id: int, value_class: str) -> int:
    """The next case number of the stratum (playbook, class): 0, 1, 2, … never given twice.

    One upsert that adds one to ``RetentionSeq.next_seq``. On PostgreSQL it runs in a short
    transaction on a connection of its own, so the counter row is locked only for that
    statement: an evaluation numbering hundreds of cases and a manager applying the same
    playbook take turns per number instead of one waiting for the other's whole transaction.
    That transaction commits without waiting for the disk (``synchronous_commit = off``; a
    plain commit's fsync made each number cost ~6 ms, now ~1 ms): the caller's own commit
    flushes the log past it, so a number used by a committed case is never lost, and a crash
    before that loses only numbers no committed case holds. A transaction that rolls back
    after reserving leaves a gap. SQLite serialises writers anyway (a second connection would
    wait for this session's own write lock): there the number is reserved in the session's
    transaction, and a rollback takes it back; so it is where the session asks for it
    (``core.locking.IN_TRANSACTION_COUNTERS``: the demo, which resets the counters itself).
    """
    from sqlalchemy.dialects import postgresql, sqlite

    bind = session.get_bind()
    pg = bind.dialect.name == "postgresql"
    stmt = (
        (postgresql.insert if pg else sqlite.insert)(RetentionSeq)
        .values(playbook_id=playbook_id, value_class=value_class, next_seq=1)
        .on_conflict_do_update(
            index_elements=["playbook_id", "value_class"],
            set_={"next_seq": RetentionSeq.next_seq + 1},
        )
        .returning(RetentionSeq.next_seq)
    )
    if not pg or session.info.get(IN_TRANSACTION_COUNTERS):
        return int(session.execute(stmt).scalar_one()) - 1
    engine = getattr(bind, "engine", bind)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        return int(conn.execute(stmt).scalar_one()) - 1


@dataclass
class Batch:
    """State shared by the applications of one evaluation: matched and share-locked playbooks,
    the new case ids, the audit summary."""

    books: dict[tuple[str, str], list[RetentionPlaybook]] = field(default_factory=dict)
    locked: dict[int, RetentionPlaybook] = field(default_factory=dict)
    case_ids: list[int] = field(default_factory=list)
    # Treated cases whose action was left 'queued' (``defer_action``): the caller queues them.
    queued: list[int] = field(default_factory=list)
    # Customers given a case by this batch, or found with one open already: their case's arm.
    open_customers: dict[int, str | None] = field(default_factory=dict)


def claim_open_case(session: Session, customer_id: int, now: datetime) -> bool:
    """Claim the customer's one open win-back case; False if another case holds it.

    ``INSERT ... ON CONFLICT DO NOTHING`` on the primary key: on PostgreSQL a concurrent
    evaluation claiming the same customer waits for this transaction and then gets False, so
    two causes raised at once still give one case."""
    from retento.retention.sql import insert_ignore

    got = insert_ignore(
        session,
        RetentionOpenCase,
        [{"customer_id": customer_id, "case_id": None, "claimed_at": now}],
        ["customer_id"],
        [RetentionOpenCase.customer_id],
    )
    return bool(got)


def release_open_cases(session: Session, case_ids: list[int]) -> None:
    """The cases left 'pending' (came back or lost): their customers may get a new case."""
    if case_ids:
        session.execute(delete(RetentionOpenCase).where(RetentionOpenCase.case_id.in_(case_ids)))


def title_separator(zh: bool) -> str:
    """Between a task title's playbook name and its customer: "：" in Chinese, ": " in English
    (the Chinese title read "重要客户：全力挽回: 马秀英", two kinds of colon)."""
    return "：" if zh else ": "


def _offer_reason(pb: RetentionPlaybook) -> str:
    """The ledger reason of a playbook's offer, in the installation's language."""
    name = pb.name_zh if installation_locale() == "zh_CN" and pb.name_zh else pb.name_en
    return system_text(OFFER_REASON, playbook=name)[:200]


def apply_playbook(
    session: Session,
    alert: RetentionAlert,
    *,
    playbook: RetentionPlaybook | None = None,
    actor: User | None = None,
    now: datetime | None = None,
    batch: Batch | None = None,
    defer_action: bool = False,
) -> RetentionCase | None:
    """Open the alert's case: assign treated/control, act for treated ones; None without a
    matching playbook. An alert has at most one case (unique), so applying twice is refused.

    With ``batch`` (the evaluation job) the audit log gets one summary entry from the caller
    instead of one entry per case. With ``defer_action`` a treated case's action (e-mail,
    offer, task) is left 'queued' for :func:`carry_out_action` (a worker, see
    ``retention.apply_jobs``; with ``batch`` its id is added to ``batch.queued`` for the caller
    to queue); the case and its arm are decided here either way."""
    now = now or utcnow()
    if playbook is None:
        key = (alert.value_class, alert.rule)
        if batch is not None and key in batch.books:
            books = batch.books[key]
        else:
            books = candidate_playbooks(session, alert.value_class, alert.rule)
            if batch is not None:
                batch.books[key] = books
        playbook = next((p for p in books if in_segment(session, p, alert.customer_id)), None)
        if playbook is None:
            return None
    elif not in_segment(session, playbook, alert.customer_id):
        raise InvalidInput(
            Msg(
                "Customer %(customer)s is not in the segment playbook %(id)s is limited to.",
                customer=alert.customer_id,
                id=playbook.id,
            ),
            field="playbook_id",
        )
    if batch is None:
        existing = session.scalar(
            select(RetentionCase.id).where(RetentionCase.alert_id == alert.id)
        )
        if existing is not None:
            raise Conflict(
                Msg("Alert %(id)s has a case already (id %(case)s).", id=alert.id, case=existing),
                field="alert_id",
            )
    # One open case per customer: a second cause (another alert) while a case is pending gets
    # no second case, task or arm; the alert stays in the owner's inbox.
    if batch is not None and alert.customer_id in batch.open_customers:
        _covered(alert, batch.open_customers[alert.customer_id], now)
        return None
    # A share lock only (no writer of the playbook waits for it); numbering needs no lock here,
    # see reserve_seq.
    pb = batch.locked.get(playbook.id) if batch is not None else None
    if pb is None:
        pb = key_share_row(session, RetentionPlaybook, playbook.id)
        if pb is None:
            raise NotFound("Playbook", playbook.id)
        if batch is not None:
            batch.locked[pb.id] = pb
    if not claim_open_case(session, alert.customer_id, now):
        held, held_arm = session.execute(
            select(RetentionOpenCase.case_id, RetentionCase.arm)
            .outerjoin(RetentionCase, RetentionCase.id == RetentionOpenCase.case_id)
            .where(RetentionOpenCase.customer_id == alert.customer_id)
        ).one_or_none() or (None, None)
        if batch is not None:
            batch.open_customers[alert.customer_id] = held_arm
            _covered(alert, held_arm, now)
            return None
        raise Conflict(
            Msg(
                "Customer %(customer)s has an open win-back case already (id %(case)s).",
                customer=alert.customer_id,
                case=held,
            ),
            field="alert_id",
        )
    # Reserved after the claim: a request refused because the customer has a case takes none.
    seq = reserve_seq(session, pb.id, alert.value_class)
    stratum = f"{pb.value_class}:{pb.reason}:{alert.value_class}"
    arm = arm_for(stratum, seq, pb.control_share)
    if batch is not None:
        batch.open_customers[alert.customer_id] = arm
    case = RetentionCase(
        alert_id=alert.id,
        playbook_id=pb.id,
        customer_id=alert.customer_id,
        value_class=alert.value_class,
        seq=seq,
        arm=arm,
        action=pb.action,
        risk=alert.risk,
        assigned_at=now,
        window_ends_at=now + timedelta(days=pb.window_days),
        outcome="pending",
        revenue=ZERO,
        cost=ZERO,
        email_sent=False,
    )
    session.add(case)
    session.flush()
    session.execute(
        update(RetentionOpenCase)
        .where(RetentionOpenCase.customer_id == alert.customer_id)
        .values(case_id=case.id)
    )
    before_status = alert.status
    before = snapshot(alert) if batch is None else None
    if arm == "control":
        alert.status, alert.closed_at, alert.close_note = "closed", now, HELD_OUT_NOTE
    elif defer_action and pb.action != "let_go":
        case.action_status = "queued"
        if batch is not None:
            batch.queued.append(case.id)
    else:
        _act(session, alert, pb, case, now)
    if batch is not None:
        batch.case_ids.append(case.id)
        return case
    session.flush()
    record(session, actor, "create", "retention_case", case.id, None, snapshot(case))
    if alert.status != before_status:
        record(session, actor, "update", "retention_alert", alert.id, before, snapshot(alert))
    return case


def _covered(alert: RetentionAlert, arm: str | None, now: datetime) -> None:
    """An alert for a customer whose win-back case is still open: no second case. If that case
    is in the control group the alert is held out too (closed, no notice to the owner), or the
    owner would act on a held-out customer and the uplift estimate would be biased."""
    if arm == "control" and alert.status != "closed":
        alert.status, alert.closed_at, alert.close_note = "closed", now, HELD_OUT_NOTE


def _act(
    session: Session,
    alert: RetentionAlert,
    pb: RetentionPlaybook,
    case: RetentionCase,
    now: datetime,
) -> None:
    customer = session.get(Customer, alert.customer_id)
    if pb.action == "let_go":
        case.note = LET_GO_NOTE
        alert.status, alert.closed_at, alert.close_note = "closed", now, LET_GO_NOTE
        return
    case.cost = pb.cost
    if pb.action == "email":
        from retento.retention.notify import winback_email

        sent = customer is not None and winback_email(session, customer, pb, case.id, now)
        case.email_sent = bool(sent)
        case.reached = bool(sent)
        if not sent:
            case.cost = ZERO
            case.note = NO_EMAIL_NOTE
        return
    from retento.auth.models import User as UserModel

    owner = session.get(UserModel, alert.owner_id) if alert.owner_id else None
    zh = owner is not None and (owner.locale or "").startswith("zh")
    name = pb.name_zh if zh else pb.name_en
    script = pb.script_zh if zh else pb.script_en
    if pb.action == "offer" and pb.offer_points:
        # Treated only (control cases never get here): post the points through the loyalty
        # programme, once per case, and count their value as the case's cost.
        from retento.retention.offers import offer_line, post_offer_points

        offer = post_offer_points(
            session,
            case.id,
            alert.customer_id,
            pb.offer_points,
            reason=_offer_reason(pb),
            now=now,
        )
        case.cost = pb.cost + offer.value
        case.note = offer.note
        line = offer_line(offer.state, offer.points, offer.value, zh)
        script = (script + "\n\n" if script else "") + line
    if pb.action == "offer" and pb.offer_reward_id:
        # The playbook's voucher, issued free of points by the loyalty domain (once per case);
        # its value in money (points cost × point value) is added to the case's cost.
        from retento.loyalty.models import LoyaltyReward
        from retento.retention.offers import issue_offer_reward, voucher_line

        voucher = issue_offer_reward(
            session,
            case.id,
            alert.customer_id,
            pb.offer_reward_id,
            reason=_offer_reason(pb),
            now=now,
        )
        case.cost = case.cost + voucher.value
        case.note = "\n".join(x for x in (case.note, voucher.note) if x)
        reward = session.get(LoyaltyReward, pb.offer_reward_id)
        shown = reward.name_in("zh_CN" if zh else "en") if reward else voucher.reward_name
        line = voucher_line(voucher.state, shown, voucher.value, zh)
        script = (script + "\n\n" if script else "") + line
    task = RetentionTask(
        case_id=case.id,
        customer_id=alert.customer_id,
        owner_id=alert.owner_id,
        kind="task" if pb.action == "task" else pb.action,
        title=f"{name}{title_separator(zh)}{customer.name if customer else alert.customer_id}"[
            :200
        ],
        script=script,
        due_on=(now + timedelta(days=pb.due_days)).date(),
        status="open",
        created_at=now,
        updated_at=now,
    )
    if task.kind in CONTACT_KINDS and customer is not None and not may_phone(customer):
        # The task stays (the owner still reaches out: intention to treat), but the customer has
        # not agreed to phone calls: the case records it, the task list says not to call.
        case.note = "\n".join(x for x in (case.note, NO_PHONE_NOTE) if x)
    if case.outcome != "pending":
        # The customer came back (or the case was marked lost) before the worker got to the
        # queued action: the task is kept for the record, closed as the settling closes one.
        close_settled_task(task, case.outcome, now)
    session.add(task)


def carry_out_action(
    session: Session, case_id: int, *, actor: User | None = None, audit: bool = True
) -> bool:
    """Carry out a treated case's queued action (e-mail, offer points or voucher, task) in the
    caller's transaction; False when there is nothing to do.

    The case row is locked first and its action status checked under the lock, so a second
    runner (a retried work item, a second worker) waits, then finds it done: the e-mail is
    queued, the points posted and the task created once. A runner that died wrote nothing.
    With ``audit=False`` (the actions of an evaluation, carried out in groups) the caller
    records one summary entry instead of one per case."""
    case = lock_row(session, RetentionCase, case_id)
    if case is None or case.action_status not in ("queued", "running"):
        return False
    alert = session.get(RetentionAlert, case.alert_id)
    pb = session.get(RetentionPlaybook, case.playbook_id)
    if alert is None or pb is None:
        raise NotFound("Alert" if alert is None else "Playbook", case.alert_id)
    before = snapshot(case)
    # The decision's time: due dates and the ledger count from when the playbook was applied.
    _act(session, alert, pb, case, case.assigned_at)
    case.action_status, case.action_error = "done", None
    session.flush()
    if audit:
        record(session, actor, "update", "retention_case", case.id, before, snapshot(case))
    return True


def apply_to_alert(
    session: Session,
    alert_id: int,
    *,
    actor: User,
    playbook_id: int | None = None,
    defer_action: bool = False,
) -> RetentionCase:
    """A manager applies a playbook (the matching one, or ``playbook_id``) to an alert; with
    ``defer_action`` a treated case's action is queued for a worker (``retention.apply_jobs``)."""
    require(actor, "retention:work")
    alert = lock_row(session, RetentionAlert, alert_id)
    if alert is None:
        raise NotFound("Alert", alert_id)
    # An agent applies playbooks to their own alerts only, and is told nothing of another's.
    check_agent_owns(actor, alert.owner_id)
    if alert.status == "closed":
        # Often closed a moment ago by someone else (this request waited for the alert's lock).
        raise Conflict(
            Msg("Alert %(id)s is closed: no playbook can be applied to it.", id=alert_id),
            field="alert_id",
        )
    pb = None
    if playbook_id is not None:
        pb = session.get(RetentionPlaybook, playbook_id)
        if pb is None:
            raise InvalidInput(
                Msg("Playbook %(id)s does not exist.", id=playbook_id), field="playbook_id"
            )
    case = apply_playbook(session, alert, playbook=pb, actor=actor, defer_action=defer_action)
    if case is None:
        raise InvalidInput(
            Msg(
                "No enabled playbook for class %(class)s and reason %(reason)s (or the customer "
                "is outside the segment its playbook is limited to).",
                **{"class": _class_term(alert.value_class)},
                reason=_reason_term(alert.rule),
            ),
            field="playbook_id",
        )
    return case
