"""The member page's points lots name their source as the history does.

Exploratory testing found the lot list showing the source's raw id ("挽回优惠 241", "生日 2026-1",
"订单 2") while the history on the same page said "订单 DO00000002": a lot now reads as the
reason of the journal that earned it (``reason_labels.journal_reason``, as the history).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from retento.core.db import utcnow
from retento.loyalty import events, service
from retento.loyalty.earning import award_event
from retento.loyalty.models import LoyaltyLot
from retento.loyalty.pages import lot_journals
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate
from retento.retention.offers import post_offer_points
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

SOURCES = {
    "en": {"Order DO-LOT-1", "Birthday 2026", "Win-back offer (Try an offer)"},
    "zh_CN": {"订单 DO-LOT-1", "2026 年生日", "挽回优惠（Try an offer）"},
}


def _member_with_lots(db, users):
    """A member with points from an order, a birthday and a win-back offer."""
    make_programme(db)
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("40.00"))
    order = orders.create_order(
        db,
        OrderCreate(
            customer_id=c.id,
            external_id="DO-LOT-1",
            ordered_at=utcnow() - timedelta(days=30),
            lines=[{"product_id": p.id, "quantity": 1}],
        ),
        actor=users["admin"],
    )
    award_event(
        db,
        c.id,
        "birthday",
        source_type="birthday",
        source_id=events.birthday_source_id(c.id, 2026),
        actor_id=None,
        points=200,
        reason="Birthday 2026",
    )
    post_offer_points(db, 241, c.id, 500, reason="Win-back offer (Try an offer)")
    db.commit()
    return c, order


def _lot_sources(html: str) -> list[str]:
    body = html[html.index('id="lots"') :]
    body = body[: body.index("</table>")]
    rows = re.findall(r"<tr><td>.*?</td><td>(.*?)</td>", body, re.S)
    return [re.sub(r"<[^>]+>", "", r).strip() for r in rows]


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_lots_name_their_source_as_the_history_does(db, client, users, locale):
    c, order = _member_with_lots(db, users)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/loyalty/members/{c.id}")
    assert page.status_code == 200
    shown = _lot_sources(page.text)
    assert set(shown) == SOURCES[locale], shown
    # the history names the order the same way
    order_source = next(s for s in shown if "DO-LOT-1" in s)
    assert order_source in page.text[page.text.index('id="history"') :]
    for raw in (f" {order.id}", "2026-", " 241"):
        assert not any(s.endswith(raw) for s in shown), raw


def test_a_lot_split_off_by_a_merge_is_named_by_the_journal_that_earned_it(db, users):
    """A merge moves a partly expired lot as a new lot written by the merge's journal: the lot
    still names the order it was earned on."""
    c, _order = _member_with_lots(db, users)
    other = make_customer(db)
    earned = db.scalar(
        select(LoyaltyLot).where(LoyaltyLot.source_type == "order").order_by(LoyaltyLot.id)
    )
    # the merge's journal: any journal of another source
    merge_journal = service.adjust(db, other.id, 1, actor=users["manager"], reason="Merged")
    assert merge_journal.source_type != "order"
    db.execute(
        insert(LoyaltyLot.__table__).values(
            account_id=earned.account_id,
            journal_id=merge_journal.id,
            points=3,
            remaining=3,
            clawed=0,
            qualifying=True,
            source_type="order",
            source_id=earned.source_id,
            earned_at=earned.earned_at,
            expires_at=earned.expires_at,
            available_at=None,
            basis=None,
        )
    )
    lots = list(db.scalars(select(LoyaltyLot).order_by(LoyaltyLot.id)))
    found = lot_journals(db, lots)
    split = lots[-1]
    assert found[split.id].id == earned.journal_id
    assert found[earned.id].id == earned.journal_id
