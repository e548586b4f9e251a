"""``GET /api/v1/customers/{id}/timeline``: the timeline page's entries as JSON, in the caller's
language, the kinds their role may read, one cursor page at a time; 404 and 422 naming the
field for what is not one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retento.auth import permissions
from retento.customers import timeline
from retento.loyalty.models import LoyaltyTier
from retento.touchpoints.models import Touchpoint
from tests.factories.timeline import at, make_story

URL = "/api/v1/customers/{}/timeline"


@pytest.fixture
def story(db, users):
    out = make_story(db, users)
    db.commit()
    return out


def get(client, tokens, role, customer_id, **params):
    return client.get(URL.format(customer_id), params=params, headers=tokens[role])


def test_the_same_entries_as_the_page_in_the_same_order(client, tokens, db, users, story):
    c, *_ = story
    r = get(client, tokens, "agent", c.id)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["limit"] == 50 and body["next_cursor"] is None
    on_page = timeline.customer_timeline(db, c.id, actor=users["agent"], locale="en").entries
    assert [i["kind"] for i in body["items"]] == [e.kind for e in on_page]
    assert [i["at"][:19] for i in body["items"]] == [e.at.isoformat()[:19] for e in on_page]
    by_kind = {i["kind"]: i for i in body["items"]}
    order = by_kind["order"]
    assert order["text"].startswith("Order #") and order["href"].startswith("/orders/")
    assert order["facts"][0] == "$50.00" and order["facts"][1:] == ["Completed", "Store"]
    touch = by_kind["touchpoint"]
    assert touch["note"] == "Asked about the warranty" and touch["href"] is None
    assert by_kind["email"]["text"] == "Email “We received your complaint”"
    assert by_kind["retention"]["event"] in {"task", "case", "alert"}


def test_cursor_pages_cover_everything_once(client, tokens, story):
    c, *_ = story
    full = get(client, tokens, "manager", c.id).json()["items"]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = get(client, tokens, "manager", c.id, **params).json()
        assert len(body["items"]) <= 3 and body["limit"] == 3
        seen += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == full and pages == -(-len(full) // 3)


def test_kind_filter_and_chinese_texts(client, tokens, db, users, story):
    c, *_ = story
    users["manager"].locale = "zh_CN"
    db.commit()
    items = get(client, tokens, "manager", c.id, kind="loyalty").json()["items"]
    assert {i["kind"] for i in items} == {"loyalty"}
    assert items[0]["text"] == "进入会员等级 金卡"
    order = get(client, tokens, "manager", c.id, kind="order").json()["items"][0]
    assert order["text"].startswith("订单 #") and order["facts"][0] == "US$50.00"


def test_roles_see_only_the_kinds_they_may_read(client, tokens, story, monkeypatch):
    c, *_ = story
    # Agents may not read complaints (the role table, and the per-role sets derived from it).
    matrix = dict(permissions.MATRIX)
    matrix["complaint:read"] = {"admin", "manager", "analyst"}
    monkeypatch.setattr(permissions, "MATRIX", matrix)
    derived = permissions.BUILTIN_PERMISSIONS
    monkeypatch.setitem(derived, "agent", derived["agent"] - {"complaint:read"})
    kinds = {i["kind"] for i in get(client, tokens, "agent", c.id).json()["items"]}
    assert "complaint" not in kinds and "email" not in kinds and "order" in kinds
    r = get(client, tokens, "agent", c.id, kind="complaint")
    assert r.status_code == 422 and r.json()["field"] == "kind"
    kinds = {i["kind"] for i in get(client, tokens, "manager", c.id).json()["items"]}
    assert "complaint" in kinds


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "gossip"}, "kind"),
        ({"cursor": "yesterday"}, "cursor"),
        ({"cursor": "0001-01-01T00:00:00+05:00~0"}, "cursor"),  # leaves the calendar in UTC
        ({"cursor": "9999-12-31T23:59:59-05:00~0"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(client, tokens, story, params, field):
    c, *_ = story
    r = get(client, tokens, "agent", c.id, **params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field


def test_unknown_customer_is_404_and_a_token_is_needed(client, tokens, users):
    r = get(client, tokens, "agent", 999_999)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert client.get(URL.format(1)).status_code == 401


def test_a_tier_change_note_reads_in_the_callers_language(client, tokens, db, users, story):
    """The touchpoint the tier change wrote keeps its English note in the database; the API
    (as the page) shows it in the caller's language with the tier's Chinese name."""
    c, *_ = story
    gold = db.scalar(select(LoyaltyTier).where(LoyaltyTier.code == "gold"))
    db.add(
        Touchpoint(
            customer_id=c.id,
            occurred_at=at(6),
            channel="other",
            stage="after_sales",
            direction="outbound",
            outcome="positive",
            note=f"Loyalty tier raised to {gold.name}",
        )
    )
    db.commit()

    def note(role):
        items = get(client, tokens, role, c.id, kind="touchpoint").json()["items"]
        return [i["note"] for i in items if i["note"] != "Asked about the warranty"][0]

    assert note("manager") == "Loyalty tier raised to Gold"
    users["manager"].locale = "zh_CN"
    db.commit()
    assert note("manager") == "会员等级升至 金卡"
    stored = db.scalar(select(Touchpoint.note).where(Touchpoint.note.like("Loyalty tier%")))
    assert stored == "Loyalty tier raised to Gold"
