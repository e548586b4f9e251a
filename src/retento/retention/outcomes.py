"""Win-back outcomes: came back (a new order inside the case's window) or lost, and revenue.

The ``order.created`` and ``orders.imported`` hooks mark a pending case as came back at once;
the ``retention_outcomes`` job settles every case whose window has ended from the orders table
(so orders that reached the database another way count too): came back with the window's
revenue, or lost. Settling is idempotent.

A case that settles (came back or lost, by an order, the job or by hand) closes its owner's
open task in the same transaction: cancelled, with a note saying why, in the audit log. The
task is locked before the case, as every path that takes both.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput, Msg, NotFound
from retento.core.locking import lock_each
from retento.core.money import ZERO
from retento.orders.models import Order
from retento.retention.models import RetentionAlert, RetentionCase
from retento.retention.ownership import check_agent_owns
from retento.retention.playbook_apply import release_open_cases
from retento.retention.reasons import CAME_BACK_NOTE
from retento.retention.tasks import close_settled_tasks, lock_open_tasks

# Alerts about lapsing that an order answers: closed when the customer orders again.
CLOSED_BY_ORDER = ("churn_risk", "rhythm")


def on_orders(session: Session, orders: list) -> int:
    """Record new orders on the customers' open cases; returns the cases changed. ``orders`` are
    ``Order`` objects or rows with ``customer_id``, ``ordered_at``, ``status`` and ``revenue``."""
    changed = 0
    by_customer: dict[int, list] = {}
    for o in orders:
        if o.status != "cancelled":
            by_customer.setdefault(o.customer_id, []).append(o)
    if not by_customer:
        return 0
    # The open tasks of the customers' pending cases first (the task, then its case: the order
    # of set_task_status), so an owner completing one at this moment cannot deadlock with us.
    pending = select(RetentionCase.id).where(
        RetentionCase.customer_id.in_(list(by_customer)), RetentionCase.outcome == "pending"
    )
    tasks = lock_open_tasks(session, session.scalars(pending).all())
    cases = session.scalars(
        lock_each(
            select(RetentionCase)
            .where(
                RetentionCase.customer_id.in_(list(by_customer)),
                RetentionCase.outcome.in_(("pending", "came_back")),
            )
            .order_by(RetentionCase.id)  # one order for every process: queue, not deadlock
        )
    ).all()
    settled: list[int] = []
    for case in cases:
        for o in by_customer[case.customer_id]:
            if not (case.assigned_at <= o.ordered_at <= case.window_ends_at):
                continue
            if case.outcome == "pending":
                case.outcome = "came_back"
                case.came_back_at = o.ordered_at
                settled.append(case.id)
            elif case.came_back_at is None or o.ordered_at < case.came_back_at:
                # Orders committed out of their order (parallel, back-dated): the first counts.
                case.came_back_at = o.ordered_at
            case.revenue = (case.revenue or ZERO) + (o.revenue or ZERO)
            changed += 1
    release_open_cases(session, settled)
    came_back = set(settled)
    close_settled_tasks(session, [c for c in cases if c.id in came_back], tasks)
    now = utcnow()
    # Locked (after the cases, as every path taking both): an owner acknowledging the alert at
    # this moment is waited for, then the alert is closed, instead of the order's hook failing
    # on the alert's version and the came-back case being rolled back with it.
    for alert in session.scalars(
        lock_each(
            select(RetentionAlert)
            .where(
                RetentionAlert.customer_id.in_(list(by_customer)),
                RetentionAlert.rule.in_(CLOSED_BY_ORDER),
                RetentionAlert.status != "closed",
            )
            .order_by(RetentionAlert.id)
        )
    ):
        alert.status, alert.closed_at, alert.close_note = "closed", now, CAME_BACK_NOTE
    session.flush()
    return changed


def settle(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Settle cases whose window has ended: came back (with revenue) or lost."""
    now = now or utcnow()
    ripe = (RetentionCase.outcome == "pending", RetentionCase.window_ends_at < now)
    candidates = session.scalars(
        select(RetentionCase.id).where(*ripe).order_by(RetentionCase.id).limit(5000)
    ).all()
    # Their open tasks before the cases (the one order of every path taking both); a parallel
    # job waits here, then finds those tasks closed and the cases settled.
    tasks = lock_open_tasks(session, candidates)
    due = (
        session.scalars(
            lock_each(
                select(RetentionCase)
                .where(RetentionCase.id.in_(candidates), *ripe)
                .order_by(RetentionCase.id),
                skip_locked=True,
            )
        ).all()
        if candidates
        else []
    )
    out = {"came_back": 0, "lost": 0}
    for case in due:
        first, revenue = session.execute(
            select(func.min(Order.ordered_at), func.coalesce(func.sum(Order.revenue), 0)).where(
                Order.customer_id == case.customer_id,
                Order.status != "cancelled",
                Order.ordered_at >= case.assigned_at,
                Order.ordered_at <= case.window_ends_at,
            )
        ).one()
        if first is not None:
            case.outcome, case.came_back_at = "came_back", first
            case.revenue = Decimal(str(revenue)).quantize(Decimal("0.01"))
            out["came_back"] += 1
        else:
            case.outcome = "lost"
            out["lost"] += 1
    release_open_cases(session, [case.id for case in due])
    session.flush()
    close_settled_tasks(session, due, tasks)
    return out


def record_outcome(
    session: Session,
    case_id: int,
    *,
    actor,
    reached: bool | None = None,
    offer_accepted: bool | None = None,
    lost: bool | None = None,
    note: str | None = None,
    version: int | None = None,
) -> RetentionCase:
    """Record what the owner learnt on a case: reached, offer accepted, or lost for good."""
    from retento.audit.service import record, snapshot
    from retento.auth.permissions import require
    from retento.core.versioning import lock_for_edit
    from retento.retention.service import NOTE_MAX, clean_note

    require(actor, "retention:work")
    case = session.get(RetentionCase, case_id)
    if case is None:
        raise NotFound("Case", case_id)
    # An agent records outcomes only on the cases of their own alerts (as they work only their
    # own alerts and tasks): "lost" would also cancel the owner's open task.
    alert = session.get(RetentionAlert, case.alert_id)
    check_agent_owns(actor, alert.owner_id if alert is not None else None)
    text = clean_note(note, NOTE_MAX) if note is not None else None
    # The case's open task first (task, then case), in case it is marked lost now.
    tasks = lock_open_tasks(session, [case.id]) if lost else {}
    lock_for_edit(session, case, version)
    before = snapshot(case)
    if reached is not None:
        case.reached = reached
    if offer_accepted is not None:
        if case.action != "offer":
            raise InvalidInput("Only an offer can be accepted.", field="offer_accepted")
        case.offer_accepted = offer_accepted
    if lost:
        if case.outcome == "came_back":
            # Often an order recorded a moment ago (it waited for, or took, the case's lock).
            raise Conflict(
                Msg("Case %(id)s: the customer came back; the case is not lost.", id=case.id),
                field="lost",
            )
        case.outcome = "lost"
        release_open_cases(session, [case.id])
    if note is not None:
        from retento.retention.offers import offer_note
        from retento.retention.reasons import consent_lines

        # What the loyalty offer did, and a missing consent, stay on the case (the task page
        # shows the offer; the uplift report counts the cases that could not be phoned).
        kept = [offer_note(case.note), consent_lines(case.note)]
        case.note = "\n".join(x for x in (*kept, text) if x) or None
    session.flush()
    record(session, actor, "update", "retention_case", case.id, before, snapshot(case))
    if lost:
        close_settled_tasks(session, [case], tasks, actor=actor)
    return case
