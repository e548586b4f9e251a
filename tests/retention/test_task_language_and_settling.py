"""QA findings on the Chinese UI (SQLite and PostgreSQL through the ``db`` fixtures):

1. a win-back task's title names the playbook in the reader's language (it was stored, and
   shown, in the owner's: English for a Chinese reader), on the task list, the 360 box, the home
   page and the flash message; the stored text stays for the API and the audit log;
2. a case that settles (the customer ordered again, the window ended, marked lost) closes its
   owner's open task in the same transaction, with a note and an audit entry;
3. the playbook form names a refused field by its label, in Chinese, and reports every refused
   field at once;
4. closing an alert asks for confirmation, as the other destructive buttons do.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from retento.audit.models import AuditEntry
from retento.core.db import utcnow
from retento.core.errors import Conflict, InvalidInput
from retento.orders.schemas import OrderCreate
from retento.orders.service import create_order
from retento.retention import outcomes, playbook_apply, playbooks, service, tasks
from retento.retention.models import RetentionCase, RetentionOpenCase, RetentionTask
from tests.factories import make_customer, make_product
from tests.retention.helpers import make_alert
from tests.web.conftest import Browser

KEY_EN = "Key customer: strive to win back"
KEY_ZH = "重要客户：全力挽回"
CAME_BACK_EN = "Closed automatically: the customer came back (ordered again)."


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


def _key_book(db, manager, **over):
    service.get_config(db)
    pb = next(
        p
        for p in playbooks.list_playbooks(db, actor=manager)
        if p.value_class == "key" and p.reason == "*"
    )
    return playbooks.update_playbook(db, pb.id, {"control_share": 0.0, **over}, actor=manager)


def _treated_task(db, users, name="成都嘉禾商贸公司", **book):
    """A key customer of the agent with a treated case and its open task (agent in English)."""
    manager, agent = users["manager"], users["agent"]
    _key_book(db, manager, **book)
    customer = make_customer(db, name=name, owner_id=agent.id)
    alert = make_alert(db, customer.id, owner_id=agent.id)
    case = playbook_apply.apply_to_alert(db, alert.id, actor=manager)
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    db.commit()
    return customer, case, task


def _order(db, customer, actor, *, at=None, price="25.00"):
    product = make_product(db, unit_price=Decimal(price))
    data = OrderCreate(
        customer_id=customer.id,
        ordered_at=at or utcnow(),
        lines=[{"product_id": product.id, "quantity": 1}],
    )
    order = create_order(db, data, actor=actor)
    db.commit()
    db.expire_all()
    return order


def _task_audits(db, task_id: int) -> list[AuditEntry]:
    return list(
        db.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "retention_task", AuditEntry.entity_id == str(task_id))
            .order_by(AuditEntry.id)
        )
    )


# --------------------------------------------------------------------------- 1. titles


def test_task_title_names_the_playbook_in_the_reader_s_language(web, db, users, tokens):
    customer, case, task = _treated_task(db, users)
    # Written once, in the owner's language (English), and kept so for the API and the audit.
    assert task.title == f"{KEY_EN}: 成都嘉禾商贸公司"
    users["agent"].locale = "zh_CN"
    db.commit()
    web.login("agent")
    listing = web.get("/retention/tasks")
    assert listing.status_code == 200
    assert f"{KEY_ZH}：成都嘉禾商贸公司" in listing.text and KEY_EN not in listing.text
    panel = web.get(f"/customers/{customer.id}")
    assert f"{KEY_ZH}：成都嘉禾商贸公司" in panel.text and KEY_EN not in panel.text
    home = web.get("/?view=agent")
    assert home.status_code == 200 and f"{KEY_ZH}：成都嘉禾商贸公司" in home.text
    assert KEY_EN not in home.text
    # The script too: the playbook's own, in the reader's language.
    pb = db.get(playbooks.RetentionPlaybook, case.playbook_id)
    assert pb.script_zh and pb.script_zh in listing.text
    api = web.client.get(f"/api/v1/retention/tasks/{task.id}", headers=tokens["agent"])
    assert api.status_code == 200 and api.json()["title"] == task.title
    r = web.post(
        f"/retention/tasks/{task.id}/status",
        {"status": "done", "result": "reached", "version": str(task.version)},
        follow_redirects=True,
    )
    assert r.status_code == 200 and f"{KEY_ZH}：成都嘉禾商贸公司" in r.text


def test_a_title_written_in_chinese_reads_in_english_and_an_edited_one_as_stored(web, db, users):
    users["agent"].locale = "zh_CN"
    db.commit()
    customer, _, task = _treated_task(db, users, name="Acme Ltd")
    # The owner's language when it was written, with its colon (not "重要客户：全力挽回: Acme")
    assert task.title == f"{KEY_ZH}：Acme Ltd"
    mine = RetentionTask(
        customer_id=customer.id,
        owner_id=users["manager"].id,
        kind="task",
        title="Call Vera about the breach",
        due_on=utcnow().date(),
        status="open",
    )
    db.add(mine)
    db.commit()
    assert tasks.display_texts(db, [task], "en")[task.id][0] == f"{KEY_EN}: Acme Ltd"
    assert tasks.display_texts(db, [task], "zh_CN")[task.id][0] == f"{KEY_ZH}：Acme Ltd"
    # A title stored before the colon followed the language reads with the reader's colon.
    task.title = f"{KEY_ZH}: Acme Ltd"
    assert tasks.display_texts(db, [task], "zh_CN")[task.id][0] == f"{KEY_ZH}：Acme Ltd"
    assert tasks.display_texts(db, [task], "en")[task.id][0] == f"{KEY_EN}: Acme Ltd"
    tasks.update_task(db, task.id, {"title": "Visit Acme on Friday"}, actor=users["manager"])
    db.commit()
    for locale in ("en", "zh_CN"):
        texts = tasks.display_texts(db, [task, mine], locale)
        assert texts[task.id][0] == "Visit Acme on Friday"
        assert texts[mine.id][0] == "Call Vera about the breach"
    users["agent"].locale = "en"
    db.commit()
    web.login("agent")
    assert "Visit Acme on Friday" in web.get("/retention/tasks").text


# --------------------------------------------------------------------------- 2. settling


def test_an_order_closes_the_open_task_of_the_case_it_settles(web, db, users):
    customer, case, task = _treated_task(db, users)
    tasks.update_task(db, task.id, {"note": "left a voicemail"}, actor=users["agent"])
    db.commit()
    _order(db, customer, users["manager"])
    case, task = db.get(RetentionCase, case.id), db.get(RetentionTask, task.id)
    assert case.outcome == "came_back" and case.revenue == Decimal("25.00")
    assert (task.status, task.result, task.done_by_id) == ("cancelled", None, None)
    # The owner's own note is kept, the reason below it.
    assert task.note == f"left a voicemail\n{CAME_BACK_EN}"
    closing = _task_audits(db, task.id)[-1]
    assert closing.actor_name == "system" and closing.after["status"] == "cancelled"
    assert closing.before["status"] == "open"
    # Gone from the 360 box and the open list (Chinese reader); listed under cancelled.
    users["agent"].locale = "zh_CN"
    db.commit()
    web.login("agent")
    page = web.get(f"/customers/{customer.id}")
    assert 'id="retention-panel-tasks"' not in page.text and "已回购" in page.text
    assert f'id="task-{task.id}"' not in web.get("/retention/tasks").text
    cancelled = web.get("/retention/tasks?status=cancelled").text
    assert f'id="task-{task.id}"' in cancelled and "已取消" in cancelled
    # A second order changes the revenue only: the task stays as it is.
    _order(db, customer, users["manager"], price="5.00")
    assert db.get(RetentionCase, case.id).revenue == Decimal("30.00")
    assert len(_task_audits(db, task.id)) == 2


def test_an_order_leaves_a_task_the_owner_finished(db, users):
    customer, case, task = _treated_task(db, users)
    tasks.set_task_status(db, task.id, "done", actor=users["agent"], result="reached")
    db.commit()
    _order(db, customer, users["manager"])
    task = db.get(RetentionTask, task.id)
    assert (task.status, task.result, task.note) == ("done", "reached", None)
    assert db.get(RetentionCase, case.id).reached is True
    # Completing an automatically closed task is refused (409 naming the state).
    other, case2, task2 = _treated_task(db, users, name="Other Ltd")
    _order(db, other, users["manager"])
    with pytest.raises(Conflict):
        tasks.set_task_status(db, task2.id, "done", actor=users["agent"], result="reached")


def test_the_settling_job_and_mark_lost_close_the_task(db, users):
    _, case, task = _treated_task(db, users)
    out = outcomes.settle(db, now=case.window_ends_at + timedelta(days=1))
    db.commit()
    assert out == {"came_back": 0, "lost": 1}
    task = db.get(RetentionTask, task.id)
    assert task.status == "cancelled"
    assert task.note == "Closed automatically: the case was settled as lost."
    _, case2, task2 = _treated_task(db, users, name="Lost Ltd")
    outcomes.record_outcome(db, case2.id, actor=users["agent"], lost=True)
    db.commit()
    task2 = db.get(RetentionTask, task2.id)
    assert task2.status == "cancelled"
    assert _task_audits(db, task2.id)[-1].actor_id == users["agent"].id


def test_a_queued_action_carried_out_after_the_customer_came_back_makes_a_closed_task(db, users):
    manager, agent = users["manager"], users["agent"]
    _key_book(db, manager)
    customer = make_customer(db, name="Late Worker Ltd", owner_id=agent.id)
    alert = make_alert(db, customer.id, owner_id=agent.id)
    case = playbook_apply.apply_to_alert(db, alert.id, actor=manager, defer_action=True)
    db.commit()
    assert case.action_status == "queued"
    _order(db, customer, manager)
    assert playbook_apply.carry_out_action(db, case.id) is True
    db.commit()
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    assert task.status == "cancelled" and task.note == CAME_BACK_EN
    assert db.get(RetentionOpenCase, customer.id) is None


# --------------------------------------------------------------------------- 3. playbook form

PLAYBOOK = {
    "action": "task",
    "name_en": "Key complaint: visit",
    "name_zh": "重要客户投诉：上门拜访",
    "script_en": "Visit the customer.",
    "script_zh": "上门拜访客户。",
    "due_days": "2",
    "control_share": "0.2",
    "window_days": "60",
    "cost": "80.00",
    "offer_points": "0",
    "enabled": "1",
}


def _chinese_manager_with_playbook(web, db, users):
    users["manager"].locale = "zh_CN"
    db.commit()
    web.login("manager")
    r = web.post("/retention/playbooks/new", {**PLAYBOOK, "value_class": "key", "reason": "survey"})
    assert r.status_code == 303, r.text
    return db.scalar(
        select(playbooks.RetentionPlaybook).where(
            playbooks.RetentionPlaybook.value_class == "key",
            playbooks.RetentionPlaybook.reason == "survey",
        )
    )


def test_playbook_form_names_fields_by_their_label_and_reports_all_at_once(web, db, users):
    pb = _chinese_manager_with_playbook(web, db, users)
    bad = {
        **PLAYBOOK,
        "due_days": "-1",
        "control_share": "1.5",
        "window_days": "0",
        "offer_points": "2000000",
        "version": "1",
    }
    r = web.post(f"/retention/playbooks/{pb.id}", bad)
    assert r.status_code == 422
    assert "期限（天）必须是 0 到 365 之间的整数。" in r.text
    assert "对照组比例必须大于等于 0 且小于 1（0 表示不设对照组）。" in r.text
    assert "回购观察期（天）必须是 1 到 730 之间的整数。" in r.text
    assert "优惠（积分）必须是 0 到 1000000 之间的整数。" in r.text
    for code in ("due_days", "control_share", "window_days", "offer_points"):
        assert f"{code} 必须" not in r.text and f"{code} must" not in r.text
    # A cost that does not parse (the form's own check) comes with the service's refusals.
    r = web.post(f"/retention/playbooks/{pb.id}", {**bad, "cost": "abc"})
    assert r.status_code == 422
    assert "期限（天）必须是 0 到 365 之间的整数。" in r.text and "请输入数字" in r.text
    r = web.post(
        f"/retention/playbooks/{pb.id}",
        {**PLAYBOOK, "due_days": "-1", "cost": "-5", "version": "1"},
    )
    assert r.status_code == 422
    assert "期限（天）必须是" in r.text and "成本不能为负数。" in r.text
    db.expire_all()
    assert db.get(playbooks.RetentionPlaybook, pb.id).version == 1


def test_playbook_api_keeps_field_codes_and_lists_every_error(db, users):
    manager = users["manager"]
    service.get_config(db)
    pb = playbooks.list_playbooks(db, actor=manager)[0]
    with pytest.raises(InvalidInput) as exc:
        playbooks.update_playbook(
            db, pb.id, {"due_days": -1, "control_share": 1.5, "cost": "-5"}, actor=manager
        )
    err = exc.value
    assert [e.field for e in err.errors] == ["due_days", "control_share", "cost"]
    assert err.field == "due_days"
    assert str(err.message) == "due_days must be a whole number from 0 to 365."
    assert str(err.errors[1].message).startswith("control_share must be at least 0")


def test_playbook_api_answers_422_with_every_field(client, tokens, db, users):
    service.get_config(db)
    pb = playbooks.list_playbooks(db, actor=users["manager"])[0]
    db.commit()
    r = client.patch(
        f"/api/v1/retention/playbooks/{pb.id}",
        json={"due_days": 400, "window_days": 0},
        headers=tokens["manager"],
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "due_days"
    assert {e["field"] for e in body["errors"]} == {"due_days", "window_days"}


# --------------------------------------------------------------------------- 4. confirm close


def test_closing_an_alert_asks_first(web, db, users):
    customer = make_customer(db, owner_id=users["agent"].id)
    alert = make_alert(db, customer.id, owner_id=users["agent"].id, rule="complaint")
    users["agent"].locale = "zh_CN"
    db.commit()
    web.login("agent")
    page = web.get("/retention/alerts")
    assert page.status_code == 200 and f'id="alert-{alert.id}"' in page.text
    assert 'class="close-form" data-confirm="确定关闭此预警？' in page.text
