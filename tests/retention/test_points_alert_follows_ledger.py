"""An open ``points_expiring`` alert follows the loyalty ledger (SQLite and PostgreSQL).

The cause of the alert is the first expiry day. Each evaluation closes an open (or acknowledged)
alert the ledger no longer bears out, with a note saying why: nothing expires within the window,
fewer points than the threshold do, or the first expiry day moved, whose new day is a new cause
raised by the same evaluation. So after any evaluation a member has at most one open alert for
expiring points, and it names the ledger's first expiry day. The alert API says what the ledger
says now (``now``) as the web's "Now: …" line does. The installation is in Shanghai (UTC+8).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.core.db import utcnow
from retento.loyalty import service as loyalty
from retento.retention import service
from retento.retention.models import RetentionAlert, RetentionCase
from retento.retention.points_now import ACTIVE
from retento.retention.reasons import POINTS_BELOW_NOTE, POINTS_GONE_NOTE, POINTS_MOVED_NOTE
from retento.web.i18n import Formatter
from tests.factories import make_customer
from tests.factories.loyalty import make_programme
from tests.retention import test_points_expiring_rule as _rule_tests
from tests.web.conftest import Browser

RULE = "points_expiring"
# The Shanghai zone and the app in it, as the rule's own tests set them up.
ZONE = _rule_tests.ZONE
shanghai = _rule_tests.shanghai
app = _rule_tests.app


def _utc_day(at) -> str:
    return f"points:{at.date().isoformat()}"


def _local_day(at) -> str:
    return (at + timedelta(hours=8)).date().isoformat()


@pytest.fixture
def member(db, users):
    """288 points expiring in 18 days (lot A, 20:00 UTC: the next day in Shanghai) and 250 in 25
    days (lot B), both inside the rule's 30 days; the rule (100 points) raised its alert. No
    playbook is applied (auto-apply off), so no alert is held out by chance."""
    make_programme(db, expiring_soon_days=30)
    service.get_config(db).auto_apply = False
    c = make_customer(db, name="Northgate Group")
    a_at = (utcnow() + timedelta(days=18)).replace(hour=20, minute=0, second=0, microsecond=0)
    b_at = a_at + timedelta(days=7)
    loyalty.adjust(db, c.id, 288, actor=users["manager"], reason="grant", expires_at=a_at)
    loyalty.adjust(db, c.id, 250, actor=users["manager"], reason="grant", expires_at=b_at)
    assert service.evaluate(db, rules=[RULE]).created == 1
    db.commit()
    return c, a_at, b_at


def _alerts(db, c) -> list[RetentionAlert]:
    db.expire_all()
    return list(
        db.scalars(
            select(RetentionAlert)
            .where(RetentionAlert.customer_id == c.id, RetentionAlert.rule == RULE)
            .order_by(RetentionAlert.id)
        )
    )


def _active(db, c) -> list[RetentionAlert]:
    return [a for a in _alerts(db, c) if a.status in ACTIVE]


def _one_open_per_member(db) -> None:
    """The invariant: no member has two open (or acknowledged) points alerts."""
    rows = db.execute(
        select(RetentionAlert.customer_id, func.count())
        .where(RetentionAlert.rule == RULE, RetentionAlert.status.in_(ACTIVE))
        .group_by(RetentionAlert.customer_id)
        .having(func.count() > 1)
    ).all()
    assert rows == []


def _evaluate(db):
    rep = service.evaluate(db, rules=[RULE])
    db.commit()
    _one_open_per_member(db)
    return rep


def _audited(db, alert_id: int) -> list[AuditEntry]:
    return list(
        db.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "retention_alert", AuditEntry.entity_id == str(alert_id)
            )
        )
    )


def test_a_moved_first_expiry_day_replaces_the_alert(db, users, member):
    c, a_at, b_at = member
    (old,) = _active(db, c)
    assert old.cause_key == _utc_day(a_at)
    loyalty.redeem(db, c.id, points=288, actor=users["agent"])  # lot A spent: B comes first
    db.commit()
    rep = _evaluate(db)
    assert (rep.resolved, rep.created) == (1, 1)
    old_now, new = _alerts(db, c)
    assert old_now.id == old.id
    assert (old_now.status, old_now.close_note, old_now.closed_by_id) == (
        "closed",
        POINTS_MOVED_NOTE,
        None,
    )
    assert old_now.closed_at is not None
    assert old_now.reason_params["points"] == 538  # closed as raised: the record of why
    assert new.status == "open" and new.cause_key == _utc_day(b_at)
    assert new.reason_params == {"points": 250, "date": _local_day(b_at)}
    (entry,) = _audited(db, old.id)
    assert entry.actor_name == "system" and entry.after["close_note"] == POINTS_MOVED_NOTE
    # Evaluating again changes nothing: still the one alert for the new day.
    rep = _evaluate(db)
    assert (rep.resolved, rep.created, rep.reopened) == (0, 0, 0)
    assert [a.id for a in _active(db, c)] == [new.id]


def test_nothing_expiring_any_more_closes_the_alert(db, users, member):
    c, _, _ = member
    (alert,) = _active(db, c)
    service.set_alert_status(db, alert.id, "acknowledged", actor=users["manager"])
    loyalty.redeem(db, c.id, points=538, actor=users["agent"])
    db.commit()
    rep = _evaluate(db)
    assert (rep.resolved, rep.created) == (1, 0)
    (closed,) = _alerts(db, c)
    assert (closed.status, closed.close_note) == ("closed", POINTS_GONE_NOTE)
    assert closed.acknowledged_at is not None  # acknowledged alerts follow the ledger too


def test_fewer_points_than_the_threshold_close_the_alert(db, users, member):
    c, a_at, _ = member
    d = make_customer(db, name="Small Balance")
    loyalty.adjust(db, d.id, 150, actor=users["manager"], reason="grant", expires_at=a_at)
    _evaluate(db)
    (alert,) = _active(db, d)
    loyalty.redeem(db, d.id, points=80, actor=users["agent"])  # 70 left, threshold 100
    db.commit()
    rep = _evaluate(db)
    assert rep.resolved == 1
    (closed,) = _alerts(db, d)
    assert (closed.status, closed.close_note) == ("closed", POINTS_BELOW_NOTE)
    assert len(_active(db, c)) == 1  # the other member's alert is untouched


def test_fewer_points_on_the_same_day_keep_the_alert_as_raised(db, users, member):
    c, a_at, _ = member
    (alert,) = _active(db, c)
    loyalty.redeem(db, c.id, points=100, actor=users["agent"])  # 188 of lot A left
    db.commit()
    rep = _evaluate(db)
    assert (rep.resolved, rep.created) == (0, 0)
    (same,) = _active(db, c)
    assert same.id == alert.id and same.reason_params["points"] == 538


def test_a_reversed_redemption_reopens_the_alert_the_system_closed(db, users, member):
    c, a_at, b_at = member
    (first,) = _active(db, c)
    spent = loyalty.redeem(db, c.id, points=288, actor=users["agent"])
    db.commit()
    _evaluate(db)
    (second,) = _active(db, c)
    loyalty.reverse(db, spent.journal_id, actor=users["manager"], reason="till error")
    db.commit()
    rep = _evaluate(db)  # lot A is back: its day is the first expiry again
    assert (rep.resolved, rep.reopened, rep.created) == (1, 1, 0)
    (again,) = _active(db, c)
    assert again.id == first.id and again.cause_key == _utc_day(a_at)
    assert (again.closed_at, again.close_note) == (None, None)
    assert db.get(RetentionAlert, second.id).close_note == POINTS_MOVED_NOTE
    assert len(_audited(db, first.id)) == 2  # closed, then reopened


def test_an_alert_a_person_closed_is_not_reopened(db, users, member):
    c, _, _ = member
    (first,) = _active(db, c)
    service.set_alert_status(db, first.id, "closed", actor=users["manager"], note="called")
    spent = loyalty.redeem(db, c.id, points=288, actor=users["agent"])
    db.commit()
    _evaluate(db)
    loyalty.reverse(db, spent.journal_id, actor=users["manager"], reason="till error")
    db.commit()
    rep = _evaluate(db)
    assert rep.reopened == 0 and _active(db, c) == []
    assert db.get(RetentionAlert, first.id).close_note == "called"


def test_alerts_left_open_before_the_fix_are_brought_to_one(db, users, member):
    """A member with two open alerts from before (the old first day's and the new one's): one
    evaluation leaves the alert of the ledger's first day."""
    c, a_at, b_at = member
    (old,) = _active(db, c)
    loyalty.redeem(db, c.id, points=288, actor=users["agent"])
    db.add(
        RetentionAlert(
            customer_id=c.id,
            rule=RULE,
            cause_key=_utc_day(b_at),
            severity="low",
            reason_code=RULE,
            reason_params={"points": 250, "date": _local_day(b_at)},
            value_class="ordinary",
            status="open",
        )
    )
    db.commit()
    assert len(_active(db, c)) == 2
    rep = _evaluate(db)
    assert (rep.resolved, rep.created) == (1, 0)
    (kept,) = _active(db, c)
    assert kept.cause_key == _utc_day(b_at) and db.get(RetentionAlert, old.id).status == "closed"


