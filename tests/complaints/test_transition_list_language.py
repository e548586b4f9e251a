"""The actions a complaint allows, named in a refused transition, are listed the reader's way:
the Chinese page joined them with an English comma ("可执行：等待客户, 解决并反馈"); the API's
English text keeps the codes ("allowed from in_progress: await_customer, resolve.")."""

from __future__ import annotations

from retento.complaints.models import Complaint
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser


def test_the_allowed_actions_are_listed_with_the_chinese_list_mark(client, db, users, tokens):
    cust = make_customer(db, name="Two Agents")
    c = make_complaint(db, users["manager"], customer_id=cust.id, subject="Started twice")
    c.status = "in_progress"
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    assert web.login("manager").status_code == 303
    r = web.post(f"/complaints/{c.id}/transition", {"action": "start"})
    assert r.status_code == 409
    assert "“处理中”时可执行：等待客户、解决并反馈）" in r.text
    assert "等待客户, " not in r.text
    api = client.post(
        f"/api/v1/complaints/{c.id}/transitions",
        json={"action": "start"},
        headers=tokens["manager"],
    )
    assert api.status_code == 409
    assert api.json()["detail"].endswith("allowed from in_progress: await_customer, resolve.")
    zh = client.post(
        f"/api/v1/complaints/{c.id}/transitions",
        json={"action": "start"},
        headers={**tokens["manager"], "Accept-Language": "zh-CN"},
    )
    assert "可执行：等待客户、解决并反馈" in zh.json()["detail"]
    db.expire_all()
    assert db.get(Complaint, c.id).status == "in_progress"
