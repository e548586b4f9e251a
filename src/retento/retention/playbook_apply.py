"""Applying a playbook to an alert: treated or control, the case and its action.

Assignment is a stratified, reproducible permuted-block design: the cases of one playbook and one
retention class are numbered in order (``seq``, reserved from ``RetentionSeq`` by
:func:`reserve_seq`, without locking the playbook) and cut into blocks of ``BLOCK``; each block
is split by ``analytics.uplift.assign_treatment`` seeded with (playbook, class, block). Every
class therefore holds out its share within one customer per block, and the same history always
gives the same split. Only treated cases get the action; control cases get nothing and their
alert is closed as held out, so no one acts on them.

Editing playbooks and matching one to an alert is in ``retention.playbooks``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.auth.models import User
from retento.auth.permissions import require
from retento.core.db import utcnow
from retento.core.errors import (
    Conflict,
    InvalidInput,
    Msg,
    NotFound,
)
from retento.core.locking import IN_TRANSACTION_COUNTERS, key_share_row, lock_row
from retento.core.money import ZERO
from retento.customers.models import Customer
from retento.retention.consent import CONTACT_KINDS, may_phone
from retento.retention.models import (
    RetentionAlert,
    RetentionCase,
    RetentionOpenCase,
    RetentionPlaybook,
    RetentionSeq,
    RetentionTask,
)
from retento.retention.ownership import check_agent_owns
from retento.retention.playbooks import (
    _class_term,
    _reason_term,
    candidate_playbooks,
    in_segment,
)
from retento.retention.reasons import (
    HELD_OUT_NOTE,
    LET_GO_NOTE,
    NO_EMAIL_NOTE,
    NO_PHONE_NOTE,
    SETTLED_NOTES,
)
from retento.retention.system_texts import OFFER_REASON
from retento.web.i18n import installation_locale, system_text

BLOCK = 20


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
