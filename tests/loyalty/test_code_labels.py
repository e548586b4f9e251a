"""Reward kinds, journal kinds and tier-change reasons read as words, and a redemption's reason
names the reward in the reader's language.

Review found the codes themselves used as message ids (``_(r.kind)``): English readers saw
``voucher``, ``earn``, ``expire``, ``manual``; the earning-rule form listed its kinds by hand
beside the label group the rules table uses; and a redemption's history line read
"兑换礼品 Tea mug" on Chinese pages (the reason stores the English name).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from retento.core.db import utcnow
from retento.loyalty import service, tiers
from retento.loyalty.grants import grant_reward
from retento.loyalty.models import LoyaltyReward, LoyaltyTier
from retento.loyalty.reason_labels import journal_reason
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate
from retento.web.labels import LABELS
from tests.factories import make_customer, make_product
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

REWARDS = (
    # code, name, name_zh, kind
    ("MUG", "Tea mug", "茶杯", "gift"),
    ("TEN", "Ten off", "减十元", "voucher"),
    ("FIT", "Free fitting", "免费试衣", "service"),
)
REWARD_KINDS = {
    "en": {"gift": "Gift", "voucher": "Voucher", "service": "Service"},
    "zh_CN": {"gift": "礼品", "voucher": "代金券", "service": "服务"},
}


def _cells(html: str, table_start: str) -> list[list[str]]:
    """The text of each cell, row by row, of the table that starts at ``table_start``."""
    body = html[html.index(table_start) :]
    body = body[: body.index("</table>")]
    rows = [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]
    return [r for r in rows if r]  # not the header


def _options(html: str, name: str) -> list[tuple[str, str]]:
    """(value, text) of the options of the ``<select name=...>``."""
    select = re.search(rf'<select id="f-{name}" name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, name
    return [
        (v, t.strip())
        for v, t in re.findall(r'<option value="([^"]*)"[^>]*>(.*?)</option>', select.group(1))
    ]


def _login(db, client, users, role: str, locale: str) -> Browser:
    users[role].locale = locale
    db.commit()
    web = Browser(client)
    web.login(role)
    return web


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_reward_kinds_are_words_in_the_catalogue_and_the_form(db, client, users, locale):
    make_programme(db)
    for code, name, name_zh, kind in REWARDS:
        db.add(LoyaltyReward(code=code, name=name, name_zh=name_zh, kind=kind, points_cost=100))
    web = _login(db, client, users, "manager", locale)
    words = REWARD_KINDS[locale]
    for url, table in (("/loyalty/rewards", "<table"), ("/loyalty/programme", 'id="rewards"')):
        page = web.get(url)
        assert page.status_code == 200, url
        kinds = {row[0]: row[2] for row in _cells(page.text, table)}
        assert kinds == {code: words[kind] for code, _n, _z, kind in REWARDS}, url
    form = web.get("/loyalty/rewards/new").text
    assert _options(form, "kind") == [(k, words[k]) for k in ("voucher", "gift", "service")]
    assert not re.search(r">(voucher|gift|service)<", form)


def _member_with_history(db, users):
    """A member with an earning order, an adjustment, a redemption of the Tea mug, a granted
    Tea mug and a tier set by hand."""
    make_programme(db)
    gold = LoyaltyTier(code="gold", name="Gold", name_zh="金卡", rank=1, threshold=10**6)
    mug = LoyaltyReward(code="MUG", name="Tea mug", name_zh="茶杯", kind="gift", points_cost=20)
    db.add_all([gold, mug])
    db.flush()
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("40.00"))
    orders.create_order(
        db,
        OrderCreate(
            customer_id=c.id,
            external_id="DO-L-1",
            ordered_at=utcnow() - timedelta(days=60),
            lines=[{"product_id": p.id, "quantity": 1}],
        ),
        actor=users["admin"],
    )
    service.adjust(db, c.id, 100, actor=users["manager"], reason="Goodwill")
    service.redeem(db, c.id, actor=users["agent"], reward_id=mug.id)
    grant_reward(
        db, c.id, mug.id, source_type="retention_case", source_id=7, reason="Win-back offer"
    )
    tiers.set_tier(db, c.id, gold.id, actor_id=users["manager"].id)
    return c


HISTORY = {
    # the "What" column of the history, the redemption's and the grant's reason, tier "Why"
    "en": (
        {"Points earned", "Adjustment", "Redemption"},
        ("Reward Tea mug", "Reward Tea mug: Win-back offer"),
        "Set by hand",
    ),
    "zh_CN": (
        {"获得的积分", "手工调整", "兑换"},
        ("兑换礼品 茶杯", "兑换礼品 茶杯：Win-back offer"),
        "手工设置",
    ),
}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_member_history_names_entry_kinds_rewards_and_tier_reasons(db, client, users, locale):
    c = _member_with_history(db, users)
    web = _login(db, client, users, "manager", locale)
    page = web.get(f"/loyalty/members/{c.id}")
    assert page.status_code == 200
    kinds, (redeemed, granted), why = HISTORY[locale]
    rows = _cells(page.text, 'id="history"')
    assert {r[1] for r in rows} == kinds, rows
    assert [r[2] for r in rows if r[2] in (redeemed, granted)] == [granted, redeemed]
    assert [r[3] for r in _cells(page.text, 'id="tier-history"')] == [why]
    raw = r"<td>(earn|adjust|redeem|manual|invite|upgrade)</td>"
    assert not re.search(raw, page.text)
    if locale == "zh_CN":
        assert "Tea mug" not in page.text


def test_a_renamed_reward_keeps_the_name_the_reason_recorded():
    """The reason names the reward as it was; after a rename it is not rebuilt from the new
    names (a typed redemption note is not either)."""
    mug = LoyaltyReward(code="MUG", name="Tea mug", name_zh="茶杯", kind="gift", points_cost=1)
    assert journal_reason("zh_CN", "Reward Tea mug", mug) == "兑换礼品 茶杯"
    assert journal_reason("en", "Reward Tea mug", mug) == "Reward Tea mug"
    assert journal_reason("zh_CN", "Reward Tea mug: 挽回", mug) == "兑换礼品 茶杯：挽回"
    mug.name, mug.name_zh = "Blue tea mug", "蓝色茶杯"
    assert journal_reason("zh_CN", "Reward Tea mug", mug) == "兑换礼品 Tea mug"
    assert journal_reason("zh_CN", "Birthday present", mug) == "Birthday present"
    mug.name_zh = None  # no Chinese name: the English one on Chinese pages
    mug.name = "Tea mug"
    assert journal_reason("zh_CN", "Reward Tea mug", mug) == "兑换礼品 Tea mug"


@pytest.mark.parametrize(
    ("locale", "spend"), [("en", "Per currency unit spent"), ("zh_CN", "按消费金额")]
)
def test_rule_form_lists_the_kinds_the_rules_table_shows(db, client, users, locale, spend):
    make_programme(db)
    web = _login(db, client, users, "manager", locale)
    form = web.get("/loyalty/rules/new").text
    options = _options(form, "kind")
    assert [v for v, _ in options] == ["spend", "product", "category", "event"]
    assert options[0] == ("spend", spend)
    assert not re.search(r">(spend|product|category|event)<", form)


def test_rule_form_kinds_come_from_the_label_group(db, client, users, monkeypatch):
    """One list of labels: a label changed in the group changes the form's dropdown too."""
    monkeypatch.setitem(LABELS["loyalty_rule_kind"], "category", "Points per product category")
    make_programme(db)
    web = _login(db, client, users, "manager", "en")
    options = dict(_options(web.get("/loyalty/rules/new").text, "kind"))
    assert options["category"] == "Points per product category"
