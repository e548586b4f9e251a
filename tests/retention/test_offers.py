"""Offer playbooks post bonus points through the loyalty programme: treated members only, once
per case, with the points' value on the case's cost (and so in the uplift report)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from retento.core.db import utcnow
from retento.loyalty import ledger
from retento.loyalty.models import LoyaltyJournal
from retento.retention import playbook_apply, playbooks, service
from retento.retention.models import RetentionAlert, RetentionCase, RetentionTask
from retento.retention.offers import offer_state, post_offer_points
from retento.retention.outcomes import record_outcome
from retento.retention.playbook_apply import BLOCK
from retento.retention.report import playbook_report
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser


def _alert(db, customer, *, owner=None, cause="c1"):
    a = RetentionAlert(
        customer_id=customer.id,
        rule="rhythm",
        cause_key=cause,
        severity="medium",
        reason_code="rhythm",
        reason_params={"days": 90, "gap": 30},
        value_class="ordinary",
        risk=0.7,
        owner_id=owner.id if owner else None,
        status="open",
        created_at=utcnow(),
    )
    db.add(a)
    db.flush()
    return a


def _ordinary(db, users, **over):
    service.get_config(db)
    pb = next(
        p
        for p in playbooks.list_playbooks(db, actor=users["manager"])
        if p.value_class == "ordinary" and p.reason == "*"
    )
    assert pb.action == "offer" and pb.offer_points == 500 and pb.cost == Decimal("10.00")
    playbooks.update_playbook(db, pb.id, over, actor=users["manager"])
    return pb


def _offer_journals(db) -> list[LoyaltyJournal]:
    return list(
        db.scalars(
            select(LoyaltyJournal).where(LoyaltyJournal.idem_key.like("retention_case:%"))
        ).all()
    )


def test_treated_member_gets_the_points_once_and_the_case_costs_their_value(db, users):
    make_programme(db, point_value=Decimal("0.02"))
    pb = _ordinary(db, users, control_share=0.0)
    member = make_customer(db, owner_id=users["agent"].id)
    ledger.wallet(db, member.id)
    case = playbook_apply.apply_to_alert(
        db, _alert(db, member, owner=users["agent"]).id, actor=users["manager"]
    )
    assert case.arm == "treated" and case.action == "offer"
    # 10.00 for the call + 500 points at 0.02 = 10.00
    assert case.cost == Decimal("20.00")
    assert offer_state(case.note) == ("posted", 500)
    wallet = ledger.get_wallet(db, member.id)
    assert wallet.balance == 500
    [journal] = _offer_journals(db)
    assert journal.idem_key == f"retention_case:{case.id}:retention_offer"
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    assert task.kind == "offer"
    assert "Offer: 500 bonus points posted to the loyalty account (worth 10.00)" in task.script

    # A re-run for the same case (job retried, page clicked twice) posts nothing more.
    again = post_offer_points(db, case.id, member.id, pb.offer_points, reason="again")
    assert again.state == "posted" and again.journal_id == journal.id
    db.expire_all()
    assert ledger.get_wallet(db, member.id).balance == 500
    assert len(_offer_journals(db)) == 1

    # An outcome note keeps the offer's line; the report's cost counts the points.
    record_outcome(db, case.id, actor=users["manager"], offer_accepted=True, note="happy")
    assert offer_state(case.note) == ("posted", 500) and case.note.endswith("happy")
    report = playbook_report(db, pb, now=utcnow() + timedelta(days=pb.window_days + 1))
    assert report["cost"] == "20.00"


def test_non_member_gets_no_points_and_the_task_says_so(db, users):
    make_programme(db)
    owner = users["agent"]
    owner.locale = "zh_CN"
    _ordinary(db, users, control_share=0.0)
    guest = make_customer(db, owner_id=owner.id)
    case = playbook_apply.apply_to_alert(
        db, _alert(db, guest, owner=owner).id, actor=users["manager"]
    )
    assert case.cost == Decimal("10.00") and offer_state(case.note) == ("not_member", 0)
    assert ledger.get_wallet(db, guest.id) is None  # not enrolled by the offer
    assert _offer_journals(db) == []
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    assert "客户不是会员" in task.script


def test_inactive_programme_posts_nothing(db, users):
    _ordinary(db, users, control_share=0.0)
    c = make_customer(db)
    case = playbook_apply.apply_to_alert(db, _alert(db, c).id, actor=users["manager"])
    assert case.cost == Decimal("10.00") and offer_state(case.note) == ("inactive", 0)
    assert _offer_journals(db) == []


def test_control_group_never_gets_points(db, users):
    make_programme(db)
    _ordinary(db, users, control_share=0.5)
    for i in range(BLOCK):
        c = make_customer(db)
        ledger.wallet(db, c.id)
        playbook_apply.apply_to_alert(db, _alert(db, c, cause=f"c{i}").id, actor=users["manager"])
    cases = db.scalars(select(RetentionCase)).all()
    treated = {c.id for c in cases if c.arm == "treated"}
    control = [c for c in cases if c.arm == "control"]
    assert len(control) == BLOCK // 2
    keyed = {int(j.idem_key.split(":")[1]) for j in _offer_journals(db)}
    assert keyed == treated
    assert all(c.cost == 0 and c.note is None for c in control)
    posted = db.scalar(
        select(func.count())
        .select_from(RetentionCase)
        .where(RetentionCase.cost == Decimal("15.00"))
    )
    assert posted == len(treated)


def test_task_page_and_playbook_editor_show_the_offer_in_both_languages(client, db, users):
    make_programme(db)
    agent = users["agent"]
    _ordinary(db, users, control_share=0.0)
    member, guest = make_customer(db, owner_id=agent.id), make_customer(db, owner_id=agent.id)
    ledger.wallet(db, member.id)
    playbook_apply.apply_to_alert(db, _alert(db, member, owner=agent).id, actor=users["manager"])
    playbook_apply.apply_to_alert(
        db, _alert(db, guest, owner=agent, cause="c2").id, actor=users["manager"]
    )
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get("/retention/tasks").text
    assert "Loyalty offer" in page
    assert "500 bonus points posted to the loyalty account" in page
    assert "Not a loyalty member: no points posted" in page
    agent.locale = "zh_CN"
    db.commit()
    page = web.get("/retention/tasks").text
    assert "会员优惠" in page and "已向会员积分账户发放 500 奖励积分" in page
    assert "客户不是会员：未发放积分" in page

    client.cookies.clear()
    web.login("manager")
    listing = web.get("/retention/playbooks").text
    assert "+ 500 bonus points" in listing
    pb = db.scalar(select(RetentionCase.playbook_id).where(RetentionCase.customer_id == member.id))
    form = web.get(f"/retention/playbooks/{pb}").text
    assert "0.01 per point" in form and "never to the control group" in form
