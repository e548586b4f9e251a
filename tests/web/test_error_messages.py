"""Service errors with values (core.errors.Msg) in the reader's language: on pages translated
by their template with the values put back; in the API the English text, unchanged."""

from __future__ import annotations

from retento.core.errors import Conflict, Msg, NotFound, Term
from tests.factories import make_customer
from tests.factories.complaints import make_complaint
from tests.web.conftest import Browser


def test_msg_is_the_english_text_and_keeps_its_template() -> None:
    m = Msg("Only %(n)s points can be taken off.", n=12)
    assert m == "Only 12 points can be taken off." and isinstance(m, str)
    assert m.template == "Only %(n)s points can be taken off." and m.params == {"n": 12}
    assert Msg("Plain.") == "Plain." and Msg("Plain.").params == {}
    state = Term("closed", "Closed")
    assert f"is {state}" == "is closed" and state.label == "Closed"
    err = NotFound("Customer", 2**40)
    assert err.message == f"Customer {2**40} does not exist." and err.problem()["detail"] == (
        err.message
    )
    assert str(Conflict(Msg("Hold %(id)s is %(status)s.", id=3, status="released"))) == (
        "Hold 3 is released."
    )


def test_a_missing_record_is_named_in_chinese_on_the_page_and_in_english_in_the_api(
    client, db, users, tokens
):
    users["agent"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("agent")
    page = web.get("/customers/999999")
    assert page.status_code == 404 and "客户 999999 不存在。" in page.text
    assert "does not exist" not in page.text
    api = client.get("/api/v1/customers/999999", headers=tokens["agent"])
    assert api.status_code == 404 and api.json()["detail"] == "Customer 999999 does not exist."


def test_a_complaint_moved_meanwhile_is_explained_in_chinese(client, db, users, tokens):
    """Two agents on one complaint: the second 'close' used to answer with the workflow's
    English sentence full of state codes ("Cannot 'close' a complaint that is closed ...")."""
    from retento.complaints.models import Complaint

    cust = make_customer(db, name="Two Agents")
    c = make_complaint(db, users["manager"], customer_id=cust.id, subject="Twice")
    c.status = "closed"
    users["manager"].locale = "zh_CN"
    db.commit()
    web = Browser(client)
    web.login("manager")
    r = web.post(f"/complaints/{c.id}/transition", {"action": "close"})
    assert r.status_code == 409
    assert (
        "这条投诉当前为“已关闭”，不能执行“关闭”（已关闭 → 已关闭 不允许；“已关闭”时可执行：重新打开）"
        in r.text
    )
    assert "Cannot &#39;close&#39;" not in r.text and "closed →" not in r.text
    api = client.post(
        f"/api/v1/complaints/{c.id}/transitions",
        json={"action": "close"},
        headers=tokens["manager"],
    )
    assert api.status_code == 409 and "allowed from closed: reopen" in api.json()["detail"]
    db.expire_all()
    assert db.get(Complaint, c.id).status == "closed"
