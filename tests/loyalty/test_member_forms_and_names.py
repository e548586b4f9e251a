"""The member page's forms and the loyalty messages that name records, in English and Chinese.

Exploratory testing found (qa report §3, §5, §6):

- the redeem and adjust forms carried one idempotency key, and the redeem form sent again
  after Back answered 409 "Please correct the highlighted fields." with nothing marked, or the
  raw "This Idempotency-Key was already used for a different request.";
- "Reward 'Tea mug' is out of stock." and "… for Gold members and above." named the reward
  and the tier by their English names on Chinese pages and in the API's Chinese answers, and a
  reward with no stock left was still offered;
- a customer merge's journal read ``transfer`` in the points history and on the timeline.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from retento.core.db import utcnow
from retento.customers import merge
from retento.loyalty import ledger, service
from retento.loyalty.models import JOURNAL_KINDS, LoyaltyReward, LoyaltyTier
from retento.loyalty.reason_labels import JOURNAL_KIND_LABELS
from retento.orders import service as orders
from retento.orders.schemas import OrderCreate
from retento.web.i18n import translate
from retento.web.labels import LABELS
from tests.factories import make_customer, make_product
from tests.loyalty.programme_world import programme_world, world_programme  # noqa: F401
from tests.shared_world import session_factory_fixture, users_fixture  # noqa: F401
from tests.web.conftest import Browser

SRC = Path(__file__).resolve().parents[2] / "src" / "retento"


def _member(db, users, points=500):
    c = make_customer(db)
    service.adjust(db, c.id, points, actor=users["manager"], reason="opening")
    return c


def _login(db, client, users, role: str, locale: str) -> Browser:
    users[role].locale = locale
    db.commit()
    web = Browser(client)
    web.login(role)
    return web


def _card(page: str, card: str) -> str:
    start = page.index(f'id="{card}"')
    return page[start : page.index("</section>", start)]


def _key(page: str, form: str) -> str:
    part = page[page.index(f'id="{form}"') :]
    return re.search(r'name="idempotency_key" value="([^"]*)"', part).group(1)


def _balance(db, c) -> int:
    db.expire_all()
    return ledger.get_wallet(db, c.id).balance


# --- A. each form its own key; a key sent again says what was recorded -------------------------


def test_redeem_and_adjust_forms_carry_their_own_keys(db, client, users):
    c = _member(db, users)
    web = _login(db, client, users, "manager", "en")
    page = web.get(f"/loyalty/members/{c.id}").text
    redeem, adjust = _key(page, "redeem-form"), _key(page, "adjust-form")
    assert redeem and adjust and redeem != adjust
    # A form shown again with its error keeps its own key; the other form gets a fresh one.
    bad = web.post(f"/loyalty/members/{c.id}/redeem", {"points": "x", "idempotency_key": "r-1"})
    assert bad.status_code == 422
    assert _key(bad.text, "redeem-form") == "r-1" and _key(bad.text, "adjust-form") != "r-1"
    bad = web.post(f"/loyalty/members/{c.id}/adjust", {"adj_points": "x", "idempotency_key": "a-1"})
    assert bad.status_code == 422
    assert _key(bad.text, "adjust-form") == "a-1" and _key(bad.text, "redeem-form") != "a-1"


SAID_REDEEM = {
    "en": "This form was already sent: a redemption of 20 points was recorded.",
    "zh_CN": "此表单已提交过：已记录一笔 20 积分的兑换。",
}
SAID_REWARD = {
    "en": "This form was already sent: a redemption of 100 points (Tea mug) was recorded.",
    "zh_CN": "此表单已提交过：已记录一笔 100 积分的兑换（茶杯）。",
}
SAID_ADJUST = {
    "en": "This form was already sent: an adjustment of +7 points",
    "zh_CN": "此表单已提交过：已记录一笔 +7 积分的调整",
}
MARKED = {"en": "Please correct the highlighted fields.", "zh_CN": "请更正标出的字段"}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_redeem_sent_again_with_another_value_says_what_was_recorded(db, client, users, locale):
    c = _member(db, users)
    web = _login(db, client, users, "manager", locale)
    url = f"/loyalty/members/{c.id}/redeem"
    assert web.post(url, {"points": "20", "idempotency_key": "k-back"}).status_code == 303
    again = web.post(url, {"points": "30", "idempotency_key": "k-back"})
    assert again.status_code == 409
    card = _card(again.text, "redeem")
    assert SAID_REDEEM[locale] in card
    assert MARKED[locale] not in card and "Idempotency-Key" not in again.text
    assert 'value="30"' in card  # what was typed is kept
    key = _key(again.text, "redeem-form")
    assert key and key != "k-back"
    assert "flash-error" not in _card(again.text, "adjust")
    # Sending the form again with its new key records a second redemption; once.
    assert web.post(url, {"points": "30", "idempotency_key": key}).status_code == 303
    assert web.post(url, {"points": "30", "idempotency_key": key}).status_code == 303
    assert _balance(db, c) == 450


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_reward_redeemed_then_sent_again_names_the_reward_in_the_readers_language(
    db, client, users, locale
):
    c = _member(db, users)
    mug = LoyaltyReward(code="MUG", name="Tea mug", name_zh="茶杯", kind="gift", points_cost=100)
    db.add(mug)
    db.flush()
    web = _login(db, client, users, "agent", locale)
    url = f"/loyalty/members/{c.id}/redeem"
    first = {"reward_id": str(mug.id), "idempotency_key": "k-mug"}
    assert web.post(url, first).status_code == 303
    again = web.post(url, {"points": "50", "idempotency_key": "k-mug"})
    assert again.status_code == 409
    assert SAID_REWARD[locale] in _card(again.text, "redeem")
    assert _balance(db, c) == 400


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_other_form_sent_with_a_used_key_says_what_was_recorded(db, client, users, locale):
    """Back after one form, then the other form (a page from before the fix, or a key copied):
    each says what the first sending recorded, in words, and carries a new key."""
    c = _member(db, users)
    web = _login(db, client, users, "manager", locale)
    redeem, adjust = f"/loyalty/members/{c.id}/redeem", f"/loyalty/members/{c.id}/adjust"
    assert web.post(redeem, {"points": "20", "idempotency_key": "k-1"}).status_code == 303
    r = web.post(adjust, {"adj_points": "7", "reason": "x", "idempotency_key": "k-1"})
    assert r.status_code == 409 and "Idempotency-Key" not in r.text
    assert SAID_REDEEM[locale] in _card(r.text, "adjust")
    assert _key(r.text, "adjust-form") not in ("", "k-1")
    assert web.post(
        adjust, {"adj_points": "7", "reason": "x", "idempotency_key": "k-2"}
    ).is_redirect
    r = web.post(redeem, {"points": "30", "idempotency_key": "k-2"})
    assert r.status_code == 409 and "Idempotency-Key" not in r.text
    card = _card(r.text, "redeem")
    assert SAID_ADJUST[locale] in card and MARKED[locale] not in card
    assert _key(r.text, "redeem-form") not in ("", "k-2")
    assert _balance(db, c) == 487


# --- B. rewards and tiers named in the reader's language --------------------------------------


def _catalogue(db):
    gold = LoyaltyTier(
        code="gold", name="Gold", name_zh="金卡", rank=2, threshold=5000, multiplier=Decimal(1)
    )
    db.add(gold)
    db.flush()
    mug = LoyaltyReward(
        code="MUG", name="Tea mug", name_zh="茶杯", kind="gift", points_cost=100, stock=0
    )
    care = LoyaltyReward(
        code="CARE",
        name="Free care service",
        name_zh="免费茶具保养",
        kind="service",
        points_cost=100,
        min_tier_id=gold.id,
    )
    db.add_all([mug, care])
    db.flush()
    return mug, care


REFUSED = {
    "en": ("Reward 'Tea mug' is out of stock.", "Reward 'Free care service' is for Gold members"),
    "zh_CN": ("礼品“茶杯”已无库存。", "礼品“免费茶具保养”仅限 金卡 及以上等级的会员兑换。"),
}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_refused_rewards_name_reward_and_tier_in_the_readers_language(
    db, client, users, tokens, locale
):
    c = _member(db, users)
    mug, care = _catalogue(db)
    web = _login(db, client, users, "agent", locale)
    out_of_stock, tier_only = REFUSED[locale]
    url = f"/loyalty/members/{c.id}/redeem"
    for reward, said in ((mug, out_of_stock), (care, tier_only)):
        r = web.post(url, {"reward_id": str(reward.id), "idempotency_key": f"k-{reward.code}"})
        assert r.status_code == 409
        card = html.unescape(_card(r.text, "redeem"))
        assert said in card, card
        if locale == "zh_CN":
            assert "Tea mug" not in card and "Gold" not in card
    # The API says the same with Accept-Language.
    lang = {"Accept-Language": "zh-CN" if locale == "zh_CN" else "en"}
    api = f"/api/v1/loyalty/members/{c.id}/redemptions"
    for reward, said in ((mug, out_of_stock), (care, tier_only)):
        r = client.post(api, json={"reward_id": reward.id}, headers={**tokens["agent"], **lang})
        assert r.status_code == 409
        assert said in r.json()["detail"], r.json()
    assert _balance(db, c) == 500


@pytest.mark.parametrize(("locale", "word"), [("en", "out of stock"), ("zh_CN", "已无库存")])
def test_a_reward_with_no_stock_left_is_not_offered(db, client, users, locale, word):
    c = _member(db, users)
    mug, care = _catalogue(db)
    web = _login(db, client, users, "agent", locale)
    page = web.get(f"/loyalty/members/{c.id}").text
    options = dict(
        (int(v), (attrs, text))
        for v, attrs, text in re.findall(
            r'<option value="(\d+)"([^>]*)>(.*?)</option>', _card(page, "redeem")
        )
    )
    attrs, text = options[mug.id]
    assert "disabled" in attrs and word in text
    attrs, text = options[care.id]
    assert "disabled" not in attrs and word not in text


# --- C. every journal kind reads as a word ----------------------------------------------------


def _calls(text: str, name: str) -> list[str]:
    """The argument text of each ``name(...)`` call in ``text`` (balanced parentheses)."""
    out = []
    for m in re.finditer(rf"\b{name}\(", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        out.append(text[m.end() : i - 1])
    return out


def _written_kinds() -> tuple[set[str], set[str]]:
    """The journal kinds and sources the code writes: ``open_journal(kind=…)`` calls, the
    sources the loyalty code names, the batch and import paths' journal rows, and the expiry
    job's SQL."""
    kinds: set[str] = set()
    sources: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for args in _calls(text, "open_journal"):
            kinds.update(re.findall(r'\bkind="(\w+)"', args))
        if path.parent.name != "loyalty":
            continue
        sources.update(re.findall(r'\bsource_type="(\w+)"', text))  # passed on, too
        # batch.py: kind = "earn" if it.op == "earn" else "adjust"; journal(i, "redeem", …)
        for a, b in re.findall(r'\bkind = "(\w+)" if .+ else "(\w+)"', text):
            kinds.update((a, b))
        kinds.update(re.findall(r'\bjournal\(\s*\w+,\s*"(\w+)"', text))
        # earning_bulk.py: plan.journals.append(("earn", …))
        kinds.update(re.findall(r'plan\.journals\.append\(\s*\(\s*"(\w+)"', text))
        # expiry.py: INSERT INTO loyalty_journals (kind, …) SELECT 'expire', 'system', …
        for k, s in re.findall(
            r"INSERT INTO loyalty_journals \(kind, source_type[^)]*\)\s*SELECT '(\w+)', '(\w+)'",
            text,
        ):
            kinds.add(k)
            sources.add(s)
    return kinds, sources


