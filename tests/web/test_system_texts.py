"""Texts the system stored in one language, shown in the reader's (``web.system_texts``): the
touchpoint note of a tier change, the ledger reason of a win-back offer, the default SLA
policies' names; typed text and renamed records as stored; dates inside alert sentences in the
reader's way of writing a date."""

from __future__ import annotations

import pytest

from retento.complaints.pages import labels as _complaint_labels  # noqa: F401  (registers)
from retento.loyalty import service as loyalty_service
from retento.retention.models import RetentionPlaybook
from retento.retention.reasons import render_reason
from retento.web import system_texts
from retento.web.system_texts import localize_system_text, register_system_text
from tests.factories import make_customer, make_touchpoint
from tests.factories.loyalty import make_programme, make_tiers
from tests.web.conftest import Browser


def note(locale, text, session=None):
    return localize_system_text(locale, text, session, field="touchpoint.note")


def reason(locale, text, session=None):
    return localize_system_text(locale, text, session, field="loyalty_journal.reason")


def policy(locale, text):
    return localize_system_text(locale, text, field="sla_policy.name")


@pytest.fixture
def registry():
    """The registry as it is, restored after the test registers its own messages."""
    saved = list(system_texts._TEXTS)
    yield
    system_texts._TEXTS[:] = saved
    system_texts._INDEX.clear()


def test_a_stored_text_is_shown_in_each_readers_language():
    assert note("zh_CN", "Loyalty tier raised to Gold") == "会员等级升至 Gold"
    assert note("en", "会员等级降至 银卡") == "Loyalty tier lowered to 银卡"
    assert note("zh_CN", "Loyalty tier removed") == "会员等级已取消"
    assert reason("zh_CN", "Win-back offer (Try an offer)") == "挽回优惠（Try an offer）"
    assert (
        localize_system_text("zh_CN", "loyalty points posted: 500", field="retention.note")
        == "已发放积分：500"
    )


def test_typed_and_unknown_texts_stay_as_stored():
    for text in ("Called about the warranty", "Loyalty tier raised", "Major incident", ""):
        assert note("zh_CN", text) == text
    assert note("zh_CN", None) == ""


def test_a_text_is_recognised_only_in_the_field_it_was_registered_for():
    """A touchpoint note someone typed as "Major" is not the SLA policy "Major"."""
    assert note("zh_CN", "Major") == "Major"
    assert reason("zh_CN", "Loyalty tier raised to Gold") == "Loyalty tier raised to Gold"
    assert policy("zh_CN", "Major") == "严重"


def test_a_context_keeps_one_word_apart_from_another_meaning():
    """The SLA policy "Major" is a severity (严重), not the value class "Major" (重要型)."""
    assert policy("zh_CN", "Major") == "严重"
    assert policy("zh_CN", "VIP serious loss") == "贵宾客户重大损失"
    assert (
        localize_system_text("zh_CN", "Office hours", field="business_calendar.name") == "工作时间"
    )
    assert policy("en", "严重") == "Major"


def test_parameters_get_their_localizer_and_the_longer_shape_wins(registry):
    register_system_text(
        "Hello %(who)s", field="test.note", params={"who": lambda v, loc, s: v.upper()}
    )
    register_system_text("Hello %(who)s, welcome back", field="test.note")
    assert localize_system_text("en", "Hello ann", field="test.note") == "Hello ANN"
    assert (
        localize_system_text("en", "Hello ann, welcome back", field="test.note")
        == "Hello ann, welcome back"
    )
    # registering again replaces, it does not add a second shape
    register_system_text("Hello %(who)s", field="test.note")
    assert localize_system_text("en", "Hello ann", field="test.note") == "Hello ann"


def test_tier_and_playbook_names_follow_the_reader_with_a_session(db):
    make_programme(db)
    (gold,) = make_tiers(db, ("gold", 100, "1.5"))
    gold.name_zh = "金卡"
    db.add(RetentionPlaybook(value_class="ordinary", reason="*", action="offer", window_days=60,
                             name_en="Try an offer", name_zh="以优惠挽回"))  # fmt: skip
    db.flush()
    assert note("zh_CN", "Loyalty tier raised to Gold", db) == "会员等级升至 金卡"
    assert note("en", "会员等级升至 金卡", db) == "Loyalty tier raised to Gold"
    assert reason("zh_CN", "Win-back offer (Try an offer)", db) == "挽回优惠（以优惠挽回）"
    # a tier since renamed: its recorded name is kept
    assert note("zh_CN", "Loyalty tier raised to Platinum", db) == ("会员等级升至 Platinum")


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "1,200 loyalty points expire unused on Nov 3, 2026"),
        ("zh_CN", "1,200 积分将于 2026年11月3日 过期且尚未使用"),
    ],
)
def test_alert_sentences_write_dates_the_readers_way(locale, text):
    assert render_reason("points_expiring", {"points": 1200, "date": "2026-11-03"}, locale) == text
    # a value that is not a day stays as stored
    odd = render_reason("points_expiring", {"points": 5, "date": "soon"}, locale)
    assert "soon" in odd


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_pages_show_the_stored_texts_in_the_readers_language(client, db, users, locale):
    make_programme(db)
    (gold,) = make_tiers(db, ("gold", 100, "1.5"))
    gold.name_zh = "金卡"
    db.add(RetentionPlaybook(value_class="ordinary", reason="*", action="offer", window_days=60,
                             name_en="Try an offer", name_zh="以优惠挽回"))  # fmt: skip
    c = make_customer(db, name="Stored Texts Ltd")
    make_touchpoint(db, c, note="Loyalty tier raised to Gold")
    loyalty_service.adjust(
        db, c.id, 50, actor=users["manager"], reason="Win-back offer (Try an offer)"
    )
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    zh = locale == "zh_CN"
    timeline = web.get(f"/customers/{c.id}/timeline").text
    assert ("会员等级升至 金卡" if zh else "Loyalty tier raised to Gold") in timeline
    touchpoints = web.get(f"/touchpoints?customer_id={c.id}").text
    assert ("会员等级升至 金卡" if zh else "Loyalty tier raised to Gold") in touchpoints
    member = web.get(f"/loyalty/members/{c.id}").text
    assert ("挽回优惠（以优惠挽回）" if zh else "Win-back offer (Try an offer)") in member
    sla = web.get("/complaints/sla").text
    for en, cn in (("Serious loss", "重大损失"), ("VIP serious loss", "贵宾客户重大损失"),
                   ("Office hours", "工作时间")):  # fmt: skip
        assert f">{cn if zh else en}<" in sla