def test_an_evaluation_of_other_customers_leaves_the_alert_alone(db, users, member):
    c, _, _ = member
    other = make_customer(db)
    loyalty.redeem(db, c.id, points=538, actor=users["agent"])
    db.commit()
    rep = service.evaluate(db, rules=[RULE], customer_ids=[other.id])
    assert rep.resolved == 0 and len(_active(db, c)) == 1
    # A disabled rule is not evaluated: its alerts stay as they are (with their "Now" line).
    service.update_rule(db, RULE, {"enabled": False}, actor=users["manager"])
    rep = service.evaluate(db)
    assert rep.resolved == 0 and len(_active(db, c)) == 1


def test_the_replacing_alert_gets_no_second_case(db, users, member):
    """With playbooks applied, the new day's alert comes while the first alert's case is open:
    the customer keeps one case (held out or treated, as the first)."""
    c, _, _ = member
    for a in _active(db, c):
        service.set_alert_status(db, a.id, "closed", actor=users["manager"])
    service.get_config(db).auto_apply = True
    d = make_customer(db, name="Played Member")
    at = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    loyalty.adjust(db, d.id, 300, actor=users["manager"], reason="grant", expires_at=at)
    loyalty.adjust(
        db, d.id, 300, actor=users["manager"], reason="grant", expires_at=at + timedelta(days=5)
    )
    _evaluate(db)
    loyalty.redeem(db, d.id, points=300, actor=users["agent"])
    db.commit()
    _evaluate(db)
    assert len(_alerts(db, d)) == 2
    cases = db.scalar(select(func.count()).where(RetentionCase.customer_id == d.id))
    assert cases == 1


