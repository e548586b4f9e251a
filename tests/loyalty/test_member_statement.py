"""The member page as a loyalty desk clerk reads it (QA): the history showed the newest 50 entries
and nothing more, so on a busy account its lines did not add up to the balance and the older ones
could not be reached; a member enrolled by a manual credit stayed without a tier for good, though
the entry tier asks for no points (the nightly review looks only at members with a tier)."""

from __future__ import annotations

import re

from retento.loyalty import ledger, service
from tests.factories import make_customer
from tests.factories.loyalty import make_programme, make_tiers
from tests.web.conftest import Browser


def _history_points(html: str) -> list[int]:
    table = re.search(r'id="history".*?</tbody>', html, re.S)
    assert table is not None
    cells = re.findall(r'<td class="num[^"]*">([^<]*)</td></tr>', table.group(0))
    return [int(c.replace(",", "")) for c in cells]


def test_history_pages_add_up_to_the_balance(db, client, users):
    make_programme(db)
    c = make_customer(db)
    for i in range(60):
        service.adjust(db, c.id, 10 + i, actor=users["manager"], reason=f"Credit {i}")
    service.redeem(db, c.id, actor=users["manager"], points=25)
    db.commit()
    balance = ledger.get_wallet(db, c.id).balance
    web = Browser(client)
    web.login("agent")
    first = web.get(f"/loyalty/members/{c.id}")
    lines = _history_points(first.text)
    assert len(lines) == 50 and sum(lines) != balance
    assert f'href="/loyalty/members/{c.id}?history=50#history"' in first.text
    second = web.get(f"/loyalty/members/{c.id}?history=50")
    older = _history_points(second.text)
    assert len(older) == 11 and sum(lines) + sum(older) == balance
    assert "Showing 51–61" in second.text
    assert f'href="/loyalty/members/{c.id}#history"' in second.text  # back to the newest
    assert "?history=100" not in second.text

    # A refused redemption answers on the form's address: the pager still leads to the page.
    refused = web.post(f"/loyalty/members/{c.id}/redeem", {"points": str(balance + 1)})
    assert refused.status_code == 409
    assert f'href="/loyalty/members/{c.id}?history=50#history"' in refused.text


def test_short_history_has_no_pager(db, client, users):
    make_programme(db)
    c = make_customer(db)
    service.adjust(db, c.id, 100, actor=users["manager"], reason="opening")
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get(f"/loyalty/members/{c.id}")
    assert _history_points(page.text) == [100]
    assert "?history=" not in page.text


def test_a_member_enrolled_by_a_manual_credit_gets_the_entry_tier(db, client, users):
    make_programme(db)
    silver, gold = make_tiers(db, ("silver", 0, "1"), ("gold", 1500, "1.25"))
    c = make_customer(db)
    db.commit()
    web = Browser(client)
    web.login("manager")
    form = {"adj_points": "500", "reason": "Welcome bonus", "idempotency_key": "enrol-1"}
    assert web.post(f"/loyalty/members/{c.id}/adjust", form).status_code == 303
    db.expire_all()
    w = ledger.get_wallet(db, c.id)
    assert w.tier_id == silver.id  # a manual credit does not qualify: not gold
    page = web.get(f"/loyalty/members/{c.id}")
    assert "Tier: Silver" in page.text
    assert [t.to_tier_id for t in service.tier_history(db, c.id, actor=users["manager"])] == [
        silver.id
    ]
    # Another credit changes nothing more.
    service.adjust(db, c.id, 2000, actor=users["manager"], reason="Goodwill")
    db.flush()
    assert ledger.get_wallet(db, c.id).tier_id == silver.id
    assert len(service.tier_history(db, c.id, actor=users["manager"])) == 1


def test_club_pages_call_a_club_one_name_in_chinese(db, client, users):
    """The club pages say 客户组织 (the SPEC's word); their errors said 俱乐部."""
    from retento.loyalty import clubs
    from retento.loyalty.schemas import ClubIn

    make_programme(db)
    _silver, gold = make_tiers(db, ("silver", 0, "1"), ("gold", 1500, "1.25"))
    club = clubs.create_club(db, ClubIn(name="品茶会", min_tier_id=gold.id), actor=users["manager"])
    c = make_customer(db, external_id="C-1")
    service.adjust(db, c.id, 100, actor=users["manager"], reason="opening")
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get(f"/loyalty/clubs/{club.id}").text
    assert "客户组织" in page
    r = web.post(f"/loyalty/clubs/{club.id}/members", {"customer": "C-1"})
    assert "该客户组织仅限 Gold 及以上等级的会员加入。" in r.text
    assert "俱乐部" not in r.text


def test_dashboard_says_how_many_members_have_points_expiring(db, client, users):
    """The dashboard listed the 20 soonest members with points expiring and nothing about the
    others: with 23 such members, 3 were simply not there."""
    from datetime import timedelta

    from retento.core.db import utcnow

    make_programme(db, expiring_soon_days=30)
    now = utcnow()
    for i in range(23):
        c = make_customer(db)
        expires = now + timedelta(days=1 + i)
        service.adjust(db, c.id, 10, actor=users["manager"], reason="grant", expires_at=expires)
    db.commit()
    assert service.expiring_count(db, actor=users["agent"]) == 23
    web = Browser(client)
    web.login("agent")
    page = web.get("/loyalty").text
    card = page[page.index('id="expiring-soon"') :]
    assert card.count('href="/loyalty/members/') == 20
    assert "The 20 soonest of 23 members are listed" in card
    assert "in the next 30 days" in card
    users["agent"].locale = "zh_CN"
    db.commit()
    assert "共 23 位会员，此处列出最早到期的 20 位" in web.get("/loyalty").text


def test_dashboard_with_few_expiring_members_lists_them_all(db, client, users):
    make_programme(db, expiring_soon_days=30)
    c = make_customer(db)
    service.adjust(db, c.id, 10, actor=users["manager"], reason="grant")  # expires in a year
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get("/loyalty").text
    assert 'id="expiring-more"' not in page and "Nothing expires soon." in page
