"""A tier deleted while a manager places a member in it (PostgreSQL, real commits, two threads
released together by a barrier).

The delete checked "no member is in this tier" and then deleted, without a lock that a
placement waits for: a placement committed between the check and the delete kept its history
row and its notice ("Your membership tier: Gold") while the foreign key set the member's tier
to nothing again. Now the delete locks the tier ``FOR UPDATE`` before it looks, and a placement
reads the tier ``FOR KEY SHARE``: either the placement wins (the delete is refused, 409) or the
delete wins (the placement finds no tier, 422), never both half-done."""

from __future__ import annotations

import threading

from sqlalchemy import select

from retento.auth.models import User
from retento.core.errors import Conflict, InvalidInput
from retento.loyalty import programme, tiers
from retento.loyalty.models import LoyaltyAccount, LoyaltyTier, LoyaltyTierChange
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme, make_tiers

# How long the first transaction stays open after its write: the other one is waiting for its
# lock meanwhile (before the fix it was not, and went on).
HOLD = 1.5


def _world(live_pg) -> dict[str, int]:
    """An active programme, an invite-only tier nobody is in, a member without a tier."""
    with live_pg.session() as s:
        make_programme(s)
        manager = make_user(s, role="manager")
        customer = make_customer(s)
        (gold,) = make_tiers(s, ("gold", 10**9, "1.5"))
        gold.invite_only = True
        tiers.set_tier(s, customer.id, None, actor_id=None)  # opens the wallet, no tier
        s.commit()
        return {"manager": manager.id, "customer": customer.id, "tier": gold.id}


def _state(live_pg, w: dict[str, int]) -> tuple[bool, int | None, list[int | None]]:
    """(the tier exists, the member's tier, the tiers the member's history moved them to)."""
    with live_pg.session() as s:
        exists = s.get(LoyaltyTier, w["tier"]) is not None
        member = s.scalar(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == w["customer"]))
        moved = s.scalars(
            select(LoyaltyTierChange.to_tier_id).where(
                LoyaltyTierChange.customer_id == w["customer"]
            )
        ).all()
        return exists, member.tier_id, list(moved)


def test_a_placement_first_makes_the_delete_wait_and_refuse(live_pg):
    w = _world(live_pg)
    placed, deleted = threading.Event(), threading.Event()

    def run(i: int):
        with live_pg.session() as s:
            if i == 0:
                tiers.set_tier(s, w["customer"], w["tier"], actor_id=w["manager"])
                placed.set()
                deleted.wait(HOLD)  # the delete is waiting for this transaction meanwhile
                s.commit()
                return "placed"
            assert placed.wait(10)
            try:
                programme.delete_tier(s, w["tier"], actor=s.get(User, w["manager"]))
                s.commit()
                return "deleted"
            except Conflict as exc:
                return exc.field
            finally:
                deleted.set()

    assert run_parallel(2, run) == ["placed", "tier_id"]
    assert _state(live_pg, w) == (True, w["tier"], [w["tier"]])


def test_a_delete_first_makes_the_placement_wait_and_find_no_tier(live_pg):
    w = _world(live_pg)
    deleting, placing = threading.Event(), threading.Event()

    def run(i: int):
        with live_pg.session() as s:
            if i == 0:
                programme.delete_tier(s, w["tier"], actor=s.get(User, w["manager"]))
                deleting.set()
                placing.wait(HOLD)  # the placement is waiting for this transaction meanwhile
                s.commit()
                return "deleted"
            assert deleting.wait(10)
            try:
                tiers.set_tier(s, w["customer"], w["tier"], actor_id=w["manager"])
                s.commit()
                return "placed"
            except InvalidInput as exc:
                return exc.field
            finally:
                placing.set()

    assert run_parallel(2, run) == ["deleted", "tier_id"]
    assert _state(live_pg, w) == (False, None, [])


def test_placements_and_a_delete_released_together_never_both_win(live_pg):
    """Four placements of four members and a delete, all at once: the delete is refused
    whenever one placement committed first; every member is in the tier or in none, with a
    history that says so."""
    w = _world(live_pg)
    with live_pg.session() as s:
        customers = [w["customer"]]
        for _ in range(3):
            c = make_customer(s)
            tiers.set_tier(s, c.id, None, actor_id=None)
            customers.append(c.id)
        s.commit()

    def run(i: int):
        with live_pg.session() as s:
            try:
                if i == len(customers):
                    programme.delete_tier(s, w["tier"], actor=s.get(User, w["manager"]))
                    s.commit()
                    return "deleted"
                tiers.set_tier(s, customers[i], w["tier"], actor_id=w["manager"])
                s.commit()
                return "placed"
            except (Conflict, InvalidInput) as exc:
                return exc.field

    results = run_parallel(len(customers) + 1, run)
    *placements, delete = results
    assert set(placements) <= {"placed", "tier_id"} and delete in ("deleted", "tier_id"), results
    with live_pg.session() as s:
        exists = s.get(LoyaltyTier, w["tier"]) is not None
        members = dict(
            s.execute(
                select(LoyaltyAccount.customer_id, LoyaltyAccount.tier_id).where(
                    LoyaltyAccount.customer_id.in_(customers)
                )
            ).all()
        )
        moved = set(
            s.scalars(
                select(LoyaltyTierChange.customer_id).where(
                    LoyaltyTierChange.customer_id.in_(customers)
                )
            )
        )
    placed = {c for c, r in zip(customers, placements, strict=True) if r == "placed"}
    assert exists == (delete != "deleted")
    if exists:
        assert placed, results  # the delete was refused because someone was placed
        assert {c for c, t in members.items() if t == w["tier"]} == placed == moved
    else:
        assert placed == set() and moved == set(), results
        assert set(members.values()) == {None}