# --------------------------------------------------------------------------- the API's "now"


def _day(day_iso: str, locale: str) -> str:
    from datetime import date

    return Formatter(locale, ZONE).date(date.fromisoformat(day_iso))


@pytest.mark.parametrize(
    ("locale", "now_text"),
    [
        ("en", "Now: 438 loyalty points expire unused between {first} and {last}"),
        ("zh_CN", "当前：438 积分将于 {first} 至 {last} 期间陆续过期且尚未使用"),
    ],
)
def test_the_api_says_what_the_ledger_says_now_as_the_web_does(
    db, client, users, tokens, member, locale, now_text
):
    c, a_at, b_at = member
    (alert,) = _active(db, c)
    users["manager"].locale = locale
    loyalty.redeem(db, c.id, points=100, actor=users["agent"])  # 188 + 250 left
    db.commit()
    headers = tokens["manager"]
    got = client.get(f"/api/v1/retention/alerts/{alert.id}", headers=headers)
    assert got.status_code == 200, got.text
    body = got.json()
    first, last = _local_day(a_at), _local_day(b_at)
    assert body["reason_params"]["points"] == 538  # as raised
    assert body["now"] == {
        "points": 438,
        "first_day": first,
        "last_day": last,
        "window_days": 30,
        "text": now_text.format(first=_day(first, locale), last=_day(last, locale)),
    }
    # The same line on the web's alert inbox.
    web = Browser(client)
    web.login("manager")
    inbox = web.get("/retention/alerts?scope=all").text
    row = re.search(rf'<tr id="alert-{alert.id}">(.*?)</tr>', inbox, re.S)
    assert row and body["now"]["text"] in row.group(1)
    # The list says it too; an alert of another rule has no "now".
    other = make_customer(db)
    db.add(
        RetentionAlert(
            customer_id=other.id,
            rule="rhythm",
            cause_key="rhythm:x",
            severity="medium",
            reason_code="rhythm",
            reason_params={"days": 90, "gap": 30},
            value_class="ordinary",
            status="open",
        )
    )
    db.commit()
    page = client.get("/api/v1/retention/alerts", headers=headers).json()
    nows = {a["id"]: a["now"] for a in page["items"]}
    assert nows[alert.id] == body["now"]
    assert [n for i, n in nows.items() if i != alert.id] == [None]


