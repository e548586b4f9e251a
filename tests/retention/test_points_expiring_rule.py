"""The rule ``points_expiring`` and the member card count with one ledger function, so the 360
page never names two days for the same points; an open alert whose points changed since says
what is true now. The installation here is in Shanghai (UTC+8), so a lot expiring at 20:00 UTC
expires on the next calendar day, for the card and the alert alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from retento.core.config import get_settings
from retento.core.db import utcnow
from retento.loyalty import service as loyalty
from retento.retention import service
from retento.retention.models import RetentionAlert
from retento.web.i18n import Formatter
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.web.conftest import Browser

ZONE = "Asia/Shanghai"


@pytest.fixture(autouse=True)
def shanghai(monkeypatch):
    monkeypatch.setenv("RETENTO_TIMEZONE", ZONE)
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("RETENTO_TIMEZONE")
    get_settings.cache_clear()


@pytest.fixture
def app(session_factory):
    from retento.app import create_app
    from retento.core.config import Settings

    application = create_app(
        Settings(database_url="sqlite://", run_scheduler=False, secret_key="test", timezone=ZONE)
    )
    application.state.session_factory = session_factory
    return application


def _day(at, locale="en"):
    return Formatter(locale, ZONE).date(at)


@pytest.fixture
def member(db, users):
    """288 points expiring in 18 days at 20:00 UTC (the next day in Shanghai), 500 in 90 days;
    the rule raised its alert."""
    make_programme(db, expiring_soon_days=30)
    c = make_customer(db, name="Northgate Group")
    at = (utcnow() + timedelta(days=18)).replace(hour=20, minute=0, second=0, microsecond=0)
    loyalty.adjust(db, c.id, 288, actor=users["manager"], reason="grant", expires_at=at)
    loyalty.adjust(
        db, c.id, 500, actor=users["manager"], reason="grant", expires_at=at + timedelta(days=72)
    )
    assert service.evaluate(db, rules=["points_expiring"]).created == 1
    db.commit()
    return c, at


def _alert(db, c):
    return db.scalar(
        select(RetentionAlert).where(
            RetentionAlert.customer_id == c.id, RetentionAlert.rule == "points_expiring"
        )
    )


def test_the_alert_stores_the_installation_s_day(db, member):
    c, at = member
    a = _alert(db, c)
    local = (at + timedelta(hours=8)).date()
    assert local == at.date() + timedelta(days=1)
    assert a.reason_params == {"points": 288, "date": local.isoformat()}
    assert a.cause_key == f"points:{at.date().isoformat()}"  # the UTC day, as before


@pytest.mark.parametrize(
    ("locale", "alert_text", "card_text"),
    [
        ("en", "288 loyalty points expire unused on {day}", "288 points expire on {day}."),
        ("zh_CN", "288 积分将于 {day} 过期且尚未使用", "288 积分将于 {day} 过期。"),
    ],
)
def test_the_360_alert_and_card_name_the_same_day(
    db, client, users, member, locale, alert_text, card_text
):
    c, at = member
    users["admin"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("admin")
    page = web.get(f"/customers/{c.id}").text
    day = _day(at, locale)
    assert alert_text.format(day=day) in page
    assert card_text.format(day=day) in page
    assert "alert-now" not in page  # nothing changed since the alert was raised


def test_an_alert_whose_points_changed_says_what_is_true_now(db, client, users, member):
    c, at = member
    web = Browser(client)
    web.login("admin")
    # The member spends 100 points: taken from the earliest lot, 188 of it are left.
    loyalty.redeem(db, c.id, points=100, actor=users["agent"])
    db.commit()
    day = _day(at)
    page = web.get(f"/customers/{c.id}").text
    assert f"288 loyalty points expire unused on {day}" in page  # as raised
    assert f"Now: 188 loyalty points expire unused on {day}" in page
    assert f"188 points expire on {day}." in page  # the card says the same
    inbox = web.get("/retention/alerts?scope=all").text
    assert f"Now: 188 loyalty points expire unused on {day}" in inbox
    # All of them spent: nothing expires within the rule's 30 days any more.
    loyalty.redeem(db, c.id, points=188, actor=users["agent"])
    db.commit()
    page = web.get(f"/customers/{c.id}").text
    assert "Now: no loyalty points expire within 30 days" in page
    assert 'id="loyalty-expiring"' not in page
    users["admin"].locale = "zh_CN"
    db.commit()
    assert "当前：30 天内没有即将过期的积分" in web.get(f"/customers/{c.id}").text


def test_points_over_several_days_name_the_first_and_the_last(db, client, users, member):
    c, at = member
    later = at + timedelta(days=6)
    loyalty.adjust(db, c.id, 12, actor=users["manager"], reason="grant", expires_at=later)
    db.commit()
    web = Browser(client)
    web.login("admin")
    page = web.get(f"/customers/{c.id}").text
    span = f"{_day(at)} and {_day(later)}"
    assert f"300 points expire between {span}." in page
    # The alert raised before the new lot says what is true now, in the same words.
    assert f"Now: 300 loyalty points expire unused between {span}" in page
    # A customer whose points expire over several days gets that span in the alert itself.
    d = make_customer(db)
    loyalty.adjust(db, d.id, 80, actor=users["manager"], reason="grant", expires_at=at)
    loyalty.adjust(db, d.id, 40, actor=users["manager"], reason="grant", expires_at=later)
    service.evaluate(db, rules=["points_expiring"], customer_ids=[d.id])
    a = _alert(db, d)
    assert a.reason_params == {
        "points": 120,
        "date": (at + timedelta(hours=8)).date().isoformat(),
        "last": (later + timedelta(hours=8)).date().isoformat(),
    }
    db.commit()
    page = web.get(f"/customers/{d.id}").text
    assert f"120 loyalty points expire unused between {span}" in page
    assert f"120 points expire between {span}." in page
    assert "alert-now" not in page


def test_an_alert_raised_before_last_days_were_stored_is_unchanged_if_its_points_are(
    db, client, users, member
):
    """Alerts raised before the reason stored the last day named the first day only: the same
    points and first day are no change, whatever the last day is."""
    c, at = member
    later = at + timedelta(days=6)
    loyalty.adjust(db, c.id, 12, actor=users["manager"], reason="grant", expires_at=later)
    a = _alert(db, c)
    a.reason_params = {"points": 300, "date": (at + timedelta(hours=8)).date().isoformat()}
    db.commit()
    web = Browser(client)
    web.login("admin")
    page = web.get(f"/customers/{c.id}").text
    assert f"300 loyalty points expire unused on {_day(at)}" in page
    assert "alert-now" not in page
