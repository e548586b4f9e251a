"""The merged customer timeline (customers.timeline): orders, refunds and touchpoints with the
entries the other domains register (complaints, survey responses, loyalty, retention, e-mails),
in the reader's language, newest first, one bounded page at a time, each kind only for readers
allowed to see it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, select

from retento.auth import permissions
from retento.core.errors import InvalidInput
from retento.customers import timeline
from retento.loyalty.models import LoyaltyAccount, LoyaltyJournal, LoyaltyPosting
from retento.retention.models import RetentionAlert, RetentionTask
from retento.surveys.models import SurveyResponse
from retento.web.i18n import translations
from tests.factories import make_customer, make_order, make_product
from tests.factories.complaints import make_complaint
from tests.factories.timeline import at, make_email, make_story


def page(db, customer_id, user, locale="en", **kw) -> timeline.TimelinePage:
    return timeline.customer_timeline(db, customer_id, actor=user, locale=locale, **kw)


@pytest.fixture
def story(db, users):
    return make_story(db, users)


def texts(p: timeline.TimelinePage) -> list[str]:
    return [getattr(e, "text", e.kind) for e in p.entries]


def test_every_source_appears_newest_first_in_english(db, users, story):
    c, complaint, survey = story
    p = page(db, c.id, users["agent"])
    assert [e.kind for e in p.entries] == [
        "email", "retention", "retention", "retention", "loyalty", "loyalty", "survey",
        "complaint", "complaint", "touchpoint", "order",
    ]  # fmt: skip
    assert p.next_cursor is None
    email, task, case, alert, tier, points, answered, resolved, received = p.entries[:9]
    assert email.text == "Email “We received your complaint”"
    assert email.facts == ("Complaint acknowledgement", "Sent") and email.href is None
    assert task.text == "Win-back task: Ring Ann back"
    assert task.facts == ("Done", "Reached the customer")
    task_id = db.scalar(select(RetentionTask.id).where(RetentionTask.customer_id == c.id))
    assert task.href == f"/retention/tasks?status=done#task-{task_id}"  # the agent's own task
    assert case.text == "Win-back case: Call the key customer"
    assert case.facts == ("Treated", "Task for the owner", "Came back")
    assert alert.text == "Churn warning raised"
    assert alert.facts == ("Severity: High", "Open")
    assert alert.note == "No purchase for 90 days; usually buys every 30 days"
    assert alert.href.startswith("/retention/alerts?scope=all&status=open#alert-")
    assert tier.text == "Reached loyalty tier Gold" and tier.facts == ("Upgrade",)
    assert points.text == "Adjustment" and points.facts == ("+120 points",)
    assert points.note == "Goodwill" and points.href == f"/loyalty/members/{c.id}"
    assert answered.text == "Answered the survey “Small survey”"
    assert answered.facts == ("Satisfaction 4 of 5", "NPS 6: detractor")
    assert answered.href == f"/surveys/{survey.id}/results"
    assert resolved.text == f"Complaint {complaint.tracking_code}: Resolved (feedback given)"
    assert received.text == f"Complaint {complaint.tracking_code} received"
    assert received.facts == ("Delivery", "Severity: 3 · Major", "now Accepted")
    assert received.note == "Broken vase" and received.href == f"/complaints/{complaint.id}"
    assert [e.at for e in p.entries] == sorted((e.at for e in p.entries), reverse=True)


def test_every_source_speaks_chinese(db, users, story):
    c, complaint, _survey = story
    email, task, case, alert, tier, points, answered, resolved, received = page(
        db, c.id, users["agent"], "zh_CN"
    ).entries[:9]
    assert email.text == "电子邮件“We received your complaint”"  # the subject as sent
    assert email.facts[1] == "已发送"
    assert task.text == "挽回任务：Ring Ann back" and task.facts[0] == "完成"
    assert case.text == "挽回案例：致电重点客户" and case.facts[0] == "干预组"
    assert alert.text == "发出流失预警" and alert.facts[0].startswith("严重程度：")
    assert alert.note == "已 90 天未购买；通常每 30 天购买一次"
    assert tier.text == "进入会员等级 金卡"
    assert points.facts == ("+120 积分",)
    assert answered.text == "填写了问卷“小调查”"
    assert answered.facts == ("满意度 4 / 5", "NPS 6：贬损者")
    assert resolved.text.startswith(f"投诉 {complaint.tracking_code}：")
    assert received.text == f"已受理投诉 {complaint.tracking_code}"
    assert received.facts == ("配送", "严重程度：3 · 严重", "当前状态：受理")


def test_pages_cover_everything_once_across_sources(db, users, story):
    c, *_ = story
    everything = page(db, c.id, users["agent"]).entries
    seen, cursor, pages = [], None, 0
    while True:
        p = page(db, c.id, users["agent"], limit=3, cursor=cursor)
        seen += p.entries
        pages += 1
        if p.next_cursor is None:
            break
        cursor = timeline.Cursor.decode(p.next_cursor.encode())  # as the page's link carries it
    assert pages == 4 and len(seen) == 11
    assert [(e.kind, e.at) for e in seen] == [(e.kind, e.at) for e in everything]


def test_entries_at_the_same_moment_are_neither_lost_nor_repeated(db, users):
    c = make_customer(db)
    p = make_product(db, unit_price=Decimal("5.00"), unit_cost=Decimal("1.00"))
    same = at(50)  # imported orders often share a time; so may other records
    for _ in range(3):
        make_order(db, c, lines=[(p, 1)], ordered_at=same)
    make_complaint(db, customer_id=c.id, received_at=same)
    for i in range(2):
        make_email(db, c.id, kind="complaint_message", subject=f"Note {i}", created_at=same)
    make_order(db, c, lines=[(p, 1)], ordered_at=at(49))
    db.commit()
    everything = page(db, c.id, users["agent"]).entries
    assert len(everything) == 7
    for size in (1, 2, 4):
        seen, cursor = [], None
        while True:
            p = page(db, c.id, users["agent"], limit=size, cursor=cursor)
            seen += p.entries
            if p.next_cursor is None:
                break
            cursor = p.next_cursor
        assert [id(e) for e in seen] != [] and len(seen) == 7, size
        assert [(e.kind, e.at, getattr(e, "id", None), getattr(e, "text", None)) for e in seen] == [
            (e.kind, e.at, getattr(e, "id", None), getattr(e, "text", None)) for e in everything
        ], size


def test_kind_filter(db, users, story):
    c, *_ = story
    only = page(db, c.id, users["agent"], kind="loyalty").entries
    assert [e.kind for e in only] == ["loyalty", "loyalty"]
    assert [e.kind for e in page(db, c.id, users["agent"], kind="order").entries] == ["order"]
    with pytest.raises(InvalidInput) as err:
        page(db, c.id, users["agent"], kind="gossip")
    assert err.value.field == "kind"


def test_a_customer_with_nothing(db, users):
    c = make_customer(db)
    p = page(db, c.id, users["agent"])
    assert p.entries == [] and p.next_cursor is None


def test_a_bad_cursor_names_the_field(db, users):
    for text in ("yesterday", "2025-01-01T00:00:00~x", "2025-01-01T00:00:00~1", "~"):
        with pytest.raises(InvalidInput) as err:
            timeline.Cursor.decode(text)
        assert err.value.field == "cursor"


def test_readers_see_only_kinds_their_role_may_see(db, users, story, monkeypatch):
    c, *_ = story
    matrix = dict(permissions.MATRIX)
    matrix["complaint:read"] = {"admin", "manager", "analyst"}  # not agents
    matrix["loyalty:read"] = {"admin", "manager", "analyst"}
    monkeypatch.setattr(permissions, "MATRIX", matrix)
    # ``can`` reads the per-role sets derived from the table (custom roles beside them).
    derived = permissions.BUILTIN_PERMISSIONS
    monkeypatch.setitem(derived, "agent", derived["agent"] - {"complaint:read", "loyalty:read"})
    agent = users["agent"]
    kinds = [e.kind for e in page(db, c.id, agent).entries]
    assert "complaint" not in kinds and "loyalty" not in kinds
    # The complaint's acknowledgement e-mail goes with the complaints.
    assert "email" not in kinds
    assert {"order", "touchpoint", "survey", "retention"} <= set(kinds)
    assert "complaint" not in dict(timeline.visible_kinds(agent))
    with pytest.raises(InvalidInput):
        page(db, c.id, agent, kind="complaint")
    manager_kinds = [e.kind for e in page(db, c.id, users["manager"]).entries]
    assert manager_kinds.count("complaint") == 2 and manager_kinds.count("email") == 1


def test_email_entries_link_to_the_outbox_only_for_those_who_may_see_it(db, users, story):
    c, *_ = story
    (admin_email,) = [e for e in page(db, c.id, users["admin"]).entries if e.kind == "email"]
    assert admin_email.href == "/admin/mail?recipient=ann%40example.com"
    (agent_email,) = [e for e in page(db, c.id, users["agent"]).entries if e.kind == "email"]
    assert agent_email.href is None


def test_an_agent_gets_no_link_to_another_owners_alert(db, users, story):
    c, *_ = story
    other = users["manager"]
    for e in page(db, c.id, users["agent"], kind="retention").entries:
        assert e.href is not None
    alert = db.scalar(select(RetentionAlert).where(RetentionAlert.customer_id == c.id))
    alert.owner_id = other.id
    task = db.scalar(select(RetentionTask).where(RetentionTask.customer_id == c.id))
    task.owner_id = other.id
    db.commit()
    task_e, case_e, alert_e = page(db, c.id, users["agent"], kind="retention").entries
    assert alert_e.href is None and task_e.href is None and case_e.href is None
    assert all(e.href for e in page(db, c.id, users["manager"], kind="retention").entries)


def test_a_page_costs_the_same_few_queries_however_long_the_history(db, users, story, engine):
    c, *_ = story

    def statements() -> int:
        n = 0

        def count(*_a, **_kw):
            nonlocal n
            n += 1

        event.listen(engine, "before_cursor_execute", count)
        try:
            page(db, c.id, users["agent"], limit=5)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return n

    before = statements()
    p = make_product(db, unit_price=Decimal("5.00"), unit_cost=Decimal("1.00"))
    for i in range(40):
        make_order(db, c, lines=[(p, 1)], ordered_at=at(20 + i))
        make_email(db, c.id, kind="complaint_message", subject=f"Update {i}", created_at=at(20 + i))
        db.add(
            SurveyResponse(
                survey_id=db.scalar(select(SurveyResponse.survey_id).limit(1)),
                customer_id=c.id,
                channel="phone",
                status="partial",
                started_at=at(20 + i),
            )
        )
    for j in db.scalars(select(LoyaltyJournal).where(LoyaltyJournal.customer_id == c.id)):
        j.created_at = at(5)
    db.commit()
    assert statements() == before
    assert len(page(db, c.id, users["agent"], limit=5).entries) == 5


def test_a_ledger_run_for_many_members_shows_on_each_members_timeline(db, users, story):
    """The nightly expiry posts many wallets in one journal of no customer in particular: it
    is on the member's timeline with the points it took from that wallet."""
    c, *_ = story
    wallet = db.scalar(select(LoyaltyAccount).where(LoyaltyAccount.customer_id == c.id))
    run = LoyaltyJournal(
        kind="expire", customer_id=None, source_type="system", reason="Points expired"
    )
    run.created_at = at(5.5)
    db.add(run)
    db.flush()
    db.add(LoyaltyPosting(journal_id=run.id, account_id=wallet.id, amount=-20))
    db.commit()
    entries = page(db, c.id, users["agent"], kind="loyalty").entries
    assert [(e.text, e.facts) for e in entries] == [
        ("Reached loyalty tier Gold", ("Upgrade",)),
        ("Expiry", ("-20 points",)),
        ("Adjustment", ("+120 points",)),
    ]
    assert entries[1].note == "Points expired"
    zh = page(db, c.id, users["agent"], "zh_CN", kind="loyalty").entries[1]
    assert zh.facts == ("-20 积分",) and zh.note == translations("zh_CN").gettext("Points expired")
    assert zh.note != "Points expired"


def test_a_domain_cannot_take_a_built_in_kind():
    def nothing(session, customer_id, window):
        return []

    with pytest.raises(ValueError):
        timeline.register_timeline_source(
            timeline.TimelineSource("order", "Orders", nothing, "order:read")
        )
    assert [s.kind for s in timeline.timeline_sources()] == [
        "complaint", "survey", "loyalty", "retention", "email",
    ]  # fmt: skip
