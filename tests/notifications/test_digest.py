"""The daily digest: one e-mail per user and day, idempotent, also under two parallel runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from retento.core.db import transaction
from retento.mail.models import OutboxMessage
from retento.notifications.digest import send_digests
from retento.notifications.models import Notification, NotificationDigest
from retento.notifications.service import notify, save_preferences
from tests.factories import make_user
from tests.factories.complaints import make_complaint
from tests.factories.concurrency import run_parallel
from tests.notifications.helpers import got, outbox


def noon_tomorrow() -> datetime:
    return datetime.now(UTC).replace(hour=12, minute=0) + timedelta(days=1)


def test_one_digest_per_user_and_day(db, users):
    ann = make_user(db, username="ann", role="agent", email="ann@example.com", locale="zh_CN")
    save_preferences(db, {"complaint_assigned": "digest"}, actor=ann)
    c1 = make_complaint(db, users["admin"], assignee_id=ann.id, subject="Cold soup")
    c2 = make_complaint(db, users["admin"], assignee_id=ann.id, subject="Late taxi")
    assert [n.delivery for n in got(db, ann)] == ["digest", "digest"]
    assert outbox(db, "notification") == []  # nothing e-mailed at once

    # Noon tomorrow: every item so far is older, and an hour later is still the same day.
    now = noon_tomorrow()
    first = send_digests(db, now)
    assert (first.users, first.emails, first.items) == (1, 1, 2)
    [mail] = outbox(db, "notification_digest")
    assert mail.recipient == "ann@example.com" and mail.locale == "zh_CN"
    assert "每日摘要" in mail.subject
    assert c1.tracking_code in mail.body_text and c2.tracking_code in mail.body_text
    assert "[[base]]/complaints/" in mail.body_text

    again = send_digests(db, now + timedelta(minutes=5))
    assert (again.users, again.items) == (0, 0)
    # A later item the same day waits for tomorrow's digest.
    c3 = make_complaint(db, users["admin"], assignee_id=ann.id)
    assert send_digests(db, now + timedelta(hours=1)).users == 0
    assert len(outbox(db, "notification_digest")) == 1
    tomorrow = send_digests(db, now + timedelta(days=1))
    assert (tomorrow.users, tomorrow.items) == (1, 1)
    mails = outbox(db, "notification_digest")
    assert len(mails) == 2 and c3.tracking_code in mails[1].body_text
    assert db.scalar(select(func.count()).select_from(NotificationDigest)) == 2


def test_user_without_address_gets_the_digest_recorded_not_mailed(db, users):
    save_preferences(db, {"complaint_new": "digest"}, actor=users["manager"])
    make_complaint(db, users["admin"])  # no team: the managers' queue
    report = send_digests(db, noon_tomorrow())
    assert (report.users, report.emails) == (1, 0)
    assert all(n.digested_at is not None for n in got(db, users["manager"]))
    assert outbox(db, "notification_digest") == []


def test_parallel_digest_runs_send_once(live_pg):
    with transaction(live_pg.session_factory) as s:
        u = make_user(s, username="dora", role="manager", email="dora@example.com")
        save_preferences(s, {"import_finished": "digest"}, actor=u)
        for i in range(3):
            notify(
                s,
                "import_finished",
                [u],
                key=f"f{i}",
                params={"file": f"{i}.csv", "rows": 1, "rejected": 0},
            )
        uid = u.id

    at = noon_tomorrow()

    def run(_i: int):
        with transaction(live_pg.session_factory) as s:
            return send_digests(s, at)

    results = run_parallel(4, run)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r.users for r in results) == 1 and sum(r.items for r in results) == 3
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(NotificationDigest)) == 1
        mails = s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "notification_digest")
        ).all()
        assert [m.recipient for m in mails] == ["dora@example.com"]
        assert (
            s.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == uid, Notification.digested_at.is_(None))
            )
            == 0
        )


def test_the_same_event_from_parallel_processes_notifies_once(live_pg):
    with transaction(live_pg.session_factory) as s:
        u = make_user(s, username="eve", role="manager", email="eve@example.com")
        save_preferences(s, {"import_failed": "email"}, actor=u)
        uid = u.id

    def run(_i: int):
        with transaction(live_pg.session_factory) as s:
            user = s.get(type(u), uid)
            return len(
                notify(
                    s,
                    "import_failed",
                    [user],
                    key="job:9",
                    params={"file": "x.csv", "reason": "bad"},
                )
            )

    results = run_parallel(6, run)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(results) == [0, 0, 0, 0, 0, 1]
    with live_pg.session() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 1
        mails = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "notification")).all()
        assert [m.recipient for m in mails] == ["eve@example.com"]  # e-mailed once
