"""The alerts inbox changes several alerts at once (QA: a manager with 242 open alerts had to
acknowledge or close them one by one). Every ticked alert goes through the one-alert service
(locked, versioned, the agent's own only, audited); one stale or refused alert changes none."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from retento.audit.models import AuditEntry
from retento.retention.models import RetentionAlert
from tests.factories import make_customer
from tests.retention.helpers import make_alert
from tests.web.conftest import Browser


@pytest.fixture
def web(client, users) -> Browser:
    return Browser(client)


@pytest.fixture
def three(db, users) -> list[RetentionAlert]:
    """Three open alerts of the manager's customers."""
    manager = users["manager"]
    out = [
        make_alert(db, make_customer(db, owner_id=manager.id).id, owner_id=manager.id)
        for _ in range(3)
    ]
    db.commit()
    return out


def _state(db, alert: RetentionAlert) -> tuple[str, int, str | None]:
    db.expire_all()
    a = db.get(RetentionAlert, alert.id)
    return a.status, a.version, a.close_note


def _bulk(web, alerts_versions, status, **extra):
    ticked = [f"{a.id}:{v}" for a, v in alerts_versions]
    back = "/retention/alerts?scope=mine"
    return web.post(
        "/retention/alerts/bulk",
        {"alert": ticked, "status": status, "back": back, **extra},
        follow_redirects=True,
    )


def test_the_inbox_offers_a_box_per_alert_that_can_still_change(web, db, users, three):
    a, b, c = three
    web.login("manager")
    page = web.get("/retention/alerts?scope=mine").text
    assert 'id="bulk-form"' in page and 'id="alert-check-all"' in page
    for alert in three:
        assert f'name="alert" value="{alert.id}:1" form="bulk-form"' in page
    _bulk(web, [(c, 1)], "closed")
    closed = web.get("/retention/alerts?scope=mine&status=closed").text
    assert f'value="{c.id}:' not in closed and 'id="bulk-form"' not in closed
    # Analysts read the inbox and change nothing: no boxes.
    web.client.cookies.clear()
    web.login("analyst")
    page = web.get("/retention/alerts").text
    assert 'id="bulk-form"' not in page and 'name="alert"' not in page


def test_bulk_acknowledge_then_close_with_a_note(web, db, users, three):
    a, b, c = three
    web.login("manager")
    r = _bulk(web, [(a, 1), (b, 1)], "acknowledged")
    assert r.status_code == 200 and "2 alerts acknowledged." in r.text
    assert [_state(db, x)[:2] for x in three] == [
        ("acknowledged", 2),
        ("acknowledged", 2),
        ("open", 1),
    ]
    r = _bulk(web, [(a, 2), (c, 1)], "closed", note="Called them all")
    assert "2 alerts closed." in r.text
    assert _state(db, a) == ("closed", 3, "Called them all")
    assert _state(db, c) == ("closed", 2, "Called them all")
    assert _state(db, b)[0] == "acknowledged"
    # one audit entry per alert and change, as for one alert
    entries = db.scalar(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.entity == "retention_alert",
            AuditEntry.entity_id.in_([str(a.id), str(b.id), str(c.id)]),
        )
    )
    assert entries == 4
    assert "One alert closed." in _bulk(web, [(b, 2)], "closed").text


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        ("en", "Someone else changed one of the chosen alerts in the meantime; none was changed."),
        ("zh_CN", "在此期间有人更改了所选预警中的一条，因此没有更改任何预警。"),
    ],
)
def test_one_stale_alert_changes_none(web, db, users, three, locale, message):
    a, b, _ = three
    users["manager"].locale = locale
    db.commit()
    web.login("manager")
    # someone acknowledged b after the page was drawn (version 1 on the page)
    web.post(f"/retention/alerts/{b.id}/status", {"status": "acknowledged", "version": "1"})
    r = _bulk(web, [(a, 1), (b, 1)], "closed", note="late")
    assert message in r.text
    assert _state(db, a) == ("open", 1, None)  # not half-written
    assert _state(db, b) == ("acknowledged", 2, None)


@pytest.mark.parametrize(
    ("ticked", "status", "message"),
    [
        ([], "closed", "Not done: Choose at least one alert."),
        (["abc:1"], "closed", "Not done: abc:1 names no alert of this list."),
        (["{a}"], "closed", "names no alert of this list."),  # no version
        (["{a}:1"], "open", "must be one of: Acknowledged, Closed."),
    ],
)
def test_bad_bulk_input_is_refused_and_changes_nothing(
    web, db, users, three, ticked, status, message
):
    a = three[0]
    web.login("manager")
    ticked = [t.format(a=a.id) for t in ticked]
    r = web.post(
        "/retention/alerts/bulk",
        {"alert": ticked, "status": status, "back": "/retention/alerts"},
        follow_redirects=True,
    )
    assert r.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", r.text).split())
    assert message in text.replace("&#39;", "'")
    assert _state(db, a) == ("open", 1, None)


def test_an_agent_changes_only_their_own_alerts(web, db, users, three):
    mine = make_alert(
        db, make_customer(db, owner_id=users["agent"].id).id, owner_id=users["agent"].id
    )
    db.commit()
    web.login("agent")
    r = web.post(
        "/retention/alerts/bulk",
        {"alert": [f"{mine.id}:1", f"{three[0].id}:1"], "status": "closed"},
    )
    assert r.status_code == 403
    assert _state(db, mine) == ("open", 1, None) and _state(db, three[0]) == ("open", 1, None)
    assert "One alert closed." in _bulk(web, [(mine, 1)], "closed").text


def test_too_many_alerts_at_once_are_refused(db, users):
    from retento.core.errors import InvalidInput
    from retento.retention import service

    items = [(i, 1) for i in range(1, service.BULK_MAX + 2)]
    with pytest.raises(InvalidInput) as exc:
        service.set_alerts_status(db, items, "closed", actor=users["manager"])
    assert exc.value.field == "alert"


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_a_customer_with_an_open_case_is_not_offered_another(web, db, users, lang):
    """QA: 'Apply playbook' was offered on a second alert of a customer whose first alert had
    opened a win-back case, and applying it was always refused (one open case per customer).
    The row now says why instead."""
    from retento.retention import playbook_apply, service

    manager = users["manager"]
    service.get_config(db)  # the default playbooks
    c = make_customer(db, owner_id=manager.id)
    first = make_alert(db, c.id, owner_id=manager.id, cause="c1")
    second = make_alert(db, c.id, owner_id=manager.id, rule="complaint", cause="c2")
    other = make_alert(db, make_customer(db, owner_id=manager.id).id, owner_id=manager.id)
    playbook_apply.apply_to_alert(db, first.id, actor=manager)
    manager.locale = lang
    db.commit()
    web.login("manager")
    page = web.get("/retention/alerts?scope=mine").text
    note = {
        "en": "A win-back case is already open for this customer.",
        "zh_CN": "该客户已有进行中的挽回案例。",
    }
    assert page.count(note[lang]) == 1
    assert f'action="/retention/alerts/{second.id}/apply"' not in page
    assert f'action="/retention/alerts/{other.id}/apply"' in page
