"""Rewards granted by a source document (no user): a voucher from the rewards catalogue issued
free of points, e.g. by a win-back offer of the retention playbooks.

What a grant is in this ledger: a ``redeem`` journal with **no postings** (the member's points do
not move, so every balance, lot and the ``retento loyalty check`` invariants are untouched) and a
:class:`~retento.loyalty.models.LoyaltyRedemption` row for the reward with ``points = 0`` and no
agent. The member page lists it in the history like any redemption (kind "redeem", 0 points, the
reason naming the voucher and the source), and the rewards reports count it as a reward handed
out. The reward's stock goes down by one under the reward's row lock, so it never goes below zero.

Idempotent per source document: the journal's unique key is ``<source_type>:<source_id>:reward``
(e.g. ``retention_case:42:reward``); a second call, also from a parallel transaction, returns the
first grant and issues nothing.

Lock order, as everywhere in the ledger: the wallet row first, then the reward row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from retento.audit.service import record, snapshot
from retento.core.db import utcnow
from retento.core.errors import InvalidInput
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyRedemption, LoyaltyReward

# Results of a grant (``GrantResult.state``).
ISSUED = "issued"
NOT_MEMBER = "not_member"
INACTIVE = "inactive"
OUT_OF_STOCK = "out_of_stock"
UNAVAILABLE = "unavailable"  # the reward is deleted or no longer active
TIER = "tier"  # the reward is for a higher tier than the member's


@dataclass(frozen=True)
class GrantResult:
    """What a grant did. ``redemption`` is set when the voucher is issued (now or before)."""

    state: str
    reward_id: int
    reward_name: str | None = None
    points_cost: int = 0
    redemption: LoyaltyRedemption | None = None
    replayed: bool = False

    @property
    def issued(self) -> bool:
        return self.state == ISSUED


def grant_key(source_type: str, source_id: int | str) -> str:
    """The journal idempotency key of the reward granted by one source document."""
    return f"{source_type}:{source_id}:reward"


def _replay(session: Session, j: LoyaltyJournal, reward_id: int) -> GrantResult:
    red = session.scalar(select(LoyaltyRedemption).where(LoyaltyRedemption.journal_id == j.id))
    reward = red.reward if red is not None else None
    return GrantResult(
        ISSUED,
        reward_id,
        reward.name if reward else None,
        reward.points_cost if reward else 0,
        red,
        replayed=True,
    )


def grant_reward(
    session: Session,
    customer_id: int,
    reward_id: int,
    *,
    source_type: str,
    source_id: int | str,
    reason: str,
    now: datetime | None = None,
) -> GrantResult:
    """Issue reward ``reward_id`` to member ``customer_id`` free of points, once per source.

    No user is involved: the journal's actor is empty and its ``source_type``/``source_id`` name
    the document that granted it. Nothing is posted (and the stock is unchanged) when the customer
    is not a member, the programme is inactive, or the reward is unavailable, out of stock or for
    a higher tier; the result's ``state`` says which.
    """
    source_type = str(source_type).strip()
    if not source_type or len(source_type) > 20:
        raise InvalidInput("source_type must be 1 to 20 characters.", field="source_type")
    key = grant_key(source_type, source_id)
    if len(key) > 200:
        raise InvalidInput("source_id is too long.", field="source_id")
    prog = ledger.programme(session)
    w = ledger.get_wallet(session, customer_id, lock=True)
    if w is None:
        return GrantResult(NOT_MEMBER, reward_id)
    # Under the wallet lock: a grant committed meanwhile by another transaction is visible now.
    done = ledger.find_journal(session, key)
    if done is not None:
        return _replay(session, done, reward_id)
    if not prog.active:
        return GrantResult(INACTIVE, reward_id)
    reward = session.scalar(
        select(LoyaltyReward)
        .where(LoyaltyReward.id == reward_id)
        .with_for_update(of=LoyaltyReward)
        .execution_options(populate_existing=True)  # fresh stock and version under the lock
    )
    if reward is None or not reward.active:
        return GrantResult(UNAVAILABLE, reward_id, reward.name if reward else None)
    name, cost = reward.name, int(reward.points_cost)
    if reward.stock is not None and reward.stock <= 0:
        return GrantResult(OUT_OF_STOCK, reward_id, name, cost)
    if reward.min_tier is not None and (w.tier is None or w.tier.rank < reward.min_tier.rank):
        return GrantResult(TIER, reward_id, name, cost)
    now = now or utcnow()
    try:
        p = ledger.open_journal(
            session,
            kind="redeem",
            customer_id=customer_id,
            source_type=source_type,
            source_id=source_id,
            reason=(f"Reward {name}: {reason}" if reason else f"Reward {name}")[:300],
            actor_id=None,
            idem_key=key,
            req_hash=ledger.request_hash({"op": "grant", "c": customer_id, "r": reward_id}),
            wallet_account=w,
            at=now,
        )
    except ledger.Replay as r:
        return _replay(session, r.journal, reward_id)
    p.commit()  # no postings: the voucher is free of points
    if reward.stock is not None:
        reward.stock -= 1
    red = LoyaltyRedemption(
        customer_id=customer_id,
        reward_id=reward.id,
        order_id=None,
        points=0,
        returned=0,
        journal_id=p.journal.id,
        agent_id=None,
        created_at=now,
    )
    session.add(red)
    session.flush()
    record(session, None, "create", "loyalty_redemption", red.id, None, snapshot(red))
    return GrantResult(ISSUED, reward_id, name, cost, red)
