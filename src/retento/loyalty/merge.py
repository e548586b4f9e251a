"""Customer merge (``customer.merge`` hook, see ``retento.customers.merge``): the duplicate's
points move to the survivor by one balanced ``transfer`` journal.

- Due lots of the duplicate expire first (as they would have), to breakage.
- The duplicate's lots move to the survivor's wallet as they are (points, remaining, expiry,
  return window, source): a later refund of a moved order claws back from the survivor, and
  the tier window still counts them. A lot that already expired in part is instead consumed and
  re-issued to the survivor with the same expiry.
- Debt moves too, and is settled from the survivor's spendable lots where it can be.
- The journal posts ``-(lots - debt)`` on the duplicate's wallet and ``+(lots - debt)`` on the
  survivor's, so every account still equals its postings and the ledger sums to zero.
- Open holds on the duplicate refuse the merge (409): confirm or void them first.
Journals, holds, redemptions and tier history stay with the archived duplicate (its history).
"""

from __future__ import annotations

from sqlalchemy import insert, select, update

from retento.core.db import utcnow
from retento.core.errors import Conflict, Msg
from retento.core.hooks import subscribe
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyAccount, LoyaltyHold, LoyaltyLot

# Tables this handler owns during a merge (the customers domain leaves them alone).
TABLES = {
    "loyalty_accounts",
    "loyalty_journals",
    "loyalty_holds",
    "loyalty_redemptions",
    "loyalty_tier_changes",
    "loyalty_measurements",
}


def merge_points(session, *, survivor, merged, actor=None, handled: set, moved=None, **_):
    handled.update(TABLES)
    if (
        session.scalar(select(LoyaltyAccount.id).where(LoyaltyAccount.customer_id == merged.id))
        is None
    ):
        return
    held = session.scalar(
        select(LoyaltyHold.id).where(
            LoyaltyHold.customer_id == merged.id, LoyaltyHold.status == "open"
        )
    )
    if held is not None:
        raise Conflict(
            Msg(
                "Customer %(id)s has open point holds; confirm or void them before merging.",
                id=merged.id,
            ),
            field="merge_id",
        )
    actor_id = actor.id if actor else None
    # Wallet rows first, in customer id order (the ledger's lock order: wallet, lots, shards).
    wallets = {}
    for cid in sorted((survivor.id, merged.id)):
        wallets[cid] = ledger.wallet(session, cid)
    src, dst = wallets[merged.id], wallets[survivor.id]
    now = utcnow()
    ledger.expire_wallet_now(session, src, now, actor_id=actor_id)
    session.refresh(src)
    p = ledger.open_journal(
        session,
        kind="transfer",
        customer_id=survivor.id,
        source_type="system",
        source_id=f"merge:{merged.id}",
        reason=f"Points of customer {merged.id} merged into customer {survivor.id}",
        actor_id=actor_id,
        idem_key=f"merge:{merged.id}:{survivor.id}",
        wallet_account=dst,
        at=now,
    )
    lots = list(session.scalars(select(LoyaltyLot).where(LoyaltyLot.account_id == src.id)))
    whole = [lot for lot in lots if lot.expired == 0]
    partly = [lot for lot in lots if lot.expired > 0 and lot.remaining > 0]
    total = sum(lot.remaining for lot in whole)
    if whole:
        session.execute(
            update(LoyaltyLot.__table__)
            .where(LoyaltyLot.__table__.c.id.in_([lot.id for lot in whole]))
            .values(account_id=dst.id)
        )
    for lot in partly:
        n = lot.remaining
        ledger.consume(p, n, [lot])
        session.execute(
            insert(LoyaltyLot.__table__).values(
                account_id=dst.id,
                journal_id=p.journal.id,
                points=n,
                remaining=n,
                clawed=0,
                qualifying=lot.qualifying,
                source_type=lot.source_type,
                source_id=lot.source_id,
                earned_at=lot.earned_at,
                expires_at=lot.expires_at,
                available_at=lot.available_at,
                basis=None,
            )
        )
        total += n
    debt = src.debt
    src.debt = 0
    dst.debt += debt
    net = total - debt
    p.add(src.id, -net)
    p.to_wallet(net)
    session.flush()
    if dst.debt > 0:
        settled = ledger.consume(p, dst.debt, ledger.open_lots(session, dst.id, now))
        dst.debt -= settled
    p.commit()
    session.refresh(src)
    if moved is not None:
        moved["loyalty_points"] = net
        moved["loyalty_lots"] = len(whole) + len(partly)
    from retento.loyalty.tiers import evaluate

    evaluate(session, dst, now, actor_id=actor_id)


subscribe("customer.merge", merge_points)