def test_the_api_says_when_nothing_expires_and_nothing_when_nothing_changed(
    db, client, users, tokens, member
):
    c, _, _ = member
    (alert,) = _active(db, c)
    url = f"/api/v1/retention/alerts/{alert.id}"
    assert client.get(url, headers=tokens["manager"]).json()["now"] is None
    loyalty.redeem(db, c.id, points=538, actor=users["agent"])
    db.commit()
    now = client.get(url, headers=tokens["manager"]).json()["now"]
    assert now == {
        "points": 0,
        "first_day": None,
        "last_day": None,
        "window_days": 30,
        "text": "Now: no loyalty points expire within 30 days",
    }
    # Once the evaluation closed it, the alert stays as raised, with no "now".
    _evaluate(db)
    closed = client.get(url, headers=tokens["manager"]).json()
    assert closed["status"] == "closed" and closed["close_note"] == POINTS_GONE_NOTE
    assert closed["now"] is None


def test_the_openapi_schema_documents_now(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    now = schema["AlertRead"]["properties"]["now"]
    assert "ledger says now" in now["description"]
    assert {"$ref": "#/components/schemas/AlertNow"} in now["anyOf"]
    fields = schema["AlertNow"]["properties"]
    assert set(fields) == {"points", "first_day", "last_day", "window_days", "text"}
    assert fields["points"]["type"] == "integer" and fields["window_days"]["type"] == "integer"
    assert {"type": "string", "format": "date"} in fields["first_day"]["anyOf"]
    assert all(f.get("description") for f in fields.values())


# --------------------------------------------------------------------------- the close notes


@pytest.mark.parametrize(
    ("locale", "note"),
    [
        ("en", "the first expiry day of the loyalty points moved"),
        ("zh_CN", "积分的最早过期日已变更"),
    ],
)
def test_the_close_note_reads_in_the_reader_s_language(db, client, users, member, locale, note):
    c, _, _ = member
    (old,) = _active(db, c)
    loyalty.redeem(db, c.id, points=288, actor=users["agent"])
    db.commit()
    _evaluate(db)
    users["manager"].locale = locale
    db.commit()
    web = Browser(client)
    web.login("manager")
    page = web.get("/retention/alerts", params={"status": "closed", "scope": "all"}).text
    row = re.search(rf'<tr id="alert-{old.id}">(.*?)</tr>', page, re.S)
    assert row, "the closed alert is not listed"
    cell = re.search(r'<small class="muted">([^<]*)</small>', row.group(1))
    assert cell and cell.group(1) == note


# --------------------------------------------------------------------------- PostgreSQL races


def test_parallel_evaluations_leave_one_open_alert_per_member(live_pg):
    """Four evaluations at once after the members' first lots were spent: each old alert is
    closed once (one audit entry), each new day alerted once, one open alert per member."""
    from tests.factories import make_user
    from tests.factories.concurrency import run_parallel

    n = 8
    at = (utcnow() + timedelta(days=12)).replace(microsecond=0)
    with live_pg.session() as s:
        make_programme(s, expiring_soon_days=30)
        service.get_config(s).auto_apply = False
        manager = make_user(s, role="manager")
        ids = []
        for i in range(n):
            c = make_customer(s, name=f"Member {i}")
            loyalty.adjust(s, c.id, 200, actor=manager, reason="grant", expires_at=at)
            loyalty.adjust(
                s, c.id, 300, actor=manager, reason="grant", expires_at=at + timedelta(days=9)
            )
            ids.append(c.id)
        assert service.evaluate(s, rules=[RULE]).created == n
        s.commit()
        for cid in ids:
            loyalty.redeem(s, cid, points=200, actor=manager)
        s.commit()

    def run(i: int):
        with live_pg.session() as s:
            rep = service.evaluate(s, rules=[RULE])
            s.commit()
            return rep.resolved, rep.created

    results = run_parallel(4, run)
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(r[0] for r in results) == n and sum(r[1] for r in results) == n
    with live_pg.session() as s:
        _one_open_per_member(s)
        alerts = s.scalars(select(RetentionAlert).where(RetentionAlert.rule == RULE)).all()
        active = {a.customer_id: a for a in alerts if a.status in ACTIVE}
        assert set(active) == set(ids)
        assert {a.cause_key for a in active.values()} == {_utc_day(at + timedelta(days=9))}
        closed = [a for a in alerts if a.status == "closed"]
        assert len(closed) == n and {a.close_note for a in closed} == {POINTS_MOVED_NOTE}
        for a in closed:
            assert len(_audited(s, a.id)) == 1
