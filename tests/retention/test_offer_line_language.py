"""QA (English in the Chinese UI): an offer task's script ended with the offer line in its
owner's language ("Offer: 500 bonus points posted … (worth 5.00)") under the page's translated
"Loyalty offer" line. The page leaves the stored offer lines out of the script; the stored
script keeps them (API, audit)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from retento.loyalty import ledger
from retento.retention import playbook_apply
from retento.retention.models import RetentionTask
from retento.retention.offers import is_offer_line, offer_line, voucher_line
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.retention.test_offers import _alert, _ordinary
from tests.web.conftest import Browser


def test_every_offer_line_is_recognised_in_both_languages():
    for zh in (False, True):
        for state in ("posted", "not_member", "inactive"):
            assert is_offer_line(offer_line(state, 500, Decimal("1234.50"), zh))
        assert is_offer_line(offer_line("posted", 500, None, zh))
        for state in ("issued", "not_member", "inactive", "out_of_stock", "unavailable", "tier"):
            assert is_offer_line(voucher_line(state, "Coffee (large)", Decimal("5.00"), zh))
    assert not is_offer_line("Offer: call the customer and listen")
    assert not is_offer_line(
        "Thank the customer. Offer: 500 bonus points posted to the loyalty account"
    )


def test_task_page_shows_the_offer_once_in_the_reader_s_language(client, db, users):
    make_programme(db, point_value=Decimal("0.01"))
    agent = users["agent"]  # writes the task in English (the owner's language)
    pb = _ordinary(db, users, control_share=0.0)
    member = make_customer(db, owner_id=agent.id)
    ledger.wallet(db, member.id)
    case = playbook_apply.apply_to_alert(
        db, _alert(db, member, owner=agent).id, actor=users["manager"]
    )
    db.commit()
    task = db.scalar(select(RetentionTask).where(RetentionTask.case_id == case.id))
    assert "Offer: 500 bonus points posted to the loyalty account (worth 5.00)" in task.script
    web = Browser(client)
    web.login("agent")
    en = web.get("/retention/tasks").text
    assert en.count("500 bonus points posted to the loyalty account") == 1
    assert "(worth 5.00)" not in en and pb.script_en.split("\n")[0] in en
    agent.locale = "zh_CN"
    db.commit()
    zh = web.get("/retention/tasks").text
    assert "会员优惠" in zh and "已向会员积分账户发放 500 奖励积分" in zh
    assert "Offer:" not in zh and "bonus points" not in zh and "worth" not in zh
    assert pb.script_zh.split("\n")[0] in zh
    db.refresh(task)
    assert task.script.endswith("(worth 5.00)")  # stored as written
