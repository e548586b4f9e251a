"""Defects of the exploratory test (2026-12): refund write-offs in the ledger, the adjust form
sent again after Back, points too large, booleans as points, and points remedies on complaints.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.core.errors import Conflict
from retento.loyalty import earning, ledger, service
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyJournal, LoyaltyPosting
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate, RefundCreate
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _order(db, user, customer, amount):
    p = make_product(db, unit_price=Decimal(amount))
    return orders.create_order(
        db,
        OrderCreate(
            customer_id=customer.id,
            ordered_at=utcnow(),
            lines=[{"product_id": p.id, "quantity": 1}],
        ),
        actor=user,
    )


def _wallet_moves(db, customer_id) -> dict[str, int]:
    """kind → what the member's journals of that kind did to the wallet (summed)."""
    w = ledger.get_wallet(db, customer_id)
    rows = db.execute(
        select(LoyaltyJournal.kind, func.sum(LoyaltyPosting.amount))
        .join(LoyaltyPosting, LoyaltyPosting.journal_id == LoyaltyJournal.id)
        .where(LoyaltyPosting.account_id == w.id)
        .group_by(LoyaltyJournal.kind)
    ).all()
    return {k: int(n) for k, n in rows}


def _sum_of_wallet_postings(db, customer_id) -> int:
    w = ledger.get_wallet(db, customer_id)
    return int(
        db.scalar(
            select(func.coalesce(func.sum(LoyaltyPosting.amount), 0)).where(
                LoyaltyPosting.account_id == w.id
            )
        )
    )


# --- 1. points written off on a refund are in the ledger ------------------------------------


def test_cap_refund_shows_the_written_off_points_and_the_sums_hold(db, users):
    """Member 1's case: 131 points earned, 41 spent, 90 left; the refund takes back all 131:
    90 from the wallet, 41 written off (a line of its own), never below zero."""
    make_programme(db, refund_policy="cap")
    c = make_customer(db)
    o = _order(db, users["admin"], c, "131")
    service.redeem(db, c.id, points=41, actor=users["agent"])
    assert ledger.get_wallet(db, c.id).balance == 90
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("131")), actor=users["admin"])
    w = ledger.get_wallet(db, c.id)
    assert (w.balance, w.debt) == (0, 0)
    moves = _wallet_moves(db, c.id)
    # The clawback takes what the refunded money earned; the write-off gives back what the
    # policy does not let it take: clawback + written off = what was left, 90.
    assert moves["clawback"] == -131
    assert moves["write_off"] == 41
    assert -moves["clawback"] - moves["write_off"] == 90
    assert w.balance == _sum_of_wallet_postings(db, c.id) == sum(moves.values())
    wo = db.scalar(select(LoyaltyJournal).where(LoyaltyJournal.kind == "write_off"))
    claw = db.scalar(select(LoyaltyJournal).where(LoyaltyJournal.kind == "clawback"))
    assert wo.idem_key == claw.idem_key + ":write_off"
    assert (wo.source_type, wo.source_id, wo.reason) == (
        claw.source_type,
        claw.source_id,
        claw.reason,
    )
    assert sum(p.amount for p in wo.postings) == 0
    assert check_ledger(db).ok
    # Replaying the refund (a retried hook) posts nothing twice.
    refund = o.refunds[0] if hasattr(o, "refunds") else None
    if refund is not None:
        n = db.scalar(select(func.count()).select_from(LoyaltyJournal))
        earning.reverse_for_refund(db, o, refund, actor_id=None)
        assert db.scalar(select(func.count()).select_from(LoyaltyJournal)) == n


def test_partial_refund_writes_off_only_what_is_not_left(db, users):
    """US$105 of a US$210 order refunded: 105 points due, 90 left → 90 taken, 15 written off;
    the second half: 105 due, nothing left → all 105 written off."""
    make_programme(db, refund_policy="cap")
    c = make_customer(db)
    o = _order(db, users["admin"], c, "210")
    service.redeem(db, c.id, points=120, actor=users["agent"])
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("105")), actor=users["admin"])
    moves = _wallet_moves(db, c.id)
    assert (moves["clawback"], moves["write_off"]) == (-105, 15)
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("105")), actor=users["admin"])
    moves = _wallet_moves(db, c.id)
    assert (moves["clawback"], moves["write_off"]) == (-210, 120)
    # clawback + written off = the points the refunded amount earned (all 210)
    assert -moves["clawback"] == 210
    w = ledger.get_wallet(db, c.id)
    assert w.balance == 0 == _sum_of_wallet_postings(db, c.id)
    assert check_ledger(db).ok


def test_negative_policy_writes_off_beyond_the_limit(db, users):
    make_programme(db, refund_policy="negative", negative_limit=30)
    c = make_customer(db)
    o = _order(db, users["admin"], c, "100")
    service.redeem(db, c.id, points=100, actor=users["agent"])
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("100")), actor=users["admin"])
    w = ledger.get_wallet(db, c.id)
    assert (w.balance, w.debt) == (-30, 30)
    moves = _wallet_moves(db, c.id)
    assert (moves["clawback"], moves["write_off"]) == (-100, 70)
    assert check_ledger(db).ok


