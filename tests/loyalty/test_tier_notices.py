"""Texts the system writes for a tier change: the member's touchpoint in the installation's
language, the e-mail in the customer's language with the consent note; likewise the notes other
domains write on their own (club attendance, automatic reassignment, a reopened complaint,
a win-back offer's ledger reason)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retento.core.config import get_settings
from retento.loyalty import tiers
from retento.mail.models import OutboxMessage
from retento.touchpoints.models import Touchpoint
from retento.web.i18n import N_, system_text
from tests.factories import make_customer
from tests.factories.loyalty import make_programme, make_tiers


@pytest.fixture
def installation_in(monkeypatch):
    """Set the installation's language (RETENTO_DEFAULT_LOCALE) for one test."""

    def set_locale(locale: str) -> None:
        monkeypatch.setattr(get_settings(), "default_locale", locale)

    return set_locale


def _notes(db, customer_id):
    return list(
        db.scalars(
            select(Touchpoint.note)
            .where(Touchpoint.customer_id == customer_id)
            .order_by(Touchpoint.id)
        )
    )


def _mails(db, customer_id):
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.customer_id == customer_id, OutboxMessage.kind == "loyalty_tier")
            .order_by(OutboxMessage.id)
        )
    )


def test_tier_change_note_and_email_in_their_languages(db, users, installation_in):
    installation_in("en")
    make_programme(db)
    _, gold = make_tiers(db, ("basic", 0, "1"), ("gold", 500, "1.5"))
    cn = make_customer(db, name="王芳", email="wang@example.cn", consent_email=True, country="CN")
    en = make_customer(
        db,
        name="Ava",
        email="ava@example.com",
        consent_email=True,
        custom_fields={"language": "en"},
    )
    for c in (cn, en):
        tiers.set_tier(db, c.id, gold.id, actor_id=users["manager"].id)
    db.flush()

    assert _notes(db, cn.id) == ["Loyalty tier set to Gold"]
    (mail,) = _mails(db, cn.id)
    assert mail.locale == "zh_CN"
    assert mail.subject == "您的会员等级：Gold"
    assert "王芳" in mail.body_text and "您的会员等级现为 Gold。" in mail.body_text
    assert "您收到此邮件，是因为您同意通过电子邮件接收我们的信息。" in mail.body_text
    assert "Gold" in mail.body_html

    (mail,) = _mails(db, en.id)
    assert mail.locale == "en"
    assert mail.subject == "Your membership tier: Gold"
    assert "agreed to hear from us by email" in mail.body_text

    # Out of every tier: the note says so, the e-mail says the tier ended (no "—" for a name).
    installation_in("zh_CN")
    tiers.set_tier(db, cn.id, None, actor_id=users["manager"].id)
    db.flush()
    assert _notes(db, cn.id)[-1] == "会员等级已取消"
    assert _mails(db, cn.id)[-1].subject == "您的会员等级已结束"
    assert "—" not in _mails(db, cn.id)[-1].body_text


def test_no_email_without_consent_but_the_note_is_kept(db, users, installation_in):
    installation_in("zh_CN")
    make_programme(db)
    _, gold = make_tiers(db, ("basic", 0, "1"), ("gold", 500, "1.5"))
    c = make_customer(db, email="x@example.com", consent_email=False)
    tiers.set_tier(db, c.id, gold.id, actor_id=users["manager"].id)
    db.flush()
    assert _notes(db, c.id) == ["会员等级设为 Gold"]
    assert _mails(db, c.id) == []


@pytest.mark.parametrize(
    ("message", "params", "zh"),
    [
        (N_("Loyalty tier raised to %(tier)s"), {"tier": "Gold"}, "会员等级升至 Gold"),
        (N_("Loyalty tier lowered to %(tier)s"), {"tier": "Basic"}, "会员等级降至 Basic"),
        (N_("Club event: %(title)s"), {"title": "品茶会"}, "客户组织活动：品茶会"),
        (N_("Reassigned automatically after an SLA breach."), {}, "超出服务时限后已自动改派。"),
        (N_("Customer not satisfied (CSAT %(csat)s)."), {"csat": 1}, "客户不满意（满意度 1）。"),
        (N_("Win-back offer (%(playbook)s)"), {"playbook": "重点客户"}, "挽回优惠（重点客户）"),
    ],
)
def test_system_texts_follow_the_installation_language(installation_in, message, params, zh):
    installation_in("zh_CN")
    assert system_text(message, **params) == zh
    installation_in("en")
    assert system_text(message, **params) == (message % params if params else message)
