"""An automatic tier change (an upgrade while points are earned, a file import's upgrades) whose
tier a manager deletes at the same moment: the change reads the tier ``FOR KEY SHARE`` first
(``tiers.hold_tiers``, as ``set_tier`` does), so a delete waits for it and then sees the
member, and a change that comes second is refused with a 409 naming the tier, not a failed
foreign key (a generic 409), and writes nothing."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from retento.auth.models import User
from retento.core.db import utcnow
from retento.core.errors import Conflict
from retento.dataio import service as dataio
from retento.loyalty import ledger, programme, tiers
from retento.loyalty.models import LoyaltyAccount, LoyaltyTier, LoyaltyTierChange
from retento.orders import service as orders
from retento.orders.models import Order
from retento.orders.schemas import OrderCreate
from tests.factories import make_customer, make_product, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme, make_tiers

SAID = "The loyalty tier Gold was deleted meanwhile; try again."


def _member_and_gold(session):
    """An active programme (1 point per unit spent), a member without a tier, the Gold tier
    (50 points, Chinese name 金卡) nobody is in yet, and a product of 100.00."""
    make_programme(session)
    (gold,) = make_tiers(session, ("gold", 50, "1.5"))
    gold.name_zh = "金卡"
    c = make_customer(session, external_id="M-1")
    ledger.wallet(session, c.id)
    p = make_product(session, external_id="P-1", unit_price=Decimal("100.00"))
    session.flush()
    return c, gold, p


def _gone(session, tier: LoyaltyTier) -> None:
    """The tier's row deleted as another transaction would (the loaded object stays as the
    caller read it before)."""
    session.execute(
        delete(LoyaltyTier)
        .where(LoyaltyTier.id == tier.id)
        .execution_options(synchronize_session=False)
    )


def test_change_tier_into_a_deleted_tier_is_a_conflict_naming_it(db, users):
    c, gold, _p = _member_and_gold(db)
    w = ledger.wallet(db, c.id)
    _gone(db, gold)
    with pytest.raises(Conflict) as e:
        tiers.change_tier(db, w, gold, "upgrade", 60, utcnow(), actor_id=None)
    assert (e.value.field, str(e.value.message)) == ("tier_id", SAID)
    assert e.value.message.params["tier"].names == {"zh_CN": "金卡"}
    assert db.scalar(select(func.count()).select_from(LoyaltyTierChange)) == 0


def test_change_tiers_into_a_deleted_tier_is_a_conflict_naming_it(db, users):
    c, gold, _p = _member_and_gold(db)
    w = ledger.wallet(db, c.id)
    move = tiers.TierMove(w.id, c.id, None, gold, "upgrade", 60)
    _gone(db, gold)
    with pytest.raises(Conflict) as e:
        tiers.change_tiers(db, [move], utcnow(), actor_id=None)
    assert (e.value.field, str(e.value.message)) == ("tier_id", SAID)
    assert db.scalar(select(func.count()).select_from(LoyaltyTierChange)) == 0


def test_the_message_reads_in_chinese():
    from retento.web.i18n import gettext

    template = "The loyalty tier %(tier)s was deleted meanwhile; try again."
    assert gettext("zh_CN", template) % {"tier": "金卡"} == "会员等级 金卡 刚刚被删除，请重试。"


# --- Races on PostgreSQL: real commits, two threads released together by a barrier -------

HOLD = 3.0  # seconds the delete stays open while the upgrade waits for it (and gets there)


def _race_world(live_pg) -> dict[str, int]:
    with live_pg.session() as s:
        manager = make_user(s, role="admin")
        c, gold, p = _member_and_gold(s)
        s.commit()
        return {"user": manager.id, "customer": c.id, "tier": gold.id, "product": p.id}


def _race(live_pg, w: dict[str, int], earn) -> list:
    """The tier's delete (holding its transaction open), then ``earn`` in a session of its
    own, which upgrades the member into the tier: the results of both."""
    deleting, earning = threading.Event(), threading.Event()

    def run(i: int):
        with live_pg.session() as s:
            actor = s.get(User, w["user"])
            if i == 0:
                programme.delete_tier(s, w["tier"], actor=actor)
                deleting.set()
                earning.wait(HOLD)  # the upgrade is waiting for this transaction meanwhile
                s.commit()
                return "deleted"
            assert deleting.wait(10)
            try:
                earn(s, actor)
                s.commit()
                return "upgraded"
            except Conflict as exc:
                return exc.field, str(exc.message)
            finally:
                earning.set()

    return run_parallel(2, run)


def _after(live_pg, w: dict[str, int]) -> tuple[bool, int | None, int, int]:
    """(the tier exists, the member's tier, tier changes, the member's orders)."""
    with live_pg.session() as s:
        return (
            s.get(LoyaltyTier, w["tier"]) is not None,
            s.scalar(
                select(LoyaltyAccount.tier_id).where(LoyaltyAccount.customer_id == w["customer"])
            ),
            s.scalar(select(func.count()).select_from(LoyaltyTierChange)),
            s.scalar(select(func.count()).where(Order.customer_id == w["customer"])),
        )


def test_an_order_earning_an_upgrade_during_the_tiers_delete_gets_a_clear_conflict(live_pg):
    """The order's points lift the member into Gold (``tiers.evaluate``) while Gold is being
    deleted: the upgrade waits for the delete, then refuses naming the tier, and the order is
    not recorded. Before, the wallet's foreign key failed (a generic 409)."""
    w = _race_world(live_pg)

    def earn(s, actor):
        body = {"ordered_at": utcnow(), "lines": [{"product_id": w["product"], "quantity": 1}]}
        orders.create_order(s, OrderCreate(customer_id=w["customer"], **body), actor=actor)

    assert _race(live_pg, w, earn) == ["deleted", ("tier_id", SAID)]
    assert _after(live_pg, w) == (False, None, 0, 0)


def test_an_order_import_earning_upgrades_during_the_tiers_delete_gets_a_clear_conflict(live_pg):
    """The same through a file import, whose upgrades are written together
    (``tiers.change_tiers``): refused naming the tier, nothing of the file imported."""
    w = _race_world(live_pg)
    at = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")  # inside the tier window
    text = (
        "order_external_id,customer_external_id,ordered_at,product_external_id,quantity,"
        f"unit_price\nO-1,M-1,{at},P-1,1,100.00\n"
    )

    def earn(s, actor):
        dataio.import_file(s, "orders", text.encode(), name="o.csv", actor=actor)

    assert _race(live_pg, w, earn) == ["deleted", ("tier_id", SAID)]
    assert _after(live_pg, w) == (False, None, 0, 0)