def test_every_journal_kind_written_has_a_label_in_both_languages():
    kinds, sources = _written_kinds()
    # The scan finds what the ledger writes (a broken scan would pass vacuously).
    assert {"earn", "redeem", "clawback", "write_off", "expire", "transfer"} <= kinds
    assert {"order", "refund", "system", "manual"} <= sources
    assert kinds <= set(JOURNAL_KINDS), kinds - set(JOURNAL_KINDS)
    for kind in JOURNAL_KINDS:
        label = JOURNAL_KIND_LABELS.get(kind)
        assert label and label != kind, kind
        assert LABELS["loyalty_journal_kind"][kind] == label
        zh = translate("zh_CN", label)
        assert zh != label and not re.search(r"[A-Za-z]", zh), (kind, zh)
    for source in sources:
        label = LABELS["loyalty_source"].get(source)
        assert label and translate("zh_CN", label) != label, source


@pytest.mark.parametrize(("locale", "word"), [("en", "Customer merge"), ("zh_CN", "客户合并")])
def test_a_merge_reads_as_a_word_in_the_history_and_on_the_timeline(
    db, client, users, locale, word
):
    keep, dup = make_customer(db), make_customer(db)
    p = make_product(db, unit_price=Decimal("100"))
    for c in (keep, dup):
        orders.create_order(
            db,
            OrderCreate(
                customer_id=c.id,
                ordered_at=utcnow() - timedelta(hours=1),
                lines=[{"product_id": p.id, "quantity": 1}],
            ),
            actor=users["admin"],
        )
    merge.merge_customers(db, keep.id, dup.id, actor=users["manager"])
    assert _balance(db, keep) == 200
    web = _login(db, client, users, "manager", locale)
    history = _card(web.get(f"/loyalty/members/{keep.id}").text, "history")
    assert f"<td>{word}</td>" in history and "<td>transfer</td>" not in history
    timeline = web.get(f"/customers/{keep.id}/timeline").text
    assert word in timeline and ">transfer<" not in timeline