def test_nothing_written_off_when_the_points_are_there(db, users):
    make_programme(db, refund_policy="cap")
    c = make_customer(db)
    o = _order(db, users["admin"], c, "100")
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("100")), actor=users["admin"])
    assert "write_off" not in _wallet_moves(db, c.id)
    assert ledger.get_wallet(db, c.id).balance == 0


def test_write_off_on_member_page_api_and_export(db, client, users, tokens):
    make_programme(db, refund_policy="cap")
    c = make_customer(db)
    o = _order(db, users["admin"], c, "131")
    service.redeem(db, c.id, points=41, actor=users["agent"])
    orders.add_refund(db, o.id, RefundCreate(amount=Decimal("131")), actor=users["admin"])
    db.commit()
    r = client.get(f"/api/v1/loyalty/members/{c.id}/journals", headers=tokens["analyst"])
    assert r.status_code == 200
    by_kind = {j["kind"]: j for j in r.json()}
    assert {p["amount"] for p in by_kind["write_off"]["postings"]} == {41, -41}
    assert {p["amount"] for p in by_kind["clawback"]["postings"]} == {131, -131}
    csv_ = client.get("/api/v1/loyalty/export/postings", headers=tokens["manager"])
    assert csv_.status_code == 200 and "write_off" in csv_.text
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/loyalty/members/{c.id}").text
    assert "Written off (nothing left to take back)" in page and "+41" in page
    assert "-131" in page
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/loyalty/members/{c.id}").text
    assert "核销（已无可扣回的积分）" in page and "+41" in page


# --- 2. the adjust form sent again after Back --------------------------------------------------


def _adjust_key(html: str) -> str:
    form = html[html.index('id="adjust-form"') :]
    return re.search(r'name="idempotency_key" value="([^"]*)"', form).group(1)


def _adjust_card(html: str) -> str:
    start = html.index('id="adjust"')
    return html[start : html.index("</section>", start)]


@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", "This form was already sent: an adjustment of +5 points"), ("zh_CN", "此表单已提交过")],
)
def test_adjust_sent_again_with_another_value_says_what_was_recorded(
    db, client, users, locale, said
):
    make_programme(db)
    c = make_customer(db)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    url = f"/loyalty/members/{c.id}/adjust"
    first = {"adj_points": "5", "reason": "goodwill", "idempotency_key": "k-back"}
    assert web.post(url, first).status_code == 303
    again = web.post(url, {**first, "adj_points": "50"})
    assert again.status_code == 409
    card = _adjust_card(again.text)
    assert said in card and "goodwill" in card
    # A fresh key: sending the form again records a second adjustment.
    key = _adjust_key(again.text)
    assert key and key != "k-back"
    assert 'value="50"' in card  # what was typed is kept
    # The redemption card does not carry the adjust form's error.
    redeem_start = again.text.find('id="redeem"')
    if redeem_start >= 0:
        redeem = again.text[redeem_start : again.text.index("</section>", redeem_start)]
        assert "flash-error" not in redeem
    assert web.post(url, {**first, "adj_points": "50", "idempotency_key": key}).status_code == 303
    db.expire_all()
    assert ledger.get_wallet(db, c.id).balance == 55


def test_adjust_same_key_same_values_records_once(db, client, users):
    make_programme(db)
    c = make_customer(db)
    db.commit()
    web = Browser(client)
    web.login("manager")
    form = {"adj_points": "5", "reason": "goodwill", "idempotency_key": "k-twice"}
    assert web.post(f"/loyalty/members/{c.id}/adjust", form).status_code == 303
    assert web.post(f"/loyalty/members/{c.id}/adjust", form).status_code == 303
    db.expire_all()
    assert ledger.get_wallet(db, c.id).balance == 5


# --- 3. too many points: the size is the problem -------------------------------------------


@pytest.mark.parametrize("typed", ["2000000000", "99999999999999999999", "-1000000001"])
@pytest.mark.parametrize(
    ("locale", "said"),
    [("en", "must be between -1000000000 and 1000000000"), ("zh_CN", "1000000000")],
)
def test_adjust_too_many_points_names_the_range(db, client, users, typed, locale, said):
    make_programme(db)
    c = make_customer(db)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post(
        f"/loyalty/members/{c.id}/adjust",
        {"adj_points": typed, "reason": "x", "idempotency_key": f"big-{typed}"},
    )
    assert r.status_code == 422
    card = _adjust_card(r.text)
    assert said in card
    assert "non-zero" not in card and "不为零" not in card
    assert ledger.get_wallet(db, c.id) is None  # nothing written, nobody enrolled


def test_adjust_zero_still_says_non_zero(db, users):
    make_programme(db)
    c = make_customer(db)
    with pytest.raises(Exception, match="non-zero"):
        service.adjust(db, c.id, 0, actor=users["manager"], reason="x")


