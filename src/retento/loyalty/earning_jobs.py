"""The points of a large file import, earned after it by a worker in short transactions.

A file import is one all-or-nothing transaction. Earning inside it locks every member wallet the
file touches, ``FOR UPDATE``, until it commits. For 1,000,000 order lines (~400,000 orders), that
is several minutes in which a member's redemption at the till waits. It also makes the import
that much slower (``docs/benchmarks.md``, "Loyalty: imported orders earn set-based").

An import with at most ``INLINE_MAX`` new orders earns in its own transaction, as before, so
points show at once. A larger import queues one ``loyalty.earn_import`` work item in its
transaction, so the item exists if and only if the orders do. A worker, or the web process with
``RETENTO_RUN_WORK_IN_WEB``, earns it afterwards: ``BATCH`` orders per transaction, each through
``earning_bulk.earn_for_imported``. A batch keeps its wallets locked for about a second. Progress
shows on the Background work page; ``retento import`` runs the item itself right after the
import commits.

Same results as earning inside the import:
- The batches keep the import's processing order (chunks of 1,000 as given, each in id order;
  ``BATCH`` is a multiple of 1,000).
- Each order earns once, by its key ``order:<id>:earn``. A batch that is run again (the worker
  died, the item was re-queued) skips what was posted.
- The orders are committed by then, and may be refunded, cancelled or changed before their
  batch runs. The batch reads them ``FOR SHARE`` before it locks the wallets. A refund either
  waits for the batch and then claws back its points, or commits first, and the batch earns on
  what is left of the order (the revenue net of refunds, as ``earn_for_order`` does).
- The programme is read when the batch runs: if it was switched off meanwhile, nothing is earned.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from retento.core.db import transaction
from retento.loyalty import batch_sql, earning_bulk, ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyLot, LoyaltyRuleUse
from retento.web.i18n import N_
from retento.work import queue
from retento.work.queue import WorkContext, work_kind

WORK_KIND = "loyalty.earn_import"
BATCH = earning_bulk.BATCH  # orders per transaction
INLINE_MAX = BATCH  # up to this many new orders earn inside the import's own transaction
STAGES = {"earning": N_("Earning points for the imported orders")}


def earn_or_queue(session: Session, order_ids: list[int], *, actor_id: int | None) -> int | None:
    """Earn for an import's new orders now (at most ``INLINE_MAX``) or queue them for a worker.
    Returns the work item's id when queued."""
    if not order_ids or not ledger.programme(session).active:
        return None
    if len(order_ids) <= INLINE_MAX:
        earning_bulk.earn_for_imported(session, order_ids, actor_id=actor_id)
        return None
    item = queue.enqueue(
        session,
        WORK_KIND,
        {"ranges": to_ranges(order_ids), "orders": len(order_ids), "actor_id": actor_id},
        actor_id=actor_id,
    )
    return item.id


def to_ranges(ids: Iterable[int]) -> list[list[int]]:
    """``ids`` as runs of consecutive ids, ``[first, last]``, in their order: an import's new
    ids are drawn from one sequence, so 400,000 of them usually make one run."""
    out: list[list[int]] = []
    for i in ids:
        if out and i == out[-1][1] + 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def from_ranges(ranges: Iterable[Iterable[int]]) -> list[int]:
    out: list[int] = []
    for first, last in ranges:
        out.extend(range(int(first), int(last) + 1))
    return out


def analyze(session: Session, tables: Iterable[Any]) -> None:
    """Refresh PostgreSQL's statistics of ``tables`` (models), which this run reads by key while
    they grow by hundreds of thousands of rows. Blind to that growth (autovacuum's analyze comes
    a minute or more later, or never where it is off), the planner scanned whole tables where an
    index was there for the look-up, and it got worse as the tables grew:
    - a batch's lines by ``order_id IN (…)`` right after the import: ~100 ms instead of a few, a
      quarter of the worker's time for 1,000,000 lines;
    - the rule uses a cap counts, the key check and the tier basis, as the run writes them.
    The PostgreSQL manual advises ANALYZE after a bulk load ("Populating a Database")."""
    if batch_sql.is_pg(session):
        names = ", ".join(t.__tablename__ for t in tables)
        session.execute(text(f"ANALYZE {names}"))


@work_kind(WORK_KIND, N_("Loyalty points for imported orders"), stages=STAGES, retry_safe=True)
def run_queued(ctx: WorkContext) -> dict[str, Any]:
    """Earn the item's orders, ``BATCH`` per transaction, reporting progress."""
    ids = earning_bulk.processing_order(from_ranges(ctx.payload.get("ranges") or []))
    actor_id = ctx.payload.get("actor_id")
    earned = 0
    ctx.progress("earning", 0.0)
    from retento.orders.models import Order, OrderLine

    with transaction(ctx.factory) as s:
        analyze(s, (Order, OrderLine))  # what the import has just loaded
    for k, start in enumerate(range(0, len(ids), BATCH)):
        batch = ids[start : start + BATCH]
        with transaction(ctx.factory) as s:
            if k and not k & (k - 1):  # after 1, 2, 4, 8 … batches: what the run has written
                analyze(s, (LoyaltyJournal, LoyaltyLot, LoyaltyRuleUse))
            earned += earning_bulk.earn_for_imported(s, batch, actor_id=actor_id, lock_orders=True)
        ctx.progress("earning", (start + len(batch)) / len(ids))
    return {"orders": len(ids), "earned": earned}
