"""Offer playbooks with a loyalty voucher: treated members get it once per case (also from
parallel transactions), never the control group; stock never below zero; its value in money goes
on the case's cost; the editor and the task page show it in English and Chinese."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from retento.core.errors import InvalidInput
from retento.loyalty import ledger
from retento.loyalty.check import check_ledger
from retento.loyalty.models import LoyaltyRedemption, LoyaltyReward
from retento.retention import playbook_apply, playbooks
from retento.retention.models import RetentionCase, RetentionPlaybook, RetentionTask
from retento.retention.offers import issue_offer_reward, voucher_state
from retento.retention.playbook_apply import BLOCK
from tests.factories import make_customer, make_user
from tests.factories.concurrency import run_parallel
from tests.factories.loyalty import make_programme
from tests.retention.test_offers import _alert, _ordinary
from tests.web.conftest import Browser


def _reward(db, *, stock: int | None = 10, active: bool = True, code: str = "V50"):
    r = LoyaltyReward(
        code=code, name=f"Voucher {code}", kind="voucher", points_cost=2500, stock=stock,
        active=active,
    )  # fmt: skip
    db.add(r)
    db.flush()
    return r


def _vouchers(db) -> int:
    return int(db.scalar(select(func.count()).select_from(LoyaltyRedemption)) or 0)


def test_treated_member_gets_the_voucher_once_and_the_case_costs_its_value(db, users):
    make_programme(db, point_value=Decimal("0.02"))
    reward = _reward(db, stock=3)
    pb = _ordinary(db, users, control_share=0.0, offer_points=0, offer_reward_id=reward.id)
    assert pb.offer_reward_id == reward.id
    member = make_customer(db, owner_id=users["agent"].id)
    ledger.wallet(db, member.id)
    case = playbook_apply.apply_to_alert(
        db, _alert(db, member, owner=users["agent"]).id, actor=users["manager"]
    )
    # 10.00 for the call + 2,500 points at 0.02 = 50.00
    assert case.arm == "treated" and case.cost == Decimal("60.00")
    assert voucher_state(case.note) == ("issued", reward.id)
    assert reward.stock == 2 and _vouchers(db) == 1
    assert ledger.get_wallet(db, member.id).balance == 0  # free of points
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    assert task.kind == "offer"
    assert "voucher “Voucher V50” issued to the loyalty account (worth 50.00)" in task.script

    # The job re-run for the same case issues nothing more.
    again = issue_offer_reward(db, case.id, member.id, reward.id, reason="again")
    assert again.state == "issued"
    db.expire_all()
    assert db.get(LoyaltyReward, reward.id).stock == 2 and _vouchers(db) == 1
    assert check_ledger(db).ok


def test_points_and_voucher_together_both_count(db, users):
    make_programme(db)
    reward = _reward(db)
    _ordinary(db, users, control_share=0.0, offer_reward_id=reward.id)
    member = make_customer(db)
    ledger.wallet(db, member.id)
    case = playbook_apply.apply_to_alert(db, _alert(db, member).id, actor=users["manager"])
    # 10.00 + 500 points (5.00) + the voucher's 2,500 points (25.00)
    assert case.cost == Decimal("40.00")
    assert "loyalty points posted: 500" in case.note
    assert voucher_state(case.note) == ("issued", reward.id)


def test_out_of_stock_or_not_member_issues_nothing_and_the_task_says_so(db, users):
    make_programme(db)
    owner = users["agent"]
    owner.locale = "zh_CN"
    empty = _reward(db, stock=0)
    _ordinary(db, users, control_share=0.0, offer_points=0, offer_reward_id=empty.id)
    member, guest = make_customer(db, owner_id=owner.id), make_customer(db, owner_id=owner.id)
    ledger.wallet(db, member.id)
    a = playbook_apply.apply_to_alert(
        db, _alert(db, member, owner=owner).id, actor=users["manager"]
    )
    b = playbook_apply.apply_to_alert(
        db, _alert(db, guest, owner=owner, cause="c2").id, actor=users["manager"]
    )
    assert voucher_state(a.note) == ("out_of_stock", empty.id)
    assert voucher_state(b.note) == ("not_member", empty.id)
    assert a.cost == b.cost == Decimal("10.00")
    assert empty.stock == 0 and _vouchers(db) == 0
    assert ledger.get_wallet(db, guest.id) is None
    scripts = {
        t.case_id: t.script for t in db.scalars(select(RetentionTask)).all()
    }  # fmt: skip
    assert "库存不足" in scripts[a.id] and "客户不是会员" in scripts[b.id]


def test_control_group_never_gets_a_voucher_and_stock_never_goes_below_zero(db, users):
    make_programme(db)
    reward = _reward(db, stock=4)
    _ordinary(db, users, control_share=0.5, offer_points=0, offer_reward_id=reward.id)
    for i in range(BLOCK):
        c = make_customer(db)
        ledger.wallet(db, c.id)
        playbook_apply.apply_to_alert(db, _alert(db, c, cause=f"c{i}").id, actor=users["manager"])
    cases = db.scalars(select(RetentionCase)).all()
    control = [c for c in cases if c.arm == "control"]
    treated = [c for c in cases if c.arm == "treated"]
    assert len(control) == BLOCK // 2
    assert all(c.cost == 0 and c.note is None for c in control)
    issued = [c for c in treated if voucher_state(c.note) == ("issued", reward.id)]
    assert len(issued) == 4 and reward.stock == 0 and _vouchers(db) == 4
    given = set(db.scalars(select(LoyaltyRedemption.customer_id)).all())
    assert given == {c.customer_id for c in issued}
    assert not given & {c.customer_id for c in control}
    rest = [c for c in treated if c not in issued]
    assert all(voucher_state(c.note) == ("out_of_stock", reward.id) for c in rest)


def test_editor_lists_active_rewards_only_and_refuses_others(db, users):
    reward, gone = _reward(db), _reward(db, active=False, code="OLD")
    pb = _ordinary(db, users)
    with pytest.raises(InvalidInput) as exc:
        playbooks.update_playbook(db, pb.id, {"offer_reward_id": gone.id}, actor=users["manager"])
    assert exc.value.field == "offer_reward_id"
    playbooks.update_playbook(db, pb.id, {"offer_reward_id": reward.id}, actor=users["manager"])
    assert pb.offer_reward_id == reward.id
    playbooks.update_playbook(db, pb.id, {"offer_reward_id": 0}, actor=users["manager"])
    assert pb.offer_reward_id is None


def test_pages_in_both_languages(client, db, users):
    make_programme(db)
    reward, gone = _reward(db), _reward(db, active=False, code="OLD")
    pb = _ordinary(db, users, control_share=0.0, offer_points=0)
    agent = users["agent"]
    member = make_customer(db, owner_id=agent.id)
    ledger.wallet(db, member.id)
    db.commit()
    web = Browser(client)
    web.login("manager")
    form = web.get(f"/retention/playbooks/{pb.id}").text
    assert "Offer (loyalty voucher)" in form and "Voucher V50 (V50; 2500 points" in form
    assert "Voucher OLD" not in form  # only active rewards
    r = web.post(
        f"/retention/playbooks/{pb.id}", _form(pb, offer_reward_id=str(gone.id))
    )  # fmt: skip
    assert r.status_code == 422 and "is not an active loyalty reward" in r.text
    r = web.post(f"/retention/playbooks/{pb.id}", _form(pb, offer_reward_id="x"))
    assert r.status_code == 422 and "Choose a reward from the list." in r.text
    r = web.post(f"/retention/playbooks/{pb.id}", _form(pb, offer_reward_id=str(reward.id)))
    assert r.status_code in (200, 303), r.text[:300]
    db.expire_all()
    assert db.get(RetentionPlaybook, pb.id).offer_reward_id == reward.id
    assert "+ voucher “Voucher V50”" in web.get("/retention/playbooks").text
    users["manager"].locale = "zh_CN"
    db.commit()
    form = web.get(f"/retention/playbooks/{pb.id}").text
    assert "优惠（会员礼券）" in form and "不发礼券" in form

    playbook_apply.apply_to_alert(db, _alert(db, member, owner=agent).id, actor=users["manager"])
    db.commit()
    client.cookies.clear()
    web.login("agent")
    page = web.get("/retention/tasks").text
    assert "Voucher “Voucher V50” issued to the loyalty account" in page
    agent.locale = "zh_CN"
    db.commit()
    page = web.get("/retention/tasks").text
    assert "已向会员账户发放礼券“Voucher V50”" in page


def _form(pb: RetentionPlaybook, **over) -> dict[str, str]:
    data = {
        "version": str(pb.version),
        "action": pb.action,
        "name_en": pb.name_en,
        "name_zh": pb.name_zh,
        "script_en": pb.script_en,
        "script_zh": pb.script_zh,
        "due_days": str(pb.due_days),
        "control_share": str(pb.control_share),
        "window_days": str(pb.window_days),
        "cost": str(pb.cost),
        "offer_points": str(pb.offer_points),
        "offer_reward_id": "",
        "enabled": "1",
    }
    data.update(over)
    return data


def _pg_cases(live_pg, *, n: int, stock: int) -> tuple[list[int], int]:
    """``n`` treated offer cases of members (reward not yet issued) and the reward's id."""
    with live_pg.session() as s:
        make_programme(s)
        manager = make_user(s, role="manager", email="m@example.com")
        reward = _reward(s, stock=stock)
        service_pb = _ordinary(s, {"manager": manager}, control_share=0.0, offer_points=0)
        ids = []
        for i in range(n):
            c = make_customer(s)
            ledger.wallet(s, c.id)
            case = playbook_apply.apply_to_alert(s, _alert(s, c, cause=f"p{i}").id, actor=manager)
            ids.append(case.id)
        # Name the voucher only now: the cases above exist without it, as the job finds them.
        playbooks.update_playbook(s, service_pb.id, {"offer_reward_id": reward.id}, actor=manager)
        s.commit()
        return ids, reward.id


