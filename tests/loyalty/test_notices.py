"""The "points expiring soon" notice: once per lot and expiry date, in the customer's
language, only with e-mail consent; the list shows whether it went out."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from retento.core.db import utcnow
from retento.loyalty import service
from retento.loyalty.notice_models import LoyaltyNotice
from retento.loyalty.notices import notice_states, send_expiring_notices
from retento.mail.models import OutboxMessage
from tests.factories import make_customer
from tests.factories.loyalty import make_programme


def _credit(db, users, c, points, days):
    service.adjust(
        db,
        c.id,
        points,
        actor=users["manager"],
        reason="test",
        expires_at=utcnow() + timedelta(days=days),
    )


def test_notice_once_per_lot_in_the_customers_language(db, users):
    make_programme(db, expiring_soon_days=30)
    en = make_customer(db, email="ann@example.com", consent_email=True)
    zh = make_customer(db, email="li@example.com", consent_email=True, country="CN")
    quiet = make_customer(db, email="no@example.com", consent_email=False)
    for c in (en, zh, quiet):
        _credit(db, users, c, 100, 10)
        _credit(db, users, c, 50, 20)
        _credit(db, users, c, 70, 200)  # not soon
    assert send_expiring_notices(db) == 2
    assert send_expiring_notices(db) == 0  # idempotent: nothing twice
    msgs = {m.customer_id: m for m in db.scalars(select(OutboxMessage))}
    assert set(msgs) == {en.id, zh.id}
    assert msgs[en.id].kind == "loyalty_expiring" and msgs[en.id].locale == "en"
    assert "150 points" in msgs[en.id].body_text
    assert msgs[zh.id].locale == "zh_CN" and "积分" in msgs[zh.id].subject
    notices = list(db.scalars(select(LoyaltyNotice)))
    assert len(notices) == 6  # two lots each, the far one not noticed
    assert {n.status for n in notices if n.customer_id == quiet.id} == {"skipped"}
    # A new lot expiring soon gets its own notice later; the old ones are not repeated.
    _credit(db, users, en, 5, 5)
    assert send_expiring_notices(db) == 1
    assert (
        db.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
        .first()
        .body_text.count("5 points")
    )
    now = utcnow()
    states = notice_states(db, [en.id, zh.id, quiet.id], now, now + timedelta(days=30))
    assert states == {en.id: "queued", zh.id: "queued", quiet.id: "skipped"}


def test_expiring_soon_api_shows_the_notice_state(db, client, users, tokens):
    make_programme(db, expiring_soon_days=30)
    c = make_customer(db, email="ann@example.com", consent_email=True)
    other = make_customer(db)
    _credit(db, users, c, 100, 10)
    _credit(db, users, other, 40, 12)
    db.commit()
    r = client.get("/api/v1/loyalty/expiring-soon", headers=tokens["analyst"])
    assert r.status_code == 200
    assert {x["customer_id"]: x["notice"] for x in r.json()} == {c.id: None, other.id: None}
    send_expiring_notices(db)
    db.commit()
    rows = client.get("/api/v1/loyalty/expiring-soon", headers=tokens["analyst"]).json()
    assert {x["customer_id"]: x["notice"] for x in rows} == {c.id: "queued", other.id: "skipped"}
    bad = client.get("/api/v1/loyalty/expiring-soon?days=-1", headers=tokens["analyst"])
    assert bad.status_code == 422


def test_inactive_programme_sends_nothing(db, users):
    c = make_customer(db, email="ann@example.com", consent_email=True)
    make_programme(db)
    _credit(db, users, c, 100, 3)
    from retento.loyalty import ledger

    ledger.programme(db).active = False
    assert send_expiring_notices(db) == 0


def test_parallel_runs_notice_each_lot_once(live_pg):
    from retento.auth.models import User
    from tests.factories import make_user
    from tests.factories.concurrency import run_parallel

    with live_pg.session() as s:
        make_programme(s, expiring_soon_days=30)
        manager = make_user(s, username="mgr", role="manager")
        ids = []
        for i in range(5):
            c = make_customer(s, email=f"m{i}@example.com", consent_email=True)
            for days in (3, 9):
                service.adjust(
                    s,
                    c.id,
                    10 + i,
                    actor=manager,
                    reason="t",
                    expires_at=utcnow() + timedelta(days=days),
                )
            ids.append(c.id)
        s.commit()
        assert s.get(User, manager.id)

    def run(_i: int) -> int:
        with live_pg.session() as s:
            n = send_expiring_notices(s)
            s.commit()
            return n

    results = run_parallel(4, run)
    with live_pg.session() as s:
        msgs = list(
            s.scalars(
                select(OutboxMessage.customer_id).where(OutboxMessage.kind == "loyalty_expiring")
            )
        )
        assert sorted(msgs) == sorted(ids)  # one e-mail per member, however many runs
        assert s.query(LoyaltyNotice).count() == 10
    assert sum(r for r in results if isinstance(r, int)) == 5, results