# --- 4. booleans are not points ----------------------------------------------------------------


def test_api_refuses_booleans_on_every_points_field(db, client, users, tokens):
    make_programme(db)
    c = make_customer(db)
    service.adjust(db, c.id, 100, actor=users["manager"], reason="opening")
    db.commit()
    base = f"/api/v1/loyalty/members/{c.id}"
    cases = [
        (f"{base}/adjustments", {"points": True, "reason": "x"}),
        (f"{base}/adjustments", {"points": False, "reason": "x"}),
        (f"{base}/redemptions", {"points": True}),
        (f"{base}/holds", {"points": True}),
        (
            "/api/v1/loyalty/batch",
            {"items": [{"op": "adjust", "customer_id": c.id, "points": True, "key": "b1"}]},
        ),
        (
            "/api/v1/loyalty/rewards",
            {"code": "r1", "name": "R", "kind": "gift", "points_cost": True},
        ),
        (
            "/api/v1/loyalty/rules",
            {"name": "R", "kind": "event", "event": "birthday", "fixed_points": True},
        ),  # fmt: skip
        ("/api/v1/loyalty/tiers", {"code": "t1", "name": "T", "rank": 5, "threshold": True}),
    ]
    for url, body in cases:
        r = client.post(url, json=body, headers=tokens["manager"])
        assert r.status_code == 422, (url, r.status_code, r.text)
        assert "points" in r.text or "threshold" in r.text
    r = client.patch("/api/v1/loyalty/programme", json={"negative_limit": True},
                     headers=tokens["manager"])  # fmt: skip
    assert r.status_code == 422, r.text
    db.expire_all()
    assert ledger.get_wallet(db, c.id).balance == 100
    # Whole numbers still work, as JSON numbers and as the forms' text.
    r = client.post(
        f"{base}/adjustments", json={"points": 1, "reason": "x"}, headers=tokens["manager"]
    )
    assert r.status_code == 201, r.text


# --- 5. points remedies on complaints ------------------------------------------------------


def _points_remedy(points=300, cost="0"):
    from retento.complaints.schemas import RemedyCreate

    return RemedyCreate(
        kind="compensation", compensation_type="loyalty_points", points=points, cost=cost
    )


def test_points_remedy_costs_the_points_value(db, users):
    from retento.audit.models import AuditEntry
    from retento.complaints import remedies
    from tests.factories.complaints import make_complaint

    make_programme(db, point_value=Decimal("0.02"))
    comp = make_complaint(db, actor=users["manager"])
    service.adjust(db, comp.customer_id, 1, actor=users["manager"], reason="member")
    r = remedies.add_remedy(db, comp.id, _points_remedy(300), actor=users["manager"])
    assert r.cost == Decimal("6.00")  # 300 × 0.02, as ledger.points_value
    assert ledger.points_value(300, Decimal("0.02")) == Decimal("6.00")
    assert ledger.get_wallet(db, comp.customer_id).balance == 301
    audit = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "complaint_remedy", AuditEntry.entity_id == str(r.id))
        .order_by(AuditEntry.id)
    ).all()
    assert audit and "6.00" in str(audit[-1].after)
    # A cost typed in is kept.
    r2 = remedies.add_remedy(db, comp.id, _points_remedy(100, "9.50"), actor=users["manager"])
    assert r2.cost == Decimal("9.50")


def test_points_remedy_for_a_non_member_is_refused(db, users):
    from retento.complaints import remedies
    from retento.complaints.models import Remedy
    from tests.factories.complaints import make_complaint

    make_programme(db)
    comp = make_complaint(db, actor=users["manager"])
    db.commit()
    with pytest.raises(Conflict) as exc:
        remedies.add_remedy(db, comp.id, _points_remedy(), actor=users["manager"])
    assert exc.value.field == "points" and "not a loyalty member" in str(exc.value.message)
    db.rollback()
    assert ledger.get_wallet(db, comp.customer_id) is None
    assert db.scalar(select(func.count()).select_from(Remedy)) == 0


@pytest.mark.parametrize(
    ("locale", "said"), [("en", "is not a loyalty member"), ("zh_CN", "不是忠诚计划会员")]
)
def test_points_remedy_page_refuses_a_non_member(db, client, users, locale, said):
    from tests.factories.complaints import make_complaint

    make_programme(db)
    comp = make_complaint(db, actor=users["manager"])
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/complaints/{comp.id}").text
    key = re.search(r'name="remedy_key" value="([0-9a-f]+)"', page).group(1)
    form = {
        "remedy_key": key, "remedy_kind": "compensation", "compensation_type": "loyalty_points",
        "amount": "0", "cost": "", "points": "300", "remedy_note": "Sorry",
    }  # fmt: skip
    r = web.post(f"/complaints/{comp.id}/remedies", form)
    assert r.status_code == 409 and said in r.text
    db.expire_all()
    assert ledger.get_wallet(db, comp.customer_id) is None