def _issue(live_pg, case_id: int, reward_id: int) -> str:
    with live_pg.session() as s:
        case = s.get(RetentionCase, case_id)
        v = issue_offer_reward(s, case.id, case.customer_id, reward_id, reason="Win-back offer")
        s.commit()
        return v.state


def test_parallel_jobs_issue_one_voucher_per_case(live_pg):
    [case_id], rid = _pg_cases(live_pg, n=1, stock=5)
    results = run_parallel(8, lambda i: _issue(live_pg, case_id, rid))
    assert results == ["issued"] * 8, results
    with live_pg.session() as s:
        assert s.get(LoyaltyReward, rid).stock == 4
        assert _vouchers(s) == 1
        assert check_ledger(s).ok


def test_parallel_cases_never_take_stock_below_zero(live_pg):
    ids, rid = _pg_cases(live_pg, n=8, stock=3)
    results = run_parallel(8, lambda i: _issue(live_pg, ids[i], rid))
    assert sorted(results) == ["issued"] * 3 + ["out_of_stock"] * 5, results
    with live_pg.session() as s:
        assert s.get(LoyaltyReward, rid).stock == 0
        assert _vouchers(s) == 3
        rep = check_ledger(s)
        assert rep.ok, rep.problems


def test_api_sets_and_clears_the_voucher_and_refuses_an_inactive_one(client, db, users, tokens):
    reward, gone = _reward(db), _reward(db, active=False, code="OLD")
    pb = _ordinary(db, users)
    db.commit()
    url = f"/api/v1/retention/playbooks/{pb.id}"
    r = client.patch(url, json={"offer_reward_id": gone.id}, headers=tokens["manager"])
    assert r.status_code == 422 and "offer_reward_id" in r.text
    r = client.patch(url, json={"offer_reward_id": reward.id}, headers=tokens["manager"])
    assert r.status_code == 200 and r.json()["offer_reward_id"] == reward.id
    r = client.patch(url, json={"offer_reward_id": 0}, headers=tokens["manager"])
    assert r.status_code == 200 and r.json()["offer_reward_id"] is None
    # Past 2^63 the reward lookup reached PostgreSQL, refused field-less ("A value is outside
    # what the database can store."): it is the field's error like any other bad id.
    for big in (2**63, 10**30):
        r = client.patch(url, json={"offer_reward_id": big}, headers=tokens["manager"])
        assert r.status_code == 422 and r.json()["field"] == "offer_reward_id", r.text
